/* expect: dsl/pointer 5 */
#include <asiarch.h>

AA_NAME("reject");
_Static_assert(sizeof(void *) == 8, "64-bit");

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
