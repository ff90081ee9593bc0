/* expect: dsl/cast-pointer 8 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    long a = (long)l;
    x = aa_scale(x, (float)a);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
