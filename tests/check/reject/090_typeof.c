/* expect: dsl/typeof 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    __typeof__(d) e = d;
    x = aa_scale(x, (float)e);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
