/*
 * elementwise.c — unary ops and broadcasting binary ops, forward and backward.
 *
 * Unary ops are one flat loop per op (the switch sits outside the loop so each
 * loop is a tight, vectorisable body). Binary ops first merge the dimensions
 * of the broadcast into as few as possible ("plan"), so the common cases —
 * same shape, and [B,T,C] (op) [1,1,C] — become one long contiguous loop or
 * rows of length C. Gradients of a broadcast operand are sums over the
 * broadcast axes; each output element is summed by exactly one task in a
 * fixed order, so results do not depend on the number of threads.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "asiarch.h"
#include "kernels.h"
#include "kmath.h"

/* Below this many elements a loop stays on one thread: waking the team
 * costs more than it saves. */
#define PAR_MIN 32768
/* Elements per task along a row (and size of the per-task scratch). */
#define BLK 2048
/* Columns reduced together when a broadcast operand keeps the last axis. */
#define TILE 256

static const float SQRT1_2 = 0.70710678118654752f;    /* 1/sqrt(2) */
static const float INV_SQRT_2PI = 0.39894228040143268f; /* 1/sqrt(2 pi) */

size_t k_numel(const k_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= (size_t)s->d[i];
    return n;
}

/* ---- unary ------------------------------------------------------------------ */



/* log(1 + e^v) without overflow: max(v,0) + log1p(e^-|v|). */
static inline float softplusf(float v) { return fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))); }

/* erf to 1.5e-7 absolute (Abramowitz & Stegun 7.1.26), vectorisable. GELU
 * uses 1 + erf, where that is within about an ulp of libm's erff. */
static inline float erf_as(float x)
{
    float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t +
               0.254829592f) * t;
    return copysignf(1.0f - p * fast_expf(-a * a), x);
}

/* y[i] = EXPR of v = x[i]. MAP_LIBM is for bodies that call libm, which
 * does not vectorise (asking for simd there only earns a warning). */
#define MAP_LOOP(PRAGMA, EXPR)                                                     \
    do {                                                                           \
        _Pragma(PRAGMA)                                                            \
        for (size_t i = 0; i < n; i++) {                                           \
            const float v = x[i];                                                  \
            y[i] = (EXPR);                                                         \
        }                                                                          \
    } while (0)
#define MAP(EXPR) MAP_LOOP("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)", EXPR)
#define MAP_LIBM(EXPR) MAP_LOOP("omp parallel for schedule(static) if (n >= PAR_MIN)", EXPR)

void k_unary_fwd(int op, float a, float b, size_t n, const float *x, float *y)
{
    switch (op) {
    case AA_OP_SCALE:      MAP(a * v); break;
    case AA_OP_ADD_SCALAR: MAP(v + a); break;
    case AA_OP_SQUARE:     MAP(v * v); break;
    case AA_OP_SQRT:       MAP_LIBM(sqrtf(v)); break;
    case AA_OP_RSQRT:      MAP_LIBM(1.0f / sqrtf(v)); break;
    case AA_OP_EXP:        MAP(fast_expf(v)); break;
    case AA_OP_LOG:        MAP_LIBM(logf(v)); break;
    case AA_OP_NEG:        MAP(-v); break;
    case AA_OP_ABS:        MAP(fabsf(v)); break;
    /* Comparisons, not fminf/fmaxf, so that a NaN passes through (as in
     * PyTorch) and the trainer sees it. */
    case AA_OP_CLAMP:      MAP(v < a ? a : (v > b ? b : v)); break;
    case AA_OP_SIGMOID:    MAP(sigmoidf(v)); break;
    case AA_OP_SILU:       MAP(v * sigmoidf(v)); break;
    case AA_OP_SOFTPLUS:   MAP_LIBM(softplusf(v)); break;
    case AA_OP_LOGSIGMOID: MAP_LIBM(-softplusf(-v)); break;
    case AA_OP_GELU:       MAP(0.5f * v * (1.0f + erf_as(v * SQRT1_2))); break;
    case AA_OP_RELU:       MAP(v < 0.0f ? 0.0f : v); break;
    case AA_OP_ELU1:       MAP(bitsel(isgreater(v, 0.0f), v + 1.0f, fast_expf(v))); break;
    case AA_OP_TANH:       MAP_LIBM(tanhf(v)); break;
    default: break;
    }
}
#undef MAP
#undef MAP_LIBM
#undef MAP_LOOP

