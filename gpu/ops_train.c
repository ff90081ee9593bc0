/*
 * ops_train.c — launchers of the training kernels: kernels/cuda/conv.cu,
 * trisolve.cu and train.cu, and the GEMMs of the linear layers and batched
 * matmuls (gpu_gemm_run). One launcher per k_ function of kernels.h, with
 * its shapes; device temporaries come from the caching allocator and go
 * back to it at once (the stream orders their reuse after these kernels).
 */
#include <math.h>

#include "gpu.h"
#include "gpu_internal.h"
#include "conv.h"
#include "train.h"
#include "trisolve.h"

#define GPU_D(p) ((double *)(uintptr_t)(p))

/* The longest filter k_conv_fwd accepts (KMAX of kernels/conv.c). */
#define CONV_KMAX 64
/* Blocks of a deterministic sum of squares at most (the partition depends
 * on n only, so the result does too). */
#define SUMSQ_BLOCKS 1024
/* Vocabulary slices of the embedding's backward (grid.y): more slices, more
 * blocks at work; the result is the same for any number. */
#define EMBED_SLICES 128
/* CUDA's limit on grid.y, and the blocks of a grid-stride loop over rows. */
#define GRID_Y_MAX 65535
#define ROW_BLOCKS_MAX 65536

static const gpu_kernel conv_fwd = {"conv.cu", "aak_conv_fwd", NULL};
static const gpu_kernel conv_bwd_dx = {"conv.cu", "aak_conv_bwd_dx", NULL};
static const gpu_kernel conv_dw_part = {"conv.cu", "aak_conv_dw_part", NULL};
static const gpu_kernel conv_dw_sum = {"conv.cu", "aak_conv_dw_sum", NULL};
static const gpu_kernel trisolve_fwd = {"trisolve.cu", "aak_trisolve_fwd", NULL};
static const gpu_kernel trisolve_bwd = {"trisolve.cu", "aak_trisolve_bwd", NULL};
static const gpu_kernel trisolve_da = {"trisolve.cu", "aak_trisolve_da", NULL};
static const gpu_kernel bias_fwd = {"train.cu", "aak_bias_fwd", NULL};
static const gpu_kernel colsum_part = {"train.cu", "aak_colsum_part", NULL};
static const gpu_kernel colsum_add = {"train.cu", "aak_colsum_add", NULL};
static const gpu_kernel embed_fwd = {"train.cu", "aak_embed_fwd", NULL};
static const gpu_kernel embed_bwd = {"train.cu", "aak_embed_bwd", NULL};
static const gpu_kernel xent_rows = {"train.cu", "aak_xent_rows", NULL};
static const gpu_kernel xent_count = {"train.cu", "aak_xent_count", NULL};
static const gpu_kernel xent_bwd = {"train.cu", "aak_xent_bwd", NULL};
static const gpu_kernel adamw = {"train.cu", "aak_adamw", NULL};
static const gpu_kernel sumsq_part = {"train.cu", "aak_sumsq_part", NULL};
static const gpu_kernel sum_parts = {"train.cu", "aak_sum_parts", NULL};
static const gpu_kernel scale = {"train.cu", "aak_scale", NULL};

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
/* A leading dimension: BLAS wants >= 1 even for an empty matrix. */
static int ld(int n) { return n > 0 ? n : 1; }

/* A block of GPU_BLOCK threads per row, grid-striding over the rows. */
static gpu_grid rows_grid(size_t rows)
{
    size_t blocks = min_size(rows, ROW_BLOCKS_MAX);
    return (gpu_grid){.blocks_x = (unsigned)(blocks ? blocks : 1), .blocks_y = 1, .threads = GPU_BLOCK};
}

/* One block of GPU_BLOCK threads (the final step of a reduction). */
static const gpu_grid one_block = {.blocks_x = 1, .blocks_y = 1, .threads = GPU_BLOCK};

/* ---- causal depthwise convolution ------------------------------------------------------ */

static int conv_shape_ok(gpu_dev *d, int K)
{
    if (K >= 1 && K <= CONV_KMAX) return 1;
    gpu_fail(d, "conv: filter length %d outside [1, %d]", K, CONV_KMAX);
    return 0;
}

int gpu_conv_fwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr y)
{
    if (!conv_shape_ok(d, K)) return -1;
    size_t n = (size_t)B * T * C;
    aak_conv_args p = {.B = B, .T = T, .C = C, .K = K, .in = GPU_CF(x), .w = GPU_CF(w), .out = GPU_F(y)};
    return n ? gpu_launch(d, &conv_fwd, gpu_grid_for(n), &p, sizeof p) : 0;
}

