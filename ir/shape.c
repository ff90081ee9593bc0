/*
 * shape.c — shape inference and checking, one function per op family.
 *
 * Messages are read by a person and by a language model repairing the
 * candidate, so each says what was found and what was expected, with shapes
 * written out ("input has 96 features, expected 128").
 */
#include <stdarg.h>
#include <string.h>

#include "ir_internal.h"

void ir_shape_str(const ir_node *n, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < n->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ",%d" : "%d", n->shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

static int fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

static const ir_node *input(const ir_graph *g, const ir_node *n, int i)
{
    return n->in[i] > 0 ? &g->nodes[n->in[i]] : NULL;
}

static void copy_shape(ir_node *dst, const ir_node *src)
{
    dst->rank = src->rank;
    memcpy(dst->shape, src->shape, sizeof dst->shape);
}

/* Resolve a possibly negative axis; -1 if out of range. */
static int norm_axis(int axis, int rank)
{
    if (axis < 0) axis += rank;
    return axis >= 0 && axis < rank ? axis : -1;
}

static int require_f32(const ir_node *x, int arg, char *msg, size_t len)
{
    if (x->dtype != IR_F32)
        return fail(msg, len, "argument %d holds token ids; expected a float tensor", arg);
    return 0;
}

static int infer_reshape(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    if (n->rank < 1 || n->rank > IR_MAX_RANK) return fail(msg, len, "rank %d; expected 1 to %d", n->rank, IR_MAX_RANK);
    int64_t want = 1;
    for (int i = 0; i < n->rank; i++) {
        if (n->shape[i] <= 0) return fail(msg, len, "dimension %d is %d; expected a positive size", i, n->shape[i]);
        /* in 64 bits, capped at every step: the product of four ints can wrap any size_t */
        want *= n->shape[i];
        if (want > IR_MAX_NUMEL) break;
    }
    if (want != (int64_t)ir_numel(x)) {
        char s[64];
        ir_shape_str(x, s, sizeof s);
        if (want > IR_MAX_NUMEL)
            return fail(msg, len, "cannot reshape %s (%zu elements) into more than %lld elements", s, ir_numel(x),
                        (long long)IR_MAX_NUMEL);
        return fail(msg, len, "cannot reshape %s (%zu elements) into %lld elements", s, ir_numel(x), (long long)want);
    }
    return 0;
}

static int infer_permute(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    int seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < x->rank; i++) {
        int p = n->iattr[i];
        if (p < 0 || p >= x->rank || seen[p])
            return fail(msg, len, "permutation (%d,%d,%d,%d) is not a permutation of the %d axes of the input",
                        n->iattr[0], n->iattr[1], n->iattr[2], n->iattr[3], x->rank);
        seen[p] = 1;
        n->shape[i] = x->shape[p];
    }
    n->rank = x->rank;
    return 0;
}

static int infer_slice(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    int axis = norm_axis(n->iattr[0], x->rank);
    if (axis < 0) return fail(msg, len, "axis %d out of range for rank %d", n->iattr[0], x->rank);
    int64_t start = n->iattr[1], count = n->iattr[2];
    if (start < 0 || count <= 0 || start + count > x->shape[axis])
        return fail(msg, len, "window [%lld, %lld) is outside axis %d of size %d (start >= 0, length >= 1)",
                    (long long)start, (long long)(start + count), axis, x->shape[axis]);
    copy_shape(n, x);
    n->iattr[0] = axis;
    n->shape[axis] = count;
    return 0;
}

static int infer_concat(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *a = input(g, n, 0), *b = input(g, n, 1);
    int axis = norm_axis(n->iattr[0], a->rank);
    if (axis < 0) return fail(msg, len, "axis %d out of range for rank %d", n->iattr[0], a->rank);
    char sa[64], sb[64];
    ir_shape_str(a, sa, sizeof sa);
    ir_shape_str(b, sb, sizeof sb);
    if (a->rank != b->rank) return fail(msg, len, "cannot concatenate %s and %s: ranks differ", sa, sb);
    for (int i = 0; i < a->rank; i++)
        if (i != axis && a->shape[i] != b->shape[i])
            return fail(msg, len, "cannot concatenate %s and %s along axis %d: axis %d differs", sa, sb, axis, i);
    int64_t joined = (int64_t)a->shape[axis] + b->shape[axis];
    if (joined > IR_MAX_DIM) return fail(msg, len, "the result would have %lld elements along axis %d (at most %d)",
                                         (long long)joined, axis, IR_MAX_DIM);
    copy_shape(n, a);
    n->iattr[0] = axis;
    n->shape[axis] = (int)joined;
    return 0;
}

