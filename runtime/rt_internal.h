/* rt_internal.h — private to runtime/: the executable model's layout, shared
 * by the planner (plan.c) and the executor (exec.c). */
#ifndef ASIARCH_RT_INTERNAL_H
#define ASIARCH_RT_INTERNAL_H

#include "kernels.h"
#include "runtime.h"

struct rt_model {
    ir_graph *g;
    int training;
    int threads;
    /* parameters: values, gradients, AdamW moments share one layout */
    float *params, *param_grads, *adam_m, *adam_v;
    size_t *param_off;          /* per parameter, in floats */
    size_t n_param_floats;
    float *acts, *grads, *scratch;
    size_t n_act_floats, n_grad_floats, n_scratch_floats;
    /* per node */
    float **val, **grad, **aux;
    unsigned char *needs_grad;
    int *last_use, *last_grad_use;
    int *storage;               /* node whose buffers a node uses: itself, or for a
                                   reshape the root of the reshape chain (an alias) */
    float loss;
    char input_error[160];      /* why the last forward refused its input ("" = it ran) */
    /* Per-op time, seconds, forward and backward (rt_model_profile). */
    int profile;
    double prof_fwd[IR_OP_COUNT], prof_bwd[IR_OP_COUNT];
    double prof_linattn_fwd, prof_linattn_bwd;
    /* On a GPU (exec_gpu.c): the device's arenas mirror the plan above. The
     * host keeps the parameters for initialisation and checkpoints; which
     * side is newer is tracked so that each is copied only when needed. */
    int on_gpu;
    struct rt_gpu *gpu;
    int host_stale;             /* the device's parameters are newer (after a step) */
    int device_stale;           /* the host's parameters are newer (init, load, rt_param) */
    float gpu_xent;             /* the last forward's cross-entropy, read back from the device */
    struct pw_module *gpu_pointwise;   /* the candidate's pointwise kernels (pointwise_gpu.c) */
};

/* ---- a node's shapes as the kernels take them (exec.c, exec_gpu.c) ---------------- */

static inline k_shape rt_shape_of(const ir_node *n)
{
    k_shape s = {.rank = n->rank};
    for (int i = 0; i < n->rank; i++) s.d[i] = n->shape[i];
    return s;
}

/* Right-align a shape to `rank` axes (numpy broadcasting). */
static inline k_shape rt_shape_as_rank(const ir_node *n, int rank)
{
    k_shape s = {.rank = rank};
    int pad = rank - n->rank;
    for (int i = 0; i < rank; i++) s.d[i] = i < pad ? 1 : n->shape[i - pad];
    return s;
}

static inline size_t rt_last_dim(const ir_node *n) { return (size_t)n->shape[n->rank - 1]; }
static inline size_t rt_rows(const ir_node *n) { return ir_numel(n) / rt_last_dim(n); }

/* Batched matrix dims of a [..., r, c] tensor. */
static inline void rt_matrix_dims(const ir_node *x, int *batch, int *r, int *c)
{
    *r = x->shape[x->rank - 2];
    *c = x->shape[x->rank - 1];
    *batch = (int)(ir_numel(x) / ((size_t)*r * (size_t)*c));
}

/* ---- the GPU side of a model (exec_gpu.c) ---------------------------------------- */

/* The device models are made on (rt_set_device), or NULL for the CPU. */
struct gpu_dev *rt_device_now(void);
/* Allocate the device arenas of a planned model; -1 with err. */
int rt_gpu_attach(rt_model *m, char *err, size_t errlen);
void rt_gpu_detach(rt_model *m);
const char *rt_gpu_error(const rt_model *m);
/* Copy n floats to the device at the plan address `at` (a host arena
 * address of the plan). */
int rt_gpu_upload(rt_model *m, const float *at, const float *src, size_t n);
void rt_gpu_zero_moments(rt_model *m);
/* Bring the host's parameters up to date (no-op on the CPU). */
void rt_params_to_host(rt_model *m);
/* A host copy of parameter p's gradient (valid until the next call). */
float *rt_gpu_param_grad(rt_model *m, int p);
float rt_gpu_forward(rt_model *m, const int32_t *tokens, const int32_t *targets);
void rt_gpu_backward(rt_model *m);
double rt_gpu_adamw_step(rt_model *m, const rt_config *cfg, float lr, int step);
/* A host copy of node's value after forward (valid until the next call). */
float *rt_gpu_value(rt_model *m, int node);
/* A candidate's custom pointwise op on the GPU (pointwise_gpu.c): its
 * AA_SCALAR functions compiled by NVRTC into kernels. */
int rt_gpu_pointwise_fwd(rt_model *m, struct gpu_dev *d, const ir_node *n, uint64_t y);
int rt_gpu_pointwise_bwd(rt_model *m, struct gpu_dev *d, const ir_node *n, uint64_t dy);
void rt_gpu_pointwise_free(rt_model *m);
/* The device address of a plan pointer; record a failure (printf message). */
uint64_t rt_gpu_address(const rt_model *m, const float *plan_pointer);
void rt_gpu_fail(rt_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A stage-"verify" report at line of the mixer's file (printf message). */
aa_report *rt_verify_fail(aa_reports *out, const rt_arch *arch, int line, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The graph is the same at every size, its sizes follow (batch, time), it
 * has no quadratic tensor and its FLOPs grow linearly (sizes.c); appends
 * reports and returns the number of failed checks. */
int rt_check_sizes(const rt_config *cfg, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
                   rt_verify_info *info);

/* rt_check_flow on a model whose numbers are about to be reported (trained,
 * or loaded from a checkpoint), with io's options and reports; tokens (may
 * be NULL) are real data to start from. -1 with err (the first report's
 * message) when it fails. */
int rt_check_trained(rt_model *m, const rt_train_io *io, const char *what, const int32_t *tokens,
                     const char *source_file, char *err, size_t errlen);
/* The same, starting from the first batch of data (real text). */
int rt_check_trained_on(rt_model *m, const rt_train_io *io, const char *what, const dt_tokens *data,
                        const char *source_file, char *err, size_t errlen);

/* Graph building starts (g) or ends (NULL): rt_activity_now says so. */
void rt_note_building(const ir_graph *g);

void rt_linattn_cfg(const ir_graph *g, const ir_node *n, k_linattn_cfg *c);
/* Per-head constant decays of a linear-attention node, or NULL. */
const float *rt_lambdas(const rt_model *m, int node);

#endif
