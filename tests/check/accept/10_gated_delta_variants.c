#include <asiarch.h>

/* A realistic candidate: Gated DeltaNet with a helper per projection, a
 * const table of conv widths and a bounded loop over heads' temperatures. */
AA_NAME("gated_delta_variants");
AA_MOTIVATION("Gated DeltaNet with per-projection short convolutions of different widths and a "
              "learnable per-head output temperature; the widths come from a const table.");

static const int conv_width[3] = {4, 4, 2};

static aa_t qkv(aa_layer *l, aa_t x, int d, int which)
{
    if (which == 0) return aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), conv_width[0]));
    if (which == 1) return aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), conv_width[1]));
    return aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), conv_width[2]));
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    aa_t q = aa_scale(aa_l2norm(aa_split_heads(qkv(l, x, d, 0), h)), 1.0f / sqrtf((float)dk));
    aa_t k = aa_l2norm(aa_split_heads(qkv(l, x, d, 1), h));
    aa_t v = aa_split_heads(qkv(l, x, d, 2), h);
    aa_t beta = aa_split_heads(aa_sigmoid(aa_linear(l, "b_proj", x, h)), h);
    aa_t dt = aa_softplus(aa_add(aa_linear(l, "a_proj", x, h),
                                 aa_param1(l, "dt_bias", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f))));
    aa_t gate = aa_split_heads(aa_neg(aa_mul(dt, aa_exp(aa_param1(l, "A_log", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f))))), h);
    aa_t o = aa_delta_rule(q, k, v, beta, gate);
    aa_t temp = aa_exp(aa_clamp(aa_param3(l, "log_temp", h, 1, 1, AA_INIT_ZEROS), -2.0f, 2.0f));
    o = aa_mul(o, temp);
    aa_t g = aa_split_heads(aa_linear(l, "g_proj", x, d), h);
    o = aa_gated_rmsnorm(l, "o_norm", o, g, AA_GATE_THEN_NORM);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
