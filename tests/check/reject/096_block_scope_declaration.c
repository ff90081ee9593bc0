/* expect: dsl/extern 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int getpid(void);
    x = aa_scale(x, (float)getpid());
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
