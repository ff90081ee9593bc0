/* expect: build/aa_pad */
#include <asiarch.h>

AA_NAME("pad_overflow");
AA_MOTIVATION("Padding whose total wraps to a small number.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t y = aa_pad(x, 2, 2147483647, 2147483647);
    return aa_linear(l, "o", aa_slice(y, 2, 0, aa_dim(l, AA_MODEL)), aa_dim(l, AA_MODEL));
}
