/* expect: dsl/handle 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    x.ref = 0;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
