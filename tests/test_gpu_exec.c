/*
 * test_gpu_exec.c — whole models on the GPU executor against the CPU one.
 *
 * Every reference mixer, and a JIT-compiled candidate with a custom
 * pointwise op, is built twice from one graph recipe: once on the CPU, once
 * on the emulated device (gpu_emu.h: the real executor, launchers, kernel
 * sources and generated pointwise module, run on CPU fibers). Same
 * parameters, same batch: the losses, every parameter gradient and the
 * losses of the next AdamW steps must agree.
 *
 * Tolerance: both sides compute in float32 through about a hundred ops
 * whose sums run over at most a few thousand terms, in different orders;
 * the expected disagreement is ~1e-5 of each tensor's scale. 2e-3 of the
 * scale leaves room for that on any CPU and still fails on any wrong
 * kernel, whose errors are of the order of the values themselves.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "gpu_emu.h"
#include "jit.h"
#include "runtime.h"
#include "test.h"

#define TOL 2e-3

static gpu_dev *emu;

static rt_config small_config(void)
{
    rt_config cfg;
    char err[128];
    rt_config_scale("tiny", &cfg, err, sizeof err);
    cfg.dims.vocab = 64;
    cfg.dims.model = 32;
    cfg.dims.heads = 2;
    cfg.dims.layers = 1;
    cfg.dims.batch = 2;
    cfg.dims.time = 32;
    cfg.dims.chunk = 16;
    cfg.dims.mlp_hidden = rt_mlp_hidden(32);
    return cfg;
}

static rt_model *model_on(gpu_dev *d, const rt_config *cfg, const rt_arch *arch)
{
    char err[512];
    rt_set_device(d);
    ir_graph *g = rt_build_arch(&cfg->dims, arch, err, sizeof err);
    rt_model *m = g ? rt_model_new(g, 1, err, sizeof err) : NULL;
    rt_set_device(NULL);
    CHECK_MSG(m != NULL, "%s: %s", arch->name, err);
    if (m) rt_model_init_params(m, 7);
    return m;
}

/* max |a - b| over max |b| (normwise; 0 when both are zero). */
static double scaled_error(const float *a, const float *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > diff || d != d) diff = d;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return diff == 0 ? 0 : diff / (scale > 1e-30 ? scale : 1e-30);
}

static void batch(const rt_config *cfg, int32_t *tok, int32_t *tgt, int salt)
{
    size_t bt = (size_t)cfg->dims.batch * cfg->dims.time;
    for (size_t i = 0; i < bt; i++) {
        tok[i] = (int32_t)((i * 37 + (size_t)salt * 11 + i / 7) % (size_t)cfg->dims.vocab);
        tgt[i] = (int32_t)((i * 13 + (size_t)salt) % (size_t)cfg->dims.vocab);
    }
    tgt[3] = -1;   /* an ignored position */
}

static void compare(const rt_arch *arch)
{
    rt_config cfg = small_config();
    rt_model *cpu = model_on(NULL, &cfg, arch), *gpu = model_on(emu, &cfg, arch);
    if (!cpu || !gpu) goto done;
    int32_t tok[2 * 32], tgt[2 * 32];   /* batch x time of small_config */
    for (int step = 1; step <= 3; step++) {
        batch(&cfg, tok, tgt, step);
        float lc = rt_forward(cpu, tok, tgt), lg = rt_forward(gpu, tok, tgt);
        CHECK_MSG(fabs(lc - lg) <= TOL * fabs(lc), "%s step %d: loss CPU %.7g GPU %.7g (%s)", arch->name, step, lc, lg,
                  rt_input_error(gpu) ? rt_input_error(gpu) : "");
        CHECK_MSG(fabs(rt_xent(cpu) - rt_xent(gpu)) <= TOL * fabs(rt_xent(cpu)), "%s: cross-entropy", arch->name);
        rt_backward(cpu);
        rt_backward(gpu);
        const ir_graph *g = rt_model_graph(cpu);
        for (int p = 0; p < g->n_params && step == 1; p++) {
            size_t n = 0;
            const char *name = g->params[p].name;
            float *gc = rt_param_grad(cpu, name, &n);
            float *copy = malloc(n * sizeof *copy);
            memcpy(copy, gc, n * sizeof *copy);
            float *gg = rt_param_grad(gpu, name, &n);
            double e = gg ? scaled_error(gg, copy, n) : INFINITY;
            CHECK_MSG(e <= TOL, "%s: gradient of %s off by %.3g of its scale", arch->name, name, e);
            free(copy);
        }
        double nc = rt_adamw_step(cpu, &cfg, 1e-2f, step), ng = rt_adamw_step(gpu, &cfg, 1e-2f, step);
        CHECK_MSG(fabs(nc - ng) <= TOL * nc, "%s: gradient norm CPU %.7g GPU %.7g", arch->name, nc, ng);
    }
    /* The parameters come back to the host after training (checkpoints). */
    const ir_graph *g = rt_model_graph(cpu);
    size_t n = 0;
    const char *name = g->params[g->n_params - 1].name;
    float *pc = rt_param(cpu, name, &n);
    float *pg = rt_param(gpu, name, &n);
    CHECK_MSG(scaled_error(pg, pc, n) <= TOL, "%s: parameters after 3 steps", arch->name);
done:
    rt_model_free(cpu);
    rt_model_free(gpu);
}

