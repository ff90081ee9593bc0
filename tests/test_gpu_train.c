/*
 * test_gpu_train.c — the training kernels of kernels/cuda (conv.cu,
 * trisolve.cu, train.cu) and the GEMM launchers of gpu/ops_train.c against
 * the CPU kernels they mirror, on the emulated device (gpu_emu.h).
 *
 * Backward launchers run on gradients pre-filled with random values (they
 * must accumulate), with each gradient also asked for alone (the others 0).
 * Shapes are not multiples of the block sizes, so tails and partial tiles run.
 *
 * Tolerances are error bounds, not tuned numbers. For a float sum of k terms
 * evaluated in any order, |computed - exact| <= gamma_k * sum |terms|
 * (gamma_k = k u / (1 - k u), u = 2^-24); the sum of |terms| is computed by
 * running the CPU kernel on |inputs|, with the gradient accumulators
 * starting at |initial value|. Both sides are within the bound of the exact
 * result, so they are within twice it of each other. The emulated GEMM is
 * OpenBLAS, as on the CPU: those tests check the descriptors (shapes,
 * transposes, leading dimensions, strides, accumulation). The embedding's
 * backward and the scaling must agree to the bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "gpu_emu.h"
#include "kernels.h"
#include "test.h"
#include "train.h"
#include "trisolve.h"

static gpu_dev *dev;

static const double U = 0x1p-24;   /* unit roundoff of float */
static double gamma_n(double k) { return k * U / (1.0 - k * U); }

/* ---- buffers held until the end of a test case (release_all) ------------------------- */

#define MAX_HELD 512
static void *held[MAX_HELD];
static gpu_ptr dev_held[MAX_HELD];
static int n_held, n_dev_held;

static void *hold(void *p)
{
    if (!p || n_held == MAX_HELD) abort();
    return held[n_held++] = p;
}
static gpu_ptr dev_hold(gpu_ptr p)
{
    if (!p || n_dev_held == MAX_HELD) abort();
    return dev_held[n_dev_held++] = p;
}
static void release_all(void)
{
    while (n_held) free(held[--n_held]);
    while (n_dev_held) gpu_free(dev, dev_held[--n_dev_held]);
}

static float *zeros(size_t n) { return hold(calloc(n ? n : 1, sizeof(float))); }
static double *dzeros(size_t n) { return hold(calloc(n ? n : 1, sizeof(double))); }

static float *randoms(size_t n, float lo, float hi, uint64_t seed) { return hold(gpu_test_randoms(n, lo, hi, seed)); }
static float *copy_of(const float *x, size_t n) { return memcpy(zeros(n), x, n * sizeof *x); }
static float *abs_of(const float *x, size_t n)
{
    float *a = zeros(n);
    for (size_t i = 0; i < n; i++) a[i] = fabsf(x[i]);
    return a;
}

/* Device copies (n may be 0), and device buffers of garbage (as cuMemAlloc gives). */
static gpu_ptr put(const float *x, size_t n) { return dev_hold(gpu_emu_put(dev, x, n ? n : 1)); }
static gpu_ptr put_ids(const int32_t *ids, size_t n)
{
    gpu_ptr p = dev_hold(gpu_alloc(dev, n * sizeof *ids));
    if (gpu_upload(dev, p, ids, n * sizeof *ids) < 0) abort();
    return p;
}
static gpu_ptr garbage(size_t n) { return dev_hold(gpu_alloc(dev, (n ? n : 1) * sizeof(float))); }

/* bound[i] = g * terms[i] + 2u |ref[i]| (the last: each side's rounding of
 * its result to float). terms: sums of |terms| (and |initial value|). */
static double *sum_bound(size_t n, const float *terms, double g, const float *ref)
{
    double *b = dzeros(n);
    for (size_t i = 0; i < n; i++) b[i] = g * terms[i] + 2 * U * fabs((double)ref[i]);
    return b;
}

/* Whether the device buffer is within bound[i] of ref[i] everywhere (bound
 * NULL: equal to the bit); says where not. */
static int within(gpu_ptr got_dev, const float *ref, const double *bound, size_t n)
{
    float *got = zeros(n);
    if (gpu_download(dev, got, got_dev, n * sizeof *got) < 0) return 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]), b = bound ? bound[i] : 0.0;
        int ok = bound ? e <= b : memcmp(&got[i], &ref[i], sizeof *got) == 0;
        if (!ok) {
            fprintf(stderr, "element %zu: device %.9g, cpu %.9g, |diff| %.3g > bound %.3g\n", i, got[i], ref[i], e, b);
            return 0;
        }
    }
    return 1;
}
#define CHECK_WITHIN(got, ref, bound, n, ...) CHECK_MSG(within((got), (ref), (bound), (n)), __VA_ARGS__)

/* Which gradients a backward case asks for. */
enum { WANT_1 = 1, WANT_2 = 2, WANT_3 = 4 };
static const int grad_masks[] = {WANT_1 | WANT_2 | WANT_3, WANT_1, WANT_2, WANT_3};

/* ---- causal depthwise convolution ----------------------------------------------------------- */

typedef struct conv_case { int B, T, C, K; } conv_case;
/* K = 1..4 and longer filters (conv.c's two paths), K > T, ragged channel
 * tiles, and B*T spanning several AAK_CONV_DW_ROWS chunks across sequences. */
