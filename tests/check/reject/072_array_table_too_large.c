/* expect: dsl/array-too-large 5 */
#include <asiarch.h>

AA_NAME("reject");
static const float table[70000] = {0};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
