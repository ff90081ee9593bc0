/* expect: verify/causality */
/* args: --no-mqar */
#include <asiarch.h>

AA_NAME("narrow_leak");
AA_MOTIVATION("One late position, not at a chunk boundary, reads the next one (at T = 128: 100 reads 101); nothing else leaks.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int t = aa_dim(l, AA_TIME), p = t - 28;
    aa_t zero = aa_scale(x, 0.0f);
    aa_t moved = aa_concat(aa_concat(aa_slice(zero, 1, 0, p), aa_slice(x, 1, p + 1, 1), 1),
                           aa_slice(zero, 1, p + 1, t - p - 1), 1);
    return aa_linear(l, "o_proj", aa_add(x, moved), aa_dim(l, AA_MODEL));
}
