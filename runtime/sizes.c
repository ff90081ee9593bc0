/*
 * sizes.c — one mixer, one graph: the structure a mixer builds must not
 * depend on the sizes it is built at, and the sizes inside it must follow
 * the batch and the sequence length as plain arithmetic does.
 *
 * A mixer may read aa_dim(l, AA_BATCH), AA_TIME, AA_CHUNK and aa_size(),
 * and it needs them to shape tensors (aa_reshape4(x, b, t, h, d)). It could
 * also branch on them, and build a causal graph at the sizes verification
 * uses and a leaking one at the sizes training uses. flow.c checks the
 * graphs that are trained and probed at their exact sizes; this file makes
 * that the whole story and gives the repair loop the line to fix:
 *
 *   verify/size-dependent    the graphs built at the training size, at twice
 *                            and three times its length, with one and two
 *                            more sequences, and at the MQAR probe's size
 *                            must have the same ops, inputs, attributes and
 *                            parameters node for node; and every size in
 *                            them (each axis, each slice/pad/mask offset)
 *                            must be one bilinear function of (batch, time):
 *                            a + b*B + c*T + e*B*T fitted on the first four
 *                            graphs must predict the others (to within the
 *                            rounding of an integer division). T, T-1, 2T,
 *                            B*T and T/64 pass; `T == 128 ? 1 : 0` does not.
 *   verify/quadratic-tensor  a tensor with two axes that grow with T (and
 *                            are longer than a chunk): quadratic memory;
 *   verify/complexity        forward FLOPs at 2T over FLOPs at T above the
 *                            limit (default 2.1x).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

#define MAX_SIZES 8              /* per node: up to 4 axes and 2 offsets */

enum { G00, G01, G10, G11, N_GRID };   /* batch B0 or B0+1, time T0 or 2 T0 */

typedef struct sized_graph {
    ir_dims dims;
    const char *what;            /* "the training size", ... */
    ir_graph *g;
} sized_graph;

/* The integers of node n that are sizes: its axes, and the offsets of
 * slices, pads and masks. Everything else about a node is structure. */
static int node_sizes(const ir_node *n, long *v)
{
    int k = 0;
    for (int i = 0; i < n->rank; i++) v[k++] = n->shape[i];
    if (n->op == IR_SLICE || n->op == IR_PAD) {
        v[k++] = n->iattr[1];
        v[k++] = n->iattr[2];
    } else if (n->op == IR_MASK) {
        v[k++] = n->iattr[1];
    }
    return k;
}

static int attr_is_size(const ir_node *n, int a)
{
    return ((n->op == IR_SLICE || n->op == IR_PAD) && (a == 1 || a == 2)) || (n->op == IR_MASK && a == 1);
}

/* Same structure (everything but sizes)? A parameter's shape is structure:
 * the parameter count must not change with the batch or the length. */
static int same_structure(const ir_graph *ga, const ir_graph *gb, int i)
{
    const ir_node *a = &ga->nodes[i], *b = &gb->nodes[i];
    if (a->op != b->op || a->dtype != b->dtype || a->n_in != b->n_in || a->rank != b->rank || a->line != b->line ||
        a->layer != b->layer || memcmp(a->in, b->in, sizeof a->in) != 0 || memcmp(a->fattr, b->fattr, sizeof a->fattr))
        return 0;
    for (int k = 0; k < 4; k++)
        if (!attr_is_size(a, k) && a->iattr[k] != b->iattr[k]) return 0;
    if (a->op == IR_PARAM) {
        const ir_param *pa = &ga->params[a->param], *pb = &gb->params[b->param];
        if (strcmp(pa->name, pb->name) != 0 || memcmp(a->shape, b->shape, sizeof a->shape) != 0) return 0;
    }
    if (a->op == IR_POINTWISE && strcmp(ga->pointwise[a->iattr[0]].name, gb->pointwise[b->iattr[0]].name) != 0)
        return 0;
    return 1;
}

static void node_text(const ir_graph *g, int i, char *buf, size_t len)
{
    if (i >= g->n_nodes) {
        snprintf(buf, len, "nothing (the graph has ended)");
        return;
    }
    const ir_node *n = &g->nodes[i];
    char shape[64];
    ir_shape_str(n, shape, sizeof shape);
    if (n->op == IR_PARAM)
        snprintf(buf, len, "parameter '%s' %s", g->params[n->param].name, shape);
    else if (n->line > 0)
        snprintf(buf, len, "%s %s at line %d", ir_op_name(n), shape, n->line);
    else
        snprintf(buf, len, "%s %s (the backbone)", ir_op_name(n), shape);
}

