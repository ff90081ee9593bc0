/* expect: dsl/pointwise 10 */
#include <asiarch.h>

AA_NAME("reject");
static float half(float v) { return 0.5f * v; }
float half_d0(float v) { return 0.5f; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_pointwise1("half", x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
