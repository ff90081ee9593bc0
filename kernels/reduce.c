/*
 * reduce.c — reductions and scans along one axis, and triangular masks.
 *
 * The input is viewed as [outer, n, inner] with n the reduced axis. Two
 * layouts, each with its own loops:
 *  - inner == 1 (the last axis, the common case): every row of n is
 *    contiguous; one row per iteration, parallel over rows.
 *  - inner > 1 (e.g. a mean over time of [B,T,C]): a task owns a tile of up
 *    to TILE adjacent columns of one outer slice and walks the n rows, so
 *    the innermost loop runs over contiguous columns (vectorised) instead of
 *    striding down a column.
 * Every output element is computed by one task in a fixed order (long sums in
 * double), so results do not depend on the number of threads.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "asiarch.h"
#include "kernels.h"
#include "kmath.h"

#define PAR_MIN 32768
#define TILE 64


/* ---- shape helpers ----------------------------------------------------------- */

typedef struct axis_view { size_t outer, n, inner; } axis_view;

static axis_view view_axis(const k_shape *s, int axis)
{
    if (axis < 0) axis += s->rank;
    axis_view v = {1, 1, 1};
    for (int i = 0; i < s->rank; i++) {
        if (i < axis) v.outer *= (size_t)s->d[i];
        else if (i == axis) v.n = (size_t)s->d[i];
        else v.inner *= (size_t)s->d[i];
    }
    return v;
}

static int keeps_shape(int op) { return op == AA_OP_CUMSUM || op == AA_OP_SOFTMAX; }

/* -p log p, with 0 log 0 = 0 (and nothing for p < 0, which is not a probability). */
static inline float plogp_neg(float p) { return p > 0.0f ? -p * logf(p) : 0.0f; }

/* d(-p log p)/dp = -(log p + 1); p is clamped to the smallest normal float so
 * the gradient stays finite at p = 0. */
static inline float plogp_neg_grad(float p) { return -(logf(fmaxf(p, FLT_MIN)) + 1.0f); }

/* ---- forward, contiguous rows ---------------------------------------------------- */

static double row_sum(size_t n, const float *x)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t k = 0; k < n; k++) s += x[k];
    return s;
}

static float row_var(size_t n, const float *x)
{
    double mu = row_sum(n, x) / (double)n, s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t k = 0; k < n; k++) {
        double d = x[k] - mu;
        s += d * d;
    }
    return (float)(s / (double)n);
}

static float row_entropy(size_t n, const float *p)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++) s += plogp_neg(p[k]);
    return (float)s;
}

static void row_cumsum(size_t n, const float *x, float *y)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        s += x[k];
        y[k] = (float)s;
    }
}


static void row_softmax(size_t n, const float *x, float *y)
{
    float m = row_max(n, x);
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t k = 0; k < n; k++) {
        y[k] = fast_expf(x[k] - m);
        s += y[k];
    }
    float inv = (float)(1.0 / s);
#pragma omp simd
    for (size_t k = 0; k < n; k++) y[k] *= inv;
}

static void reduce_row(int op, size_t n, const float *x, float *y)
{
    switch (op) {
    case AA_OP_SUM:     y[0] = (float)row_sum(n, x); break;
    case AA_OP_MEAN:    y[0] = (float)(row_sum(n, x) / (double)n); break;
    case AA_OP_VAR:     y[0] = row_var(n, x); break;
    case AA_OP_ENTROPY: y[0] = row_entropy(n, x); break;
    case AA_OP_CUMSUM:  row_cumsum(n, x, y); break;
    case AA_OP_SOFTMAX: row_softmax(n, x, y); break;
    default: break;
    }
}

/* ---- forward, column tiles (x at [o, 0, i0], row stride s, w columns) ---------- */

static void cols_sum(size_t n, size_t s, size_t w, const float *x, double *acc)
{
    for (size_t i = 0; i < w; i++) acc[i] = 0.0;
    for (size_t k = 0; k < n; k++) {
        const float *r = x + k * s;
#pragma omp simd
        for (size_t i = 0; i < w; i++) acc[i] += r[i];
    }
}

