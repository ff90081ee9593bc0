/* expect: verify/causality */
#include <asiarch.h>

AA_NAME("zero_init_peek");
AA_MOTIVATION("Reads the next token through a projection that starts at zero: causal until training opens it.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    aa_t ahead = aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t);
    return aa_add(aa_linear(l, "o_proj", x, d), aa_linear_ex(l, "peek", ahead, d, 0, AA_INIT_ZEROS));
}
