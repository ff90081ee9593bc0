/*
 * print.c — the readable dump of a graph (`asiarch ir --graph`): one line per
 * node, for auditing what a candidate actually builds.
 *
 *   %12 = linear(%9, %10)  [8,128,64]  layer 0  line 7  flops 1.0M
 */
#include <string.h>

#include "ir_internal.h"

static const char *base_names[IR_OP_COUNT] = {
    [IR_NONE] = "none", [IR_TOKENS] = "tokens", [IR_TARGETS] = "targets", [IR_PARAM] = "param",
    [IR_RESHAPE] = "reshape", [IR_PERMUTE] = "permute", [IR_SLICE] = "slice", [IR_CONCAT] = "concat",
    [IR_PAD] = "pad", [IR_EXPAND] = "expand", [IR_BINARY] = "binary", [IR_UNARY] = "unary",
    [IR_REDUCE] = "reduce", [IR_MASK] = "mask", [IR_LINEAR] = "linear", [IR_MATMUL] = "matmul",
    [IR_TRISOLVE] = "trisolve", [IR_RMSNORM] = "rmsnorm", [IR_LAYERNORM] = "layernorm",
    [IR_L2NORM] = "l2norm", [IR_GATED_RMSNORM] = "gated_rmsnorm", [IR_SHORT_CONV] = "short_conv",
    [IR_LINATTN] = "linattn", [IR_POINTWISE] = "pointwise", [IR_STOPGRAD] = "stop_gradient", [IR_EMBED] = "embed", [IR_LOGITS] = "logits", [IR_XENT] = "cross_entropy",
    [IR_AUX_LOSS] = "aux_loss", [IR_LOSS_SUM] = "loss_sum",
};

static const char *binary_names[] = {"?", "add", "sub", "mul", "div"};
static const char *unary_names[AA_OP_UNARY_END] = {
    "?", "scale", "add_scalar", "square", "sqrt", "rsqrt", "exp", "log", "neg", "clamp", "sigmoid",
    "silu", "softplus", "logsigmoid", "gelu", "relu", "elu1", "tanh", "abs"};
static const char *reduce_names[] = {"?", "sum", "mean", "var", "cumsum", "softmax", "entropy"};

const char *ir_op_name(const ir_node *n)
{
    int a = n->iattr[0];
    switch (n->op) {
    case IR_BINARY: return a >= 1 && a <= 4 ? binary_names[a] : "binary";
    case IR_UNARY: return a >= 1 && a < AA_OP_UNARY_END ? unary_names[a] : "unary";
    case IR_REDUCE: return a >= 1 && a <= 6 ? reduce_names[a] : "reduce";
    case IR_MASK: return a ? "triu" : "tril";
    default: return n->op >= 0 && n->op < IR_OP_COUNT && base_names[n->op] ? base_names[n->op] : "?";
    }
}

static void print_attrs(const ir_graph *g, const ir_node *n, FILE *out)
{
    switch (n->op) {
    case IR_UNARY:
        if (n->iattr[0] == AA_OP_SCALE || n->iattr[0] == AA_OP_ADD_SCALAR) fprintf(out, " c=%g", (double)n->fattr[0]);
        if (n->iattr[0] == AA_OP_CLAMP) fprintf(out, " lo=%g hi=%g", (double)n->fattr[0], (double)n->fattr[1]);
        break;
    case IR_REDUCE: fprintf(out, " axis=%d", n->iattr[1]); break;
    case IR_MASK: fprintf(out, " diagonal=%d", n->iattr[1]); break;
    case IR_PERMUTE: fprintf(out, " perm=(%d,%d,%d,%d)", n->iattr[0], n->iattr[1], n->iattr[2], n->iattr[3]); break;
    case IR_SLICE: fprintf(out, " axis=%d start=%d len=%d", n->iattr[0], n->iattr[1], n->iattr[2]); break;
    case IR_CONCAT: fprintf(out, " axis=%d", n->iattr[0]); break;
    case IR_PAD: fprintf(out, " axis=%d before=%d after=%d", n->iattr[0], n->iattr[1], n->iattr[2]); break;
    case IR_MATMUL: fprintf(out, " ta=%d tb=%d", n->iattr[0], n->iattr[1]); break;
    case IR_GATED_RMSNORM: fprintf(out, " mode=%s", n->iattr[0] ? "gate_then_norm" : "norm_then_gate"); break;
    case IR_LINATTN: {
        static const char *gates[] = {"none", "scalar", "channel"};
        fprintf(out, " delta=%d gate=%s", (n->iattr[0] & AA_DELTA) != 0, gates[n->iattr[2] & 3]);
        if (n->iattr[0] & AA_MULTISCALE) fprintf(out, " lambda=multiscale");
        else if (n->fattr[0] > 0) fprintf(out, " lambda=%g", (double)n->fattr[0]);
        fprintf(out, " form=%s", n->iattr[1] ? "chunk" : "recurrent");
        if (n->iattr[1]) fprintf(out, " chunk=%d", n->iattr[1]);
        break;
    }
    case IR_AUX_LOSS: fprintf(out, " weight=%g", (double)n->fattr[0]); break;
    case IR_POINTWISE: fprintf(out, " fn=%s", g->pointwise[n->iattr[0]].name); break;
    default: break;
    }
}

static void print_si(double v, FILE *out)
{
    const char *unit = "";
    if (v >= 1e9) { v /= 1e9; unit = "G"; }
    else if (v >= 1e6) { v /= 1e6; unit = "M"; }
    else if (v >= 1e3) { v /= 1e3; unit = "K"; }
    fprintf(out, "%.3g%s", v, unit);
}

void ir_print(const ir_graph *g, FILE *out)
{
    const ir_dims *d = &g->dims;
    fprintf(out, "# graph of %s: vocab %d, model %d, heads %d, layers %d, batch %d, time %d, chunk %d\n",
            g->source_file, d->vocab, d->model, d->heads, d->layers, d->batch, d->time, d->chunk);
    fprintf(out, "# %d nodes, %d parameter tensors, %ld parameters, ", g->n_nodes - 1, g->n_params,
            ir_param_count(g));
    print_si(ir_flops_forward(g), out);
    fprintf(out, "FLOP forward, structural hash %016llx\n", (unsigned long long)ir_structural_hash(g));
    for (int i = 1; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        char shape[64];
        ir_shape_str(n, shape, sizeof shape);
        fprintf(out, "%%%-4d = %s", i, ir_op_name(n));
        if (n->op == IR_PARAM) {
            fprintf(out, " \"%s\"", g->params[n->param].name);
        } else {
            fputc('(', out);
            for (int a = 0; a < n->n_in; a++) {
                if (a) fputs(", ", out);
                if (n->in[a] > 0) fprintf(out, "%%%d", n->in[a]);
                else fputs("none", out);
            }
            fputc(')', out);
        }
        print_attrs(g, n, out);
        fprintf(out, "  %s%s", shape, n->dtype == IR_I32 ? " i32" : "");
        if (n->layer >= 0) fprintf(out, "  layer %d", n->layer);
        if (n->line > 0) fprintf(out, "  line %d", n->line);
        double f = ir_node_flops(g, n);
        if (f > 0) {
            fputs("  flops ", out);
            print_si(f, out);
        }
        fputc('\n', out);
    }
    if (g->loss > 0) fprintf(out, "# loss = %%%d\n", g->loss);
}
