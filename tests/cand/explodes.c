#include <asiarch.h>

AA_NAME("explodes");
AA_MOTIVATION("A test candidate whose activations overflow to infinity at the first step: training must "
              "stop with a train/nan report instead of running on NaN.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    aa_t h = aa_exp(aa_scale(aa_linear(l, "in_proj", x, d), 1e4f));
    return aa_linear(l, "o_proj", aa_sub(h, h), d);
}
