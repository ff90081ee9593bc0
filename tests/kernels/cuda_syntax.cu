/*
 * A CUDA compile error: NVRTC's message reaches the report at this file's
 * line and column (nvrtc/error).
 *
 * @kernel cuda_syntax
 * @param n = 256
 * @in x: f32[n]
 * @out y: f32[n]
 * @grid 1
 * @block n
 */
AK_KERNEL void cuda_syntax(const float *x, float *y, int n)
{
    y[threadIdx.x] = x[threadIdx.x] * undeclared_scale;
}
