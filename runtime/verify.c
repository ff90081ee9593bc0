/*
 * verify.c — deterministic checks of a built architecture before any
 * training (DESIGN §6, "Verification before training"). No language model
 * is involved: each check runs the graph or compares graphs.
 *
 *   verify/derivative         custom pointwise derivatives vs finite differences
 *   verify/causality          changing a later token never moves an earlier output
 *   verify/batch-independence changing one sequence never moves another
 *   verify/quadratic-tensor   no intermediate has two axes that grow with T
 *   verify/complexity         FLOPs at 2T <= 2.1 x FLOPs at T; same graph at any T
 *   verify/param-budget       parameters <= ratio x the DeltaNet reference
 *
 * Causality and batch independence compare outputs for exact equality: the
 * kernels compute each output row from its own inputs in a fixed order, so a
 * correct mixer changes earlier outputs by exactly nothing, and any leak, however
 * small, is caught.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "rt_internal.h"

void rt_verify_defaults(rt_verify_opts *o)
{
    memset(o, 0, sizeof *o);
    o->param_budget = 1.5;
    o->flops_ratio_limit = 2.1;
    o->seed = 1234;
}

static aa_report *fail(aa_reports *out, const rt_arch *arch, int line, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static aa_report *fail(aa_reports *out, const rt_arch *arch, int line, const char *rule, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return aa_report_add(out, "verify", arch->source_file, line, 0, rule, "%s", msg);
}

ir_graph *rt_build_reporting(const ir_dims *dims, const rt_arch *arch, aa_reports *out)
{
    ir_error e;
    char err[512];
    memset(&e, 0, sizeof e);
    ir_graph *g = rt_build_detailed(dims, arch, &e, err, sizeof err);
    if (!g) {
        char rule[64];
        snprintf(rule, sizeof rule, "build/%s", e.op[0] ? e.op : "graph");
        aa_report_add(out, "build", arch->source_file, e.line, 0, rule, "%s", e.message);
    }
    return g;
}

static ir_graph *build(const ir_dims *dims, const rt_arch *arch, aa_reports *out)
{
    return rt_build_reporting(dims, arch, out);
}

/* ---- custom pointwise derivatives ----------------------------------------------------- */

typedef float (*f1)(float);
typedef float (*f2)(float, float);
typedef float (*f3)(float, float, float);
typedef float (*f4)(float, float, float, float);

static float call(void *fn, int n, const float *x)
{
    switch (n) {
    case 1: return ((f1)fn)(x[0]);
    case 2: return ((f2)fn)(x[0], x[1]);
    case 3: return ((f3)fn)(x[0], x[1], x[2]);
    default: return ((f4)fn)(x[0], x[1], x[2], x[3]);
    }
}

/* Compare each NAME_dI with central differences of NAME at points drawn from
 * U(-3, 3); points where NAME is not finite (outside its domain) are skipped. */
static int check_derivatives(const ir_graph *g, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out)
{
    int bad = 0;
    for (int k = 0; k < g->n_pointwise; k++) {
        const ir_pointwise *p = &g->pointwise[k];
        uint64_t rng = o->seed + (uint64_t)k;
        double worst = 0;
        float worst_x[4] = {0}, worst_got = 0, worst_fd = 0;
        int worst_arg = 0, usable = 0;
        for (int s = 0; s < 64; s++) {
            float x[4];
            for (int a = 0; a < p->nargs; a++) x[a] = -3.0f + 6.0f * dt_rand_uniform(&rng);
            if (!isfinite(call(p->fn, p->nargs, x))) continue;
            usable++;
            for (int a = 0; a < p->nargs; a++) {
                float h = 1e-2f * fmaxf(1.0f, fabsf(x[a])), keep = x[a];
                x[a] = keep + h;
                double up = call(p->fn, p->nargs, x);
                x[a] = keep - h;
                double down = call(p->fn, p->nargs, x);
                x[a] = keep;
                double fd = (up - down) / (2.0 * h), got = call(p->deriv[a], p->nargs, x);
                if (!isfinite(fd)) continue;
                double err = fabs(got - fd) / fmax(1.0, fabs(fd));
                if (!(err <= worst)) {
                    worst = isfinite(err) ? err : INFINITY;
                    memcpy(worst_x, x, sizeof worst_x);
                    worst_got = (float)got;
                    worst_fd = (float)fd;
                    worst_arg = a;
                }
            }
        }
        if (usable == 0) {
            fail(out, arch, 0, "verify/derivative", "%s returned NaN or Inf at all 64 sample points in [-3, 3]",
                 p->name);
            bad++;
        } else if (worst > 2e-2) {
            char at[96] = "";
            for (int a = 0, o2 = 0; a < p->nargs; a++)
                o2 += snprintf(at + o2, sizeof at - (size_t)o2, "%s%g", a ? ", " : "", (double)worst_x[a]);
            fail(out, arch, 0, "verify/derivative",
                 "%s_d%d(%s) returns %g but finite differences of %s give %g (relative error %.2g, limit 0.02); "
                 "fix the derivative", p->name, worst_arg, at, (double)worst_got, p->name, (double)worst_fd, worst);
            bad++;
        }
    }
    return bad;
}

