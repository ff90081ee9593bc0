/* expect: dsl/name 4 */
#include <asiarch.h>

AA_NAME("My Mixer/v2");

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
