/*
 * reduce.cu — reductions, scans and the softmax along one axis, forward and
 * backward, as kernels/reduce.c computes them.
 *
 * The input is [outer, n, inner]; a line is the n elements of one (outer,
 * inner) pair, inner apart. Two ways to share the lines out:
 *  - aak_reduce_lines_*: a block per line (grid-striding over lines), its
 *    threads striding along the line and meeting in block sums / scans.
 *    Coalesced when inner == 1 (the last axis); also used when there are
 *    too few lines to keep the GPU busy one thread each.
 *  - aak_reduce_cols_*: a thread per line, walking it in order. Adjacent
 *    threads own adjacent columns, so every step is a coalesced row read.
 *
 * As on the CPU every sum is accumulated in double and rounded once, in an
 * order fixed by the shape and the block size (no atomics), so results are
 * deterministic and agree with the CPU to a rounding of the result.
 * (Double adds cost nothing here on sm_80/sm_90: these kernels are bound by
 * memory bandwidth.)
 */
#include "aak.h"
#include "asiarch.h"
#include "reduce.h"

/* The smallest normal float (FLT_MIN; NVRTC has no float.h). */
#define REDUCE_FLT_MIN 1.17549435e-38f

/* -p log p, with 0 log 0 = 0 (and nothing for p < 0). */
static inline float plogp_neg(float q) { return q > 0.0f ? -q * logf(q) : 0.0f; }

/* d(-p log p)/dp, p clamped to FLT_MIN so that it stays finite at 0. */
static inline float plogp_neg_grad(float q) { return -(logf(fmaxf(q, REDUCE_FLT_MIN)) + 1.0f); }

/* Inclusive prefix sum of v over the block's threads in thread order
 * (Hillis-Steele, a fixed order), and the block's total in *total. Every
 * thread must call it; buf holds blockDim.x doubles. */
static inline double block_scan_double(double v, double *buf, double *total)
{
    int t = (int)threadIdx.x, n = (int)blockDim.x;
    buf[t] = v;
    AAK_SYNC();
    for (int off = 1; off < n; off *= 2) {
        double add = t >= off ? buf[t - off] : 0.0;
        AAK_SYNC();   /* everyone has read before anyone writes */
        buf[t] += add;
        AAK_SYNC();
    }
    double incl = buf[t];
    *total = buf[n - 1];
    AAK_SYNC();   /* buf may be reused at once */
    return incl;
}

/* Where line l starts in x (and dx), and in y (and dy). */
static inline long long line_x(const aak_reduce_args *a, long long l)
{
    return l / a->inner * a->n * a->inner + l % a->inner;
}
static inline long long line_y(const aak_reduce_args *a, long long l)
{
    return l / a->inner * a->yn * a->inner + l % a->inner;
}

/* ---- a block per line ---------------------------------------------------------------- */

/* Sum over the line of x (ENTROPY: of -x log x), in double, to every thread. */
static inline double line_sum(const aak_reduce_args *a, const float *x, int entropy, double *red)
{
    double s = 0.0;
    for (long long k = threadIdx.x; k < a->n; k += blockDim.x) {
        float v = x[k * a->inner];
        s += entropy ? (double)plogp_neg(v) : (double)v;
    }
    return aak_block_sum_double(s, red);
}

/* The line's mean in double, and sum of (x - mean)^2 in *ss. */
static inline double line_mean_ss(const aak_reduce_args *a, const float *x, double *ss, double *red)
{
    double mu = line_sum(a, x, 0, red) / (double)a->n, s = 0.0;
    for (long long k = threadIdx.x; k < a->n; k += blockDim.x) {
        double d = x[k * a->inner] - mu;
        s += d * d;
    }
    *ss = aak_block_sum_double(s, red);
    return mu;
}

/* out[k] (+)= sum of src[j] over j <= k (reverse: j >= k), in double, a
 * tile of blockDim.x elements at a time with the running total carried. */
