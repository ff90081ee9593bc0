/*
 * test_grad.c — finite-difference gradient checks of every DSL op through the
 * graph executor (the kernels are checked on their own in test_kernels.c and
 * test_linattn.c; this checks the wiring: shapes, broadcasting, which buffer
 * each gradient lands in, accumulation over fan-out).
 *
 * Each case builds a small graph from parameters "a" and "b", reduces its
 * output y to L = sum(y * w) with a fixed random w, and compares dL/dp from
 * the backward pass with central differences of L for every parameter p
 * (except w), on a sample of elements.
 */
#include <stdlib.h>

#include "runtime.h"
#include "test.h"

typedef aa_t (*build_fn)(aa_layer *l, aa_t a, aa_t b);

typedef struct grad_case {
    const char *name;
    int ra, a[3], rb, b[3];  /* parameter shapes (rank 0: absent) */
    float lo, hi;            /* uniform init range of a and b */
    build_fn build;
} grad_case;

/* ---- op builders ---- */
#define B1(name, expr) static aa_t name(aa_layer *l, aa_t a, aa_t b) { (void)l; (void)b; return expr; }
B1(b_add, aa_add(a, b))
B1(b_sub, aa_sub(a, b))
B1(b_mul, aa_mul(a, b))
B1(b_div, aa_div(a, b))
B1(b_mul_self, aa_mul(a, a))
B1(b_scale, aa_scale(a, -1.7f))
B1(b_add_scalar, aa_add_scalar(a, 0.3f))
B1(b_square, aa_square(a))
B1(b_sqrt, aa_sqrt(a))
B1(b_rsqrt, aa_rsqrt(a))
B1(b_exp, aa_exp(a))
B1(b_log, aa_log(a))
B1(b_neg, aa_neg(a))
B1(b_abs, aa_abs(a))
B1(b_clamp, aa_clamp(a, -10.0f, 10.0f))
B1(b_sigmoid, aa_sigmoid(a))
B1(b_silu, aa_silu(a))
B1(b_softplus, aa_softplus(a))
B1(b_logsigmoid, aa_logsigmoid(a))
B1(b_gelu, aa_gelu(a))
B1(b_relu, aa_relu(a))
B1(b_elu1, aa_elu1(a))
B1(b_tanh, aa_tanh(a))
B1(b_sum, aa_sum(a, 1))
B1(b_mean, aa_mean(a, -1))
B1(b_var, aa_var(a, -1))
B1(b_cumsum, aa_cumsum(a, 1))
B1(b_softmax, aa_softmax(a, -1))
B1(b_entropy, aa_entropy(aa_softmax(a, -1), -1))
B1(b_tril, aa_tril(a, 0))
B1(b_triu, aa_triu(a, 1))
B1(b_reshape, aa_reshape2(a, 6, 4))
B1(b_permute, aa_permute(a, 2, 0, 1, 3))
B1(b_transpose, aa_transpose(a, 0, 2))
B1(b_heads, aa_merge_heads(aa_scale(aa_split_heads(a, 2), 2.0f)))
B1(b_slice, aa_slice(a, 1, 1, 2))
B1(b_concat, aa_concat(a, b, 1))
B1(b_pad, aa_pad(a, 1, 2, 1))
B1(b_expand, aa_expand_as(b, a))
B1(b_matmul, aa_matmul(a, b, 0, 0))
B1(b_matmul_t, aa_matmul(a, b, 1, 1))
B1(b_trisolve, aa_trisolve(aa_scale(a, 0.3f), b))
B1(b_l2norm, aa_l2norm(a))
/* d/da of a*a + stop(a)*b is 2a; b gets stop(a): the stop is visible only in a's gradient. */
B1(b_stopgrad, aa_add(aa_mul(a, a), aa_mul(aa_stop_gradient(a), b)))
static aa_t b_linear(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_linear_bias(l, "lin", a, 5); }
static aa_t b_rmsnorm(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_rmsnorm(l, "n", aa_scale(a, 1.0f)); }
static aa_t b_layernorm(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_layernorm(l, "n", a); }
static aa_t b_gnorm0(aa_layer *l, aa_t a, aa_t b) { return aa_gated_rmsnorm(l, "n", a, b, AA_NORM_THEN_GATE); }
static aa_t b_gnorm1(aa_layer *l, aa_t a, aa_t b) { return aa_gated_rmsnorm(l, "n", a, b, AA_GATE_THEN_NORM); }
static aa_t b_conv1(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_short_conv(l, "c", a, 1); }
static aa_t b_conv4(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_short_conv(l, "c", a, 4); }
static aa_t b_conv7(aa_layer *l, aa_t a, aa_t b) { (void)b; return aa_short_conv(l, "c", a, 7); }