static int infer_pad(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    int axis = norm_axis(n->iattr[0], x->rank);
    if (axis < 0) return fail(msg, len, "axis %d out of range for rank %d", n->iattr[0], x->rank);
    int64_t before = n->iattr[1], after = n->iattr[2];
    if (before < 0 || after < 0 || before + after > IR_MAX_PAD)
        return fail(msg, len, "padding (%lld, %lld) must be non-negative and at most %d in all", (long long)before,
                    (long long)after, IR_MAX_PAD);
    copy_shape(n, x);
    n->iattr[0] = axis;
    n->shape[axis] = (int)(x->shape[axis] + before + after);
    return 0;
}

/* Align b against a from the right (numpy rules); out = broadcast shape. */
static int broadcast(const ir_node *a, const ir_node *b, ir_node *out, char *msg, size_t len)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[64], sb[64];
            ir_shape_str(a, sa, sizeof sa);
            ir_shape_str(b, sb, sizeof sb);
            return fail(msg, len, "cannot broadcast %s with %s: axis %d is %d vs %d", sa, sb, i, da, db);
        }
        out->shape[i] = da > db ? da : db;
    }
    out->rank = rank;
    return 0;
}

/* The target shape is given in n->shape (dsl.c copies it from `like`), so
 * `like` is not an input and stays out of autograd. */
static int infer_expand(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    char sx[64], st[64];
    ir_shape_str(x, sx, sizeof sx);
    ir_shape_str(n, st, sizeof st);
    if (x->rank != n->rank) return fail(msg, len, "cannot expand %s to %s: ranks differ (reshape first)", sx, st);
    for (int i = 0; i < n->rank; i++)
        if (x->shape[i] != n->shape[i] && x->shape[i] != 1)
            return fail(msg, len, "cannot expand %s to %s: axis %d is %d, expected 1 or %d", sx, st, i, x->shape[i],
                        n->shape[i]);
    return 0;
}

static int infer_reduce(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    int axis = norm_axis(n->iattr[1], x->rank);
    if (axis < 0) return fail(msg, len, "axis %d out of range for rank %d", n->iattr[1], x->rank);
    copy_shape(n, x);
    n->iattr[1] = axis;
    int op = n->iattr[0];
    if (op == AA_OP_SUM || op == AA_OP_MEAN || op == AA_OP_VAR || op == AA_OP_ENTROPY) n->shape[axis] = 1;
    if (op == AA_OP_SOFTMAX && x->shape[axis] > 4096)
        return fail(msg, len, "softmax over an axis of %d elements; it is meant for small axes (<= 4096), "
                    "such as path routers", x->shape[axis]);
    return 0;
}

static int infer_linear(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0), *w = input(g, n, 1), *b = input(g, n, 2);
    int in = x->shape[x->rank - 1];
    if (w->rank != 2 || w->shape[1] != in)
        return fail(msg, len, "input has %d features, expected %d", in, w->rank == 2 ? w->shape[1] : -1);
    if (b && (b->rank != 1 || b->shape[0] != w->shape[0]))
        return fail(msg, len, "bias has %d elements, expected %d", b->shape[0], w->shape[0]);
    copy_shape(n, x);
    n->shape[x->rank - 1] = w->shape[0];
    return 0;
}

static void mat_dims(const ir_node *x, int t, int *rows, int *cols)
{
    *rows = x->shape[x->rank - 2 + t];
    *cols = x->shape[x->rank - 1 - t];
}

