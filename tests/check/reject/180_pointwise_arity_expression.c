/* expect: dsl/pointwise 13 */
#include <asiarch.h>

AA_NAME("reject");

/* The arity through an expression: the kernel would call whatever it names
 * as float(float), the mixer itself included. */
AA_SCALAR float mixer_d0(float a) { return a; }

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    return aa__pointwise("mixer", 1 + 0 * aa_dim(l, AA_MODEL), aa_linear(l, "o", x, d), AA_NONE, AA_NONE,
                         AA_NONE, __LINE__);
}
