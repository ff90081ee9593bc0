/* expect: dsl/inline 5 */
#include <asiarch.h>

AA_NAME("reject");
inline float two(void) { return 2.0f; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, two());
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