/* dx[i] += dy[i] * EXPR, where EXPR reads v = x[i] (GRAD_X) or u = y[i]
 * (GRAD_Y) or both (GRAD_XY): each op reads only what it needs, so a caller
 * may pass NULL for the other. */
#define GRAD_LOOP(DECL, EXPR)                                                      \
    do {                                                                           \
        _Pragma("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)") \
        for (size_t i = 0; i < n; i++) {                                           \
            DECL;                                                                  \
            dx[i] += dy[i] * (EXPR);                                               \
        }                                                                          \
    } while (0)
#define GRAD_X(EXPR) GRAD_LOOP(const float v = x[i], EXPR)
#define GRAD_Y(EXPR) GRAD_LOOP(const float u = y[i], EXPR)
#define GRAD_XY(EXPR) GRAD_LOOP(const float v = x[i]; const float u = y[i], EXPR)
#define GRAD_CONST(EXPR) GRAD_LOOP((void)0, EXPR)

void k_unary_bwd(int op, float a, float b, size_t n, const float *x, const float *y,
                 const float *dy, float *dx)
{
    if (!dx) return;
    switch (op) {
    case AA_OP_SCALE:      GRAD_CONST(a); break;
    case AA_OP_ADD_SCALAR: GRAD_CONST(1.0f); break;
    case AA_OP_SQUARE:     GRAD_X(2.0f * v); break;
    case AA_OP_SQRT:       GRAD_Y(0.5f / u); break;
    case AA_OP_RSQRT:      GRAD_Y(-0.5f * u * u * u); break;
    case AA_OP_EXP:        GRAD_Y(u); break;
    case AA_OP_LOG:        GRAD_X(1.0f / v); break;
    case AA_OP_NEG:        GRAD_CONST(-1.0f); break;
    case AA_OP_ABS:        GRAD_X(v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f)); break;
    case AA_OP_CLAMP:      GRAD_X(v >= a && v <= b ? 1.0f : 0.0f); break;
    case AA_OP_SIGMOID:    GRAD_Y(u * (1.0f - u)); break;
    case AA_OP_SILU:
        GRAD_LOOP(const float v = x[i]; const float s = sigmoidf(v), s * (1.0f + v * (1.0f - s)));
        break;
    case AA_OP_SOFTPLUS:   GRAD_X(sigmoidf(v)); break;
    case AA_OP_LOGSIGMOID: GRAD_X(sigmoidf(-v)); break;
    case AA_OP_GELU:
        GRAD_X(0.5f * (1.0f + erf_as(v * SQRT1_2)) + v * INV_SQRT_2PI * fast_expf(-0.5f * v * v));
        break;
    case AA_OP_RELU:       GRAD_X(v > 0.0f ? 1.0f : 0.0f); break;
    case AA_OP_ELU1:       GRAD_XY(v > 0.0f ? 1.0f : u); break;
    case AA_OP_TANH:       GRAD_Y(1.0f - u * u); break;
    default: break;
    }
}
#undef GRAD_LOOP
#undef GRAD_X
#undef GRAD_Y
#undef GRAD_XY
#undef GRAD_CONST

/* ---- broadcasting plan ------------------------------------------------------- */

/* The iteration space of y with dimensions of extent 1 dropped and adjacent
 * dimensions merged where both operands broadcast the same way: [B,T,C] (op)
 * [1,1,C] becomes [B*T, C] with b stride (0, 1); same shapes become one flat
 * dimension. The innermost dimension has stride 0 or 1 in each operand. */
typedef struct plan {
    int nd;                    /* 1..4 */
    size_t n[K_MAX_RANK];      /* extents */
    size_t sa[K_MAX_RANK];     /* element strides of a, b, y (0: broadcast) */
    size_t sb[K_MAX_RANK];
    size_t sy[K_MAX_RANK];
} plan;

