/*
 * conv.cu — causal depthwise convolution along time, as kernels/conv.c:
 *
 *   x, y [B,T,C], w [C,K]:  y[b,t,c] = sum_j w[c,j] x[b, t-K+1+j, c]  (x = 0 before t = 0)
 *
 * y and dx are gathers: one thread per output element, its taps summed in
 * the CPU's order, neighbouring threads on neighbouring channels (coalesced).
 * dw sums over all (batch, time) rows: a first pass sums chunks of
 * AAK_CONV_DW_ROWS rows in float (one thread per chunk, tap and channel), a
 * second adds the chunks in order in double, so the result depends only on
 * the shape, not on the grid.
 */
#include "aak.h"
#include "conv.h"

/* y[b,t,c] = sum_{j >= K-1-t} w[c,j] x[b, t-K+1+j, c] */
AAK_KERNEL(aak_conv_fwd, aak_conv_args)
{
    long long n = (long long)p.B * p.T * p.C;
    for (long long i = aak_tid(); i < n; i += aak_stride()) {
        int c = (int)(i % p.C), t = (int)(i / p.C % p.T);
        const float *wc = p.w + (long long)c * p.K;
        int first = p.K - 1 - t < 0 ? 0 : p.K - 1 - t;   /* taps before t = 0 read zeros */
        float s = 0.0f;
        for (int j = first; j < p.K; j++) s += wc[j] * p.in[i + (long long)(j - p.K + 1) * p.C];
        p.out[i] = s;
    }
}

/* dx[b,s,c] += sum_{u < T-s} w[c, K-1-u] dy[b, s+u, c]: the future, taps
 * reversed (the order of conv.c's backward gather). */
AAK_KERNEL(aak_conv_bwd_dx, aak_conv_args)
{
    long long n = (long long)p.B * p.T * p.C;
    for (long long i = aak_tid(); i < n; i += aak_stride()) {
        int c = (int)(i % p.C), s = (int)(i / p.C % p.T);
        const float *wc = p.w + (long long)c * p.K;
        int taps = p.T - s < p.K ? p.T - s : p.K;   /* dy is zero past the end */
        float acc = 0.0f;
        for (int u = 0; u < taps; u++) acc += wc[p.K - 1 - u] * p.in[i + (long long)u * p.C];
        p.out[i] += acc;
    }
}

/* part[chunk, j, c] = sum over the chunk's rows r = (b,t), t >= K-1-j, of
 * dy[r,c] x[r-K+1+j, c]. */
AAK_KERNEL(aak_conv_dw_part, aak_conv_dw_args)
{
    long long rows = (long long)p.B * p.T;
    long long chunks = (rows + AAK_CONV_DW_ROWS - 1) / AAK_CONV_DW_ROWS;
    long long n = chunks * p.K * p.C;
    for (long long q = aak_tid(); q < n; q += aak_stride()) {
        int c = (int)(q % p.C), j = (int)(q / p.C % p.K);
        long long r0 = q / ((long long)p.C * p.K) * AAK_CONV_DW_ROWS;
        long long r1 = r0 + AAK_CONV_DW_ROWS < rows ? r0 + AAK_CONV_DW_ROWS : rows;
        int lag = p.K - 1 - j;   /* x row = dy row - lag, within the same sequence */
        float s = 0.0f;
        for (long long r = r0; r < r1; r++)
            if (r % p.T >= lag) s += p.dy[r * p.C + c] * p.x[(r - lag) * p.C + c];
        p.part[q] = s;
    }
}

/* dw[c,j] += the chunks' partials, in chunk order, in double. */
AAK_KERNEL(aak_conv_dw_sum, aak_conv_dw_args)
{
    long long rows = (long long)p.B * p.T;
    long long chunks = (rows + AAK_CONV_DW_ROWS - 1) / AAK_CONV_DW_ROWS;
    long long n = (long long)p.C * p.K, stride = n;   /* one chunk of part is [K, C] */
    for (long long q = aak_tid(); q < n; q += aak_stride()) {
        int c = (int)(q / p.K), j = (int)(q % p.K);
        const float *src = p.part + (long long)j * p.C + c;
        double acc = 0.0;
        for (long long k = 0; k < chunks; k++) acc += src[k * stride];
        p.dw[q] += (float)acc;
    }
}
