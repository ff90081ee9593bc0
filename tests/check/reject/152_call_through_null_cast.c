/* expect: dsl/call-indirect 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    x = ((aa_t (*)(aa_t))0)(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
