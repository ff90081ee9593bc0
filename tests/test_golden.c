/*
 * test_golden.c — the whole model against a PyTorch reference, in the style
 * of llm.c's test_gpt2.c. tests/golden/make_golden.py computed, in float64,
 * the DeltaNet model's logits, loss, every parameter gradient and the losses
 * of ten AdamW steps from the weights stored in deltanet_tiny.bin; we load
 * the same weights by name and must agree to float32 accuracy.
 */
#include "golden/golden_io.h"
#include "arch.h"
#include "runtime.h"
#include "test.h"

static golden_file gf;
static rt_model *model;
static rt_config cfg;

static const golden_record *need(const char *name)
{
    const golden_record *r = golden_find(&gf, name);
    if (!r) fprintf(stderr, "fixture lacks record %s\n", name);
    return r;
}

static int setup(void)
{
    char err[512];
    if (golden_load(ASIARCH_SOURCE_DIR "/tests/golden/deltanet_tiny.bin", &gf, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    const int32_t *c = golden_i32(need("config"));
    const float *h = golden_f32(need("adamw"));
    if (!c || !h) return -1;
    rt_config_scale("tiny", &cfg, err, sizeof err);
    cfg.dims = (ir_dims){.vocab = c[0], .model = c[1], .heads = c[2], .layers = c[3], .batch = c[4], .time = c[5],
                         .mlp_hidden = c[6], .chunk = c[7]};
    cfg.lr = h[0];
    cfg.beta1 = h[1];
    cfg.beta2 = h[2];
    cfg.eps = h[3];
    cfg.weight_decay = h[4];
    cfg.clip = h[5];
    cfg.schedule = RT_SCHED_CONSTANT;
    cfg.warmup = 0;
    const arch_ref *ref = arch_find("delta_net");
    ir_graph *g = rt_build(&cfg.dims, ref->mixer, ref->file, err, sizeof err);
    if (!g) { fprintf(stderr, "%s\n", err); return -1; }
    model = rt_model_new(g, 1, err, sizeof err);
    return model ? 0 : -1;
}

TEST(every_parameter_loads_by_name)
{
    const ir_graph *g = rt_model_graph(model);
    int loaded = 0;
    for (int p = 0; p < g->n_params; p++) {
        const golden_record *r = golden_find(&gf, g->params[p].name);
        size_t n;
        float *dst = rt_param(model, g->params[p].name, &n);
        CHECK_MSG(r != NULL, "parameter %s is not in the fixture", g->params[p].name);
        if (!r) continue;
        CHECK_MSG((size_t)r->numel == n, "%s: fixture has %lld values, model %zu", g->params[p].name,
                  (long long)r->numel, n);
        if ((size_t)r->numel == n) { memcpy(dst, golden_f32(r), n * sizeof(float)); loaded++; }
    }
    CHECK(loaded == g->n_params);
    CHECK(loaded == 30);   /* 1 embedding + 2 layers x 14 + final norm */
}

TEST(logits_and_loss_match)
{
    const golden_record *lg = need("logits");
    float loss = rt_forward(model, golden_i32(need("tokens")), golden_i32(need("targets")));
    CHECK_NEAR(loss, golden_f32(need("loss"))[0], 1e-4);
    size_t at = 0;
    double err = test_max_rel_err(rt_logits(model), golden_f32(lg), (size_t)lg->numel, 1e-2, &at);
    CHECK_MSG(err < 1e-3, "logits: worst relative error %.3g at %zu", err, at);
}

TEST(every_gradient_matches)
{
    rt_backward(model);
    const ir_graph *g = rt_model_graph(model);
    for (int p = 0; p < g->n_params; p++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%s", g->params[p].name);
        const golden_record *r = need(key);
        size_t n;
        const float *grad = rt_param_grad(model, g->params[p].name, &n);
        if (!r || (size_t)r->numel != n) { CHECK(0); continue; }
        /* Relative to the tensor's scale: tiny entries carry float32 noise. */
        const float *want = golden_f32(r);
        double scale = 0, worst = 0;
        for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(grad[i] - want[i]) / (scale + 1e-12));
        CHECK_MSG(worst < 2e-3, "%s: worst error %.3g of the tensor's max |grad| %.3g", key, worst, scale);
    }
}

TEST(ten_adamw_steps_match)
{
    const golden_record *ls = need("losses");
    const int32_t *tok = golden_i32(need("tokens")), *tgt = golden_i32(need("targets"));
    for (int step = 0; step < 10; step++) {
        float loss = rt_forward(model, tok, tgt);
        CHECK_MSG(fabs(loss - golden_f32(ls)[step]) < 2e-4, "step %d: loss %.6f, PyTorch %.6f", step, loss,
                  golden_f32(ls)[step]);
        rt_backward(model);
        rt_adamw_step(model, &cfg, rt_lr_at(&cfg, step), step + 1);
    }
}

int main(void)
{
    if (setup() < 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(every_parameter_loads_by_name);
    RUN(logits_and_loss_match);
    RUN(every_gradient_matches);
    RUN(ten_adamw_steps_match);
    rt_model_free(model);
    golden_free(&gf);
    return test_summary();
}
