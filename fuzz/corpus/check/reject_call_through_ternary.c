/* expect: dsl/call-indirect 9 */
#include <asiarch.h>

AA_NAME("reject");
static aa_t ident(aa_t v) { return v; }
static aa_t negate(aa_t v) { return aa_neg(v); }
static aa_t pick(int c, aa_t v)
{
    return (c ? ident : negate)(v);
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
