/*
 * asiarch.h — the DSL a token-mixer candidate is written against.
 *
 * This is the only header a candidate may include. It declares no libc: a
 * candidate sees opaque handles, a fixed op vocabulary and a few scalar math
 * functions, nothing else.
 *
 * Model: "define, then run". `mixer(l, x)` is called once per layer while the
 * model is built; every call below records a node in the architecture graph
 * (see ir/ir.h) and returns a handle to its result. Training then executes
 * trusted kernels over that graph; candidate code never runs on the hot path.
 *
 * Shapes. The mixer input x is [batch, time, model]. Heads live in
 * [batch, heads, time, head_dim] tensors (aa_split_heads / aa_merge_heads).
 * Binary ops broadcast numpy-style (dimensions of size 1 stretch).
 * Reductions keep the reduced axis with size 1. Axes may be negative
 * (-1 = last).
 *
 * Errors. Every op is a macro that passes __LINE__, so a bad call is reported
 * as "cand.c:14: aa_linear: input has 96 features, expected 128". The first
 * error is kept; ops given an erroneous handle return one silently, so one
 * mistake gives one message.
 *
 * Parameters are created by name on first use ("q_proj" -> weight
 * "layers.3.mixer.q_proj.weight") with the initialiser of the op unless one is
 * given; a name may be used once per layer.
 */
#ifndef ASIARCH_H
#define ASIARCH_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- handles --------------------------------------------------------------- */

/* A tensor handle: refers to a node of the graph being built. Opaque: only
 * the aa_* ops make one, and the one field is a pointer so that no number
 * can be turned into a handle. AA_NONE (all zero) is the absent tensor. */
typedef struct aa_tensor aa_tensor;
typedef struct aa_t { const aa_tensor *ref; } aa_t;

/* The layer being built: its dimensions and its parameter namespace. */
typedef struct aa_layer aa_layer;

#define AA_NONE ((aa_t){0})

/* Initialisers for parameters. */
enum aa_init_kind {
    AA_INIT_KIND_DEFAULT = 0, /* the op's own choice (documented per op) */
    AA_INIT_KIND_NORMAL,      /* N(0, a^2) */
    AA_INIT_KIND_UNIFORM,     /* U(a, b) */
    AA_INIT_KIND_CONST,       /* every element = a */
    AA_INIT_KIND_DIRAC,       /* convolution: identity filter (last tap = 1) */
    AA_INIT_KIND_LOG_UNIFORM, /* log(U(a, b)): e.g. Mamba2's A_log */
    AA_INIT_KIND_INV_SOFTPLUS /* softplus^-1 of exp(U(log a, log b)): dt bias */
};
typedef struct aa_init { int kind; float a, b; } aa_init;

#define AA_INIT_DEFAULT ((aa_init){AA_INIT_KIND_DEFAULT, 0.0f, 0.0f})
#define AA_INIT_NORMAL(std) ((aa_init){AA_INIT_KIND_NORMAL, (std), 0.0f})
#define AA_INIT_UNIFORM(lo, hi) ((aa_init){AA_INIT_KIND_UNIFORM, (lo), (hi)})
#define AA_INIT_CONST(c) ((aa_init){AA_INIT_KIND_CONST, (c), 0.0f})
#define AA_INIT_ZEROS AA_INIT_CONST(0.0f)
#define AA_INIT_ONES AA_INIT_CONST(1.0f)
#define AA_INIT_DIRAC ((aa_init){AA_INIT_KIND_DIRAC, 0.0f, 0.0f})
#define AA_INIT_LOG_UNIFORM(lo, hi) ((aa_init){AA_INIT_KIND_LOG_UNIFORM, (lo), (hi)})
#define AA_INIT_INV_SOFTPLUS(lo, hi) ((aa_init){AA_INIT_KIND_INV_SOFTPLUS, (lo), (hi)})

/* Dimensions a mixer may ask for with aa_dim(). The model is built (and
 * verified) at several batch sizes and sequence lengths; it must build the
 * same ops at each, so use AA_BATCH, AA_TIME, AA_CHUNK and aa_size() to
 * shape tensors, never to choose ops (verify/size-dependent). */
