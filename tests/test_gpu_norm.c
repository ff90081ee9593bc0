/*
 * test_gpu_norm.c — the reductions of kernels/cuda/reduce.cu and the norms of
 * kernels/cuda/norm.cu against the CPU's k_reduce_* and k_*norm_*, on the
 * emulated device (gpu_emu.h), through the launchers of gpu/ops_norm.c.
 *
 *  1. Every aa_reduce_op along the first, a middle and the last axis of
 *     ranks 1 to 4: lines contiguous (inner == 1), strided and few (a block
 *     each), strided and many (a thread each), longer than a block (several
 *     scan tiles); forward, and backward into random gradients (backward
 *     accumulates); a NULL dx launches nothing.
 *  2. RMSNorm, LayerNorm (with and without bias), L2-norm and gated RMSNorm
 *     (both modes): D under, over and not a multiple of the block, D = 1;
 *     the saved statistics (and none kept); every subset of the gradients
 *     (none at all launches nothing), pre-filled with random values.
 *  3. Weight gradients over more rows than one pass of chunks (the chunk
 *     size grows with the rows), bitwise the same on a second run.
 *
 * Tolerances are bounds, not tuned. U = 2^-24 is float's unit roundoff.
 * Both devices accumulate every sum in double and round it once, so a sum
 * differs between them by one rounding (an ulp: 2U relative); the double
 * sums' own differences, about n 2^-53 of the sum of |terms|, are below
 * U / 1000 here and covered by one more U. Each float operation after that
 * rounds once on each side (U + U), and an exponential adds its error on
 * each side (the CPU's fast_expf 1.4 ulp, libm's or CUDA's expf up to 2
 * ulp: 7U together) and a logarithm likewise (4U together). A formula
 * without cancellation gets R U relative to its value, and since
 * gpu_emu_max_err divides by 1 + |ref| that bounds the check. One with
 * cancellation (x - mean, a - b) gets R U M, M a bound on the magnitudes of
 * its terms computed from the data (products of largest magnitudes).
 * Weight gradients are float sums of rows on both sides (the CPU's row
 * blocks, the GPU's chunks): (rows per CPU block + rows per GPU chunk + R)
 * U times the sum of the terms' magnitudes.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asiarch.h"
#include "gpu_emu.h"
#include "kernels.h"
#include "norm.h"
#include "test.h"

#define U 0x1p-24
/* The CPU's row blocks of a weight gradient (MAXBLK of kernels/norm.c) and
 * the GPU's chunks (DW_CHUNKS_MAX and DW_MIN_CHUNK_ROWS of gpu/ops_norm.c). */
#define CPU_DW_BLOCKS 64
#define GPU_DW_CHUNKS 256
#define GPU_DW_MIN_CHUNK_ROWS 16

static gpu_dev *dev;

static double maxabs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Largest sum over a row of |a_i b_i w_i| (w NULL: 1). */
static double max_row_abs_dot(size_t rows, int D, const float *a, const float *b, const float *w)
{
    double m = 0.0;
    for (size_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int i = 0; i < D; i++) s += fabs((double)a[r * D + i] * b[r * D + i] * (w ? w[i] : 1.0f));
        m = s > m ? s : m;
    }
    return m;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* The bound on a weight gradient of `rows` terms of magnitude <= term, each
 * term's two evaluations r_term roundings apart, added to values <= acc. */
static double dw_tol(size_t rows, double term, int r_term, double acc)
{
    size_t cpu_rows = ceil_div(rows, CPU_DW_BLOCKS), gpu_rows = ceil_div(rows, GPU_DW_CHUNKS);
    if (gpu_rows < GPU_DW_MIN_CHUNK_ROWS) gpu_rows = GPU_DW_MIN_CHUNK_ROWS;
    return (double)(cpu_rows + gpu_rows + r_term + 3) * U * (acc + (double)rows * term);
}

/* The largest error / tolerance seen (printed at the end: how tight the bounds are). */
static double worst_ratio;

/* Device result within tol of the CPU's, with what was checked when not. */
#define CHECK_CLOSE(ptr, ref, n, tol, ...)                                                \
    do {                                                                                  \
        size_t at_ = 0;                                                                   \
        double e_ = gpu_emu_max_err(dev, (ptr), (ref), (n), &at_), t_ = (tol);            \
        if (e_ / t_ > worst_ratio) worst_ratio = e_ / t_;                                 \
        if (!(e_ <= t_)) fprintf(stderr, "error %.3g at element %zu > %.3g\n", e_, at_, t_); \
        CHECK_MSG(e_ <= t_, __VA_ARGS__);                                                 \
    } while (0)

