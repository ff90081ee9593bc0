/* expect: dsl/pointer-arith 7 */
#include <asiarch.h>

AA_NAME("reject");
static int walk(int *p)
{
    p++;
    return 0;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
