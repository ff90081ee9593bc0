/* expect: dsl/string 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int c = (char[]){"abc"}[0];
    x = aa_scale(x, (float)c);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
