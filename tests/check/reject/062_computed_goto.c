/* expect: dsl/goto 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    static const int k = 0;
    goto *(k ? &&a : &&b);
a:
b:
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
