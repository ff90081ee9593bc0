/*
 * verify.c — deterministic checks of a built architecture before any
 * training (ARCHITECTURE §6, "Verification before training"). No language model
 * is involved: each check runs the graph or compares graphs.
 *
 *   verify/derivative         custom pointwise derivatives vs finite differences
 *   verify/param-budget       parameters <= ratio x the DeltaNet reference
 *   verify/unused-parameter   every parameter receives a gradient
 *   verify/size-dependent     the same graph at every size (sizes.c)
 *   verify/quadratic-tensor   no intermediate has two axes that grow with T
 *   verify/complexity         FLOPs at 2T <= 2.1 x FLOPs at T
 *   verify/causality          changing later tokens never moves an earlier
 *                             output, at the exact sizes of training,
 *                             evaluation and the MQAR probe (flow.c)
 *   verify/batch-independence changing one sequence never moves another
 *   verify/non-finite         the outputs are finite to begin with
 *
 * The same flow check runs again on every trained model (rt_train,
 * rt_evaluate_stream): the score comes from that model, at those sizes.
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
    o->flow_rounds = RT_FLOW_ROUNDS_BEFORE;
}

aa_report *rt_verify_fail(aa_reports *out, const rt_arch *arch, int line, const char *rule, const char *fmt, ...)
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

/* Compare each NAME_dI with central differences of NAME at 64 points drawn
 * from U(-3, 3) per argument (the range README and the researcher's prompt
 * state); points where NAME is not finite (outside its domain) are skipped.
 * A central difference is itself inaccurate where NAME curves sharply (near
 * a pole or a kink): the difference at step h is compared with the one at
 * h/2, and their gap, the estimate's own error, widens the tolerance there,
 * so a correct derivative near a pole is not called wrong while a wrong one
 * where NAME is smooth still is. The reference value is the Richardson
 * extrapolation of the two. */
static double central_difference(const ir_pointwise *p, float *x, int a, float h)
{
    float keep = x[a];
    x[a] = keep + h;
    double up = call(p->fn, p->nargs, x);
    x[a] = keep - h;
    double down = call(p->fn, p->nargs, x);
    x[a] = keep;
    return (up - down) / (2.0 * (double)h);
}

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
                float h = 1e-2f * fmaxf(1.0f, fabsf(x[a]));
                double fd1 = central_difference(p, x, a, h), fd2 = central_difference(p, x, a, h / 2);
                double got = call(p->deriv[a], p->nargs, x);
                if (!isfinite(fd1) || !isfinite(fd2)) continue;
                double fd = (4 * fd2 - fd1) / 3;   /* Richardson: the h^2 error term cancels */
                double err = fmax(0.0, fabs(got - fd) - 4 * fabs(fd2 - fd1)) / fmax(1.0, fabs(fd));
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
            rt_verify_fail(out, arch, 0, "verify/derivative", "%s returned NaN or Inf at all 64 sample points in [-3, 3]",
                 p->name);
            bad++;
        } else if (worst > 2e-2) {
            char at[96] = "";
            for (int a = 0, o2 = 0; a < p->nargs; a++)
                o2 += snprintf(at + o2, sizeof at - (size_t)o2, "%s%g", a ? ", " : "", (double)worst_x[a]);
            rt_verify_fail(out, arch, 0, "verify/derivative",
                 "%s_d%d(%s) returns %g but finite differences of %s give %g (relative error %.2g, limit 0.02); "
                 "fix the derivative", p->name, worst_arg, at, (double)worst_got, p->name, (double)worst_fd, worst);
            bad++;
        }
    }
    return bad;
}

/* ---- causality and batch independence, at the sizes that are used -------------------- */

/* The model of one graph that will be run, at its exact sizes, checked by
 * rt_check_flow: first with every parameter moved off its initial value
 * (so a leak behind a zero-initialised weight, or a threshold the initial
 * weights stay under, shows), then, if that made the outputs non-finite,
 * with the initial parameters. */
static int check_flow_at(const ir_dims *d, const char *what, const rt_arch *arch, const rt_verify_opts *o,
                         aa_reports *out, rt_verify_info *info)
{
    ir_graph *g = build(d, arch, out);
    if (!g) return 1;
    char err[256], label[160];
    rt_model *m = rt_model_new(g, 0, err, sizeof err);
    if (!m) {
        ir_graph_free(g);
        rt_verify_fail(out, arch, 0, "verify/internal", "%s", err);
        return 1;
    }
    snprintf(label, sizeof label, "at %s (batch %d, time %d)", what, d->batch, d->time);
    rt_flow_opts fo = {.seed = o->seed, .rounds = o->flow_rounds, .what = label};
    aa_reports first = {0};
    rt_model_init_params(m, o->seed);
    rt_model_perturb_params(m, o->seed + 1);
    int bad = rt_check_flow(m, &fo, arch->source_file, &first, &info->causality_probes);
    if (bad && first.n && !strcmp(first.items[0].rule, "verify/non-finite")) {
        rt_model_init_params(m, o->seed);
        bad = rt_check_flow(m, &fo, arch->source_file, out, &info->causality_probes);
    } else {
        for (int i = 0; i < first.n; i++) {
            aa_report *r = aa_report_add(out, "", "", 0, 0, "", "%s", "");
            if (r) *r = first.items[i];
        }
    }
    aa_reports_free(&first);
    rt_model_free(m);
    info->graphs++;
    return bad;
}

/* ---- parameters without a gradient ------------------------------------------------------- */

/* A parameter that no gradient reaches (unused, or used only behind
 * aa_stop_gradient) would never train: say so at the line that made it. */
static int check_unused_params(const ir_graph *g, const rt_arch *arch, aa_reports *out)
{
    unsigned char *reaches = calloc((size_t)g->n_nodes, 1);
    int bad = 0;
    if (!reaches) return 0;
    ir_gradient_reaches(g, reaches);
    int last_line = -1;
    for (int p = 0; p < g->n_params && bad < 5; p++) {
        const ir_param *par = &g->params[p];
        if (reaches[par->node] || g->nodes[par->node].line == last_line) continue;   /* once per line, not per layer */
        last_line = g->nodes[par->node].line;
        rt_verify_fail(out, arch, g->nodes[par->node].line, "verify/unused-parameter",
             "parameter '%s' never receives a gradient: it reaches the loss only through aa_stop_gradient, or not "
             "at all, so training would never change it; remove it, or let a path without aa_stop_gradient lead "
             "from it to the output or to an aa_aux_loss", par->name);
        bad++;
    }
    free(reaches);
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
        rt_verify_fail(out, arch, 0, "verify/param-budget",
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
    info->flops_per_token = 3.0 * ir_flops_forward(g) / ((double)cfg->dims.batch * cfg->dims.time);
    int bad = check_derivatives(g, arch, o, out);
    bad += check_unused_params(g, arch, out);
    bad += check_budget(g, &cfg->dims, arch, o, out, info);
    ir_graph_free(g);
    if (bad) return bad;   /* no point running a model whose pieces are wrong */
    bad = rt_check_sizes(cfg, arch, o, out, info);
    if (bad) return bad;
    bad = check_flow_at(&cfg->dims, "the training and evaluation size", arch, o, out, info);
    if (!bad && cfg->mqar_steps > 0) {
        ir_dims mq = cfg->dims;
        mq.batch = cfg->mqar_batch;
        mq.time = cfg->mqar_time;
        bad = check_flow_at(&mq, "the MQAR probe's size", arch, o, out, info);
    }
    return bad;
}
