/*
 * norm.c — RMSNorm, LayerNorm, L2-norm and gated RMSNorm over the last axis
 * of a [rows, D] tensor.
 *
 * Forward and the input gradient are per row: parallel over rows, row sums
 * in double. Weight (and bias) gradients are sums over rows; they are
 * computed in a second pass that is parallel over tiles of columns, each tile
 * summing all rows in order, so they do not depend on the thread count (a
 * split over rows would).
 */
#include <math.h>

#include "kernels.h"

#define PAR_MIN 32768
#define TW 32 /* columns per task in the weight-gradient pass */

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

static double row_sumsq(int D, const float *x)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < D; i++) s += (double)x[i] * x[i];
    return s;
}

static float rms_rstd(int D, const float *x)
{
    return (float)(1.0 / sqrt(row_sumsq(D, x) / D + K_NORM_EPS));
}

/* out[i] += sum over rows r of TERM, where TERM reads r, o = r*D + c0 and
 * the column i of the tile (element o + i). One task per tile of columns. */
#define COLUMN_SUMS(out, TERM)                                                      \
    do {                                                                            \
        int ntile_ = (D + TW - 1) / TW;                                             \
        _Pragma("omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)") \
        for (int t_ = 0; t_ < ntile_; t_++) {                                       \
            int c0 = t_ * TW, w_ = D - c0 < TW ? D - c0 : TW;                       \
            double acc_[TW] = {0};                                                  \
            for (size_t r = 0; r < rows; r++) {                                     \
                size_t o = r * (size_t)D + (size_t)c0;                              \
                _Pragma("omp simd")                                                 \
                for (int i = 0; i < w_; i++) acc_[i] += (TERM);                     \
            }                                                                       \
            for (int i = 0; i < w_; i++) (out)[c0 + i] += (float)acc_[i];           \
        }                                                                           \
    } while (0)

/* ---- RMSNorm: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) ------------------ */

void k_rmsnorm_fwd(size_t rows, int D, const float *x, const float *w, float *y, float *rstd)
{
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D, rs = rms_rstd(D, xr);
        if (rstd) rstd[r] = rs;
#pragma omp simd
        for (int i = 0; i < D; i++) yr[i] = xr[i] * rs * w[i];
    }
}

/* dx_i = rstd w_i dy_i - rstd^3 / D * x_i * sum_j dy_j w_j x_j */
void k_rmsnorm_bwd(size_t rows, int D, const float *x, const float *w, const float *rstd,
                   const float *dy, float *dx, float *dw)
{
    if (dx) {
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * D, *g = dy + r * D;
            float *o = dx + r * D, rs = rstd[r];
            double dot = 0.0;
#pragma omp simd reduction(+ : dot)
            for (int i = 0; i < D; i++) dot += (double)g[i] * w[i] * xr[i];
            float c = (float)(dot * rs * rs * rs / D);
#pragma omp simd
            for (int i = 0; i < D; i++) o[i] += rs * w[i] * g[i] - c * xr[i];
        }
    }
    if (dw) COLUMN_SUMS(dw, (double)dy[o + i] * x[o + i] * rstd[r]);
}

/* ---- LayerNorm: y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps) ----------- */

void k_layernorm_fwd(size_t rows, int D, const float *x, const float *w, const float *b, float *y,
                     float *stats)
{
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        double s = 0.0, ss = 0.0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < D; i++) s += xr[i];
        double mu = s / D;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < D; i++) ss += (xr[i] - mu) * (xr[i] - mu);
        float m = (float)mu, rs = (float)(1.0 / sqrt(ss / D + K_NORM_EPS));
        if (stats) { stats[2 * r] = m; stats[2 * r + 1] = rs; }
        if (b) {
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
        } else {
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] = (xr[i] - m) * rs * w[i];
        }
    }
}

/* With xhat = (x - mean) rstd and g = dy w:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dw += sum dy xhat,  db += sum dy. */
void k_layernorm_bwd(size_t rows, int D, const float *x, const float *w, const float *stats,
                     const float *dy, float *dx, float *dw, float *db)
{
    if (dx) {
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * D, *gr = dy + r * D;
            float *o = dx + r * D, m = stats[2 * r], rs = stats[2 * r + 1];
            double sg = 0.0, sgx = 0.0;
#pragma omp simd reduction(+ : sg, sgx)
            for (int i = 0; i < D; i++) {
                float g = gr[i] * w[i];
                sg += g;
                sgx += (double)g * ((xr[i] - m) * rs);
            }
            float mg = (float)(sg / D), mgx = (float)(sgx / D);
#pragma omp simd
            for (int i = 0; i < D; i++) {
                float xh = (xr[i] - m) * rs;
                o[i] += rs * (gr[i] * w[i] - mg - xh * mgx);
            }
        }
    }
    if (dw) COLUMN_SUMS(dw, (double)dy[o + i] * ((x[o + i] - stats[2 * r]) * stats[2 * r + 1]));
    if (db) COLUMN_SUMS(db, (double)dy[o + i]);
}

