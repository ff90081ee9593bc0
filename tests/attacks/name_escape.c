/* expect: dsl/name */
#include <asiarch.h>

AA_NAME("best\x1b[2K\rval loss 0.0001");
AA_MOTIVATION("A name that repaints the terminal of whoever lists the candidates.");

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o", x, aa_dim(l, AA_MODEL));
}
