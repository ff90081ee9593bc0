/* expect: dsl/pointer 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_layer *ls[2] = {l, l};
    x = aa_linear(ls[1], "p", x, 4);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
