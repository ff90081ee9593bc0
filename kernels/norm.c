/*
 * norm.c — RMSNorm, LayerNorm, L2-norm and gated RMSNorm over the last axis
 * of a [rows, D] tensor.
 *
 * Forward and the input gradient are per row: parallel over rows, row sums
 * in double. Weight (and bias) gradients are sums over rows, made in the same
 * pass: rows are cut into at most MAXBLK blocks whose bounds depend only on
 * the row count, each block adds its rows in order into its own slot of a
 * workspace, and the slots are added up in block order (in double) at the
 * end. Nothing depends on the thread count, and x and dy are read once.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "kmath.h"

#define PAR_MIN 32768
#define MAXBLK 64 /* row blocks of a weight-gradient sum */
#define TW 64     /* columns per task when the blocks are added up */



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

/* ---- weight-gradient workspace ------------------------------------------------- */

typedef struct row_blocks {
    size_t n;     /* number of blocks */
    float *part;  /* [n][width] partial sums, NULL when no weight gradient is wanted */
} row_blocks;

static row_blocks blocks_new(size_t rows, size_t width, int wanted)
{
    row_blocks b = {rows < MAXBLK ? (rows ? rows : 1) : MAXBLK, NULL};
    if (!wanted) return b;
    b.part = calloc(b.n * width, sizeof *b.part);
    if (!b.part) {
        fprintf(stderr, "norm: out of memory for a %zu x %zu workspace\n", b.n, width);
        abort();
    }
    return b;
}

/* out[i] += sum over blocks of part[k][off + i], i < D, in block order. */
static void blocks_sum(const row_blocks *b, size_t width, size_t off, int D, float *out)
{
    int ntile = (D + TW - 1) / TW;
#pragma omp parallel for schedule(static) if (b->n * (size_t)D >= PAR_MIN)
    for (int t = 0; t < ntile; t++) {
        int c0 = t * TW, w = D - c0 < TW ? D - c0 : TW;
        double acc[TW] = {0};
        for (size_t k = 0; k < b->n; k++) {
            const float *p = b->part + k * width + off + c0;
#pragma omp simd
            for (int i = 0; i < w; i++) acc[i] += p[i];
        }
        for (int i = 0; i < w; i++) out[c0 + i] += (float)acc[i];
    }
}

/* Rows [*r0, *r1) of block k. */
static void block_rows(size_t rows, size_t nb, size_t k, size_t *r0, size_t *r1)
{
    *r0 = rows * k / nb;
    *r1 = rows * (k + 1) / nb;
}

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

/* dx_i  = rstd w_i dy_i - rstd^3 / D * x_i * sum_j dy_j w_j x_j
 * dw_i += sum over rows of dy_i x_i rstd */
void k_rmsnorm_bwd(size_t rows, int D, const float *x, const float *w, const float *rstd,
                   const float *dy, float *dx, float *dw)
{
    row_blocks b = blocks_new(rows, D, dw != NULL);
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t k = 0; k < b.n; k++) {
        size_t r0, r1;
        block_rows(rows, b.n, k, &r0, &r1);
        float *pw = b.part ? b.part + k * D : NULL;
        for (size_t r = r0; r < r1; r++) {
            const float *xr = x + r * D, *g = dy + r * D;
            float rs = rstd[r];
            if (dx) {
                float *o = dx + r * D;
                double dot = 0.0;
#pragma omp simd reduction(+ : dot)
                for (int i = 0; i < D; i++) dot += (double)g[i] * w[i] * xr[i];
                float c = (float)(dot * rs * rs * rs / D);
#pragma omp simd
                for (int i = 0; i < D; i++) o[i] += rs * w[i] * g[i] - c * xr[i];
            }
            if (pw) {
#pragma omp simd
                for (int i = 0; i < D; i++) pw[i] += g[i] * xr[i] * rs;
            }
        }
    }
    if (dw) blocks_sum(&b, D, 0, D, dw);
    free(b.part);
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
    size_t width = 2 * (size_t)D; /* per block: dw partials, then db partials */
    row_blocks bl = blocks_new(rows, width, dw || db);
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t k = 0; k < bl.n; k++) {
        size_t r0, r1;
        block_rows(rows, bl.n, k, &r0, &r1);
        float *pw = bl.part ? bl.part + k * width : NULL, *pb = pw ? pw + D : NULL;
        for (size_t r = r0; r < r1; r++) {
            const float *xr = x + r * D, *gr = dy + r * D;
            float m = stats[2 * r], rs = stats[2 * r + 1];
            if (dx) {
                float *o = dx + r * D;
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
            if (pw) {
#pragma omp simd
                for (int i = 0; i < D; i++) {
                    pw[i] += gr[i] * ((xr[i] - m) * rs);
                    pb[i] += gr[i];
                }
            }
        }
    }
    if (dw) blocks_sum(&bl, width, 0, D, dw);
    if (db) blocks_sum(&bl, width, D, D, db);
    free(bl.part);
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
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] = xr[i] * rs * w[i] * (gr[i] * sigmoidf(gr[i]));
        } else {
            /* z goes through y, then y is scaled in place */
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] = xr[i] * (gr[i] * sigmoidf(gr[i]));
            float rs = rms_rstd(D, yr);
            if (rstd) rstd[r] = rs;
