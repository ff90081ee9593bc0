/* expect: dsl/pointwise 10 */
#include <asiarch.h>

AA_NAME("reject");
float mix(float a) { return a; }
float mix_d0(float a) { return 1.0f; }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_pointwise2("mix", x, x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
