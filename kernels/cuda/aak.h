/*
 * aak.h — what every kernel source in kernels/cuda/ includes.
 *
 * The sources are CUDA C written in the C subset of CUDA: plain structs,
 * no templates, no references, no classes. NVRTC compiles them for the GPU
 * (gpu/ embeds them and hands this header over by name). The same text also
 * compiles as C17 against tests/gpu_emu.h, which runs a kernel's threads as
 * fibers on the CPU, so that every kernel is checked against the CPU kernels
 * on machines without a GPU (CI). Hence the few macros below instead of raw
 * CUDA keywords:
 *
 *   AAK_KERNEL(name, args_t)  a kernel taking one struct of arguments by value
 *                             (the launcher in gpu/ fills the same struct)
 *   AAK_SHARED                __shared__ (a block's memory)
 *   AAK_SYNC()                __syncthreads()
 *
 * Helper functions need no qualifier: NVRTC runs with
 * --device-as-default-execution-space.
 */
#ifndef AAK_H
#define AAK_H

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define AAK_GPU 1
#define AAK_KERNEL(name, T) extern "C" __global__ void name(const T p)
#define AAK_SHARED __shared__
#define AAK_SYNC() __syncthreads()
#define AAK_ATOMIC_ADD(ptr, v) atomicAdd((ptr), (v))
#define AAK_INF __int_as_float(0x7f800000)
#else
#ifndef AAK_EMULATION
#error "kernels/cuda sources are compiled by NVRTC (gpu/), or on the CPU by the emulation of tests/gpu_emu.h"
#endif
#endif

/* Threads per block of the one-dimensional kernels. */
#define AAK_BLOCK 256

/* The index of this thread in a one-dimensional grid, and the stride of a
 * grid-stride loop, in 64 bits (a tensor has up to 2^31 - 1 elements, and
 * i + stride must not wrap). */
static inline long long aak_tid(void) { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
static inline long long aak_stride(void) { return (long long)gridDim.x * blockDim.x; }

/* Scalar math shared with the CPU kernels (kernels/elementwise.c), in the
 * same formulas, so that the two devices agree to rounding. */
static inline float aak_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
static inline float aak_softplus(float v) { return fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))); }
static inline float aak_erf(float x)   /* Abramowitz & Stegun 7.1.26, 1.5e-7 absolute */
{
    float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);
    float q = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    return copysignf(1.0f - q * expf(-a * a), x);
}

/* Sum of v over the block, in a fixed tree order (deterministic), returned
 * to every thread. Every thread of the block must call it; red holds
 * blockDim.x floats of shared memory. */
static inline float aak_block_sum(float v, float *red)
{
    int t = (int)threadIdx.x, n = (int)blockDim.x;
    red[t] = v;
    AAK_SYNC();
    for (int half = 1; half < n; half *= 2) {   /* pairs (t, t + half), t a multiple of 2*half */
        if (t % (2 * half) == 0 && t + half < n) red[t] += red[t + half];
        AAK_SYNC();
    }
    float total = red[0];
    AAK_SYNC();   /* red may be reused at once */
    return total;
}

/* As aak_block_sum, in double (sums that the CPU kernels also keep in
 * double); red holds blockDim.x doubles. */
static inline double aak_block_sum_double(double v, double *red)
{
    int t = (int)threadIdx.x, n = (int)blockDim.x;
    red[t] = v;
    AAK_SYNC();
    for (int half = 1; half < n; half *= 2) {
        if (t % (2 * half) == 0 && t + half < n) red[t] += red[t + half];
        AAK_SYNC();
    }
    double total = red[0];
    AAK_SYNC();
    return total;
}

/* Largest v over the block (NaN wins), to every thread; as aak_block_sum. */
static inline float aak_block_max(float v, float *red)
{
    int t = (int)threadIdx.x, n = (int)blockDim.x;
    red[t] = v;
    AAK_SYNC();
    for (int half = 1; half < n; half *= 2) {
        if (t % (2 * half) == 0 && t + half < n) {
            float o = red[t + half];
            red[t] = (o > red[t] || o != o) ? o : red[t];
        }
        AAK_SYNC();
    }
    float m = red[0];
    AAK_SYNC();
    return m;
}

#endif /* AAK_H */
