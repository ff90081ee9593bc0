/*
 * conv.c — causal depthwise convolution along time.
 *
 *   x, y [B,T,C], w [C,K]:  y[b,t,c] = sum_j w[c,j] x[b, t-K+1+j, c]  (x = 0 before t = 0)
 *
 * Channels are the contiguous axis, so every loop vectorises over a tile of
 * channels: a task copies its tile's taps into a small transposed table
 * wt[j][i] = w[c0+i, j] and walks time, the inner loop running over
 * channels. The short filters that models use (K <= 4) get their own
 * instantiations so the loop over taps is fully unrolled.
 *
 * y and dx are gathers (each output element is one task's), parallel over
 * (batch, channel tile, time chunk). dw is a sum over batch and time, parallel
 * over channel tiles only so its order is fixed.
 */
#include "kernels.h"

#define KMAX 64     /* longest filter the DSL allows */
#define CT 64       /* channels per task (y, dx) */
#define TCH 128     /* time steps per task (y, dx) */
#define CTW 16      /* channels per task (dw) */
#define PAR_MIN 32768

#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* wt[j*CT + i] = w[(c0+i)*K + j], or the taps reversed (j -> K-1-j) for the
 * backward gather. */
static void load_taps(int K, int c0, int w, const float *wc, float *wt, int reversed)
{
    for (int i = 0; i < w; i++)
        for (int j = 0; j < K; j++) wt[(reversed ? K - 1 - j : j) * CT + i] = wc[(size_t)(c0 + i) * K + j];
}

/* out[t, i] (+)= sum_j wt[j][i] in[t-K+1+j, i] for t in [t0, t1), with in = 0
 * outside [0, T). in/out point at channel c0 of row 0; rows are C apart.
 * Forward: taps as given, reading the past. Backward (dx): reversed taps,
 * reading the future (in = dy): dx[s] += sum_j w[j] dy[s+K-1-j]. */
ALWAYS_INLINE void conv_tile(int K, int future, int T, int C, int t0, int t1, int w,
                             const float *in, const float *wt, float *out, int accumulate)
{
    for (int t = t0; t < t1; t++) {
        float acc[CT];
        for (int i = 0; i < w; i++) acc[i] = 0.0f;
        for (int j = 0; j < K; j++) {
            int s = future ? t + j : t - K + 1 + j;
            if (s < 0 || s >= T) continue;
            const float *xr = in + (size_t)s * C, *wr = wt + j * CT;
#pragma omp simd
            for (int i = 0; i < w; i++) acc[i] += wr[i] * xr[i];
        }
        float *o = out + (size_t)t * C;
        if (accumulate) {
#pragma omp simd
            for (int i = 0; i < w; i++) o[i] += acc[i];
        } else {
#pragma omp simd
            for (int i = 0; i < w; i++) o[i] = acc[i];
        }
    }
}

/* One pass of the gather form over all (batch, channel tile, time chunk). */
static void conv_gather(int B, int T, int C, int K, const float *in, const float *w, float *out,
                        int backward)
{
    int nct = (C + CT - 1) / CT, ntc = (T + TCH - 1) / TCH;
    size_t tasks = (size_t)B * nct * ntc;
#pragma omp parallel for schedule(static) if ((size_t)B * T * C * K >= PAR_MIN)
    for (size_t task = 0; task < tasks; task++) {
        int b = (int)(task / ((size_t)nct * ntc)), ct = (int)(task / ntc % nct), tc = (int)(task % ntc);
        int c0 = ct * CT, cw = C - c0 < CT ? C - c0 : CT;
        int t0 = tc * TCH, t1 = t0 + TCH < T ? t0 + TCH : T;
        float wt[KMAX * CT];
        load_taps(K, c0, cw, w, wt, backward);
        const float *ib = in + (size_t)b * T * C + c0;
        float *ob = out + (size_t)b * T * C + c0;
        /* backward reads dy at t+j for reversed tap j: the "future" */
        switch (K) {
        case 1: conv_tile(1, backward, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 2: conv_tile(2, backward, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 3: conv_tile(3, backward, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 4: conv_tile(4, backward, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        default: conv_tile(K, backward, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        }
    }
}

void k_conv_fwd(int B, int T, int C, int K, const float *x, const float *w, float *y)
{
    if (K < 1 || K > KMAX) return;
    conv_gather(B, T, C, K, x, w, y, 0);
}

/* dw[c, j] += sum_{b,t} dy[b,t,c] x[b, t-K+1+j, c] over one tile of channels. */
ALWAYS_INLINE void conv_dw_tile(int K, int B, int T, int C, int c0, int cw, const float *x,
                                const float *dy, float *dw)
{
    double acc[KMAX][CTW];
    for (int j = 0; j < K; j++)
        for (int i = 0; i < CTW; i++) acc[j][i] = 0.0;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * T * C + c0, *gb = dy + (size_t)b * T * C + c0;
        for (int t = 0; t < T; t++) {
            const float *g = gb + (size_t)t * C;
            for (int j = 0; j < K; j++) {
                int s = t - K + 1 + j;
                if (s < 0) continue;
                const float *xr = xb + (size_t)s * C;
#pragma omp simd
                for (int i = 0; i < cw; i++) acc[j][i] += (double)g[i] * xr[i];
            }
        }
    }
    for (int i = 0; i < cw; i++)
        for (int j = 0; j < K; j++) dw[(size_t)(c0 + i) * K + j] += (float)acc[j][i];
}

void k_conv_bwd(int B, int T, int C, int K, const float *x, const float *w, const float *dy,
                float *dx, float *dw)
{
    if (K < 1 || K > KMAX) return;
    if (dx) conv_gather(B, T, C, K, dy, w, dx, 1);
    if (!dw) return;
    int nct = (C + CTW - 1) / CTW;
#pragma omp parallel for schedule(static) if ((size_t)B * T * C * K >= PAR_MIN)
    for (int ct = 0; ct < nct; ct++) {
        int c0 = ct * CTW, cw = C - c0 < CTW ? C - c0 : CTW;
        switch (K) {
        case 1: conv_dw_tile(1, B, T, C, c0, cw, x, dy, dw); break;
        case 2: conv_dw_tile(2, B, T, C, c0, cw, x, dy, dw); break;
        case 3: conv_dw_tile(3, B, T, C, c0, cw, x, dy, dw); break;
        case 4: conv_dw_tile(4, B, T, C, c0, cw, x, dy, dw); break;
        default: conv_dw_tile(K, B, T, C, c0, cw, x, dy, dw); break;
        }
    }
}
