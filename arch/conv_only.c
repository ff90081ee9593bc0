#include <asiarch.h>

AA_NAME("conv_only");
AA_MOTIVATION("Control, not a proposal: a gated short causal convolution with no recurrent state. It sees "
              "only the last four tokens, so it cannot do associative recall; MQAR should stay near chance.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    aa_t u = aa_silu(aa_short_conv(l, "conv", aa_linear(l, "in_proj", x, d), 4));
    aa_t g = aa_sigmoid(aa_linear(l, "g_proj", x, d));
    return aa_linear(l, "o_proj", aa_mul(u, g), d);
}