static void dims_text(const sized_graph *s, char *buf, size_t len)
{
    snprintf(buf, len, "batch %d, time %d (%s)", s->dims.batch, s->dims.time, s->what);
}

/* The first node where b differs in structure from a, or -1. */
static int first_difference(const ir_graph *a, const ir_graph *b)
{
    int n = a->n_nodes < b->n_nodes ? a->n_nodes : b->n_nodes;
    for (int i = 1; i < n; i++)
        if (!same_structure(a, b, i)) return i;
    if (a->n_nodes != b->n_nodes || a->n_aux != b->n_aux || a->n_pointwise != b->n_pointwise) return n;
    return -1;
}

static int report_structure(const sized_graph *base, const sized_graph *other, int i, const rt_arch *arch,
                            aa_reports *out)
{
    char at_base[256], at_other[256], db[96], dot[96];
    node_text(base->g, i, at_base, sizeof at_base);
    node_text(other->g, i, at_other, sizeof at_other);
    dims_text(base, db, sizeof db);
    dims_text(other, dot, sizeof dot);
    int line = i < base->g->n_nodes ? base->g->nodes[i].line : 0;
    if (!line && i < other->g->n_nodes) line = other->g->nodes[i].line;
    rt_verify_fail(out, arch, line, "verify/size-dependent",
         "the mixer builds a different graph at %s than at %s: op %d is %s there but %s here. A mixer must build "
         "the same ops at every size: use aa_dim(l, AA_BATCH), AA_TIME, AA_CHUNK and aa_size() only to shape "
         "tensors, never to choose ops, parameters or attributes",
         dot, db, i, at_other, at_base);
    return 1;
}

/* v(B, T) = a + b*(B-B0) + c*(T-T0) + e*(B-B0)*(T-T0), fitted exactly on the
 * 2x2 grid. */
static double predict(const long *grid, int b0, int t0, int b, int t)
{
    double slope_b = (double)(grid[G10] - grid[G00]);
    double slope_t = (double)(grid[G01] - grid[G00]) / t0;
    double cross = (double)((grid[G11] - grid[G10]) - (grid[G01] - grid[G00])) / t0;
    return (double)grid[G00] + slope_b * (b - b0) + slope_t * (t - t0) + cross * (double)(b - b0) * (t - t0);
}

static int check_bilinear(sized_graph *s, int n_graphs, const rt_arch *arch, aa_reports *out)
{
    const ir_graph *g = s[G00].g;
    int b0 = s[G00].dims.batch, t0 = s[G00].dims.time;
    for (int i = 1; i < g->n_nodes; i++) {
        long v[N_GRID][MAX_SIZES], w[MAX_SIZES], grid[N_GRID];
        int k = 0;
        for (int q = 0; q < N_GRID; q++) k = node_sizes(&s[q].g->nodes[i], v[q]);
        for (int x = N_GRID; x < n_graphs; x++) {
            node_sizes(&s[x].g->nodes[i], w);
            for (int j = 0; j < k; j++) {
                for (int q = 0; q < N_GRID; q++) grid[q] = v[q][j];
                double want = predict(grid, b0, t0, s[x].dims.batch, s[x].dims.time);
                if (fabs((double)w[j] - want) < 1.0) continue;
                char here[256], dx[96];
                node_text(s[x].g, i, here, sizeof here);
                dims_text(&s[x], dx, sizeof dx);
                rt_verify_fail(out, arch, g->nodes[i].line, "verify/size-dependent",
                     "%s at %s has a size of %ld where its sizes at batch %d/%d and time %d/%d give %.4g: the mixer "
                     "computes sizes that do not follow the batch and the sequence length (T, T-1, 2T, B*T, T/64 "
                     "do; a test such as `T == 128 ? a : b` does not). Build the same graph at every size",
                     here, dx, w[j], b0, b0 + 1, t0, 2 * t0, want);
                return 1;
            }
        }
    }
    return 0;
}

/* ---- complexity --------------------------------------------------------------------- */

