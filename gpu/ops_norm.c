/*
 * ops_norm.c — launchers of the reductions (kernels/cuda/reduce.cu) and the
 * norms (kernels/cuda/norm.cu). One launcher per k_ function of kernels.h,
 * with its shapes; weight-gradient temporaries come from the caching
 * allocator and go back to it at once (the stream orders their reuse after
 * these kernels).
 */
#include "asiarch.h"
#include "gpu.h"
#include "gpu_internal.h"
#include "norm.h"
#include "reduce.h"

/* CUDA allows far more blocks; this many, grid-striding over the rest,
 * fill any current GPU several times over. */
#define ROW_BLOCKS_MAX 65536
/* With inner > 1, a thread per line (coalesced reads along inner) once
 * there are this many lines; fewer get a block each, so that a few long
 * lines still spread over the GPU (their reads then stride by inner). */
#define COLS_MIN_LINES 2048
/* A weight gradient's rows go into at most this many chunks (and at least
 * MIN_CHUNK_ROWS rows each): enough partials to keep the GPU busy, few
 * enough that adding them up per column is quick. The split depends on the
 * row count only, so the result does too. */
#define DW_CHUNKS_MAX 256
#define DW_MIN_CHUNK_ROWS 16

static const gpu_kernel reduce_lines_fwd = {"reduce.cu", "aak_reduce_lines_fwd", NULL};
static const gpu_kernel reduce_lines_bwd = {"reduce.cu", "aak_reduce_lines_bwd", NULL};
static const gpu_kernel reduce_cols_fwd = {"reduce.cu", "aak_reduce_cols_fwd", NULL};
static const gpu_kernel reduce_cols_bwd = {"reduce.cu", "aak_reduce_cols_bwd", NULL};
static const gpu_kernel rmsnorm_fwd = {"norm.cu", "aak_rmsnorm_fwd", NULL};
static const gpu_kernel rmsnorm_bwd = {"norm.cu", "aak_rmsnorm_bwd", NULL};
static const gpu_kernel layernorm_fwd = {"norm.cu", "aak_layernorm_fwd", NULL};
static const gpu_kernel layernorm_bwd = {"norm.cu", "aak_layernorm_bwd", NULL};
static const gpu_kernel l2norm_fwd = {"norm.cu", "aak_l2norm_fwd", NULL};
static const gpu_kernel l2norm_bwd = {"norm.cu", "aak_l2norm_bwd", NULL};
static const gpu_kernel gated_fwd = {"norm.cu", "aak_gated_rmsnorm_fwd", NULL};
static const gpu_kernel gated_bwd = {"norm.cu", "aak_gated_rmsnorm_bwd", NULL};
static const gpu_kernel dw_part = {"norm.cu", "aak_norm_dw_part", NULL};
static const gpu_kernel dw_sum = {"norm.cu", "aak_norm_dw_sum", NULL};

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* A block per line of n elements, grid-striding over `lines`: the power of
 * two >= n threads, from a warp up to GPU_BLOCK (short lines waste none). */
static gpu_grid lines_grid(size_t lines, size_t n)
{
    unsigned threads = 32;
    while (threads < GPU_BLOCK && threads < n) threads *= 2;
    size_t blocks = lines < ROW_BLOCKS_MAX ? lines : ROW_BLOCKS_MAX;
    return (gpu_grid){.blocks_x = (unsigned)(blocks ? blocks : 1), .blocks_y = 1, .threads = threads};
}

/* ---- reductions along an axis ----------------------------------------------------------- */

static int reduce_keeps_shape(int op) { return op == AA_OP_CUMSUM || op == AA_OP_SOFTMAX; }

