/* expect: dsl/pointwise 9 */
#include <asiarch.h>

AA_NAME("reject");
AA_SCALAR float cube(float v) { return v * v * v; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_pointwise1("cube", x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