/* Axes that grow with T (from the graph at T0 to the one at 2 T0) and are
 * longer than a chunk: a tensor with two is quadratic in the length. */
static int growing_axes(const ir_node *a, const ir_node *b, int chunk)
{
    int count = 0;
    for (int i = 0; i < a->rank; i++)
        if (b->shape[i] > a->shape[i] && b->shape[i] > chunk) count++;
    return count;
}

static int check_complexity(const sized_graph *s, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
                            rt_verify_info *info)
{
    const ir_graph *g1 = s[G00].g, *g2 = s[G01].g;
    for (int i = 1; i < g1->n_nodes; i++) {
        const ir_node *a = &g1->nodes[i], *b = &g2->nodes[i];
        if (a->op == IR_PARAM || growing_axes(a, b, g1->dims.chunk) < 2) continue;
        char shape[64];
        ir_shape_str(b, shape, sizeof shape);
        rt_verify_fail(out, arch, b->line, "verify/quadratic-tensor",
             "%s makes a tensor with two axes that grow with the sequence (shape %s at T=%d): that is quadratic in "
             "the sequence length; keep T x T products inside aa_linattn's chunks",
             ir_op_name(b), shape, g2->dims.time);
        return 1;
    }
    info->flops_ratio = ir_flops_forward(g2) / ir_flops_forward(g1);
    if (info->flops_ratio > o->flops_ratio_limit) {
        rt_verify_fail(out, arch, 0, "verify/complexity",
             "forward FLOPs grow %.2fx when the sequence doubles from %d to %d (limit %.2fx): the mixer is not "
             "sub-quadratic", info->flops_ratio, g1->dims.time, g2->dims.time, o->flops_ratio_limit);
        return 1;
    }
    return 0;
}

/* ---- the check ----------------------------------------------------------------------- */

/* The sizes to build at: the 2x2 grid first, then the points it must predict. */
static int plan_sizes(const rt_config *cfg, sized_graph *s)
{
    ir_dims d = cfg->dims;
    int n = 0;
    s[n++] = (sized_graph){d, "the training size", NULL};
    s[n] = (sized_graph){d, "twice the training length", NULL};
    s[n++].dims.time = 2 * d.time;
    s[n] = (sized_graph){d, "one more sequence", NULL};
    s[n++].dims.batch = d.batch + 1;
    s[n] = (sized_graph){d, "one more sequence, twice the length", NULL};
    s[n].dims.batch = d.batch + 1;
    s[n++].dims.time = 2 * d.time;
    s[n] = (sized_graph){d, "three times the training length", NULL};
    s[n++].dims.time = 3 * d.time;
    s[n] = (sized_graph){d, "two more sequences", NULL};
    s[n++].dims.batch = d.batch + 2;
    if (cfg->mqar_steps > 0 && (cfg->mqar_batch != d.batch || cfg->mqar_time != d.time)) {
        s[n] = (sized_graph){d, "the MQAR probe's size", NULL};
        s[n].dims.batch = cfg->mqar_batch;
        s[n++].dims.time = cfg->mqar_time;
    }
    return n;
}

int rt_check_sizes(const rt_config *cfg, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
                   rt_verify_info *info)
{
    sized_graph s[MAX_SIZES];
    int n = plan_sizes(cfg, s), bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        aa_reports mine = {0};
        s[i].g = rt_build_reporting(&s[i].dims, arch, &mine);
        for (int r = 0; r < mine.n; r++) {   /* say at which size it failed */
            aa_report *rep = &mine.items[r];
            aa_report *c = aa_report_add(out, rep->stage, rep->file, rep->line, rep->col, rep->rule,
                                         "at batch %d, time %d (%s): %.600s", s[i].dims.batch, s[i].dims.time,
                                         s[i].what, rep->message);
            if (c) memcpy(c->snippet, rep->snippet, sizeof c->snippet);
        }
        aa_reports_free(&mine);
        bad = !s[i].g;
    }
    for (int i = 1; i < n && !bad; i++) {
        int at = first_difference(s[0].g, s[i].g);
        if (at >= 0) bad = report_structure(&s[0], &s[i], at, arch, out);
    }
    if (!bad) bad = check_bilinear(s, n, arch, out);
    if (!bad) bad = check_complexity(s, arch, o, out, info);
    for (int i = 0; i < n; i++) ir_graph_free(s[i].g);
    return bad;
}