static plan make_plan(const k_shape *ka, const k_shape *kb, const k_shape *ky)
{
    plan p;
    memset(&p, 0, sizeof p);
    int bca[K_MAX_RANK], bcb[K_MAX_RANK], m = 0;
    for (int i = 0; i < ky->rank; i++) {
        size_t e = (size_t)ky->d[i];
        if (e == 1) continue;
        int ba = ka->d[i] == 1, bb = kb->d[i] == 1;
        if (m > 0 && bca[m - 1] == ba && bcb[m - 1] == bb) {
            p.n[m - 1] *= e;
            continue;
        }
        p.n[m] = e;
        bca[m] = ba;
        bcb[m] = bb;
        m++;
    }
    if (m == 0) { /* a scalar */
        p.n[0] = 1;
        bca[0] = bcb[0] = 0;
        m = 1;
    }
    p.nd = m;
    /* Each operand is contiguous over the dimensions it does not broadcast. */
    size_t ra = 1, rb = 1, ry = 1;
    for (int i = m - 1; i >= 0; i--) {
        p.sa[i] = bca[i] ? 0 : ra;
        p.sb[i] = bcb[i] ? 0 : rb;
        p.sy[i] = ry;
        if (!bca[i]) ra *= p.n[i];
        if (!bcb[i]) rb *= p.n[i];
        ry *= p.n[i];
    }
    return p;
}

/* Offsets in a, b and y of outer row r (a multi-index over dims 0..nd-2). */
static void row_offsets(const plan *p, size_t r, size_t *oa, size_t *ob, size_t *oy)
{
    size_t a = 0, b = 0, y = 0;
    for (int i = p->nd - 2; i >= 0; i--) {
        size_t k = r % p->n[i];
        r /= p->n[i];
        a += k * p->sa[i];
        b += k * p->sb[i];
        y += k * p->sy[i];
    }
    *oa = a;
    *ob = b;
    *oy = y;
}

static size_t plan_rows(const plan *p)
{
    size_t r = 1;
    for (int i = 0; i < p->nd - 1; i++) r *= p->n[i];
    return r;
}

/* ---- binary forward ------------------------------------------------------------ */

/* y[i] = A op B along one row of n elements; ia, ib are 1 or 0 (broadcast). */
#define ROW(EXPR)                                                                  \
    do {                                                                           \
        if (ia && ib) {                                                            \
            _Pragma("omp simd")                                                    \
            for (size_t i = 0; i < n; i++) { const float A = a[i], B = b[i]; y[i] = (EXPR); } \
        } else if (ia) {                                                           \
            const float B = b[0];                                                  \
            _Pragma("omp simd")                                                    \
            for (size_t i = 0; i < n; i++) { const float A = a[i]; y[i] = (EXPR); } \
        } else if (ib) {                                                           \
            const float A = a[0];                                                  \
            _Pragma("omp simd")                                                    \
            for (size_t i = 0; i < n; i++) { const float B = b[i]; y[i] = (EXPR); } \
        } else {                                                                   \
            const float A = a[0], B = b[0], c = (EXPR);                            \
            for (size_t i = 0; i < n; i++) y[i] = c;                               \
        }                                                                          \
    } while (0)

static void binary_row(int op, size_t n, const float *a, size_t ia, const float *b, size_t ib,
                       float *y)
{
    switch (op) {
    case AA_OP_ADD: ROW(A + B); break;
    case AA_OP_SUB: ROW(A - B); break;
    case AA_OP_MUL: ROW(A * B); break;
    case AA_OP_DIV: ROW(A / B); break;
    default: break;
    }
}
#undef ROW

void k_binary_fwd(int op, const k_shape *sa, const float *a, const k_shape *sb, const float *b,
                  const k_shape *sy, float *y)
{
    plan p = make_plan(sa, sb, sy);
    int in = p.nd - 1;
    size_t inner = p.n[in], rows = plan_rows(&p);
    size_t nblk = (inner + BLK - 1) / BLK, tasks = rows * nblk;
    /* A task is one block of one row, so a single long row (same shapes)
     * is split across threads as well as many short ones. */
#pragma omp parallel for schedule(static) if (rows * inner >= PAR_MIN)
    for (size_t t = 0; t < tasks; t++) {
        size_t r = t / nblk, c0 = (t % nblk) * BLK;
        size_t len = inner - c0 < BLK ? inner - c0 : BLK;
        size_t oa, ob, oy;
        row_offsets(&p, r, &oa, &ob, &oy);
        binary_row(op, len, a + oa + c0 * p.sa[in], p.sa[in], b + ob + c0 * p.sb[in], p.sb[in],
                   y + oy + c0);
    }
}

/* ---- binary backward ------------------------------------------------------------ */

static const float *at(const float *p, size_t off) { return p ? p + off : NULL; }

