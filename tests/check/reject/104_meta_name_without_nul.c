/* expect: dsl/reserved-name 4 */
#include <asiarch.h>

const char aa_meta_name[3] = "abc";

aa_t mixer(aa_layer *l, aa_t x) { return x; }
