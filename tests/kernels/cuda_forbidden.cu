/*
 * Hostile CUDA: inline PTX, device printf and the device heap.
 *
 * @kernel cuda_forbidden
 * @param n = 256
 * @in x: f32[n]
 * @out y: f32[n]
 * @grid 1
 * @block n
 */
AK_KERNEL void cuda_forbidden(const float *x, float *y, int n)
{
    float *scratch = (float *)malloc(16);
    asm volatile("trap;");
    printf("%f\n", x[threadIdx.x]);
    y[threadIdx.x] = scratch[0];
}