enum aa_dim_name {
    AA_MODEL = 0, /* d_model: width of x and of the mixer output */
    AA_HEADS,     /* number of heads */
    AA_HEAD_DIM,  /* d_model / heads */
    AA_LAYER,     /* index of this layer, 0-based */
    AA_LAYERS,    /* number of layers */
    AA_CHUNK,     /* chunk length of the chunkwise recurrence */
    AA_BATCH,     /* batch size of the graph being built */
    AA_TIME       /* sequence length of the graph being built */
};

/* aa_linattn flags. */
enum aa_linattn_flag {
    AA_DELTA = 1,       /* delta rule: S = (I - b k k^T) S + b k v^T */
    AA_MULTISCALE = 2,  /* RetNet decays: lambda_h = 1 - 2^(-5 - h*5/heads) */
    AA_RECURRENT = 4    /* force the step-by-step form (slow; for checks) */
};

/* Gated RMSNorm modes (the gate goes through SiLU):
 *   AA_NORM_THEN_GATE  y = rmsnorm(x) * w * silu(gate)
 *   AA_GATE_THEN_NORM  y = rmsnorm(x * silu(gate)) * w */
enum aa_gate_mode { AA_NORM_THEN_GATE = 0, AA_GATE_THEN_NORM = 1 };

/* ---- metadata -------------------------------------------------------------- */

/* AA_NAME("delta_net"); AA_MOTIVATION("why this design should work"); */
#define AA_NAME(s) const char aa_meta_name[] = s
#define AA_MOTIVATION(s) const char aa_meta_motivation[] = s

/* ---- implementation entry points (call the macros below instead) ----------- */

int aa__dim(aa_layer *l, int which);
int aa__rank(aa_t x);
int aa__size(aa_t x, int axis);

aa_t aa__param(aa_layer *l, const char *name, int rank, int d0, int d1, int d2, aa_init init, int line);
aa_t aa__reshape(aa_t x, int rank, int d0, int d1, int d2, int d3, int line);
aa_t aa__permute(aa_t x, int p0, int p1, int p2, int p3, int line);
aa_t aa__transpose(aa_t x, int a, int b, int line);
aa_t aa__split_heads(aa_t x, int heads, int line);
aa_t aa__merge_heads(aa_t x, int line);
aa_t aa__slice(aa_t x, int axis, int start, int len, int line);
aa_t aa__concat(aa_t a, aa_t b, int axis, int line);
aa_t aa__pad(aa_t x, int axis, int before, int after, int line);
aa_t aa__expand_as(aa_t x, aa_t like, int line);

aa_t aa__binary(int op, aa_t a, aa_t b, int line);
aa_t aa__unary(int op, aa_t x, float a, float b, int line);
aa_t aa__reduce(int op, aa_t x, int axis, int line);
aa_t aa__mask(int upper, aa_t x, int diagonal, int line);

aa_t aa__linear(aa_layer *l, const char *name, aa_t x, int out, int bias, aa_init init, int line);
aa_t aa__matmul(aa_t a, aa_t b, int ta, int tb, int line);
aa_t aa__trisolve(aa_t a, aa_t b, int line);

aa_t aa__rmsnorm(aa_layer *l, const char *name, aa_t x, int line);
aa_t aa__layernorm(aa_layer *l, const char *name, aa_t x, int line);
aa_t aa__l2norm(aa_t x, int line);
aa_t aa__gated_rmsnorm(aa_layer *l, const char *name, aa_t x, aa_t gate, int mode, int line);

aa_t aa__short_conv(aa_layer *l, const char *name, aa_t x, int width, aa_init init, int line);
aa_t aa__linattn(aa_t q, aa_t k, aa_t v, aa_t beta, aa_t gate, float lambda, int flags, int line);
void aa__aux_loss(aa_layer *l, aa_t x, float weight, int line);
aa_t aa__stop_gradient(aa_t x, int line);

