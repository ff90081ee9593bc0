/*
 * plan.c — memory planning and parameter storage for an executable model.
 *
 * Four arenas, allocated once (llm.c style):
 *   params   values, gradients, AdamW m and v of every parameter (contiguous,
 *            so clipping and the optimiser are single passes)
 *   acts     activations. Training keeps all of them for the backward pass;
 *            forward-only models reuse buffers by liveness.
 *   grads    activation gradients, reused by liveness: the gradient of node j
 *            lives from the backward of its last consumer to its own.
 *   scratch  temporaries of the op that is running (the largest need).
 * Ops that save state for their backward (norm statistics, softmax
 * probabilities, linear-attention chunk states) get an "aux" buffer kept with
 * the activations.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "rt_internal.h"

#define ALIGN_FLOATS 16   /* 64-byte alignment for every buffer */

static size_t align_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static float *arena_alloc(size_t floats)
{
    size_t bytes = align_up(floats ? floats : 1) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* A model on a GPU keeps its activations, gradients, scratch and optimiser
 * moments there. Their host arenas are address space only (no access, no
 * memory): the plan's pointers into them are offsets into the device
 * arenas (exec_gpu.c), and host code that touched one would fault at once
 * instead of reading stale numbers. */
static float *arena_reserve(size_t floats)
{
    void *p = mmap(NULL, align_up(floats ? floats : 1) * sizeof(float), PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static float *arena_for(const rt_model *m, size_t floats, int device_side)
{
    return m->on_gpu && device_side ? arena_reserve(floats) : arena_alloc(floats);
}

static void arena_release(const rt_model *m, float *p, size_t floats, int device_side)
{
    if (!p) return;
    if (m->on_gpu && device_side) munmap(p, align_up(floats ? floats : 1) * sizeof(float));
    else free(p);
}

/* ---- interval allocation ------------------------------------------------------ */

typedef struct interval { int start, end; size_t size, off; } interval;

static int by_start(const void *a, const void *b)
{
    const interval *x = *(interval *const *)a, *y = *(interval *const *)b;
    return (x->start > y->start) - (x->start < y->start);
}

/* First-fit placement of intervals [start, end] (inclusive, in execution
 * steps): two buffers may share memory only if their lifetimes are disjoint.
 * Returns the arena size. O(n^2), fine for graphs of a few thousand nodes. */
static size_t place_intervals(interval *iv, int n)
{
    interval **order = malloc(sizeof *order * (size_t)(n ? n : 1));
    interval **live = malloc(sizeof *live * (size_t)(n ? n : 1));
    int n_live = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) order[i] = &iv[i];
    qsort(order, (size_t)n, sizeof *order, by_start);
    for (int i = 0; i < n; i++) {
        interval *it = order[i];
        int k = 0;   /* drop buffers that died before this one starts */
        for (int j = 0; j < n_live; j++)
            if (live[j]->end >= it->start) live[k++] = live[j];
        n_live = k;
        size_t off = 0;   /* lowest offset that overlaps no live buffer */
        for (int again = 1; again;) {
            again = 0;
            for (int j = 0; j < n_live; j++) {
                if (off < live[j]->off + live[j]->size && live[j]->off < off + it->size) {
                    off = live[j]->off + live[j]->size;
                    again = 1;
                }
            }
        }
        it->off = off;
        if (off + it->size > total) total = off + it->size;
        live[n_live++] = it;
    }
    free(order);
    free(live);
    return total;
}

/* ---- what each op needs --------------------------------------------------------- */

static size_t rows_of(const ir_node *n) { return ir_numel(n) / (size_t)n->shape[n->rank - 1]; }

void rt_linattn_cfg(const ir_graph *g, const ir_node *n, k_linattn_cfg *c)
{
    const ir_node *q = &g->nodes[n->in[0]], *v = &g->nodes[n->in[2]];
    memset(c, 0, sizeof *c);
    c->B = q->shape[0];
    c->H = q->shape[1];
    c->T = q->shape[2];
    c->Dk = q->shape[3];
    c->Dv = v->shape[3];
    c->delta = (n->iattr[0] & AA_DELTA) != 0;
    c->gate = n->iattr[2];
    c->chunk = n->iattr[1];
}

static int has_lambda(const ir_node *n) { return (n->iattr[0] & AA_MULTISCALE) || n->fattr[0] > 0.0f; }

/* Floats kept from forward to backward. */
static size_t aux_floats(const ir_graph *g, const ir_node *n)
{
    switch (n->op) {
    case IR_RMSNORM:
    case IR_L2NORM:
    case IR_GATED_RMSNORM: return rows_of(n);
    case IR_LAYERNORM: return 2 * rows_of(n);
    case IR_XENT: return ir_numel(&g->nodes[n->in[0]]);   /* softmax probabilities */
    case IR_LINATTN: {
        k_linattn_cfg c;
        rt_linattn_cfg(g, n, &c);
        return align_up(k_linattn_saved_floats(&c)) + (size_t)c.H;   /* + per-head lambdas */
    }
    default: return 0;
    }
}

static size_t scratch_floats(const ir_graph *g, const ir_node *n, int threads)
{
    switch (n->op) {
    case IR_LINATTN: {
        k_linattn_cfg c;
        rt_linattn_cfg(g, n, &c);
        return k_linattn_scratch_floats(&c, threads);
    }
    case IR_CONCAT:
    case IR_PAD: return ir_numel(n);   /* window copies in the backward */
    default: return 0;
    }
}

/* ---- liveness ---------------------------------------------------------------------- */

/* needs_grad: a parameter, or an op with such an input, from which a
 * gradient path leads to the loss. last_use: the last node reading a buffer (forward order);
 * last_grad_use: the last consumer that propagates a gradient into it.
 * A reshape owns no memory: its value and gradient alias the buffers of its
 * storage root, so uses through the alias count as uses of the root. */
static void analyse(rt_model *m)
{
    const ir_graph *g = m->g;
    int n = g->n_nodes;
    unsigned char *depends = calloc((size_t)n, 1), *reaches = calloc((size_t)n, 1);
    for (int i = 1; i < n; i++) {
        const ir_node *x = &g->nodes[i];
        depends[i] = x->op == IR_PARAM;
        for (int a = 0; a < x->n_in && x->op != IR_STOPGRAD; a++)   /* a stop cuts the chain */
            if (x->in[a] > 0) depends[i] |= depends[x->in[a]];
    }
    /* a node gets a gradient only along paths no stop cuts: one that
     * feeds the loss only through aa_stop_gradient would otherwise run its
     * backward with no gradient buffer to read */
    ir_gradient_reaches(g, reaches);
    for (int i = 0; i < n; i++) {
        m->needs_grad[i] = m->training && depends[i] && reaches[i];
        m->last_use[i] = i;
        m->last_grad_use[i] = -1;
        m->storage[i] = i > 0 && g->nodes[i].op == IR_RESHAPE ? m->storage[g->nodes[i].in[0]] : i;
    }
    for (int i = 1; i < n; i++) {
        const ir_node *x = &g->nodes[i];
        if (x->op == IR_RESHAPE) continue;   /* an alias reads nothing */
        for (int a = 0; a < x->n_in; a++) {
            int j = x->in[a];
            if (j <= 0) continue;
            int root = m->storage[j];
            m->last_use[root] = i;
            if (m->needs_grad[i] && m->needs_grad[j] && i > m->last_grad_use[root]) m->last_grad_use[root] = i;
        }
    }
    /* Inputs, logits and the losses stay readable after forward. */
    int keep[5] = {g->tokens, g->targets, g->logits, g->loss, g->xent};
    for (int k = 0; k < 5; k++)
        if (keep[k] > 0) m->last_use[m->storage[keep[k]]] = n;
    free(depends);
    free(reaches);
}

/* ---- parameters ------------------------------------------------------------------------ */

static int plan_params(rt_model *m)
{
    const ir_graph *g = m->g;
    m->param_off = malloc(sizeof(size_t) * (size_t)(g->n_params ? g->n_params : 1));
    size_t total = 0;
    for (int p = 0; p < g->n_params; p++) {
        m->param_off[p] = total;
        total += align_up(ir_numel(&g->nodes[g->params[p].node]));
    }
    m->n_param_floats = total;
    m->params = arena_alloc(total);   /* the host copy: initialisation, checkpoints */
    m->param_grads = arena_for(m, total, 1);
    m->adam_m = m->training ? arena_for(m, total, 1) : NULL;
    m->adam_v = m->training ? arena_for(m, total, 1) : NULL;
    if (!m->params || !m->param_grads || (m->training && (!m->adam_m || !m->adam_v))) return -1;
    for (int p = 0; p < g->n_params; p++) {
        int node = g->params[p].node;
        m->val[node] = m->params + m->param_off[p];
        m->grad[node] = m->param_grads + m->param_off[p];
    }
    return 0;
}

/* ---- activations and gradients ------------------------------------------------------------ */

static int plan_activations(rt_model *m)
{
    const ir_graph *g = m->g;
    int n = g->n_nodes;
    interval *iv = calloc((size_t)n, sizeof *iv);
    int count = 0;
    int *slot = malloc(sizeof(int) * (size_t)n);
    for (int i = 1; i < n; i++) {
        const ir_node *x = &g->nodes[i];
        slot[i] = -1;
        if (x->op == IR_PARAM || x->op == IR_RESHAPE) continue;
        /* Training keeps every activation until the backward has run. */
        iv[count] = (interval){i, m->training ? n : m->last_use[i], align_up(ir_numel(x)), 0};
        slot[i] = count++;
    }
    size_t act = place_intervals(iv, count);
    size_t aux_total = 0;
    for (int i = 1; i < n; i++) aux_total += align_up(aux_floats(g, &g->nodes[i]));
    m->n_act_floats = act + aux_total;
    m->acts = arena_for(m, m->n_act_floats, 1);
    if (!m->acts) { free(iv); free(slot); return -1; }
    size_t aux_off = act;
    for (int i = 1; i < n; i++) {
        if (slot[i] >= 0) m->val[i] = m->acts + iv[slot[i]].off;
        if (g->nodes[i].op == IR_RESHAPE) m->val[i] = m->val[m->storage[i]];
        size_t a = aux_floats(g, &g->nodes[i]);
        if (a) {
            m->aux[i] = m->acts + aux_off;
            aux_off += align_up(a);
        }
    }
    free(iv);
    free(slot);
    return 0;
}

static int plan_gradients(rt_model *m)
{
    const ir_graph *g = m->g;
    int n = g->n_nodes;
    interval *iv = calloc((size_t)n, sizeof *iv);
    int *slot = malloc(sizeof(int) * (size_t)n), count = 0;
    for (int j = 1; j < n; j++) {
        slot[j] = -1;
        const ir_node *x = &g->nodes[j];
        if (!m->needs_grad[j] || x->op == IR_PARAM || x->op == IR_RESHAPE) continue;
        int first = j == g->loss ? j : m->last_grad_use[j];
        if (first < 0) continue;
        /* Backward runs nodes from n-1 down to 1: time = n - node. */
        iv[count] = (interval){n - first, n - j, align_up(ir_numel(x)), 0};
        slot[j] = count++;
    }
    m->n_grad_floats = place_intervals(iv, count);
    m->grads = arena_for(m, m->n_grad_floats, 1);
    if (!m->grads) { free(iv); free(slot); return -1; }
    for (int j = 1; j < n; j++) {
        if (slot[j] >= 0) m->grad[j] = m->grads + iv[slot[j]].off;
        if (g->nodes[j].op == IR_RESHAPE && m->needs_grad[j]) m->grad[j] = m->grad[m->storage[j]];
    }
    free(iv);
    free(slot);
    return 0;
}

/* RetNet decays gamma_h = 1 - 2^(-5-h), or one constant for every head,
 * kept after the node's saved state (on a GPU, in the device's copy). */
static int fill_lambdas(rt_model *m)
{
    const ir_graph *g = m->g;
    for (int i = 1; i < g->n_nodes; i++) {
        const ir_node *x = &g->nodes[i];
        if (x->op != IR_LINATTN || !has_lambda(x)) continue;
        k_linattn_cfg c;
        rt_linattn_cfg(g, x, &c);
        float *at = m->aux[i] + align_up(k_linattn_saved_floats(&c));
        float *lam = m->on_gpu ? malloc(sizeof *lam * (size_t)c.H) : at;
        if (!lam) return -1;
        for (int h = 0; h < c.H; h++)
            lam[h] = (x->iattr[0] & AA_MULTISCALE) ? 1.0f - ldexpf(1.0f, -5 - h) : x->fattr[0];
        int rc = m->on_gpu ? rt_gpu_upload(m, at, lam, (size_t)c.H) : 0;
        if (m->on_gpu) free(lam);
        if (rc < 0) return -1;
    }
    return 0;
}

const float *rt_lambdas(const rt_model *m, int node)   /* on a GPU: an address in the plan */
{
    const ir_node *x = &m->g->nodes[node];
    if (!has_lambda(x)) return NULL;
    k_linattn_cfg c;
    rt_linattn_cfg(m->g, x, &c);
    return m->aux[node] + align_up(k_linattn_saved_floats(&c));
}

rt_model *rt_model_new(ir_graph *g, int training, char *err, size_t errlen)
{
    rt_model *m = calloc(1, sizeof *m);
    int n = g->n_nodes;
    if (!m) goto oom;
    m->g = g;
    m->training = training;
    m->threads = omp_get_max_threads();
    m->on_gpu = rt_device_now() != NULL;
    m->val = calloc((size_t)n, sizeof *m->val);
    m->grad = calloc((size_t)n, sizeof *m->grad);
    m->aux = calloc((size_t)n, sizeof *m->aux);
    m->needs_grad = calloc((size_t)n, 1);
    m->last_use = calloc((size_t)n, sizeof(int));
    m->last_grad_use = calloc((size_t)n, sizeof(int));
    m->storage = calloc((size_t)n, sizeof(int));
    if (!m->val || !m->grad || !m->aux || !m->needs_grad || !m->last_use || !m->last_grad_use || !m->storage)
        goto oom;
    analyse(m);
    if (plan_params(m) < 0 || plan_activations(m) < 0) goto oom;
    if (training && plan_gradients(m) < 0) goto oom;
    for (int i = 1; i < n; i++) {
        size_t s = scratch_floats(g, &g->nodes[i], m->threads);
        if (s > m->n_scratch_floats) m->n_scratch_floats = s;
    }
    m->scratch = arena_for(m, m->n_scratch_floats, 1);
    if (!m->scratch) goto oom;
    if (m->on_gpu && rt_gpu_attach(m, err, errlen) < 0) goto failed;
    if (fill_lambdas(m) < 0) {
        snprintf(err, errlen, "%s", rt_gpu_error(m));
        goto failed;
    }
    return m;
oom:
    snprintf(err, errlen, "out of memory planning the model (%d nodes); try a smaller --scale or batch", n);
failed:
    if (m) {
        m->g = NULL;   /* the caller keeps the graph on failure */
        rt_model_free(m);
    }
    return NULL;
}

void rt_model_free(rt_model *m)
{
    if (!m) return;
    rt_gpu_detach(m);
    free(m->params);
    arena_release(m, m->param_grads, m->n_param_floats, 1);
    arena_release(m, m->adam_m, m->n_param_floats, 1);
    arena_release(m, m->adam_v, m->n_param_floats, 1);
    arena_release(m, m->acts, m->n_act_floats, 1);
    arena_release(m, m->grads, m->n_grad_floats, 1);
    arena_release(m, m->scratch, m->n_scratch_floats, 1);
    free(m->val);
    free(m->grad);
    free(m->aux);
    free(m->needs_grad);
    free(m->last_use);
    free(m->last_grad_use);
    free(m->storage);
    free(m->param_off);
    ir_graph_free(m->g);
    free(m);
}

const ir_graph *rt_model_graph(const rt_model *m) { return m->g; }

rt_memory rt_model_memory(const rt_model *m)
{
    size_t p = m->n_param_floats * (m->training ? 4 : 2);
    return (rt_memory){p * sizeof(float), m->n_act_floats * sizeof(float), m->n_grad_floats * sizeof(float),
                       m->n_scratch_floats * sizeof(float)};
}

/* ---- parameter access and initialisation ------------------------------------------------- */

static int param_index(const rt_model *m, const char *name)
{
    for (int p = 0; p < m->g->n_params; p++)
        if (strcmp(m->g->params[p].name, name) == 0) return p;
    return -1;
}

float *rt_param(rt_model *m, const char *name, size_t *n)
{
    int p = param_index(m, name);
    if (p < 0) return NULL;
    rt_params_to_host(m);
    m->device_stale = 1;   /* the caller may write through the pointer */
    if (n) *n = ir_numel(&m->g->nodes[m->g->params[p].node]);
    return m->params + m->param_off[p];
}

float *rt_param_grad(rt_model *m, const char *name, size_t *n)
{
    int p = param_index(m, name);
    if (p < 0) return NULL;
    if (n) *n = ir_numel(&m->g->nodes[m->g->params[p].node]);
    if (m->on_gpu) return rt_gpu_param_grad(m, p);
    return m->param_grads + m->param_off[p];
}

int rt_model_copy_params(rt_model *dst, const rt_model *src)
{
    int copied = 0;
    rt_params_to_host((rt_model *)src);
    rt_params_to_host(dst);
    dst->device_stale = 1;
    for (int p = 0; p < dst->g->n_params; p++) {
        int q = param_index(src, dst->g->params[p].name);
        if (q < 0) continue;
        size_t nd = ir_numel(&dst->g->nodes[dst->g->params[p].node]);
        size_t ns = ir_numel(&src->g->nodes[src->g->params[q].node]);
        if (nd != ns) continue;
        memcpy(dst->params + dst->param_off[p], src->params + src->param_off[q], nd * sizeof(float));
        copied++;
    }
    return copied;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void init_one(const ir_param *p, const ir_node *shape, float *w, uint64_t rng)
{
    size_t n = ir_numel(shape);
    aa_init in = p->init;
    switch (in.kind) {
    case AA_INIT_KIND_CONST:
        for (size_t i = 0; i < n; i++) w[i] = in.a;
        break;
    case AA_INIT_KIND_UNIFORM:
        for (size_t i = 0; i < n; i++) w[i] = in.a + (in.b - in.a) * dt_rand_uniform(&rng);
        break;
    case AA_INIT_KIND_DIRAC: {   /* identity filter: the newest tap is 1 */
        int width = shape->shape[shape->rank - 1];
        memset(w, 0, n * sizeof *w);
        for (size_t i = (size_t)width - 1; i < n; i += (size_t)width) w[i] = 1.0f;
        break;
    }
    case AA_INIT_KIND_LOG_UNIFORM:
        for (size_t i = 0; i < n; i++) w[i] = logf(in.a + (in.b - in.a) * dt_rand_uniform(&rng));
        break;
    case AA_INIT_KIND_INV_SOFTPLUS:
        for (size_t i = 0; i < n; i++) {
            float dt = expf(logf(in.a) + (logf(in.b) - logf(in.a)) * dt_rand_uniform(&rng));
            w[i] = dt + logf(-expm1f(-dt));   /* softplus(w) == dt */
        }
        break;
    case AA_INIT_KIND_NORMAL:
    default: {
        float std = in.kind == AA_INIT_KIND_NORMAL ? in.a : 0.02f;
        for (size_t i = 0; i < n; i++) w[i] = std * dt_rand_normal(&rng);
        break;
    }
    }
}

void rt_model_perturb_params(rt_model *m, uint64_t seed)
{
    rt_params_to_host(m);
    m->device_stale = 1;
    for (int p = 0; p < m->g->n_params; p++) {
        const ir_param *par = &m->g->params[p];
        uint64_t rng = seed * 0x9e3779b97f4a7c15ULL ^ name_hash(par->name) ^ 0x7065727475726221ULL;
        float *w = m->params + m->param_off[p];
        for (size_t i = 0, n = ir_numel(&m->g->nodes[par->node]); i < n; i++)
            w[i] += (2.0f * dt_rand_uniform(&rng) - 1.0f) * fmaxf(fabsf(w[i]), 0.02f);
    }
}

void rt_model_init_params(rt_model *m, uint64_t seed)
{
    for (int p = 0; p < m->g->n_params; p++) {
        const ir_param *par = &m->g->params[p];
        uint64_t rng = seed * 0x9e3779b97f4a7c15ULL ^ name_hash(par->name);
        init_one(par, &m->g->nodes[par->node], m->params + m->param_off[p], rng);
    }
    m->host_stale = 0;
    m->device_stale = 1;
    if (m->on_gpu) {
        rt_gpu_zero_moments(m);
        return;
    }
    if (m->adam_m) memset(m->adam_m, 0, m->n_param_floats * sizeof(float));
    if (m->adam_v) memset(m->adam_v, 0, m->n_param_floats * sizeof(float));
}