static int same_batch(const ir_node *a, const ir_node *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank - 2; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static int infer_matmul(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *a = input(g, n, 0), *b = input(g, n, 1);
    char sa[64], sb[64];
    ir_shape_str(a, sa, sizeof sa);
    ir_shape_str(b, sb, sizeof sb);
    if (a->rank < 2 || b->rank < 2) return fail(msg, len, "operands %s and %s need rank >= 2", sa, sb);
    if (!same_batch(a, b))
        return fail(msg, len, "leading (batch) axes of %s and %s must match", sa, sb);
    int ar, ac, br, bc;
    mat_dims(a, n->iattr[0] != 0, &ar, &ac);
    mat_dims(b, n->iattr[1] != 0, &br, &bc);
    if (ac != br)
        return fail(msg, len, "inner dimensions differ: %s%s has %d columns, %s%s has %d rows", sa,
                    n->iattr[0] ? "^T" : "", ac, sb, n->iattr[1] ? "^T" : "", br);
    copy_shape(n, a);
    n->shape[a->rank - 2] = ar;
    n->shape[a->rank - 1] = bc;
    return 0;
}

static int infer_trisolve(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *a = input(g, n, 0), *b = input(g, n, 1);
    char sa[64], sb[64];
    ir_shape_str(a, sa, sizeof sa);
    ir_shape_str(b, sb, sizeof sb);
    if (a->rank < 2 || !same_batch(a, b) || a->shape[a->rank - 1] != a->shape[a->rank - 2] ||
        b->shape[b->rank - 2] != a->shape[a->rank - 1])
        return fail(msg, len, "expected A [...,n,n] and B [...,n,m] with equal leading axes, got %s and %s", sa, sb);
    copy_shape(n, b);
    return 0;
}

static int check_vector(const ir_node *w, int want, const char *what, char *msg, size_t len)
{
    if (w && (w->rank != 1 || w->shape[0] != want))
        return fail(msg, len, "%s has %d elements, expected %d", what, w->shape[0], want);
    return 0;
}

static int infer_norm(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0);
    int d = x->shape[x->rank - 1];
    copy_shape(n, x);
    if (n->op == IR_GATED_RMSNORM) {
        const ir_node *gate = input(g, n, 1);
        char sx[64], sg[64];
        ir_shape_str(x, sx, sizeof sx);
        ir_shape_str(gate, sg, sizeof sg);
        if (gate->rank != x->rank || memcmp(gate->shape, x->shape, sizeof x->shape) != 0)
            return fail(msg, len, "gate %s must have the shape of the input %s", sg, sx);
        return check_vector(input(g, n, 2), d, "weight", msg, len);
    }
    if (check_vector(input(g, n, 1), d, "weight", msg, len) < 0) return -1;
    return check_vector(input(g, n, 2), d, "bias", msg, len);
}

static int infer_conv(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *x = input(g, n, 0), *w = input(g, n, 1);
    char sx[64];
    ir_shape_str(x, sx, sizeof sx);
    if (x->rank != 3) return fail(msg, len, "input %s must be [batch, time, channels]", sx);
    if (w->rank != 2 || w->shape[0] != x->shape[2] || w->shape[1] < 1 || w->shape[1] > 64)
        return fail(msg, len, "filter must be [%d, width] with 1 <= width <= 64", x->shape[2]);
    copy_shape(n, x);
    return 0;
}

/* beta/gate may be [B,H,T], [B,H,T,1] or (gate only) [B,H,T,Dk]. Returns the
 * gate mode (0 none, 1 scalar, 2 channel) or -1. */
static int per_step(const ir_node *q, const ir_node *s, int allow_channel, const char *what, char *msg,
                    size_t len)
{
    if (!s) return 0;
    int ok3 = s->rank == 3 && s->shape[0] == q->shape[0] && s->shape[1] == q->shape[1] && s->shape[2] == q->shape[2];
    int ok4 = s->rank == 4 && s->shape[0] == q->shape[0] && s->shape[1] == q->shape[1] &&
              s->shape[2] == q->shape[2] && (s->shape[3] == 1 || (allow_channel && s->shape[3] == q->shape[3]));
    if (!ok3 && !ok4) {
        char ss[64];
        ir_shape_str(s, ss, sizeof ss);
        return fail(msg, len, "%s %s must be [%d,%d,%d] or [%d,%d,%d,1]%s", what, ss, q->shape[0], q->shape[1],
                    q->shape[2], q->shape[0], q->shape[1], q->shape[2],
                    allow_channel ? " or per key channel [B,H,T,Dk]" : "");
    }
    return ok4 && s->shape[3] == q->shape[3] && q->shape[3] != 1 ? 2 : 1;
}