/* dw += sum over rows of dy x: partials of AAK_CONV_DW_ROWS rows, then their sum. */
static int conv_dw(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr dy, gpu_ptr dw)
{
    size_t parts = ceil_div((size_t)B * T, AAK_CONV_DW_ROWS) * K * C;
    gpu_ptr part = gpu_alloc(d, parts * sizeof(float));
    if (!part) return -1;
    aak_conv_dw_args p = {.B = B, .T = T, .C = C, .K = K, .x = GPU_CF(x), .dy = GPU_CF(dy), .part = GPU_F(part),
                          .dw = GPU_F(dw)};
    int rc = gpu_launch(d, &conv_dw_part, gpu_grid_for(parts), &p, sizeof p);
    if (rc == 0) rc = gpu_launch(d, &conv_dw_sum, gpu_grid_for((size_t)C * K), &p, sizeof p);
    gpu_free(d, part);
    return rc;
}

int gpu_conv_bwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr dy, gpu_ptr dx, gpu_ptr dw)
{
    if (!conv_shape_ok(d, K)) return -1;
    size_t n = (size_t)B * T * C;
    if (!n) return 0;
    if (dx) {
        aak_conv_args p = {.B = B, .T = T, .C = C, .K = K, .in = GPU_CF(dy), .w = GPU_CF(w), .out = GPU_F(dx)};
        if (gpu_launch(d, &conv_bwd_dx, gpu_grid_for(n), &p, sizeof p) < 0) return -1;
    }
    return dw ? conv_dw(d, B, T, C, K, x, dy, dw) : 0;
}

/* ---- linear layers and batched matmul ----------------------------------------------------- */

/* out[N] += column sums of x[rows, N]: partials of AAK_COLSUM_ROWS rows, then their sum. */
static int column_sums(gpu_dev *d, size_t rows, int N, gpu_ptr x, gpu_ptr out)
{
    size_t parts = ceil_div(rows, AAK_COLSUM_ROWS) * N;
    gpu_ptr part = gpu_alloc(d, parts * sizeof(float));
    if (!part) return -1;
    aak_colsum_args p = {.rows = (long long)rows, .N = N, .x = GPU_CF(x), .part = GPU_F(part), .out = GPU_F(out)};
    int rc = gpu_launch(d, &colsum_part, gpu_grid_for(parts), &p, sizeof p);
    if (rc == 0) rc = gpu_launch(d, &colsum_add, gpu_grid_for((size_t)N), &p, sizeof p);
    gpu_free(d, part);
    return rc;
}

int gpu_linear_fwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr bias, gpu_ptr y)
{
    if (M <= 0 || N <= 0) return 0;
    if (bias) {   /* y starts as the bias, and the GEMM adds x W^T to it */
        aak_bias_args p = {.rows = M, .N = N, .bias = GPU_CF(bias), .y = GPU_F(y)};
        if (gpu_launch(d, &bias_fwd, gpu_grid_for((size_t)M * N), &p, sizeof p) < 0) return -1;
    } else if (K <= 0) {
        return gpu_zero(d, y, (size_t)M * N);   /* an empty sum (gpu_gemm_run skips k = 0) */
    }
    gpu_gemm g = {.ta = 0, .tb = 1, .m = M, .n = N, .k = K, .alpha = 1.0f, .beta = bias ? 1.0f : 0.0f,
                  .A = x, .lda = ld(K), .B = W, .ldb = ld(K), .C = y, .ldc = N, .batch = 1};
    return gpu_gemm_run(d, &g);
}

int gpu_linear_bwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr dy, gpu_ptr dx, gpu_ptr dW,
                   gpu_ptr dbias)
{
    if (M <= 0 || N <= 0) return 0;
    if (dx && K > 0) {   /* dx[M,K] += dy[M,N] W[N,K] */
        gpu_gemm g = {.ta = 0, .tb = 0, .m = M, .n = K, .k = N, .alpha = 1.0f, .beta = 1.0f,
                      .A = dy, .lda = N, .B = W, .ldb = K, .C = dx, .ldc = K, .batch = 1};
        if (gpu_gemm_run(d, &g) < 0) return -1;
    }
    if (dW && K > 0) {   /* dW[N,K] += dy^T x */
        gpu_gemm g = {.ta = 1, .tb = 0, .m = N, .n = K, .k = M, .alpha = 1.0f, .beta = 1.0f,
                      .A = dy, .lda = N, .B = x, .ldb = K, .C = dW, .ldc = K, .batch = 1};
        if (gpu_gemm_run(d, &g) < 0) return -1;
    }
    return dbias ? column_sums(d, (size_t)M, N, dy, dbias) : 0;
}

