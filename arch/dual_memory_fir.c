#include <asiarch.h>

AA_NAME("dual_memory_fir");
AA_MOTIVATION("Two recurrent memories with complementary failure modes share one set of queries, keys and "
              "values: a Gated DeltaNet state that overwrites associations precisely and can be flushed by a "
              "scalar decay, and a GLA state that accumulates under a slow per-channel decay and so keeps a "
              "lossy summary of the distant past. A 64-tap causal FIR adds position-exact local context. Each "
              "path is normalised per head and mixed by a per-channel softmax whose logits, like the GLA decay, "
              "come from one shared low-rank code of the token, so feature channels can lean on different "
              "memories at little parameter cost.");

/* Probability of path i per channel as [B,H,T,Dh] times the path. */
static aa_t route(aa_t probs, aa_t path, int i, int b, int t, int d, int h)
{
    aa_t p = aa_reshape3(aa_slice(probs, -1, i, 1), b, t, d);
    return aa_mul(aa_split_heads(p, h), path);
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    int b = aa_size(x, 0), t = aa_size(x, 1);
    const int n_paths = 3;
    int rank = d / 8;

    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t vh = aa_split_heads(v, h);

    /* Gated delta rule: scalar log decay -exp(A_log) * softplus(a + dt_bias) per head and step. */
    aa_t beta = aa_split_heads(aa_sigmoid(aa_linear(l, "b_proj", x, h)), h);
    aa_t dt = aa_softplus(aa_add(aa_linear(l, "a_proj", x, h),
                                 aa_param1(l, "dt_bias", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f))));
    aa_t decay = aa_exp(aa_param1(l, "A_log", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f)));
    aa_t p_delta = aa_delta_rule(q, k, vh, beta, aa_split_heads(aa_neg(aa_mul(dt, decay)), h));
    p_delta = aa_rmsnorm(l, "norm_delta", p_delta);

    /* A low-rank code of the token drives both the GLA decay and the router. */
    aa_t z = aa_linear(l, "ctx_down", x, rank);

    /* GLA: additive state, per-key-channel decay logsigmoid(.)/16 from the code. */
    aa_t gk = aa_scale(aa_logsigmoid(aa_linear_bias(l, "gk_up", z, d)), 1.0f / 16.0f);
    aa_t p_gla = aa_linattn(q, k, vh, AA_NONE, aa_split_heads(gk, h), 0.0f, 0);
    p_gla = aa_rmsnorm(l, "norm_gla", p_gla);

    /* Long FIR over the values, starting as the identity. */
    aa_t p_fir = aa_split_heads(aa_short_conv_ex(l, "fir_long", v, 64, AA_INIT_DIRAC), h);
    p_fir = aa_rmsnorm(l, "norm_fir", p_fir);

    /* Per-channel softmax router: [B,T,d*P] -> [B,T,d,P], softmax over paths. */
    aa_t logits = aa_reshape4(aa_linear_bias(l, "router_up", aa_silu(z), d * n_paths), b, t, d, n_paths);
    aa_t probs = aa_softmax(logits, -1);

    aa_t o = aa_add(aa_add(route(probs, p_delta, 0, b, t, d, h), route(probs, p_gla, 1, b, t, d, h)),
                    route(probs, p_fir, 2, b, t, d, h));
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