/* Op codes for aa__binary / aa__unary / aa__reduce (stable; part of the ABI). */
enum aa_binary_op { AA_OP_ADD = 1, AA_OP_SUB, AA_OP_MUL, AA_OP_DIV };
enum aa_unary_op {
    AA_OP_SCALE = 1, AA_OP_ADD_SCALAR, AA_OP_SQUARE, AA_OP_SQRT, AA_OP_RSQRT,
    AA_OP_EXP, AA_OP_LOG, AA_OP_NEG, AA_OP_CLAMP, AA_OP_SIGMOID, AA_OP_SILU,
    AA_OP_SOFTPLUS, AA_OP_LOGSIGMOID, AA_OP_GELU, AA_OP_RELU, AA_OP_ELU1,
    AA_OP_TANH, AA_OP_ABS, AA_OP_UNARY_END
};
enum aa_reduce_op {
    AA_OP_SUM = 1, AA_OP_MEAN, AA_OP_VAR, AA_OP_CUMSUM, AA_OP_SOFTMAX, AA_OP_ENTROPY
};

/* ---- the op vocabulary ----------------------------------------------------- */

/* Introspection (no graph node). */
#define aa_dim(l, which) aa__dim((l), (which))
#define aa_rank(x) aa__rank(x)
#define aa_size(x, axis) aa__size((x), (axis))

/* Raw parameters, default init N(0, 0.02). Multiply or add them with
 * broadcasting, e.g. a per-head vector aa_param1(l, "A_log", h, init). */
#define aa_param1(l, name, d0, init) aa__param((l), (name), 1, (d0), 1, 1, (init), __LINE__)
#define aa_param2(l, name, d0, d1, init) aa__param((l), (name), 2, (d0), (d1), 1, (init), __LINE__)
#define aa_param3(l, name, d0, d1, d2, init) aa__param((l), (name), 3, (d0), (d1), (d2), (init), __LINE__)

/* Shapes. Layout changes copy; none aliases another tensor. */
#define aa_reshape2(x, a, b) aa__reshape((x), 2, (a), (b), 1, 1, __LINE__)
#define aa_reshape3(x, a, b, c) aa__reshape((x), 3, (a), (b), (c), 1, __LINE__)
#define aa_reshape4(x, a, b, c, d) aa__reshape((x), 4, (a), (b), (c), (d), __LINE__)
#define aa_permute(x, p0, p1, p2, p3) aa__permute((x), (p0), (p1), (p2), (p3), __LINE__)
#define aa_transpose(x, a, b) aa__transpose((x), (a), (b), __LINE__)
/* [B,T,H*D] -> [B,H,T,D] and back. */
#define aa_split_heads(x, heads) aa__split_heads((x), (heads), __LINE__)
#define aa_merge_heads(x) aa__merge_heads((x), __LINE__)
#define aa_slice(x, axis, start, len) aa__slice((x), (axis), (start), (len), __LINE__)
#define aa_concat(a, b, axis) aa__concat((a), (b), (axis), __LINE__)
/* Zero padding along an axis. */
#define aa_pad(x, axis, before, after) aa__pad((x), (axis), (before), (after), __LINE__)
#define aa_expand_as(x, like) aa__expand_as((x), (like), __LINE__)

/* Elementwise, broadcasting. */
#define aa_add(a, b) aa__binary(AA_OP_ADD, (a), (b), __LINE__)
#define aa_sub(a, b) aa__binary(AA_OP_SUB, (a), (b), __LINE__)
#define aa_mul(a, b) aa__binary(AA_OP_MUL, (a), (b), __LINE__)
#define aa_div(a, b) aa__binary(AA_OP_DIV, (a), (b), __LINE__)
#define aa_scale(x, c) aa__unary(AA_OP_SCALE, (x), (c), 0.0f, __LINE__)
#define aa_add_scalar(x, c) aa__unary(AA_OP_ADD_SCALAR, (x), (c), 0.0f, __LINE__)
#define aa_square(x) aa__unary(AA_OP_SQUARE, (x), 0.0f, 0.0f, __LINE__)
#define aa_sqrt(x) aa__unary(AA_OP_SQRT, (x), 0.0f, 0.0f, __LINE__)
#define aa_rsqrt(x) aa__unary(AA_OP_RSQRT, (x), 0.0f, 0.0f, __LINE__)
#define aa_exp(x) aa__unary(AA_OP_EXP, (x), 0.0f, 0.0f, __LINE__)
#define aa_log(x) aa__unary(AA_OP_LOG, (x), 0.0f, 0.0f, __LINE__)
#define aa_neg(x) aa__unary(AA_OP_NEG, (x), 0.0f, 0.0f, __LINE__)
#define aa_abs(x) aa__unary(AA_OP_ABS, (x), 0.0f, 0.0f, __LINE__)
#define aa_clamp(x, lo, hi) aa__unary(AA_OP_CLAMP, (x), (lo), (hi), __LINE__)
#define aa_sigmoid(x) aa__unary(AA_OP_SIGMOID, (x), 0.0f, 0.0f, __LINE__)
#define aa_silu(x) aa__unary(AA_OP_SILU, (x), 0.0f, 0.0f, __LINE__)
#define aa_softplus(x) aa__unary(AA_OP_SOFTPLUS, (x), 0.0f, 0.0f, __LINE__)
#define aa_logsigmoid(x) aa__unary(AA_OP_LOGSIGMOID, (x), 0.0f, 0.0f, __LINE__)
#define aa_gelu(x) aa__unary(AA_OP_GELU, (x), 0.0f, 0.0f, __LINE__)
#define aa_relu(x) aa__unary(AA_OP_RELU, (x), 0.0f, 0.0f, __LINE__)
#define aa_elu1(x) aa__unary(AA_OP_ELU1, (x), 0.0f, 0.0f, __LINE__)
#define aa_tanh(x) aa__unary(AA_OP_TANH, (x), 0.0f, 0.0f, __LINE__)