/* op(A) is [M, K], op(B) [K, N] (as linalg.c's mm_of). */
typedef struct mm_dims { int M, N, K; } mm_dims;

static mm_dims mm_of(int ar, int ac, int br, int bc, int ta, int tb)
{
    mm_dims m = {ta ? ac : ar, tb ? br : bc, ta ? ar : ac};
    return m;
}

int gpu_matmul_fwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr C)
{
    mm_dims m = mm_of(ar, ac, br, bc, ta, tb);
    if (batch <= 0 || m.M <= 0 || m.N <= 0) return 0;
    if (m.K <= 0) return gpu_zero(d, C, (size_t)batch * m.M * m.N);   /* an empty sum */
    gpu_gemm g = {.ta = ta, .tb = tb, .m = m.M, .n = m.N, .k = m.K, .alpha = 1.0f, .beta = 0.0f,
                  .A = A, .lda = ld(ac), .sa = (long long)ar * ac, .B = B, .ldb = ld(bc), .sb = (long long)br * bc,
                  .C = C, .ldc = m.N, .sc = (long long)m.M * m.N, .batch = batch};
    return gpu_gemm_run(d, &g);
}

/*
 * With dC = dL/dC:  d op(A) = dC op(B)^T  and  d op(B) = op(A)^T dC; undoing
 * op on the left gives four GEMMs (as linalg.c's matmul_bwd_one):
 *   dA[M,K] += dC op(B)^T        (A not transposed)
 *   dA[K,M] += op(B) dC^T        (A transposed)
 *   dB[K,N] += op(A)^T dC        (B not transposed)
 *   dB[N,K] += dC^T op(A)        (B transposed)
 */
int gpu_matmul_bwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr dC, gpu_ptr dA, gpu_ptr dB)
{
    mm_dims m = mm_of(ar, ac, br, bc, ta, tb);
    if (batch <= 0 || m.M <= 0 || m.N <= 0 || m.K <= 0) return 0;
    long long sa = (long long)ar * ac, sb = (long long)br * bc, sc = (long long)m.M * m.N;
    if (dA) {
        gpu_gemm g = !ta ? (gpu_gemm){.ta = 0, .tb = !tb, .m = m.M, .n = m.K, .k = m.N, .A = dC, .lda = m.N, .sa = sc,
                                      .B = B, .ldb = bc, .sb = sb}
                         : (gpu_gemm){.ta = tb, .tb = 1, .m = m.K, .n = m.M, .k = m.N, .A = B, .lda = bc, .sa = sb,
                                      .B = dC, .ldb = m.N, .sb = sc};
        g.alpha = g.beta = 1.0f;
        g.C = dA, g.ldc = ac, g.sc = sa, g.batch = batch;
        if (gpu_gemm_run(d, &g) < 0) return -1;
    }
    if (dB) {
        gpu_gemm g = !tb ? (gpu_gemm){.ta = !ta, .tb = 0, .m = m.K, .n = m.N, .k = m.M, .A = A, .lda = ac, .sa = sa,
                                      .B = dC, .ldb = m.N, .sb = sc}
                         : (gpu_gemm){.ta = 1, .tb = ta, .m = m.N, .n = m.K, .k = m.M, .A = dC, .lda = m.N, .sa = sc,
                                      .B = A, .ldb = ac, .sb = sa};
        g.alpha = g.beta = 1.0f;
        g.C = dB, g.ldc = bc, g.sc = sb, g.batch = batch;
        if (gpu_gemm_run(d, &g) < 0) return -1;
    }
    return 0;
}

/* ---- unit-lower triangular solve ------------------------------------------------------------- */

/* Blocks of up to AAK_TRISOLVE_COLS threads (whole warps) over the columns,
 * and the batch along grid.y. */
static gpu_grid trisolve_grid(int batch, int m)
{
    unsigned threads = (unsigned)min_size(ceil_div((size_t)m, 32) * 32, AAK_TRISOLVE_COLS);
    return (gpu_grid){.blocks_x = (unsigned)ceil_div((size_t)m, threads), .blocks_y = (unsigned)min_size((size_t)batch, GRID_Y_MAX), .threads = threads};
}