static void reduce_cols(int op, size_t n, size_t s, size_t w, const float *x, float *y)
{
    double acc[TILE], acc2[TILE];
    switch (op) {
    case AA_OP_SUM:
    case AA_OP_MEAN: {
        double scale = op == AA_OP_MEAN ? 1.0 / (double)n : 1.0;
        cols_sum(n, s, w, x, acc);
        for (size_t i = 0; i < w; i++) y[i] = (float)(acc[i] * scale);
        break;
    }
    case AA_OP_VAR:
        cols_sum(n, s, w, x, acc);
        for (size_t i = 0; i < w; i++) { acc[i] /= (double)n; acc2[i] = 0.0; }
        for (size_t k = 0; k < n; k++) {
            const float *r = x + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) {
                double d = r[i] - acc[i];
                acc2[i] += d * d;
            }
        }
        for (size_t i = 0; i < w; i++) y[i] = (float)(acc2[i] / (double)n);
        break;
    case AA_OP_ENTROPY:
        for (size_t i = 0; i < w; i++) acc[i] = 0.0;
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < w; i++) acc[i] += plogp_neg(x[k * s + i]);
        for (size_t i = 0; i < w; i++) y[i] = (float)acc[i];
        break;
    case AA_OP_CUMSUM:
        for (size_t i = 0; i < w; i++) acc[i] = 0.0;
        for (size_t k = 0; k < n; k++) {
            const float *r = x + k * s;
            float *o = y + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) {
                acc[i] += r[i];
                o[i] = (float)acc[i];
            }
        }
        break;
    case AA_OP_SOFTMAX: {
        float m[TILE];
        for (size_t i = 0; i < w; i++) { m[i] = -INFINITY; acc[i] = 0.0; }
        for (size_t k = 0; k < n; k++) {
            const float *r = x + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) m[i] = r[i] > m[i] ? r[i] : m[i];
        }
        for (size_t k = 0; k < n; k++) {
            const float *r = x + k * s;
            float *o = y + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) {
                o[i] = fast_expf(r[i] - m[i]);
                acc[i] += o[i];
            }
        }
        for (size_t i = 0; i < w; i++) m[i] = (float)(1.0 / acc[i]);
        for (size_t k = 0; k < n; k++) {
            float *o = y + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) o[i] *= m[i];
        }
        break;
    }
    default: break;
    }
}

void k_reduce_fwd(int op, const k_shape *sx, int axis, const float *x, float *y)
{
    axis_view v = view_axis(sx, axis);
    size_t yn = keeps_shape(op) ? v.n : 1; /* rows of y per outer slice */
    int par = v.outer * v.n * v.inner >= PAR_MIN;
    if (v.inner == 1) {
#pragma omp parallel for schedule(static) if (par)
        for (size_t o = 0; o < v.outer; o++) reduce_row(op, v.n, x + o * v.n, y + o * yn);
        return;
    }
    size_t ntile = (v.inner + TILE - 1) / TILE, tasks = v.outer * ntile;
#pragma omp parallel for schedule(static) if (par)
    for (size_t t = 0; t < tasks; t++) {
        size_t o = t / ntile, i0 = (t % ntile) * TILE;
        size_t w = v.inner - i0 < TILE ? v.inner - i0 : TILE;
        reduce_cols(op, v.n, v.inner, w, x + o * v.n * v.inner + i0, y + o * yn * v.inner + i0);
    }
}

/* ---- backward, contiguous rows ----------------------------------------------------- */

static void reduce_row_bwd(int op, size_t n, const float *x, const float *y, const float *dy,
                           float *dx)
{
    switch (op) {
    case AA_OP_SUM:
    case AA_OP_MEAN: {
        float g = op == AA_OP_MEAN ? dy[0] / (float)n : dy[0];
#pragma omp simd
        for (size_t k = 0; k < n; k++) dx[k] += g;
        break;
    }
    case AA_OP_VAR: {
        /* d/dx_k sum_j (x_j - mu)^2 / n = 2 (x_k - mu) / n: the mean's own
         * dependence on x_k cancels because sum_j (x_j - mu) = 0. */
        float mu = (float)(row_sum(n, x) / (double)n), g = 2.0f * dy[0] / (float)n;
#pragma omp simd
        for (size_t k = 0; k < n; k++) dx[k] += g * (x[k] - mu);
        break;
    }
    case AA_OP_ENTROPY: {
        float g = dy[0];
        for (size_t k = 0; k < n; k++) dx[k] += g * plogp_neg_grad(x[k]);
        break;
    }
    case AA_OP_CUMSUM: { /* dx_k += sum_{j >= k} dy_j */
        double s = 0.0;
        for (size_t k = n; k-- > 0;) {
            s += dy[k];
            dx[k] += (float)s;
        }
        break;
    }
    case AA_OP_SOFTMAX: { /* dx_k += y_k (dy_k - sum_j dy_j y_j) */
        double dot = 0.0;
#pragma omp simd reduction(+ : dot)
        for (size_t k = 0; k < n; k++) dot += (double)dy[k] * y[k];
        float d = (float)dot;
#pragma omp simd
        for (size_t k = 0; k < n; k++) dx[k] += y[k] * (dy[k] - d);
        break;
    }
    default: break;
    }
}

/* ---- backward, column tiles ----------------------------------------------------------- */

