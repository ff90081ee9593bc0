/* expect: build/aa_slice */
#include <asiarch.h>

AA_NAME("slice_overflow");
AA_MOTIVATION("A slice window whose end wraps past INT_MAX.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t y = aa_slice(x, 2, 2147483647, 1);
    return aa_linear(l, "o", aa_expand_as(y, x), aa_dim(l, AA_MODEL));
}
