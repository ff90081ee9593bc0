/* expect: dsl/pointer 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = (int)sizeof(struct { int *p; });
    x = aa_scale(x, (float)n);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
