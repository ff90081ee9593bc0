/*
 * dsl.c — the implementation of asiarch.h: every DSL call records one node
 * (plus the parameters it creates) in the current graph.
 *
 * Each entry point fills a prototype node and hands it to ir_add_node(),
 * which checks inputs and infers the shape; the DSL name and the candidate's
 * line travel with it so errors read "cand.c:14: aa_linear: ...".
 */
#include <math.h>
#include <string.h>

#include "ir.h"

static aa_t handle(int id) { return ir_handle(id > 0 ? id : -1); }

static ir_node proto(ir_op op, int n_in, const int *in)
{
    ir_node n = {.op = op, .n_in = n_in, .layer = -1};
    for (int i = 0; i < n_in; i++) n.in[i] = in[i];
    return n;
}

static ir_node proto1(ir_op op, aa_t x)
{
    int id = ir_id(x);
    return proto(op, 1, &id);
}

/* The graph of a layer handle, or the current graph for layer-less ops. */
static ir_graph *graph_of(aa_layer *l) { return l ? l->g : ir_current(); }

static int layer_index(aa_layer *l) { return l ? l->index : -1; }

/* Add a node whose required inputs must not be "none". */
static aa_t add(aa_layer *l, ir_node *n, const char *op, int line)
{
    ir_graph *g = graph_of(l);
    if (!g) return handle(-1);
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] == 0 && !(n->op == IR_LINATTN && i >= 3) && !(n->op == IR_LINEAR && i == 2) &&
            !(n->op == IR_LAYERNORM && i == 2)) {
            ir_fail(g, line, op, "argument %d is AA_NONE; expected a tensor", i + 1);
            return handle(-1);
        }
    }
    n->layer = l ? layer_index(l) : g->cur_layer;
    return handle(ir_add_node(g, n, op, line));
}

/* ---- introspection --------------------------------------------------------- */

int aa__dim(aa_layer *l, int which)
{
    if (!l) return 0;
    const ir_dims *d = &l->g->dims;
    switch (which) {
    case AA_MODEL: return d->model;
    case AA_HEADS: return d->heads;
    case AA_HEAD_DIM: return d->model / d->heads;
    case AA_LAYER: return l->index;
    case AA_LAYERS: return d->layers;
    case AA_CHUNK: return d->chunk;
    case AA_BATCH: return d->batch;
    case AA_TIME: return d->time;
    default: return 0;
    }
}

static const ir_node *lookup(aa_t x)
{
    ir_graph *g = ir_current();
    if (!g || ir_id(x) <= 0 || ir_id(x) >= g->n_nodes) return NULL;
    return &g->nodes[ir_id(x)];
}

int aa__rank(aa_t x)
{
    const ir_node *n = lookup(x);
    return n ? n->rank : 0;
}

int aa__size(aa_t x, int axis)
{
    const ir_node *n = lookup(x);
    if (!n) return 0;
    if (axis < 0) axis += n->rank;
    return axis >= 0 && axis < n->rank ? n->shape[axis] : 0;
}

/* ---- parameters ---------------------------------------------------------------- */

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 40) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.'))
            return 0;
    return 1;
}

/* An initialiser's kind and bounds, checked: an aa_init may come from
 * uninitialised candidate memory as easily as from an AA_INIT_* macro. */
static int valid_init(ir_graph *g, aa_init in, const char *op, int line)
{
    int ok = isfinite(in.a) && isfinite(in.b);
    switch (in.kind) {
    case AA_INIT_KIND_DEFAULT:
    case AA_INIT_KIND_CONST:
    case AA_INIT_KIND_DIRAC: break;
    case AA_INIT_KIND_NORMAL: ok = ok && in.a >= 0.0f && in.a <= 10.0f; break;
    case AA_INIT_KIND_UNIFORM: ok = ok && in.a <= in.b; break;
    case AA_INIT_KIND_LOG_UNIFORM:
    case AA_INIT_KIND_INV_SOFTPLUS: ok = ok && in.a > 0.0f && in.a <= in.b; break;
    default: ok = 0;
    }
    if (!ok)
        ir_fail(g, line, op, "invalid initialiser (kind %d, %g, %g): use an AA_INIT_* macro with finite bounds "
                "(NORMAL: 0 <= std <= 10; UNIFORM: lo <= hi; LOG_UNIFORM, INV_SOFTPLUS: 0 < lo <= hi)",
                in.kind, (double)in.a, (double)in.b);
    return ok;
}

