/*
 * test_verify.c — verification before training: every reference passes;
 * mixers that leak the future, mix the batch, build quadratic tensors, blow
 * the parameter budget, change structure with T, or ship a wrong derivative
 * are rejected with the right check, the measured value and the limit.
 *
 * The mixers here are compiled natively (the checks act on the built graph,
 * wherever the code came from); custom pointwise functions are resolved by
 * name through a test resolver, as the JIT resolves them for a candidate.
 */
#include <stdlib.h>

#include "arch.h"
#include "runtime.h"
#include "test.h"

static rt_config cfg;

static int verify(rt_mixer_fn f, const char *name, aa_reports *reps, rt_verify_info *info, ir_resolver res)
{
    rt_verify_opts o;
    rt_verify_defaults(&o);
    rt_arch arch = {.name = name, .source_file = name, .mixer = f, .resolve = res};
    return rt_verify(&cfg, &arch, &o, reps, info);
}

static int has_rule(const aa_reports *r, const char *rule)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->items[i].rule, rule)) return 1;
    return 0;
}

/* A simple causal base to corrupt: linear attention over heads. */
static aa_t base(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_l2norm(aa_split_heads(aa_linear(l, "q", x, d), h));
    aa_t k = aa_l2norm(aa_split_heads(aa_linear(l, "k", x, d), h));
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    return aa_merge_heads(aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, 0));
}

/* Looks one token ahead: x[t+1] mixed into y[t]. */
static aa_t leak_future(aa_layer *l, aa_t x)
{
    int t = aa_dim(l, AA_TIME);
    aa_t ahead = aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t);
    return aa_linear(l, "o", aa_add(base(l, x), ahead), aa_dim(l, AA_MODEL));
}

/* Adds the mean over time: every position sees the whole sequence. */
static aa_t leak_mean(aa_layer *l, aa_t x)
{
    return aa_add(base(l, x), aa_expand_as(aa_mean(x, 1), x));
}

/* Mixes sequences of the batch. */
static aa_t leak_batch(aa_layer *l, aa_t x)
{
    return aa_add(base(l, x), aa_expand_as(aa_mean(x, 0), x));
}

/* Softmax attention: a [B,H,T,T] score tensor. */
static aa_t quadratic(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_split_heads(aa_linear(l, "q", x, d), h), k = aa_split_heads(aa_linear(l, "k", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    aa_t s = aa_tril(aa_matmul(q, k, 0, 1), 0);
    return aa_merge_heads(aa_matmul(s, v, 0, 0));
}

static aa_t too_big(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    return aa_linear(l, "down", aa_silu(aa_linear(l, "up", x, 16 * d)), d);
}

/* One extra op per 64 tokens: the graph depends on T. */
static aa_t time_dependent(aa_layer *l, aa_t x)
{
    aa_t y = base(l, x);
    for (int i = 0; i < aa_dim(l, AA_TIME) / 64; i++) y = aa_scale(y, 0.99f);
    return y;
}

/* ---- forgeries through the sizes a graph is built at ------------------------------- */

static void expect_rejected(rt_mixer_fn f, const char *file, ir_resolver res, const char *rule, const char *needle);

/* Reads t+1 at exactly the training batch (8), and is causal at any other. */
static aa_t forge_batch_ops(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    aa_t y = aa_linear(l, "o", x, d);
    if (aa_dim(l, AA_BATCH) == 8) return aa_add(y, aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t));
    return aa_add(y, x);
}
enum { FORGE_BATCH_OPS_LINE = __LINE__ - 3 };

/* The same ops at every size; the slice start moves at the training batch. */
static aa_t forge_batch_attr(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    int s = aa_size(x, 0) >= 8 ? 1 : 0;
    return aa_add(aa_linear(l, "o", x, d), aa_slice(aa_pad(x, 1, 1, 1), 1, 1 + s, t));
}

/* A size that is not arithmetic in T: the window jumps at T == 128. */
static aa_t forge_time_window(aa_layer *l, aa_t x)
{
    int t = aa_dim(l, AA_TIME), w = t == 128 ? 2 : 1;
    aa_t y = aa_linear(l, "o", x, aa_dim(l, AA_MODEL));
    return aa_add(y, aa_slice(aa_pad(y, 1, w, 0), 1, 0, t));
}
enum { FORGE_TIME_WINDOW_LINE = __LINE__ - 2 };

/* Softmax attention only at the MQAR probe's length (32): recall for free. */
static aa_t forge_mqar_quadratic(aa_layer *l, aa_t x)
{
    if (aa_dim(l, AA_TIME) == 32) return quadratic(l, x);
    return base(l, x);
}

/* A leak behind a zero-initialised projection: invisible at the initial
 * weights, open as soon as training moves them. */
static aa_t forge_zero_init(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), t = aa_dim(l, AA_TIME);
    aa_t ahead = aa_slice(aa_pad(x, 1, 0, 1), 1, 1, t);
    return aa_add(base(l, x), aa_linear_ex(l, "peek", ahead, d, 0, AA_INIT_ZEROS));
}

