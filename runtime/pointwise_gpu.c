/*
 * pointwise_gpu.c — a candidate's custom pointwise ops on a GPU.
 *
 * The graph's pointwise ops name AA_SCALAR functions of the candidate's
 * source (ir_graph.source_text). gpu_pointwise_source turns that text into
 * one CUDA module with a forward and a backward kernel per op; it is
 * compiled on first launch like the built-in kernels. The module's name
 * carries a hash of its text, so two candidates never share a module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "rt_internal.h"

typedef struct pw_module {
    char *text;
    char source[128];
    char names[IR_MAX_POINTWISE][2][24];
    gpu_kernel fwd[IR_MAX_POINTWISE], bwd[IR_MAX_POINTWISE];
} pw_module;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Built on first use, kept with the model. */
static pw_module *module_of(rt_model *m, char *err, size_t errlen)
{
    if (m->gpu_pointwise) return m->gpu_pointwise;
    const ir_graph *g = m->g;
    if (!g->source_text) {
        snprintf(err, errlen, "pointwise ops on the GPU need the candidate's source text");
        return NULL;
    }
    gpu_pointwise_op ops[IR_MAX_POINTWISE];
    for (int i = 0; i < g->n_pointwise; i++) ops[i] = (gpu_pointwise_op){g->pointwise[i].name, g->pointwise[i].nargs};
    pw_module *pm = calloc(1, sizeof *pm);
    if (!pm) return NULL;
    pm->text = gpu_pointwise_source(g->source_file ? g->source_file : "candidate.c", g->source_text, ops,
                                    g->n_pointwise, err, errlen);
    if (!pm->text) {
        free(pm);
        return NULL;
    }
    snprintf(pm->source, sizeof pm->source, "pointwise-%016llx.cu", (unsigned long long)fnv1a(pm->text));
    for (int i = 0; i < g->n_pointwise; i++) {
        snprintf(pm->names[i][0], sizeof pm->names[i][0], "aak_pw_fwd_%d", i);
        snprintf(pm->names[i][1], sizeof pm->names[i][1], "aak_pw_bwd_%d", i);
        pm->fwd[i] = (gpu_kernel){pm->source, pm->names[i][0], pm->text};
        pm->bwd[i] = (gpu_kernel){pm->source, pm->names[i][1], pm->text};
    }
    m->gpu_pointwise = pm;
    return pm;
}

void rt_gpu_pointwise_free(rt_model *m)
{
    pw_module *pm = m->gpu_pointwise;
    if (!pm) return;
    free(pm->text);
    free(pm);
    m->gpu_pointwise = NULL;
}

/* The device addresses of the op's inputs (and their gradients). */
static int operands(rt_model *m, const ir_node *n, gpu_ptr *in, gpu_ptr *dx)
{
    for (int a = 0; a < AA_MAX_POINTWISE_ARGS; a++) in[a] = dx[a] = 0;
    for (int a = 0; a < n->n_in && a < AA_MAX_POINTWISE_ARGS; a++) {
        in[a] = rt_gpu_address(m, m->val[n->in[a]]);
        if (dx && m->needs_grad[n->in[a]]) dx[a] = rt_gpu_address(m, m->grad[n->in[a]]);
    }
    return n->n_in;
}

int rt_gpu_pointwise_fwd(rt_model *m, gpu_dev *d, const ir_node *n, uint64_t y)
{
    char err[512];
    pw_module *pm = module_of(m, err, sizeof err);
    if (!pm) {
        rt_gpu_fail(m, "%s", err);
        return -1;
    }
    gpu_ptr in[AA_MAX_POINTWISE_ARGS], unused[AA_MAX_POINTWISE_ARGS];
    int nargs = operands(m, n, in, unused);
    return gpu_pointwise_fwd(d, &pm->fwd[n->iattr[0]], nargs, ir_numel(n), in, y);
}

int rt_gpu_pointwise_bwd(rt_model *m, gpu_dev *d, const ir_node *n, uint64_t dy)
{
    char err[512];
    pw_module *pm = module_of(m, err, sizeof err);
    if (!pm) {
        rt_gpu_fail(m, "%s", err);
        return -1;
    }
    gpu_ptr in[AA_MAX_POINTWISE_ARGS], dx[AA_MAX_POINTWISE_ARGS];
    int nargs = operands(m, n, in, dx);
    return gpu_pointwise_bwd(d, &pm->bwd[n->iattr[0]], nargs, ir_numel(n), in, dy, dx);
}
