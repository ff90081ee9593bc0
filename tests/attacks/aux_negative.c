/* expect: honest */
/* args: --no-mqar --steps 40 */
#include <asiarch.h>

AA_NAME("aux_negative");
AA_MOTIVATION("A large negative auxiliary loss: optimised, never part of the reported loss.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_aux_loss(l, aa_add_scalar(aa_scale(aa_square(x), 0.0f), -1.0f), 100.0f);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