static int make_param(aa_layer *l, const char *name, const char *suffix, int rank, const int *shape,
                      aa_init init, const char *op, int line)
{
    ir_graph *g = graph_of(l);
    if (!g || g->has_error) return -1;
    if (!l) {
        ir_fail(g, line, op, "the layer argument is NULL; pass the aa_layer *l that mixer() received");
        return -1;
    }
    if (!valid_name(name)) {
        ir_fail(g, line, op, "parameter name \"%s\" is invalid: use 1-40 characters from [A-Za-z0-9_.]",
                name ? name : "(null)");
        return -1;
    }
    if (!valid_init(g, init, op, line)) return -1;
    char full[IR_NAME_MAX];
    snprintf(full, sizeof full, "%s%s%s", l->prefix, name, suffix);
    int id = ir_add_param(g, full, rank, shape, init, op, line);
    if (id > 0) g->nodes[id].layer = l->index;
    return id;
}

aa_t aa__param(aa_layer *l, const char *name, int rank, int d0, int d1, int d2, aa_init init, int line)
{
    int shape[3] = {d0, d1, d2};
    ir_graph *g = graph_of(l);
    if (g && (rank < 1 || rank > 3)) {   /* the aa_param1..3 macros pass 1..3; a direct call may not */
        ir_fail(g, line, "aa_param", "rank %d; a parameter has 1 to 3 axes (aa_param1, aa_param2, aa_param3)", rank);
        return handle(-1);
    }
    if (init.kind == AA_INIT_KIND_DEFAULT) init = AA_INIT_NORMAL(0.02f);
    return handle(make_param(l, name, "", rank, shape, init, "aa_param", line));
}

/* ---- shapes ------------------------------------------------------------------------ */

aa_t aa__reshape(aa_t x, int rank, int d0, int d1, int d2, int d3, int line)
{
    ir_node n = proto1(IR_RESHAPE, x);
    int d[4] = {d0, d1, d2, d3};
    n.rank = rank;
    memcpy(n.shape, d, sizeof d);
    return add(NULL, &n, "aa_reshape", line);
}

aa_t aa__permute(aa_t x, int p0, int p1, int p2, int p3, int line)
{
    ir_node n = proto1(IR_PERMUTE, x);
    int r = aa__rank(x);
    int p[4] = {p0, p1, p2, p3};
    for (int i = 0; i < 4; i++) n.iattr[i] = i < r ? p[i] : i;
    return add(NULL, &n, "aa_permute", line);
}

aa_t aa__transpose(aa_t x, int a, int b, int line)
{
    int r = aa__rank(x);
    if (a < 0) a += r;
    if (b < 0) b += r;
    ir_node n = proto1(IR_PERMUTE, x);
    for (int i = 0; i < 4; i++) n.iattr[i] = i;
    if (a >= 0 && a < r && b >= 0 && b < r) {
        n.iattr[a] = b;
        n.iattr[b] = a;
    } else {
        n.iattr[0] = -1;   /* reported by the shape check */
    }
    return add(NULL, &n, "aa_transpose", line);
}