/* Linear attention cases: a holds q|k|v side by side, b the per-step inputs. */
static aa_t heads_of(aa_t a, int which, int d)
{
    return aa_split_heads(aa_slice(a, 2, which * d, d), 2);   /* [1,T,2d] -> [1,2,T,d/2] */
}
static aa_t la(aa_t a, aa_t b, int flags, int gate_kind, float lambda)
{
    int d = 8;
    aa_t q = aa_l2norm(heads_of(a, 0, d)), k = aa_l2norm(heads_of(a, 1, d)), v = heads_of(a, 2, d);
    aa_t beta = (flags & AA_DELTA) ? aa_split_heads(aa_sigmoid(aa_slice(b, 2, 0, 2)), 2) : AA_NONE;
    aa_t gate = AA_NONE;
    if (gate_kind == 1) gate = aa_split_heads(aa_logsigmoid(aa_slice(b, 2, 2, 2)), 2);
    if (gate_kind == 2) gate = aa_split_heads(aa_logsigmoid(aa_slice(b, 2, 4, 8)), 2);
    return aa_merge_heads(aa_linattn(q, k, v, beta, gate, lambda, flags));
}
static aa_t b_la_delta(aa_layer *l, aa_t a, aa_t b) { (void)l; return la(a, b, AA_DELTA, 0, 0.0f); }
static aa_t b_la_gdelta(aa_layer *l, aa_t a, aa_t b) { (void)l; return la(a, b, AA_DELTA, 1, 0.0f); }
static aa_t b_la_gla(aa_layer *l, aa_t a, aa_t b) { (void)l; return la(a, b, 0, 2, 0.0f); }
static aa_t b_la_ret(aa_layer *l, aa_t a, aa_t b) { (void)l; return la(a, b, AA_MULTISCALE, 0, 0.0f); }
static aa_t b_la_rec(aa_layer *l, aa_t a, aa_t b) { (void)l; return la(a, b, AA_DELTA | AA_RECURRENT, 2, 0.9f); }

