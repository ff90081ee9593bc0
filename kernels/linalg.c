/*
 * linalg.c — linear layers, batched matmul, unit-lower triangular solve.
 *
 * The arithmetic is CBLAS (OpenBLAS). We never let OpenBLAS choose its own
 * threading: a threaded OpenBLAS GEMM rounds differently with different
 * thread counts (its edge micro-kernels depend on how the output is split).
 * Instead a GEMM's output is cut into tiles whose size depends only on the
 * matrix sizes, each tile is one single-threaded call (an OpenMP-built
 * OpenBLAS runs single-threaded inside an active parallel region, and with
 * one thread there is nothing to split), and the tiles are spread over our
 * threads. Batched ops with small matrices parallelise over the batch
 * instead, with one untiled call per batch element. Either way the result
 * does not depend on the number of threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"

#define PAR_MIN 32768
/* Batched calls whose matrices need fewer multiply-adds than this run in
 * parallel over the batch, each call on one thread. */
#define SMALL_GEMM (128.0 * 128.0 * 128.0)

/* BLAS wants leading dimensions >= 1 even for empty matrices. */
static int ld(int n) { return n > 0 ? n : 1; }

static enum CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

/* GEMM output tiles: see tile_dims. */
#define GEMM_TILE 256
#define GEMM_TILE_MIN 128
#define GEMM_TILES_WANTED 32
/* Tile edges for an M x N output: GEMM_TILE square, halved (down to
 * GEMM_TILE_MIN) while that gives fewer than GEMM_TILES_WANTED tiles, so that
 * mid-sized outputs still spread over many threads; smaller tiles would cost
 * OpenBLAS efficiency (it re-packs the operands for every call). Depends on
 * M and N only. */
static void tile_dims(int M, int N, int *tm, int *tn)
{
    int a = GEMM_TILE, b = GEMM_TILE;
    for (;;) {
        long tiles = (long)((M + a - 1) / a) * ((N + b - 1) / b);
        int shrink_a = a > GEMM_TILE_MIN && M > a / 2, shrink_b = b > GEMM_TILE_MIN && N > b / 2;
        if (tiles >= GEMM_TILES_WANTED || (!shrink_a && !shrink_b)) break;
        if (shrink_a && (a >= b || !shrink_b)) a /= 2;
        else b /= 2;
    }
    *tm = a;
    *tn = b;
}

/* C[M,N] = op(A) op(B) + beta C (row-major; op(A) is [M,K], op(B) [K,N]),
 * tile by tile; see the top of the file. Always opens a parallel region
 * (even for one tile) so OpenBLAS never threads on its own. */
static void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* an empty sum: C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    int tm, tn;
    tile_dims(M, N, &tm, &tn);
    int nm = (M + tm - 1) / tm, nn = (N + tn - 1) / tn;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < nm * nn; t++) {
        int i0 = t / nn * tm, j0 = t % nn * tn;
        int mb = M - i0 < tm ? M - i0 : tm, nb = N - j0 < tn ? N - j0 : tn;
        /* rows i0.. of op(A) and columns j0.. of op(B) */
        const float *a = ta ? A + i0 : A + (size_t)i0 * lda;
        const float *b = tb ? B + (size_t)j0 * ldb : B + j0;
        cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), mb, nb, K, 1.0f, a, lda, b, ldb, beta,
                    C + (size_t)i0 * ldc + j0, ldc);
    }
}

/* Weight gradients (dW = dy^T x) have a small output and a long reduction
 * (batch x time rows): tiling the output gives one or two tiles, so one
 * thread would do all the work. Instead the reduction is cut into a fixed
 * number of slices (a function of its length only), each slice's product
 * goes to its own buffer in parallel, and the buffers are added to C in slice
 * order: parallel, and still independent of the thread count. */
#define SPLIT_ROWS 1024   /* reduction rows per slice */
#define SPLIT_MAX 8

static float *split_buffer(size_t floats)
{
    /* Grow-only, reused across calls: no allocation per training step. */
    static float *buf;
    static size_t cap;
    if (floats > cap) {
        free(buf);
        buf = malloc(floats * sizeof *buf);
        if (!buf) {
            fprintf(stderr, "asiarch: out of memory (%zu floats) in a weight-gradient GEMM\n", floats);
            abort();
        }
        cap = floats;
    }
    return buf;
}

/* C[M,N] += A^T B with A [K,M], B [K,N] (both row-major, K long). */
static void gemm_tn_accumulate(int M, int N, int K, const float *A, const float *B, float *C)
{
    int tm, tn;
    tile_dims(M, N, &tm, &tn);
    int tiles = ((M + tm - 1) / tm) * ((N + tn - 1) / tn);
    int slices = K / SPLIT_ROWS < SPLIT_MAX ? K / SPLIT_ROWS : SPLIT_MAX;
    if (tiles >= 4 || slices < 2) {
        gemm(1, 0, M, N, K, A, M, B, N, 1.0f, C, N);
        return;
    }
    size_t mn = (size_t)M * N;
    float *part = split_buffer(mn * (size_t)slices);
#pragma omp parallel for schedule(static)
    for (int s = 0; s < slices; s++) {
        int k0 = (int)((long)K * s / slices), k1 = (int)((long)K * (s + 1) / slices);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, k1 - k0, 1.0f, A + (size_t)k0 * M, M,
                    B + (size_t)k0 * N, N, 0.0f, part + mn * (size_t)s, N);
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < mn; i++) {
        float acc = C[i];
        for (int s = 0; s < slices; s++) acc += part[mn * (size_t)s + i];
        C[i] = acc;
    }
}

