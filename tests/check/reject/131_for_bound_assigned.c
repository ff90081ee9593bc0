/* expect: dsl/loop-unbounded 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = 4;
    for (int i = 0; i < n; i++) n++;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
