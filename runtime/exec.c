/*
 * exec.c — forward and backward over the planned graph, and the optimiser.
 *
 * Forward runs nodes in index order (a topological order). Backward runs them
 * in reverse; a gradient buffer is zeroed by its first writer (the last
 * consumer in forward order) and every kernel accumulates into it, so
 * fan-out needs no special case. Parameter gradients are zeroed once per
 * backward and accumulate over all uses.
 */
#include <math.h>
#include <string.h>

#include "rt_internal.h"

/* ---- what is running (for fault reports) --------------------------------------- */

static const ir_graph *volatile now_graph;
static volatile int now_node = -1, now_phase = RT_IDLE;

static void running(const ir_graph *g, rt_phase phase, int node)
{
    now_graph = g;
    now_node = node;
    now_phase = phase;
}

void rt_note_building(const ir_graph *g) { running(g, g ? RT_BUILD : RT_IDLE, -1); }

void rt_activity_now(rt_activity *out)
{
    const ir_graph *g = now_graph;
    int node = now_phase == RT_BUILD && g ? g->n_nodes - 1 : now_node;   /* building: the last node made */
    *out = (rt_activity){.phase = (rt_phase)now_phase, .node = -1, .op = ""};
    if (!g || node <= 0 || node >= g->n_nodes) return;
    const ir_node *n = &g->nodes[node];
    out->node = node;
    out->line = n->line;
    out->layer = n->layer;
    out->op = ir_op_name(n);
}

const char *rt_phase_name(rt_phase p)
{
    static const char *const names[] = {"idle", "graph building", "forward pass", "backward pass", "optimiser step"};
    return p >= RT_IDLE && p <= RT_OPTIMISER ? names[p] : "?";
}

/* ---- helpers ----------------------------------------------------------------- */

static const ir_node *in_node(const rt_model *m, const ir_node *n, int a) { return &m->g->nodes[n->in[a]]; }
static float *in_val(const rt_model *m, const ir_node *n, int a) { return n->in[a] > 0 ? m->val[n->in[a]] : NULL; }
/* Gradient buffer of input a, or NULL when it needs none. */
static float *in_grad(const rt_model *m, const ir_node *n, int a)
{
    int j = n->in[a];
    return j > 0 && m->needs_grad[j] ? m->grad[j] : NULL;
}
static void add_into(size_t n, const float *src, float *dst)
{
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- forward ------------------------------------------------------------------- */

static void forward_layout(rt_model *m, const ir_node *n, float *y)
{
    const ir_node *x = in_node(m, n, 0);
    const float *xv = in_val(m, n, 0);
    k_shape sx = rt_shape_of(x), sy = rt_shape_of(n);
    switch (n->op) {
    case IR_RESHAPE: break;   /* an alias of its input (plan.c) */
    case IR_PERMUTE: k_permute(&sx, n->iattr, xv, y, 0); break;
    case IR_SLICE: k_slice_fwd(&sx, n->iattr[0], n->iattr[1], n->iattr[2], xv, y); break;
    case IR_EXPAND: k_expand_fwd(&sx, xv, &sy, y); break;
    case IR_PAD:
        memset(y, 0, ir_numel(n) * sizeof *y);
        k_slice_bwd(&sy, n->iattr[0], n->iattr[1], x->shape[n->iattr[0]], xv, y);
        break;
    case IR_CONCAT: {
        int axis = n->iattr[0], la = x->shape[axis];
        memset(y, 0, ir_numel(n) * sizeof *y);
        k_slice_bwd(&sy, axis, 0, la, xv, y);
        k_slice_bwd(&sy, axis, la, in_node(m, n, 1)->shape[axis], in_val(m, n, 1), y);
        break;
    }
    default: break;
    }
}

static void forward_linattn(rt_model *m, int id, const ir_node *n, float *y)
{
    k_linattn_cfg c;
    rt_linattn_cfg(m->g, n, &c);
    c.lambda = rt_lambdas(m, id);
    k_linattn_fwd(&c, in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), in_val(m, n, 3), in_val(m, n, 4), NULL,
                  y, NULL, m->aux[id], m->scratch);
}