/* One position reads one later position: 101 -> 100 only. */
static aa_t narrow_leak(aa_layer *l, aa_t x)
{
    int t = aa_dim(l, AA_TIME);
    aa_t one = aa_slice(x, 1, 101, 1);
    aa_t moved = aa_concat(aa_concat(aa_slice(aa_scale(x, 0.0f), 1, 0, 100), one, 1),
                           aa_slice(aa_scale(x, 0.0f), 1, 101, t - 101), 1);
    return aa_add(base(l, x), moved);
}

/* A router whose weights reach the loss only through an aux loss behind
 * a stop-gradient: nothing would ever train them. */
static aa_t unused_router(aa_layer *l, aa_t x)
{
    aa_t r = aa_linear(l, "router", x, 4);
    aa_aux_loss(l, aa_stop_gradient(aa_square(r)), 0.01f);
    return base(l, x);
}
enum { UNUSED_ROUTER_LINE = __LINE__ - 4 };

/* NaN from the start: log of negative numbers. */
static aa_t makes_nan(aa_layer *l, aa_t x) { return aa_log(aa_add_scalar(aa_square(base(l, x)), -1e6f)); }

TEST(size_forgeries_are_caught)
{
    aa_reports r = {0};
    rt_verify_info info;
    CHECK(verify(forge_batch_ops, "forge_batch_ops.c", &r, &info, NULL) > 0);
    CHECK(has_rule(&r, "verify/size-dependent"));
    CHECK_MSG(r.n > 0 && r.items[0].line == FORGE_BATCH_OPS_LINE, "line %d", r.n ? r.items[0].line : -1);
    aa_reports_free(&r);
    /* same ops everywhere, so the exact-size causality check must see it */
    expect_rejected(forge_batch_attr, "forge_batch_attr.c", NULL, "verify/causality", "batch 8, time 128");
    r = (aa_reports){0};
    CHECK(verify(forge_time_window, "forge_time_window.c", &r, &info, NULL) > 0);
    CHECK(has_rule(&r, "verify/size-dependent"));
    CHECK_MSG(r.n > 0 && r.items[0].line == FORGE_TIME_WINDOW_LINE, "line %d", r.n ? r.items[0].line : -1);
    aa_reports_free(&r);
    expect_rejected(forge_mqar_quadratic, "forge_mqar.c", NULL, "verify/size-dependent", "MQAR");
    expect_rejected(forge_zero_init, "forge_zero_init.c", NULL, "verify/causality", NULL);
    expect_rejected(makes_nan, "nan.c", NULL, "verify/non-finite", "NaN");
}

TEST(parameters_without_gradient_are_reported)
{
    aa_reports r = {0};
    rt_verify_info info;
    CHECK(verify(unused_router, "unused.c", &r, &info, NULL) > 0);
    CHECK(r.n == 1 && !strcmp(r.items[0].rule, "verify/unused-parameter") && r.items[0].line == UNUSED_ROUTER_LINE);
    CHECK(r.n == 1 && strstr(r.items[0].message, "'layers.0.mixer.router.weight'"));
    aa_reports_free(&r);
    /* and the runtime trains such a model without faulting (nothing reads a gradient it lacks) */
    rt_arch arch = {.name = "unused", .source_file = "unused.c", .mixer = unused_router};
    char err[256];
    ir_graph *g = rt_build_arch(&cfg.dims, &arch, err, sizeof err);
    rt_model *m = g ? rt_model_new(g, 1, err, sizeof err) : NULL;
    CHECK(m != NULL);
    if (!m) return;
    rt_model_init_params(m, 1);
    size_t bt = (size_t)cfg.dims.batch * cfg.dims.time;
    int32_t *tok = calloc(bt, sizeof *tok);
    for (int s = 0; s < 2; s++) {
        CHECK(isfinite(rt_forward(m, tok, tok)));
        rt_backward(m);
        rt_adamw_step(m, &cfg, 1e-3f, s + 1);
    }
    free(tok);
    rt_model_free(m);
}

/* Enough passes test every position: a leak from one position into the
 * one before it is found wherever it is. */