static const conv_case conv_cases[] = {{2, 37, 45, 1}, {2, 37, 45, 3}, {1, 20, 33, 4}, {3, 50, 7, 6}, {2, 5, 10, 8}};

TEST(conv_forward_matches_the_cpu)
{
    for (size_t c = 0; c < sizeof conv_cases / sizeof *conv_cases; c++) {
        conv_case s = conv_cases[c];
        size_t n = (size_t)s.B * s.T * s.C;
        float *x = randoms(n, -1, 1, 10 + c), *w = randoms((size_t)s.C * s.K, -1, 1, 20 + c);
        float *y = zeros(n), *terms = zeros(n);
        k_conv_fwd(s.B, s.T, s.C, s.K, x, w, y);
        k_conv_fwd(s.B, s.T, s.C, s.K, abs_of(x, n), abs_of(w, (size_t)s.C * s.K), terms);
        gpu_ptr gy = garbage(n);
        CHECK(gpu_conv_fwd(dev, s.B, s.T, s.C, s.K, put(x, n), put(w, (size_t)s.C * s.K), gy) == 0);
        CHECK_WITHIN(gy, y, sum_bound(n, terms, 2 * gamma_n(s.K), y), n, "conv forward, B %d T %d C %d K %d", s.B,
                     s.T, s.C, s.K);
        release_all();
    }
    CHECK(gpu_conv_fwd(dev, 1, 4, 4, 0, 0, 0, 0) < 0);   /* no filter: an error, not a silent no-op */
    CHECK_STR_CONTAINS(gpu_error(dev), "filter length 0");
}

TEST(conv_backward_matches_the_cpu_and_accumulates)
{
    for (size_t c = 0; c < sizeof conv_cases / sizeof *conv_cases; c++)
        for (int g = 0; g < 3; g++) {   /* dx and dw, dx alone, dw alone */
            conv_case s = conv_cases[c];
            int want = grad_masks[g];
            size_t n = (size_t)s.B * s.T * s.C, nw = (size_t)s.C * s.K;
            float *x = randoms(n, -1, 1, 30 + c), *w = randoms(nw, -1, 1, 40 + c), *dy = randoms(n, -1, 1, 50 + c);
            float *dx0 = randoms(n, -1, 1, 60 + c), *dw0 = randoms(nw, -1, 1, 70 + c);
            float *dx = copy_of(dx0, n), *dw = copy_of(dw0, nw);
            float *tdx = abs_of(dx0, n), *tdw = abs_of(dw0, nw);
            k_conv_bwd(s.B, s.T, s.C, s.K, x, w, dy, want & WANT_1 ? dx : NULL, want & WANT_2 ? dw : NULL);
            k_conv_bwd(s.B, s.T, s.C, s.K, abs_of(x, n), abs_of(w, nw), abs_of(dy, n), tdx, tdw);
            gpu_ptr gdx = put(dx0, n), gdw = put(dw0, nw);
            CHECK(gpu_conv_bwd(dev, s.B, s.T, s.C, s.K, put(x, n), put(w, nw), put(dy, n), want & WANT_1 ? gdx : 0,
                               want & WANT_2 ? gdw : 0) == 0);
            /* dx: K taps and the accumulation. dw: the CPU sums 128-step
             * chunks in float, the device AAK_CONV_DW_ROWS rows; both
             * add the chunks in double, then round into dw. */
            CHECK_WITHIN(gdx, dx, sum_bound(n, tdx, 2 * gamma_n(s.K + 1), dx), n, "conv dx, case %zu, grads %d", c,
                         want);
            CHECK_WITHIN(gdw, dw, sum_bound(nw, tdw, gamma_n(128 + 1) + gamma_n(AAK_CONV_DW_ROWS + 1), dw), nw,
                         "conv dw, case %zu, grads %d", c, want);
            release_all();
        }
}

/* ---- linear layers ---------------------------------------------------------------------------- */

typedef struct linear_case { int M, K, N; } linear_case;
static const linear_case linear_cases[] = {{37, 19, 23}, {1, 5, 300}, {70, 33, 1}, {130, 4, 9}, {5, 0, 7}};

TEST(linear_forward_matches_the_cpu_with_and_without_bias)
{
    for (size_t c = 0; c < sizeof linear_cases / sizeof *linear_cases; c++)
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            linear_case s = linear_cases[c];
            size_t nx = (size_t)s.M * s.K, nw = (size_t)s.N * s.K, ny = (size_t)s.M * s.N;
            float *x = randoms(nx, -1, 1, 80 + c), *W = randoms(nw, -1, 1, 90 + c);
            float *bias = with_bias ? randoms((size_t)s.N, -1, 1, 100 + c) : NULL;
            float *y = zeros(ny), *terms = zeros(ny);
            k_linear_fwd(s.M, s.K, s.N, x, W, bias, y);
            k_linear_fwd(s.M, s.K, s.N, abs_of(x, nx), abs_of(W, nw), bias ? abs_of(bias, (size_t)s.N) : NULL, terms);
            gpu_ptr gy = garbage(ny);   /* K = 0 without bias must still write zeros */
            CHECK(gpu_linear_fwd(dev, s.M, s.K, s.N, put(x, nx), put(W, nw), bias ? put(bias, (size_t)s.N) : 0, gy) ==
                  0);
            CHECK_WITHIN(gy, y, sum_bound(ny, terms, 2 * gamma_n(s.K + 1), y), ny, "linear forward %dx%dx%d, bias %d",
                         s.M, s.K, s.N, with_bias);
            release_all();
        }
}