/* A gradient: random values on the host and the same on the device, or
 * nothing at all (host NULL, device 0) when it is not wanted. */
typedef struct grad { float *host; gpu_ptr dev; size_t n; double max0; } grad;

static grad grad_new(size_t n, int wanted, uint64_t seed)
{
    grad g = {NULL, 0, n, 0.0};
    if (!wanted) return g;
    g.host = gpu_test_randoms(n, -1, 1, seed);
    g.dev = gpu_emu_put(dev, g.host, n);
    g.max0 = maxabs(g.host, n);
    return g;
}

static void grad_free(grad *g)
{
    if (g->dev) gpu_free(dev, g->dev);
    free(g->host);
}

TEST(the_device_epsilon_is_the_cpus)
{
    CHECK(AAK_NORM_EPS == K_NORM_EPS);
}

/* ---- reductions ----------------------------------------------------------------------------- */

typedef struct reduce_case { k_shape s; int axis; const char *what; } reduce_case;

static const reduce_case reduce_cases[] = {
    {{3, {3, 37, 5}}, 0, "first axis, few strided lines"},
    {{3, {3, 37, 5}}, 1, "middle axis, few strided lines"},
    {{3, {3, 37, 5}}, 2, "last axis"},
    {{3, {3, 37, 5}}, -1, "last axis, counted from the end"},
    {{4, {2, 3, 4, 70}}, 3, "rank 4, last axis"},
    {{4, {2, 3, 4, 70}}, 1, "rank 4, middle axis"},
    {{2, {700, 4}}, 0, "four long strided lines (several tiles)"},
    {{2, {3, 700}}, 1, "long contiguous lines (several tiles)"},
    {{3, {2, 9, 1100}}, 1, "many strided lines, middle axis (a thread each)"},
    {{2, {5, 2100}}, 0, "many strided lines, first axis (a thread each)"},
    {{1, {300}}, 0, "one line"},
};

static int reduce_keeps_shape(int op) { return op == AA_OP_CUMSUM || op == AA_OP_SOFTMAX; }

static int axis_len(const k_shape *s, int axis) { return s->d[axis < 0 ? axis + s->rank : axis]; }

/* Inputs in each op's domain: probabilities for ENTROPY, a quarter of them
 * exactly 0 (0 log 0 and the clamped gradient), a wide range for SOFTMAX. */
static float *reduce_input(int op, size_t n, uint64_t seed)
{
    if (op == AA_OP_SOFTMAX) return gpu_test_randoms(n, -4, 4, seed);
    if (op != AA_OP_ENTROPY) return gpu_test_randoms(n, -1, 1, seed);
    float *x = gpu_test_randoms(n, -0.3f, 1, seed);
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
    return x;
}

/* The largest sum of |terms| over the lines: t = |x| (or |x log x|) summed
 * along the axis by the CPU. */
static double max_line_abs_sum(const k_shape *s, int axis, const float *x, int entropy)
{
    size_t n = k_numel(s), ny = n / (size_t)axis_len(s, axis);
    float *t = malloc(n * sizeof *t), *sum = malloc((ny ? ny : 1) * sizeof *sum);
    for (size_t i = 0; i < n; i++) t[i] = entropy ? (x[i] > 0 ? fabsf(x[i] * logf(x[i])) : 0.0f) : fabsf(x[i]);
    k_reduce_fwd(AA_OP_SUM, s, axis, t, sum);
    double m = maxabs(sum, ny);
    free(t);
    free(sum);
    return m;
}

/* The forward's bound (see the top): a sum is one rounding (2U) and the
 * double sums' differences (U) apart; a mean adds a division. */