aa_t aa__split_heads(aa_t x, int heads, int line)
{
    ir_graph *g = ir_current();
    const ir_node *xn = lookup(x);
    if (ir_id(x) < 0 || !g) return handle(-1);
    if (!xn || xn->rank != 3) {
        ir_fail(g, line, "aa_split_heads", "input must be [batch, time, heads*dim]%s",
                xn ? " (got a tensor of another rank)" : "");
        return handle(-1);
    }
    int c = xn->shape[2];
    if (heads <= 0 || c % heads != 0) {
        ir_fail(g, line, "aa_split_heads", "%d channels do not split into %d heads", c, heads);
        return handle(-1);
    }
    aa_t r = aa__reshape(x, 4, xn->shape[0], xn->shape[1], heads, c / heads, line);
    return aa__permute(r, 0, 2, 1, 3, line);
}

aa_t aa__merge_heads(aa_t x, int line)
{
    ir_graph *g = ir_current();
    const ir_node *xn = lookup(x);
    if (ir_id(x) < 0 || !g) return handle(-1);
    if (!xn || xn->rank != 4) {
        ir_fail(g, line, "aa_merge_heads", "input must be [batch, heads, time, dim]");
        return handle(-1);
    }
    int b = xn->shape[0], h = xn->shape[1], t = xn->shape[2], d = xn->shape[3];
    aa_t p = aa__permute(x, 0, 2, 1, 3, line);
    return aa__reshape(p, 3, b, t, h * d, 1, line);
}

aa_t aa__slice(aa_t x, int axis, int start, int len, int line)
{
    ir_node n = proto1(IR_SLICE, x);
    n.iattr[0] = axis;
    n.iattr[1] = start;
    n.iattr[2] = len;
    return add(NULL, &n, "aa_slice", line);
}

aa_t aa__concat(aa_t a, aa_t b, int axis, int line)
{
    int in[2] = {ir_id(a), ir_id(b)};
    ir_node n = proto(IR_CONCAT, 2, in);
    n.iattr[0] = axis;
    return add(NULL, &n, "aa_concat", line);
}

aa_t aa__pad(aa_t x, int axis, int before, int after, int line)
{
    ir_node n = proto1(IR_PAD, x);
    n.iattr[0] = axis;
    n.iattr[1] = before;
    n.iattr[2] = after;
    return add(NULL, &n, "aa_pad", line);
}

aa_t aa__expand_as(aa_t x, aa_t like, int line)
{
    ir_graph *g = ir_current();
    if (ir_id(x) < 0 || ir_id(like) < 0 || !g) return handle(-1);
    const ir_node *ln = lookup(like);
    if (!ln) {
        ir_fail(g, line, "aa_expand_as", "argument 2 is not a tensor handle");
        return handle(-1);
    }
    ir_node n = proto1(IR_EXPAND, x);
    n.rank = ln->rank;
    memcpy(n.shape, ln->shape, sizeof n.shape);
    return add(NULL, &n, "aa_expand_as", line);
}

/* ---- elementwise and reductions -------------------------------------------------- */

static const char *binary_name(int op)
{
    static const char *names[] = {"aa_binary", "aa_add", "aa_sub", "aa_mul", "aa_div"};
    return op >= AA_OP_ADD && op <= AA_OP_DIV ? names[op] : names[0];
}

aa_t aa__binary(int op, aa_t a, aa_t b, int line)
{
    int in[2] = {ir_id(a), ir_id(b)};
    ir_node n = proto(IR_BINARY, 2, in);
    n.iattr[0] = op;
    return add(NULL, &n, binary_name(op), line);
}

static const char *unary_names[AA_OP_UNARY_END] = {
    "aa_unary", "aa_scale", "aa_add_scalar", "aa_square", "aa_sqrt", "aa_rsqrt", "aa_exp", "aa_log",
    "aa_neg", "aa_clamp", "aa_sigmoid", "aa_silu", "aa_softplus", "aa_logsigmoid", "aa_gelu", "aa_relu",
    "aa_elu1", "aa_tanh", "aa_abs"};

