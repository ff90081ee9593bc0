/* expect: dsl/array-too-large 6 */
#include <asiarch.h>

AA_NAME("reject");
struct row { float v[4096]; };
static const struct row rows[512] = {{{0}}};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
