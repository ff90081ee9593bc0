/* expect: dsl/trigraph 5 */
#include <asiarch.h>

AA_NAME("reject");
??=define N 4

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