TEST(linear_backward_matches_the_cpu_for_every_gradient_subset)
{
    for (size_t c = 0; c < sizeof linear_cases / sizeof *linear_cases; c++)
        for (size_t g = 0; g < sizeof grad_masks / sizeof *grad_masks; g++) {
            linear_case s = linear_cases[c];
            int want = grad_masks[g];
            size_t nx = (size_t)s.M * s.K, nw = (size_t)s.N * s.K, ny = (size_t)s.M * s.N, nb = (size_t)s.N;
            float *x = randoms(nx, -1, 1, 110 + c), *W = randoms(nw, -1, 1, 120 + c), *dy = randoms(ny, -1, 1, 130 + c);
            float *dx0 = randoms(nx, -1, 1, 140 + c), *dW0 = randoms(nw, -1, 1, 150 + c), *db0 = randoms(nb, -1, 1, 160);
            float *dx = copy_of(dx0, nx), *dW = copy_of(dW0, nw), *db = copy_of(db0, nb);
            float *tdx = abs_of(dx0, nx), *tdW = abs_of(dW0, nw), *tdb = abs_of(db0, nb);
            k_linear_bwd(s.M, s.K, s.N, x, W, dy, want & WANT_1 ? dx : NULL, want & WANT_2 ? dW : NULL,
                         want & WANT_3 ? db : NULL);
            k_linear_bwd(s.M, s.K, s.N, abs_of(x, nx), abs_of(W, nw), abs_of(dy, ny), tdx, tdW, tdb);
            gpu_ptr gdx = put(dx0, nx), gdW = put(dW0, nw), gdb = put(db0, nb);
            CHECK(gpu_linear_bwd(dev, s.M, s.K, s.N, put(x, nx), put(W, nw), put(dy, ny), want & WANT_1 ? gdx : 0,
                                 want & WANT_2 ? gdW : 0, want & WANT_3 ? gdb : 0) == 0);
            CHECK_WITHIN(gdx, dx, sum_bound(nx, tdx, 2 * gamma_n(s.N + 1), dx), nx, "linear dx %dx%dx%d, grads %d", s.M,
                         s.K, s.N, want);
            CHECK_WITHIN(gdW, dW, sum_bound(nw, tdW, 2 * gamma_n(s.M + 1), dW), nw, "linear dW %dx%dx%d, grads %d", s.M,
                         s.K, s.N, want);
            /* dbias: the CPU sums in double; the device AAK_COLSUM_ROWS rows
             * in float, then in double, then adds. */
            CHECK_WITHIN(gdb, db, sum_bound(nb, tdb, gamma_n(AAK_COLSUM_ROWS + 1) + gamma_n(2), db), nb,
                         "linear dbias %dx%dx%d, grads %d", s.M, s.K, s.N, want);
            release_all();
        }
}

/* ---- batched matmul --------------------------------------------------------------------------- */

/* op(A) [M,K], op(B) [K,N] stored as A [ar,ac], B [br,bc]. */
typedef struct mm_case { int batch, M, N, K, ta, tb; } mm_case;
static void mm_shape(mm_case s, int *ar, int *ac, int *br, int *bc)
{
    *ar = s.ta ? s.K : s.M;
    *ac = s.ta ? s.M : s.K;
    *br = s.tb ? s.N : s.K;
    *bc = s.tb ? s.K : s.N;
}

TEST(matmul_forward_and_backward_match_the_cpu_for_every_transpose)
{
    for (int batch = 1; batch <= 3; batch += 2)
        for (int t = 0; t < 4; t++)
            for (size_t g = 0; g < 3; g++) {   /* dA and dB, dA alone, dB alone */
                mm_case s = {batch, 13, 11, 17, t & 1, t >> 1};
                int ar, ac, br, bc, want = grad_masks[g];
                mm_shape(s, &ar, &ac, &br, &bc);
                size_t na = (size_t)batch * ar * ac, nb = (size_t)batch * br * bc, nc = (size_t)batch * s.M * s.N;
                float *A = randoms(na, -1, 1, 170 + t), *B = randoms(nb, -1, 1, 180 + t);
                gpu_ptr gA = put(A, na), gB = put(B, nb);
                if (g == 0) {   /* the forward, once per shape */
                    float *C = zeros(nc), *terms = zeros(nc);
                    k_matmul_fwd(batch, ar, ac, br, bc, s.ta, s.tb, A, B, C);
                    k_matmul_fwd(batch, ar, ac, br, bc, s.ta, s.tb, abs_of(A, na), abs_of(B, nb), terms);
                    gpu_ptr gC = garbage(nc);
                    CHECK(gpu_matmul_fwd(dev, batch, ar, ac, br, bc, s.ta, s.tb, gA, gB, gC) == 0);
                    CHECK_WITHIN(gC, C, sum_bound(nc, terms, 2 * gamma_n(s.K + 1), C), nc,
                                 "matmul forward, batch %d, ta %d tb %d", batch, s.ta, s.tb);
                }
                float *dC = randoms(nc, -1, 1, 190 + t), *dA0 = randoms(na, -1, 1, 200), *dB0 = randoms(nb, -1, 1, 210);
                float *dA = copy_of(dA0, na), *dB = copy_of(dB0, nb), *tdA = abs_of(dA0, na), *tdB = abs_of(dB0, nb);
                k_matmul_bwd(batch, ar, ac, br, bc, s.ta, s.tb, A, B, dC, want & WANT_1 ? dA : NULL,
                             want & WANT_2 ? dB : NULL);
                k_matmul_bwd(batch, ar, ac, br, bc, s.ta, s.tb, abs_of(A, na), abs_of(B, nb), abs_of(dC, nc), tdA, tdB);
                gpu_ptr gdA = put(dA0, na), gdB = put(dB0, nb);
                CHECK(gpu_matmul_bwd(dev, batch, ar, ac, br, bc, s.ta, s.tb, gA, gB, put(dC, nc),
                                     want & WANT_1 ? gdA : 0, want & WANT_2 ? gdB : 0) == 0);
                CHECK_WITHIN(gdA, dA, sum_bound(na, tdA, 2 * gamma_n(s.N + 1), dA), na,
                             "matmul dA, batch %d, ta %d tb %d, grads %d", batch, s.ta, s.tb, want);
                CHECK_WITHIN(gdB, dB, sum_bound(nb, tdB, 2 * gamma_n(s.M + 1), dB), nb,
                             "matmul dB, batch %d, ta %d tb %d, grads %d", batch, s.ta, s.tb, want);
                release_all();
            }
}