static const grad_case cases[] = {
    {"add_broadcast", 3, {2, 3, 4}, 1, {4}, -1, 1, b_add},
    {"sub_broadcast", 3, {2, 3, 4}, 3, {2, 1, 4}, -1, 1, b_sub},
    {"mul_broadcast", 3, {2, 3, 4}, 3, {1, 3, 1}, -1, 1, b_mul},
    {"div", 2, {3, 4}, 2, {3, 4}, 0.5f, 2, b_div},
    {"mul_same_input", 2, {3, 4}, 0, {0}, -1, 1, b_mul_self},
    {"scale", 2, {3, 4}, 0, {0}, -1, 1, b_scale},
    {"add_scalar", 2, {3, 4}, 0, {0}, -1, 1, b_add_scalar},
    {"square", 2, {3, 4}, 0, {0}, -1, 1, b_square},
    {"sqrt", 2, {3, 4}, 0, {0}, 0.5f, 2, b_sqrt},
    {"rsqrt", 2, {3, 4}, 0, {0}, 0.5f, 2, b_rsqrt},
    {"exp", 2, {3, 4}, 0, {0}, -1, 1, b_exp},
    {"log", 2, {3, 4}, 0, {0}, 0.5f, 2, b_log},
    {"neg", 2, {3, 4}, 0, {0}, -1, 1, b_neg},
    {"abs", 2, {3, 4}, 0, {0}, 0.2f, 1, b_abs},
    {"clamp", 2, {3, 4}, 0, {0}, -1, 1, b_clamp},
    {"sigmoid", 2, {3, 4}, 0, {0}, -2, 2, b_sigmoid},
    {"silu", 2, {3, 4}, 0, {0}, -2, 2, b_silu},
    {"softplus", 2, {3, 4}, 0, {0}, -2, 2, b_softplus},
    {"logsigmoid", 2, {3, 4}, 0, {0}, -2, 2, b_logsigmoid},
    {"gelu", 2, {3, 4}, 0, {0}, -2, 2, b_gelu},
    {"relu", 2, {3, 4}, 0, {0}, 0.1f, 2, b_relu},
    {"elu1", 2, {3, 4}, 0, {0}, -2, 2, b_elu1},
    {"tanh", 2, {3, 4}, 0, {0}, -2, 2, b_tanh},
    {"sum", 3, {2, 3, 4}, 0, {0}, -1, 1, b_sum},
    {"mean", 3, {2, 3, 4}, 0, {0}, -1, 1, b_mean},
    {"var", 3, {2, 3, 4}, 0, {0}, -1, 1, b_var},
    {"cumsum", 3, {2, 3, 4}, 0, {0}, -1, 1, b_cumsum},
    {"softmax", 3, {2, 3, 4}, 0, {0}, -1, 1, b_softmax},
    {"entropy", 3, {2, 3, 4}, 0, {0}, -1, 1, b_entropy},
    {"tril", 3, {2, 4, 4}, 0, {0}, -1, 1, b_tril},
    {"triu", 3, {2, 4, 4}, 0, {0}, -1, 1, b_triu},
    {"reshape", 3, {2, 3, 4}, 0, {0}, -1, 1, b_reshape},
    {"permute", 3, {2, 3, 4}, 0, {0}, -1, 1, b_permute},
    {"transpose", 3, {2, 3, 4}, 0, {0}, -1, 1, b_transpose},
    {"split_merge_heads", 3, {2, 3, 4}, 0, {0}, -1, 1, b_heads},
    {"slice", 3, {2, 4, 3}, 0, {0}, -1, 1, b_slice},
    {"concat", 3, {2, 3, 4}, 3, {2, 2, 4}, -1, 1, b_concat},
    {"pad", 3, {2, 3, 4}, 0, {0}, -1, 1, b_pad},
    {"expand_as", 3, {2, 3, 4}, 3, {2, 1, 4}, -1, 1, b_expand},
    {"matmul", 3, {2, 3, 4}, 3, {2, 4, 5}, -1, 1, b_matmul},
    {"matmul_transposed", 3, {2, 4, 3}, 3, {2, 5, 4}, -1, 1, b_matmul_t},
    {"trisolve", 3, {2, 4, 4}, 3, {2, 4, 3}, -1, 1, b_trisolve},
    {"l2norm", 3, {2, 3, 4}, 0, {0}, -1, 1, b_l2norm},
    {"linear_bias", 3, {2, 3, 4}, 0, {0}, -1, 1, b_linear},
    {"rmsnorm", 3, {2, 3, 4}, 0, {0}, -1, 1, b_rmsnorm},
    {"layernorm", 3, {2, 3, 4}, 0, {0}, -1, 1, b_layernorm},
    {"gated_rmsnorm_norm_then_gate", 3, {2, 3, 4}, 3, {2, 3, 4}, -1, 1, b_gnorm0},
    {"gated_rmsnorm_gate_then_norm", 3, {2, 3, 4}, 3, {2, 3, 4}, -1, 1, b_gnorm1},
    {"short_conv_1", 3, {2, 9, 3}, 0, {0}, -1, 1, b_conv1},
    {"short_conv_4", 3, {2, 9, 3}, 0, {0}, -1, 1, b_conv4},
    {"short_conv_7", 3, {2, 9, 3}, 0, {0}, -1, 1, b_conv7},
    {"linattn_delta_chunked", 3, {1, 37, 24}, 3, {1, 37, 12}, -1, 1, b_la_delta},
    {"linattn_gated_delta", 3, {1, 37, 24}, 3, {1, 37, 12}, -1, 1, b_la_gdelta},
    {"linattn_channel_gate", 3, {1, 37, 24}, 3, {1, 37, 12}, -1, 1, b_la_gla},
    {"linattn_multiscale", 3, {1, 37, 24}, 3, {1, 37, 12}, -1, 1, b_la_ret},
    {"linattn_recurrent_lambda", 3, {1, 37, 24}, 3, {1, 37, 12}, -1, 1, b_la_rec},
};

