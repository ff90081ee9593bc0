/*
 * exec_gpu.c — forward, backward and AdamW of a planned model on a GPU.
 *
 * The plan is the CPU's (plan.c): the same liveness reuse, the same
 * offsets. A GPU model's host arenas for activations, gradients, scratch
 * and optimiser moments are address space only; the device holds arenas of
 * the same sizes, and a plan pointer p into host arena A becomes device
 * address dev(A) + (p - A). So every node runs the launcher (gpu.h) that
 * mirrors the CPU kernel exec.c calls, with the same buffers.
 *
 * The host keeps the parameters (initialisation, checkpoints, rt_param);
 * they are copied to the device before a forward when the host changed
 * them, and back when the host reads them after training steps.
 *
 * Everything is queued on the device's one stream; a forward reads back
 * its two losses (two floats), which is the step's only synchronisation.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "rt_internal.h"

static gpu_dev *device;

void rt_set_device(gpu_dev *d) { device = d; }
gpu_dev *rt_device_now(void) { return device; }

void rt_device_describe(char *out, size_t len)
{
    if (!device) snprintf(out, len, "cpu");
    else snprintf(out, len, "%s (sm_%d, %s%s)", gpu_name(device), gpu_arch(device),
                  gpu_precision_name(gpu_dev_precision(device)), gpu_deterministic(device) ? ", deterministic" : "");
}

/* One arena: its host placeholder and its device memory. */
typedef struct arena { const float *host; size_t floats; gpu_ptr dev; } arena;
enum { A_PARAMS, A_PARAM_GRADS, A_ADAM_M, A_ADAM_V, A_ACTS, A_GRADS, A_SCRATCH, N_ARENAS };

struct rt_gpu {
    gpu_dev *dev;
    arena arenas[N_ARENAS];
    float *staging;             /* host copies handed out by rt_gpu_value / rt_gpu_param_grad */
    size_t staging_floats;
    gpu_ptr tmp;                /* one float of scratch (aux-loss gradients) */
    int failed;                 /* a device call failed: the loss is NaN from now on */
    char error[512];
};

/* ---- addresses ------------------------------------------------------------------ */

/* The device address of a plan pointer (0 for NULL). */
static gpu_ptr dev_of(const rt_model *m, const float *p)
{
    if (!p) return 0;
    const struct rt_gpu *G = m->gpu;
    for (int a = 0; a < N_ARENAS; a++) {
        const arena *ar = &G->arenas[a];
        if (ar->host && p >= ar->host && p < ar->host + ar->floats)
            return ar->dev + (gpu_ptr)((size_t)(p - ar->host) * sizeof(float));
    }
    return 0;   /* not in any arena: a planning bug, caught by the launch checks */
}

uint64_t rt_gpu_address(const rt_model *m, const float *plan_pointer) { return dev_of(m, plan_pointer); }