static void reduce_cols_bwd(int op, size_t n, size_t s, size_t w, const float *x, const float *y,
                            const float *dy, float *dx)
{
    double acc[TILE];
    float g[TILE];
    switch (op) {
    case AA_OP_SUM:
    case AA_OP_MEAN: {
        float scale = op == AA_OP_MEAN ? 1.0f / (float)n : 1.0f;
        for (size_t i = 0; i < w; i++) g[i] = dy[i] * scale;
        for (size_t k = 0; k < n; k++) {
            float *o = dx + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) o[i] += g[i];
        }
        break;
    }
    case AA_OP_VAR: {
        float mu[TILE];
        cols_sum(n, s, w, x, acc);
        for (size_t i = 0; i < w; i++) {
            mu[i] = (float)(acc[i] / (double)n);
            g[i] = 2.0f * dy[i] / (float)n;
        }
        for (size_t k = 0; k < n; k++) {
            const float *r = x + k * s;
            float *o = dx + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) o[i] += g[i] * (r[i] - mu[i]);
        }
        break;
    }
    case AA_OP_ENTROPY:
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < w; i++) dx[k * s + i] += dy[i] * plogp_neg_grad(x[k * s + i]);
        break;
    case AA_OP_CUMSUM:
        for (size_t i = 0; i < w; i++) acc[i] = 0.0;
        for (size_t k = n; k-- > 0;) {
            const float *r = dy + k * s;
            float *o = dx + k * s;
#pragma omp simd
            for (size_t i = 0; i < w; i++) {
                acc[i] += r[i];
                o[i] += (float)acc[i];
            }
        }
        break;
    case AA_OP_SOFTMAX:
        for (size_t i = 0; i < w; i++) acc[i] = 0.0;
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < w; i++) acc[i] += (double)dy[k * s + i] * y[k * s + i];
        for (size_t i = 0; i < w; i++) g[i] = (float)acc[i];
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < w; i++)
                dx[k * s + i] += y[k * s + i] * (dy[k * s + i] - g[i]);
        break;
    default: break;
    }
}

void k_reduce_bwd(int op, const k_shape *sx, int axis, const float *x, const float *y,
                  const float *dy, float *dx)
{
    if (!dx) return;
    axis_view v = view_axis(sx, axis);
    size_t yn = keeps_shape(op) ? v.n : 1;
    int par = v.outer * v.n * v.inner >= PAR_MIN;
    if (v.inner == 1) {
#pragma omp parallel for schedule(static) if (par)
        for (size_t o = 0; o < v.outer; o++)
            reduce_row_bwd(op, v.n, x + o * v.n, y ? y + o * yn : NULL, dy + o * yn, dx + o * v.n);
        return;
    }
    size_t ntile = (v.inner + TILE - 1) / TILE, tasks = v.outer * ntile;
#pragma omp parallel for schedule(static) if (par)
    for (size_t t = 0; t < tasks; t++) {
        size_t o = t / ntile, i0 = (t % ntile) * TILE;
        size_t w = v.inner - i0 < TILE ? v.inner - i0 : TILE;
        size_t xo = o * v.n * v.inner + i0, yo = o * yn * v.inner + i0;
        reduce_cols_bwd(op, v.n, v.inner, w, x + xo, y ? y + yo : NULL, dy + yo, dx + xo);
    }
}

/* ---- triangular masks ------------------------------------------------------------------ */

/* Over the last two axes [R, C], keep element (i, j) when
 *   lower (upper = 0):  j - i <= diagonal
 *   upper (upper = 1):  i - j <= diagonal
 * so for both, diagonal 0 keeps the main diagonal and -1 excludes it (the
 * DSL's aa_tril / aa_triu contract), and positive values keep that many
 * extra diagonals on the other side. */
void k_mask(int upper, int diagonal, const k_shape *s, const float *x, float *y, int accumulate)
{
    long R = s->rank >= 2 ? s->d[s->rank - 2] : 1, C = s->rank >= 1 ? s->d[s->rank - 1] : 1;
    if (R <= 0 || C <= 0) return;
    size_t rows = k_numel(s) / (size_t)C;
#pragma omp parallel for schedule(static) if (rows * (size_t)C >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        long i = (long)(r % (size_t)R), lo, hi; /* kept columns: [lo, hi) */
        if (upper) { lo = i + diagonal; hi = C; }
        else { lo = 0; hi = i + diagonal + 1; }
        lo = lo < 0 ? 0 : (lo > C ? C : lo);
        hi = hi < lo ? lo : (hi > C ? C : hi);
        const float *xr = x + r * (size_t)C;
        float *yr = y + r * (size_t)C;
        if (accumulate) {
            for (long j = lo; j < hi; j++) yr[j] += xr[j];
        } else {
            for (long j = 0; j < lo; j++) yr[j] = 0.0f;
            memmove(yr + lo, xr + lo, (size_t)(hi - lo) * sizeof *yr); /* x may be y */
            for (long j = hi; j < C; j++) yr[j] = 0.0f;
        }
    }
}
