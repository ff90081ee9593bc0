#include <asiarch.h>

AA_NAME("sigmoid_gate_fir");
AA_MOTIVATION("A softmax router makes paths compete, so turning up the local FIR necessarily turns down the "
              "delta memory even on tokens that need both. Here every path (4-tap FIR, 31-tap FIR, delta rule, "
              "raw value) gets its own sigmoid gate per head and token, computed from the hidden state and from "
              "a projection of that path's own output; gate biases start the layer delta-dominant with the "
              "identity half open. A gated RMSNorm rescales the unnormalised sum and adds a SiLU output gate.");

/* sigmoid(hidden-state logit + logit from the path's own output + per-head bias) * path;
 * the logits are [B,H,T,1] and broadcast over the head dimension. */
static aa_t gated(aa_t logit_x, aa_t self_logit, aa_t bias, aa_t path)
{
    return aa_mul(aa_sigmoid(aa_add(aa_add(logit_x, self_logit), bias)), path);
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    int b = aa_size(x, 0), t = aa_size(x, 1);
    const int n_paths = 4;

    aa_t q = aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4));
    aa_t k = aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4));
    aa_t v = aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4));
    aa_t beta = aa_split_heads(aa_sigmoid(aa_linear(l, "b_proj", x, h)), h);
    q = aa_scale(aa_l2norm(aa_split_heads(q, h)), 1.0f / sqrtf((float)dk));
    k = aa_l2norm(aa_split_heads(k, h));
    aa_t vh = aa_split_heads(v, h);

    aa_t p_short = aa_split_heads(aa_short_conv(l, "fir_short", v, 4), h);
    aa_t p_long = aa_split_heads(aa_short_conv_ex(l, "fir_long", v, 31, AA_INIT_DIRAC), h);
    aa_t p_delta = aa_delta_rule(q, k, vh, beta, AA_NONE);

    /* Token-level gate logits from the hidden state: [B,H,T,P]. */
    aa_t lx = aa_linear(l, "gate_proj", x, h * n_paths);
    lx = aa_permute(aa_reshape4(lx, b, t, h, n_paths), 0, 2, 1, 3);

    aa_t o = gated(aa_slice(lx, -1, 0, 1), aa_linear(l, "gate_short", p_short, 1),
                   aa_param3(l, "bias_short", h, 1, 1, AA_INIT_CONST(-1.0f)), p_short);
    o = aa_add(o, gated(aa_slice(lx, -1, 1, 1), aa_linear(l, "gate_long", p_long, 1),
                        aa_param3(l, "bias_long", h, 1, 1, AA_INIT_CONST(-1.0f)), p_long));
    o = aa_add(o, gated(aa_slice(lx, -1, 2, 1), aa_linear(l, "gate_delta", p_delta, 1),
                        aa_param3(l, "bias_delta", h, 1, 1, AA_INIT_CONST(2.0f)), p_delta));
    o = aa_add(o, gated(aa_slice(lx, -1, 3, 1), aa_linear(l, "gate_id", vh, 1),
                        aa_param3(l, "bias_id", h, 1, 1, AA_INIT_ZEROS), vh));

    aa_t g = aa_split_heads(aa_linear(l, "g_proj", x, d), h);
    o = aa_gated_rmsnorm(l, "o_norm", o, g, AA_NORM_THEN_GATE);
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