/* ---- causality and batch independence ------------------------------------------------------ */

static void random_tokens(int32_t *tok, size_t n, int vocab, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) tok[i] = (int32_t)(dt_rand_u64(rng) % (uint64_t)vocab);
}

/* Largest |a - b| over positions [t0, t1) of sequence b of [B,T,V] logits. */
static double max_change(const float *a, const float *b, const ir_dims *d, int seq, int t0, int t1, int *at)
{
    double worst = 0;
    for (int t = t0; t < t1; t++) {
        const float *x = a + ((size_t)seq * d->time + t) * d->vocab, *y = b + ((size_t)seq * d->time + t) * d->vocab;
        for (int v = 0; v < d->vocab; v++) {
            double e = fabs((double)x[v] - y[v]);
            if (e > worst || e != e) {
                worst = e == e ? e : INFINITY;
                if (at) *at = t;
            }
        }
    }
    return worst;
}

static int check_information_flow(const ir_dims *base, const rt_arch *arch, const rt_verify_opts *o,
                                  aa_reports *out, rt_verify_info *info)
{
    /* A short chunk exercises the same chunk-boundary code as the real one
     * on a sequence a third as long: this check runs 7 forward passes. */
    ir_dims d = *base;
    d.batch = 2;
    d.chunk = base->chunk < 16 ? base->chunk : 16;
    d.time = 2 * d.chunk + 17;   /* crosses two chunk boundaries, ends mid-chunk */
    ir_graph *g = build(&d, arch, out);
    if (!g) return 1;
    char err[256];
    rt_model *m = rt_model_new(g, 0, err, sizeof err);
    if (!m) {
        ir_graph_free(g);
        fail(out, arch, 0, "verify/internal", "%s", err);
        return 1;
    }
    rt_model_init_params(m, o->seed);
    size_t bt = (size_t)d.batch * d.time, nl = bt * (size_t)d.vocab;
    int32_t *tok = malloc(bt * sizeof *tok), *tgt = malloc(bt * sizeof *tgt);
    float *ref = malloc(nl * sizeof *ref);
    uint64_t rng = o->seed;
    random_tokens(tok, bt, d.vocab, &rng);
    for (size_t i = 0; i < bt; i++) tgt[i] = -1;
    rt_forward(m, tok, tgt);
    memcpy(ref, rt_logits(m), nl * sizeof *ref);
    int bad = 0;
    /* Perturb single tokens of sequence 0; earlier outputs must not move. */
    int probes[] = {d.time - 1, d.time / 2, d.chunk, d.chunk - 1, 1};
    for (int i = 0; i < 5 && !bad; i++) {
        int p = probes[i], at = -1;
        int32_t keep = tok[p];
        tok[p] = (keep + 1 + (int32_t)(dt_rand_u64(&rng) % (uint64_t)(d.vocab - 1))) % d.vocab;
        rt_forward(m, tok, tgt);
        double moved = max_change(ref, rt_logits(m), &d, 0, 0, p, &at);
        tok[p] = keep;
        info->causality_probes++;
        if (moved != 0.0) {
            fail(out, arch, 0, "verify/causality",
                 "changing the token at position %d moved the output at earlier position %d by %.3g (must be "
                 "exactly 0): the mixer lets later tokens influence earlier outputs (look for slices that bring "
                 "later positions earlier, reversals, non-causal convolutions, or sums and means over the time "
                 "axis)",
                 p, at, moved);
            bad++;
        }
    }
    /* Change all of sequence 1; sequence 0 must not move at all. */
    random_tokens(tok + d.time, (size_t)d.time, d.vocab, &rng);
    rt_forward(m, tok, tgt);
    int at = -1;
    double moved = max_change(ref, rt_logits(m), &d, 0, 0, d.time, &at);
    if (moved != 0.0) {
        fail(out, arch, 0, "verify/batch-independence",
             "changing sequence 1 of the batch moved sequence 0 at position %d by %.3g (must be exactly 0): "
             "something mixes across the batch axis (a reduction or reshape over axis 0)", at, moved);
        bad++;
    }
    free(tok);
    free(tgt);
    free(ref);
    rt_model_free(m);
    return bad;
}

