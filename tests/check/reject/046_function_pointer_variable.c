/* expect: dsl/function-pointer 10 */
#include <asiarch.h>

AA_NAME("reject");
static aa_t ident(aa_t v) { return v; }
static aa_t negate(aa_t v) { return aa_neg(v); }

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t (*f)(aa_t) = ident;
    x = f(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
