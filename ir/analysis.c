/*
 * analysis.c — what can be said about a graph without running it: parameter
 * count, forward FLOPs, a canonical structural hash, and the verifier.
 */
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

long ir_param_count(const ir_graph *g)
{
    long n = 0;
    for (int i = 0; i < g->n_params; i++) n += (long)ir_numel(&g->nodes[g->params[i].node]);
    return n;
}

static const ir_node *in0(const ir_graph *g, const ir_node *n, int i) { return &g->nodes[n->in[i]]; }

/* FLOPs of the linear-attention op: the chunkwise form per chunk of C steps
 * does the C x C score matrices (q k^T, k k^T), the triangular solve, the
 * state products and the output; the recurrent form ~6 Dk Dv per step. */
static double linattn_flops(const ir_graph *g, const ir_node *n)
{
    const ir_node *q = in0(g, n, 0), *v = in0(g, n, 2);
    double bh = (double)q->shape[0] * q->shape[1], T = q->shape[2], dk = q->shape[3], dv = v->shape[3];
    int delta = n->iattr[0] & AA_DELTA, C = n->iattr[1];
    if (C <= 0) return bh * T * (delta ? 6.0 : 4.0) * dk * dv;
    double per_token = 2.0 * C * dk + 2.0 * C * dv + 4.0 * dk * dv;   /* M, M U, Q S0, K^T U */
    if (delta) per_token += 2.0 * C * dk + 1.0 * C * dv + 2.0 * dk * dv; /* N, solve, K S0 */
    return bh * T * per_token;
}

double ir_node_flops(const ir_graph *g, const ir_node *n)
{
    double out = (double)ir_numel(n);
    switch (n->op) {
    case IR_LINEAR: return 2.0 * out * in0(g, n, 1)->shape[1];
    case IR_LOGITS: return 2.0 * out * in0(g, n, 1)->shape[1];
    case IR_MATMUL: {
        const ir_node *a = in0(g, n, 0);
        int inner = n->iattr[0] ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
        return 2.0 * out * inner;
    }
    case IR_TRISOLVE: return out * in0(g, n, 0)->shape[in0(g, n, 0)->rank - 1];
    case IR_SHORT_CONV: return 2.0 * out * in0(g, n, 1)->shape[1];
    case IR_LINATTN: return linattn_flops(g, n);
    case IR_RMSNORM:
    case IR_LAYERNORM:
    case IR_L2NORM:
    case IR_GATED_RMSNORM: return 4.0 * out;
    case IR_XENT: return 4.0 * (double)ir_numel(in0(g, n, 0));
    case IR_REDUCE: return 2.0 * (double)ir_numel(in0(g, n, 0));
    case IR_UNARY:
    case IR_BINARY: return out;
    case IR_POINTWISE: return out * 8.0;   /* an opaque scalar call: a rough guess */
    default: return 0.0;
    }
}

void ir_gradient_reaches(const ir_graph *g, unsigned char *reaches)
{
    memset(reaches, 0, (size_t)g->n_nodes);
    if (g->loss > 0) reaches[g->loss] = 1;
    for (int i = g->loss; i > 0; i--) {
        const ir_node *n = &g->nodes[i];
        if (!reaches[i] || n->op == IR_STOPGRAD) continue;   /* a stop passes no gradient back */
        for (int a = 0; a < n->n_in; a++)
            if (n->in[a] > 0) reaches[n->in[a]] = 1;
    }
}

double ir_flops_forward(const ir_graph *g)
{
    double f = 0;
    for (int i = 1; i < g->n_nodes; i++) f += ir_node_flops(g, &g->nodes[i]);
    return f;
}

