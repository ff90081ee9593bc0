/* expect: dsl/loop-unbounded 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    while (d > 1) d /= 2;
    x = aa_scale(x, (float)d);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
