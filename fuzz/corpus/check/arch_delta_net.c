#include <asiarch.h>

AA_NAME("delta_net");
AA_MOTIVATION("DeltaNet (Yang et al. 2024): linear attention whose state is updated by the delta rule, "
              "S = S - beta k (k^T S - v^T), so a new association overwrites the old value of its key "
              "instead of piling up; short causal convolutions give q, k, v local context.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    aa_t beta = aa_sigmoid(aa_linear(l, "b_proj", x, h));
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t o = aa_delta_rule(q, k, aa_split_heads(v, h), aa_split_heads(beta, h), AA_NONE);
    o = aa_rmsnorm(l, "o_norm", o);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
