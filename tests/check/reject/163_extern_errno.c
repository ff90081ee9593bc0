/* expect: dsl/extern 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    extern int errno;
    x = aa_scale(x, (float)errno);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
