/* expect: dsl/pointer 5 */
#include <asiarch.h>

AA_NAME("reject");
static aa_t proj(aa_layer *l, const char *name, aa_t x) { return aa_linear(l, name, x, 4); }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = proj(l, "q", x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
