/* expect: dsl/array-too-large 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    struct big { float v[4000]; };
    struct big s[8];
    s[0].v[0] = 0.0f;
    x = aa_scale(x, s[0].v[0]);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