static void forward_matmul(rt_model *m, const ir_node *n, float *y)
{
    int batch, ar, ac, br, bc;
    rt_matrix_dims(in_node(m, n, 0), &batch, &ar, &ac);
    rt_matrix_dims(in_node(m, n, 1), &batch, &br, &bc);
    k_matmul_fwd(batch, ar, ac, br, bc, n->iattr[0], n->iattr[1], in_val(m, n, 0), in_val(m, n, 1), y);
}

static void forward_node(rt_model *m, int id)
{
    const ir_node *n = &m->g->nodes[id];
    float *y = m->val[id];
    switch (n->op) {
    case IR_TOKENS:
    case IR_TARGETS:
    case IR_PARAM: break;
    case IR_RESHAPE:
    case IR_PERMUTE:
    case IR_SLICE:
    case IR_CONCAT:
    case IR_PAD:
    case IR_EXPAND: forward_layout(m, n, y); break;
    case IR_BINARY: {
        k_shape sa = rt_shape_as_rank(in_node(m, n, 0), n->rank), sb = rt_shape_as_rank(in_node(m, n, 1), n->rank);
        k_shape sy = rt_shape_of(n);
        k_binary_fwd(n->iattr[0], &sa, in_val(m, n, 0), &sb, in_val(m, n, 1), &sy, y);
        break;
    }
    case IR_UNARY: k_unary_fwd(n->iattr[0], n->fattr[0], n->fattr[1], ir_numel(n), in_val(m, n, 0), y); break;
    case IR_REDUCE: {
        k_shape sx = rt_shape_of(in_node(m, n, 0));
        k_reduce_fwd(n->iattr[0], &sx, n->iattr[1], in_val(m, n, 0), y);
        break;
    }
    case IR_MASK: {
        k_shape s = rt_shape_of(n);
        k_mask(n->iattr[0], n->iattr[1], &s, in_val(m, n, 0), y, 0);
        break;
    }
    case IR_LINEAR:
        k_linear_fwd((int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                     in_val(m, n, 1), in_val(m, n, 2), y);
        break;
    case IR_MATMUL: forward_matmul(m, n, y); break;
    case IR_TRISOLVE: {
        int batch, r, c;
        rt_matrix_dims(n, &batch, &r, &c);
        k_trisolve_fwd(batch, r, c, in_val(m, n, 0), in_val(m, n, 1), y);
        break;
    }
    case IR_RMSNORM: k_rmsnorm_fwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), y, m->aux[id]); break;
    case IR_LAYERNORM:
        k_layernorm_fwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), y, m->aux[id]);
        break;
    case IR_L2NORM: k_l2norm_fwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), y, m->aux[id]); break;
    case IR_GATED_RMSNORM:
        k_gated_rmsnorm_fwd(n->iattr[0], rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1),
                            in_val(m, n, 2), y, m->aux[id]);
        break;
    case IR_SHORT_CONV:
        k_conv_fwd(n->shape[0], n->shape[1], n->shape[2], in_node(m, n, 1)->shape[1], in_val(m, n, 0),
                   in_val(m, n, 1), y);
        break;
    case IR_LINATTN: forward_linattn(m, id, n, y); break;
    case IR_STOPGRAD: memcpy(y, in_val(m, n, 0), ir_numel(n) * sizeof *y); break;
    case IR_POINTWISE: {
        const ir_pointwise *pw = &m->g->pointwise[n->iattr[0]];
        const float *in[AA_MAX_POINTWISE_ARGS];
        for (int a = 0; a < n->n_in; a++) in[a] = in_val(m, n, a);
        k_pointwise_fwd(pw->nargs, pw->fn, ir_numel(n), in, y);
        break;
    }
    case IR_EMBED:
        k_embed_fwd(ir_numel(in_node(m, n, 0)), (int)rt_last_dim(n), (const int32_t *)in_val(m, n, 0), in_val(m, n, 1), y);
        break;
    case IR_LOGITS:
        k_linear_fwd((int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                     in_val(m, n, 1), NULL, y);
        break;
    case IR_XENT: {
        const ir_node *lg = in_node(m, n, 0);
        y[0] = k_xent_fwd(rt_rows(lg), (int)rt_last_dim(lg), in_val(m, n, 0), (const int32_t *)in_val(m, n, 1), m->aux[id]);
        break;
    }
    case IR_AUX_LOSS: {
        size_t k = ir_numel(in_node(m, n, 0));
        double s = 0;
        const float *x = in_val(m, n, 0);
        for (size_t i = 0; i < k; i++) s += x[i];
        y[0] = (float)(n->fattr[0] * s / (double)k);
        break;
    }
    case IR_LOSS_SUM: {
        float s = 0;
        for (int a = 0; a < n->n_in; a++) s += in_val(m, n, a)[0];
        y[0] = s;
        break;
    }
    default: break;
    }
}

