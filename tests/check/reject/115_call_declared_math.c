/* expect: dsl/call-not-allowed 9 */
#include <asiarch.h>

AA_NAME("reject");
float cbrtf(float);

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, cbrtf(2.0f));
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
