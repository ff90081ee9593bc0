/* expect: dsl/generic 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    int k = _Generic(d, int: 1, default: 0);
    x = aa_scale(x, (float)k);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