/* Build a + b -> y -> L = sum(y * w); returns the model or NULL. */
static rt_model *build_case(const grad_case *c, char *err, size_t len)
{
    ir_dims dims = {.vocab = 16, .model = 4, .heads = 2, .layers = 1, .batch = 1, .time = 4, .chunk = 16,
                    .mlp_hidden = 8};
    ir_graph *g = ir_graph_new(&dims, "test_grad.c");
    ir_set_current(g);
    aa_layer l = {.g = g, .index = 0};
    aa_init init = AA_INIT_UNIFORM(c->lo, c->hi);
    aa_t a = aa__param(&l, "a", c->ra, c->a[0], c->a[1], c->a[2], init, __LINE__);
    aa_t b = c->rb ? aa__param(&l, "b", c->rb, c->b[0], c->b[1], c->b[2], init, __LINE__) : AA_NONE;
    aa_t y = c->build(&l, a, b);
    int n = aa_rank(y) > 0 ? 1 : 0;
    for (int i = 0; i < aa_rank(y); i++) n *= aa_size(y, i);
    aa_t w = aa__param(&l, "w", 1, n, 1, 1, AA_INIT_NORMAL(1.0f), __LINE__);
    aa_t s = aa_sum(aa_mul(aa_reshape2(y, 1, n), aa_reshape2(w, 1, n)), 1);
    aa_aux_loss(&l, s, 1.0f);
    ir_set_current(NULL);
    if (g->has_error) {
        ir_format_error(g, err, len);
        ir_graph_free(g);
        return NULL;
    }
    g->loss = g->aux[0];
    rt_model *m = rt_model_new(g, 1, err, len);
    if (!m) { ir_graph_free(g); return NULL; }
    rt_model_init_params(m, 7);
    return m;
}

static double loss_of(rt_model *m) { return rt_forward(m, NULL, NULL); }

static void check_case(const grad_case *c)
{
    char err[512];
    rt_model *m = build_case(c, err, sizeof err);
    CHECK_MSG(m != NULL, "%s: %s", c->name, err);
    if (!m) return;
    rt_forward(m, NULL, NULL);
    rt_backward(m);
    const ir_graph *g = rt_model_graph(m);
    for (int p = 0; p < g->n_params; p++) {
        const char *name = g->params[p].name;
        if (!strcmp(name, "w")) continue;
        size_t n;
        float *x = rt_param(m, name, &n), *dx = rt_param_grad(m, name, &n);
        float *analytic = malloc(n * sizeof *analytic);
        memcpy(analytic, dx, n * sizeof *analytic);
        double worst = 0, scale = 1e-3;
        size_t worst_at = 0;
        for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(analytic[i]));
        size_t stride = n > 48 ? n / 48 : 1;
        for (size_t i = 0; i < n; i += stride) {
            float keep = x[i], h = 2e-3f * fmaxf(1.0f, fabsf(keep));
            x[i] = keep + h;
            double up = loss_of(m);
            x[i] = keep - h;
            double down = loss_of(m);
            x[i] = keep;
            double fd = (up - down) / (2.0 * (double)h);
            double e = fabs(fd - analytic[i]) / scale;
            if (e > worst || e != e) { worst = e; worst_at = i; }
        }
        CHECK_MSG(worst < 2e-2, "%s: d/d%s[%zu]: finite difference vs backward differ by %.3g of max |grad| %.3g",
                  c->name, name, worst_at, worst, scale);
        free(analytic);
    }
    rt_model_free(m);
}

/* The stop is the one op whose backward must disagree with finite
 * differences: check its gradient against the formula instead. */
TEST(stop_gradient_blocks_gradient)
{
    grad_case c = {"stop_gradient", 2, {3, 4}, 2, {3, 4}, -1, 1, b_stopgrad};
    char err[256];
    rt_model *m = build_case(&c, err, sizeof err);
    CHECK_MSG(m != NULL, "%s", err);
    if (!m) return;
    rt_forward(m, NULL, NULL);
    rt_backward(m);
    size_t n;
    const float *a = rt_param(m, "a", &n), *da = rt_param_grad(m, "a", &n), *w = rt_param(m, "w", &n);
    const float *b = rt_param(m, "b", &n), *db = rt_param_grad(m, "b", &n);
    for (size_t i = 0; i < n; i++) {
        CHECK_NEAR(da[i], 2.0f * a[i] * w[i], 1e-5);   /* no b * w term through the stop */
        CHECK_NEAR(db[i], a[i] * w[i], 1e-5);
    }
    (void)b;
    rt_model_free(m);
}

TEST(every_op_gradient)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

/* Parameter init ranges must be honoured for the cases above to be valid. */
TEST(uniform_init_in_range)
{
    char err[256];
    rt_model *m = build_case(&cases[8], err, sizeof err);   /* sqrt: [0.5, 2] */
    CHECK(m != NULL);
    if (!m) return;
    size_t n;
    float *a = rt_param(m, "a", &n);
    for (size_t i = 0; i < n; i++) CHECK(a[i] >= 0.5f && a[i] <= 2.0f);
    rt_model_free(m);
}

int main(void)
{
    RUN(uniform_init_in_range);
    RUN(every_op_gradient);
    RUN(stop_gradient_blocks_gradient);
    return test_summary();
}
