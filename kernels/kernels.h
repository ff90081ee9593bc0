/*
 * kernels.h — tensor ops on the CPU, forward and backward.
 *
 * Conventions (all kernels):
 *  - float32, row-major, contiguous buffers; shapes are given explicitly.
 *  - Backward kernels ACCUMULATE into input gradients (dx += ...): the
 *    runtime zeroes a gradient buffer once, then every consumer adds to it.
 *    A NULL gradient pointer means "not needed" and is skipped.
 *  - Parallel with OpenMP over independent rows/heads, with a static split
 *    and no atomics, so results do not depend on the number of threads.
 *  - GEMMs go through CBLAS (OpenBLAS).
 */
#ifndef ASIARCH_KERNELS_H
#define ASIARCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define K_MAX_RANK 4

/* A shape of rank <= 4. */
typedef struct k_shape { int rank; int d[K_MAX_RANK]; } k_shape;
size_t k_numel(const k_shape *s);

/* ---- elementwise ---------------------------------------------------------- */

/* op is an aa_unary_op (asiarch.h); a, b its scalar arguments. The backward
 * reads x (the input) and y (the output), whichever is cheaper. */
void k_unary_fwd(int op, float a, float b, size_t n, const float *x, float *y);
void k_unary_bwd(int op, float a, float b, size_t n, const float *x, const float *y,
                 const float *dy, float *dx);

/* op is an aa_binary_op; sa and sb broadcast to sy (same rank). */
void k_binary_fwd(int op, const k_shape *sa, const float *a, const k_shape *sb, const float *b,
                  const k_shape *sy, float *y);
void k_binary_bwd(int op, const k_shape *sa, const float *a, const k_shape *sb, const float *b,
                  const k_shape *sy, const float *dy, float *da, float *db);

/* A candidate-defined scalar function of nargs (1-4) floats, applied
 * elementwise to nargs same-shape inputs; backward uses its partial
 * derivatives (one function per argument, same arity). */
void k_pointwise_fwd(int nargs, void *fn, size_t n, const float *const *in, float *y);
void k_pointwise_bwd(int nargs, void *const *deriv, size_t n, const float *const *in, const float *dy,
                     float *const *dx);

/* ---- reductions, scans, masks ---------------------------------------------- */

/* op is an aa_reduce_op along axis. SUM/MEAN/VAR/ENTROPY produce the input
 * shape with d[axis] = 1; CUMSUM and SOFTMAX keep the shape. */
void k_reduce_fwd(int op, const k_shape *sx, int axis, const float *x, float *y);
void k_reduce_bwd(int op, const k_shape *sx, int axis, const float *x, const float *y,
                  const float *dy, float *dx);
/* Triangular mask over the last two axes (self-adjoint, so backward = same
 * mask applied to dy, accumulated). */
void k_mask(int upper, int diagonal, const k_shape *s, const float *x, float *y, int accumulate);

/* ---- layout ----------------------------------------------------------------- */

/* y = x permuted: y.d[i] = x.d[perm[i]]. accumulate: y += instead of y =. */
void k_permute(const k_shape *sx, const int *perm, const float *x, float *y, int accumulate);
/* Copy a window [start, start+len) along axis of x into y (or, backward, add
 * y's gradient back into the window: k_slice_bwd). */
void k_slice_fwd(const k_shape *sx, int axis, int start, int len, const float *x, float *y);
void k_slice_bwd(const k_shape *sx, int axis, int start, int len, const float *dy, float *dx);
/* Broadcast x to sy (same rank, x dims 1 or equal); backward sums. */
void k_expand_fwd(const k_shape *sx, const float *x, const k_shape *sy, float *y);
void k_expand_bwd(const k_shape *sx, const k_shape *sy, const float *dy, float *dx);

/* ---- linear algebra ---------------------------------------------------------- */