aa_t aa__unary(int op, aa_t x, float a, float b, int line)
{
    ir_node n = proto1(IR_UNARY, x);
    n.iattr[0] = op;
    n.fattr[0] = a;
    n.fattr[1] = b;
    return add(NULL, &n, op > 0 && op < AA_OP_UNARY_END ? unary_names[op] : unary_names[0], line);
}

aa_t aa__reduce(int op, aa_t x, int axis, int line)
{
    static const char *names[] = {"aa_reduce", "aa_sum", "aa_mean", "aa_var", "aa_cumsum", "aa_softmax",
                                  "aa_entropy"};
    ir_node n = proto1(IR_REDUCE, x);
    n.iattr[0] = op;
    n.iattr[1] = axis;
    return add(NULL, &n, op >= AA_OP_SUM && op <= AA_OP_ENTROPY ? names[op] : names[0], line);
}

aa_t aa__mask(int upper, aa_t x, int diagonal, int line)
{
    ir_node n = proto1(IR_MASK, x);
    n.iattr[0] = upper != 0;
    n.iattr[1] = diagonal;
    return add(NULL, &n, upper ? "aa_triu" : "aa_tril", line);
}

/* ---- linear algebra --------------------------------------------------------------- */

aa_t aa__linear(aa_layer *l, const char *name, aa_t x, int out, int bias, aa_init init, int line)
{
    ir_graph *g = graph_of(l);
    const ir_node *xn = lookup(x);
    if (!g || ir_id(x) < 0 || g->has_error) return handle(-1);
    if (!xn) {
        ir_fail(g, line, "aa_linear", "argument 3 is not a tensor handle");
        return handle(-1);
    }
    if (out <= 0) {
        ir_fail(g, line, "aa_linear", "output size %d must be positive", out);
        return handle(-1);
    }
    if (init.kind == AA_INIT_KIND_DEFAULT) init = AA_INIT_NORMAL(0.02f);
    int wshape[2] = {out, xn->shape[xn->rank - 1]};
    int w = make_param(l, name, ".weight", 2, wshape, init, "aa_linear", line);
    int b = 0;
    if (bias) b = make_param(l, name, ".bias", 1, &out, AA_INIT_ZEROS, "aa_linear", line);
    if (w < 0 || b < 0) return handle(-1);
    int in[3] = {ir_id(x), w, b};
    ir_node n = proto(IR_LINEAR, 3, in);
    return add(l, &n, "aa_linear", line);
}

aa_t aa__matmul(aa_t a, aa_t b, int ta, int tb, int line)
{
    int in[2] = {ir_id(a), ir_id(b)};
    ir_node n = proto(IR_MATMUL, 2, in);
    n.iattr[0] = ta != 0;
    n.iattr[1] = tb != 0;
    return add(NULL, &n, "aa_matmul", line);
}

aa_t aa__trisolve(aa_t a, aa_t b, int line)
{
    int in[2] = {ir_id(a), ir_id(b)};
    ir_node n = proto(IR_TRISOLVE, 2, in);
    return add(NULL, &n, "aa_trisolve", line);
}

/* ---- normalisation ------------------------------------------------------------------ */

static int last_dim(aa_t x)
{
    const ir_node *n = lookup(x);
    return n && n->rank > 0 ? n->shape[n->rank - 1] : 0;
}

aa_t aa__rmsnorm(aa_layer *l, const char *name, aa_t x, int line)
{
    if (ir_id(x) < 0) return handle(-1);
    int d = last_dim(x);
    int w = make_param(l, name, ".weight", 1, &d, AA_INIT_ONES, "aa_rmsnorm", line);
    int in[2] = {ir_id(x), w};
    ir_node n = proto(IR_RMSNORM, 2, in);
    return w < 0 ? handle(-1) : add(l, &n, "aa_rmsnorm", line);
}