static inline void line_scan(const aak_reduce_args *a, const float *src, float *out, int reverse, int accumulate,
                             double *buf)
{
    long long n = a->n, s = a->inner;
    double carry = 0.0, tile;
    for (long long k0 = 0; k0 < n; k0 += blockDim.x) {   /* uniform over the block */
        long long r = k0 + threadIdx.x, k = reverse ? n - 1 - r : r;
        double v = r < n ? (double)src[k * s] : 0.0;
        double incl = block_scan_double(v, buf, &tile);
        if (r < n) {
            float sum = (float)(carry + incl);
            out[k * s] = accumulate ? out[k * s] + sum : sum;
        }
        carry += tile;
    }
}

static inline void line_softmax(const aak_reduce_args *a, const float *x, float *y, float *fred, double *red)
{
    long long n = a->n, s = a->inner;
    float m = -AAK_INF;
    for (long long k = threadIdx.x; k < n; k += blockDim.x) m = x[k * s] > m ? x[k * s] : m;
    m = aak_block_max(m, fred);
    double sum = 0.0;
    for (long long k = threadIdx.x; k < n; k += blockDim.x) {
        float e = expf(x[k * s] - m);
        y[k * s] = e;
        sum += e;
    }
    float inv = (float)(1.0 / aak_block_sum_double(sum, red));
    for (long long k = threadIdx.x; k < n; k += blockDim.x) y[k * s] *= inv;   /* this thread's own writes */
}

AAK_KERNEL(aak_reduce_lines_fwd, aak_reduce_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    AAK_SHARED float fred[AAK_BLOCK];
    long long lines = p.outer * p.inner;
    for (long long l = blockIdx.x; l < lines; l += gridDim.x) {   /* uniform over the block */
        const float *x = p.x + line_x(&p, l);
        float *y = p.out + line_y(&p, l);
        double ss;
        switch (p.op) {
        case AA_OP_SUM: {
            double s = line_sum(&p, x, 0, red);
            if (threadIdx.x == 0) y[0] = (float)s;
            break;
        }
        case AA_OP_MEAN: {
            double s = line_sum(&p, x, 0, red);
            if (threadIdx.x == 0) y[0] = (float)(s / (double)p.n);
            break;
        }
        case AA_OP_VAR:
            line_mean_ss(&p, x, &ss, red);
            if (threadIdx.x == 0) y[0] = (float)(ss / (double)p.n);
            break;
        case AA_OP_ENTROPY: {
            double s = line_sum(&p, x, 1, red);
            if (threadIdx.x == 0) y[0] = (float)s;
            break;
        }
        case AA_OP_CUMSUM: line_scan(&p, x, y, 0, 0, red); break;
        case AA_OP_SOFTMAX: line_softmax(&p, x, y, fred, red); break;
        default: break;
        }
    }
}

AAK_KERNEL(aak_reduce_lines_bwd, aak_reduce_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    long long lines = p.outer * p.inner, s = p.inner;
    for (long long l = blockIdx.x; l < lines; l += gridDim.x) {   /* uniform over the block */
        long long xo = line_x(&p, l), yo = line_y(&p, l);
        const float *x = p.x ? p.x + xo : p.x, *dy = p.dy + yo;   /* x: 0 where the op does not read it */
        float *dx = p.out + xo;
        switch (p.op) {
        case AA_OP_SUM:
        case AA_OP_MEAN: {
            float g = p.op == AA_OP_MEAN ? dy[0] / (float)p.n : dy[0];
            for (long long k = threadIdx.x; k < p.n; k += blockDim.x) dx[k * s] += g;
            break;
        }
        case AA_OP_VAR: {
            /* 2 (x_k - mean) / n: the mean's own dependence on x_k cancels. */
            float mu = (float)(line_sum(&p, x, 0, red) / (double)p.n), g = 2.0f * dy[0] / (float)p.n;
            for (long long k = threadIdx.x; k < p.n; k += blockDim.x) dx[k * s] += g * (x[k * s] - mu);
            break;
        }
        case AA_OP_ENTROPY:
            for (long long k = threadIdx.x; k < p.n; k += blockDim.x) dx[k * s] += dy[0] * plogp_neg_grad(x[k * s]);
            break;
        case AA_OP_CUMSUM: line_scan(&p, dy, dx, 1, 1, red); break;   /* dx_k += sum_{j >= k} dy_j */
        case AA_OP_SOFTMAX: {   /* dx_k += y_k (dy_k - sum_j dy_j y_j) */
            const float *y = p.y + yo;
            double dot = 0.0;
            for (long long k = threadIdx.x; k < p.n; k += blockDim.x) dot += (double)dy[k * s] * y[k * s];
            float d = (float)aak_block_sum_double(dot, red);
            for (long long k = threadIdx.x; k < p.n; k += blockDim.x) dx[k * s] += y[k * s] * (dy[k * s] - d);
            break;
        }
        default: break;
        }
    }
}

