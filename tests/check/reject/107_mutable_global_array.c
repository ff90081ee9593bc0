/* expect: dsl/mutable-global 5 */
#include <asiarch.h>

AA_NAME("reject");
float table[4] = {1, 2, 3, 4};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
