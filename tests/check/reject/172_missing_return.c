/* expect: dsl/compiler-error 8 */
#include <asiarch.h>

AA_NAME("reject");
static int sign(int v)
{
    if (v > 0) return 1;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