/* Reductions and scans along one axis (the reduced axis is kept, size 1). */
#define aa_sum(x, axis) aa__reduce(AA_OP_SUM, (x), (axis), __LINE__)
#define aa_mean(x, axis) aa__reduce(AA_OP_MEAN, (x), (axis), __LINE__)
#define aa_var(x, axis) aa__reduce(AA_OP_VAR, (x), (axis), __LINE__)
#define aa_cumsum(x, axis) aa__reduce(AA_OP_CUMSUM, (x), (axis), __LINE__)
/* Softmax over a small axis (a path router), entropy -sum p log p of a
 * distribution along an axis. */
#define aa_softmax(x, axis) aa__reduce(AA_OP_SOFTMAX, (x), (axis), __LINE__)
#define aa_entropy(p, axis) aa__reduce(AA_OP_ENTROPY, (p), (axis), __LINE__)
/* Keep the lower (upper) triangle of the last two axes, zero the rest, as
 * PyTorch does: tril keeps column j <= row i + diagonal, triu keeps
 * j >= i + diagonal (tril(x, -1) and triu(x, 1) exclude the main diagonal). */
#define aa_tril(x, diagonal) aa__mask(0, (x), (diagonal), __LINE__)
#define aa_triu(x, diagonal) aa__mask(1, (x), (diagonal), __LINE__)

/* Linear algebra. aa_linear: x[..., in] @ W^T, W = "<name>.weight" [out, in],
 * default init N(0, 0.02); aa_linear_bias adds "<name>.bias" (zeros). */
#define aa_linear(l, name, x, out) aa__linear((l), (name), (x), (out), 0, AA_INIT_DEFAULT, __LINE__)
#define aa_linear_bias(l, name, x, out) aa__linear((l), (name), (x), (out), 1, AA_INIT_DEFAULT, __LINE__)
#define aa_linear_ex(l, name, x, out, bias, init) aa__linear((l), (name), (x), (out), (bias), (init), __LINE__)
/* Batched matmul over leading axes; ta/tb transpose the last two axes. */
#define aa_matmul(a, b, ta, tb) aa__matmul((a), (b), (ta), (tb), __LINE__)
/* Solve (I + strict_lower(A)) X = B for X, batched over leading axes. */
#define aa_trisolve(a, b) aa__trisolve((a), (b), __LINE__)

/* Normalisation over the last axis; weights "<name>.weight" (ones),
 * LayerNorm also "<name>.bias" (zeros). */
#define aa_rmsnorm(l, name, x) aa__rmsnorm((l), (name), (x), __LINE__)
#define aa_layernorm(l, name, x) aa__layernorm((l), (name), (x), __LINE__)
#define aa_l2norm(x) aa__l2norm((x), __LINE__)
#define aa_gated_rmsnorm(l, name, x, gate, mode) aa__gated_rmsnorm((l), (name), (x), (gate), (mode), __LINE__)

/* Causal depthwise convolution along time of x [B,T,C] with a filter
 * "<name>.weight" [C, width], 1 <= width <= 64; default init
 * U(-1/sqrt(width), 1/sqrt(width)); AA_INIT_DIRAC gives the identity. */