TEST(matmul_with_an_empty_inner_dimension_writes_zeros)
{
    float *C = randoms(2 * 4 * 3, -1, 1, 220);
    k_matmul_fwd(2, 4, 0, 0, 3, 0, 0, C, C, C);   /* A [2,4,0], B [2,0,3]: C = 0 */
    gpu_ptr gC = garbage(2 * 4 * 3);
    CHECK(gpu_matmul_fwd(dev, 2, 4, 0, 0, 3, 0, 0, garbage(1), garbage(1), gC) == 0);
    CHECK_WITHIN(gC, C, NULL, 2 * 4 * 3, "matmul forward with K = 0");
    release_all();
}

/* ---- unit-lower triangular solve ----------------------------------------------------------------- */

/* inv = (I + strict_lower(a))^-1, n x n, in double. */
static void unit_lower_inverse(int n, const float *a, double *inv)
{
    for (int c = 0; c < n; c++)
        for (int i = 0; i < n; i++) {
            double s = i == c;
            for (int j = 0; j < i; j++) s -= a[i * n + j] * inv[j * n + c];
            inv[i * n + c] = s;
        }
}

/* |M| v and |M^T| v for M = I + strict_lower(a), v [n,m] >= 0, and |inv| v or |inv^T| v. */
static void abs_unit_lower_times(int n, int m, const float *a, int transposed, const double *v, double *out)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < m; c++) {
            double s = v[i * m + c];
            for (int j = 0; j < n; j++) {
                int below = transposed ? j > i : j < i;
                if (below) s += fabs(transposed ? a[j * n + i] : a[i * n + j]) * v[j * m + c];
            }
            out[i * m + c] = s;
        }
}
static void abs_times(int n, int m, const double *inv, int transposed, const double *v, double *out)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < m; c++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += fabs(transposed ? inv[j * n + i] : inv[i * n + j]) * v[j * m + c];
            out[i * m + c] = s;
        }
}

/*
 * Forward substitution is backward stable componentwise: the computed X
 * solves (M + dM) X = B with |dM| <= gamma_n |M|, so |X - exact| <=
 * gamma_n |M^-1| |M| |X| (Higham, ASNA 8.2). Both sides are within that;
 * the bound below is twice it. Bounds are computed in double, per batch item.
 */
static double *trisolve_fwd_bound(int n, int m, const float *a, const float *X)
{
    double *inv = dzeros((size_t)n * n), *v = dzeros((size_t)n * m), *t = dzeros((size_t)n * m);
    double *b = dzeros((size_t)n * m);
    unit_lower_inverse(n, a, inv);
    for (int k = 0; k < n * m; k++) v[k] = fabs(X[k]);
    abs_unit_lower_times(n, m, a, 0, v, t);
    abs_times(n, m, inv, 0, t, b);
    for (int k = 0; k < n * m; k++) b[k] = 2 * gamma_n(n + 1) * b[k] + 2 * U * fabs(X[k]);
    return b;
}

typedef struct tri_case { int batch, n, m; } tri_case;
/* n = 1, column chunks of AAK_TRISOLVE_COLS (m = 70), the shared-memory
 * limit (64) and beyond it (70: the global-memory path). */
static const tri_case tri_cases[] = {{3, 1, 5}, {3, 7, 13}, {2, 20, 70}, {1, 64, 64}, {2, 70, 9}};

/* A with every entry set (the solve must read only the strict lower part),
 * scaled so that M^-1 stays moderate. */
static float *tri_matrix(tri_case s, uint64_t seed)
{
    float r = 1.0f / sqrtf((float)s.n);
    return randoms((size_t)s.batch * s.n * s.n, -r, r, seed);
}

