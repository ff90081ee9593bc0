/* expect: dsl/asm-label 5 */
#include <asiarch.h>

AA_NAME("reject");
static int helper(int v) __asm__("system");
static int helper(int v) { return v; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, (float)helper(1));
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
