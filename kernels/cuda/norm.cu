/*
 * norm.cu — RMSNorm, LayerNorm, L2-norm and gated RMSNorm over the last
 * axis of [rows, D], forward and backward, as kernels/norm.c computes them
 * (the same formulas in the same order, so the devices agree to rounding).
 *
 * Forward and the input gradients take a block per row (grid-striding over
 * rows), its threads striding along the row and meeting in block sums. As on
 * the CPU the row sums are accumulated in double (these kernels are bound by
 * memory bandwidth, so that is free on sm_80/sm_90) and rounded once.
 * Weight gradients are sums over all rows: aak_norm_dw_part sums chunks of
 * rows per column, aak_norm_dw_sum adds the chunks in order. Every order is fixed by the shape: deterministic, no atomics.
 */
#include "aak.h"
#include "norm.h"

static inline float silu(float g) { return g * aak_sigmoid(g); }
/* silu'(g) from s = sigmoid(g). */
static inline float silu_grad(float g, float s) { return s * (1.0f + g * (1.0f - s)); }

/* 1 / sqrt(ss / D + eps) of a row's sum of squares, as the CPU rounds it. */
static inline float rstd_of(double ss, int D) { return (float)(1.0 / sqrt(ss / D + (double)AAK_NORM_EPS)); }

/* Sum over the row of x^2, in double, to every thread of the block. */
static inline double row_sumsq(int D, const float *x, double *red)
{
    double s = 0.0;
    for (int i = (int)threadIdx.x; i < D; i += (int)blockDim.x) s += (double)x[i] * x[i];
    return aak_block_sum_double(s, red);
}

/* ---- forward ------------------------------------------------------------------------- */

/* y = x rstd w, rstd = 1 / sqrt(mean(x^2) + eps) */
AAK_KERNEL(aak_rmsnorm_fwd, aak_norm_fwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {   /* uniform over the block */
        const float *x = p.x + r * p.D;
        float *y = p.y + r * p.D, rs = rstd_of(row_sumsq(p.D, x, red), p.D);
        if (p.saved && threadIdx.x == 0) p.saved[r] = rs;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) y[i] = x[i] * rs * p.w[i];
    }
}

/* y = (x - mean) rstd w (+ b), rstd = 1 / sqrt(var + eps); saved (mean, rstd) */
AAK_KERNEL(aak_layernorm_fwd, aak_norm_fwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *x = p.x + r * p.D;
        float *y = p.y + r * p.D;
        double s = 0.0, ss = 0.0;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) s += x[i];
        double mu = aak_block_sum_double(s, red) / p.D;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) ss += (x[i] - mu) * (x[i] - mu);
        ss = aak_block_sum_double(ss, red);
        float m = (float)mu, rs = rstd_of(ss, p.D);
        if (p.saved && threadIdx.x == 0) {
            p.saved[2 * r] = m;
            p.saved[2 * r + 1] = rs;
        }
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x)
            y[i] = p.b ? (x[i] - m) * rs * p.w[i] + p.b[i] : (x[i] - m) * rs * p.w[i];
    }
}

/* y = x rnorm, rnorm = 1 / sqrt(sum x^2 + eps) */
AAK_KERNEL(aak_l2norm_fwd, aak_norm_fwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *x = p.x + r * p.D;
        float *y = p.y + r * p.D, rn = (float)(1.0 / sqrt(row_sumsq(p.D, x, red) + (double)AAK_NORM_EPS));
        if (p.saved && threadIdx.x == 0) p.saved[r] = rn;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) y[i] = x[i] * rn;
    }
}

/* mode 0 (norm then gate): y = x rstd(x) w silu(g)
 * mode 1 (gate then norm): z = x silu(g), y = z rstd(z) w (z goes through y) */
AAK_KERNEL(aak_gated_rmsnorm_fwd, aak_norm_fwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *x = p.x + r * p.D, *g = p.g + r * p.D;
        float *y = p.y + r * p.D, rs;
        if (p.mode == 0) {
            rs = rstd_of(row_sumsq(p.D, x, red), p.D);
            for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) y[i] = x[i] * rs * p.w[i] * silu(g[i]);
        } else {
            double s = 0.0;
            for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) {
                float z = x[i] * silu(g[i]);
                y[i] = z;
                s += (double)z * z;
            }
            rs = rstd_of(aak_block_sum_double(s, red), p.D);
            for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) y[i] *= rs * p.w[i];   /* own writes */
        }
        if (p.saved && threadIdx.x == 0) p.saved[r] = rs;
    }
}

/* ---- input gradients ---------------------------------------------------------------------- */

/* dx += rstd w dy - rstd^3 / D x sum_j dy_j w_j x_j */
AAK_KERNEL(aak_rmsnorm_bwd, aak_norm_bwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *x = p.x + r * p.D, *dy = p.dy + r * p.D;
        float *dx = p.dx + r * p.D, rs = p.saved[r];
        double dot = 0.0;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) dot += (double)dy[i] * p.w[i] * x[i];
        float c = (float)(aak_block_sum_double(dot, red) * rs * rs * rs / p.D);
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) dx[i] += rs * p.w[i] * dy[i] - c * x[i];
    }
}

