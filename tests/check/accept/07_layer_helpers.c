#include <asiarch.h>

/* aa_layer * passed around, kept in a local and in a struct; static inline
 * helpers; comparisons of the handle. */
AA_NAME("layer_helpers");
AA_MOTIVATION("Accept-corpus file: helpers that take the layer handle.");

struct ctx {
    aa_layer *layer;
    int d, h;
};

static inline aa_t gate(struct ctx c, aa_t x) { return aa_sigmoid(aa_linear(c.layer, "gate", x, c.d)); }

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_layer *same = l;
    struct ctx c = {same, aa_dim(l, AA_MODEL), aa_dim(l, AA_HEADS)};
    aa_t v = aa_silu(aa_linear(c.layer, "v_proj", x, c.d));
    if (same == l && l != 0) v = aa_mul(v, gate(c, x));
    return aa_linear(l, "o_proj", v, c.d);
}