#define aa_short_conv(l, name, x, width) aa__short_conv((l), (name), (x), (width), AA_INIT_DEFAULT, __LINE__)
#define aa_short_conv_ex(l, name, x, width, init) aa__short_conv((l), (name), (x), (width), (init), __LINE__)

/* Generalised linear attention over heads: q,k [B,H,T,Dk], v [B,H,T,Dv] ->
 * [B,H,T,Dv]. State S [Dk,Dv] per head, S_0 = 0; at each step
 *     S = diag(exp(g_t)) * lambda * S          (gate, log space, g <= 0)
 *     S = (I - beta_t k_t k_t^T) S              (AA_DELTA only)
 *     S = S + beta_t k_t v_t^T                  (beta = 1 without AA_DELTA)
 *     o_t = S^T q_t
 * beta: [B,H,T] or [B,H,T,1] (required with AA_DELTA, else AA_NONE).
 * gate: AA_NONE, scalar per head [B,H,T] / [B,H,T,1], or per key channel
 * [B,H,T,Dk]. lambda: constant decay in (0,1] (0 = none); AA_MULTISCALE uses
 * RetNet's per-head decays. Runs chunkwise (chunk AA_CHUNK) unless
 * AA_RECURRENT. */
#define aa_linattn(q, k, v, beta, gate, lambda, flags) aa__linattn((q), (k), (v), (beta), (gate), (lambda), (flags), __LINE__)
#define aa_delta_rule(q, k, v, beta, gate) aa__linattn((q), (k), (v), (beta), (gate), 0.0f, AA_DELTA, __LINE__)

/* The value of x, through which no gradient flows (e.g. path statistics
 * that feed a router without training the paths to please it). */
#define aa_stop_gradient(x) aa__stop_gradient((x), __LINE__)

/* Add weight * mean(x) to the training loss (e.g. a router entropy term). */
#define aa_aux_loss(l, x, weight) aa__aux_loss((l), (x), (weight), __LINE__)

/* ---- custom pointwise ops ------------------------------------------------- */

/* A candidate may define a scalar function of 1-4 floats together with its
 * partial derivatives NAME_d0 .. NAME_d<n-1>, and apply it elementwise. Each
 * must be written `AA_SCALAR float NAME(float, ...)` with exactly n float
 * parameters, where n is the N of aa_pointwiseN (the kernel calls them as
 * that type; the checker and the loader both refuse anything else):
 *
 *   AA_SCALAR float soft_cap(float x) { return 4.0f * tanhf(x / 4.0f); }
 *   AA_SCALAR float soft_cap_d0(float x) { float t = tanhf(x / 4.0f); return 1.0f - t * t; }
 *   ...  y = aa_pointwise1("soft_cap", x);
 *
 * All arguments must have the same shape. The derivatives are checked
 * against finite differences before training; a wrong one is rejected with
 * the worst mismatch. AA_SCALAR makes the same text valid CUDA (a __device__
 * function) for the GPU backend. */
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define AA_SCALAR __device__
#else
#define AA_SCALAR
#endif
#define AA_MAX_POINTWISE_ARGS 4

aa_t aa__pointwise(const char *name, int nargs, aa_t a, aa_t b, aa_t c, aa_t d, int line);
#define aa_pointwise1(name, a) aa__pointwise((name), 1, (a), AA_NONE, AA_NONE, AA_NONE, __LINE__)
#define aa_pointwise2(name, a, b) aa__pointwise((name), 2, (a), (b), AA_NONE, AA_NONE, __LINE__)
#define aa_pointwise3(name, a, b, c) aa__pointwise((name), 3, (a), (b), (c), AA_NONE, __LINE__)
#define aa_pointwise4(name, a, b, c, d) aa__pointwise((name), 4, (a), (b), (c), (d), __LINE__)

/* ---- scalar math a candidate may use (compile-time constants, loops) ------- */

float sqrtf(float);
float expf(float);
float logf(float);
float powf(float, float);
float fabsf(float);
float tanhf(float);
float floorf(float);
float ceilf(float);
float fminf(float, float);
float fmaxf(float, float);

#ifdef __cplusplus
}
#endif
#endif /* ASIARCH_H */
