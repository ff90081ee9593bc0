#include <asiarch.h>

/* Every op macro of <asiarch.h> at least once (the shapes are plausible, the
 * point is that the checker accepts each expansion). */
AA_NAME("every_op");
AA_MOTIVATION("Accept-corpus file: uses every op macro of the DSL header.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    int b = aa_size(x, 0), t = aa_size(x, 1), r = aa_rank(x);
    int layer = aa_dim(l, AA_LAYER), layers = aa_dim(l, AA_LAYERS), chunk = aa_dim(l, AA_CHUNK);
    int batch = aa_dim(l, AA_BATCH), time = aa_dim(l, AA_TIME);

    aa_t q = aa_split_heads(aa_linear(l, "q_proj", x, d), h);
    aa_t k = aa_split_heads(aa_linear_bias(l, "k_proj", x, d), h);
    aa_t v = aa_split_heads(aa_linear_ex(l, "v_proj", x, d, 1, AA_INIT_NORMAL(0.01f)), h);
    aa_t beta = aa_sigmoid(aa_linear(l, "b_proj", x, h));

    /* shapes */
    aa_t flat = aa_reshape2(x, b * t, d);
    aa_t back = aa_reshape3(flat, b, t, d);
    aa_t heads4 = aa_reshape4(back, b, t, h, dk);
    aa_t bhtd = aa_permute(heads4, 0, 2, 1, 3);
    aa_t tr = aa_transpose(bhtd, 2, 3);
    aa_t first = aa_slice(x, -1, 0, d / 2);
    aa_t both = aa_concat(first, aa_slice(x, -1, d / 2, d - d / 2), -1);
    aa_t shifted = aa_slice(aa_pad(x, 1, 1, 0), 1, 0, t);
    aa_t wide = aa_expand_as(aa_param1(l, "bias", d, AA_INIT_ZEROS), x);

    /* elementwise */
    aa_t e = aa_add(both, shifted);
    e = aa_sub(e, wide);
    e = aa_mul(e, aa_sigmoid(x));
    e = aa_div(e, aa_add_scalar(aa_abs(x), 1.0f));
    e = aa_scale(e, 0.5f);
    e = aa_add(e, aa_square(aa_tanh(x)));
    e = aa_add(e, aa_sqrt(aa_add_scalar(aa_square(x), 1e-6f)));
    e = aa_add(e, aa_rsqrt(aa_add_scalar(aa_square(x), 1.0f)));
    e = aa_add(e, aa_log(aa_add_scalar(aa_exp(aa_neg(aa_relu(x))), 1.0f)));
    e = aa_add(e, aa_clamp(aa_silu(x), -4.0f, 4.0f));
    e = aa_add(e, aa_softplus(x));
    e = aa_add(e, aa_logsigmoid(x));
    e = aa_add(e, aa_gelu(x));
    e = aa_add(e, aa_elu1(x));
    e = aa_add(e, aa_stop_gradient(aa_tanh(e)));

    /* reductions, scans, masks */
    aa_t m = aa_add(aa_mean(e, -1), aa_var(e, -1));
    aa_t s = aa_add(aa_sum(e, -1), aa_cumsum(m, 1));
    aa_t probs = aa_softmax(aa_linear(l, "router", x, 4), -1);
    aa_aux_loss(l, aa_neg(aa_entropy(probs, -1)), 0.01f);
    aa_t scores = aa_matmul(q, k, 0, 1);
    aa_t causal = aa_add(aa_tril(scores, 0), aa_triu(scores, 1));
    aa_t solved = aa_trisolve(aa_tril(scores, -1), v);

    /* normalisation, convolution, recurrence */
    aa_t n1 = aa_rmsnorm(l, "n1", x);
    aa_t n2 = aa_layernorm(l, "n2", x);
    aa_t n3 = aa_l2norm(q);
    aa_t c1 = aa_short_conv(l, "c1", n1, 4);
    aa_t c2 = aa_short_conv_ex(l, "c2", n2, 8, AA_INIT_DIRAC);
    aa_t o1 = aa_linattn(n3, aa_l2norm(k), v, AA_NONE, AA_NONE, 0.0f, AA_MULTISCALE);
    aa_t o2 = aa_delta_rule(n3, aa_l2norm(k), v, aa_split_heads(beta, h), AA_NONE);
    aa_t o = aa_gated_rmsnorm(l, "o_norm", aa_add(o1, o2), q, AA_NORM_THEN_GATE);
    o = aa_add(o, aa_add(aa_matmul(causal, v, 0, 0), solved));
    o = aa_add(o, aa_transpose(tr, 2, 3));

    aa_t y = aa_add(aa_merge_heads(o), aa_add(c1, c2));
    y = aa_add(y, aa_mul(s, aa_param2(l, "w2", 1, d, AA_INIT_UNIFORM(-0.1f, 0.1f))));
    y = aa_add(y, aa_mul(y, aa_param3(l, "w3", 1, 1, d, AA_INIT_CONST(0.5f))));
    int unused = r + layer + layers + chunk + batch + time;
    (void)unused;
    return aa_linear(l, "o_proj", y, d);
}
