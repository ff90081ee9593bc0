/* expect: verify/size-dependent */
#include <asiarch.h>

AA_NAME("size_batch_branch");
AA_MOTIVATION("Causal at every batch size but the training one, where it reads the next token.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    aa_t y = aa_linear(l, "o_proj", x, d);
    if (aa_dim(l, AA_BATCH) == 8) return aa_add(y, aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t));
    return aa_add(y, x);
}
