/* expect: dsl/array-too-large 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    float m[100][100];
    m[0][0] = 1.0f;
    x = aa_scale(x, m[0][0]);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