/* sx as [outer, n, inner] around axis (negative: from the end), into a. */
static int reduce_view(gpu_dev *d, int op, const k_shape *sx, int axis, aak_reduce_args *a)
{
    if (op < AA_OP_SUM || op > AA_OP_ENTROPY) {
        gpu_fail(d, "reduce: unknown op %d", op);
        return -1;
    }
    if (sx->rank < 0 || sx->rank > K_MAX_RANK || (sx->rank > 0 && (axis < -sx->rank || axis >= sx->rank))) {
        gpu_fail(d, "reduce: axis %d of a rank-%d shape", axis, sx->rank);
        return -1;
    }
    if (axis < 0) axis += sx->rank;
    *a = (aak_reduce_args){.op = op, .outer = 1, .n = 1, .inner = 1};
    for (int i = 0; i < sx->rank; i++) {
        if (i < axis) a->outer *= sx->d[i];
        else if (i == axis) a->n = sx->d[i];
        else a->inner *= sx->d[i];
    }
    a->yn = reduce_keeps_shape(op) ? a->n : 1;
    return 0;
}

/* The kernel (lines or cols, forward or backward) and grid for a. */
static int reduce_launch(gpu_dev *d, aak_reduce_args *a, const gpu_kernel *lines_k, const gpu_kernel *cols_k)
{
    size_t lines = (size_t)(a->outer * a->inner);
    if (!lines) return 0;
    if (a->inner == 1 || lines < COLS_MIN_LINES) return gpu_launch(d, lines_k, lines_grid(lines, (size_t)a->n), a, sizeof *a);
    return gpu_launch(d, cols_k, gpu_grid_for(lines), a, sizeof *a);
}

int gpu_reduce_fwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y)
{
    aak_reduce_args a;
    if (reduce_view(d, op, sx, axis, &a) < 0) return -1;
    a.x = GPU_CF(x);
    a.out = GPU_F(y);
    return reduce_launch(d, &a, &reduce_lines_fwd, &reduce_cols_fwd);
}

int gpu_reduce_bwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y, gpu_ptr dy, gpu_ptr dx)
{
    aak_reduce_args a;
    if (reduce_view(d, op, sx, axis, &a) < 0) return -1;
    if (!dx) return 0;
    a.x = GPU_CF(x);
    a.y = GPU_CF(y);
    a.dy = GPU_CF(dy);
    a.out = GPU_F(dx);
    return reduce_launch(d, &a, &reduce_lines_bwd, &reduce_cols_bwd);
}

/* ---- norms over the last axis ------------------------------------------------------------- */

static int norm_launch(gpu_dev *d, const gpu_kernel *k, size_t rows, int D, const void *args, size_t size)
{
    return rows && D > 0 ? gpu_launch(d, k, lines_grid(rows, (size_t)D), args, size) : 0;
}

/* out[D] += sum over rows of the weight-gradient term (aak_norm_term). */
static int weight_grad(gpu_dev *d, int term, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr saved, gpu_ptr dy,
                       gpu_ptr out)
{
    if (!out || !rows || D <= 0) return 0;
    size_t chunk_rows = ceil_div(rows, DW_CHUNKS_MAX);
    if (chunk_rows < DW_MIN_CHUNK_ROWS) chunk_rows = DW_MIN_CHUNK_ROWS;
    size_t parts = ceil_div(rows, chunk_rows) * (size_t)D;
    gpu_ptr part = gpu_alloc(d, parts * sizeof(float));
    if (!part) return -1;
    aak_norm_dw_args p = {.term = term, .D = D, .rows = (long long)rows, .chunk_rows = (long long)chunk_rows,
                          .x = GPU_CF(x), .g = GPU_CF(g), .saved = GPU_CF(saved), .dy = GPU_CF(dy),
                          .part = GPU_F(part), .out = GPU_F(out)};
    int rc = gpu_launch(d, &dw_part, gpu_grid_for(parts), &p, sizeof p);
    if (rc == 0) rc = gpu_launch(d, &dw_sum, gpu_grid_for((size_t)D), &p, sizeof p);
    gpu_free(d, part);
    return rc;
}

int gpu_rmsnorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr y, gpu_ptr rstd)
{
    aak_norm_fwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .w = GPU_CF(w), .y = GPU_F(y),
                           .saved = GPU_F(rstd)};
    return norm_launch(d, &rmsnorm_fwd, rows, D, &p, sizeof p);
}

