/* expect: dsl/compiler-error 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t y;
    x = aa_add(x, y);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
