/* expect: dsl/loop-unbounded 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int s = 0;
    for (long i = 0; i < 100000000000L; i++) s++;
    x = aa_scale(x, (float)s);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