TEST(trisolve_forward_matches_the_cpu)
{
    for (size_t c = 0; c < sizeof tri_cases / sizeof *tri_cases; c++) {
        tri_case s = tri_cases[c];
        size_t na = (size_t)s.batch * s.n * s.n, nx = (size_t)s.batch * s.n * s.m;
        float *A = tri_matrix(s, 230 + c), *B = randoms(nx, -1, 1, 240 + c), *X = zeros(nx);
        k_trisolve_fwd(s.batch, s.n, s.m, A, B, X);
        double *bound = dzeros(nx);
        for (int b = 0; b < s.batch; b++) {
            size_t ox = (size_t)b * s.n * s.m;
            memcpy(bound + ox, trisolve_fwd_bound(s.n, s.m, A + (size_t)b * s.n * s.n, X + ox),
                   (size_t)s.n * s.m * sizeof *bound);
        }
        gpu_ptr gX = garbage(nx);
        CHECK(gpu_trisolve_fwd(dev, s.batch, s.n, s.m, put(A, na), put(B, nx), gX) == 0);
        CHECK_WITHIN(gX, X, bound, nx, "trisolve forward, batch %d n %d m %d", s.batch, s.n, s.m);
        release_all();
    }
}

/*
 * Backward: G = M^-T dX is a substitution upwards, within 2 gamma_n |M^-T|
 * |M^T| |G| of each other as above (bG); dB = dB0 + G; below the diagonal
 * dA = dA0 - G X^T, off by bG |X|^T from G and by gamma_m |G| |X|^T from the
 * product; on and above the diagonal dA must not change at all.
 */
static void trisolve_bwd_bounds(int n, int m, const float *a, const float *X, const float *dX, const float *dA0,
                                const float *dB0, double *bA, double *bB)
{
    double *inv = dzeros((size_t)n * n), *G = dzeros((size_t)n * m), *v = dzeros((size_t)n * m);
    double *t = dzeros((size_t)n * m), *bG = dzeros((size_t)n * m);
    unit_lower_inverse(n, a, inv);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < m; c++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += inv[j * n + i] * dX[j * m + c];
            G[i * m + c] = s;
            v[i * m + c] = fabs(s);
        }
    abs_unit_lower_times(n, m, a, 1, v, t);
    abs_times(n, m, inv, 1, t, bG);
    for (int k = 0; k < n * m; k++) {
        bG[k] *= 2 * gamma_n(n + 1);
        bB[k] = bG[k] + 2 * U * (fabs(dB0[k]) + fabs(G[k]));
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double from_g = 0, product = 0;
            for (int c = 0; c < m; c++) {
                from_g += bG[i * m + c] * fabs(X[j * m + c]);
                product += fabs(G[i * m + c] * X[j * m + c]);
            }
            bA[i * n + j] = i > j ? from_g + 2 * gamma_n(m + 1) * product + 2 * U * (fabs(dA0[i * n + j]) + product)
                                  : 0.0;
        }
}

TEST(trisolve_backward_matches_the_cpu_for_every_gradient_subset)
{
    for (size_t c = 0; c < sizeof tri_cases / sizeof *tri_cases; c++)
        for (int g = 0; g < 3; g++) {   /* dA and dB, dA alone, dB alone */
            tri_case s = tri_cases[c];
            int want = grad_masks[g];
            size_t nn = (size_t)s.n * s.n, nm = (size_t)s.n * s.m, na = s.batch * nn, nx = s.batch * nm;
            float *A = tri_matrix(s, 250 + c), *B = randoms(nx, -1, 1, 260 + c), *X = zeros(nx);
            k_trisolve_fwd(s.batch, s.n, s.m, A, B, X);
            float *dX = randoms(nx, -1, 1, 270 + c), *dA0 = randoms(na, -1, 1, 280), *dB0 = randoms(nx, -1, 1, 290);
            float *dA = copy_of(dA0, na), *dB = copy_of(dB0, nx);
            k_trisolve_bwd(s.batch, s.n, s.m, A, X, dX, want & WANT_1 ? dA : NULL, want & WANT_2 ? dB : NULL);
            double *bA = dzeros(na), *bB = dzeros(nx);
            for (int b = 0; b < s.batch; b++)
                trisolve_bwd_bounds(s.n, s.m, A + b * nn, X + b * nm, dX + b * nm, dA0 + b * nn, dB0 + b * nm,
                                    bA + b * nn, bB + b * nm);
            gpu_ptr gdA = put(dA0, na), gdB = put(dB0, nx);
            CHECK(gpu_trisolve_bwd(dev, s.batch, s.n, s.m, put(A, na), put(X, nx), put(dX, nx), want & WANT_1 ? gdA : 0,
                                   want & WANT_2 ? gdB : 0) == 0);
            CHECK_WITHIN(gdA, dA, want & WANT_1 ? bA : NULL, na, "trisolve dA, batch %d n %d m %d, grads %d", s.batch,
                         s.n, s.m, want);
            CHECK_WITHIN(gdB, dB, want & WANT_2 ? bB : NULL, nx, "trisolve dB, batch %d n %d m %d, grads %d", s.batch,
                         s.n, s.m, want);
            release_all();
        }
}

/* ---- embedding ------------------------------------------------------------------------------------ */

typedef struct embed_case { size_t n; int D, V; } embed_case;
/* several id tiles (AAK_EMBED_TILE), D over one block, fewer ids than slices */
static const embed_case embed_cases[] = {{300, 40, 50}, {600, 300, 7}, {5, 3, 1000}};

static int32_t *random_ids(size_t n, int V, uint64_t seed)
{
    float *u = randoms(n, 0, 1, seed);
    int32_t *ids = hold(calloc(n, sizeof *ids));
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(u[i] * V) % V;
    return ids;
}

