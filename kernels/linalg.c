/*
 * linalg.c — linear layers, batched matmul, unit-lower triangular solve.
 *
 * All the arithmetic is CBLAS (OpenBLAS). Batched ops run one GEMM/TRSM per
 * batch element; when there are many small ones we parallelise over the
 * batch (an OpenMP-built OpenBLAS then runs each call on one thread),
 * otherwise the batch loop is serial and OpenBLAS threads each call. OpenBLAS
 * splits a GEMM over rows/columns of the output, never over the summed
 * dimension, so either way every element is computed the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"

#define PAR_MIN 32768
/* Batched calls whose matrices need fewer multiply-adds than this are run
 * in parallel over the batch: too small for OpenBLAS to thread well. */
#define SMALL_GEMM (128.0 * 128.0 * 128.0)

/* BLAS wants leading dimensions >= 1 even for empty matrices. */
static int ld(int n) { return n > 0 ? n : 1; }

static enum CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

/* ---- linear ---------------------------------------------------------------------- */

void k_linear_fwd(int M, int K, int N, const float *x, const float *W, const float *bias, float *y)
{
    if (M <= 0 || N <= 0) return;
    float beta = 0.0f;
    if (bias) { /* y starts as the bias, and the GEMM adds x W^T to it */
#pragma omp parallel for schedule(static) if ((size_t)M * N >= PAR_MIN)
        for (int m = 0; m < M; m++) memcpy(y + (size_t)m * N, bias, (size_t)N * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, ld(K), W, ld(K), beta,
                y, N);
}

/* dbias[n] += sum_m dy[m, n]. Parallel over column tiles, each summing its
 * columns over all rows in order (in double): a split over rows would make
 * the result depend on the thread count. */
static void column_sums(int M, int N, const float *dy, float *dbias)
{
    enum { TW = 64 };
    int ntile = (N + TW - 1) / TW;
#pragma omp parallel for schedule(static) if ((size_t)M * N >= PAR_MIN)
    for (int t = 0; t < ntile; t++) {
        int c0 = t * TW, w = N - c0 < TW ? N - c0 : TW;
        double acc[TW] = {0};
        for (int m = 0; m < M; m++) {
            const float *r = dy + (size_t)m * N + c0;
#pragma omp simd
            for (int i = 0; i < w; i++) acc[i] += r[i];
        }
        for (int i = 0; i < w; i++) dbias[c0 + i] += (float)acc[i];
    }
}

void k_linear_bwd(int M, int K, int N, const float *x, const float *W, const float *dy,
                  float *dx, float *dW, float *dbias)
{
    if (M <= 0 || N <= 0 || K <= 0) {
        if (dbias && M > 0 && N > 0) column_sums(M, N, dy, dbias);
        return;
    }
    if (dx) /* dx[M,K] += dy[M,N] W[N,K] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, W, K, 1.0f,
                    dx, K);
    if (dW) /* dW[N,K] += dy^T x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, 1.0f,
                    dW, K);
    if (dbias) column_sums(M, N, dy, dbias);
}

/* ---- batched matmul ----------------------------------------------------------------- */

/* C = op(A) op(B): op(A) is [M, K], op(B) is [K, N]. */
typedef struct mm_dims { int M, N, K; } mm_dims;

static mm_dims mm_of(int ar, int ac, int br, int bc, int ta, int tb)
{
    mm_dims d = {ta ? ac : ar, tb ? br : bc, ta ? ar : ac};
    return d;
}

static int batch_parallel(int batch, mm_dims d)
{
    return batch > 1 && (double)d.M * d.N * d.K < SMALL_GEMM;
}

void k_matmul_fwd(int batch, int ar, int ac, int br, int bc, int ta, int tb,
                  const float *A, const float *B, float *C)
{
    mm_dims d = mm_of(ar, ac, br, bc, ta, tb);
    if (d.M <= 0 || d.N <= 0) return;
    size_t sa = (size_t)ar * ac, sb = (size_t)br * bc, sc = (size_t)d.M * d.N;
#pragma omp parallel for schedule(static) if (batch_parallel(batch, d))
    for (int b = 0; b < batch; b++)
        cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), d.M, d.N, d.K, 1.0f, A + b * sa, ld(ac),
                    B + b * sb, ld(bc), 0.0f, C + b * sc, d.N);
}

