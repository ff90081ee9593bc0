/* expect: dsl/recursion 5 */
#include <asiarch.h>

aa_t mixer(aa_layer *l, aa_t x);
static aa_t again(aa_layer *l, aa_t x) { return mixer(l, x); }

aa_t mixer(aa_layer *l, aa_t x)
{
    return again(l, x);
}
