#include <asiarch.h>

AA_NAME("stat_router_fusion");
AA_MOTIVATION("Four parallel views of the value stream (a 3-tap FIR for local n-grams, a 64-tap FIR for "
              "mid-range patterns, a delta-rule memory for exact recall, and the raw value) are blended per "
              "head and token by a softmax router that reads both the hidden state and each path's mean and "
              "variance, so it can see which path currently carries signal. A learnable per-head temperature "
              "lets heads sharpen their choice, while a probability floor and a small entropy bonus keep every "
              "path alive and receiving gradient early in training.");

/* Mean and variance of a path over the head dimension: [B,H,T,2]. */
static aa_t path_stats(aa_t p)
{
    return aa_concat(aa_mean(p, -1), aa_var(p, -1), -1);
}

/* Probability of path i as [B,H,T,1], broadcast over the head dimension. */
static aa_t route(aa_t probs, aa_t path, int i)
{
    return aa_mul(aa_slice(probs, -1, i, 1), path);
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    int b = aa_size(x, 0), t = aa_size(x, 1);
    const int n_paths = 4;
    const float p_floor = 0.02f;

    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    aa_t beta = aa_split_heads(aa_sigmoid(aa_linear(l, "b_proj", x, h)), h);
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t vh = aa_split_heads(v, h);

    /* The four paths, each [B,H,T,Dh]. */
    aa_t p_short = aa_split_heads(aa_short_conv(l, "fir_short", v, 3), h);
    aa_t p_long = aa_split_heads(aa_short_conv_ex(l, "fir_long", v, 64, AA_INIT_DIRAC), h);
    aa_t p_delta = aa_delta_rule(q, k, vh, beta, AA_NONE);
    aa_t p_id = vh;

    /* Router input: the hidden state plus per-head path statistics. */
    aa_t stats = aa_concat(aa_concat(path_stats(p_short), path_stats(p_long), -1),
                           aa_concat(path_stats(p_delta), path_stats(p_id), -1), -1);   /* [B,H,T,8] */
    aa_t stats_bt = aa_reshape3(aa_permute(stats, 0, 2, 1, 3), b, t, h * 2 * n_paths);  /* [B,T,8H] */
    aa_t hid = aa_gelu(aa_linear_bias(l, "router_fc1", aa_concat(x, stats_bt, -1), d / 2));
    aa_t logits = aa_linear_bias(l, "router_fc2", hid, h * n_paths);                     /* [B,T,H*P] */
    logits = aa_permute(aa_reshape4(logits, b, t, h, n_paths), 0, 2, 1, 3);              /* [B,H,T,P] */
    logits = aa_add(logits, aa_param3(l, "router_bias", h, 1, n_paths, AA_INIT_ZEROS));

    /* Per-head temperature tau = exp(log_tau), kept within [e^-2, e^2]. */
    aa_t log_tau = aa_clamp(aa_param3(l, "log_tau", h, 1, 1, AA_INIT_ZEROS), -2.0f, 2.0f);
    aa_t soft = aa_softmax(aa_mul(logits, aa_exp(aa_neg(log_tau))), -1);
    aa_t probs = aa_add_scalar(aa_scale(soft, 1.0f - (float)n_paths * p_floor), p_floor);

    /* Reward router entropy a little (aux loss adds weight * mean(-H)). */
    aa_aux_loss(l, aa_neg(aa_entropy(soft, -1)), 0.01f);

    aa_t o = aa_add(aa_add(route(probs, p_short, 0), route(probs, p_long, 1)),
                    aa_add(route(probs, p_delta, 2), route(probs, p_id, 3)));
    o = aa_rmsnorm(l, "o_norm", o);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