/* Token ids index the embedding and the loss's rows: an id outside the
 * vocabulary would read or write out of bounds, so it never gets there. */
static int check_ids(rt_model *m, const int32_t *ids, size_t n, int lowest, const char *what)
{
    int vocab = m->g->dims.vocab;
    for (size_t i = 0; ids && i < n; i++) {
        if (ids[i] >= lowest && ids[i] < vocab) continue;
        snprintf(m->input_error, sizeof m->input_error,
                 "%s id %d at position %zu of the batch is outside the vocabulary [%d, %d): the data does not fit "
                 "this model", what, (int)ids[i], i, lowest, vocab);
        return -1;
    }
    return 0;
}

const char *rt_input_error(const rt_model *m) { return m->input_error[0] ? m->input_error : NULL; }

float rt_forward(rt_model *m, const int32_t *tokens, const int32_t *targets)
{
    const ir_graph *g = m->g;
    size_t bt = (size_t)g->dims.batch * (size_t)g->dims.time;
    m->input_error[0] = 0;
    if (check_ids(m, tokens, bt, 0, "token") < 0 || check_ids(m, targets, bt, -1, "target") < 0) {
        m->loss = NAN;
        return m->loss;
    }
    if (m->on_gpu) return rt_gpu_forward(m, tokens, targets);
    if (g->tokens > 0 && tokens) memcpy(m->val[g->tokens], tokens, bt * sizeof *tokens);
    if (g->targets > 0 && targets) memcpy(m->val[g->targets], targets, bt * sizeof *targets);
    for (int i = 1; i < g->n_nodes; i++) {
        running(g, RT_FORWARD, i);
        if (!m->profile) { forward_node(m, i); continue; }
        double t0 = rt_now();
        forward_node(m, i);
        m->prof_fwd[g->nodes[i].op] += rt_now() - t0;
    }
    running(NULL, RT_IDLE, -1);
    m->loss = g->loss > 0 ? m->val[g->loss][0] : 0.0f;
    return m->loss;
}

float rt_xent(const rt_model *m)
{
    if (m->on_gpu) return m->gpu_xent;
    return m->g->xent > 0 ? m->val[m->g->xent][0] : m->loss;
}

/* ---- backward ------------------------------------------------------------------ */

