#include <asiarch.h>

/* aa_layer * passed to helpers and kept in a local; static inline helpers;
 * a struct of sizes passed by value; comparisons of the handle. */
AA_NAME("layer_helpers");
AA_MOTIVATION("Accept-corpus file: helpers that take the layer handle.");

struct dims {
    int d, h;
};

static inline aa_t gate(aa_layer *l, struct dims s, aa_t x) { return aa_sigmoid(aa_linear(l, "gate", x, s.d)); }

static aa_layer *same_layer(aa_layer *l) { return l; }

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_layer *same = same_layer(l);
    struct dims s = {aa_dim(l, AA_MODEL), aa_dim(l, AA_HEADS)};
    aa_t v = aa_silu(aa_linear(same, "v_proj", x, s.d));
    if (same == l && l != 0) v = aa_mul(v, gate(l, s, x));
    return aa_linear(l, "o_proj", v, s.d);
}
