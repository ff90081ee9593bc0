/*
 * A cache-blocked single-precision GEMM in C, C = A B (row-major), compared
 * with the BLAS (gemm_blas.c) for correctness and speed. The loop order
 * i-k-j keeps the innermost loop streaming over rows of B and C, which the
 * compiler vectorises for this CPU (kernels are built with -march=native).
 *
 * @kernel  gemm_tiled
 * @param   M = 512
 * @param   N = 512
 * @param   K = 512
 * @in      A: f32[M * K] = uniform(-1, 1)
 * @in      B: f32[K * N] = uniform(-1, 1)
 * @out     C: f32[M * N]
 * @flops   2 * M * N * K
 * @bytes   4 * (M * K + K * N + M * N)
 * @ref     gemm_blas.c
 */
enum { TILE_M = 32, TILE_N = 256, TILE_K = 128 };

static int min_int(int a, int b) { return a < b ? a : b; }

void gemm_tiled(const float *A, const float *B, float *C, int M, int N, int K)
{
    for (long i = 0; i < (long)M * N; i++) C[i] = 0;
    for (int i0 = 0; i0 < M; i0 += TILE_M)
        for (int k0 = 0; k0 < K; k0 += TILE_K)
            for (int j0 = 0; j0 < N; j0 += TILE_N)
                for (int i = i0; i < min_int(i0 + TILE_M, M); i++)
                    for (int k = k0; k < min_int(k0 + TILE_K, K); k++) {
                        float a = A[(long)i * K + k];
                        const float *b = B + (long)k * N;
                        float *c = C + (long)i * N;
                        for (int j = j0; j < min_int(j0 + TILE_N, N); j++) c[j] += a * b[j];
                    }
}