void rt_gpu_fail(rt_model *m, const char *fmt, ...)
{
    struct rt_gpu *G = m->gpu;
    if (G->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(G->error, sizeof G->error, fmt, ap);
    va_end(ap);
    G->failed = 1;
}

static gpu_ptr val(const rt_model *m, int node) { return node > 0 ? dev_of(m, m->val[node]) : 0; }
static gpu_ptr aux(const rt_model *m, int node) { return dev_of(m, m->aux[node]); }
static gpu_ptr in_val(const rt_model *m, const ir_node *n, int a) { return val(m, n->in[a]); }
static gpu_ptr in_grad(const rt_model *m, const ir_node *n, int a)
{
    int j = n->in[a];
    return j > 0 && m->needs_grad[j] ? dev_of(m, m->grad[j]) : 0;
}
static const ir_node *in_node(const rt_model *m, const ir_node *n, int a) { return &m->g->nodes[n->in[a]]; }

/* Remember the first failure; later calls are skipped. */
static void check(rt_model *m, int rc, const char *what, const ir_node *n)
{
    if (rc == 0 || m->gpu->failed) return;
    rt_gpu_fail(m, "GPU %s of %s (line %d): %s", what, n ? ir_op_name(n) : "model", n ? n->line : 0,
                gpu_error(m->gpu->dev));
}

const char *rt_gpu_error(const rt_model *m) { return m->gpu ? m->gpu->error : "no GPU"; }

/* ---- attach and detach ----------------------------------------------------------------- */

int rt_gpu_attach(rt_model *m, char *err, size_t errlen)
{
    struct rt_gpu *G = calloc(1, sizeof *G);
    if (!G) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    m->gpu = G;
    G->dev = device;
    const float *hosts[N_ARENAS] = {m->params, m->param_grads, m->adam_m, m->adam_v, m->acts, m->grads, m->scratch};
    size_t sizes[N_ARENAS] = {m->n_param_floats, m->n_param_floats, m->adam_m ? m->n_param_floats : 0,
                              m->adam_v ? m->n_param_floats : 0, m->n_act_floats, m->training ? m->n_grad_floats : 0,
                              m->n_scratch_floats};
    for (int a = 0; a < N_ARENAS; a++) {
        arena *ar = &G->arenas[a];
        ar->host = hosts[a];
        ar->floats = hosts[a] ? sizes[a] : 0;
        if (!ar->host) continue;
        ar->dev = gpu_alloc(G->dev, (ar->floats ? ar->floats : 1) * sizeof(float));
        if (!ar->dev || gpu_zero(G->dev, ar->dev, ar->floats) < 0) {
            snprintf(err, errlen, "GPU memory for the model (%zu MiB in this arena): %s",
                     ar->floats * sizeof(float) >> 20, gpu_error(G->dev));
            return -1;
        }
    }
    G->tmp = gpu_alloc(G->dev, sizeof(float));
    if (!G->tmp) {
        snprintf(err, errlen, "GPU memory: %s", gpu_error(G->dev));
        return -1;
    }
    m->device_stale = 1;
    return 0;
}

void rt_gpu_detach(rt_model *m)
{
    struct rt_gpu *G = m->gpu;
    if (!G) return;
    rt_gpu_pointwise_free(m);
    for (int a = 0; a < N_ARENAS; a++) gpu_free(G->dev, G->arenas[a].dev);
    gpu_free(G->dev, G->tmp);
    free(G->staging);
    free(G);
    m->gpu = NULL;
}

int rt_gpu_upload(rt_model *m, const float *at, const float *src, size_t n)
{
    gpu_ptr p = dev_of(m, at);
    if (!p || gpu_upload(m->gpu->dev, p, src, n * sizeof(float)) < 0) {
        snprintf(m->gpu->error, sizeof m->gpu->error, "copy to the GPU: %s", gpu_error(m->gpu->dev));
        return -1;
    }
    return 0;
}

void rt_gpu_zero_moments(rt_model *m)
{
    struct rt_gpu *G = m->gpu;
    check(m, gpu_zero(G->dev, G->arenas[A_ADAM_M].dev, G->arenas[A_ADAM_M].floats), "zeroing", NULL);
    check(m, gpu_zero(G->dev, G->arenas[A_ADAM_V].dev, G->arenas[A_ADAM_V].floats), "zeroing", NULL);
}

/* ---- parameters between host and device ------------------------------------------------- */

void rt_params_to_host(rt_model *m)
{
    if (!m->on_gpu || !m->host_stale) return;
    struct rt_gpu *G = m->gpu;
    check(m, gpu_download(G->dev, m->params, G->arenas[A_PARAMS].dev, m->n_param_floats * sizeof(float)),
          "copy of the parameters", NULL);
    m->host_stale = 0;
}

static void params_to_device(rt_model *m)
{
    if (!m->device_stale) return;
    struct rt_gpu *G = m->gpu;
    check(m, gpu_upload(G->dev, G->arenas[A_PARAMS].dev, m->params, m->n_param_floats * sizeof(float)),
          "copy of the parameters", NULL);
    m->device_stale = 0;
}

static float *staging(rt_model *m, size_t floats)
{
    struct rt_gpu *G = m->gpu;
    if (floats > G->staging_floats) {
        float *s = realloc(G->staging, floats * sizeof *s);
        if (!s) return NULL;
        G->staging = s;
        G->staging_floats = floats;
    }
    return G->staging;
}

float *rt_gpu_value(rt_model *m, int node)
{
    const ir_node *n = &m->g->nodes[node];
    size_t count = ir_numel(n);
    float *s = staging(m, count);
    if (!s || m->gpu->failed) return NULL;
    check(m, gpu_download(m->gpu->dev, s, val(m, node), count * sizeof(float)), "read-back", n);
    return m->gpu->failed ? NULL : s;
}

float *rt_gpu_param_grad(rt_model *m, int p)
{
    const ir_node *n = &m->g->nodes[m->g->params[p].node];
    size_t count = ir_numel(n);
    float *s = staging(m, count);
    if (!s) return NULL;
    check(m, gpu_download(m->gpu->dev, s, dev_of(m, m->param_grads + m->param_off[p]), count * sizeof(float)),
          "read-back", n);
    return s;
}

/* ---- shapes (as exec.c) ----------------------------------------------------------------- */

/* ---- forward ------------------------------------------------------------------------------ */

static int forward_layout(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr y)
{
    const ir_node *x = in_node(m, n, 0);
    gpu_ptr xv = in_val(m, n, 0);
    k_shape sx = rt_shape_of(x), sy = rt_shape_of(n);
    switch (n->op) {
    case IR_PERMUTE: return gpu_permute(d, &sx, n->iattr, xv, y, 0);
    case IR_SLICE: return gpu_slice_fwd(d, &sx, n->iattr[0], n->iattr[1], n->iattr[2], xv, y);
    case IR_EXPAND: return gpu_expand_fwd(d, &sx, xv, &sy, y);
    case IR_PAD:
        return gpu_zero(d, y, ir_numel(n)) || gpu_slice_bwd(d, &sy, n->iattr[0], n->iattr[1], x->shape[n->iattr[0]], xv, y);
    case IR_CONCAT: {
        int axis = n->iattr[0], la = x->shape[axis];
        return gpu_zero(d, y, ir_numel(n)) || gpu_slice_bwd(d, &sy, axis, 0, la, xv, y) ||
               gpu_slice_bwd(d, &sy, axis, la, in_node(m, n, 1)->shape[axis], in_val(m, n, 1), y);
    }
    default: return 0;   /* a reshape aliases its input */
    }
}

static int forward_linattn(rt_model *m, gpu_dev *d, int id, const ir_node *n, gpu_ptr y)
{
    k_linattn_cfg c;
    rt_linattn_cfg(m->g, n, &c);
    gpu_ptr lambda = dev_of(m, rt_lambdas(m, id));
    return gpu_linattn_fwd(d, &c, lambda, in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), in_val(m, n, 3),
                           in_val(m, n, 4), 0, y, 0, aux(m, id));
}