static int infer_linattn(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *q = input(g, n, 0), *k = input(g, n, 1), *v = input(g, n, 2);
    char sq[64], sk[64], sv[64];
    ir_shape_str(q, sq, sizeof sq);
    ir_shape_str(k, sk, sizeof sk);
    ir_shape_str(v, sv, sizeof sv);
    if (q->rank != 4) return fail(msg, len, "q %s must be [batch, heads, time, dk]; use aa_split_heads", sq);
    if (k->rank != 4 || memcmp(k->shape, q->shape, sizeof q->shape) != 0)
        return fail(msg, len, "k %s must have the shape of q %s", sk, sq);
    if (v->rank != 4 || v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != q->shape[2])
        return fail(msg, len, "v %s must be [%d,%d,%d,dv] like q %s", sv, q->shape[0], q->shape[1], q->shape[2], sq);
    int flags = n->iattr[0];
    const ir_node *beta = input(g, n, 3), *gate = input(g, n, 4);
    if ((flags & AA_DELTA) && !beta) return fail(msg, len, "the delta rule (AA_DELTA) needs beta; got AA_NONE");
    if (!(flags & AA_DELTA) && beta)
        return fail(msg, len, "beta is only used by the delta rule: pass AA_DELTA or AA_NONE for beta");
    if (per_step(q, beta, 0, "beta", msg, len) < 0) return -1;
    int mode = per_step(q, gate, 1, "gate", msg, len);
    if (mode < 0) return -1;
    float lambda = n->fattr[0];
    if (!(lambda >= 0.0f && lambda <= 1.0f))
        return fail(msg, len, "lambda %g must be in [0, 1] (0 = no constant decay)", (double)lambda);
    n->iattr[2] = mode;
    copy_shape(n, v);
    return 0;
}

static int infer_training(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    const ir_node *a = input(g, n, 0), *b = input(g, n, 1);
    switch (n->op) {
    case IR_EMBED:
        if (a->dtype != IR_I32 || b->rank != 2) return fail(msg, len, "embedding needs ids and a [V,d] table");
        copy_shape(n, a);
        n->shape[n->rank++] = b->shape[1];
        return 0;
    case IR_LOGITS:
        if (b->rank != 2 || a->shape[a->rank - 1] != b->shape[1])
            return fail(msg, len, "hidden width %d does not match the table [%d,%d]", a->shape[a->rank - 1],
                        b->shape[0], b->shape[1]);
        copy_shape(n, a);
        n->shape[n->rank - 1] = b->shape[0];
        return 0;
    case IR_XENT:
        if (b->dtype != IR_I32 || ir_numel(a) != ir_numel(b) * (size_t)a->shape[a->rank - 1])
            return fail(msg, len, "logits and targets do not match");
        n->rank = 1;
        n->shape[0] = 1;
        return 0;
    case IR_AUX_LOSS:
    case IR_LOSS_SUM:
        for (int i = 0; i < n->n_in; i++)
            if (require_f32(input(g, n, i), i + 1, msg, len) < 0) return -1;
        if (n->op == IR_LOSS_SUM)
            for (int i = 0; i < n->n_in; i++)
                if (ir_numel(input(g, n, i)) != 1) return fail(msg, len, "loss terms must be scalars");
        n->rank = 1;
        n->shape[0] = 1;
        return 0;
    default:
        return fail(msg, len, "internal: not a training op");
    }
}

/* Every tensor's size, whatever op made it: each axis and the element
 * count within the limits, computed in 64 bits so nothing wraps. */
static int check_size(const ir_node *n, char *msg, size_t len)
{
    if (n->rank < 0 || n->rank > IR_MAX_RANK) return fail(msg, len, "rank %d (at most %d)", n->rank, IR_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < n->rank; i++) {
        if (n->shape[i] < 1 || n->shape[i] > IR_MAX_DIM)
            return fail(msg, len, "axis %d would have %d elements; every axis must have 1 to %d", i, n->shape[i],
                        IR_MAX_DIM);
        numel *= n->shape[i];
        if (numel > IR_MAX_NUMEL) {
            char s[64];
            ir_shape_str(n, s, sizeof s);
            return fail(msg, len, "the result %s would have more than %lld elements (the limit for one tensor)", s,
                        (long long)IR_MAX_NUMEL);
        }
    }
    return 0;
}