/* ---- L2-norm: y = x * rnorm, rnorm = 1 / sqrt(sum x^2 + eps) -------------------------- */

void k_l2norm_fwd(size_t rows, int D, const float *x, float *y, float *rnorm)
{
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D, rn = (float)(1.0 / sqrt(row_sumsq(D, xr) + K_NORM_EPS));
        if (rnorm) rnorm[r] = rn;
#pragma omp simd
        for (int i = 0; i < D; i++) yr[i] = xr[i] * rn;
    }
}

/* dx = rnorm (dy - y (dy . y)) */
void k_l2norm_bwd(size_t rows, int D, const float *x, const float *y, const float *rnorm,
                  const float *dy, float *dx)
{
    if (!dx) return;
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * D, *g = dy + r * D;
        float *o = dx + r * D, rn = rnorm[r];
        double dot = 0.0;
#pragma omp simd reduction(+ : dot)
        for (int i = 0; i < D; i++) dot += (double)g[i] * yr[i];
        float d = (float)dot;
#pragma omp simd
        for (int i = 0; i < D; i++) o[i] += rn * (g[i] - yr[i] * d);
    }
}

/* ---- gated RMSNorm ------------------------------------------------------------------------
 * mode 0 (norm then gate): y = x rstd(x) w silu(g)
 * mode 1 (gate then norm): z = x silu(g), y = z rstd(z) w
 */

void k_gated_rmsnorm_fwd(int mode, size_t rows, int D, const float *x, const float *g,
                         const float *w, float *y, float *rstd)
{
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * D, *gr = g + r * D;
        float *yr = y + r * D;
        if (mode == 0) {
            float rs = rms_rstd(D, xr);
            if (rstd) rstd[r] = rs;
            for (int i = 0; i < D; i++) yr[i] = xr[i] * rs * w[i] * (gr[i] * sigmoidf(gr[i]));
        } else {
            /* z goes through y, then y is scaled in place */
            for (int i = 0; i < D; i++) yr[i] = xr[i] * (gr[i] * sigmoidf(gr[i]));
            float rs = rms_rstd(D, yr);
            if (rstd) rstd[r] = rs;
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] *= rs * w[i];
        }
    }
}

/*
 * silu(g) = g s, silu'(g) = s (1 + g (1 - s)), s = sigmoid(g).
 * mode 0: u = dy silu(g) is the gradient of rmsnorm(x) w, so
 *           dx = rstd w u - rstd^3 / D x sum_j u_j w_j x_j,
 *           dg = dy x rstd w silu'(g).
 * mode 1: dz = rstd w dy - rstd^3 / D z sum_j dy_j w_j z_j,
 *           dx = dz silu(g),  dg = dz x silu'(g).
 * Both:  dw += sum over rows of dy x silu(g) rstd.
 */
static void gated_row_bwd(int mode, int D, const float *x, const float *g, const float *w,
                          float rs, const float *dy, float *dx, float *dg)
{
    double dot = 0.0;
    for (int i = 0; i < D; i++) {
        float z = x[i] * g[i] * sigmoidf(g[i]); /* x silu(g) */
        dot += (double)dy[i] * w[i] * z;        /* mode 0: sum u w x; mode 1: sum dy w z */
    }
    float c = (float)(dot * rs * rs * rs / D);
    for (int i = 0; i < D; i++) {
        float s = sigmoidf(g[i]), silu = g[i] * s, dsilu = s * (1.0f + g[i] * (1.0f - s));
        if (mode == 0) {
            if (dx) dx[i] += rs * w[i] * dy[i] * silu - c * x[i];
            if (dg) dg[i] += dy[i] * x[i] * rs * w[i] * dsilu;
        } else {
            float dz = rs * w[i] * dy[i] - c * x[i] * silu;
            if (dx) dx[i] += dz * silu;
            if (dg) dg[i] += dz * x[i] * dsilu;
        }
    }
}

void k_gated_rmsnorm_bwd(int mode, size_t rows, int D, const float *x, const float *g,
                         const float *w, const float *rstd, const float *dy, float *dx,
                         float *dg, float *dw)
{
    if (dx || dg) {
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
        for (size_t r = 0; r < rows; r++)
            gated_row_bwd(mode, D, x + r * D, g + r * D, w, rstd[r], dy + r * D,
                          dx ? dx + r * D : NULL, dg ? dg + r * D : NULL);
    }
    if (dw)
        COLUMN_SUMS(dw, (double)dy[o + i] * x[o + i] * (g[o + i] * sigmoidf(g[o + i])) * rstd[r]);
}
