/* expect: verify/non-finite */
#include <asiarch.h>

AA_NAME("nan_output");
AA_MOTIVATION("The output is NaN from the start: the log of negative numbers.");

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_log(aa_add_scalar(aa_square(aa_linear(l, "o", x, aa_dim(l, AA_MODEL))), -1e6f));
}
