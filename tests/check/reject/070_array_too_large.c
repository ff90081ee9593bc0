/* expect: dsl/array-too-large 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    float big[5000];
    big[0] = 1.0f;
    x = aa_scale(x, big[0]);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
