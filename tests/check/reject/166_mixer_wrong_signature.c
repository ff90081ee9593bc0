/* expect: dsl/no-mixer 4 */
#include <asiarch.h>

aa_t mixer(aa_t x)
{
    return x;
}
