/* expect: dsl/dereference 7 */
#include <asiarch.h>

AA_NAME("reject");
static int second(int *p)
{
    return p[1];
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
