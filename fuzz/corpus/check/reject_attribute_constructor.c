/* expect: dsl/attribute 5 */
#include <asiarch.h>

AA_NAME("reject");
__attribute__((constructor)) static void init(void) {}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
