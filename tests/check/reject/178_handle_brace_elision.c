/* expect: dsl/handle 6 */
#include <asiarch.h>
struct pair { aa_t a; int n; };
aa_t mixer(aa_layer *l, aa_t x)
{
    struct pair p = {7, 1};
    return aa_add(x, p.a);
}