/* f[i] = d(A op B)/dA (wrt_b = 0) or d(A op B)/dB at n consecutive elements
 * of a row, A = a[i*ia], B = b[i*ib]. ADD and SUB read neither operand (so
 * k_expand_bwd can pass NULL for both). */
static void local_grad(int op, int wrt_b, size_t n, const float *a, size_t ia, const float *b,
                       size_t ib, float *f)
{
    float c;
    switch (op) {
    case AA_OP_ADD: c = 1.0f; break;
    case AA_OP_SUB: c = wrt_b ? -1.0f : 1.0f; break;
    case AA_OP_MUL: {
        const float *o = wrt_b ? a : b;
        size_t io = wrt_b ? ia : ib;
        if (io) {
            memcpy(f, o, n * sizeof *f);
            return;
        }
        c = o[0];
        break;
    }
    case AA_OP_DIV:
        if (!wrt_b) {
#pragma omp simd
            for (size_t i = 0; i < n; i++) f[i] = 1.0f / b[i * ib];
        } else {
#pragma omp simd
            for (size_t i = 0; i < n; i++) {
                const float B = b[i * ib];
                f[i] = -a[i * ia] / (B * B);
            }
        }
        return;
    default: c = 0.0f; break;
    }
    for (size_t i = 0; i < n; i++) f[i] = c;
}

/* Gradient of an operand with the full shape of y: gx += dy * f, blockwise. */
static void grad_full(int op, int wrt_b, const plan *p, const float *a, const float *b,
                      const float *dy, float *gx)
{
    int in = p->nd - 1;
    size_t inner = p->n[in], rows = plan_rows(p);
    size_t nblk = (inner + BLK - 1) / BLK, tasks = rows * nblk;
#pragma omp parallel for schedule(static) if (rows * inner >= PAR_MIN)
    for (size_t t = 0; t < tasks; t++) {
        float f[BLK];
        size_t r = t / nblk, c0 = (t % nblk) * BLK;
        size_t len = inner - c0 < BLK ? inner - c0 : BLK;
        size_t oa, ob, oy;
        row_offsets(p, r, &oa, &ob, &oy);
        local_grad(op, wrt_b, len, at(a, oa + c0 * p->sa[in]), p->sa[in],
                   at(b, ob + c0 * p->sb[in]), p->sb[in], f);
        const float *g = dy + oy + c0;
        float *o = gx + oy + c0; /* same shape as y: same offset */
#pragma omp simd
        for (size_t i = 0; i < len; i++) o[i] += g[i] * f[i];
    }
}

/* Offsets (in a, b, y) of the multi-index `lin` over the outer dims (0..nd-2)
 * whose stride in x is zero (reduced = 1) or nonzero (reduced = 0). */
static void sub_offsets(const plan *p, const size_t *sx, int reduced, size_t lin, size_t *oa,
                        size_t *ob, size_t *oy)
{
    size_t a = 0, b = 0, y = 0;
    for (int i = p->nd - 2; i >= 0; i--) {
        if ((sx[i] == 0) != reduced) continue;
        size_t k = lin % p->n[i];
        lin /= p->n[i];
        a += k * p->sa[i];
        b += k * p->sb[i];
        y += k * p->sy[i];
    }
    *oa = a;
    *ob = b;
    *oy = y;
}

/* Gradient of a broadcast operand x (a or b): gx[j] += sum over the y
 * elements that read x[j]. Parallel over the elements of x (never over the
 * summed axes), each summed in a fixed order in double: deterministic. */