int gpu_rmsnorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr rstd, gpu_ptr dy, gpu_ptr dx,
                    gpu_ptr dw)
{
    if (dx) {
        aak_norm_bwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .w = GPU_CF(w),
                               .saved = GPU_CF(rstd), .dy = GPU_CF(dy), .dx = GPU_F(dx)};
        if (norm_launch(d, &rmsnorm_bwd, rows, D, &p, sizeof p) < 0) return -1;
    }
    return weight_grad(d, AAK_NORM_TERM_RMS, rows, D, x, 0, rstd, dy, dw);
}

int gpu_layernorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr b, gpu_ptr y, gpu_ptr stats)
{
    aak_norm_fwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .w = GPU_CF(w), .b = GPU_CF(b),
                           .y = GPU_F(y), .saved = GPU_F(stats)};
    return norm_launch(d, &layernorm_fwd, rows, D, &p, sizeof p);
}

int gpu_layernorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr stats, gpu_ptr dy, gpu_ptr dx,
                      gpu_ptr dw, gpu_ptr db)
{
    if (dx) {
        aak_norm_bwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .w = GPU_CF(w),
                               .saved = GPU_CF(stats), .dy = GPU_CF(dy), .dx = GPU_F(dx)};
        if (norm_launch(d, &layernorm_bwd, rows, D, &p, sizeof p) < 0) return -1;
    }
    if (weight_grad(d, AAK_NORM_TERM_LN_W, rows, D, x, 0, stats, dy, dw) < 0) return -1;
    return weight_grad(d, AAK_NORM_TERM_LN_B, rows, D, x, 0, stats, dy, db);
}

int gpu_l2norm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm)
{
    aak_norm_fwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .y = GPU_F(y), .saved = GPU_F(rnorm)};
    return norm_launch(d, &l2norm_fwd, rows, D, &p, sizeof p);
}

int gpu_l2norm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm, gpu_ptr dy, gpu_ptr dx)
{
    if (!dx) return 0;
    aak_norm_bwd_args p = {.D = D, .rows = (long long)rows, .x = GPU_CF(x), .y = GPU_CF(y), .saved = GPU_CF(rnorm),
                           .dy = GPU_CF(dy), .dx = GPU_F(dx)};
    return norm_launch(d, &l2norm_bwd, rows, D, &p, sizeof p);
}

static int gated_mode_ok(gpu_dev *d, int mode)
{
    if (mode == 0 || mode == 1) return 1;
    gpu_fail(d, "gated rmsnorm: mode %d is neither 0 (norm then gate) nor 1 (gate then norm)", mode);
    return 0;
}

int gpu_gated_rmsnorm_fwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr y,
                          gpu_ptr rstd)
{
    if (!gated_mode_ok(d, mode)) return -1;
    aak_norm_fwd_args p = {.mode = mode, .D = D, .rows = (long long)rows, .x = GPU_CF(x), .g = GPU_CF(g),
                           .w = GPU_CF(w), .y = GPU_F(y), .saved = GPU_F(rstd)};
    return norm_launch(d, &gated_fwd, rows, D, &p, sizeof p);
}

int gpu_gated_rmsnorm_bwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr rstd,
                          gpu_ptr dy, gpu_ptr dx, gpu_ptr dg, gpu_ptr dw)
{
    if (!gated_mode_ok(d, mode)) return -1;
    if (dx || dg) {
        aak_norm_bwd_args p = {.mode = mode, .D = D, .rows = (long long)rows, .x = GPU_CF(x), .g = GPU_CF(g),
                               .w = GPU_CF(w), .saved = GPU_CF(rstd), .dy = GPU_CF(dy), .dx = GPU_F(dx),
                               .dg = GPU_F(dg)};
        if (norm_launch(d, &gated_bwd, rows, D, &p, sizeof p) < 0) return -1;
    }
    return weight_grad(d, AAK_NORM_TERM_GATED, rows, D, x, g, rstd, dy, dw);
}