TEST(embed_forward_and_backward_match_the_cpu_to_the_bit)
{
    for (size_t c = 0; c < sizeof embed_cases / sizeof *embed_cases; c++) {
        embed_case s = embed_cases[c];
        size_t ny = s.n * s.D, nt = (size_t)s.V * s.D;
        int32_t *ids = random_ids(s.n, s.V, 300 + c);
        float *table = randoms(nt, -1, 1, 310 + c), *y = zeros(ny);
        k_embed_fwd(s.n, s.D, ids, table, y);
        gpu_ptr gy = garbage(ny), gtable = put(table, nt);
        CHECK(gpu_embed_fwd(dev, s.n, s.D, put_ids(ids, s.n), gtable, gy) == 0);
        CHECK_WITHIN(gy, y, NULL, ny, "embed forward, n %zu D %d", s.n, s.D);

        /* Repeated ids add up in position order; padding (-1) and ids >= V
         * are skipped. */
        for (size_t i = 0; i < s.n; i += 7) ids[i] = -1;
        for (size_t i = 3; i < s.n; i += 11) ids[i] = s.V;
        float *dy = randoms(ny, -1, 1, 320 + c), *dtable0 = randoms(nt, -1, 1, 330 + c), *dtable = copy_of(dtable0, nt);
        k_embed_bwd(s.n, s.D, s.V, ids, dy, dtable);
        gpu_ptr gdtable = put(dtable0, nt);
        CHECK(gpu_embed_bwd(dev, s.n, s.D, s.V, put_ids(ids, s.n), put(dy, ny), gdtable) == 0);
        CHECK_WITHIN(gdtable, dtable, NULL, nt, "embed backward, n %zu D %d V %d", s.n, s.D, s.V);
        release_all();
    }
}

TEST(embed_forward_gives_zeros_for_padding)
{
    int32_t ids[3] = {2, -1, 0};
    float *table = randoms(3 * 4, -1, 1, 340), *want = zeros(3 * 4);
    memcpy(want, table + 2 * 4, 4 * sizeof *want);
    memcpy(want + 8, table, 4 * sizeof *want);
    gpu_ptr gy = garbage(3 * 4);
    CHECK(gpu_embed_fwd(dev, 3, 4, put_ids(ids, 3), put(table, 3 * 4), gy) == 0);
    CHECK_WITHIN(gy, want, NULL, 3 * 4, "embed forward with a padding id");
    release_all();
}

/* ---- cross-entropy ---------------------------------------------------------------------------------- */

typedef struct xent_case { size_t n; int V; } xent_case;
static const xent_case xent_cases[] = {{37, 1000}, {3, 5}, {20, 300}};

/* Targets in [0, V), with padding (-1) every 5th row and one out of range. */
static int32_t *xent_targets(size_t n, int V, uint64_t seed)
{
    int32_t *t = random_ids(n, V, seed);
    for (size_t i = 1; i < n; i += 5) t[i] = -1;
    t[n - 1] = V;
    return t;
}

/*
 * Per row, both sides compute the same max and differ in s = sum exp(x - max):
 * each exp is within 2 ulp on either side (1.4 for conv.c's fast_expf), and
 * the device sums ceil(V / GPU_BLOCK) terms per thread, then a tree of 8
 * levels, so s differs by a relative delta <= gamma(ceil(V/256) + 8) + 4u.
 * log(s) then differs by delta, absolutely (hence the loss and its mean, up to
 * the final rounding); a probability e / s by delta + 8 roundings, relatively.
 */
static double xent_delta(int V) { return gamma_n((V + 255) / 256 + 8) + 4 * U; }

TEST(xent_forward_matches_the_cpu)
{
    for (size_t c = 0; c < sizeof xent_cases / sizeof *xent_cases; c++) {
        xent_case s = xent_cases[c];
        size_t nl = s.n * s.V;
        float *logits = randoms(nl, -6, 6, 350 + c), *probs = zeros(nl);
        int32_t *targets = xent_targets(s.n, s.V, 360 + c);
        float loss = k_xent_fwd(s.n, s.V, logits, targets, probs);
        gpu_ptr gl = put(logits, nl), gt = put_ids(targets, s.n), gp = garbage(nl);
        float got = -1, got_no_probs = -1;
        CHECK(gpu_xent_fwd(dev, s.n, s.V, gl, gt, gp, &got) == 0);
        CHECK_NEAR(got, loss, xent_delta(s.V) + 2 * U * fabsf(loss));
        size_t at = 0;
        double e = gpu_emu_max_err(dev, gp, probs, nl, &at);   /* relative (1 + |p| >= |p|) */
        CHECK_MSG(e <= xent_delta(s.V) + 8 * U, "xent probs, n %zu V %d: error %.3g at %zu", s.n, s.V, e, at);
        CHECK(gpu_xent_fwd(dev, s.n, s.V, gl, gt, 0, &got_no_probs) == 0);   /* evaluation: no probs */
        CHECK(got_no_probs == got);
        release_all();
    }
}

TEST(xent_without_targets_is_zero_and_has_no_gradient)
{
    int32_t targets[4] = {-1, -1, 9, -1};   /* 9 >= V */
    float *logits = randoms(4 * 9, -1, 1, 370), *probs = zeros(4 * 9), *dl = randoms(4 * 9, -1, 1, 380);
    float loss = -1;
    CHECK(k_xent_fwd(4, 9, logits, targets, probs) == 0.0f);
    gpu_ptr gt = put_ids(targets, 4), gdl = put(dl, 4 * 9);
    CHECK(gpu_xent_fwd(dev, 4, 9, put(logits, 4 * 9), gt, garbage(4 * 9), &loss) == 0);
    CHECK(loss == 0.0f);
    CHECK(gpu_xent_bwd(dev, 4, 9, put(probs, 4 * 9), gt, 1.0f, gdl) == 0);
    CHECK_WITHIN(gdl, dl, NULL, 4 * 9, "xent backward without targets leaves dlogits alone");
    release_all();
}

