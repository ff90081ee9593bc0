/* expect: dsl/trigraph 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    // a comment that hides the next line in some C modes ??/
    x = aa_neg(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