TEST(every_position_is_tested)
{
    rt_arch arch = {.name = "narrow", .source_file = "narrow.c", .mixer = narrow_leak};
    char err[256];
    ir_graph *g = rt_build_arch(&cfg.dims, &arch, err, sizeof err);
    CHECK_MSG(g != NULL, "%s", err);
    if (!g) return;
    rt_model *m = rt_model_new(g, 0, err, sizeof err);
    rt_model_init_params(m, 1);
    aa_reports r = {0};
    int probes = 0;
    rt_flow_opts fo = {.seed = 7, .rounds = RT_FLOW_ROUNDS_AFTER, .what = "the test model"};
    CHECK(rt_check_flow(m, &fo, "narrow.c", &r, &probes) == 1);
    CHECK(has_rule(&r, "verify/causality"));
    CHECK_MSG(r.n > 0 && strstr(r.items[0].message, "position 101 on moved the output at earlier position 100"),
              "%s", r.n ? r.items[0].message : "");
    aa_reports_free(&r);
    rt_model_free(m);
}

/* Custom pointwise functions, as a candidate would define them. */
static float softcap(float x) { return 4.0f * tanhf(x / 4.0f); }
static float softcap_d0(float x) { float t = tanhf(x / 4.0f); return 1.0f - t * t; }
static float wrong_d0(float x) { return 1.0f + 0.0f * x; }
static float mix2(float a, float b) { return a * b + b; }
static float mix2_d0(float a, float b) { (void)a; return b; }
static float mix2_d1(float a, float b) { (void)b; return a + 1.0f; }

/* tan has poles at +-pi/2, inside the sampled range: its correct derivative
 * must pass although central differences are poor next to a pole. */
static float tan_fn(float x) { return tanf(x); }
static float tan_d0(float x) { float t = tanf(x); return 1.0f + t * t; }
static float tan_wrong_d0(float x) { float t = tanf(x); return 1.0f + t * t + 0.2f * cosf(x); }

static void *resolver(void *ctx, const char *name, int nargs)
{
    (void)ctx;
    (void)nargs;
    if (!strcmp(name, "pole")) return (void *)tan_fn;
    if (!strcmp(name, "pole_d0")) return (void *)tan_d0;
    if (!strcmp(name, "badpole")) return (void *)tan_fn;
    if (!strcmp(name, "badpole_d0")) return (void *)tan_wrong_d0;
    if (!strcmp(name, "softcap")) return (void *)softcap;
    if (!strcmp(name, "softcap_d0")) return (void *)softcap_d0;
    if (!strcmp(name, "badcap")) return (void *)softcap;
    if (!strcmp(name, "badcap_d0")) return (void *)wrong_d0;
    if (!strcmp(name, "mix2")) return (void *)mix2;
    if (!strcmp(name, "mix2_d0")) return (void *)mix2_d0;
    if (!strcmp(name, "mix2_d1")) return (void *)mix2_d1;
    return NULL;
}

static aa_t with_softcap(aa_layer *l, aa_t x)
{
    aa_t y = base(l, x);
    return aa_pointwise2("mix2", aa_pointwise1("softcap", y), y);
}

static aa_t with_badcap(aa_layer *l, aa_t x) { return aa_pointwise1("badcap", base(l, x)); }
static aa_t with_pole(aa_layer *l, aa_t x) { return aa_pointwise1("pole", aa_scale(base(l, x), 0.1f)); }
static aa_t with_badpole(aa_layer *l, aa_t x) { return aa_pointwise1("badpole", aa_scale(base(l, x), 0.1f)); }
static aa_t with_missing(aa_layer *l, aa_t x) { return aa_pointwise1("nosuch", base(l, x)); }

TEST(every_reference_verifies)
{
    int n;
    const arch_ref *refs = arch_all(&n);
    for (int i = 0; i < n; i++) {
        aa_reports r = {0};
        rt_verify_info info;
        int bad = verify(refs[i].mixer, refs[i].name, &r, &info, NULL);
        CHECK_MSG(bad == 0, "%s: %s: %s", refs[i].name, r.n ? r.items[0].rule : "", r.n ? r.items[0].message : "");
        if (!bad) {
            /* the training size (4 passes x 8 sequences) and MQAR's (all 31 cuts in one pass of 64) */
            CHECK_MSG(info.graphs == 2 && info.causality_probes == 4 * 8 + 31, "%d graphs, %d probes", info.graphs,
                      info.causality_probes);
            CHECK(info.flops_ratio > 1.5 && info.flops_ratio <= 2.1);
        }
        aa_reports_free(&r);
    }
}

/* Verify f; it must fail with `rule`, and the first report must contain
 * `needle` (when given). */
