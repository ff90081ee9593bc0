/* expect: dsl/recursion 5 */
#include <asiarch.h>

AA_NAME("reject");
static int fact(int n) { return n > 1 ? n * fact(n - 1) : 1; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, (float)fact(4));
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