static int forward_matmul(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr y)
{
    int batch, ar, ac, br, bc;
    rt_matrix_dims(in_node(m, n, 0), &batch, &ar, &ac);
    rt_matrix_dims(in_node(m, n, 1), &batch, &br, &bc);
    return gpu_matmul_fwd(d, batch, ar, ac, br, bc, n->iattr[0], n->iattr[1], in_val(m, n, 0), in_val(m, n, 1), y);
}

/* y[0] = weight * mean(x): a sum over the flat tensor, then a scale. */
static int forward_aux_loss(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr y)
{
    size_t k = ir_numel(in_node(m, n, 0));
    k_shape flat = {.rank = 1, .d = {(int)k}};
    return gpu_reduce_fwd(d, AA_OP_SUM, &flat, 0, in_val(m, n, 0), y) ||
           gpu_unary_fwd(d, AA_OP_SCALE, n->fattr[0] / (float)k, 0, 1, y, y);
}

static int forward_node(rt_model *m, gpu_dev *d, int id)
{
    const ir_node *n = &m->g->nodes[id];
    gpu_ptr y = val(m, id);
    switch (n->op) {
    case IR_TOKENS:
    case IR_TARGETS:
    case IR_PARAM:
    case IR_RESHAPE: return 0;
    case IR_PERMUTE:
    case IR_SLICE:
    case IR_CONCAT:
    case IR_PAD:
    case IR_EXPAND: return forward_layout(m, d, n, y);
    case IR_BINARY: {
        k_shape sa = rt_shape_as_rank(in_node(m, n, 0), n->rank), sb = rt_shape_as_rank(in_node(m, n, 1), n->rank);
        k_shape sy = rt_shape_of(n);
        return gpu_binary_fwd(d, n->iattr[0], &sa, in_val(m, n, 0), &sb, in_val(m, n, 1), &sy, y);
    }
    case IR_UNARY: return gpu_unary_fwd(d, n->iattr[0], n->fattr[0], n->fattr[1], ir_numel(n), in_val(m, n, 0), y);
    case IR_REDUCE: {
        k_shape sx = rt_shape_of(in_node(m, n, 0));
        return gpu_reduce_fwd(d, n->iattr[0], &sx, n->iattr[1], in_val(m, n, 0), y);
    }
    case IR_MASK: {
        k_shape s = rt_shape_of(n);
        return gpu_mask(d, n->iattr[0], n->iattr[1], &s, in_val(m, n, 0), y, 0);
    }
    case IR_LINEAR:
        return gpu_linear_fwd(d, (int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                              in_val(m, n, 1), in_val(m, n, 2), y);
    case IR_MATMUL: return forward_matmul(m, d, n, y);
    case IR_TRISOLVE: {
        int batch, r, c;
        rt_matrix_dims(n, &batch, &r, &c);
        return gpu_trisolve_fwd(d, batch, r, c, in_val(m, n, 0), in_val(m, n, 1), y);
    }
    case IR_RMSNORM:
        return gpu_rmsnorm_fwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), y, aux(m, id));
    case IR_LAYERNORM:
        return gpu_layernorm_fwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), y,
                                 aux(m, id));
    case IR_L2NORM: return gpu_l2norm_fwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), y, aux(m, id));
    case IR_GATED_RMSNORM:
        return gpu_gated_rmsnorm_fwd(d, n->iattr[0], rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1),
                                     in_val(m, n, 2), y, aux(m, id));
    case IR_SHORT_CONV:
        return gpu_conv_fwd(d, n->shape[0], n->shape[1], n->shape[2], in_node(m, n, 1)->shape[1], in_val(m, n, 0),
                            in_val(m, n, 1), y);
    case IR_LINATTN: return forward_linattn(m, d, id, n, y);
    case IR_STOPGRAD: return gpu_copy(d, y, in_val(m, n, 0), ir_numel(n) * sizeof(float));
    case IR_POINTWISE: return rt_gpu_pointwise_fwd(m, d, n, y);
    case IR_EMBED:
        return gpu_embed_fwd(d, ir_numel(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), y);
    case IR_LOGITS:
        return gpu_linear_fwd(d, (int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                              in_val(m, n, 1), 0, y);
    case IR_XENT: {   /* the mean comes back to the host; the losses after it read it on the device */
        const ir_node *lg = in_node(m, n, 0);
        float loss = 0;
        return gpu_xent_fwd(d, rt_rows(lg), (int)rt_last_dim(lg), in_val(m, n, 0), in_val(m, n, 1), aux(m, id), &loss) ||
               gpu_upload(d, y, &loss, sizeof loss);
    }
    case IR_AUX_LOSS: return forward_aux_loss(m, d, n, y);
    case IR_LOSS_SUM: {
        int rc = gpu_zero(d, y, 1);
        for (int a = 0; a < n->n_in && !rc; a++) rc = gpu_add_into(d, 1, in_val(m, n, a), y);
        return rc;
    }
    default: return 0;
    }
}

