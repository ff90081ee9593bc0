/* expect: dsl/vla 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = aa_dim(l, AA_HEADS);
    float w[n];
    w[0] = 1.0f;
    x = aa_scale(x, w[0]);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