/* ---- complexity ------------------------------------------------------------------------------- */

/* Axes of node n that grow with the sequence: exactly 2x between the
 * graphs built at T and 2T, and longer than the chunk at 2T. */
static int growing_axes(const ir_node *a, const ir_node *b, int chunk)
{
    int count = 0;
    for (int i = 0; i < a->rank; i++)
        if (b->shape[i] == 2 * a->shape[i] && b->shape[i] > chunk) count++;
    return count;
}

static int check_complexity(const ir_dims *base, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
                            rt_verify_info *info)
{
    ir_dims d1 = *base, d2 = *base;
    d1.batch = d2.batch = 1;
    d1.time = 2 * base->chunk;
    d2.time = 4 * base->chunk;
    ir_graph *g1 = build(&d1, arch, out), *g2 = g1 ? build(&d2, arch, out) : NULL;
    int bad = 0;
    if (!g1 || !g2) {
        bad = 1;
    } else if (g1->n_nodes != g2->n_nodes) {
        fail(out, arch, 0, "verify/complexity",
             "the graph has %d ops at T=%d but %d at T=%d: its structure must not depend on the sequence length "
             "(do not loop over aa_dim(l, AA_TIME))", g1->n_nodes - 1, d1.time, g2->n_nodes - 1, d2.time);
        bad = 1;
    } else {
        for (int i = 1; i < g1->n_nodes && !bad; i++) {
            const ir_node *a = &g1->nodes[i], *b = &g2->nodes[i];
            if (growing_axes(a, b, base->chunk) >= 2) {
                char shape[64];
                ir_shape_str(b, shape, sizeof shape);
                fail(out, arch, b->line, "verify/quadratic-tensor",
                     "%s makes a tensor with two axes that grow with the sequence (shape %s at T=%d): that is "
                     "quadratic in the sequence length; keep T x T products inside aa_linattn's chunks",
                     ir_op_name(b), shape, d2.time);
                bad = 1;
            }
        }
        info->flops_ratio = ir_flops_forward(g2) / ir_flops_forward(g1);
        if (!bad && info->flops_ratio > o->flops_ratio_limit) {
            fail(out, arch, 0, "verify/complexity",
                 "forward FLOPs grow %.2fx when the sequence doubles from %d to %d (limit %.2fx): the mixer is "
                 "not sub-quadratic", info->flops_ratio, d1.time, d2.time, o->flops_ratio_limit);
            bad = 1;
        }
    }
    ir_graph_free(g1);
    ir_graph_free(g2);
    return bad;
}

/* ---- parameter budget ---------------------------------------------------------------------------- */

static int check_budget(const ir_graph *g, const ir_dims *d, const rt_arch *arch, const rt_verify_opts *o,
                        aa_reports *out, rt_verify_info *info)
{
    const arch_ref *ref = arch_find("delta_net");
    char err[256];
    ir_graph *base = rt_build(d, ref->mixer, ref->file, err, sizeof err);
    if (!base) return 0;
    info->baseline_params = ir_param_count(base);
    ir_graph_free(base);
    info->param_ratio = (double)info->params / (double)info->baseline_params;
    if (o->param_budget > 0 && info->param_ratio > o->param_budget) {
        fail(out, arch, 0, "verify/param-budget",
             "%ld parameters, %.2fx the DeltaNet reference's %ld at this scale (limit %.2fx): use fewer or "
             "smaller projections", info->params, info->param_ratio, info->baseline_params, o->param_budget);
        return 1;
    }
    (void)g;
    return 0;
}

int rt_verify(const rt_config *cfg, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
              rt_verify_info *info)
{
    memset(info, 0, sizeof *info);
    ir_graph *g = build(&cfg->dims, arch, out);
    if (!g) return 1;
    info->params = ir_param_count(g);
    info->graph_hash = ir_structural_hash(g);
    int bad = check_derivatives(g, arch, o, out);
    bad += check_budget(g, &cfg->dims, arch, o, out, info);
    ir_graph_free(g);
    if (bad) return bad;   /* no point running a model whose pieces are wrong */
    bad += check_complexity(&cfg->dims, arch, o, out, info);
    bad += check_information_flow(&cfg->dims, arch, o, out, info);
    return bad;
}
