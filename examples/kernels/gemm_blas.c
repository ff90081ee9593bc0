/*
 * The reference for gemm_tiled.c: the same product through the BLAS the
 * engine itself uses (OpenBLAS's sgemm, via ak_sgemm).
 *
 * @kernel  gemm_blas
 * @param   M = 512
 * @param   N = 512
 * @param   K = 512
 * @in      A: f32[M * K]
 * @in      B: f32[K * N]
 * @out     C: f32[M * N]
 */
void gemm_blas(const float *A, const float *B, float *C, int M, int N, int K)
{
    ak_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
}
