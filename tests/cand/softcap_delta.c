#include <asiarch.h>

AA_NAME("softcap_delta");
AA_MOTIVATION("DeltaNet whose beta goes through a custom soft cap: exercises custom pointwise ops "
              "end to end (JIT-compiled scalar function, derivative checked before training).");

/* A smooth cap of the write strength's pre-activation to (-4, 4). */
AA_SCALAR float soft_cap(float x) { return 4.0f * tanhf(x / 4.0f); }
AA_SCALAR float soft_cap_d0(float x)
{
    float t = tanhf(x / 4.0f);
    return 1.0f - t * t;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    aa_t beta = aa_sigmoid(aa_pointwise1("soft_cap", aa_linear(l, "b_proj", x, h)));
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t o = aa_delta_rule(q, k, aa_split_heads(v, h), aa_split_heads(beta, h), AA_NONE);
    return aa_linear(l, "o_proj", aa_merge_heads(aa_rmsnorm(l, "o_norm", o)), d);
}