static void backward_layout(rt_model *m, const ir_node *n, const float *dy)
{
    const ir_node *x = in_node(m, n, 0);
    float *dx = in_grad(m, n, 0);
    k_shape sx = rt_shape_of(x), sy = rt_shape_of(n);
    switch (n->op) {
    case IR_PERMUTE: {
        int inv[K_MAX_RANK] = {0, 1, 2, 3};
        for (int i = 0; i < n->rank; i++) inv[n->iattr[i]] = i;
        if (dx) k_permute(&sy, inv, dy, dx, 1);
        break;
    }
    case IR_SLICE:
        if (dx) k_slice_bwd(&sx, n->iattr[0], n->iattr[1], n->iattr[2], dy, dx);
        break;
    case IR_EXPAND:
        if (dx) k_expand_bwd(&sx, &sy, dy, dx);
        break;
    case IR_PAD:
        if (dx) {
            k_slice_fwd(&sy, n->iattr[0], n->iattr[1], x->shape[n->iattr[0]], dy, m->scratch);
            add_into(ir_numel(x), m->scratch, dx);
        }
        break;
    case IR_CONCAT: {
        int axis = n->iattr[0], la = x->shape[axis];
        const ir_node *b = in_node(m, n, 1);
        if (dx) {
            k_slice_fwd(&sy, axis, 0, la, dy, m->scratch);
            add_into(ir_numel(x), m->scratch, dx);
        }
        float *db = in_grad(m, n, 1);
        if (db) {
            k_slice_fwd(&sy, axis, la, b->shape[axis], dy, m->scratch);
            add_into(ir_numel(b), m->scratch, db);
        }
        break;
    }
    default: break;
    }
}

static void backward_linattn(rt_model *m, int id, const ir_node *n, const float *dy)
{
    k_linattn_cfg c;
    rt_linattn_cfg(m->g, n, &c);
    c.lambda = rt_lambdas(m, id);
    k_linattn_bwd(&c, in_val(m, n, 0), in_val(m, n, 1), in_val(m, n, 2), in_val(m, n, 3), in_val(m, n, 4), NULL,
                  m->aux[id], dy, NULL, in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2), in_grad(m, n, 3),
                  in_grad(m, n, 4), NULL, m->scratch);
}

static void backward_matmul(rt_model *m, const ir_node *n, const float *dy)
{
    int batch, ar, ac, br, bc;
    rt_matrix_dims(in_node(m, n, 0), &batch, &ar, &ac);
    rt_matrix_dims(in_node(m, n, 1), &batch, &br, &bc);
    k_matmul_bwd(batch, ar, ac, br, bc, n->iattr[0], n->iattr[1], in_val(m, n, 0), in_val(m, n, 1), dy,
                 in_grad(m, n, 0), in_grad(m, n, 1));
}