TEST(every_reference_mixer_trains_the_same_on_both_devices)
{
    int n = 0;
    const arch_ref *refs = arch_all(&n);
    CHECK(n >= 9);
    for (int i = 0; i < n; i++) {
        rt_arch arch = {.name = refs[i].name, .source_file = refs[i].name, .mixer = refs[i].mixer};
        long before = gpu_emu_launches();
        compare(&arch);
        if (!gpu_test_is_real()) CHECK_MSG(gpu_emu_launches() > before + 50, "%s ran on the device", refs[i].name);
        printf("  %-20s CPU and emulated GPU agree\n", refs[i].name);
    }
}

/* A candidate's AA_SCALAR functions become device code: the same text,
 * compiled here for the emulated device. */
TEST(custom_pointwise_ops_run_from_the_candidates_source)
{
    const char *text = "#include <asiarch.h>\n"
                       "AA_NAME(\"softcap_mixer\");\n"
                       "AA_SCALAR float soft_cap(float x) { return 4.0f * tanhf(x / 4.0f); }\n"
                       "AA_SCALAR float soft_cap_d0(float x)\n"
                       "{\n"
                       "    float t = tanhf(x / 4.0f);\n"
                       "    return 1.0f - t * t;\n"
                       "}\n"
                       "AA_SCALAR float blend(float a, float b) { return a * b + 0.5f * a; }\n"
                       "AA_SCALAR float blend_d0(float a, float b) { return b + 0.5f; }\n"
                       "AA_SCALAR float blend_d1(float a, float b) { return a; }\n"
                       "aa_t mixer(aa_layer *l, aa_t x)\n"
                       "{\n"
                       "    aa_t v = aa_linear(l, \"v\", x, aa_dim(l, AA_MODEL));\n"
                       "    aa_t g = aa_pointwise1(\"soft_cap\", aa_linear(l, \"g\", x, aa_dim(l, AA_MODEL)));\n"
                       "    return aa_linear(l, \"o\", aa_pointwise2(\"blend\", v, g), aa_dim(l, AA_MODEL));\n"
                       "}\n";
    jit_source src;
    aa_reports reps = {0};
    jit_source_from_string("softcap.c", text, &src);
    jit_compile_opts o;
    jit_compile_defaults(&o);
    o.use_cache = 0;
    jit_bitcode bc;
    jit_module *mod = NULL;
    if (jit_compile(&src, &o, &bc, &reps) == 0) {
        mod = jit_load(&bc, &src, &reps);
        jit_bitcode_free(&bc);
    }
    CHECK_MSG(mod != NULL, "%s", reps.n ? reps.items[0].message : "");
    if (mod) {
        rt_arch arch = {.name = "softcap", .source_file = "softcap.c", .mixer = jit_mixer(mod),
                        .resolve = jit_resolve_scalar, .resolve_ctx = mod, .source_text = src.text};
        compare(&arch);
        jit_unload(mod);
    }
    jit_source_free(&src);
    aa_reports_free(&reps);
}

int main(void)
{
    emu = gpu_test_open();
    RUN(every_reference_mixer_trains_the_same_on_both_devices);
    RUN(custom_pointwise_ops_run_from_the_candidates_source);
    gpu_close(emu);
    return test_summary();
}
