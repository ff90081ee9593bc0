#include <asiarch.h>

/* AA_NAME / AA_MOTIVATION are optional; metadata written out by hand in the
 * macro's shape is accepted too. Unused static helpers and prototypes that
 * are later defined are fine. */
const char aa_meta_name[] = "metadata_by_hand";

static aa_t unused_helper(aa_t x);

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", aa_relu(x), aa_dim(l, AA_MODEL));
}

static aa_t unused_helper(aa_t x) { return aa_neg(x); }
