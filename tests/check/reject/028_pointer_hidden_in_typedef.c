/* expect: dsl/pointer 10 */
#include <asiarch.h>

AA_NAME("reject");
typedef int *iptr;

aa_t mixer(aa_layer *l, aa_t x)
{
    int v = 3;
    iptr p = 0;
    (void)p;
    (void)v;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
