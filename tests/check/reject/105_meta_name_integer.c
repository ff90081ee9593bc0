/* expect: dsl/reserved-name 4 */
#include <asiarch.h>

const int aa_meta_name = 3;

aa_t mixer(aa_layer *l, aa_t x) { return x; }
