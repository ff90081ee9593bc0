/*
 * gpu.h — NVIDIA GPUs: the device, its memory, its kernels, its GEMMs.
 *
 * Nothing here is linked against CUDA. The driver (libcuda) and cuBLAS are
 * loaded with dlopen when a device is opened (cuda.c), NVRTC when a kernel
 * is first launched (jit/nvrtc.c), so one binary runs CPU-only where there
 * is no GPU, and gpu_open says why not in a sentence a person can act on.
 *
 * A gpu_dev is one device with one stream: every launch, copy and GEMM is
 * queued in order on it, and gpu_sync waits for them and reports the first
 * asynchronous error. Device memory comes from a caching allocator (freed
 * blocks are kept by size and reused), so a training step allocates
 * nothing from the driver after the first.
 *
 * The kernels are the CUDA C sources of kernels/cuda/, embedded in the
 * binary, compiled by NVRTC for the device's architecture on first use and
 * cached on disk (jit/nvrtc.c). The launchers (ops.c ...) mirror the CPU
 * kernels of kernels.h one for one: same shapes, same accumulate-into
 * convention for gradients, a NULL (0) gradient meaning "not needed".
 *
 * Every function returns 0, or -1 with gpu_error(dev) saying what failed.
 */
#ifndef ASIARCH_GPU_H
#define ASIARCH_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

typedef uint64_t gpu_ptr;   /* a device address (CUdeviceptr); 0 = none */

/* GEMM arithmetic: FP32 (the default: results agree with the CPU to
 * rounding), or tensor cores with FP32 accumulation: TF32 inputs, or BF16. */
typedef enum gpu_precision { GPU_FP32 = 0, GPU_TF32 = 1, GPU_BF16 = 2 } gpu_precision;
const char *gpu_precision_name(gpu_precision p);
int gpu_precision_parse(const char *s, gpu_precision *out);   /* "fp32", "tf32", "bf16" */

typedef struct gpu_open_opts {
    int ordinal;                /* which GPU (CUDA_VISIBLE_DEVICES applies first) */
    gpu_precision precision;
    int deterministic;          /* no atomics, fixed reduction orders, cuBLAS pedantic math */
    const char *cache_dir;      /* NVRTC's cache; NULL: the default */
} gpu_open_opts;

/* A kernel: which source holds it, and its name there. Built-in kernels
 * name a file of kernels/cuda; generated ones (a candidate's pointwise ops)
 * carry their text, under a source name unique to that text. */
typedef struct gpu_kernel {
    const char *source;         /* "elementwise.cu" */
    const char *name;           /* "aak_unary_fwd" */
    const char *text;           /* NULL: the embedded source of that name */
} gpu_kernel;

/* A launch: blocks x threads (one-dimensional, or two for grid.y). The
 * built-in kernels leave the rest 0; a kernel file (asiarch jit) may use a
 * third grid dimension, 2-D/3-D blocks and dynamic shared memory. 0 = 1
 * (shared: none). */
typedef struct gpu_grid {
    unsigned blocks_x, blocks_y, threads;
    unsigned blocks_z, threads_y, threads_z, shared_bytes;
} gpu_grid;

/* Row-major C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, batch times
 * with element strides sa, sb, sc; op transposes when ta / tb. */
typedef struct gpu_gemm {
    int ta, tb, m, n, k;
    float alpha, beta;
    gpu_ptr A, B, C;
    int lda, ldb, ldc;
    long long sa, sb, sc;
    int batch;
} gpu_gemm;

/* What a device does, for the CUDA driver (cuda.c) and for the CPU
 * emulation the tests run the kernels on (tests/gpu_emu.c). */
typedef struct gpu_backend {
    const char *name;
    int (*alloc)(void *impl, size_t bytes, gpu_ptr *out);
    void (*release)(void *impl, gpu_ptr p);
    int (*upload)(void *impl, gpu_ptr dst, const void *src, size_t bytes);
    int (*download)(void *impl, void *dst, gpu_ptr src, size_t bytes);
    int (*copy)(void *impl, gpu_ptr dst, gpu_ptr src, size_t bytes);
    int (*fill32)(void *impl, gpu_ptr dst, uint32_t word, size_t count);
    int (*launch)(void *impl, const gpu_kernel *k, gpu_grid grid, const void *args, size_t args_size);
    int (*gemm)(void *impl, const gpu_gemm *g);
    int (*sync)(void *impl);
    /* Compile and load a built-in source's module now (NULL: nothing to do). */
    int (*prepare)(void *impl, const char *source);
    void (*close)(void *impl);
} gpu_backend;

