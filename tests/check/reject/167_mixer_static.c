/* expect: dsl/no-mixer 4 */
#include <asiarch.h>

static aa_t mixer(aa_layer *l, aa_t x)
{
    return x;
}