TEST(xent_backward_matches_the_cpu_and_accumulates)
{
    for (size_t c = 0; c < sizeof xent_cases / sizeof *xent_cases; c++) {
        xent_case s = xent_cases[c];
        size_t nl = s.n * s.V, count = 0;
        float *logits = randoms(nl, -6, 6, 390 + c), *probs = zeros(nl), dloss = 1.3f;
        int32_t *targets = xent_targets(s.n, s.V, 400 + c);
        k_xent_fwd(s.n, s.V, logits, targets, probs);
        float *dl0 = randoms(nl, -1, 1, 410 + c), *dl = copy_of(dl0, nl);
        k_xent_bwd(s.n, s.V, probs, targets, dloss, dl);
        /* The same scale on both sides; then o + scale p (an FMA on the GPU)
         * and - scale at the target: at most 3 roundings of those terms. */
        for (size_t r = 0; r < s.n; r++) count += targets[r] >= 0 && targets[r] < s.V;
        double scale = (float)(dloss / (double)count);
        double *bound = dzeros(nl);
        for (size_t i = 0; i < nl; i++) {
            int t = targets[i / s.V];
            int on_target = (size_t)t == i % s.V, valid = t >= 0 && t < s.V;
            bound[i] = valid ? 2 * gamma_n(3) * (fabs(dl0[i]) + scale * probs[i] + (on_target ? scale : 0)) : 0;
        }
        gpu_ptr gdl = put(dl0, nl);
        CHECK(gpu_xent_bwd(dev, s.n, s.V, put(probs, nl), put_ids(targets, s.n), dloss, gdl) == 0);
        CHECK_WITHIN(gdl, dl, bound, nl, "xent backward, n %zu V %d", s.n, s.V);
        release_all();
    }
}

/* ---- optimiser and clipping ---------------------------------------------------------------------------- */

/*
 * AdamW per element, both sides the same float formulas (the GPU may fuse
 * into FMAs): m = b1 m0 + (1-b1) g within gamma_3 (|b1 m0| + |(1-b1) g|) of
 * exact; v likewise with 4 roundings (all terms >= 0); the step
 * s m / (sqrt(v) c + eps) inherits m's absolute error, and relatively v's
 * (halved by sqrt) and 5 more roundings; p keep - step, 2 more roundings.
 */
TEST(adamw_matches_the_cpu)
{
    const size_t n = 3000;
    const k_adamw runs[] = {{.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f, .step = 1},
                            {.lr = 3e-3f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f, .step = 7}};
    for (int r = 0; r < 2; r++)
        for (int decay = 0; decay <= 1; decay++) {
            const k_adamw *h = &runs[r];
            float *p0 = randoms(n, -1, 1, 420), *g = randoms(n, -1, 1, 430), *m0 = randoms(n, -0.1f, 0.1f, 440);
            float *v0 = randoms(n, 0, 0.01f, 450);
            float *p = copy_of(p0, n), *m = copy_of(m0, n), *v = copy_of(v0, n);
            k_adamw_update(h, n, p, g, m, v, decay);
            double bc1 = 1.0 - pow(h->beta1, h->step), bc2 = 1.0 - pow(h->beta2, h->step);
            double step_size = h->lr / bc1, c = 1.0 / sqrt(bc2), keep = decay ? 1.0 - h->lr * h->weight_decay : 1.0;
            double *bp = dzeros(n), *bm = dzeros(n), *bv = dzeros(n);
            for (size_t i = 0; i < n; i++) {
                bm[i] = 2 * gamma_n(3) * (h->beta1 * fabs(m0[i]) + (1 - h->beta1) * fabs(g[i]));
                bv[i] = 2 * gamma_n(4) * (h->beta2 * v0[i] + (1 - h->beta2) * (double)g[i] * g[i]);
                double den = sqrt(v[i]) * c + h->eps, step = step_size * fabs(m[i]) / den;
                bp[i] = 2 * (gamma_n(3) * keep * fabs(p0[i]) + step_size * bm[i] / 2 / den +
                             step * (gamma_n(4) / 2 + gamma_n(7)));
            }
            gpu_ptr gp = put(p0, n), gm = put(m0, n), gv = put(v0, n);
            CHECK(gpu_adamw_update(dev, h, n, gp, put(g, n), gm, gv, decay) == 0);
            CHECK_WITHIN(gm, m, bm, n, "adamw m, run %d decay %d", r, decay);
            CHECK_WITHIN(gv, v, bv, n, "adamw v, run %d decay %d", r, decay);
            CHECK_WITHIN(gp, p, bp, n, "adamw p, run %d decay %d", r, decay);
            release_all();
        }
}

/* Both sum exact double squares in double, in different orders: within
 * 2 gamma_n (double) of each other, relative to the sum; and the device's
 * order is fixed (the same bits twice). 300000 fills every partial block. */
