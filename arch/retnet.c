#include <asiarch.h>

AA_NAME("retnet");
AA_MOTIVATION("RetNet (Sun et al. 2023): multi-scale retention, i.e. linear attention with a fixed, "
              "data-independent decay per head (1 - 2^(-5-h)) so heads cover short to long horizons; "
              "per-head normalisation and a swish output gate.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_scale(aa_split_heads(aa_linear(l, "q_proj", x, d), h), 1.0f / sqrtf((float)dk));
    aa_t k = aa_split_heads(aa_linear(l, "k_proj", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v_proj", x, d), h);
    aa_t o = aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, AA_MULTISCALE);
    aa_t g = aa_split_heads(aa_linear(l, "g_proj", x, d), h);
    o = aa_gated_rmsnorm(l, "o_norm", o, g, AA_NORM_THEN_GATE);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