typedef struct gpu_dev gpu_dev;

/* The CUDA device. NULL with why (no driver, no GPU, cuBLAS missing, ...). */
gpu_dev *gpu_open(const gpu_open_opts *o, char *why, size_t len);
/* A device over any backend (the CPU emulation of the tests); impl is the
 * backend's state, error its message buffer (gpu_error reads it). */
gpu_dev *gpu_open_backend(const gpu_backend *be, void *impl, char *error, const gpu_open_opts *o);
void gpu_close(gpu_dev *d);
/* Whether `--device cuda` can run here: 0, or -1 with why. */
int gpu_probe(char *why, size_t len);
/* Everything a sandboxed runner needs before lock-down: every built-in
 * kernel module compiled (or read from the cache) and loaded, and NVRTC
 * warmed up (its builtins library loaded), so that after lock-down only
 * the candidate's own pointwise module is compiled, in memory. */
int gpu_preload(gpu_dev *d);

const char *gpu_error(const gpu_dev *d);
const char *gpu_name(const gpu_dev *d);      /* "NVIDIA H100 80GB HBM3", or the backend's */
int gpu_arch(const gpu_dev *d);              /* compute capability x 10 (90), 0 if unknown */
gpu_precision gpu_dev_precision(const gpu_dev *d);
int gpu_deterministic(const gpu_dev *d);

/* ---- memory (the caching allocator) ------------------------------------------------- */

gpu_ptr gpu_alloc(gpu_dev *d, size_t bytes);           /* 0 when out of memory (gpu_error) */
void gpu_free(gpu_dev *d, gpu_ptr p);                   /* back to the cache, not the driver */
void gpu_trim(gpu_dev *d);                              /* cached blocks back to the driver */
typedef struct gpu_mem_stats {
    size_t in_use, cached, peak;   /* bytes */
    long allocs, reuses;           /* gpu_alloc calls, and those the cache served */
} gpu_mem_stats;
void gpu_mem_stats_get(const gpu_dev *d, gpu_mem_stats *out);

int gpu_upload(gpu_dev *d, gpu_ptr dst, const void *src, size_t bytes);
int gpu_download(gpu_dev *d, void *dst, gpu_ptr src, size_t bytes);
int gpu_copy(gpu_dev *d, gpu_ptr dst, gpu_ptr src, size_t bytes);
int gpu_zero(gpu_dev *d, gpu_ptr dst, size_t floats);
int gpu_sync(gpu_dev *d);

/* ---- kernels ----------------------------------------------------------------------- */

/* args: the kernel's parameters packed as the CUDA ABI lays them out
 * (each at its natural alignment): for the built-in kernels, their one
 * argument struct. */
int gpu_launch(gpu_dev *d, const gpu_kernel *k, gpu_grid grid, const void *args, size_t args_size);
int gpu_gemm_run(gpu_dev *d, const gpu_gemm *g);
/* Blocks for a grid-stride loop over n elements, AAK_BLOCK threads each. */
gpu_grid gpu_grid_for(size_t n);

/* The embedded sources of kernels/cuda (name, text), NULL-terminated by
 * name: the .cu files and the headers they include. */
typedef struct gpu_source { const char *name, *text; } gpu_source;
extern const gpu_source gpu_sources[];
/* The headers every kernel source may include (aak.h, asiarch.h, the
 * argument headers), ready for jit_nvrtc_compile. */
struct jit_nvrtc_headers;
void gpu_kernel_headers(struct jit_nvrtc_headers *h);
const char *gpu_source_text(const char *name);

/* ---- ops (the launchers; shapes and conventions as kernels.h) ------------------------ */

int gpu_unary_fwd(gpu_dev *d, int op, float a, float b, size_t n, gpu_ptr x, gpu_ptr y);
int gpu_unary_bwd(gpu_dev *d, int op, float a, float b, size_t n, gpu_ptr x, gpu_ptr y, gpu_ptr dy, gpu_ptr dx);

/* A candidate's custom pointwise ops (pointwise.c): the CUDA module of its
 * AA_SCALAR functions (under #line directives naming `file`) and kernels
 * aak_pw_fwd_<i> / aak_pw_bwd_<i> for ops[i]. malloc'd, or NULL with err. */
