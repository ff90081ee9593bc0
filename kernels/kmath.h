/*
 * kmath.h — private to kernels/: scalar math that vectorises.
 *
 * libm's expf is an opaque call, so a loop over it runs one element at a
 * time. fast_expf is plain arithmetic that vectorises: Cephes' reduction
 * x = n ln2 + r, |r| <= ln2/2, and degree-5 polynomial (at most 1.4 ulp off);
 * 2^n is assembled in two halves so that every n in [-126, 128] stays a
 * normal float. Beyond the float range it gives 0 or inf; NaN passes through.
 * The selects work on the bits, because a branch (a ?: on floats) keeps GCC
 * from vectorising the loop under its default -ftrapping-math.
 */
#ifndef ASIARCH_KMATH_H
#define ASIARCH_KMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

static inline float bitsel(int c, float a, float b)
{
    union { float f; int32_t i; } ua = {a}, ub = {b}, r;
    int32_t m = -(int32_t)(c != 0);
    r.i = (ua.i & m) | (ub.i & ~m);
    return r.f;
}

static inline float fast_expf(float x)
{
    const float hi = 88.72283f, lo = -87.33654f; /* ln(FLT_MAX), ln(FLT_MIN) */
    int over = isgreater(x, hi), under = isless(x, lo), nan = isunordered(x, x);
    float xc = bitsel(over, hi, bitsel(under, lo, bitsel(nan, 0.0f, x)));
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;              /* x - n ln 2 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    union { int32_t i; float f; } s1 = {(n1 + 127) << 23}, s2 = {(n2 + 127) << 23};
    return bitsel(nan, x, bitsel(under, 0.0f, bitsel(over, INFINITY, p * s1.f * s2.f)));
}

static inline float sigmoidf(float v) { return 1.0f / (1.0f + fast_expf(-v)); }

/* Largest of x[0..n). Eight running maxima, so the loop vectorises: one
 * running max is a serial chain of compares. */
static inline float row_max(size_t n, const float *x)
{
    float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                   -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) m8[l] = x[k + l] > m8[l] ? x[k + l] : m8[l];
    float m = -INFINITY;
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    for (int l = 0; l < 8; l++) m = m8[l] > m ? m8[l] : m;
    return m;
}

#endif /* ASIARCH_KMATH_H */
