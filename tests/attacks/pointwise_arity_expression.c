/* expect: dsl/pointwise */
#include <asiarch.h>

AA_NAME("pointwise_arity_expression");
AA_MOTIVATION("Names the mixer as a pointwise function through an arity the checker could not evaluate.");

AA_SCALAR float mixer_d0(float a) { return a; }

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa__pointwise("mixer", 1 + 0 * aa_dim(l, AA_MODEL), aa_linear(l, "o", x, aa_dim(l, AA_MODEL)), AA_NONE,
                         AA_NONE, AA_NONE, __LINE__);
}