aa_t aa__layernorm(aa_layer *l, const char *name, aa_t x, int line)
{
    if (ir_id(x) < 0) return handle(-1);
    int d = last_dim(x);
    int w = make_param(l, name, ".weight", 1, &d, AA_INIT_ONES, "aa_layernorm", line);
    int b = make_param(l, name, ".bias", 1, &d, AA_INIT_ZEROS, "aa_layernorm", line);
    int in[3] = {ir_id(x), w, b};
    ir_node n = proto(IR_LAYERNORM, 3, in);
    return w < 0 || b < 0 ? handle(-1) : add(l, &n, "aa_layernorm", line);
}

aa_t aa__l2norm(aa_t x, int line)
{
    ir_node n = proto1(IR_L2NORM, x);
    return add(NULL, &n, "aa_l2norm", line);
}

aa_t aa__gated_rmsnorm(aa_layer *l, const char *name, aa_t x, aa_t gate, int mode, int line)
{
    if (ir_id(x) < 0 || ir_id(gate) < 0) return handle(-1);
    int d = last_dim(x);
    int w = make_param(l, name, ".weight", 1, &d, AA_INIT_ONES, "aa_gated_rmsnorm", line);
    int in[3] = {ir_id(x), ir_id(gate), w};
    ir_node n = proto(IR_GATED_RMSNORM, 3, in);
    n.iattr[0] = mode == AA_GATE_THEN_NORM;
    return w < 0 ? handle(-1) : add(l, &n, "aa_gated_rmsnorm", line);
}

/* ---- sequence mixing ------------------------------------------------------------------ */

aa_t aa__short_conv(aa_layer *l, const char *name, aa_t x, int width, aa_init init, int line)
{
    ir_graph *g = graph_of(l);
    if (!g || ir_id(x) < 0 || g->has_error) return handle(-1);
    if (width < 1 || width > 64) {
        ir_fail(g, line, "aa_short_conv", "width %d must be in 1..64", width);
        return handle(-1);
    }
    int shape[2] = {last_dim(x), width};
    if (init.kind == AA_INIT_KIND_DEFAULT) {
        float r = 1.0f / sqrtf((float)width);
        init = AA_INIT_UNIFORM(-r, r);
    }
    int w = make_param(l, name, ".weight", 2, shape, init, "aa_short_conv", line);
    int in[2] = {ir_id(x), w};
    ir_node n = proto(IR_SHORT_CONV, 2, in);
    return w < 0 ? handle(-1) : add(l, &n, "aa_short_conv", line);
}

aa_t aa__linattn(aa_t q, aa_t k, aa_t v, aa_t beta, aa_t gate, float lambda, int flags, int line)
{
    if (ir_id(beta) < 0 || ir_id(gate) < 0) return handle(-1);
    int in[5] = {ir_id(q), ir_id(k), ir_id(v), ir_id(beta), ir_id(gate)};
    ir_node n = proto(IR_LINATTN, 5, in);
    ir_graph *g = ir_current();
    n.iattr[0] = flags;
    n.iattr[1] = (flags & AA_RECURRENT) || !g ? 0 : g->dims.chunk;
    n.fattr[0] = lambda;
    if (flags & ~(AA_DELTA | AA_MULTISCALE | AA_RECURRENT)) {
        if (g) ir_fail(g, line, "aa_linattn", "unknown flags 0x%x (allowed: AA_DELTA, AA_MULTISCALE, AA_RECURRENT)",
                       (unsigned)flags);
        return handle(-1);
    }
    return add(NULL, &n, (flags & AA_DELTA) ? "aa_delta_rule" : "aa_linattn", line);
}

aa_t aa__stop_gradient(aa_t x, int line)
{
    ir_node n = proto1(IR_STOPGRAD, x);
    return add(NULL, &n, "aa_stop_gradient", line);
}

/* ---- custom pointwise ops ---------------------------------------------------------------- */

/* Find NAME and NAME_d0.. among the candidate's functions; returns the table
 * index or -1 after recording an error. */
