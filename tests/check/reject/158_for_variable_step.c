/* expect: dsl/loop-unbounded 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int k = aa_dim(l, AA_HEADS);
    for (int i = 0; i < 64; i += k) x = aa_neg(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