static double reduce_fwd_tol(int op, const reduce_case *c, const float *x, const float *y, size_t ny)
{
    int len = axis_len(&c->s, c->axis);
    switch (op) {
    case AA_OP_SUM:
    case AA_OP_CUMSUM: return 3 * U * max_line_abs_sum(&c->s, c->axis, x, 0);
    case AA_OP_MEAN: return 5 * U * max_line_abs_sum(&c->s, c->axis, x, 0) / (len ? len : 1);
    case AA_OP_VAR: return 3 * U * maxabs(y, ny);   /* a sum of squares: no cancellation */
    /* each term: logf (4U) and a product (2U) */
    case AA_OP_ENTROPY: return 9 * U * max_line_abs_sum(&c->s, c->axis, x, 1);
    /* y = e inv: e's exp (7U) and the sum's (7U), inv's and the product's roundings (4U), U */
    case AA_OP_SOFTMAX: return 19 * U;
    default: return 0;
    }
}

/* The backward's bound, for gradients pre-filled with values <= dx0. */
static double reduce_bwd_tol(int op, const reduce_case *c, const float *x, const float *dy, size_t ny, double dx0)
{
    size_t n = k_numel(&c->s);
    double len = axis_len(&c->s, c->axis) ? axis_len(&c->s, c->axis) : 1, g = maxabs(dy, ny);
    switch (op) {
    case AA_OP_SUM:
    case AA_OP_MEAN: return 4 * U * (dx0 + g);   /* g's division and the add */
    case AA_OP_VAR: {   /* dx += g (x - mu), mu an ulp apart (2U), then 3 roundings */
        double gv = 2 * g / len, xm = maxabs(x, n);
        return 9 * U * (dx0 + gv * 2 * xm);
    }
    case AA_OP_ENTROPY: {   /* dx += dy (-(log max(x, FLT_MIN) + 1)): the log (4U), add, product, add */
        double lg = -logf(FLT_MIN) + 1;
        return 10 * U * (dx0 + g * lg);
    }
    case AA_OP_CUMSUM: {   /* suffix sums of dy: as the forward's sums, then the add */
        double s = 0;
        float *ady = malloc(ny * sizeof *ady);
        for (size_t i = 0; i < ny; i++) ady[i] = fabsf(dy[i]);
        s = max_line_abs_sum(&c->s, c->axis, ady, 0);
        free(ady);
        return 5 * U * (dx0 + s);
    }
    /* dx += y (dy - d), y <= 1, |d| <= sum |dy y| <= max |dy|: d (3U), the
     * difference, the product and the add */
    case AA_OP_SOFTMAX: return 9 * U * (dx0 + 2 * g);
    default: return 0;
    }
}

static const char *reduce_name(int op)
{
    static const char *names[] = {"?", "sum", "mean", "var", "cumsum", "softmax", "entropy"};
    return op >= AA_OP_SUM && op <= AA_OP_ENTROPY ? names[op] : "?";
}

static void check_reduce(int op, const reduce_case *c, uint64_t seed)
{
    size_t n = k_numel(&c->s), ny = reduce_keeps_shape(op) ? n : n / (size_t)axis_len(&c->s, c->axis);
    float *x = reduce_input(op, n, seed), *y = malloc(ny * sizeof *y);
    k_reduce_fwd(op, &c->s, c->axis, x, y);
    gpu_ptr gx = gpu_emu_put(dev, x, n), gy = gpu_alloc(dev, ny * sizeof(float));
    CHECK(gpu_reduce_fwd(dev, op, &c->s, c->axis, gx, gy) == 0);
    CHECK_CLOSE(gy, y, ny, reduce_fwd_tol(op, c, x, y, ny), "%s forward, %s", reduce_name(op), c->what);

    /* Backward: the CPU's y (one op at a time), read by SOFTMAX only; x
     * read by VAR and ENTROPY only (the others get 0 for what they do not read). */
    float *dy = gpu_test_randoms(ny, -1, 1, seed + 1);
    grad dx = grad_new(n, 1, seed + 2);
    gpu_ptr gdy = gpu_emu_put(dev, dy, ny), gyc = op == AA_OP_SOFTMAX ? gpu_emu_put(dev, y, ny) : 0;
    gpu_ptr gxb = op == AA_OP_VAR || op == AA_OP_ENTROPY ? gx : 0;
    long before = gpu_emu_launches();
    CHECK(gpu_reduce_bwd(dev, op, &c->s, c->axis, gxb, gyc, gdy, 0) == 0);
    CHECK(gpu_emu_launches() == before);   /* no dx: nothing to do */
    double tol = reduce_bwd_tol(op, c, x, dy, ny, dx.max0);
    k_reduce_bwd(op, &c->s, c->axis, x, y, dy, dx.host);
    CHECK(gpu_reduce_bwd(dev, op, &c->s, c->axis, gxb, gyc, gdy, dx.dev) == 0);
    CHECK_CLOSE(dx.dev, dx.host, n, tol, "%s backward, %s", reduce_name(op), c->what);

    gpu_free(dev, gx); gpu_free(dev, gy); gpu_free(dev, gdy);
    if (gyc) gpu_free(dev, gyc);
    grad_free(&dx);
    free(x); free(y); free(dy);
}