#pragma omp simd
            for (int i = 0; i < D; i++) yr[i] *= rs * w[i];
        }
    }
}

/*
 * silu(g) = g s, silu'(g) = s (1 + g (1 - s)), s = sigmoid(g); z = x silu(g).
 * Both modes need c = rstd^3 / D * sum_j dy_j w_j z_j (for mode 0 that is
 * sum_j u_j w_j x_j with u = dy silu(g), the gradient of rmsnorm(x) w).
 * mode 0:  dx = rstd w u - c x,      dg = dy x rstd w silu'(g)
 * mode 1:  dz = rstd w dy - c z,     dx = dz silu(g),  dg = dz x silu'(g)
 * Both:    dw += sum over rows of dy z rstd.
 */
static inline float silu_grad(float g, float s) { return s * (1.0f + g * (1.0f - s)); }

/* One loop per wanted output, so each is branch-free and vectorises (the
 * sigmoid is recomputed; with the vectorised exp that is cheaper than a
 * scratch row). */
static void gated_row_bwd(int mode, int D, const float *x, const float *g, const float *w,
                          float rs, const float *dy, float *dx, float *dg, float *pw)
{
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (int i = 0; i < D; i++) dot += (double)dy[i] * w[i] * (x[i] * g[i] * sigmoidf(g[i]));
    float c = (float)(dot * rs * rs * rs / D);
    if (mode == 0) {
        if (dx) {
#pragma omp simd
            for (int i = 0; i < D; i++) dx[i] += rs * w[i] * dy[i] * (g[i] * sigmoidf(g[i])) - c * x[i];
        }
        if (dg) {
#pragma omp simd
            for (int i = 0; i < D; i++) dg[i] += dy[i] * x[i] * rs * w[i] * silu_grad(g[i], sigmoidf(g[i]));
        }
    } else {
        if (dx) {
#pragma omp simd
            for (int i = 0; i < D; i++) {
                float silu = g[i] * sigmoidf(g[i]);
                dx[i] += (rs * w[i] * dy[i] - c * x[i] * silu) * silu;
            }
        }
        if (dg) {
#pragma omp simd
            for (int i = 0; i < D; i++) {
                float s = sigmoidf(g[i]), silu = g[i] * s;
                dg[i] += (rs * w[i] * dy[i] - c * x[i] * silu) * x[i] * silu_grad(g[i], s);
            }
        }
    }
    if (pw) {
#pragma omp simd
        for (int i = 0; i < D; i++) pw[i] += dy[i] * x[i] * (g[i] * sigmoidf(g[i])) * rs;
    }
}

void k_gated_rmsnorm_bwd(int mode, size_t rows, int D, const float *x, const float *g,
                         const float *w, const float *rstd, const float *dy, float *dx,
                         float *dg, float *dw)
{
    if (!dx && !dg && !dw) return;
    row_blocks b = blocks_new(rows, D, dw != NULL);
#pragma omp parallel for schedule(static) if (rows * (size_t)D >= PAR_MIN)
    for (size_t k = 0; k < b.n; k++) {
        size_t r0, r1;
        block_rows(rows, b.n, k, &r0, &r1);
        float *pw = b.part ? b.part + k * D : NULL;
        for (size_t r = r0; r < r1; r++)
            gated_row_bwd(mode, D, x + r * D, g + r * D, w, rstd[r], dy + r * D,
                          dx ? dx + r * D : NULL, dg ? dg + r * D : NULL, pw);
    }
    if (dw) blocks_sum(&b, D, 0, D, dw);
    free(b.part);
}
