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
    /* Per-op time, seconds, forward and backward (rt_model_profile). */
    int profile;
    double prof_fwd[IR_OP_COUNT], prof_bwd[IR_OP_COUNT];
    double prof_linattn_fwd, prof_linattn_bwd;
};

void rt_linattn_cfg(const ir_graph *g, const ir_node *n, k_linattn_cfg *c);
/* Per-head constant decays of a linear-attention node, or NULL. */
const float *rt_lambdas(const rt_model *m, int node);

#endif
