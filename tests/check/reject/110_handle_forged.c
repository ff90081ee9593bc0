/* expect: dsl/handle 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t fake = {7};
    x = aa_add(x, fake);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