/* ---- a thread per line ------------------------------------------------------------------- */

static inline void col_fwd(const aak_reduce_args *a, const float *x, float *y)
{
    long long n = a->n, s = a->inner;
    double acc = 0.0;
    switch (a->op) {
    case AA_OP_SUM:
    case AA_OP_MEAN:
    case AA_OP_ENTROPY:
        for (long long k = 0; k < n; k++) acc += a->op == AA_OP_ENTROPY ? (double)plogp_neg(x[k * s]) : (double)x[k * s];
        y[0] = (float)(a->op == AA_OP_MEAN ? acc / (double)n : acc);
        break;
    case AA_OP_VAR: {
        for (long long k = 0; k < n; k++) acc += x[k * s];
        double mu = acc / (double)n, ss = 0.0;
        for (long long k = 0; k < n; k++) {
            double d = x[k * s] - mu;
            ss += d * d;
        }
        y[0] = (float)(ss / (double)n);
        break;
    }
    case AA_OP_CUMSUM:
        for (long long k = 0; k < n; k++) {
            acc += x[k * s];
            y[k * s] = (float)acc;
        }
        break;
    case AA_OP_SOFTMAX: {
        float m = -AAK_INF;
        for (long long k = 0; k < n; k++) m = x[k * s] > m ? x[k * s] : m;
        for (long long k = 0; k < n; k++) {
            y[k * s] = expf(x[k * s] - m);
            acc += y[k * s];
        }
        float inv = (float)(1.0 / acc);
        for (long long k = 0; k < n; k++) y[k * s] *= inv;
        break;
    }
    default: break;
    }
}

static inline void col_bwd(const aak_reduce_args *a, const float *x, const float *y, const float *dy, float *dx)
{
    long long n = a->n, s = a->inner;
    double acc = 0.0;
    switch (a->op) {
    case AA_OP_SUM:
    case AA_OP_MEAN: {
        float g = a->op == AA_OP_MEAN ? dy[0] / (float)n : dy[0];
        for (long long k = 0; k < n; k++) dx[k * s] += g;
        break;
    }
    case AA_OP_VAR: {
        for (long long k = 0; k < n; k++) acc += x[k * s];
        float mu = (float)(acc / (double)n), g = 2.0f * dy[0] / (float)n;
        for (long long k = 0; k < n; k++) dx[k * s] += g * (x[k * s] - mu);
        break;
    }
    case AA_OP_ENTROPY:
        for (long long k = 0; k < n; k++) dx[k * s] += dy[0] * plogp_neg_grad(x[k * s]);
        break;
    case AA_OP_CUMSUM:
        for (long long k = n - 1; k >= 0; k--) {
            acc += dy[k * s];
            dx[k * s] += (float)acc;
        }
        break;
    case AA_OP_SOFTMAX: {
        for (long long k = 0; k < n; k++) acc += (double)dy[k * s] * y[k * s];
        float d = (float)acc;
        for (long long k = 0; k < n; k++) dx[k * s] += y[k * s] * (dy[k * s] - d);
        break;
    }
    default: break;
    }
}

AAK_KERNEL(aak_reduce_cols_fwd, aak_reduce_args)
{
    long long lines = p.outer * p.inner;
    for (long long l = aak_tid(); l < lines; l += aak_stride()) col_fwd(&p, p.x + line_x(&p, l), p.out + line_y(&p, l));
}

AAK_KERNEL(aak_reduce_cols_bwd, aak_reduce_args)
{
    long long lines = p.outer * p.inner;
    for (long long l = aak_tid(); l < lines; l += aak_stride()) {
        long long xo = line_x(&p, l), yo = line_y(&p, l);
        col_bwd(&p, p.x ? p.x + xo : p.x, p.y ? p.y + yo : p.y, p.dy + yo, p.out + xo);
    }
}
