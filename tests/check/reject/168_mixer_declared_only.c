/* expect: dsl/no-mixer 4 */
#include <asiarch.h>

aa_t mixer(aa_layer *l, aa_t x);