int gpu_trisolve_fwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr B, gpu_ptr X)
{
    if (batch <= 0 || n <= 0 || m <= 0) return 0;
    aak_trisolve_args p = {.batch = batch, .n = n, .m = m, .A = GPU_CF(A), .rhs = GPU_CF(B), .out = GPU_F(X)};
    return gpu_launch(d, &trisolve_fwd, trisolve_grid(batch, m), &p, sizeof p);
}

/* G = M^-T dX (into a temporary), dB += G; dA -= strict_lower(G X^T), the
 * product a batched GEMM into a second temporary. */
int gpu_trisolve_bwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr X, gpu_ptr dX, gpu_ptr dA, gpu_ptr dB)
{
    if (batch <= 0 || n <= 0 || m <= 0 || (!dA && !dB)) return 0;
    size_t nm = (size_t)n * m, nn = (size_t)n * n;
    gpu_ptr G = gpu_alloc(d, (size_t)batch * nm * sizeof(float)), P = 0;
    if (!G) return -1;
    aak_trisolve_args p = {.batch = batch, .n = n, .m = m, .A = GPU_CF(A), .rhs = GPU_CF(dX), .out = GPU_F(G),
                           .dB = GPU_F(dB)};
    int rc = gpu_launch(d, &trisolve_bwd, trisolve_grid(batch, m), &p, sizeof p);
    if (rc == 0 && dA) {
        P = gpu_alloc(d, (size_t)batch * nn * sizeof(float));
        gpu_gemm g = {.ta = 0, .tb = 1, .m = n, .n = n, .k = m, .alpha = 1.0f, .beta = 0.0f, .A = G, .lda = m,
                      .sa = (long long)nm, .B = X, .ldb = m, .sb = (long long)nm, .C = P, .ldc = n,
                      .sc = (long long)nn, .batch = batch};
        aak_trisolve_da_args q = {.batch = batch, .n = n, .P = GPU_CF(P), .dA = GPU_F(dA)};
        rc = !P ? -1 : gpu_gemm_run(d, &g);
        if (rc == 0) rc = gpu_launch(d, &trisolve_da, gpu_grid_for((size_t)batch * nn), &q, sizeof q);
    }
    gpu_free(d, P);
    gpu_free(d, G);
    return rc;
}

/* ---- embedding and loss -------------------------------------------------------------------- */

int gpu_embed_fwd(gpu_dev *d, size_t n, int D, gpu_ptr ids, gpu_ptr table, gpu_ptr y)
{
    if (!n || D <= 0) return 0;
    aak_embed_args p = {.n = (long long)n, .D = D, .ids = GPU_I(ids), .table = GPU_CF(table), .y = GPU_F(y)};
    return gpu_launch(d, &embed_fwd, gpu_grid_for(n * D), &p, sizeof p);
}

/* Blocks of whole warps over the columns (up to GPU_BLOCK), times
 * EMBED_SLICES slices of the vocabulary along grid.y. */
int gpu_embed_bwd(gpu_dev *d, size_t n, int D, int V, gpu_ptr ids, gpu_ptr dy, gpu_ptr dtable)
{
    if (!dtable || !n || D <= 0 || V <= 0) return 0;
    unsigned threads = (unsigned)min_size(ceil_div((size_t)D, 32) * 32, GPU_BLOCK);
    gpu_grid grid = {.blocks_x = (unsigned)ceil_div((size_t)D, threads), .blocks_y = (unsigned)min_size((size_t)V, EMBED_SLICES), .threads = threads};
    aak_embed_args p = {.n = (long long)n, .D = D, .V = V, .ids = GPU_I(ids), .dy = GPU_CF(dy),
                        .dtable = GPU_F(dtable)};
    return gpu_launch(d, &embed_bwd, grid, &p, sizeof p);
}

/* Per-row losses (double) into a temporary, their mean on the device, and
 * that one float back to the host. */
