/* expect: dsl/builtin 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_linear(l, __func__, x, 4);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
