/* expect: dsl/function-pointer 5 */
#include <asiarch.h>

AA_NAME("reject");
static aa_t apply(aa_t g(aa_t), aa_t v) { return v; }

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
