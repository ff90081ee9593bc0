/*
 * graph.c — graph storage, node creation and build errors.
 *
 * Every node enters through ir_add_node(), which checks its inputs and infers
 * its shape (ir/shape.c); a failure is recorded once, with the DSL entry and
 * source line that caused it, and returns a negative id that later ops pass
 * through silently.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_internal.h"

static _Thread_local ir_graph *current_graph;

void ir_set_current(ir_graph *g) { current_graph = g; }
ir_graph *ir_current(void) { return current_graph; }

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "asiarch: out of memory (%zu bytes) while building the graph\n", n);
        abort();
    }
    return q;
}

ir_graph *ir_graph_new(const ir_dims *dims, const char *source_file)
{
    ir_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->dims = *dims;
    g->source_file = source_file ? source_file : "<builtin>";
    g->cur_layer = -1;
    g->cap_nodes = 256;
    g->nodes = xrealloc(NULL, sizeof(ir_node) * (size_t)g->cap_nodes);
    memset(&g->nodes[0], 0, sizeof(ir_node));   /* node 0: "none" */
    g->n_nodes = 1;
    return g;
}

void ir_graph_free(ir_graph *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->params);
    free(g);
}

size_t ir_numel(const ir_node *n)
{
    size_t k = 1;
    for (int i = 0; i < n->rank; i++) k *= (size_t)n->shape[i];
    return k;
}

void ir_fail(ir_graph *g, int line, const char *op, const char *fmt, ...)
{
    if (g->has_error) return;   /* keep the first error: later ones are echoes */
    g->has_error = 1;
    g->error.line = line;
    snprintf(g->error.op, sizeof g->error.op, "%s", op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error.message, sizeof g->error.message, fmt, ap);
    va_end(ap);
}

void ir_format_error(const ir_graph *g, char *buf, size_t len)
{
    if (!g->has_error) { snprintf(buf, len, "no error"); return; }
    const ir_error *e = &g->error;
    if (e->line > 0)
        snprintf(buf, len, "%s:%d: %s: %s", g->source_file, e->line, e->op, e->message);
    else
        snprintf(buf, len, "%s: %s: %s", g->source_file, e->op, e->message);
}

/* Validate the input handles of a prototype node. Returns 0, or -1 after
 * recording an error (or silently, when an input already carries one). */
static int check_inputs(ir_graph *g, const ir_node *p, const char *op, int line)
{
    for (int i = 0; i < p->n_in; i++) {
        int id = p->in[i];
        if (id < 0) return -1;                 /* an earlier error: stay quiet */
        if (id >= g->n_nodes) {
            ir_fail(g, line, op, "argument %d is not a tensor handle (id %d)", i + 1, id);
            return -1;
        }
    }
    return 0;
}

int ir_add_node(ir_graph *g, const ir_node *proto, const char *op, int line)
{
    if (!g) return -1;
    if (g->has_error) return -1;
    if (check_inputs(g, proto, op, line) < 0) return -1;
    ir_node n = *proto;
    n.line = line;
    char msg[200] = "";
    if (ir_infer_shape(g, &n, msg, sizeof msg) < 0) {
        ir_fail(g, line, op, "%s", msg);
        return -1;
    }
    ir_normalize_shape(&n);
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes *= 2;
        g->nodes = xrealloc(g->nodes, sizeof(ir_node) * (size_t)g->cap_nodes);
    }
    g->nodes[g->n_nodes] = n;
    return g->n_nodes++;
}

int ir_add_param(ir_graph *g, const char *full_name, int rank, const int *shape, aa_init init,
                 const char *op, int line)
{
    if (g->has_error) return -1;
    for (int i = 0; i < g->n_params; i++) {
        if (strcmp(g->params[i].name, full_name) == 0) {
            int prev = g->nodes[g->params[i].node].line;
            if (prev > 0)
                ir_fail(g, line, op, "parameter '%s' is already defined (line %d); names must be unique per layer",
                        full_name, prev);
            else
                ir_fail(g, line, op, "parameter '%s' is already defined; names must be unique per layer",
                        full_name);
            return -1;
        }
    }
    ir_node p = {.op = IR_PARAM, .dtype = IR_F32, .rank = rank, .layer = -1};
    for (int i = 0; i < rank; i++) {
        if (shape[i] <= 0 || shape[i] > (1 << 24)) {
            ir_fail(g, line, op, "parameter '%s': dimension %d is %d (expected 1..16777216)", full_name, i,
                    shape[i]);
            return -1;
        }
        p.shape[i] = shape[i];
    }
    p.param = g->n_params;
    int id = ir_add_node(g, &p, op, line);
    if (id < 0) return -1;
    if (g->n_params == g->cap_params) {
        g->cap_params = g->cap_params ? 2 * g->cap_params : 64;
        g->params = xrealloc(g->params, sizeof(ir_param) * (size_t)g->cap_params);
    }
    ir_param *q = &g->params[g->n_params++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", full_name);
    q->node = id;
    q->init = init;
    q->fan_in = rank >= 2 ? shape[rank - 1] : 1;
    q->decay = rank >= 2;
    return id;
}
