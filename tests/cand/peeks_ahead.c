#include <asiarch.h>

AA_NAME("peeks_ahead");
AA_MOTIVATION("Deliberately non-causal: mixes the next token into the current one. Verification must reject it.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    aa_t next = aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t);
    return aa_linear(l, "o_proj", aa_add(x, next), d);
}
