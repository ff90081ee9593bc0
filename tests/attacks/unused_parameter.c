/* expect: verify/unused-parameter */
#include <asiarch.h>

AA_NAME("unused_parameter");
AA_MOTIVATION("A router whose weights reach the loss only through an aux loss behind a stop-gradient.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t r = aa_linear(l, "router", x, 4);
    aa_aux_loss(l, aa_stop_gradient(aa_square(r)), 0.01f);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
