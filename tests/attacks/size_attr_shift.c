/* expect: verify/causality */
#include <asiarch.h>

AA_NAME("size_attr_shift");
AA_MOTIVATION("Reads the next token whenever the batch has 8 or more sequences: at every size verified.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int t = aa_dim(l, AA_TIME), s = aa_size(x, 0) >= 8 ? 1 : 0;
    aa_t shifted = aa_slice(aa_pad(x, 1, 1, 1), 1, 1 + s, t);
    return aa_add(aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL)), aa_linear(l, "n_proj", shifted, aa_dim(l, AA_MODEL)));
}
