/*
 * sgemm_peak.c — the machine's measured OpenBLAS sgemm throughput, the
 * denominator of model FLOP utilisation (MFU) in the training benchmark.
 *
 *   bench_sgemm_peak [N] [reps]    prints {"sgemm_gflops": ..., "n": N, "threads": T}
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);   /* the kernels and threads asiarch itself would use */
    int n = argc > 1 ? atoi(argv[1]) : 2048, reps = argc > 2 ? atoi(argv[2]) : 10;
    if (n < 16 || reps < 1) {
        fprintf(stderr, "usage: bench_sgemm_peak [N >= 16] [reps >= 1]\n");
        return 2;
    }
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n),
          *c = malloc(sizeof(float) * (size_t)n * n);
    if (!a || !b || !c) return 1;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = 1e-3f * (float)(i % 7);
        b[i] = 1e-3f * (float)(i % 5);
    }
    double best = 0;
    for (int r = 0; r < reps + 1; r++) {   /* best of reps, after one warm-up */
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        double gf = 2.0 * n * (double)n * n / t / 1e9;
        if (r > 0 && gf > best) best = gf;
    }
    printf("{\"sgemm_gflops\": %.2f, \"n\": %d, \"threads\": %d, \"core\": \"%s\"}\n", best, n,
           omp_get_max_threads(), k_blas_corename());
    free(a);
    free(b);
    free(c);
    return 0;
}