/* y[M,N] = x[M,K] @ W[N,K]^T (+ bias[N]). */
void k_linear_fwd(int M, int K, int N, const float *x, const float *W, const float *bias, float *y);
void k_linear_bwd(int M, int K, int N, const float *x, const float *W, const float *dy,
                  float *dx, float *dW, float *dbias);
/* Batched C[b] = op(A[b]) @ op(B[b]); op transposes the last two axes when
 * ta/tb. A is [batch, ar, ac], B [batch, br, bc]. */
void k_matmul_fwd(int batch, int ar, int ac, int br, int bc, int ta, int tb,
                  const float *A, const float *B, float *C);
void k_matmul_bwd(int batch, int ar, int ac, int br, int bc, int ta, int tb,
                  const float *A, const float *B, const float *dC, float *dA, float *dB);
/* X = (I + strict_lower(A))^-1 B, A [batch,n,n], B/X [batch,n,m]. */
void k_trisolve_fwd(int batch, int n, int m, const float *A, const float *B, float *X);
void k_trisolve_bwd(int batch, int n, int m, const float *A, const float *X, const float *dX,
                    float *dA, float *dB);

/* ---- normalisation (over the last axis of rows x D) ---------------------------- */

#define K_NORM_EPS 1e-6f
/* rstd[rows] is saved for backward. */
void k_rmsnorm_fwd(size_t rows, int D, const float *x, const float *w, float *y, float *rstd);
void k_rmsnorm_bwd(size_t rows, int D, const float *x, const float *w, const float *rstd,
                   const float *dy, float *dx, float *dw);
/* stats[2*rows] = mean, rstd. */
void k_layernorm_fwd(size_t rows, int D, const float *x, const float *w, const float *b, float *y,
                     float *stats);
void k_layernorm_bwd(size_t rows, int D, const float *x, const float *w, const float *stats,
                     const float *dy, float *dx, float *dw, float *db);
/* y = x / sqrt(sum x^2 + eps); saved rnorm[rows]. */
void k_l2norm_fwd(size_t rows, int D, const float *x, float *y, float *rnorm);
void k_l2norm_bwd(size_t rows, int D, const float *x, const float *y, const float *rnorm,
                  const float *dy, float *dx);
/* mode 0: y = rmsnorm(x)*w*silu(g); mode 1: y = rmsnorm(x*silu(g))*w.
 * saved[rows] = rstd. */
void k_gated_rmsnorm_fwd(int mode, size_t rows, int D, const float *x, const float *g,
                         const float *w, float *y, float *rstd);
void k_gated_rmsnorm_bwd(int mode, size_t rows, int D, const float *x, const float *g,
                         const float *w, const float *rstd, const float *dy, float *dx,
                         float *dg, float *dw);

/* ---- causal depthwise convolution ------------------------------------------------ */

/* x, y [B,T,C]; w [C,K]; y[t,c] = sum_j w[c,j] * x[t-K+1+j, c] (zero before 0). */
void k_conv_fwd(int B, int T, int C, int K, const float *x, const float *w, float *y);
void k_conv_bwd(int B, int T, int C, int K, const float *x, const float *w, const float *dy,
                float *dx, float *dw);

/* ---- generalised linear attention ------------------------------------------------- */

enum k_gate { K_GATE_NONE = 0, K_GATE_SCALAR = 1, K_GATE_CHANNEL = 2 };

typedef struct k_linattn_cfg {
    int B, H, T, Dk, Dv;
    int delta;             /* 1: delta rule (beta required) */
    int gate;              /* enum k_gate */
    const float *lambda;   /* NULL or [H]: constant per-head decay in (0,1] */
    int chunk;             /* 0: recurrent form; else chunk length (64) */
} k_linattn_cfg;

/* Floats the forward saves for the backward (chunk-start states etc). */
size_t k_linattn_saved_floats(const k_linattn_cfg *c);
/* Floats of temporary workspace, for nthreads OpenMP threads. */
size_t k_linattn_scratch_floats(const k_linattn_cfg *c, int nthreads);

