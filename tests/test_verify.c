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

/* Custom pointwise functions, as a candidate would define them. */
static float softcap(float x) { return 4.0f * tanhf(x / 4.0f); }
static float softcap_d0(float x) { float t = tanhf(x / 4.0f); return 1.0f - t * t; }
static float wrong_d0(float x) { return 1.0f + 0.0f * x; }
static float mix2(float a, float b) { return a * b + b; }
static float mix2_d0(float a, float b) { (void)a; return b; }
static float mix2_d1(float a, float b) { (void)b; return a + 1.0f; }

static void *resolver(void *ctx, const char *name)
{
    (void)ctx;
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
            CHECK(info.causality_probes == 5);
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
    expect_rejected(time_dependent, "time.c", NULL, "verify/complexity", NULL);
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
    RUN(parameter_budget);
    RUN(custom_pointwise_derivatives);
    RUN(custom_pointwise_trains);
    return test_summary();
}
