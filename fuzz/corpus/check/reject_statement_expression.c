/* expect: dsl/statement-expression 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int v = ({ int t = 3; t * 2; });
    x = aa_scale(x, (float)v);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