static float read_scalar(rt_model *m, int node)
{
    float v = NAN;
    if (node > 0 && !m->gpu->failed)
        check(m, gpu_download(m->gpu->dev, &v, val(m, node), sizeof v), "read-back of the loss", &m->g->nodes[node]);
    return m->gpu->failed ? NAN : v;
}

float rt_gpu_forward(rt_model *m, const int32_t *tokens, const int32_t *targets)
{
    const ir_graph *g = m->g;
    struct rt_gpu *G = m->gpu;
    size_t bt = (size_t)g->dims.batch * (size_t)g->dims.time;
    params_to_device(m);
    if (g->tokens > 0 && tokens) check(m, gpu_upload(G->dev, val(m, g->tokens), tokens, bt * 4), "copy of the tokens", NULL);
    if (g->targets > 0 && targets)
        check(m, gpu_upload(G->dev, val(m, g->targets), targets, bt * 4), "copy of the targets", NULL);
    for (int i = 1; i < g->n_nodes && !G->failed; i++) {
        double t0 = m->profile ? rt_now() : 0;
        check(m, forward_node(m, G->dev, i), "forward", &g->nodes[i]);
        if (m->profile) {
            check(m, gpu_sync(G->dev), "forward", &g->nodes[i]);
            m->prof_fwd[g->nodes[i].op] += rt_now() - t0;
        }
    }
    m->loss = g->loss > 0 ? read_scalar(m, g->loss) : 0.0f;
    m->gpu_xent = g->xent > 0 ? read_scalar(m, g->xent) : m->loss;
    if (G->failed) snprintf(m->input_error, sizeof m->input_error, "%.159s", G->error);
    return m->loss;
}