static void backward_node(rt_model *m, int id)
{
    const ir_node *n = &m->g->nodes[id];
    const float *dy = m->grad[id], *y = m->val[id];
    switch (n->op) {
    case IR_RESHAPE:
    case IR_PERMUTE:
    case IR_SLICE:
    case IR_CONCAT:
    case IR_PAD:
    case IR_EXPAND: backward_layout(m, n, dy); break;
    case IR_BINARY: {
        k_shape sa = rt_shape_as_rank(in_node(m, n, 0), n->rank), sb = rt_shape_as_rank(in_node(m, n, 1), n->rank);
        k_shape sy = rt_shape_of(n);
        k_binary_bwd(n->iattr[0], &sa, in_val(m, n, 0), &sb, in_val(m, n, 1), &sy, dy, in_grad(m, n, 0),
                     in_grad(m, n, 1));
        break;
    }
    case IR_UNARY:
        k_unary_bwd(n->iattr[0], n->fattr[0], n->fattr[1], ir_numel(n), in_val(m, n, 0), y, dy, in_grad(m, n, 0));
        break;
    case IR_REDUCE: {
        k_shape sx = rt_shape_of(in_node(m, n, 0));
        k_reduce_bwd(n->iattr[0], &sx, n->iattr[1], in_val(m, n, 0), y, dy, in_grad(m, n, 0));
        break;
    }
    case IR_MASK: {
        k_shape s = rt_shape_of(n);
        if (in_grad(m, n, 0)) k_mask(n->iattr[0], n->iattr[1], &s, dy, in_grad(m, n, 0), 1);
        break;
    }
    case IR_LINEAR:
        k_linear_bwd((int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                     in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2));
        break;
    case IR_MATMUL: backward_matmul(m, n, dy); break;
    case IR_TRISOLVE: {
        int batch, r, c;
        rt_matrix_dims(n, &batch, &r, &c);
        k_trisolve_bwd(batch, r, c, in_val(m, n, 0), y, dy, in_grad(m, n, 0), in_grad(m, n, 1));
        break;
    }
    case IR_RMSNORM:
        k_rmsnorm_bwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), m->aux[id], dy, in_grad(m, n, 0),
                      in_grad(m, n, 1));
        break;
    case IR_LAYERNORM:
        k_layernorm_bwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1), m->aux[id], dy,
                        in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2));
        break;
    case IR_L2NORM:
        k_l2norm_bwd(rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), y, m->aux[id], dy, in_grad(m, n, 0));
        break;
    case IR_GATED_RMSNORM:
        k_gated_rmsnorm_bwd(n->iattr[0], rt_rows(n), (int)rt_last_dim(n), in_val(m, n, 0), in_val(m, n, 1),
                            in_val(m, n, 2), m->aux[id], dy, in_grad(m, n, 0), in_grad(m, n, 1), in_grad(m, n, 2));
        break;
    case IR_SHORT_CONV:
        k_conv_bwd(n->shape[0], n->shape[1], n->shape[2], in_node(m, n, 1)->shape[1], in_val(m, n, 0),
                   in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1));
        break;
    case IR_LINATTN: backward_linattn(m, id, n, dy); break;
    case IR_POINTWISE: {
        const ir_pointwise *pw = &m->g->pointwise[n->iattr[0]];
        const float *in[AA_MAX_POINTWISE_ARGS];
        float *dx[AA_MAX_POINTWISE_ARGS];
        for (int a = 0; a < n->n_in; a++) {
            in[a] = in_val(m, n, a);
            dx[a] = in_grad(m, n, a);
        }
        k_pointwise_bwd(pw->nargs, (void *const *)pw->deriv, ir_numel(n), in, dy, dx);
        break;
    }
    case IR_EMBED: {
        const ir_node *table = in_node(m, n, 1);
        if (in_grad(m, n, 1))
            k_embed_bwd(ir_numel(in_node(m, n, 0)), (int)rt_last_dim(n), table->shape[0],
                        (const int32_t *)in_val(m, n, 0), dy, in_grad(m, n, 1));
        break;
    }
    case IR_LOGITS:
        k_linear_bwd((int)rt_rows(n), (int)rt_last_dim(in_node(m, n, 0)), (int)rt_last_dim(n), in_val(m, n, 0),
                     in_val(m, n, 1), dy, in_grad(m, n, 0), in_grad(m, n, 1), NULL);
        break;
    case IR_XENT: {
        const ir_node *lg = in_node(m, n, 0);
        if (in_grad(m, n, 0))
            k_xent_bwd(rt_rows(lg), (int)rt_last_dim(lg), m->aux[id], (const int32_t *)in_val(m, n, 1), dy[0],
                       in_grad(m, n, 0));
        break;
    }
    case IR_AUX_LOSS: {
        float *dx = in_grad(m, n, 0);
        size_t k = ir_numel(in_node(m, n, 0));
        float s = n->fattr[0] * dy[0] / (float)k;
        if (dx)
            for (size_t i = 0; i < k; i++) dx[i] += s;
        break;
    }
    case IR_LOSS_SUM:
        for (int a = 0; a < n->n_in; a++)
            if (in_grad(m, n, a)) in_grad(m, n, a)[0] += dy[0];
        break;
    default: break;
    }
}

/* Zero the activation-gradient buffers that node id is the first to write
 * (a reshape's gradient is its root's buffer, so roots are what count). */