int gpu_xent_fwd(gpu_dev *d, size_t n, int V, gpu_ptr logits, gpu_ptr targets, gpu_ptr probs, float *loss)
{
    *loss = 0.0f;
    if (!n || V <= 0) return 0;
    gpu_ptr rows = gpu_alloc(d, n * sizeof(double) + sizeof(float));
    if (!rows) return -1;
    gpu_ptr mean = rows + n * sizeof(double);
    aak_xent_rows_args r = {.n = (long long)n, .V = V, .logits = GPU_CF(logits), .targets = GPU_I(targets),
                            .probs = GPU_F(probs), .rowloss = GPU_D(rows)};
    aak_xent_count_args c = {.n = (long long)n, .V = V, .targets = GPU_I(targets), .rowloss = GPU_D(rows),
                             .loss = GPU_F(mean)};
    int rc = gpu_launch(d, &xent_rows, rows_grid(n), &r, sizeof r);
    if (rc == 0) rc = gpu_launch(d, &xent_count, one_block, &c, sizeof c);
    if (rc == 0) rc = gpu_download(d, loss, mean, sizeof *loss);
    gpu_free(d, rows);
    return rc;
}

/* The scale dloss / count is computed on the device (the targets are
 * there), then read by the kernel that adds the gradient. */
int gpu_xent_bwd(gpu_dev *d, size_t n, int V, gpu_ptr probs, gpu_ptr targets, float dloss, gpu_ptr dlogits)
{
    if (!dlogits || !n || V <= 0) return 0;
    gpu_ptr sc = gpu_alloc(d, 2 * sizeof(float));
    if (!sc) return -1;
    aak_xent_count_args c = {.n = (long long)n, .V = V, .targets = GPU_I(targets), .dloss = dloss, .scale = GPU_F(sc)};
    aak_xent_bwd_args b = {.n = (long long)n, .V = V, .probs = GPU_CF(probs), .targets = GPU_I(targets),
                           .scale = GPU_CF(sc), .dlogits = GPU_F(dlogits)};
    int rc = gpu_launch(d, &xent_count, one_block, &c, sizeof c);
    if (rc == 0) rc = gpu_launch(d, &xent_bwd, rows_grid(n), &b, sizeof b);
    gpu_free(d, sc);
    return rc;
}

/* ---- optimiser and clipping ------------------------------------------------------------------ */

/* The step's scalars as k_adamw_update computes them (in double, then float). */
int gpu_adamw_update(gpu_dev *d, const k_adamw *h, size_t n, gpu_ptr p, gpu_ptr grad, gpu_ptr m, gpu_ptr v, int decay)
{
    if (!n) return 0;
    int step = h->step > 0 ? h->step : 1;
    double bc1 = 1.0 - pow(h->beta1, step), bc2 = 1.0 - pow(h->beta2, step);
    aak_adamw_args a = {.n = (long long)n, .beta1 = h->beta1, .beta2 = h->beta2, .eps = h->eps,
                        .step_size = (float)(h->lr / bc1), .inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)),
                        .keep = decay ? 1.0f - h->lr * h->weight_decay : 1.0f,
                        .p = GPU_F(p), .grad = GPU_CF(grad), .m = GPU_F(m), .v = GPU_F(v)};
    return gpu_launch(d, &adamw, gpu_grid_for(n), &a, sizeof a);
}

/* Per-block sums in double over a grid that depends on n only, then their
 * sum in order by one block; the double comes back to the host. */
int gpu_sumsq(gpu_dev *d, size_t n, gpu_ptr x, double *out)
{
    *out = 0.0;
    if (!n) return 0;
    size_t blocks = min_size(ceil_div(n, GPU_BLOCK), SUMSQ_BLOCKS);
    gpu_ptr part = gpu_alloc(d, (blocks + 1) * sizeof(double));
    if (!part) return -1;
    gpu_ptr total = part + blocks * sizeof(double);
    aak_sumsq_args a = {.n = (long long)n, .x = GPU_CF(x), .part = GPU_D(part)};
    aak_sumsq_args b = {.n = (long long)blocks, .part = GPU_D(part), .out = GPU_D(total)};
    int rc = gpu_launch(d, &sumsq_part, (gpu_grid){.blocks_x = (unsigned)blocks, .blocks_y = 1, .threads = GPU_BLOCK}, &a, sizeof a);
    if (rc == 0) rc = gpu_launch(d, &sum_parts, one_block, &b, sizeof b);
    if (rc == 0) rc = gpu_download(d, out, total, sizeof *out);
    gpu_free(d, part);
    return rc;
}

int gpu_scale_inplace(gpu_dev *d, size_t n, gpu_ptr x, float s)
{
    aak_scale_args a = {.n = (long long)n, .s = s, .x = GPU_F(x)};
    return n ? gpu_launch(d, &scale, gpu_grid_for(n), &a, sizeof a) : 0;
}
