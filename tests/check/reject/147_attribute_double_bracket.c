/* expect: dsl/attribute 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    [[gnu::unused]] int v = 0;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