static void grad_reduce(int op, int wrt_b, const plan *p, const float *a, const float *b,
                        const float *dy, float *gx)
{
    const size_t *sx = wrt_b ? p->sb : p->sa;
    int in = p->nd - 1;
    size_t inner = p->n[in], kept = 1, summed = 1;
    for (int i = 0; i < in; i++) {
        if (sx[i]) kept *= p->n[i];
        else summed *= p->n[i];
    }
    size_t work = kept * summed * inner;

    if (sx[in]) {
        /* x keeps the last axis: each task owns a tile of TILE columns of one
         * row of x and walks the summed rows of y in order. */
        size_t ntile = (inner + TILE - 1) / TILE, tasks = kept * ntile;
#pragma omp parallel for schedule(static) if (work >= PAR_MIN)
        for (size_t t = 0; t < tasks; t++) {
            double acc[TILE];
            float f[TILE];
            size_t j = t / ntile, c0 = (t % ntile) * TILE;
            size_t len = inner - c0 < TILE ? inner - c0 : TILE;
            size_t ka, kb, ky;
            sub_offsets(p, sx, 0, j, &ka, &kb, &ky);
            for (size_t i = 0; i < len; i++) acc[i] = 0.0;
            for (size_t q = 0; q < summed; q++) {
                size_t qa, qb, qy;
                sub_offsets(p, sx, 1, q, &qa, &qb, &qy);
                size_t oa = ka + qa + c0 * p->sa[in], ob = kb + qb + c0 * p->sb[in];
                local_grad(op, wrt_b, len, at(a, oa), p->sa[in], at(b, ob), p->sb[in], f);
                const float *g = dy + ky + qy + c0;
#pragma omp simd
                for (size_t i = 0; i < len; i++) acc[i] += (double)g[i] * f[i];
            }
            float *o = gx + j * inner + c0;
            for (size_t i = 0; i < len; i++) o[i] += (float)acc[i];
        }
    } else {
        /* x broadcasts along the last axis: each element of x sums whole
         * contiguous rows of y. */
#pragma omp parallel for schedule(static) if (work >= PAR_MIN)
        for (size_t j = 0; j < kept; j++) {
            float f[BLK];
            double acc = 0.0;
            size_t ka, kb, ky;
            sub_offsets(p, sx, 0, j, &ka, &kb, &ky);
            for (size_t q = 0; q < summed; q++) {
                size_t qa, qb, qy;
                sub_offsets(p, sx, 1, q, &qa, &qb, &qy);
                for (size_t c0 = 0; c0 < inner; c0 += BLK) {
                    size_t len = inner - c0 < BLK ? inner - c0 : BLK;
                    size_t oa = ka + qa + c0 * p->sa[in], ob = kb + qb + c0 * p->sb[in];
                    local_grad(op, wrt_b, len, at(a, oa), p->sa[in], at(b, ob), p->sb[in], f);
                    const float *g = dy + ky + qy + c0;
                    double s = 0.0;
#pragma omp simd reduction(+ : s)
                    for (size_t i = 0; i < len; i++) s += (double)g[i] * f[i];
                    acc += s;
                }
            }
            gx[j] += (float)acc;
        }
    }
}

void k_binary_bwd(int op, const k_shape *sa, const float *a, const k_shape *sb, const float *b,
                  const k_shape *sy, const float *dy, float *da, float *db)
{
    plan p = make_plan(sa, sb, sy);
    size_t ny = k_numel(sy);
    if (da) {
        if (k_numel(sa) == ny) grad_full(op, 0, &p, a, b, dy, da);
        else grad_reduce(op, 0, &p, a, b, dy, da);
    }
    if (db) {
        if (k_numel(sb) == ny) grad_full(op, 1, &p, a, b, dy, db);
        else grad_reduce(op, 1, &p, a, b, dy, db);
    }
}

/* ---- candidate-defined pointwise functions ------------------------------------------------ */

typedef float (*scalar1)(float);
typedef float (*scalar2)(float, float);
typedef float (*scalar3)(float, float, float);
typedef float (*scalar4)(float, float, float, float);

/* One call of a scalar function of 1-4 arguments, element i. The pointer
 * comes from the JIT as a data pointer; casting it back to the function type
 * it was compiled with is the documented way to call it. */
static inline float call_scalar(int nargs, void *fn, const float *const *in, size_t i)
{
    switch (nargs) {
    case 1: return ((scalar1)fn)(in[0][i]);
    case 2: return ((scalar2)fn)(in[0][i], in[1][i]);
    case 3: return ((scalar3)fn)(in[0][i], in[1][i], in[2][i]);
    default: return ((scalar4)fn)(in[0][i], in[1][i], in[2][i], in[3][i]);
    }
}

void k_pointwise_fwd(int nargs, void *fn, size_t n, const float *const *in, float *y)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = call_scalar(nargs, fn, in, i);
}

void k_pointwise_bwd(int nargs, void *const *deriv, size_t n, const float *const *in, const float *dy,
                     float *const *dx)
{
    for (int a = 0; a < nargs; a++) {
        if (!dx[a]) continue;
        float *d = dx[a];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) d[i] += dy[i] * call_scalar(nargs, deriv[a], in, i);
    }
}
