/* expect: dsl/prototype 5 */
#include <asiarch.h>

AA_NAME("reject");
static int twice(v)
int v;
{
    return 2 * v;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
