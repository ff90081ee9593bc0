/*
 * conv.c — causal depthwise convolution along time.
 *
 *   x, y [B,T,C], w [C,K]:  y[b,t,c] = sum_j w[c,j] x[b, t-K+1+j, c]  (x = 0 before t = 0)
 *
 * Channels are the contiguous axis, so every loop vectorises over a tile of
 * channels: a task first copies its tile's taps into a small transposed table
 * wt[j][i] = w[c0+i, j], then walks time. For each output row the sum over
 * taps runs inside the vectorised channel loop, so it stays in registers.
 * The short filters models use (K <= 4) get their own instantiations, with
 * the tap loop fully unrolled.
 *
 * y and dx are gathers (dx[s] = sum_j w[j] dy[s+K-1-j]: the same loop with
 * the taps reversed, reading forward in time), each output element written
 * by one task: parallel over (batch, channel tile, time chunk). dw sums over
 * batch and time, so it is parallel over channel tiles only, each summing in
 * a fixed order (float within a time chunk, double across chunks).
 */
#include <stddef.h>

#include "kernels.h"

#define KMAX 64     /* longest filter the DSL allows */
#define CT 64       /* channels per task (y, dx) */
#define TCH 128     /* time steps per task (y, dx), and per float partial sum (dw) */
#define CTW 32      /* channels per task (dw) */
#define PAR_MIN 32768

#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* wt[j*CT + i] = w[(c0+i)*K + j], or with the taps reversed (j -> K-1-j). */
static void load_taps(int K, int c0, int w, const float *wc, float *wt, int reversed)
{
    for (int i = 0; i < w; i++)
        for (int j = 0; j < K; j++)
            wt[(reversed ? K - 1 - j : j) * CT + i] = wc[(size_t)(c0 + i) * K + j];
}

/* o[i] (+)= sum_j wt[j][i] src[j][i] over w channels, all K taps inside the
 * sequence (rows of src are C apart). For K <= 4 (a constant here) the tap
 * sum is written out, so it stays in registers inside the vectorised channel
 * loop; longer filters accumulate tap by tap into a row buffer. */
ALWAYS_INLINE void conv_row_full(int K, int w, const float *src, size_t C, const float *wt,
                                 float *o, int accumulate)
{
    if (K <= 4) {
        const float *s0 = src, *s1 = src + C, *s2 = src + 2 * C, *s3 = src + 3 * C;
        const float *w0 = wt, *w1 = wt + CT, *w2 = wt + 2 * CT, *w3 = wt + 3 * CT;
#define TAP_SUM(i)                                                                  \
        float s = w0[i] * s0[i];                                                    \
        if (K > 1) s += w1[i] * s1[i];                                              \
        if (K > 2) s += w2[i] * s2[i];                                              \
        if (K > 3) s += w3[i] * s3[i]
        if (accumulate) {
#pragma omp simd
            for (int i = 0; i < w; i++) { TAP_SUM(i); o[i] += s; }
        } else {
#pragma omp simd
            for (int i = 0; i < w; i++) { TAP_SUM(i); o[i] = s; }
        }
#undef TAP_SUM
        return;
    }
    /* four taps per pass over the row buffer */
    float acc[CT];
    for (int i = 0; i < w; i++) acc[i] = 0.0f;
    int j = 0;
    for (; j + 4 <= K; j += 4) {
        const float *s0 = src + (size_t)j * C, *s1 = s0 + C, *s2 = s1 + C, *s3 = s2 + C;
        const float *w0 = wt + j * CT, *w1 = w0 + CT, *w2 = w1 + CT, *w3 = w2 + CT;
#pragma omp simd
        for (int i = 0; i < w; i++) acc[i] += w0[i] * s0[i] + w1[i] * s1[i] + w2[i] * s2[i] + w3[i] * s3[i];
    }
    for (; j < K; j++) {
        const float *sr = src + (size_t)j * C, *wr = wt + j * CT;
#pragma omp simd
        for (int i = 0; i < w; i++) acc[i] += wr[i] * sr[i];
    }
    if (accumulate) {
#pragma omp simd
        for (int i = 0; i < w; i++) o[i] += acc[i];
    } else {
        for (int i = 0; i < w; i++) o[i] = acc[i];
    }
}

/* out[t] (+)= sum_j wt[j] in[t + j + base] for t in [t0, t1), over w
 * channels; rows of in/out are C apart, in = 0 outside [0, T).
 * Forward: base = -(K-1) (the past). Backward (dx): base = 0 (the future),
 * taps reversed, accumulating. */
ALWAYS_INLINE void conv_rows(int K, int base, int T, int C, int t0, int t1, int w,
                             const float *in, const float *wt, float *out, int accumulate)
{
    for (int t = t0; t < t1; t++) {
        float *o = out + (size_t)t * C;
        int first = t + base; /* input row of tap 0 */
        if (first >= 0 && first + K <= T) {
            conv_row_full(K, w, in + (size_t)first * C, (size_t)C, wt, o, accumulate);
            continue;
        }
        /* near either end of the sequence: skip the taps outside it */
        float acc[CT];
        for (int i = 0; i < w; i++) acc[i] = 0.0f;
        for (int j = 0; j < K; j++) {
            int r = first + j;
            if (r < 0 || r >= T) continue;
            const float *src = in + (size_t)r * C, *wr = wt + j * CT;
#pragma omp simd
            for (int i = 0; i < w; i++) acc[i] += wr[i] * src[i];
        }
        if (accumulate)
            for (int i = 0; i < w; i++) o[i] += acc[i];
        else
            for (int i = 0; i < w; i++) o[i] = acc[i];
    }
}

