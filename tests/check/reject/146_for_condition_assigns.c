/* expect: dsl/loop-unbounded 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    for (int i = 0; i < 4 && (i = 0) == 0; i++) x = aa_neg(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