/* With xhat = (x - mean) rstd and gw = dy w: dx += rstd (gw - mean(gw) - xhat mean(gw xhat)) */
AAK_KERNEL(aak_layernorm_bwd, aak_norm_bwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *x = p.x + r * p.D, *dy = p.dy + r * p.D;
        float *dx = p.dx + r * p.D, m = p.saved[2 * r], rs = p.saved[2 * r + 1];
        double sg = 0.0, sgx = 0.0;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) {
            float gw = dy[i] * p.w[i];
            sg += gw;
            sgx += (double)gw * ((x[i] - m) * rs);
        }
        float mg = (float)(aak_block_sum_double(sg, red) / p.D), mgx = (float)(aak_block_sum_double(sgx, red) / p.D);
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) {
            float xh = (x[i] - m) * rs;
            dx[i] += rs * (dy[i] * p.w[i] - mg - xh * mgx);
        }
    }
}

/* dx += rnorm (dy - y (dy . y)) */
AAK_KERNEL(aak_l2norm_bwd, aak_norm_bwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const float *y = p.y + r * p.D, *dy = p.dy + r * p.D;
        float *dx = p.dx + r * p.D, rn = p.saved[r];
        double dot = 0.0;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) dot += (double)dy[i] * y[i];
        float d = (float)aak_block_sum_double(dot, red);
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) dx[i] += rn * (dy[i] - y[i] * d);
    }
}

/*
 * With s = sigmoid(g), z = x silu(g), c = rstd^3 / D sum_j dy_j w_j z_j:
 *   mode 0:  dx += rstd w dy silu(g) - c x,   dg += dy x rstd w silu'(g)
 *   mode 1:  dz = rstd w dy - c z,  dx += dz silu(g),  dg += dz x silu'(g)
 */
AAK_KERNEL(aak_gated_rmsnorm_bwd, aak_norm_bwd_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    for (long long r = blockIdx.x; r < p.rows; r += gridDim.x) {
        long long o = r * p.D;
        const float *x = p.x + o, *g = p.g + o, *dy = p.dy + o, *w = p.w;
        float *dx = p.dx ? p.dx + o : p.dx, *dg = p.dg ? p.dg + o : p.dg, rs = p.saved[r];
        double dot = 0.0;
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x)
            dot += (double)dy[i] * w[i] * (x[i] * g[i] * aak_sigmoid(g[i]));
        float c = (float)(aak_block_sum_double(dot, red) * rs * rs * rs / p.D);
        for (int i = (int)threadIdx.x; i < p.D; i += (int)blockDim.x) {
            float s = aak_sigmoid(g[i]), sl = g[i] * s;
            if (p.mode == 0) {
                if (dx) dx[i] += rs * w[i] * dy[i] * sl - c * x[i];
                if (dg) dg[i] += dy[i] * x[i] * rs * w[i] * silu_grad(g[i], s);
            } else {
                float dz = rs * w[i] * dy[i] - c * x[i] * sl;
                if (dx) dx[i] += dz * sl;
                if (dg) dg[i] += dz * x[i] * silu_grad(g[i], s);
            }
        }
    }
}

/* ---- weight gradients ----------------------------------------------------------------------- */

/* The term of row r, column i that a weight gradient sums. */
static inline float dw_term(const aak_norm_dw_args *a, long long r, int i)
{
    long long e = r * a->D + i;
    switch (a->term) {
    case AAK_NORM_TERM_RMS: return a->dy[e] * a->x[e] * a->saved[r];
    case AAK_NORM_TERM_LN_W: return a->dy[e] * ((a->x[e] - a->saved[2 * r]) * a->saved[2 * r + 1]);
    case AAK_NORM_TERM_LN_B: return a->dy[e];
    case AAK_NORM_TERM_GATED: return a->dy[e] * a->x[e] * silu(a->g[e]) * a->saved[r];
    default: return 0.0f;
    }
}

/* part[chunk, i] = sum of the terms of the chunk's rows in column i, in
 * order, in float (adjacent threads: adjacent columns, coalesced). */
AAK_KERNEL(aak_norm_dw_part, aak_norm_dw_args)
{
    long long chunks = (p.rows + p.chunk_rows - 1) / p.chunk_rows, n = chunks * p.D;
    for (long long q = aak_tid(); q < n; q += aak_stride()) {
        long long r0 = q / p.D * p.chunk_rows, r1 = r0 + p.chunk_rows < p.rows ? r0 + p.chunk_rows : p.rows;
        int i = (int)(q % p.D);
        float s = 0.0f;
        for (long long r = r0; r < r1; r++) s += dw_term(&p, r, i);
        p.part[q] = s;
    }
}

/* out[i] += the chunks' partials of column i, in chunk order, in double. */
AAK_KERNEL(aak_norm_dw_sum, aak_norm_dw_args)
{
    long long chunks = (p.rows + p.chunk_rows - 1) / p.chunk_rows;
    for (long long i = aak_tid(); i < p.D; i += aak_stride()) {
        double acc = 0.0;
        for (long long k = 0; k < chunks; k++) acc += p.part[k * p.D + i];
        p.out[i] += (float)acc;
    }
}
