/* expect: dsl/name 5 */
#include <asiarch.h>

/* An escape sequence in the name would repaint the terminal of whoever lists the candidates. */
AA_NAME("best\x1b[2K\rval loss 0.0001");

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
