/* expect: dsl/attribute 5 */
#include <asiarch.h>

AA_NAME("reject");
__attribute__((section(".text.hot"))) const int marker = 1;

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