/* q,k [B,H,T,Dk]; v,o [B,H,T,Dv]; beta [B,H,T] (NULL unless delta);
 * g [B,H,T] (scalar gate) or [B,H,T,Dk] (channel gate), log decays <= 0,
 * NULL for none; s0, s_final [B,H,Dk,Dv], either may be NULL (zero start /
 * not wanted). */
void k_linattn_fwd(const k_linattn_cfg *c, const float *q, const float *k, const float *v,
                   const float *beta, const float *g, const float *s0, float *o, float *s_final,
                   float *saved, float *scratch);
/* Accumulates into dq, dk, dv, dbeta, dg, ds0 (each may be NULL). ds_final may
 * be NULL (no gradient flows into the final state). */
void k_linattn_bwd(const k_linattn_cfg *c, const float *q, const float *k, const float *v,
                   const float *beta, const float *g, const float *s0, const float *saved,
                   const float *d_o, const float *ds_final, float *dq, float *dk, float *dv,
                   float *dbeta, float *dg, float *ds0, float *scratch);

/* ---- embedding, tied head, loss ------------------------------------------------------ */

void k_embed_fwd(size_t n, int D, const int32_t *ids, const float *table, float *y);
void k_embed_bwd(size_t n, int D, int V, const int32_t *ids, const float *dy, float *dtable);
/* Mean cross-entropy over positions with target >= 0. probs [n,V] is saved
 * (softmax of logits). Returns the loss. */
float k_xent_fwd(size_t n, int V, const float *logits, const int32_t *targets, float *probs);
void k_xent_bwd(size_t n, int V, const float *probs, const int32_t *targets, float dloss,
                float *dlogits);

/* ---- optimiser ---------------------------------------------------------------------- */

typedef struct k_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    int step;              /* 1-based, for bias correction */
} k_adamw;
void k_adamw_update(const k_adamw *h, size_t n, float *p, const float *grad, float *m, float *v,
                    int decay);
/* Sum of squares in double, deterministic. */
double k_sumsq(size_t n, const float *x);
void k_scale_inplace(size_t n, float *x, float s);

/* ---- BLAS ---------------------------------------------------------------------------- */

/* The OpenBLAS kernel family in use ("Haswell", "Cooperlake", ...): it sets
 * the GEMM speed, so benchmarks report it. */
const char *k_blas_corename(void);

/* The CPU, as the GEMM and thread settings need it (cpu.c): cpuid, and what
 * the OS saves in XCR0. */
typedef struct k_cpu_info {
    char model[64];            /* the brand string */
    int amd, avx, avx2, avx512, avx512_bf16;
    const char *best_core;     /* the OpenBLAS family these features call for; NULL: leave it to OpenBLAS */
    int affinity_cpus;         /* CPUs this process may run on */
    const char *core_source;   /* who chose the kernels in use: "user" (OPENBLAS_CORETYPE),
                                  "cpuid" (k_cpu_adopt) or "openblas" (its own detection) */
} k_cpu_info;
const k_cpu_info *k_cpu(void);
/* First thing in a program's main: the thread count from the affinity mask
 * (unless OMP_NUM_THREADS is set), and, where OpenBLAS chose weaker kernels
 * than best_core and the user named none, re-execute argv once with
 * OPENBLAS_CORETYPE set (OpenBLAS reads it only when it loads). */
void k_cpu_adopt(char **argv);
/* For a child process's environment (the runner): the OPENBLAS_CORETYPE to
 * give it (the user's, or best_core where OpenBLAS here chose weaker; NULL:
 * none), and the GOMP_SPINCOUNT (the user's, else a bounded one; NULL where
 * the user set only OMP_WAIT_POLICY). */
const char *k_cpu_child_core(void);
const char *k_cpu_child_spincount(void);
/* One line for benchmarks and reports: model, ISA, CPUs, kernels and who chose them. */
void k_cpu_describe(char *out, size_t len);

#endif /* ASIARCH_KERNELS_H */