/* ---- backward ------------------------------------------------------------------------------ */

static gpu_ptr scratch(const rt_model *m) { return m->gpu->arenas[A_SCRATCH].dev; }

static int backward_layout(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr dy)
{
    const ir_node *x = in_node(m, n, 0);
    gpu_ptr dx = in_grad(m, n, 0);
    k_shape sx = rt_shape_of(x), sy = rt_shape_of(n);
    switch (n->op) {
    case IR_PERMUTE: {
        int inv[K_MAX_RANK] = {0, 1, 2, 3};
        for (int i = 0; i < n->rank; i++) inv[n->iattr[i]] = i;
        return dx ? gpu_permute(d, &sy, inv, dy, dx, 1) : 0;
    }
    case IR_SLICE: return dx ? gpu_slice_bwd(d, &sx, n->iattr[0], n->iattr[1], n->iattr[2], dy, dx) : 0;
    case IR_EXPAND: return dx ? gpu_expand_bwd(d, &sx, &sy, dy, dx) : 0;
    case IR_PAD:
        if (!dx) return 0;
        return gpu_slice_fwd(d, &sy, n->iattr[0], n->iattr[1], x->shape[n->iattr[0]], dy, scratch(m)) ||
               gpu_add_into(d, ir_numel(x), scratch(m), dx);
    case IR_CONCAT: {
        int axis = n->iattr[0], la = x->shape[axis];
        const ir_node *b = in_node(m, n, 1);
        gpu_ptr db = in_grad(m, n, 1);
        if (dx && (gpu_slice_fwd(d, &sy, axis, 0, la, dy, scratch(m)) || gpu_add_into(d, ir_numel(x), scratch(m), dx)))
            return -1;
        if (db && (gpu_slice_fwd(d, &sy, axis, la, b->shape[axis], dy, scratch(m)) ||
                   gpu_add_into(d, ir_numel(b), scratch(m), db)))
            return -1;
        return 0;
    }
    default: return 0;
    }
}

static int backward_linattn(rt_model *m, gpu_dev *d, int id, const ir_node *n, gpu_ptr dy)
{
    k_linattn_cfg c;
    rt_linattn_cfg(m->g, n, &c);
    gpu_ptr lambda = dev_of(m, rt_lambdas(m, id));
    return gpu_linattn_bwd(d, &c, lambda, in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), in_val(m, n, 3),
                           in_val(m, n, 4), 0, aux(m, id), dy, 0, in_grad(m, n, 0), in_grad(m, n, 1),
                           in_grad(m, n, 2), in_grad(m, n, 3), in_grad(m, n, 4), 0);
}

static int backward_matmul(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr dy)
{
    int batch, ar, ac, br, bc;
    rt_matrix_dims(in_node(m, n, 0), &batch, &ar, &ac);
    rt_matrix_dims(in_node(m, n, 1), &batch, &br, &bc);
    return gpu_matmul_bwd(d, batch, ar, ac, br, bc, n->iattr[0], n->iattr[1], in_val(m, n, 0), in_val(m, n, 1), dy,
                          in_grad(m, n, 0), in_grad(m, n, 1));
}

/* dx += weight / k * dy[0] everywhere: the scaled gradient in one float,
 * then added to every element (an in-place broadcast add). */
