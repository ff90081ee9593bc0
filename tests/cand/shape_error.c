#include <asiarch.h>

AA_NAME("shape_error");
AA_MOTIVATION("A build-time shape mismatch on line 10.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    aa_t wide = aa_linear(l, "up", x, 2 * d);
    return aa_add(x, wide);
}
