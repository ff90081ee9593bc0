/* expect: dsl/builtin 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    if (__builtin_expect(d > 0, 1)) x = aa_neg(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
