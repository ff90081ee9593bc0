/* expect: dsl/handle 6 */
#include <asiarch.h>
struct pair { aa_t a; int n; };
aa_t mixer(aa_layer *l, aa_t x)
{
    struct pair p = {.a.ref = 7};
    aa_t arr[2] = {[1].ref = 4};
    return aa_add(x, aa_add(p.a, arr[1]));
}
