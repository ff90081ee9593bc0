/*
 * symbols.c — all that a C kernel file can link against: the functions
 * asiarch_kernel.h declares. The loader defines exactly these in the
 * kernel's JIT (jit_load_kernel), so a call to anything else (libc, a
 * system call wrapper) fails to link with link/undefined-symbol.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "proto.h"

/* Row-major GEMM through the BLAS the engine uses (the reference that a
 * hand-written GEMM is compared with). */
static void ak_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda,
                B, ldb, beta, C, ldc);
}

#define SYM(f) {#f, (void *)(size_t)f}
static const jit_symbol symbols[] = {
    SYM(sqrtf), SYM(expf), SYM(exp2f), SYM(logf), SYM(log2f), SYM(powf), SYM(fabsf), SYM(tanhf), SYM(sinf),
    SYM(cosf), SYM(erff), SYM(floorf), SYM(ceilf), SYM(roundf), SYM(fminf), SYM(fmaxf), SYM(fmaf),
    SYM(sqrt), SYM(exp), SYM(log), SYM(pow), SYM(fabs), SYM(tanh), SYM(floor), SYM(ceil), SYM(fmin), SYM(fmax),
    SYM(fma), SYM(memcpy), SYM(memset), SYM(memmove), SYM(ak_sgemm),
};

const jit_symbol *kp_symbols(int *n)
{
    *n = (int)(sizeof symbols / sizeof *symbols);
    return symbols;
}