static void zero_new_gradients(rt_model *m, int id)
{
    const ir_node *n = &m->g->nodes[id];
    for (int a = 0; a < n->n_in; a++) {
        int j = n->in[a];
        if (j <= 0 || !m->needs_grad[j]) continue;
        int root = m->storage[j];
        if (m->g->nodes[root].op == IR_PARAM || m->last_grad_use[root] != id) continue;
        int seen = 0;   /* the same buffer twice: zero once */
        for (int b = 0; b < a; b++) seen |= n->in[b] > 0 && m->storage[n->in[b]] == root;
        if (!seen) memset(m->grad[root], 0, ir_numel(&m->g->nodes[root]) * sizeof(float));
    }
}

void rt_backward(rt_model *m)
{
    const ir_graph *g = m->g;
    if (!m->training || g->loss <= 0) return;
    if (m->on_gpu) {
        rt_gpu_backward(m);
        return;
    }
    memset(m->param_grads, 0, m->n_param_floats * sizeof(float));
    m->grad[g->loss][0] = 1.0f;
    for (int i = g->loss; i > 0; i--) {
        if (!m->needs_grad[i] || g->nodes[i].op == IR_PARAM || g->nodes[i].op == IR_RESHAPE) continue;
        double t0 = m->profile ? rt_now() : 0;
        running(g, RT_BACKWARD, i);
        zero_new_gradients(m, i);
        backward_node(m, i);
        if (m->profile) m->prof_bwd[g->nodes[i].op] += rt_now() - t0;
    }
    running(NULL, RT_IDLE, -1);
}

void rt_model_set_profile(rt_model *m, int on) { m->profile = on; }

void rt_model_print_profile(const rt_model *m, FILE *out)
{
    double total = 0;
    for (int op = 0; op < IR_OP_COUNT; op++) total += m->prof_fwd[op] + m->prof_bwd[op];
    if (total <= 0) return;
    fprintf(out, "%-16s %10s %10s %7s\n", "op", "forward s", "backward s", "share");
    for (int op = 0; op < IR_OP_COUNT; op++) {
        double t = m->prof_fwd[op] + m->prof_bwd[op];
        if (t <= 0) continue;
        ir_node probe = {.op = (ir_op)op};
        const char *name = op == IR_UNARY ? "unary" : op == IR_BINARY ? "binary" : op == IR_REDUCE ? "reduce"
                           : op == IR_MASK ? "mask" : ir_op_name(&probe);
        fprintf(out, "%-16s %10.3f %10.3f %6.1f%%\n", name, m->prof_fwd[op], m->prof_bwd[op], 100 * t / total);
    }
    fprintf(out, "%-16s %21.3f\n", "total", total);
}

float *rt_value(rt_model *m, int node)
{
    if (node <= 0 || node >= m->g->n_nodes) return NULL;
    return m->on_gpu ? rt_gpu_value(m, node) : m->val[node];
}

const float *rt_logits(const rt_model *m)
{
    return m->on_gpu ? rt_gpu_value((rt_model *)m, m->g->logits) : m->val[m->g->logits];
}

/* ---- optimiser ------------------------------------------------------------------- */

double rt_adamw_step(rt_model *m, const rt_config *cfg, float lr, int step)
{
    if (m->on_gpu) return rt_gpu_adamw_step(m, cfg, lr, step);
    double norm = sqrt(k_sumsq(m->n_param_floats, m->param_grads));
    /* Same rule as torch.nn.utils.clip_grad_norm_ (the golden test's peer). */
    double coef = cfg->clip / (norm + 1e-6);
    if (cfg->clip > 0 && coef < 1.0) k_scale_inplace(m->n_param_floats, m->param_grads, (float)coef);
    k_adamw h = {lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, step};
    const ir_graph *g = m->g;
    for (int p = 0; p < g->n_params; p++) {
        size_t off = m->param_off[p], n = ir_numel(&g->nodes[g->params[p].node]);
        running(g, RT_OPTIMISER, g->params[p].node);
        k_adamw_update(&h, n, m->params + off, m->param_grads + off, m->adam_m + off, m->adam_v + off,
                       g->params[p].decay);
    }
    running(NULL, RT_IDLE, -1);
    return norm;
}