typedef struct gpu_pointwise_op { const char *name; int nargs; } gpu_pointwise_op;
char *gpu_pointwise_source(const char *file, const char *text, const gpu_pointwise_op *ops, int n_ops, char *err,
                           size_t errlen);
int gpu_pointwise_fwd(gpu_dev *d, const gpu_kernel *k, int nargs, size_t n, const gpu_ptr *in, gpu_ptr y);
int gpu_pointwise_bwd(gpu_dev *d, const gpu_kernel *k, int nargs, size_t n, const gpu_ptr *in, gpu_ptr dy,
                      const gpu_ptr *dx);

/* ---- broadcasting binary ops, layout, masks (ops_layout.c) --------------------------------- */

/* y = a op b (op an aa_binary_op), sa and sb broadcast to sy (same rank); y may be an operand of shape sy. */
int gpu_binary_fwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b, const k_shape *sy,
                   gpu_ptr y);
/* da, db += the gradients (each may be 0; ADD and SUB read neither a nor b, which may then be 0). */
int gpu_binary_bwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b,
                   const k_shape *sy, gpu_ptr dy, gpu_ptr da, gpu_ptr db);
/* y = (or += with accumulate) x permuted, y.d[i] = x.d[perm[i]]; perm is a host array. */
int gpu_permute(gpu_dev *d, const k_shape *sx, const int *perm, gpu_ptr x, gpu_ptr y, int accumulate);
/* y = the window [start, start + len) along axis (negative: from the end) of x. */
int gpu_slice_fwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr x, gpu_ptr y);
/* dx's window += dy (dx of shape sx; 0: skipped). */
int gpu_slice_bwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr dy, gpu_ptr dx);
/* y = x broadcast to sy (same rank, x's extents 1 or sy's). */
int gpu_expand_fwd(gpu_dev *d, const k_shape *sx, gpu_ptr x, const k_shape *sy, gpu_ptr y);
/* dx += dy summed over the broadcast axes (0: skipped). */
int gpu_expand_bwd(gpu_dev *d, const k_shape *sx, const k_shape *sy, gpu_ptr dy, gpu_ptr dx);
/* y = tril (upper 0) or triu (upper 1) of x over the last two axes, or y += that with accumulate; x may be y. */
int gpu_mask(gpu_dev *d, int upper, int diagonal, const k_shape *s, gpu_ptr x, gpu_ptr y, int accumulate);
/* dst[i] += src[i], i < n. */
int gpu_add_into(gpu_dev *d, size_t n, gpu_ptr src, gpu_ptr dst);

/* ---- reductions, scans, normalisation (ops_norm.c) ----------------------------------------- */

/* y = op(x) along axis, op an aa_reduce_op (k_reduce_fwd). */
int gpu_reduce_fwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y);
/* dx += the gradient of op along axis; x is read by VAR and ENTROPY, y by SOFTMAX only (k_reduce_bwd). */
int gpu_reduce_bwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y, gpu_ptr dy, gpu_ptr dx);

/* y = rmsnorm(x) w over rows of D; rstd[rows] saved (0: not kept) (k_rmsnorm_fwd). */
int gpu_rmsnorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr y, gpu_ptr rstd);
/* dx, dw += the gradients of rmsnorm(x) w (k_rmsnorm_bwd). */
int gpu_rmsnorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr rstd, gpu_ptr dy, gpu_ptr dx,
                    gpu_ptr dw);
/* y = layernorm(x) w (+ b, 0: none); stats[2 rows] = mean, rstd (0: not kept) (k_layernorm_fwd). */
int gpu_layernorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr b, gpu_ptr y, gpu_ptr stats);
/* dx, dw, db += the gradients of layernorm(x) w + b (k_layernorm_bwd). */
int gpu_layernorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr stats, gpu_ptr dy, gpu_ptr dx,
                      gpu_ptr dw, gpu_ptr db);
/* y = x / sqrt(sum x^2 + eps); rnorm[rows] saved (0: not kept) (k_l2norm_fwd). */
int gpu_l2norm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm);
/* dx += rnorm (dy - y (dy . y)) (k_l2norm_bwd). */
int gpu_l2norm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm, gpu_ptr dy, gpu_ptr dx);
/* mode 0: y = rmsnorm(x) w silu(g); mode 1: y = rmsnorm(x silu(g)) w; rstd saved (k_gated_rmsnorm_fwd). */
int gpu_gated_rmsnorm_fwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr y,
                          gpu_ptr rstd);
