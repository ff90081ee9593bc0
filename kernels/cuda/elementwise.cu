/*
 * elementwise.cu — unary ops, forward and backward, as kernels/elementwise.c
 * computes them (same formulas, so the devices agree to rounding).
 * Grid-stride loops: any grid covers any n.
 */
#include "aak.h"
#include "asiarch.h"
#include "elementwise.h"

static inline float unary_value(int op, float a, float b, float v)
{
    switch (op) {
    case AA_OP_SCALE: return a * v;
    case AA_OP_ADD_SCALAR: return v + a;
    case AA_OP_SQUARE: return v * v;
    case AA_OP_SQRT: return sqrtf(v);
    case AA_OP_RSQRT: return 1.0f / sqrtf(v);
    case AA_OP_EXP: return expf(v);
    case AA_OP_LOG: return logf(v);
    case AA_OP_NEG: return -v;
    case AA_OP_ABS: return fabsf(v);
    /* Comparisons, not fminf/fmaxf, so that a NaN passes through. */
    case AA_OP_CLAMP: return v < a ? a : (v > b ? b : v);
    case AA_OP_SIGMOID: return aak_sigmoid(v);
    case AA_OP_SILU: return v * aak_sigmoid(v);
    case AA_OP_SOFTPLUS: return aak_softplus(v);
    case AA_OP_LOGSIGMOID: return -aak_softplus(-v);
    case AA_OP_GELU: return 0.5f * v * (1.0f + aak_erf(v * 0.70710678118654752f));
    case AA_OP_RELU: return v < 0.0f ? 0.0f : v;
    case AA_OP_ELU1: return v > 0.0f ? v + 1.0f : expf(v);
    case AA_OP_TANH: return tanhf(v);
    default: return v;
    }
}

/* d op / dx at x = v, output u (each op reads what it needs). */
static inline float unary_slope(int op, float a, float b, float v, float u)
{
    switch (op) {
    case AA_OP_SCALE: return a;
    case AA_OP_ADD_SCALAR: return 1.0f;
    case AA_OP_SQUARE: return 2.0f * v;
    case AA_OP_SQRT: return 0.5f / u;
    case AA_OP_RSQRT: return -0.5f * u * u * u;
    case AA_OP_EXP: return u;
    case AA_OP_LOG: return 1.0f / v;
    case AA_OP_NEG: return -1.0f;
    case AA_OP_ABS: return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
    case AA_OP_CLAMP: return v >= a && v <= b ? 1.0f : 0.0f;
    case AA_OP_SIGMOID: return u * (1.0f - u);
    case AA_OP_SILU: {
        float s = aak_sigmoid(v);
        return s * (1.0f + v * (1.0f - s));
    }
    case AA_OP_SOFTPLUS: return aak_sigmoid(v);
    case AA_OP_LOGSIGMOID: return aak_sigmoid(-v);
    case AA_OP_GELU:
        return 0.5f * (1.0f + aak_erf(v * 0.70710678118654752f)) + v * 0.39894228040143268f * expf(-0.5f * v * v);
    case AA_OP_RELU: return v > 0.0f ? 1.0f : 0.0f;
    case AA_OP_ELU1: return v > 0.0f ? 1.0f : u;
    case AA_OP_TANH: return 1.0f - u * u;
    default: return 0.0f;
    }
}

/* Whether the slope reads x, y (the launcher may pass either as NULL). */
static inline int slope_reads_y(int op)
{
    return op == AA_OP_SQRT || op == AA_OP_RSQRT || op == AA_OP_EXP || op == AA_OP_SIGMOID || op == AA_OP_ELU1 ||
           op == AA_OP_TANH;
}
static inline int slope_reads_x(int op)
{
    return op == AA_OP_SQUARE || op == AA_OP_LOG || op == AA_OP_ABS || op == AA_OP_CLAMP || op == AA_OP_SILU ||
           op == AA_OP_SOFTPLUS || op == AA_OP_LOGSIGMOID || op == AA_OP_GELU || op == AA_OP_RELU ||
           op == AA_OP_ELU1;
}

AAK_KERNEL(aak_unary_fwd, aak_unary_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) p.out[i] = unary_value(p.op, p.a, p.b, p.x[i]);
}

AAK_KERNEL(aak_unary_bwd, aak_unary_args)
{
    int rx = slope_reads_x(p.op), ry = slope_reads_y(p.op);
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        float v = rx ? p.x[i] : 0.0f, u = ry ? p.y[i] : 0.0f;
        p.out[i] += p.dy[i] * unary_slope(p.op, p.a, p.b, v, u);
    }
}
