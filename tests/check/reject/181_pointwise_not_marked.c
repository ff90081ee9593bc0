/* expect: dsl/pointwise 12 */
#include <asiarch.h>

AA_NAME("reject");

/* float(float), but not declared as a scalar function with AA_SCALAR */
float peek(float a) { return a; }
AA_SCALAR float peek_d0(float a) { return 1.0f; }

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_pointwise1("peek", aa_linear(l, "o", x, aa_dim(l, AA_MODEL)));
}