/* dx, dg, dw += the gradients of the gated RMSNorm (k_gated_rmsnorm_bwd). */
int gpu_gated_rmsnorm_bwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr rstd,
                          gpu_ptr dy, gpu_ptr dx, gpu_ptr dg, gpu_ptr dw);

/* ---- convolution, GEMMs, triangular solve, embedding, loss, optimiser (ops_train.c) -------- */

/* Causal depthwise convolution: x, y [B,T,C], w [C,K] (k_conv_fwd). */
int gpu_conv_fwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr y);
/* dx += conv^T(dy), dw += sum over (b,t) of dy x (deterministic) (k_conv_bwd). */
int gpu_conv_bwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr dy, gpu_ptr dx,
                 gpu_ptr dw);

/* y[M,N] = x[M,K] W[N,K]^T (+ bias[N]) (k_linear_fwd). */
int gpu_linear_fwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr bias, gpu_ptr y);
/* dx += dy W, dW += dy^T x, dbias += column sums of dy (k_linear_bwd). */
int gpu_linear_bwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr dy, gpu_ptr dx, gpu_ptr dW,
                   gpu_ptr dbias);
/* C[b] = op(A[b]) op(B[b]), A [batch,ar,ac], B [batch,br,bc] (k_matmul_fwd). */
int gpu_matmul_fwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr C);
/* dA, dB += the gradients of C = op(A) op(B) (k_matmul_bwd). */
int gpu_matmul_bwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr dC, gpu_ptr dA, gpu_ptr dB);
/* X = (I + strict_lower(A))^-1 B, A [batch,n,n], B/X [batch,n,m] (k_trisolve_fwd). */
int gpu_trisolve_fwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr B, gpu_ptr X);
/* dB += M^-T dX, dA -= strict_lower(M^-T dX X^T) (k_trisolve_bwd). */
int gpu_trisolve_bwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr X, gpu_ptr dX, gpu_ptr dA,
                     gpu_ptr dB);

/* y[r] = table[ids[r]] (int32 ids, rows of D) (k_embed_fwd). */
int gpu_embed_fwd(gpu_dev *d, size_t n, int D, gpu_ptr ids, gpu_ptr table, gpu_ptr y);
/* dtable[ids[r]] += dy[r], ids outside [0, V) skipped; bitwise the CPU's (k_embed_bwd). */
int gpu_embed_bwd(gpu_dev *d, size_t n, int D, int V, gpu_ptr ids, gpu_ptr dy, gpu_ptr dtable);
/* *loss = mean cross-entropy over rows with a target in [0, V); probs (0: not kept) = softmax (k_xent_fwd). */
int gpu_xent_fwd(gpu_dev *d, size_t n, int V, gpu_ptr logits, gpu_ptr targets, gpu_ptr probs, float *loss);
/* dlogits += dloss / count (probs - onehot(target)) on rows with a target (k_xent_bwd). */
int gpu_xent_bwd(gpu_dev *d, size_t n, int V, gpu_ptr probs, gpu_ptr targets, float dloss, gpu_ptr dlogits);

/* One AdamW step on n parameters; decay: apply weight decay (k_adamw_update). */
int gpu_adamw_update(gpu_dev *d, const k_adamw *h, size_t n, gpu_ptr p, gpu_ptr grad, gpu_ptr m, gpu_ptr v,
                     int decay);
/* *out = sum of x^2 in double, deterministic (k_sumsq). */
int gpu_sumsq(gpu_dev *d, size_t n, gpu_ptr x, double *out);
/* x *= s (k_scale_inplace). */
int gpu_scale_inplace(gpu_dev *d, size_t n, gpu_ptr x, float s);

/* ---- generalised linear attention (ops_linattn.c) ------------------------------------------ */

/* Floats the forward saves for the backward (= k_linattn_saved_floats). */
size_t gpu_linattn_saved_floats(const k_linattn_cfg *c);
/* o = linear attention of q, k, v (beta, g, s0, s_final, saved as k_linattn_fwd; saved may be 0). */
int gpu_linattn_fwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr o, gpu_ptr s_final, gpu_ptr saved);
/* Accumulates dq, dk, dv, dbeta, dg, ds0 (each may be 0) from d_o and ds_final (may be 0). */
int gpu_linattn_bwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr saved, gpu_ptr d_o, gpu_ptr ds_final, gpu_ptr dq,
                    gpu_ptr dk, gpu_ptr dv, gpu_ptr dbeta, gpu_ptr dg, gpu_ptr ds0);

#endif /* ASIARCH_GPU_H */
