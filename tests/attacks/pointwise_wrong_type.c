/* expect: dsl/pointwise */
#include <asiarch.h>

AA_NAME("pointwise_wrong_type");
AA_MOTIVATION("A pointwise function of the wrong type: the kernel would call it as float(float).");

long peek(long a) { return a + 8; }
long peek_d0(long a) { return 1; }

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_pointwise1("peek", aa_linear(l, "o", x, aa_dim(l, AA_MODEL)));
}