static int infer_op(const ir_graph *g, ir_node *n, char *msg, size_t len);

int ir_infer_shape(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    if (infer_op(g, n, msg, len) < 0) return -1;
    return check_size(n, msg, len);
}

static int infer_op(const ir_graph *g, ir_node *n, char *msg, size_t len)
{
    n->dtype = IR_F32;
    /* Every float op takes float inputs (ids only feed the embedding/loss). */
    if (n->op != IR_EMBED && n->op != IR_XENT)
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] > 0 && require_f32(input(g, n, i), i + 1, msg, len) < 0) return -1;
    switch (n->op) {
    case IR_TOKENS:
    case IR_TARGETS: n->dtype = IR_I32; return 0;
    case IR_PARAM: return 0;
    case IR_RESHAPE: return infer_reshape(g, n, msg, len);
    case IR_PERMUTE: return infer_permute(g, n, msg, len);
    case IR_SLICE: return infer_slice(g, n, msg, len);
    case IR_CONCAT: return infer_concat(g, n, msg, len);
    case IR_PAD: return infer_pad(g, n, msg, len);
    case IR_EXPAND: return infer_expand(g, n, msg, len);
    case IR_BINARY:
        if (n->iattr[0] < AA_OP_ADD || n->iattr[0] > AA_OP_DIV)
            return fail(msg, len, "unknown binary op %d", n->iattr[0]);
        return broadcast(input(g, n, 0), input(g, n, 1), n, msg, len);
    case IR_UNARY:
        if (n->iattr[0] < AA_OP_SCALE || n->iattr[0] >= AA_OP_UNARY_END)
            return fail(msg, len, "unknown unary op %d", n->iattr[0]);
        if (n->iattr[0] == AA_OP_CLAMP && !(n->fattr[0] <= n->fattr[1]))
            return fail(msg, len, "clamp bounds [%g, %g] are empty", (double)n->fattr[0], (double)n->fattr[1]);
        copy_shape(n, input(g, n, 0));
        return 0;
    case IR_REDUCE:
        if (n->iattr[0] < AA_OP_SUM || n->iattr[0] > AA_OP_ENTROPY)
            return fail(msg, len, "unknown reduction %d", n->iattr[0]);
        return infer_reduce(g, n, msg, len);
    case IR_STOPGRAD: copy_shape(n, input(g, n, 0)); return 0;
    case IR_MASK:
        if (input(g, n, 0)->rank < 2) return fail(msg, len, "masks act on the last two axes; input has rank 1");
        copy_shape(n, input(g, n, 0));
        return 0;
    case IR_LINEAR: return infer_linear(g, n, msg, len);
    case IR_MATMUL: return infer_matmul(g, n, msg, len);
    case IR_TRISOLVE: return infer_trisolve(g, n, msg, len);
    case IR_RMSNORM:
    case IR_LAYERNORM:
    case IR_L2NORM:
    case IR_GATED_RMSNORM: return infer_norm(g, n, msg, len);
    case IR_SHORT_CONV: return infer_conv(g, n, msg, len);
    case IR_LINATTN: return infer_linattn(g, n, msg, len);
    case IR_POINTWISE: {
        const ir_node *a = input(g, n, 0);
        for (int i = 1; i < n->n_in; i++) {
            const ir_node *b = input(g, n, i);
            if (b->rank != a->rank || memcmp(b->shape, a->shape, sizeof a->shape) != 0) {
                char sa[64], sb[64];
                ir_shape_str(a, sa, sizeof sa);
                ir_shape_str(b, sb, sizeof sb);
                return fail(msg, len, "argument %d %s must have the shape of argument 1 %s (no broadcasting)", i + 1,
                            sb, sa);
            }
        }
        if (n->iattr[0] < 0 || n->iattr[0] >= g->n_pointwise) return fail(msg, len, "unknown pointwise function");
        copy_shape(n, a);
        return 0;
    }
    case IR_EMBED:
    case IR_LOGITS:
    case IR_XENT:
    case IR_AUX_LOSS:
    case IR_LOSS_SUM: return infer_training(g, n, msg, len);
    default: return fail(msg, len, "unknown op %d", (int)n->op);
    }
}
