/* expect: dsl/address-of 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int v = 1;
    int w = *&v;
    x = aa_scale(x, (float)w);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
