#include <asiarch.h>

AA_NAME("gla");
AA_MOTIVATION("Gated Linear Attention (Yang et al. 2024): additive linear attention with a data-dependent "
              "forget gate per key channel, produced by a low-rank projection through logsigmoid/16 so that "
              "most channels remember for long and a few forget fast.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_scale(aa_split_heads(aa_linear(l, "q_proj", x, d), h), 1.0f / sqrtf((float)dk));
    aa_t k = aa_split_heads(aa_linear(l, "k_proj", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v_proj", x, d), h);
    aa_t low = aa_linear(l, "gk_down", x, 16);
    aa_t gk = aa_scale(aa_logsigmoid(aa_linear_bias(l, "gk_up", low, d)), 1.0f / 16.0f);
    aa_t o = aa_linattn(q, k, v, AA_NONE, aa_split_heads(gk, h), 0.0f, 0);
    aa_t g = aa_split_heads(aa_linear(l, "g_proj", x, d), h);
    o = aa_gated_rmsnorm(l, "o_norm", o, g, AA_NORM_THEN_GATE);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
