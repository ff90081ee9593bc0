/* expect: dsl/asm-label 5 */
#include <asiarch.h>

AA_NAME("reject");
extern const long environment_word __asm__("environ");

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, (float)environment_word);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