static int backward_aux_loss(rt_model *m, gpu_dev *d, const ir_node *n, gpu_ptr dy)
{
    gpu_ptr dx = in_grad(m, n, 0);
    if (!dx) return 0;
    size_t k = ir_numel(in_node(m, n, 0));
    k_shape one = {.rank = 1, .d = {1}}, flat = {.rank = 1, .d = {(int)k}};
    gpu_ptr t = m->gpu->tmp;
    return gpu_zero(d, t, 1) || gpu_unary_bwd(d, AA_OP_SCALE, n->fattr[0] / (float)k, 0, 1, 0, 0, dy, t) ||
           gpu_binary_fwd(d, AA_OP_ADD, &flat, dx, &one, t, &flat, dx);
}

static int backward_node(rt_model *m, gpu_dev *d, int id)
{
    const ir_node *n = &m->g->nodes[id];
    gpu_ptr dy = dev_of(m, m->grad[id]), y = val(m, id);
    switch (n->op) {
    case IR_PERMUTE:
    case IR_SLICE:
    case IR_CONCAT:
    case IR_PAD:
    case IR_EXPAND: return backward_layout(m, d, n, dy);
    case IR_BINARY: {
        k_shape sa = rt_shape_as_rank(in_node(m, n, 0), n->rank), sb = rt_shape_as_rank(in_node(m, n, 1), n->rank);
        k_shape sy = rt_shape_of(n);
        return gpu_binary_bwd(d, n->iattr[0], &sa, in_val(m, n, 0), &sb, in_val(m, n, 1), &sy, dy, in_grad(m, n, 0),
                              in_grad(m, n, 1));
    }
    case IR_UNARY:
        return gpu_unary_bwd(d, n->iattr[0], n->fattr[0], n->fattr[1], ir_numel(n), in_val(m, n, 0), y, dy,
                             in_grad(m, n, 0));
    case IR_REDUCE: {
        k_shape sx = rt_shape_of(in_node(m, n, 0));
        return gpu_reduce_bwd(d, n->iattr[0], &sx, n->iattr[1], in_val(m, n, 0), y, dy, in_grad(m, n, 0));
    }
    case IR_MASK: {
        k_shape s = rt_shape_of(n);
        return in_grad(m, n, 0) ? gpu_mask(d, n->iattr[0], n->iattr[1], &s, dy, in_grad(m, n, 0), 1) : 0;
    }
    case IR_LINEAR:
        return gpu_linear_bwd(d, (int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                              in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2));
    case IR_MATMUL: return backward_matmul(m, d, n, dy);
    case IR_TRISOLVE: {
        int batch, r, c;
        rt_matrix_dims(n, &batch, &r, &c);
        return gpu_trisolve_bwd(d, batch, r, c, in_val(m, n, 0), y, dy, in_grad(m, n, 0), in_grad(m, n, 1));
    }
    case IR_RMSNORM:
        return gpu_rmsnorm_bwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), aux(m, id), dy,
                               in_grad(m, n, 0), in_grad(m, n, 1));
    case IR_LAYERNORM:
        return gpu_layernorm_bwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), aux(m, id), dy,
                                 in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2));
    case IR_L2NORM:
        return gpu_l2norm_bwd(d, rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), y, aux(m, id), dy, in_grad(m, n, 0));
    case IR_GATED_RMSNORM:
        return gpu_gated_rmsnorm_bwd(d, n->iattr[0], rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1),
                                     in_val(m, n, 2), aux(m, id), dy, in_grad(m, n, 0), in_grad(m, n, 1),
                                     in_grad(m, n, 2));
    case IR_SHORT_CONV:
        return gpu_conv_bwd(d, n->shape[0], n->shape[1], n->shape[2], in_node(m, n, 1)->shape[1], in_val(m, n, 0),
                            in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1));
    case IR_LINATTN: return backward_linattn(m, d, id, n, dy);
    case IR_POINTWISE: return rt_gpu_pointwise_bwd(m, d, n, dy);
    case IR_EMBED: {
        const ir_node *table = in_node(m, n, 1);
        return in_grad(m, n, 1) ? gpu_embed_bwd(d, ir_numel(in_node(m, n, 0)), (int)rt_last_dim(n), table->shape[0],
                                                in_val(m, n, 0), dy, in_grad(m, n, 1))
                                : 0;
    }
    case IR_LOGITS:
        return gpu_linear_bwd(d, (int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                              in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1), 0);
    case IR_XENT: {
        const ir_node *lg = in_node(m, n, 0);
        float dloss = 0;
        if (!in_grad(m, n, 0)) return 0;
        return gpu_download(d, &dloss, dy, sizeof dloss) ||
               gpu_xent_bwd(d, rt_rows(lg), (int)rt_last_dim(lg), aux(m, id), in_val(m, n, 1), dloss, in_grad(m, n, 0));
    }
    case IR_AUX_LOSS: return backward_aux_loss(m, d, n, dy);
    case IR_LOSS_SUM: {
        int rc = 0;
        for (int a = 0; a < n->n_in && !rc; a++)
            if (in_grad(m, n, a)) rc = gpu_add_into(d, 1, dy, in_grad(m, n, a));
        return rc;
    }
    default: return 0;
    }
}

