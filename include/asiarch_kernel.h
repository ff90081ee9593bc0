/*
 * asiarch_kernel.h — the one header a kernel file of `asiarch jit` may
 * include, in C (clang, then ORC) and in CUDA (NVRTC).
 *
 * A kernel has no libc: it computes on the buffers it is given. What it may
 * call is declared here, and nothing else links:
 *
 *   - fixed-width integers (int32_t, uint16_t, int64_t, size_t, ...);
 *   - the math functions below (in CUDA, NVRTC's own device versions);
 *   - half-precision storage: f16 and bf16 buffers are arrays of 16-bit
 *     words (ak_f16, ak_bf16), read and written with ak_f16_to_f32 and
 *     friends (round to nearest even);
 *   - in C, ak_sgemm: the BLAS single-precision GEMM, row-major, as the
 *     reference a hand-written GEMM is compared with;
 *   - in CUDA, AK_KERNEL marks the entry point (extern "C" __global__, so
 *     its name is the symbol the harness launches).
 */
#ifndef ASIARCH_KERNEL_H
#define ASIARCH_KERNEL_H

#ifdef __CUDACC__
#define AK_KERNEL extern "C" __global__
#define AK_FN static __device__ __forceinline__
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef unsigned long size_t;
typedef long ptrdiff_t;
#else
#define AK_FN static inline
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
typedef unsigned long size_t;
typedef long ptrdiff_t;

float sqrtf(float);
float expf(float);
float exp2f(float);
float logf(float);
float log2f(float);
float powf(float, float);
float fabsf(float);
float tanhf(float);
float sinf(float);
float cosf(float);
float erff(float);
float floorf(float);
float ceilf(float);
float roundf(float);
float fminf(float, float);
float fmaxf(float, float);
float fmaf(float, float, float);
double sqrt(double);
double exp(double);
double log(double);
double pow(double, double);
double fabs(double);
double tanh(double);
double floor(double);
double ceil(double);
double fmin(double, double);
double fmax(double, double);
double fma(double, double, double);

/* C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, row-major; op transposes
 * when ta / tb is nonzero. The BLAS the engine itself uses (OpenBLAS). */
void ak_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);
#endif

typedef uint16_t ak_f16;
typedef uint16_t ak_bf16;

/* Bit patterns through a union: no pointer casts, the same in C and CUDA. */
typedef union ak_bits { float f; uint32_t u; } ak_bits;

AK_FN float ak_bf16_to_f32(ak_bf16 h)
{
    ak_bits b;
    b.u = (uint32_t)h << 16;
    return b.f;
}

AK_FN ak_bf16 ak_f32_to_bf16(float f)
{
    ak_bits b;
    b.f = f;
    if ((b.u & 0x7fffffffu) > 0x7f800000u) return (ak_bf16)((b.u >> 16) | 0x40u);   /* NaN stays NaN */
    return (ak_bf16)((b.u + 0x7fffu + ((b.u >> 16) & 1u)) >> 16);
}

AK_FN float ak_f16_to_f32(ak_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    ak_bits b;
    if (exp == 0x1f) {
        b.u = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        b.u = sign | ((exp + 112u) << 23) | (man << 13);
    } else {   /* zero or subnormal: man x 2^-24 */
        b.f = (float)man * 5.9604644775390625e-8f;
        b.u |= sign;
    }
    return b.f;
}

AK_FN ak_f16 ak_f32_to_f16(float f)
{
    ak_bits b;
    b.f = f;
    uint32_t sign = (b.u >> 16) & 0x8000u, a = b.u & 0x7fffffffu;
    if (a > 0x7f800000u) return (ak_f16)(sign | 0x7e00u);                /* NaN */
    if (a >= 0x477ff000u) return (ak_f16)(sign | 0x7c00u);               /* overflow: Inf */
    if (a < 0x38800000u) {                                              /* subnormal or zero */
        ak_bits s;
        s.u = a;
        float scaled = s.f * 16777216.0f;                               /* in units of 2^-24 */
        uint32_t q = (uint32_t)scaled;
        float rem = scaled - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1u))) q++;
        return (ak_f16)(sign | q);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);                         /* round to nearest even */
    return (ak_f16)(sign | ((r - 0x38000000u) >> 13));
}

#endif /* ASIARCH_KERNEL_H */