TEST(sumsq_matches_the_cpu_and_is_deterministic)
{
    const size_t sizes[] = {1, 1000, 70001, 300000};
    for (int c = 0; c < 4; c++) {
        size_t n = sizes[c];
        float *x = randoms(n, -2, 2, 460 + c);
        double want = k_sumsq(n, x), got = -1, again = -2;
        gpu_ptr gx = put(x, n);
        CHECK(gpu_sumsq(dev, n, gx, &got) == 0);
        CHECK(gpu_sumsq(dev, n, gx, &again) == 0);
        CHECK_NEAR(got, want, 2.0 * n * 0x1p-53 * want);
        CHECK(memcmp(&got, &again, sizeof got) == 0);
        release_all();
    }
    double zero = -1;
    CHECK(gpu_sumsq(dev, 0, 0, &zero) == 0 && zero == 0.0);
}

TEST(scale_inplace_matches_the_cpu_to_the_bit)
{
    const size_t n = 3001;
    float *x = randoms(n, -3, 3, 470);
    gpu_ptr gx = put(x, n);
    k_scale_inplace(n, x, 0.37f);
    CHECK(gpu_scale_inplace(dev, n, gx, 0.37f) == 0);
    CHECK_WITHIN(gx, x, NULL, n, "scale_inplace");
    release_all();
}

/* ---- any grid ------------------------------------------------------------------------------------------ */

/* The launchers give every batch item, column and row its own block; the
 * kernels must also be right when a block loops over several (grid-stride
 * loops over shared-memory tiles need their barriers). One small block for
 * all of trisolve's batch items and columns, and 3 blocks of 32 threads
 * for the embedding's 300 columns, against the CPU. */
TEST(kernels_are_right_on_small_grids)
{
    tri_case s = {3, 20, 70};
    size_t na = (size_t)s.batch * s.n * s.n, nx = (size_t)s.batch * s.n * s.m;
    float *A = tri_matrix(s, 480), *B = randoms(nx, -1, 1, 490), *X = zeros(nx);
    k_trisolve_fwd(s.batch, s.n, s.m, A, B, X);
    double *bound = dzeros(nx);
    for (int b = 0; b < s.batch; b++) {
        size_t ox = (size_t)b * s.n * s.m;
        memcpy(bound + ox, trisolve_fwd_bound(s.n, s.m, A + (size_t)b * s.n * s.n, X + ox),
               (size_t)s.n * s.m * sizeof *bound);
    }
    gpu_ptr gX = garbage(nx);
    aak_trisolve_args t = {.batch = s.batch, .n = s.n, .m = s.m, .A = (const float *)(uintptr_t)put(A, na),
                           .rhs = (const float *)(uintptr_t)put(B, nx), .out = (float *)(uintptr_t)gX};
    const gpu_kernel trisolve = {"trisolve.cu", "aak_trisolve_fwd", NULL};
    CHECK(gpu_launch(dev, &trisolve, (gpu_grid){.blocks_x = 1, .blocks_y = 1, .threads = 32}, &t, sizeof t) == 0);
    CHECK_WITHIN(gX, X, bound, nx, "trisolve forward on one block of 32 threads");

    embed_case e = {600, 300, 7};
    size_t ny = e.n * e.D, nt = (size_t)e.V * e.D;
    int32_t *ids = random_ids(e.n, e.V, 500);
    float *dy = randoms(ny, -1, 1, 510), *dtable0 = randoms(nt, -1, 1, 520), *dtable = copy_of(dtable0, nt);
    k_embed_bwd(e.n, e.D, e.V, ids, dy, dtable);
    gpu_ptr gdtable = put(dtable0, nt);
    aak_embed_args a = {.n = (long long)e.n, .D = e.D, .V = e.V, .ids = (const int *)(uintptr_t)put_ids(ids, e.n),
                        .dy = (const float *)(uintptr_t)put(dy, ny), .dtable = (float *)(uintptr_t)gdtable};
    const gpu_kernel embed = {"train.cu", "aak_embed_bwd", NULL};
    CHECK(gpu_launch(dev, &embed, (gpu_grid){.blocks_x = 3, .blocks_y = 2, .threads = 32}, &a, sizeof a) == 0);
    CHECK_WITHIN(gdtable, dtable, NULL, nt, "embed backward on 3 x 2 blocks of 32 threads");
    release_all();
}

int main(void)
{
    dev = gpu_emu_open(NULL);
    if (!dev) return 1;
    RUN(conv_forward_matches_the_cpu);
    RUN(conv_backward_matches_the_cpu_and_accumulates);
    RUN(linear_forward_matches_the_cpu_with_and_without_bias);
    RUN(linear_backward_matches_the_cpu_for_every_gradient_subset);
    RUN(matmul_forward_and_backward_match_the_cpu_for_every_transpose);
    RUN(matmul_with_an_empty_inner_dimension_writes_zeros);
    RUN(trisolve_forward_matches_the_cpu);
    RUN(trisolve_backward_matches_the_cpu_for_every_gradient_subset);
    RUN(embed_forward_and_backward_match_the_cpu_to_the_bit);
    RUN(embed_forward_gives_zeros_for_padding);
    RUN(xent_forward_matches_the_cpu);
    RUN(xent_without_targets_is_zero_and_has_no_gradient);
    RUN(xent_backward_matches_the_cpu_and_accumulates);
    RUN(adamw_matches_the_cpu);
    RUN(sumsq_matches_the_cpu_and_is_deterministic);
    RUN(scale_inplace_matches_the_cpu_to_the_bit);
    RUN(kernels_are_right_on_small_grids);
    gpu_close(dev);
    return test_summary();
}
