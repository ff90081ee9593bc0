/* expect: dsl/attribute 6 */
#include <asiarch.h>

AA_NAME("reject");
static aa_t real(aa_t v) { return v; }
aa_t other(aa_t v) __attribute__((alias("real")));

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
