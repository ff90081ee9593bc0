/* expect: dsl/handle 5 */
#include <asiarch.h>
aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t a = {.ref = 3};
    return aa_add(x, a);
}