/* As exec.c: the last consumer in forward order zeroes a gradient buffer
 * before the first accumulation into it. */
static int zero_new_gradients(rt_model *m, gpu_dev *d, int id)
{
    const ir_node *n = &m->g->nodes[id];
    for (int a = 0; a < n->n_in; a++) {
        int j = n->in[a];
        if (j <= 0 || !m->needs_grad[j]) continue;
        int root = m->storage[j];
        if (m->g->nodes[root].op == IR_PARAM || m->last_grad_use[root] != id) continue;
        int seen = 0;
        for (int b = 0; b < a; b++) seen |= n->in[b] > 0 && m->storage[n->in[b]] == root;
        if (!seen && gpu_zero(d, dev_of(m, m->grad[root]), ir_numel(&m->g->nodes[root])) < 0) return -1;
    }
    return 0;
}

void rt_gpu_backward(rt_model *m)
{
    const ir_graph *g = m->g;
    struct rt_gpu *G = m->gpu;
    const float one = 1.0f;
    check(m, gpu_zero(G->dev, G->arenas[A_PARAM_GRADS].dev, m->n_param_floats), "zeroing the gradients", NULL);
    check(m, gpu_upload(G->dev, dev_of(m, m->grad[g->loss]), &one, sizeof one), "backward", NULL);
    for (int i = g->loss; i > 0 && !G->failed; i--) {
        if (!m->needs_grad[i] || g->nodes[i].op == IR_PARAM || g->nodes[i].op == IR_RESHAPE) continue;
        double t0 = m->profile ? rt_now() : 0;
        check(m, zero_new_gradients(m, G->dev, i) || backward_node(m, G->dev, i), "backward", &g->nodes[i]);
        if (m->profile) {
            check(m, gpu_sync(G->dev), "backward", &g->nodes[i]);
            m->prof_bwd[g->nodes[i].op] += rt_now() - t0;
        }
    }
}

/* ---- optimiser ------------------------------------------------------------------------------ */

double rt_gpu_adamw_step(rt_model *m, const rt_config *cfg, float lr, int step)
{
    struct rt_gpu *G = m->gpu;
    gpu_dev *d = G->dev;
    double sumsq = NAN;
    gpu_ptr grads = G->arenas[A_PARAM_GRADS].dev, params = G->arenas[A_PARAMS].dev;
    check(m, gpu_sumsq(d, m->n_param_floats, grads, &sumsq), "gradient norm", NULL);
    double norm = sqrt(sumsq);
    double coef = cfg->clip / (norm + 1e-6);   /* as torch.nn.utils.clip_grad_norm_ */
    if (cfg->clip > 0 && coef < 1.0) check(m, gpu_scale_inplace(d, m->n_param_floats, grads, (float)coef), "clip", NULL);
    k_adamw h = {lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, step};
    const ir_graph *g = m->g;
    for (int p = 0; p < g->n_params && !G->failed; p++) {
        size_t off = m->param_off[p] * sizeof(float), n = ir_numel(&g->nodes[g->params[p].node]);
        check(m, gpu_adamw_update(d, &h, n, params + off, grads + off, G->arenas[A_ADAM_M].dev + off,
                                  G->arenas[A_ADAM_V].dev + off, g->params[p].decay),
              "AdamW", &g->nodes[g->params[p].node]);
    }
    m->host_stale = 1;
    return G->failed ? NAN : norm;
}