static void expect_rejected(rt_mixer_fn f, const char *file, ir_resolver res, const char *rule, const char *needle)
{
    aa_reports r = {0};
    rt_verify_info info;
    CHECK_MSG(verify(f, file, &r, &info, res) > 0, "%s was verified", file);
    CHECK_MSG(has_rule(&r, rule), "%s: no %s report", file, rule);
    if (needle) CHECK_MSG(r.n > 0 && strstr(r.items[0].message, needle), "%s: no \"%s\"", file, needle);
    aa_reports_free(&r);
}

TEST(future_leaks_are_caught)
{
    expect_rejected(leak_future, "leak_future.c", NULL, "verify/causality", "must be exactly 0");
    expect_rejected(leak_mean, "leak_mean.c", NULL, "verify/causality", NULL);
}

TEST(batch_mixing_is_caught)
{
    aa_reports r = {0};
    rt_verify_info info;
    CHECK(verify(leak_batch, "leak_batch.c", &r, &info, NULL) > 0);
    CHECK(has_rule(&r, "verify/batch-independence"));
    CHECK(!has_rule(&r, "verify/causality"));
    aa_reports_free(&r);
}

TEST(quadratic_mixers_are_caught)
{
    aa_reports r = {0};
    rt_verify_info info;
    CHECK(verify(quadratic, "quadratic.c", &r, &info, NULL) > 0);
    CHECK(has_rule(&r, "verify/quadratic-tensor"));
    CHECK(r.n > 0 && r.items[0].line > 0);   /* points at the matmul's line */
    aa_reports_free(&r);
    expect_rejected(time_dependent, "time.c", NULL, "verify/size-dependent", "time 256");
}

TEST(parameter_budget)
{
    expect_rejected(too_big, "big.c", NULL, "verify/param-budget", "limit 1.50x");
}

TEST(custom_pointwise_derivatives)
{
    aa_reports r = {0};
    rt_verify_info info;
    int bad = verify(with_softcap, "softcap.c", &r, &info, resolver);
    CHECK_MSG(bad == 0, "%s", r.n ? r.items[0].message : "");
    aa_reports_free(&r);
    expect_rejected(with_badcap, "badcap.c", resolver, "verify/derivative", "badcap_d0(");
    /* near a pole: the correct derivative passes, a wrong one (off where tan is smooth) does not */
    bad = verify(with_pole, "pole.c", &r, &info, resolver);
    CHECK_MSG(bad == 0, "%s", r.n ? r.items[0].message : "");
    aa_reports_free(&r);
    expect_rejected(with_badpole, "badpole.c", resolver, "verify/derivative", "badpole_d0(");
    expect_rejected(with_missing, "missing.c", resolver, "build/aa_pointwise", "float nosuch(float)");
}

/* A custom op trains: its gradient flows through the derivative functions. */
TEST(custom_pointwise_trains)
{
    rt_arch arch = {.name = "softcap", .source_file = "softcap.c", .mixer = with_softcap, .resolve = resolver};
    char err[256];
    ir_graph *g = rt_build_arch(&cfg.dims, &arch, err, sizeof err);
    CHECK_MSG(g != NULL, "%s", err);
    if (!g) return;
    rt_model *m = rt_model_new(g, 1, err, sizeof err);
    rt_model_init_params(m, 3);
    size_t bt = (size_t)cfg.dims.batch * cfg.dims.time;
    int32_t *tok = malloc(bt * sizeof *tok), *tgt = malloc(bt * sizeof *tgt);
    for (size_t i = 0; i < bt; i++) { tok[i] = (int32_t)(i * 7 % 256); tgt[i] = (int32_t)(i * 7 % 256); }
    float first = rt_forward(m, tok, tgt), last = first;
    for (int s = 0; s < 20; s++) {
        rt_backward(m);
        rt_adamw_step(m, &cfg, 3e-3f, s + 1);
        last = rt_forward(m, tok, tgt);
    }
    CHECK_MSG(last < first - 0.5f, "loss %.3f -> %.3f", first, last);
    free(tok);
    free(tgt);
    rt_model_free(m);
}

int main(void)
{
    char err[256];
    rt_config_scale("tiny", &cfg, err, sizeof err);
    RUN(every_reference_verifies);
    RUN(future_leaks_are_caught);
    RUN(batch_mixing_is_caught);
    RUN(quadratic_mixers_are_caught);
    RUN(size_forgeries_are_caught);
    RUN(every_position_is_tested);
    RUN(parameters_without_gradient_are_reported);
    RUN(parameter_budget);
    RUN(custom_pointwise_derivatives);
    RUN(custom_pointwise_trains);
    return test_summary();
}
