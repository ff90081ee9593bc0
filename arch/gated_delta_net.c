#include <asiarch.h>

AA_NAME("gated_delta_net");
AA_MOTIVATION("Gated DeltaNet (Yang et al. 2025): the delta rule's precise overwrites plus a data-dependent "
              "scalar forget gate (Mamba2-style decay exp(-A softplus(a + dt_bias))) that can clear the whole "
              "state quickly when the context changes; output passes a gated RMSNorm.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    aa_t beta = aa_sigmoid(aa_linear(l, "b_proj", x, h));
    /* log decay per head and step: -exp(A_log) * softplus(a + dt_bias) <= 0 */
    aa_t dt = aa_softplus(aa_add(aa_linear(l, "a_proj", x, h),
                                 aa_param1(l, "dt_bias", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f))));
    aa_t decay = aa_exp(aa_param1(l, "A_log", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f)));
    aa_t gate = aa_neg(aa_mul(dt, decay));
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t o = aa_delta_rule(q, k, aa_split_heads(v, h), aa_split_heads(beta, h), aa_split_heads(gate, h));
    aa_t g = aa_split_heads(aa_linear(l, "g_proj", x, d), h);
    o = aa_gated_rmsnorm(l, "o_norm", o, g, AA_NORM_THEN_GATE);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