/* One gather pass over all (batch, channel tile, time chunk). */
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
        int base = backward ? 0 : -(K - 1);
        switch (K) {
        case 1: conv_rows(1, base, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 2: conv_rows(2, base, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 3: conv_rows(3, base, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        case 4: conv_rows(4, base, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        default: conv_rows(K, base, T, C, t0, t1, cw, ib, wt, ob, backward); break;
        }
    }
}

void k_conv_fwd(int B, int T, int C, int K, const float *x, const float *w, float *y)
{
    if (K < 1 || K > KMAX) return;
    conv_gather(B, T, C, K, x, w, y, 0);
}

/* dw[c, j] += sum_{b,t} dy[b,t,c] x[b, t-K+1+j, c] over one full tile of CTW
 * channels: float sums over a chunk of TCH steps, added into double per
 * chunk. For K <= 4 the taps are written out (see conv_row_full). */
ALWAYS_INLINE void conv_dw_tile(int K, int B, int T, int C, int c0, const float *x,
                                const float *dy, float *dw)
{
    double acc[KMAX * CTW] = {0};
    float part[KMAX * CTW];
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * T * C + c0, *gb = dy + (size_t)b * T * C + c0;
        for (int t0 = 0; t0 < T; t0 += TCH) {
            int t1 = t0 + TCH < T ? t0 + TCH : T;
            for (int k = 0; k < K * CTW; k++) part[k] = 0.0f;
            for (int t = t0; t < t1; t++) {
                const float *g = gb + (size_t)t * C;
                int first = t - K + 1; /* x row of tap 0 */
                if (K <= 4 && first >= 0) {
                    const float *x0 = xb + (size_t)first * C;
                    float *p0 = part, *p1 = part + CTW, *p2 = part + 2 * CTW, *p3 = part + 3 * CTW;
#pragma omp simd
                    for (int i = 0; i < CTW; i++) {
                        p0[i] += g[i] * x0[i];
                        if (K > 1) p1[i] += g[i] * x0[C + i];
                        if (K > 2) p2[i] += g[i] * x0[2 * C + i];
                        if (K > 3) p3[i] += g[i] * x0[3 * C + i];
                    }
                    continue;
                }
                for (int j = first < 0 ? -first : 0; j < K; j++) {
                    const float *xr = xb + (size_t)(first + j) * C;
                    float *p = part + j * CTW;
#pragma omp simd
                    for (int i = 0; i < CTW; i++) p[i] += g[i] * xr[i];
                }
            }
            for (int k = 0; k < K * CTW; k++) acc[k] += part[k];
        }
    }
    for (int i = 0; i < CTW; i++)
        for (int j = 0; j < K; j++) dw[(size_t)(c0 + i) * K + j] += (float)acc[j * CTW + i];
}

/* Full tiles in parallel; a ragged last tile (fewer than CTW channels) is
 * summed column by column. */
static void conv_dw(int B, int T, int C, int K, const float *x, const float *dy, float *dw)
{
    int nct = C / CTW; /* full tiles */
#pragma omp parallel for schedule(static) if ((size_t)B * T * C * K >= PAR_MIN)
    for (int ct = 0; ct < nct; ct++) {
        int c0 = ct * CTW;
        switch (K) {
        case 1: conv_dw_tile(1, B, T, C, c0, x, dy, dw); break;
        case 2: conv_dw_tile(2, B, T, C, c0, x, dy, dw); break;
        case 3: conv_dw_tile(3, B, T, C, c0, x, dy, dw); break;
        case 4: conv_dw_tile(4, B, T, C, c0, x, dy, dw); break;
        default: conv_dw_tile(K, B, T, C, c0, x, dy, dw); break;
        }
    }
    int c0 = nct * CTW, cw = C - c0;
    if (cw == 0) return;
    for (int i = 0; i < cw; i++)
        for (int j = 0; j < K; j++) {
            double acc = 0.0;
            for (int b = 0; b < B; b++)
                for (int t = K - 1 - j; t < T; t++)
                    acc += (double)dy[((size_t)b * T + t) * C + c0 + i] *
                           x[((size_t)b * T + t - K + 1 + j) * C + c0 + i];
            dw[(size_t)(c0 + i) * K + j] += (float)acc;
        }
}

void k_conv_bwd(int B, int T, int C, int K, const float *x, const float *w, const float *dy,
                float *dx, float *dw)
{
    if (K < 1 || K > KMAX) return;
    if (dx) conv_gather(B, T, C, K, dy, w, dx, 1);
    if (dw) conv_dw(B, T, C, K, x, dy, dw);
}
