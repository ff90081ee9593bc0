/* expect: dsl/recursion 5 */
#include <asiarch.h>

AA_NAME("reject");
AA_SCALAR float spin(float v) { return v > 1.0f ? spin(v - 1.0f) : v; }
AA_SCALAR float spin_d0(float v) { return 1.0f; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_pointwise1("spin", x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