static int resolve_pointwise(ir_graph *g, const char *name, int nargs, int line)
{
    for (int i = 0; i < g->n_pointwise; i++) {
        if (strcmp(g->pointwise[i].name, name) != 0) continue;
        if (g->pointwise[i].nargs == nargs) return i;
        ir_fail(g, line, "aa_pointwise", "'%s' is used with %d and with %d arguments", name, g->pointwise[i].nargs, nargs);
        return -1;
    }
    if (!valid_name(name) || strchr(name, '.')) {
        ir_fail(g, line, "aa_pointwise", "\"%s\" is not a function name", name ? name : "(null)");
        return -1;
    }
    if (g->n_pointwise == IR_MAX_POINTWISE) {
        ir_fail(g, line, "aa_pointwise", "at most %d custom pointwise functions per candidate", IR_MAX_POINTWISE);
        return -1;
    }
    ir_pointwise *p = &g->pointwise[g->n_pointwise];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->nargs = nargs;
    p->fn = g->resolve ? g->resolve(g->resolve_ctx, name, nargs) : NULL;
    if (!p->fn) {
        ir_fail(g, line, "aa_pointwise", "no function 'float %s(%s)' is defined in this file%s", name,
                nargs == 1 ? "float" : nargs == 2 ? "float, float" : nargs == 3 ? "float, float, float"
                                                                     : "float, float, float, float",
                g->resolve ? "" : " (custom pointwise ops need a candidate loaded from source)");
        return -1;
    }
    for (int i = 0; i < nargs; i++) {
        char d[IR_NAME_MAX + 8];
        snprintf(d, sizeof d, "%s_d%d", name, i);
        p->deriv[i] = g->resolve(g->resolve_ctx, d, nargs);
        if (!p->deriv[i]) {
            ir_fail(g, line, "aa_pointwise", "'%s' needs its partial derivative 'float %s(...)' (same arguments), "
                    "one per argument: %s_d0 .. %s_d%d", name, d, name, name, nargs - 1);
            return -1;
        }
    }
    return g->n_pointwise++;
}

aa_t aa__pointwise(const char *name, int nargs, aa_t a, aa_t b, aa_t c, aa_t d, int line)
{
    ir_graph *g = ir_current();
    if (!g || g->has_error) return handle(-1);
    if (nargs < 1 || nargs > AA_MAX_POINTWISE_ARGS) {
        ir_fail(g, line, "aa_pointwise", "%d arguments; expected 1 to %d", nargs, AA_MAX_POINTWISE_ARGS);
        return handle(-1);
    }
    int idx = resolve_pointwise(g, name, nargs, line);
    if (idx < 0) return handle(-1);
    int in[4] = {ir_id(a), ir_id(b), ir_id(c), ir_id(d)};
    ir_node n = proto(IR_POINTWISE, nargs, in);
    n.iattr[0] = idx;
    return add(NULL, &n, "aa_pointwise", line);
}

void aa__aux_loss(aa_layer *l, aa_t x, float weight, int line)
{
    ir_graph *g = graph_of(l);
    if (!g || ir_id(x) < 0 || g->has_error) return;
    if (g->n_aux >= (int)(sizeof g->aux / sizeof g->aux[0])) {
        ir_fail(g, line, "aa_aux_loss", "too many auxiliary losses (at most %d per model)",
                (int)(sizeof g->aux / sizeof g->aux[0]));
        return;
    }
    if (!(weight >= 0.0f && weight <= 100.0f)) {
        ir_fail(g, line, "aa_aux_loss", "weight %g must be in [0, 100]", (double)weight);
        return;
    }
    ir_node n = proto1(IR_AUX_LOSS, x);
    n.fattr[0] = weight;
    aa_t r = add(l, &n, "aa_aux_loss", line);
    if (ir_id(r) > 0) g->aux[g->n_aux++] = ir_id(r);
}