/* The same product as one call, for callers already inside a parallel loop. */
static void gemm_serial(int ta, int tb, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

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
    gemm(0, 1, M, N, K, x, ld(K), W, ld(K), beta, y, N);
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
    if (dx) gemm(0, 0, M, K, N, dy, N, W, K, 1.0f, dx, K); /* dx[M,K] += dy[M,N] W[N,K] */
    if (dW) gemm_tn_accumulate(N, K, M, dy, x, dW);         /* dW[N,K] += dy^T x */
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
    if (batch_parallel(batch, d)) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < batch; b++)
            cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), d.M, d.N, d.K, 1.0f, A + b * sa, ld(ac),
                        B + b * sb, ld(bc), 0.0f, C + b * sc, d.N);
    } else {
        for (int b = 0; b < batch; b++)
            gemm(ta, tb, d.M, d.N, d.K, A + b * sa, ld(ac), B + b * sb, ld(bc), 0.0f, C + b * sc, d.N);
    }
}

/*
 * With dC = dL/dC:  d op(A) = dC op(B)^T  and  d op(B) = op(A)^T dC.
 * Undoing op on the left-hand side gives four cases, each one GEMM with the
 * transposes folded into its flags:
 *   dA[M,K] += dC op(B)^T        (A not transposed)
 *   dA[K,M] += op(B) dC^T        (A transposed)
 *   dB[K,N] += op(A)^T dC        (B not transposed)
 *   dB[N,K] += dC^T op(A)        (B transposed)
 */
static void matmul_bwd_one(mm_dims d, int ac, int bc, int ta, int tb, const float *a,
                           const float *bm, const float *g, float *da, float *db, int tiled)
{
    void (*mm)(int, int, int, int, int, const float *, int, const float *, int, float, float *, int) =
        tiled ? gemm : gemm_serial;
    if (da) {
        if (!ta) mm(0, !tb, d.M, d.K, d.N, g, d.N, bm, bc, 1.0f, da, ac);
        else mm(tb, 1, d.K, d.M, d.N, bm, bc, g, d.N, 1.0f, da, ac);
    }
    if (db) {
        if (!tb) mm(!ta, 0, d.K, d.N, d.M, a, ac, g, d.N, 1.0f, db, bc);
        else mm(1, ta, d.N, d.K, d.M, g, d.N, a, ac, 1.0f, db, bc);
    }
}

void k_matmul_bwd(int batch, int ar, int ac, int br, int bc, int ta, int tb,
                  const float *A, const float *B, const float *dC, float *dA, float *dB)
{
    mm_dims d = mm_of(ar, ac, br, bc, ta, tb);
    if (d.M <= 0 || d.N <= 0 || d.K <= 0) return;
    size_t sa = (size_t)ar * ac, sb = (size_t)br * bc, sc = (size_t)d.M * d.N;
    if (batch_parallel(batch, d)) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < batch; b++)
            matmul_bwd_one(d, ac, bc, ta, tb, A + b * sa, B + b * sb, dC + b * sc,
                           dA ? dA + b * sa : NULL, dB ? dB + b * sb : NULL, 0);
    } else {
        for (int b = 0; b < batch; b++)
            matmul_bwd_one(d, ac, bc, ta, tb, A + b * sa, B + b * sb, dC + b * sc,
                           dA ? dA + b * sa : NULL, dB ? dB + b * sb : NULL, 1);
    }
}

/* ---- unit-lower triangular solve ------------------------------------------------------ */

#define TRSM_COLS 64 /* right-hand-side columns per task */

/* X = (I + L)^-1 B, L = strict_lower(A): TRSM with the lower triangle and a
 * unit diagonal, which reads neither A's diagonal nor its upper part.
 * Columns of B are independent systems: tasks are (batch, column chunk). */
void k_trisolve_fwd(int batch, int n, int m, const float *A, const float *B, float *X)
{
    if (n <= 0 || m <= 0) return;
    size_t sa = (size_t)n * n, sx = (size_t)n * m;
    int nch = (m + TRSM_COLS - 1) / TRSM_COLS;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < batch * nch; t++) {
        int b = t / nch, c0 = t % nch * TRSM_COLS, w = m - c0 < TRSM_COLS ? m - c0 : TRSM_COLS;
        const float *src = B + b * sx + c0;
        float *dst = X + b * sx + c0;
        for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * m, src + (size_t)i * m, (size_t)w * sizeof *dst);
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasUnit, n, w, 1.0f,
                    A + b * sa, n, dst, m);
    }
}

/*
 * With M = I + L and X = M^-1 B:
 *   G  = M^-T dX            (the gradient reaching B)
 *   dB += G
 *   dA += -(G X^T), strictly lower part only (the rest of A is not read).
 * One task per batch element; each thread keeps one workspace for G and G X^T.
 */
void k_trisolve_bwd(int batch, int n, int m, const float *A, const float *X, const float *dX,
                    float *dA, float *dB)
{
    if (n <= 0 || m <= 0 || (!dA && !dB)) return;
    size_t sa = (size_t)n * n, sx = (size_t)n * m;
#pragma omp parallel
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
