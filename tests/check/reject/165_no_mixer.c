/* expect: dsl/no-mixer 1 */
#include <asiarch.h>

static aa_t helper(aa_t x) { return aa_neg(x); }