/* splitmix64 finaliser: a good 64-bit mixer for combining fields. */
static uint64_t mix(uint64_t h, uint64_t v)
{
    uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t mix_float(uint64_t h, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return mix(h, u);
}

/* One pass of the Merkle hash (see ir_structural_hash); param_extra, when
 * given, is folded into each parameter's own hash. */
static void merkle(const ir_graph *g, const uint64_t *param_extra, uint64_t *h)
{
    for (int i = 1; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        uint64_t x = mix(0x6173696172636821ULL, (uint64_t)n->op);
        x = mix(x, (uint64_t)n->dtype);
        x = mix(x, (uint64_t)n->rank);
        for (int d = 0; d < n->rank; d++) x = mix(x, (uint64_t)n->shape[d]);
        for (int a = 0; a < 4; a++) x = mix(x, (uint64_t)(uint32_t)n->iattr[a]);
        for (int a = 0; a < 2; a++) x = mix_float(x, n->fattr[a]);
        if (n->op == IR_POINTWISE) {   /* the function's name stands for its body */
            const char *s = g->pointwise[n->iattr[0]].name;
            for (; *s; s++) x = mix(x, (unsigned char)*s);
        }
        if (n->op == IR_PARAM) {
            const ir_param *p = &g->params[n->param];
            x = mix(x, (uint64_t)p->init.kind);
            x = mix_float(mix_float(x, p->init.a), p->init.b);
            if (param_extra) x = mix(x, param_extra[i]);
        }
        for (int a = 0; a < n->n_in; a++) x = mix(x, n->in[a] > 0 ? h[n->in[a]] : 0x5a5a5a5aULL);
        h[i] = x;
    }
}

/* Merkle hash: a node's hash covers its op, attributes, shape and the hashes
 * of its inputs in argument order — never names, lines or node numbering. So
 * renaming variables or parameters, or reordering independent statements,
 * leaves the hash unchanged; any change to what is computed changes it.
 *
 * Parameters are identified by where they are used: a second pass folds
 * into each parameter the (order-free) set of its uses from the first, so
 * one weight used by two projections (tied) and two weights of the same
 * shape (untied) hash differently, as do designs with different parameter
 * counts. */
uint64_t ir_structural_hash(const ir_graph *g)
{
    uint64_t *h = calloc((size_t)g->n_nodes, sizeof *h), *uses = calloc((size_t)g->n_nodes, sizeof *uses);
    if (!h || !uses) {
        free(h);
        free(uses);
        return 0;
    }
    merkle(g, NULL, h);
    for (int i = 1; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_in; a++)
            if (n->in[a] > 0 && g->nodes[n->in[a]].op == IR_PARAM) uses[n->in[a]] += mix(h[i], (uint64_t)a);
    }
    merkle(g, uses, h);
    /* The loss (when built) reaches everything that matters; otherwise
     * combine all sinks in order of their hashes. */
    uint64_t out = 0;
    if (g->loss > 0) {
        out = h[g->loss];
    } else {
        for (int i = 1; i < g->n_nodes; i++) out += h[i] * 0x9e3779b97f4a7c15ULL; /* order-free sum */
    }
    out = mix(out, (uint64_t)ir_param_count(g));
    free(h);
    free(uses);
    return out;
}

int ir_verify(const ir_graph *g, char *err, size_t errlen)
{
    if (g->has_error) {
        ir_format_error(g, err, errlen);
        return -1;
    }
    for (int i = 1; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->n_in < 0 || n->n_in > IR_MAX_IN) {
            snprintf(err, errlen, "node %%%d: %d inputs (at most %d)", i, n->n_in, IR_MAX_IN);
            return -1;
        }
        for (int a = 0; a < n->n_in; a++) {
            if (n->in[a] < 0 || n->in[a] >= i) {
                snprintf(err, errlen, "node %%%d (%s): input %d refers to %%%d, which is not an earlier node", i,
                         ir_op_name(n), a, n->in[a]);
                return -1;
            }
        }
        ir_node copy = *n;
        char msg[200];
        if (ir_infer_shape(g, &copy, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "node %%%d (%s, line %d): %s", i, ir_op_name(n), n->line, msg);
            return -1;
        }
        ir_normalize_shape(&copy);
        if (copy.rank != n->rank || memcmp(copy.shape, n->shape, sizeof n->shape) != 0) {
            char a[64], b[64];
            ir_shape_str(n, a, sizeof a);
            ir_shape_str(&copy, b, sizeof b);
            snprintf(err, errlen, "node %%%d (%s): recorded shape %s, inferred %s", i, ir_op_name(n), a, b);
            return -1;
        }
        if (n->op == IR_PARAM && (n->param < 0 || n->param >= g->n_params || g->params[n->param].node != i)) {
            snprintf(err, errlen, "node %%%d: parameter record %d does not point back at it", i, n->param);
            return -1;
        }
    }
    if (g->loss > 0 && ir_numel(&g->nodes[g->loss]) != 1) {
        snprintf(err, errlen, "the loss node %%%d is not a scalar", g->loss);
        return -1;
    }
    return 0;
}
