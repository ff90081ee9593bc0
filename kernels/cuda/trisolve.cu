/*
 * trisolve.cu — X = (I + strict_lower(A))^-1 B and its backward, as
 * kernels/linalg.c computes them with TRSM.
 *
 * Every column of the right-hand side is an independent system, so a thread
 * owns one column and substitutes row by row on its own: no thread waits
 * for another. A block is (one batch item, up to AAK_TRISOLVE_COLS columns);
 * for n <= AAK_TRISOLVE_NMAX it first copies A into shared memory (all its
 * threads then read the same A[i,j] at once: a broadcast) and keeps its
 * columns of the solution there. Larger systems read A and write X in
 * global memory, the same arithmetic.
 *
 * The backward's G = M^-T dX is the same substitution upwards with A
 * transposed; its dA = -(G X^T) below the diagonal is a batched GEMM (the
 * launcher's) followed by aak_trisolve_da.
 */
#include "aak.h"
#include "trisolve.h"

/* x[i] = rhs[i] - sum_{j<i} a[i,j] x[j] for i = 0..n-1 (forward), or
 * x[i] = rhs[i] - sum_{j>i} a[j,i] x[j] for i = n-1..0 (upwards, with A
 * transposed). rhs rows are rs apart, x rows xs apart, a rows n apart. */
static inline void substitute(int n, int upwards, const float *a, const float *rhs, long long rs, float *x,
                              long long xs)
{
    for (int step = 0; step < n; step++) {
        int i = upwards ? n - 1 - step : step;
        float s = 0.0f;
        if (upwards)
            for (int j = i + 1; j < n; j++) s += a[(long long)j * n + i] * x[j * xs];
        else
            for (int j = 0; j < i; j++) s += a[(long long)i * n + j] * x[j * xs];
        x[i * xs] = rhs[i * rs] - s;
    }
}

/* One solve for every (batch item, column): forward, or upwards (backward). */
static inline void solve_columns(const aak_trisolve_args p, int upwards, float *As, float *Xs)
{
    int n = p.n, m = p.m, tx = (int)threadIdx.x;
    /* uniform over the block: every thread takes the same barriers */
    int shared = n <= AAK_TRISOLVE_NMAX && (int)blockDim.x <= AAK_TRISOLVE_COLS;
    long long nn = (long long)n * n, nm = (long long)n * m;
    for (long long b = blockIdx.y; b < p.batch; b += gridDim.y) {
        const float *a = p.A + b * nn;
        if (shared) {
            for (int k = tx; k < n * n; k += (int)blockDim.x) As[k] = a[k];
            AAK_SYNC();
            a = As;
        }
        for (long long c0 = (long long)blockIdx.x * blockDim.x; c0 < m; c0 += (long long)gridDim.x * blockDim.x) {
            long long c = c0 + tx;
            if (c >= m) continue;
            float *xg = p.out + b * nm + c;   /* this column of the result */
            float *x = shared ? Xs + tx : xg;
            long long xs = shared ? (long long)blockDim.x : m;
            substitute(n, upwards, a, p.rhs + b * nm + c, m, x, xs);
            if (shared)
                for (int i = 0; i < n; i++) xg[(long long)i * m] = x[i * xs];
            if (p.dB)
                for (int i = 0; i < n; i++) p.dB[b * nm + (long long)i * m + c] += x[i * xs];
        }
        if (shared) AAK_SYNC();   /* As is reloaded for the next batch item */
    }
}

AAK_KERNEL(aak_trisolve_fwd, aak_trisolve_args)
{
    AAK_SHARED float As[AAK_TRISOLVE_NMAX * AAK_TRISOLVE_NMAX];
    AAK_SHARED float Xs[AAK_TRISOLVE_NMAX * AAK_TRISOLVE_COLS];
    solve_columns(p, 0, As, Xs);
}

AAK_KERNEL(aak_trisolve_bwd, aak_trisolve_args)
{
    AAK_SHARED float As[AAK_TRISOLVE_NMAX * AAK_TRISOLVE_NMAX];
    AAK_SHARED float Xs[AAK_TRISOLVE_NMAX * AAK_TRISOLVE_COLS];
    solve_columns(p, 1, As, Xs);
}

AAK_KERNEL(aak_trisolve_da, aak_trisolve_da_args)
{
    long long n = (long long)p.batch * p.n * p.n;
    for (long long q = aak_tid(); q < n; q += aak_stride()) {
        int i = (int)(q / p.n % p.n), j = (int)(q % p.n);
        if (i > j) p.dA[q] -= p.P[q];
    }
}
