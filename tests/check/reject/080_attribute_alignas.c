/* expect: dsl/attribute 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    _Alignas(64) float v[4] = {0};
    x = aa_scale(x, v[0]);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
