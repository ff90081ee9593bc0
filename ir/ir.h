/*
 * ir.h — the architecture graph.
 *
 * A graph is a flat array of nodes in creation order, which is a topological
 * order: a node's inputs always have smaller indices. The whole model
 * (backbone plus one mixer per layer) is one graph; the runtime plans memory
 * for it and runs forward/backward over it. Node 0 is reserved so that a
 * handle id of 0 can mean "none" (see aa_t in asiarch.h).
 *
 * The DSL implementation (ir/dsl.c) builds graphs through the entry points of
 * asiarch.h; the backbone (runtime) builds through the same entry points, so
 * every shape check lives in one place.
 */
#ifndef ASIARCH_IR_H
#define ASIARCH_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "asiarch.h"

#define IR_MAX_RANK 4
/* Limits on every tensor a graph may hold, checked in 64-bit arithmetic
 * when a node is made: no axis, offset or element count can wrap, and every
 * index a kernel computes fits its types. */
#define IR_MAX_DIM (1 << 30)              /* elements along one axis */
#define IR_MAX_NUMEL ((1LL << 31) - 1)    /* elements in one tensor */
#define IR_MAX_PAD (1 << 20)              /* zeros added by one aa_pad */
#define IR_MAX_IN 5
#define IR_NAME_MAX 96

typedef enum ir_op {
    IR_NONE = 0,
    /* leaves */
    IR_TOKENS,     /* int32 [B,T] input ids */
    IR_TARGETS,    /* int32 [B,T] next ids, -1 = no loss here */
    IR_PARAM,      /* trainable tensor */
    /* shapes */
    IR_RESHAPE, IR_PERMUTE, IR_SLICE, IR_CONCAT, IR_PAD, IR_EXPAND,
    /* elementwise */
    IR_BINARY,     /* iattr[0] = aa_binary_op */
    IR_UNARY,      /* iattr[0] = aa_unary_op, fattr[0..1] */
    /* reductions, scans, masks */
    IR_REDUCE,     /* iattr[0] = aa_reduce_op, iattr[1] = axis */
    IR_MASK,       /* iattr[0] = upper, iattr[1] = diagonal */
    /* linear algebra */
    IR_LINEAR,     /* in: x, W [, bias] */
    IR_MATMUL,     /* iattr[0] = ta, iattr[1] = tb */
    IR_TRISOLVE,
    /* normalisation */
    IR_RMSNORM,    /* in: x, w */
    IR_LAYERNORM,  /* in: x, w, b */
    IR_L2NORM,
    IR_GATED_RMSNORM, /* in: x, gate, w; iattr[0] = mode */
    /* sequence mixing */
    IR_SHORT_CONV, /* in: x, w[C,K] */
    IR_LINATTN,    /* in: q,k,v,beta,gate; iattr[0]=flags iattr[1]=chunk; fattr[0]=lambda */
    IR_POINTWISE,  /* in: 1-4 same-shape tensors; iattr[0] = index into graph->pointwise */
    IR_STOPGRAD,   /* in: x; the value of x, no gradient */
    /* training */
    IR_EMBED,      /* in: tokens, table[V,d] */
    IR_LOGITS,     /* in: h[B,T,d], table[V,d] -> [B,T,V] (tied head) */
    IR_XENT,       /* in: logits, targets -> [1] mean loss over targets >= 0 */
    IR_AUX_LOSS,   /* in: x -> [1] = fattr[0] * mean(x) */
    IR_LOSS_SUM,   /* in: up to IR_MAX_IN scalars -> their sum */
    IR_OP_COUNT
} ir_op;

typedef enum ir_dtype { IR_F32 = 0, IR_I32 = 1 } ir_dtype;

typedef struct ir_node {
    ir_op op;
    ir_dtype dtype;
    int n_in;
    int in[IR_MAX_IN];      /* node ids; 0 = absent optional input */
    int rank;
    int shape[IR_MAX_RANK];
    int iattr[4];
    float fattr[2];
    int param;              /* IR_PARAM: index into graph->params */
    int layer;              /* -1 outside any mixer */
    int line;               /* source line of the DSL call, 0 for backbone */
} ir_node;

typedef struct ir_param {
    char name[IR_NAME_MAX]; /* e.g. "layers.0.mixer.q_proj.weight" */
    int node;
    aa_init init;
    int fan_in;             /* for documentation and defaults */
    int decay;              /* 1: weight decay applies (matrices), 0: no-decay group */
} ir_param;

typedef struct ir_error {
    int line;               /* line in source_file, 0 if none */
    int layer;
    char op[32];            /* DSL entry, e.g. "aa_linear" */
    char message[256];
} ir_error;