TEST(every_reduction_along_every_kind_of_axis_matches_the_cpu)
{
    for (size_t k = 0; k < sizeof reduce_cases / sizeof *reduce_cases; k++)
        for (int op = AA_OP_SUM; op <= AA_OP_ENTROPY; op++) check_reduce(op, &reduce_cases[k], 1000 * k + 10 * op);
}

TEST(a_bad_axis_or_op_is_refused_with_a_reason)
{
    k_shape s = {2, {3, 4}};
    CHECK(gpu_reduce_fwd(dev, AA_OP_SUM, &s, 2, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "axis 2");
    CHECK(gpu_reduce_fwd(dev, AA_OP_SUM, &s, -3, 0, 0) == -1);
    CHECK(gpu_reduce_bwd(dev, 99, &s, 0, 0, 0, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "op 99");
    CHECK(gpu_gated_rmsnorm_fwd(dev, 2, 1, 1, 0, 0, 0, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "mode 2");
}

/* ---- norms --------------------------------------------------------------------------------- */

typedef struct norm_case { size_t rows; int D; } norm_case;

/* D over a block (300: two strides, the second partial), under it (70: a
 * block of 128), odd (33, and 40 rows: three weight-gradient chunks, the
 * last partial), and 1. */
static const norm_case norm_cases[] = {{5, 300}, {37, 70}, {40, 33}, {3, 1}};
#define N_NORM_CASES (sizeof norm_cases / sizeof *norm_cases)

/* Inputs of one case: x in [-1, 1], the gate in [-3, 3], weights in [0.5,
 * 1.5], bias and dy in [-1, 1]; their device copies. */
typedef struct norm_data {
    size_t rows, n;
    int D;
    float *x, *g, *w, *b, *dy;
    gpu_ptr gx, gg, gw, gb, gdy;
} norm_data;

static norm_data norm_data_new(const norm_case *c, uint64_t seed)
{
    norm_data t = {.rows = c->rows, .n = c->rows * (size_t)c->D, .D = c->D};
    t.x = gpu_test_randoms(t.n, -1, 1, seed);
    t.g = gpu_test_randoms(t.n, -3, 3, seed + 1);
    t.w = gpu_test_randoms((size_t)t.D, 0.5f, 1.5f, seed + 2);
    t.b = gpu_test_randoms((size_t)t.D, -1, 1, seed + 3);
    t.dy = gpu_test_randoms(t.n, -1, 1, seed + 4);
    t.gx = gpu_emu_put(dev, t.x, t.n);
    t.gg = gpu_emu_put(dev, t.g, t.n);
    t.gw = gpu_emu_put(dev, t.w, (size_t)t.D);
    t.gb = gpu_emu_put(dev, t.b, (size_t)t.D);
    t.gdy = gpu_emu_put(dev, t.dy, t.n);
    return t;
}

static void norm_data_free(norm_data *t)
{
    gpu_free(dev, t->gx); gpu_free(dev, t->gg); gpu_free(dev, t->gw); gpu_free(dev, t->gb); gpu_free(dev, t->gdy);
    free(t->x); free(t->g); free(t->w); free(t->b); free(t->dy);
}

/* A forward's outputs: y and the saved statistics, on the host (the
 * CPU's) and on the device. */
typedef struct norm_out { float *y, *saved; gpu_ptr gy, gsaved; size_t nsaved; } norm_out;

static norm_out norm_out_new(const norm_data *t, size_t nsaved)
{
    norm_out o = {malloc(t->n * sizeof(float)), malloc(nsaved * sizeof(float)), gpu_alloc(dev, t->n * sizeof(float)),
                  gpu_alloc(dev, nsaved * sizeof(float)), nsaved};
    return o;
}

static void norm_out_free(norm_out *o)
{
    gpu_free(dev, o->gy); gpu_free(dev, o->gsaved);
    free(o->y); free(o->saved);
}

/* The silu of a gate in [-3, 3] is below 3 in magnitude, its slope below 1.1. */
#define SILU_MAX 3.0
#define SILU_GRAD_MAX 1.1

TEST(rmsnorm_matches_the_cpu)
{
    for (size_t k = 0; k < N_NORM_CASES; k++) {
        norm_data t = norm_data_new(&norm_cases[k], 100 + k);
        norm_out o = norm_out_new(&t, t.rows);
        k_rmsnorm_fwd(t.rows, t.D, t.x, t.w, o.y, o.saved);
        CHECK(gpu_rmsnorm_fwd(dev, t.rows, t.D, t.gx, t.gw, o.gy, o.gsaved) == 0);
        /* rstd: an ulp and the double sums; y = x rstd w: and two roundings on each side */
        CHECK_CLOSE(o.gsaved, o.saved, t.rows, 3 * U, "rmsnorm rstd, D %d", t.D);
        CHECK_CLOSE(o.gy, o.y, t.n, 7 * U, "rmsnorm y, D %d", t.D);
        CHECK(gpu_rmsnorm_fwd(dev, t.rows, t.D, t.gx, t.gw, o.gy, 0) == 0);   /* rstd not kept */
        CHECK_CLOSE(o.gy, o.y, t.n, 7 * U, "rmsnorm y without rstd, D %d", t.D);

        /* The backward reads the CPU's rstd. dx += rstd w dy - c x with
         * c = rstd^3 / D sum dy w x: c an ulp apart (2U), the products, the
         * difference and the add round on each side. */
        gpu_ptr grs = gpu_emu_put(dev, o.saved, t.rows);
        double rs = maxabs(o.saved, t.rows), c = rs * rs * rs / t.D * max_row_abs_dot(t.rows, t.D, t.dy, t.x, t.w);
        double mx = maxabs(t.x, t.n), mw = maxabs(t.w, (size_t)t.D), mdy = maxabs(t.dy, t.n);
        for (int mask = 0; mask < 4; mask++) {
            grad dx = grad_new(t.n, mask & 1, 200 + k), dw = grad_new((size_t)t.D, mask & 2, 300 + k);
            double tol_dx = 12 * U * (dx.max0 + rs * mw * mdy + c * mx);
            double tol_dw = dw_tol(t.rows, mdy * mx * rs, 4, dw.max0);   /* dy x rstd: 2 roundings a side */
            k_rmsnorm_bwd(t.rows, t.D, t.x, t.w, o.saved, t.dy, dx.host, dw.host);
            long before = gpu_emu_launches();
            CHECK(gpu_rmsnorm_bwd(dev, t.rows, t.D, t.gx, t.gw, grs, t.gdy, dx.dev, dw.dev) == 0);
            if (!mask) CHECK(gpu_emu_launches() == before);
            if (dx.dev) CHECK_CLOSE(dx.dev, dx.host, t.n, tol_dx, "rmsnorm dx, D %d, mask %d", t.D, mask);
            if (dw.dev) CHECK_CLOSE(dw.dev, dw.host, (size_t)t.D, tol_dw, "rmsnorm dw, D %d, mask %d", t.D, mask);
            grad_free(&dx); grad_free(&dw);
        }
        gpu_free(dev, grs);
        norm_out_free(&o);
        norm_data_free(&t);
    }
}

/* Largest |mean| of LayerNorm's saved (mean, rstd) pairs, and rstd. */
static void ln_stats_max(const float *stats, size_t rows, double *m, double *rs)
{
    *m = *rs = 0;
    for (size_t r = 0; r < rows; r++) {
        *m = fabs(stats[2 * r]) > *m ? fabs(stats[2 * r]) : *m;
        *rs = fabs(stats[2 * r + 1]) > *rs ? fabs(stats[2 * r + 1]) : *rs;
    }
}

TEST(layernorm_matches_the_cpu)
{
    for (size_t k = 0; k < N_NORM_CASES; k++)
        for (int bias = 0; bias <= 1; bias++) {
            norm_data t = norm_data_new(&norm_cases[k], 400 + k);
            norm_out o = norm_out_new(&t, 2 * t.rows);
            const float *b = bias ? t.b : NULL;
            gpu_ptr gb = bias ? t.gb : 0;
            k_layernorm_fwd(t.rows, t.D, t.x, t.w, b, o.y, o.saved);
            CHECK(gpu_layernorm_fwd(dev, t.rows, t.D, t.gx, t.gw, gb, o.gy, o.gsaved) == 0);
            double m, rs, mx = maxabs(t.x, t.n), mw = maxabs(t.w, (size_t)t.D), mdy = maxabs(t.dy, t.n);
            ln_stats_max(o.saved, t.rows, &m, &rs);
            double xh = (mx + m) * rs;   /* |x - mean| rstd */
            /* mean and rstd: an ulp and the double sums. y = (x - m) rstd w + b: m and
             * rstd an ulp apart (4U), four roundings on each side, relative to the terms. */
            CHECK_CLOSE(o.gsaved, o.saved, 2 * t.rows, 3 * U, "layernorm stats, D %d", t.D);
            CHECK_CLOSE(o.gy, o.y, t.n, 13 * U * (xh * mw + (bias ? maxabs(t.b, (size_t)t.D) : 0)),
                        "layernorm y, D %d, bias %d", t.D, bias);
            CHECK(gpu_layernorm_fwd(dev, t.rows, t.D, t.gx, t.gw, gb, o.gy, 0) == 0);
            CHECK_CLOSE(o.gy, o.y, t.n, 13 * U * (xh * mw + (bias ? maxabs(t.b, (size_t)t.D) : 0)),
                        "layernorm y without stats, D %d, bias %d", t.D, bias);

            /* dx += rstd (dy w - mean(dy w) - xhat mean(dy w xhat)): the two means an ulp
             * apart (4U), six roundings on each side, relative to the terms. */
            gpu_ptr gst = gpu_emu_put(dev, o.saved, 2 * t.rows);
            double mg = mdy * mw, mgx = mg * xh;   /* |mean(dy w)|, |mean(dy w xhat)| */
            for (int mask = 0; mask < 8; mask++) {
                grad dx = grad_new(t.n, mask & 1, 500 + k), dw = grad_new((size_t)t.D, mask & 2, 600 + k),
                     db = grad_new((size_t)t.D, mask & 4, 700 + k);
                double tol_dx = 17 * U * (dx.max0 + rs * (2 * mg + xh * mgx));
                double tol_dw = dw_tol(t.rows, mdy * xh, 6, dw.max0);   /* dy ((x - m) rstd): 3 a side */
                double tol_db = dw_tol(t.rows, mdy, 0, db.max0);
                k_layernorm_bwd(t.rows, t.D, t.x, t.w, o.saved, t.dy, dx.host, dw.host, db.host);
                long before = gpu_emu_launches();
                CHECK(gpu_layernorm_bwd(dev, t.rows, t.D, t.gx, t.gw, gst, t.gdy, dx.dev, dw.dev, db.dev) == 0);
                if (!mask) CHECK(gpu_emu_launches() == before);
                if (dx.dev) CHECK_CLOSE(dx.dev, dx.host, t.n, tol_dx, "layernorm dx, D %d, mask %d", t.D, mask);
                if (dw.dev) CHECK_CLOSE(dw.dev, dw.host, (size_t)t.D, tol_dw, "layernorm dw, D %d, mask %d", t.D, mask);
                if (db.dev) CHECK_CLOSE(db.dev, db.host, (size_t)t.D, tol_db, "layernorm db, D %d, mask %d", t.D, mask);
                grad_free(&dx); grad_free(&dw); grad_free(&db);
            }
            gpu_free(dev, gst);
            norm_out_free(&o);
            norm_data_free(&t);
        }
}

TEST(l2norm_matches_the_cpu)
{
    for (size_t k = 0; k < N_NORM_CASES; k++) {
        norm_data t = norm_data_new(&norm_cases[k], 800 + k);
        norm_out o = norm_out_new(&t, t.rows);
        k_l2norm_fwd(t.rows, t.D, t.x, o.y, o.saved);
        CHECK(gpu_l2norm_fwd(dev, t.rows, t.D, t.gx, o.gy, o.gsaved) == 0);
        CHECK_CLOSE(o.gsaved, o.saved, t.rows, 3 * U, "l2norm rnorm, D %d", t.D);
        CHECK_CLOSE(o.gy, o.y, t.n, 5 * U, "l2norm y, D %d", t.D);   /* rnorm's 3U, a rounding a side */
        CHECK(gpu_l2norm_fwd(dev, t.rows, t.D, t.gx, o.gy, 0) == 0);
        CHECK_CLOSE(o.gy, o.y, t.n, 5 * U, "l2norm y without rnorm, D %d", t.D);

        /* dx += rnorm (dy - y d), d = dy . y (an ulp apart): three roundings a side. The
         * backward reads the CPU's y and rnorm. */
        gpu_ptr gyc = gpu_emu_put(dev, o.y, t.n), grn = gpu_emu_put(dev, o.saved, t.rows);
        double rn = maxabs(o.saved, t.rows), d = max_row_abs_dot(t.rows, t.D, t.dy, o.y, NULL);
        for (int mask = 0; mask < 2; mask++) {
            grad dx = grad_new(t.n, mask, 900 + k);
            double tol = 10 * U * (dx.max0 + rn * (maxabs(t.dy, t.n) + maxabs(o.y, t.n) * d));
            k_l2norm_bwd(t.rows, t.D, t.x, o.y, o.saved, t.dy, dx.host);
            long before = gpu_emu_launches();
            CHECK(gpu_l2norm_bwd(dev, t.rows, t.D, t.gx, gyc, grn, t.gdy, dx.dev) == 0);
            if (!mask) CHECK(gpu_emu_launches() == before);
            if (dx.dev) CHECK_CLOSE(dx.dev, dx.host, t.n, tol, "l2norm dx, D %d", t.D);
            grad_free(&dx);
        }
        gpu_free(dev, gyc); gpu_free(dev, grn);
        norm_out_free(&o);
        norm_data_free(&t);
    }
}

TEST(gated_rmsnorm_matches_the_cpu_in_both_modes)
{
    for (size_t k = 0; k < N_NORM_CASES; k++)
        for (int mode = 0; mode <= 1; mode++) {
            norm_data t = norm_data_new(&norm_cases[k], 1000 + k);
            norm_out o = norm_out_new(&t, t.rows);
            k_gated_rmsnorm_fwd(mode, t.rows, t.D, t.x, t.g, t.w, o.y, o.saved);
            CHECK(gpu_gated_rmsnorm_fwd(dev, mode, t.rows, t.D, t.gx, t.gg, t.gw, o.gy, o.gsaved) == 0);
            /* silu(g) = g / (1 + exp(-g)): the exps (7U), three roundings a side: 13U apart.
             * mode 0: y = x rstd w silu: rstd's 3U, three roundings a side: 22U.
             * mode 1: z = x silu (15U), rstd(z) (half of sum z^2's 2 x 15U, and 3U),
             * y = z (rstd w) (two roundings a side): 37U. */
            double tol_rs = mode ? 18 * U : 3 * U, tol_y = mode ? 37 * U : 22 * U;
            CHECK_CLOSE(o.gsaved, o.saved, t.rows, tol_rs, "gated mode %d rstd, D %d", mode, t.D);
            CHECK_CLOSE(o.gy, o.y, t.n, tol_y, "gated mode %d y, D %d", mode, t.D);
            CHECK(gpu_gated_rmsnorm_fwd(dev, mode, t.rows, t.D, t.gx, t.gg, t.gw, o.gy, 0) == 0);
            CHECK_CLOSE(o.gy, o.y, t.n, tol_y, "gated mode %d y without rstd, D %d", mode, t.D);

            /* The backward reads the CPU's rstd. Terms: a = rstd w dy silu (or dz's
             * rstd w dy) and b = c x silu, c = rstd^3 / D sum dy w x silu, and their
             * products with silu' or silu: silu's 13U and up to six roundings a side on
             * every path: 26U of the terms' magnitudes. */
            gpu_ptr grs = gpu_emu_put(dev, o.saved, t.rows);
            double rs = maxabs(o.saved, t.rows), mx = maxabs(t.x, t.n), mw = maxabs(t.w, (size_t)t.D);
            double mdy = maxabs(t.dy, t.n);
            double c = rs * rs * rs / t.D * max_row_abs_dot(t.rows, t.D, t.dy, t.x, t.w) * SILU_MAX;
            double a = rs * mw * mdy, dz = a + c * mx * SILU_MAX;
            for (int mask = 0; mask < 8; mask++) {
                grad dx = grad_new(t.n, mask & 1, 1100 + k), dg = grad_new(t.n, mask & 2, 1200 + k),
                     dw = grad_new((size_t)t.D, mask & 4, 1300 + k);
                double tol_dx = 26 * U * (dx.max0 + (mode ? dz * SILU_MAX : a * SILU_MAX + c * mx));
                double tol_dg = 26 * U * (dg.max0 + (mode ? dz * mx : a * mx) * SILU_GRAD_MAX);
                double tol_dw = dw_tol(t.rows, mdy * mx * SILU_MAX * rs, 19, dw.max0);   /* silu's 13U, 3 a side */
                k_gated_rmsnorm_bwd(mode, t.rows, t.D, t.x, t.g, t.w, o.saved, t.dy, dx.host, dg.host, dw.host);
                long before = gpu_emu_launches();
                CHECK(gpu_gated_rmsnorm_bwd(dev, mode, t.rows, t.D, t.gx, t.gg, t.gw, grs, t.gdy, dx.dev, dg.dev,
                                            dw.dev) == 0);
                if (!mask) CHECK(gpu_emu_launches() == before);
                if (dx.dev) CHECK_CLOSE(dx.dev, dx.host, t.n, tol_dx, "gated mode %d dx, D %d, mask %d", mode, t.D, mask);
                if (dg.dev) CHECK_CLOSE(dg.dev, dg.host, t.n, tol_dg, "gated mode %d dg, D %d, mask %d", mode, t.D, mask);
                if (dw.dev)
                    CHECK_CLOSE(dw.dev, dw.host, (size_t)t.D, tol_dw, "gated mode %d dw, D %d, mask %d", mode, t.D, mask);
                grad_free(&dx); grad_free(&dg); grad_free(&dw);
            }
            gpu_free(dev, grs);
            norm_out_free(&o);
            norm_data_free(&t);
        }
}

/* 4100 rows: chunks of 17 rows (more than 256 chunks of the minimum 16),
 * the last one partial; the weight gradient alone (no row kernel). */
TEST(weight_gradients_over_many_rows_match_the_cpu_and_repeat_bitwise)
{
    norm_case c = {4100, 5};
    norm_data t = norm_data_new(&c, 1400);
    float *rstd = malloc(t.rows * sizeof *rstd), *y = malloc(t.n * sizeof *y);
    k_rmsnorm_fwd(t.rows, t.D, t.x, t.w, y, rstd);
    gpu_ptr grs = gpu_emu_put(dev, rstd, t.rows);
    grad dw = grad_new((size_t)t.D, 1, 1500);
    gpu_ptr again = gpu_emu_put(dev, dw.host, (size_t)t.D);
    double tol = dw_tol(t.rows, maxabs(t.dy, t.n) * maxabs(t.x, t.n) * maxabs(rstd, t.rows), 4, dw.max0);
    k_rmsnorm_bwd(t.rows, t.D, t.x, t.w, rstd, t.dy, NULL, dw.host);
    CHECK(gpu_rmsnorm_bwd(dev, t.rows, t.D, t.gx, t.gw, grs, t.gdy, 0, dw.dev) == 0);
    CHECK(gpu_rmsnorm_bwd(dev, t.rows, t.D, t.gx, t.gw, grs, t.gdy, 0, again) == 0);
    CHECK_CLOSE(dw.dev, dw.host, (size_t)t.D, tol, "rmsnorm dw over %zu rows", t.rows);
    float first[5], second[5];
    CHECK(gpu_download(dev, first, dw.dev, sizeof first) == 0 && gpu_download(dev, second, again, sizeof second) == 0);
    CHECK(memcmp(first, second, sizeof first) == 0);
    gpu_free(dev, grs); gpu_free(dev, again);
    grad_free(&dw);
    free(rstd); free(y);
    norm_data_free(&t);
}

int main(void)
{
    dev = gpu_test_open();
    RUN(the_device_epsilon_is_the_cpus);
    RUN(every_reduction_along_every_kind_of_axis_matches_the_cpu);
    RUN(a_bad_axis_or_op_is_refused_with_a_reason);
    RUN(rmsnorm_matches_the_cpu);
    RUN(layernorm_matches_the_cpu);
    RUN(l2norm_matches_the_cpu);
    RUN(gated_rmsnorm_matches_the_cpu_in_both_modes);
    RUN(weight_gradients_over_many_rows_match_the_cpu_and_repeat_bitwise);
    gpu_close(dev);
    printf("largest error / tolerance: %.3g\n", worst_ratio);
    return test_summary();
}
