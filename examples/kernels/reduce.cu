/*
 * A CUDA reduction: each block sums a grid-strided slice of x in a
 * register, then the block's threads combine their sums in shared memory
 * (a tree of halvings). partial[b] is block b's sum; reduce_ref.c computes
 * the same sums in C, in double precision.
 *
 * @kernel  block_sum
 * @param   n = 1048576
 * @param   blocks = 256
 * @param   threads = 256
 * @in      x: f32[n] = uniform(-1, 1)
 * @out     partial: f32[blocks]
 * @grid    blocks
 * @block   threads
 * @shared  4 * threads
 * @bytes   4 * n
 * @flops   n
 * @ref     reduce_ref.c
 */
AK_KERNEL void block_sum(const float *x, float *partial, int n, int blocks, int threads)
{
    extern __shared__ float sums[];
    float acc = 0;
    for (long long i = (long long)blockIdx.x * threads + threadIdx.x; i < n; i += (long long)blocks * threads)
        acc += x[i];
    sums[threadIdx.x] = acc;
    __syncthreads();
    for (int half = threads / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) sums[threadIdx.x] += sums[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}
