/* expect: dsl/pointer 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int a[4] = {0};
    int (*pa)[4] = 0;
    (void)pa;
    (void)a;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
