#include <asiarch.h>

/* Loop bounds computed from several aa_dim calls (products, sums, quotients):
 * loop-invariant, so bounded, whatever macros the operands are. */
AA_NAME("loop_bound_products");
AA_MOTIVATION("Accept-corpus file: loop bounds that combine aa_dim calls with operators.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t y = x;
    for (int i = 0; i < aa_dim(l, AA_HEADS) * aa_dim(l, AA_LAYERS); i++) y = aa_scale(y, 0.99f);
    for (int i = 0; i < aa_dim(l, AA_HEADS) + aa_dim(l, AA_LAYER) - 1; i++) y = aa_scale(y, 0.99f);
    for (int i = aa_dim(l, AA_MODEL) / aa_dim(l, AA_HEADS); i > 0; i -= 8) y = aa_scale(y, 0.99f);
    return aa_linear(l, "o_proj", y, aa_dim(l, AA_MODEL));
}
