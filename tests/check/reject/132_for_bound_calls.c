/* expect: dsl/loop-unbounded 9 */
#include <asiarch.h>

AA_NAME("reject");
static int limit(int i) { return i + 2; }

aa_t mixer(aa_layer *l, aa_t x)
{
    for (int i = 0; i < limit(i); i++) x = aa_neg(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
