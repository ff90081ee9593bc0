/* expect: build/aa_reshape */
#include <asiarch.h>

AA_NAME("reshape_wrap");
AA_MOTIVATION("Reshape factors whose product is the element count only modulo 2^64.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = aa_dim(l, AA_BATCH) * aa_dim(l, AA_TIME) * aa_dim(l, AA_MODEL);
    /* 1229673 * 3935371 * 7623851 = 2 * 2^64 + 1 */
    aa_t y = aa_reshape4(x, 1229673, 3935371, 7623851, n);
    return aa_linear(l, "o", aa_permute(y, 0, 1, 3, 2), aa_dim(l, AA_MODEL));
}
