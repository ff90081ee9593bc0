/* expect: dsl/asm-label 5 */
#include <asiarch.h>

AA_NAME("reject");
void stop_now(void) __asm__("abort");

aa_t mixer(aa_layer *l, aa_t x)
{
    stop_now();
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
