/* expect: dsl/preprocessor 5 */
#include <asiarch.h>

AA_NAME("reject");
#define N 2.0f

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t y = aa_scale(x, N);
    x = y;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