/* A candidate-defined scalar function and its partial derivatives
 * (aa_pointwise*), resolved from the candidate's compiled code. */
typedef struct ir_pointwise {
    char name[IR_NAME_MAX];
    int nargs;
    void *fn;
    void *deriv[AA_MAX_POINTWISE_ARGS];
} ir_pointwise;
#define IR_MAX_POINTWISE 16

/* Finds a function the candidate defines by name, only if it is a scalar
 * function float(float x nargs) (NULL otherwise). */
typedef void *(*ir_resolver)(void *ctx, const char *symbol, int nargs);

/* Dimensions of the model the graph is built for. */
typedef struct ir_dims {
    int vocab, model, heads, layers, batch, time, chunk, mlp_hidden;
} ir_dims;

typedef struct ir_graph {
    ir_node *nodes;
    int n_nodes, cap_nodes;
    ir_param *params;
    int n_params, cap_params;
    ir_dims dims;
    int tokens, targets;    /* leaf ids */
    int loss;               /* scalar node (sum of cross-entropy and aux losses) */
    int xent;               /* scalar node: the cross-entropy alone */
    int logits;
    int aux[64];            /* aux-loss nodes added by mixers */
    int n_aux;
    ir_pointwise pointwise[IR_MAX_POINTWISE];
    int n_pointwise;
    ir_resolver resolve;    /* set by whoever loaded the candidate (jit) */
    void *resolve_ctx;
    const char *source_file;/* file the mixer came from (for messages) */
    const char *source_text;/* its text, when loaded by the JIT: the GPU compiles its
                               AA_SCALAR functions (NULL for linked mixers) */
    int cur_layer;          /* layer being built (-1: backbone), for node.layer */
    int has_error;
    ir_error error;
} ir_graph;

/* A handle's node id (0 none, negative an earlier error) and back. Only
 * the engine converts: a candidate cannot name the field's type as anything
 * but a pointer, which no integer converts to. */
static inline int ir_id(aa_t h) { return (int)(intptr_t)h.ref; }
static inline aa_t ir_handle(int id) { return (aa_t){(const aa_tensor *)(intptr_t)id}; }

/* The context a mixer sees as aa_layer. */
struct aa_layer {
    ir_graph *g;
    int index;
    char prefix[48];        /* "layers.3.mixer." */
};

/* Build-time context: the DSL entry points act on this graph. One graph is
 * built at a time per thread. */
void ir_set_current(ir_graph *g);
ir_graph *ir_current(void);

ir_graph *ir_graph_new(const ir_dims *dims, const char *source_file);
void ir_graph_free(ir_graph *g);

/* Low-level construction (used by dsl.c and the backbone). Checks inputs,
 * infers the shape; returns a node id or, on error, records it (attributed to
 * DSL entry `op` at `line`) and returns a negative id. */
int ir_add_node(ir_graph *g, const ir_node *proto, const char *op, int line);
/* A named parameter; full_name must be unique in the graph. */
int ir_add_param(ir_graph *g, const char *full_name, int rank, const int *shape, aa_init init,
                 const char *op, int line);
void ir_fail(ir_graph *g, int line, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "[2,64,128]" */
void ir_shape_str(const ir_node *n, char *buf, size_t len);
static inline ir_node *ir_node_at(ir_graph *g, int id) { return &g->nodes[id]; }
size_t ir_numel(const ir_node *n);
const char *ir_op_name(const ir_node *n);   /* "linear", "unary.silu", ... */

/* Analysis. */
long ir_param_count(const ir_graph *g);
double ir_flops_forward(const ir_graph *g); /* multiply-adds count as 2 */
/* reaches[i] (n_nodes bytes) = 1 when a gradient of the loss flows back to
 * node i: a path to the loss that no aa_stop_gradient cuts. */
void ir_gradient_reaches(const ir_graph *g, unsigned char *reaches);
double ir_node_flops(const ir_graph *g, const ir_node *n);
uint64_t ir_structural_hash(const ir_graph *g);
/* Checks every node's invariants (input ids, ranks, dtypes, shapes); on a
 * violation writes a message into err and returns -1. */
int ir_verify(const ir_graph *g, char *err, size_t errlen);

/* "file:line: op: message" of the first build error. */
void ir_format_error(const ir_graph *g, char *buf, size_t len);
/* Readable dump: one line per node with op, inputs, shape, params, FLOPs. */
void ir_print(const ir_graph *g, FILE *out);

#endif /* ASIARCH_IR_H */
