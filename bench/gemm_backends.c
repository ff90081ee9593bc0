/*
 * gemm_backends.c — which SGEMM should the runtime use? OpenBLAS (what it
 * links), oneDNN and BLIS, on the shapes the runtime multiplies: the linear
 * layers of the small and 20m scales, forward (x W^T), input gradient (dy W)
 * and weight gradient (dy^T x, summed over every token), plus the square
 * n = 2048 peak.
 *
 *   bench_gemm_backends [REPS]        (default 5; best of REPS after a warm-up)
 *
 * oneDNN (Debian libdnnl2) and BLIS (libblis4-openmp) are loaded with dlopen
 * and RTLD_DEEPBIND, so that their BLAS symbols never interpose on
 * OpenBLAS's; a library that is not installed is reported and skipped. All
 * three use every thread OpenMP allows (OMP_NUM_THREADS).
 */
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "kernels.h"

/* The two foreign entry points, declared as their libraries define them
 * (dnnl.h, blis.h on a 64-bit build), so the bench builds without them. */
typedef int (*dnnl_sgemm_fn)(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
typedef void (*bli_sgemm_fn)(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *alpha, const float *a,
                             int64_t rsa, int64_t csa, const float *b, int64_t rsb, int64_t csb, const float *beta,
                             float *c, int64_t rsc, int64_t csc);
enum { BLI_NO_TRANSPOSE = 0x0, BLI_TRANSPOSE = 0x8 };

static dnnl_sgemm_fn dnnl_sgemm;
static bli_sgemm_fn bli_sgemm;

typedef struct shape {
    const char *what;
    int ta, tb, M, N, K;
} shape;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *load(const char *const *names, const char *symbol, const char *label)
{
    for (int i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        if (!h) continue;
        void *f = dlsym(h, symbol);
        if (f) return f;
    }
    printf("%s: not installed (%s not found), skipped\n", label, symbol);
    return NULL;
}

/* C[M,N] = op(A) op(B), row-major, with backend b (0 OpenBLAS, 1 oneDNN, 2 BLIS). */
static void run(int b, const shape *s, const float *A, const float *B, float *C)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (b == 0) {
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                    s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    } else if (b == 1) {
        dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    } else {
        /* BLIS takes strides: a row-major operand has row stride ld, column stride 1 */
        const float one = 1.0f, zero = 0.0f;
        bli_sgemm(s->ta ? BLI_TRANSPOSE : BLI_NO_TRANSPOSE, s->tb ? BLI_TRANSPOSE : BLI_NO_TRANSPOSE, s->M, s->N,
                  s->K, &one, A, lda, 1, B, ldb, 1, &zero, C, s->N, 1);
    }
}

static double gflops(int b, const shape *s, int reps, const float *A, const float *B, float *C)
{
    double best = 0;
    for (int r = 0; r <= reps; r++) {   /* the first call warms up (and JIT-compiles, for oneDNN) */
        double t = now();
        run(b, s, A, B, C);
        t = now() - t;
        double gf = 2.0 * s->M * (double)s->N * s->K / t / 1e9;
        if (r > 0 && gf > best) best = gf;
    }
    return best;
}

/* The backends agree on the product (a wrong stride would show here). */
static int agree(const float *ref, const float *c, size_t n, int K)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(ref[i] - c[i]) > 4e-7f * (float)K * (fabsf(ref[i]) + 1.0f)) return 0;
    return 1;
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 5;
    static const char *const dnnl_names[] = {"libdnnl.so.2", "libdnnl.so", NULL};
    static const char *const blis_names[] = {"libblis.so.4", "libblis.so", NULL};
    dnnl_sgemm = (dnnl_sgemm_fn)load(dnnl_names, "dnnl_sgemm", "oneDNN");
    bli_sgemm = (bli_sgemm_fn)load(blis_names, "bli_sgemm", "BLIS");
    void (*bli_threads)(int64_t) = bli_sgemm ? (void (*)(int64_t))load(blis_names, "bli_thread_set_num_threads", "BLIS")
                                             : NULL;
    if (bli_threads) bli_threads(omp_get_max_threads());

    /* small: d 128, 16 x 256 tokens; 20m: d 256, 8 x 2048 tokens; MLP 4d; vocab 256 */
    static const shape shapes[] = {
        {"small fwd  x W^T  d->d", 0, 1, 4096, 128, 128},   {"small fwd  x W^T  d->4d", 0, 1, 4096, 512, 128},
        {"small fwd  x W^T  4d->d", 0, 1, 4096, 128, 512},  {"small dx   dy W   d->d", 0, 0, 4096, 128, 128},
        {"small dx   dy W   4d->d", 0, 0, 4096, 128, 512},  {"small dW   dy^T x d->d", 1, 0, 128, 128, 4096},
        {"small dW   dy^T x d->4d", 1, 0, 512, 128, 4096},  {"20m   fwd  x W^T  d->d", 0, 1, 16384, 256, 256},
        {"20m   fwd  x W^T  d->4d", 0, 1, 16384, 1024, 256}, {"20m   dx   dy W   4d->d", 0, 0, 16384, 256, 1024},
        {"20m   dW   dy^T x d->4d", 1, 0, 1024, 256, 16384}, {"square n=2048 (peak)", 0, 0, 2048, 2048, 2048},
    };
    char cpu[256];
    k_cpu_describe(cpu, sizeof cpu);
    printf("%s; %d threads; best of %d after a warm-up\n", cpu, omp_get_max_threads(), reps);
    printf("%-26s %6s %6s %6s  %10s %10s %10s\n", "shape (GFLOP/s)", "M", "N", "K", "OpenBLAS", "oneDNN", "BLIS");
    double logsum[3] = {0};
    int counted = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C),
              *ref = malloc(nc * sizeof *ref);
        if (!A || !B || !C || !ref) return 1;
        for (size_t j = 0; j < na; j++) A[j] = (float)((j * 2654435761u) % 1000) / 1000.0f - 0.5f;
        for (size_t j = 0; j < nb; j++) B[j] = (float)((j * 40503u) % 1000) / 1000.0f - 0.5f;
        run(0, s, A, B, ref);
        double gf[3] = {0};
        for (int b = 0; b < 3; b++) {
            if ((b == 1 && !dnnl_sgemm) || (b == 2 && !bli_sgemm)) continue;
            gf[b] = gflops(b, s, reps, A, B, C);
            if (!agree(ref, C, nc, s->K)) {
                printf("%s: backend %d disagrees with OpenBLAS\n", s->what, b);
                gf[b] = 0;
            }
        }
        printf("%-26s %6d %6d %6d  %10.1f %10.1f %10.1f\n", s->what, s->M, s->N, s->K, gf[0], gf[1], gf[2]);
        if (i + 1 < sizeof shapes / sizeof *shapes) {   /* the runtime's shapes, not the square */
            for (int b = 0; b < 3; b++) logsum[b] += gf[b] > 0 ? log(gf[b]) : 0;
            counted++;
        }
        free(A), free(B), free(C), free(ref);
    }
    printf("%-26s %20s  %10.1f %10.1f %10.1f\n", "geomean, runtime shapes", "", exp(logsum[0] / counted),
           dnnl_sgemm ? exp(logsum[1] / counted) : 0.0, bli_sgemm ? exp(logsum[2] / counted) : 0.0);
    return 0;
}