/*
 * With dC = dL/dC:  d op(A) = dC op(B)^T  and  d op(B) = op(A)^T dC.
 * Undoing op on the left-hand side gives the four cases below; each is one
 * GEMM with the transposes folded into its flags.
 */
void k_matmul_bwd(int batch, int ar, int ac, int br, int bc, int ta, int tb,
                  const float *A, const float *B, const float *dC, float *dA, float *dB)
{
    mm_dims d = mm_of(ar, ac, br, bc, ta, tb);
    if (d.M <= 0 || d.N <= 0 || d.K <= 0) return;
    size_t sa = (size_t)ar * ac, sb = (size_t)br * bc, sc = (size_t)d.M * d.N;
#pragma omp parallel for schedule(static) if (batch_parallel(batch, d))
    for (int b = 0; b < batch; b++) {
        const float *a = A + b * sa, *bm = B + b * sb, *g = dC + b * sc;
        if (dA) {
            if (!ta) /* dA[M,K] += dC op(B)^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, tr(!tb), d.M, d.K, d.N, 1.0f, g, d.N,
                            bm, bc, 1.0f, dA + b * sa, ac);
            else /* dA[K,M] += op(B) dC^T */
                cblas_sgemm(CblasRowMajor, tr(tb), CblasTrans, d.K, d.M, d.N, 1.0f, bm, bc, g,
                            d.N, 1.0f, dA + b * sa, ac);
        }
        if (dB) {
            if (!tb) /* dB[K,N] += op(A)^T dC */
                cblas_sgemm(CblasRowMajor, tr(!ta), CblasNoTrans, d.K, d.N, d.M, 1.0f, a, ac, g,
                            d.N, 1.0f, dB + b * sb, bc);
            else /* dB[N,K] += dC^T op(A) */
                cblas_sgemm(CblasRowMajor, CblasTrans, tr(ta), d.N, d.K, d.M, 1.0f, g, d.N, a,
                            ac, 1.0f, dB + b * sb, bc);
        }
    }
}

/* ---- unit-lower triangular solve ------------------------------------------------------ */

/* X = (I + L)^-1 B, L = strict_lower(A): TRSM with the lower triangle and a
 * unit diagonal, which reads neither A's diagonal nor its upper part. */
void k_trisolve_fwd(int batch, int n, int m, const float *A, const float *B, float *X)
{
    if (n <= 0 || m <= 0) return;
    size_t sa = (size_t)n * n, sx = (size_t)n * m;
#pragma omp parallel for schedule(static) if (batch > 1)
    for (int b = 0; b < batch; b++) {
        memcpy(X + b * sx, B + b * sx, sx * sizeof *X);
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasUnit, n, m, 1.0f,
                    A + b * sa, n, X + b * sx, m);
    }
}

/*
 * With M = I + L and X = M^-1 B:
 *   G  = M^-T dX            (the gradient reaching B)
 *   dB += G
 *   dA += -(G X^T), strictly lower part only (the rest of A is not read).
 * Each thread keeps one workspace for G and G X^T.
 */
void k_trisolve_bwd(int batch, int n, int m, const float *A, const float *X, const float *dX,
                    float *dA, float *dB)
{
    if (n <= 0 || m <= 0 || (!dA && !dB)) return;
    size_t sa = (size_t)n * n, sx = (size_t)n * m;
#pragma omp parallel if (batch > 1)
    {
        float *G = malloc((sx + (dA ? sa : 0)) * sizeof *G);
        if (!G) {
            fprintf(stderr, "k_trisolve_bwd: out of memory\n");
            abort();
        }
        float *P = G + sx; /* G X^T */
#pragma omp for schedule(static)
        for (int b = 0; b < batch; b++) {
            memcpy(G, dX + b * sx, sx * sizeof *G);
            cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasUnit, n, m, 1.0f,
                        A + b * sa, n, G, m);
            if (dB) {
                float *o = dB + b * sx;
#pragma omp simd
                for (size_t i = 0; i < sx; i++) o[i] += G[i];
            }
            if (dA) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, m, 1.0f, G, m,
                            X + b * sx, m, 0.0f, P, n);
                float *o = dA + b * sa;
                for (int i = 1; i < n; i++)
                    for (int j = 0; j < i; j++) o[(size_t)i * n + j] -= P[(size_t)i * n + j];
            }
        }
        free(G);
    }
}
