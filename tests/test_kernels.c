/*
 * test_kernels.c — the CPU tensor kernels (kernels/kernels.h), except the
 * linear-attention op (tests/test_linattn.c).
 *
 * Every backward is checked against central finite differences of its
 * forward: with a random upstream gradient dy, L(x) = sum dy * f(x) is
 * evaluated in double at x +- h for each input element (all of them, or 200
 * sampled ones for big tensors) and compared with what the backward
 * accumulates. The same harness checks that the backward accumulates (two
 * calls give twice one) and that NULL gradients are skipped. Forward values are checked against hand-computed or
 * naive reference results, and a set of kernels is run with 1, 2 and 3
 * threads and must give bit-identical results.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../include/asiarch.h"
#include "kernels.h"
#include "test.h"

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static float rnd_uniform(float lo, float hi) { return lo + (hi - lo) * (rnd_u32() / 4294967296.0f); }

static float *rnd_buf(size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rnd_uniform(lo, hi);
    return p;
}

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static k_shape shape(int rank, int d0, int d1, int d2, int d3)
{
    k_shape s = {rank, {d0, d1, d2, d3}};
    return s;
}
#define S1(a) shape(1, a, 1, 1, 1)
#define S2(a, b) shape(2, a, b, 1, 1)
#define S3(a, b, c) shape(3, a, b, c, 1)
#define S4(a, b, c, d) shape(4, a, b, c, d)

/* Push values within `gap` of a kink k away from it. */
static void avoid(float *x, size_t n, float k, float gap)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i] - k) < gap) x[i] = x[i] < k ? k - gap : k + gap;
}

/* ---- finite-difference gradient check ------------------------------------------------- */

#define MAXIN 6

typedef struct gcase gcase;
struct gcase {
    char name[96];
    int nin;
    float *x[MAXIN];        /* inputs (owned) */
    size_t n[MAXIN];
    int nograd[MAXIN];      /* 1: not differentiated */
    float *y;               /* output (owned) */
    size_t ny;
    void (*fwd)(gcase *);
    void (*bwd)(gcase *, const float *dy, float **dx);
    /* parameters, as each case needs them */
    int op, axis, mode, flag, M, K, N, B, T, C, V, batch, ta, tb;
    float a, b;
    k_shape s[3];
    int perm[4];
    int32_t *ids;
    float *saved;
    double h, rtol;
    int sum_len;            /* > 0: a multilinear op whose gradients sum at most this many
                               products; accumulation is then judged by its error bound */
};

static void gc_init(gcase *c, const char *name, int nin, size_t ny)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->nin = nin;
    c->ny = ny;
    c->y = zeros(ny);
    c->h = 1e-2;
    c->rtol = 1e-2;
}

static void gc_input(gcase *c, int i, size_t n, float lo, float hi)
{
    c->x[i] = rnd_buf(n, lo, hi);
    c->n[i] = n;
}

static void gc_free(gcase *c)
{
    for (int i = 0; i < c->nin; i++) free(c->x[i]);
    free(c->y);
    free(c->ids);
    free(c->saved);
}

static double weighted_sum(const gcase *c, const float *dy)
{
    double L = 0.0;
    for (size_t i = 0; i < c->ny; i++) L += (double)dy[i] * c->y[i];
    return L;
}

/* Rounding error bounds (Higham, "Accuracy and Stability of Numerical
 * Algorithms", 3.1): a float sum of n products, in any order and with any
 * blocking, is within gamma_n * sum |terms| of the exact sum, gamma_n =
 * n u / (1 - n u), u = 2^-24. Tests compare against these, not against one
 * BLAS kernel's rounding. */
static double gamma_n(int n)
{
    double u = 0x1p-24;
    return n * u / (1.0 - n * u);
}

/* |g2 - 2 g| where g = fl(sum of L terms) and g2 = fl(g + fl(the same sum)):
 * each sum is within gamma_L * S of exact, the addition adds one rounding. */
static double accumulation_bound(int L, double abs_sum)
{
    return (4.0 * gamma_n(L + 1) + 0x1p-22) * abs_sum + 1e-30;
}

/* For a multilinear op, the backward of |inputs| with |dy| is, element by
 * element, the sum of |terms| each gradient element adds up: the S of the
 * bounds above. */
static void magnitude_grads(gcase *c, const float *dy, float **mag)
{
    float *saved[MAXIN] = {0}, *ady = malloc(c->ny * sizeof *ady);
    for (size_t j = 0; j < c->ny; j++) ady[j] = fabsf(dy[j]);
    for (int i = 0; i < c->nin; i++) {
        saved[i] = c->x[i];
        c->x[i] = malloc(c->n[i] * sizeof(float));
        for (size_t j = 0; j < c->n[i]; j++) c->x[i][j] = fabsf(saved[i][j]);
        if (!c->nograd[i]) mag[i] = zeros(c->n[i]);
    }
    c->bwd(c, ady, mag);
    for (int i = 0; i < c->nin; i++) {
        free(c->x[i]);
        c->x[i] = saved[i];
    }
    free(ady);
}

static void gradcheck(gcase *c)
{
    float *dy = rnd_buf(c->ny, -1.0f, 1.0f);
    float *g[MAXIN] = {0}, *g2[MAXIN] = {0};
    for (int i = 0; i < c->nin; i++) {
        if (c->nograd[i]) continue;
        g[i] = zeros(c->n[i]);
        g2[i] = zeros(c->n[i]);
    }
    c->fwd(c);
    float *mag[MAXIN] = {0};
    if (c->sum_len > 0) magnitude_grads(c, dy, mag);
    float *none[MAXIN] = {0};
    c->bwd(c, dy, none); /* no gradient wanted: must touch nothing */
    c->bwd(c, dy, g);
    c->bwd(c, dy, g2);
    c->bwd(c, dy, g2);

    for (int i = 0; i < c->nin; i++) {
        if (!g[i]) continue;
        double gmax = 0.0;
        for (size_t j = 0; j < c->n[i]; j++) gmax = fmax(gmax, fabs(g[i][j]));

        /* accumulate: two calls into the same buffer give twice one call, within
         * what rounding allows whatever the kernel's order of summation */
        size_t bad_acc = 0;
        for (size_t j = 0; j < c->n[i]; j++) {
            double tol = mag[i] ? accumulation_bound(c->sum_len, mag[i][j])
                                : 1e-5 * (fabs(g[i][j]) + 1e-3 * gmax) + 1e-30;
            if (fabs(g2[i][j] - 2.0 * g[i][j]) > tol) bad_acc++;
        }
        CHECK_MSG(bad_acc == 0, "%s: input %d: backward does not accumulate (%zu elements)",
                  c->name, i, bad_acc);

        /* central differences */
        size_t n = c->n[i], m = n <= 200 ? n : 200, worst_j = 0;
        double worst = 0.0, worst_num = 0.0, floor = fmax(0.02 * gmax, 1e-4);
        for (size_t s = 0; s < m; s++) {
            size_t j = n <= 200 ? s : rnd_u32() % n;
            float orig = c->x[i][j], xp = orig + (float)c->h, xm = orig - (float)c->h;
            c->x[i][j] = xp;
            c->fwd(c);
            double Lp = weighted_sum(c, dy);
            c->x[i][j] = xm;
            c->fwd(c);
            double Lm = weighted_sum(c, dy);
            c->x[i][j] = orig;
            double num = (Lp - Lm) / ((double)xp - xm), ana = g[i][j];
            double err = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), floor);
            if (err > worst || err != err) {
                worst = err;
                worst_j = j;
                worst_num = num;
            }
        }
        CHECK_MSG(worst <= c->rtol, "%s: input %d: element %zu: numeric %.7g, analytic %.7g, rel err %.3g",
                  c->name, i, worst_j, worst_num, g[i][worst_j], worst);
        free(g[i]);
        free(g2[i]);
        free(mag[i]);
    }
    c->fwd(c); /* leave the outputs of the unperturbed inputs */
    free(dy);
}

/* ---- unary ----------------------------------------------------------------------------- */

static void unary_fwd(gcase *c) { k_unary_fwd(c->op, c->a, c->b, c->n[0], c->x[0], c->y); }
static void unary_bwd(gcase *c, const float *dy, float **dx)
{
    k_unary_bwd(c->op, c->a, c->b, c->n[0], c->x[0], c->y, dy, dx[0]);
}

static const char *unary_names[] = {"", "scale", "add_scalar", "square", "sqrt", "rsqrt", "exp",
                                    "log", "neg", "clamp", "sigmoid", "silu", "softplus",
                                    "logsigmoid", "gelu", "relu", "elu1", "tanh", "abs"};

TEST(unary_grad)
{
    for (int op = AA_OP_SCALE; op < AA_OP_UNARY_END; op++) {
        gcase c;
        size_t n = 300;
        gc_init(&c, unary_names[op], 1, n);
        c.op = op;
        c.fwd = unary_fwd;
        c.bwd = unary_bwd;
        int positive = op == AA_OP_SQRT || op == AA_OP_RSQRT || op == AA_OP_LOG;
        gc_input(&c, 0, n, positive ? 0.3f : -3.0f, positive ? 2.0f : 3.0f);
        if (op == AA_OP_SCALE) c.a = -1.7f;
        if (op == AA_OP_ADD_SCALAR) c.a = 0.3f;
        if (op == AA_OP_CLAMP) {
            c.a = -0.7f;
            c.b = 0.9f;
            avoid(c.x[0], n, c.a, 0.05f);
            avoid(c.x[0], n, c.b, 0.05f);
        }
        if (op == AA_OP_RELU || op == AA_OP_ABS || op == AA_OP_ELU1) avoid(c.x[0], n, 0.0f, 0.05f);
        gradcheck(&c);
        gc_free(&c);
    }
}

TEST(unary_values)
{
    float x[] = {0.0f, 1.0f, -1.0f, 100.0f, -100.0f, 2.0f}, y[6];
    k_unary_fwd(AA_OP_SOFTPLUS, 0, 0, 6, x, y);
    CHECK_NEAR(y[0], logf(2.0f), 1e-6);
    CHECK_NEAR(y[3], 100.0f, 1e-4);
    CHECK(y[4] >= 0.0f && y[4] < 1e-40f);
    k_unary_fwd(AA_OP_LOGSIGMOID, 0, 0, 6, x, y);
    CHECK_NEAR(y[0], -logf(2.0f), 1e-6);
    CHECK_NEAR(y[4], -100.0f, 1e-4);
    CHECK(isfinite(y[3]) && fabsf(y[3]) < 1e-40f);
    k_unary_fwd(AA_OP_GELU, 0, 0, 6, x, y);
    CHECK_NEAR(y[1], 0.8413447f, 1e-6);
    CHECK_NEAR(y[2], -0.1586553f, 1e-6);
    k_unary_fwd(AA_OP_ELU1, 0, 0, 6, x, y);
    CHECK_NEAR(y[1], 2.0f, 0);
    CHECK_NEAR(y[2], expf(-1.0f), 1e-7);
    k_unary_fwd(AA_OP_SILU, 0, 0, 6, x, y);
    CHECK_NEAR(y[1], 1.0f / (1.0f + expf(-1.0f)), 1e-7);
    CHECK_NEAR(y[4], 0.0f, 1e-30);
    k_unary_fwd(AA_OP_CLAMP, -0.5f, 1.5f, 6, x, y);
    CHECK(y[0] == 0.0f && y[1] == 1.0f && y[2] == -0.5f && y[3] == 1.5f);
    k_unary_fwd(AA_OP_RSQRT, 0, 0, 1, &x[5], y);
    CHECK_NEAR(y[0], 1.0f / sqrtf(2.0f), 1e-7);

    /* gradients at the saturated ends stay finite */
    float dy[6] = {1, 1, 1, 1, 1, 1}, dx[6] = {0};
    k_unary_fwd(AA_OP_SOFTPLUS, 0, 0, 6, x, y);
    k_unary_bwd(AA_OP_SOFTPLUS, 0, 0, 6, x, y, dy, dx);
    for (int i = 0; i < 6; i++) CHECK(isfinite(dx[i]));
    CHECK_NEAR(dx[3], 1.0f, 1e-6);
    CHECK_NEAR(dx[0], 0.5f, 1e-7);

    /* exp, sigmoid, silu and GELU go through a vectorised exp/erf: their
     * accuracy over the float range, against double references */
    size_t m = 20001;
    float *xs = zeros(m), *ys = zeros(m);
    double worst = 0;
    for (size_t i = 0; i < m; i++) xs[i] = -87.0f + 175.5f * (float)i / (float)(m - 1);
    k_unary_fwd(AA_OP_EXP, 0, 0, m, xs, ys);
    for (size_t i = 0; i < m; i++) worst = fmax(worst, fabs(ys[i] - exp(xs[i])) / exp(xs[i]));
    CHECK_MSG(worst < 2.5e-7, "exp: relative error %g", worst);
    for (size_t i = 0; i < m; i++) xs[i] = -12.0f + 24.0f * (float)i / (float)(m - 1);
    k_unary_fwd(AA_OP_SIGMOID, 0, 0, m, xs, ys);
    worst = 0;
    for (size_t i = 0; i < m; i++) worst = fmax(worst, fabs(ys[i] - 1.0 / (1.0 + exp(-xs[i]))) * (1.0 + exp(-xs[i])));
    CHECK_MSG(worst < 1e-6, "sigmoid: relative error %g", worst);
    k_unary_fwd(AA_OP_GELU, 0, 0, m, xs, ys);
    worst = 0;
    for (size_t i = 0; i < m; i++) {
        double ref = 0.5 * xs[i] * (1.0 + erf(xs[i] / sqrt(2.0)));
        worst = fmax(worst, fabs(ys[i] - ref) / (1.0 + fabs(xs[i])));
    }
    CHECK_MSG(worst < 3e-7, "gelu: error %g", worst); /* libm erff: ~1e-7 */
    free(xs);
    free(ys);
    float edge[] = {-INFINITY, INFINITY, NAN, 89.0f, -88.0f, -100.0f, 0.0f}, ey[7];
    k_unary_fwd(AA_OP_EXP, 0, 0, 7, edge, ey);
    CHECK(ey[0] == 0.0f && ey[1] == INFINITY && ey[2] != ey[2] && ey[3] == INFINITY);
    CHECK(ey[4] >= 0.0f && ey[4] < 1.2e-38f && ey[5] == 0.0f && ey[6] == 1.0f);
    k_unary_fwd(AA_OP_SIGMOID, 0, 0, 7, edge, ey);
    CHECK(ey[0] == 0.0f && ey[1] == 1.0f && ey[2] != ey[2] && ey[6] == 0.5f);

    /* NaN passes through clamp and relu (the trainer must see it) */
    float nan_in = NAN, out;
    k_unary_fwd(AA_OP_CLAMP, -1.0f, 1.0f, 1, &nan_in, &out);
    CHECK(out != out);
    k_unary_fwd(AA_OP_RELU, 0, 0, 1, &nan_in, &out);
    CHECK(out != out);
}

/* ---- binary ----------------------------------------------------------------------------- */

static void binary_fwd(gcase *c) { k_binary_fwd(c->op, &c->s[0], c->x[0], &c->s[1], c->x[1], &c->s[2], c->y); }
static void binary_bwd(gcase *c, const float *dy, float **dx)
{
    k_binary_bwd(c->op, &c->s[0], c->x[0], &c->s[1], c->x[1], &c->s[2], dy, dx[0], dx[1]);
}

/* Naive numpy broadcasting reference. */
static float apply_op(int op, float a, float b)
{
    switch (op) {
    case AA_OP_ADD: return a + b;
    case AA_OP_SUB: return a - b;
    case AA_OP_MUL: return a * b;
    default: return a / b;
    }
}

static size_t bcast_index(const k_shape *s, const int *idx)
{
    size_t off = 0;
    for (int i = 0; i < s->rank; i++) off = off * s->d[i] + (s->d[i] == 1 ? 0 : idx[i]);
    return off;
}

static void binary_ref(int op, const k_shape *sa, const float *a, const k_shape *sb, const float *b,
                       const k_shape *sy, float *y)
{
    size_t n = k_numel(sy);
    for (size_t lin = 0; lin < n; lin++) {
        int idx[4] = {0};
        size_t r = lin;
        for (int i = sy->rank - 1; i >= 0; i--) {
            idx[i] = (int)(r % sy->d[i]);
            r /= sy->d[i];
        }
        y[lin] = apply_op(op, a[bcast_index(sa, idx)], b[bcast_index(sb, idx)]);
    }
}

static k_shape bshape(const k_shape *a, const k_shape *b)
{
    k_shape y = *a;
    for (int i = 0; i < a->rank; i++) y.d[i] = a->d[i] > b->d[i] ? a->d[i] : b->d[i];
    return y;
}

TEST(binary_grad_and_broadcast)
{
    static const char *names[] = {"", "add", "sub", "mul", "div"};
    k_shape pairs[][2] = {
        {S4(2, 3, 5, 7), S4(2, 3, 5, 7)},  /* same shape */
        {S4(2, 3, 5, 7), S4(1, 1, 1, 7)},  /* b along leading axes */
        {S4(1, 1, 1, 7), S4(2, 3, 5, 7)},  /* a along leading axes */
        {S4(2, 3, 5, 7), S4(2, 3, 5, 1)},  /* trailing axis */
        {S4(2, 1, 5, 1), S4(1, 3, 1, 7)},  /* both broadcast */
        {S4(2, 3, 5, 7), S4(1, 3, 1, 1)},  /* per-head scalar */
        {S4(2, 3, 5, 7), S4(1, 1, 1, 1)},  /* scalar */
        {S3(4, 6, 300), S3(1, 1, 300)},    /* more than one column tile */
        {S2(6, 8), S2(6, 8)},
        {S1(9), S1(1)},
    };
    int npairs = (int)(sizeof pairs / sizeof pairs[0]);
    for (int p = 0; p < npairs; p++) {
        for (int op = AA_OP_ADD; op <= AA_OP_DIV; op++) {
            gcase c;
            k_shape sy = bshape(&pairs[p][0], &pairs[p][1]);
            char name[96];
            snprintf(name, sizeof name, "binary %s pair %d", names[op], p);
            gc_init(&c, name, 2, k_numel(&sy));
            c.op = op;
            c.s[0] = pairs[p][0];
            c.s[1] = pairs[p][1];
            c.s[2] = sy;
            c.fwd = binary_fwd;
            c.bwd = binary_bwd;
            gc_input(&c, 0, k_numel(&c.s[0]), -2.0f, 2.0f);
            gc_input(&c, 1, k_numel(&c.s[1]), 0.5f, 2.0f);
            if (op != AA_OP_DIV) /* signs both ways, except where we divide */
                for (size_t i = 0; i < c.n[1]; i++)
                    if (rnd_u32() & 1) c.x[1][i] = -c.x[1][i];

            /* forward against the naive reference */
            float *ref = zeros(c.ny);
            binary_fwd(&c);
            binary_ref(op, &c.s[0], c.x[0], &c.s[1], c.x[1], &sy, ref);
            size_t at = 0;
            double e = test_max_rel_err(c.y, ref, c.ny, 1e-6, &at);
            CHECK_MSG(e <= 1e-6, "%s: forward differs from reference at %zu (%g)", name, at, e);
            free(ref);

            gradcheck(&c);
            gc_free(&c);
        }
    }
}

TEST(binary_null_grads)
{
    k_shape sa = S3(2, 3, 4), sb = S3(1, 1, 4);
    float *a = rnd_buf(24, -1, 1), *b = rnd_buf(4, -1, 1), *dy = rnd_buf(24, -1, 1);
    float *da = zeros(24), *db = zeros(4);
    k_binary_bwd(AA_OP_MUL, &sa, a, &sb, b, &sa, dy, da, NULL);
    k_binary_bwd(AA_OP_MUL, &sa, a, &sb, b, &sa, dy, NULL, db);
    float ref = 0;
    for (int i = 0; i < 6; i++) ref += dy[i * 4] * a[i * 4];
    CHECK_NEAR(db[0], ref, 1e-5);
    CHECK_NEAR(da[5], dy[5] * b[1], 1e-7);
    free(a); free(b); free(dy); free(da); free(db);
}

/* ---- reductions and masks ------------------------------------------------------------------ */

static int reduce_keeps(int op) { return op == AA_OP_CUMSUM || op == AA_OP_SOFTMAX; }

static void reduce_fwd(gcase *c) { k_reduce_fwd(c->op, &c->s[0], c->axis, c->x[0], c->y); }
static void reduce_bwd(gcase *c, const float *dy, float **dx)
{
    k_reduce_bwd(c->op, &c->s[0], c->axis, c->x[0], c->y, dy, dx[0]);
}

TEST(reduce_grad)
{
    static const char *names[] = {"", "sum", "mean", "var", "cumsum", "softmax", "entropy"};
    struct { k_shape s; int axis; } cases[] = {
        {S3(3, 5, 4), 0}, {S3(3, 5, 4), 1}, {S3(3, 5, 4), 2}, {S3(3, 5, 4), -1},
        {S3(2, 6, 70), 1}, {S4(2, 3, 4, 5), 2}, {S1(7), 0},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int op = AA_OP_SUM; op <= AA_OP_ENTROPY; op++) {
        for (int k = 0; k < ncases; k++) {
            gcase c;
            char name[96];
            k_shape s = cases[k].s;
            int ax = cases[k].axis < 0 ? cases[k].axis + s.rank : cases[k].axis;
            size_t n = k_numel(&s), ny = reduce_keeps(op) ? n : n / s.d[ax];
            snprintf(name, sizeof name, "reduce %s case %d", names[op], k);
            gc_init(&c, name, 1, ny);
            c.op = op;
            c.axis = cases[k].axis;
            c.s[0] = s;
            c.fwd = reduce_fwd;
            c.bwd = reduce_bwd;
            if (op == AA_OP_ENTROPY) gc_input(&c, 0, n, 0.05f, 1.0f);
            else gc_input(&c, 0, n, -2.0f, 2.0f);
            gradcheck(&c);
            gc_free(&c);
        }
    }
}

TEST(reduce_values)
{
    float x[] = {1, 2, 3, 4}, y[4];
    k_shape s = S2(1, 4);
    k_reduce_fwd(AA_OP_SUM, &s, 1, x, y);
    CHECK_NEAR(y[0], 10.0f, 0);
    k_reduce_fwd(AA_OP_MEAN, &s, 1, x, y);
    CHECK_NEAR(y[0], 2.5f, 0);
    k_reduce_fwd(AA_OP_VAR, &s, 1, x, y);
    CHECK_NEAR(y[0], 1.25f, 1e-7);
    k_reduce_fwd(AA_OP_CUMSUM, &s, 1, x, y);
    CHECK(y[0] == 1 && y[1] == 3 && y[2] == 6 && y[3] == 10);
    /* the same along a strided axis: [4, 1] reduced over axis 0 goes through
     * the column path when padded with a second column */
    float x2[] = {1, 10, 2, 20, 3, 30, 4, 40}, y2[8];
    k_shape s2 = S2(4, 2);
    k_reduce_fwd(AA_OP_CUMSUM, &s2, 0, x2, y2);
    CHECK(y2[6] == 10 && y2[7] == 100 && y2[2] == 3 && y2[3] == 30);
    k_reduce_fwd(AA_OP_VAR, &s2, 0, x2, y2);
    CHECK_NEAR(y2[0], 1.25f, 1e-7);
    CHECK_NEAR(y2[1], 125.0f, 1e-4);

    /* softmax rows sum to 1, along the last and a strided axis */
    k_shape s3 = S3(3, 7, 5);
    float *a = rnd_buf(105, -5, 5), *p = zeros(105);
    for (int axis = 0; axis < 3; axis++) {
        k_reduce_fwd(AA_OP_SOFTMAX, &s3, axis, a, p);
        float sums[105] = {0};
        k_reduce_fwd(AA_OP_SUM, &s3, axis, p, sums);
        size_t m = 105 / s3.d[axis];
        double worst = 0;
        for (size_t i = 0; i < m; i++) worst = fmax(worst, fabs(sums[i] - 1.0));
        CHECK_MSG(worst < 1e-6, "softmax axis %d: sum off by %g", axis, worst);
    }
    /* -inf (a masked entry) gets exactly zero */
    float masked[] = {0.5f, -INFINITY, 1.5f}, pm[3];
    k_shape s5 = S1(3);
    k_reduce_fwd(AA_OP_SOFTMAX, &s5, 0, masked, pm);
    CHECK(pm[1] == 0.0f);
    CHECK_NEAR(pm[2] / pm[0], expf(1.0f), 1e-6);
    /* large logits do not overflow, along the last and a strided axis */
    float big[40], pb[40];
    for (int i = 0; i < 40; i++) big[i] = 1000.0f + (float)(i % 20) * 0.5f + (i / 2 == 3 ? 200.0f : 0.0f);
    k_shape sb1 = S1(20), sb2 = S2(20, 2);
    for (int pass = 0; pass < 2; pass++) {
        k_reduce_fwd(AA_OP_SOFTMAX, pass ? &sb2 : &sb1, 0, big, pb);
        int n = pass ? 40 : 20;
        double total = 0;
        int finite = 1;
        for (int i = 0; i < n; i++) { finite &= isfinite(pb[i]) != 0; total += pb[i]; }
        CHECK_MSG(finite && fabs(total - (pass ? 2.0 : 1.0)) < 1e-5, "softmax of large logits (pass %d)", pass);
    }

    /* entropy: uniform over 4 is log 4; 0 log 0 = 0 with a finite gradient */
    float u[] = {0.25f, 0.25f, 0.25f, 0.25f}, h;
    k_reduce_fwd(AA_OP_ENTROPY, &s, 1, u, &h);
    CHECK_NEAR(h, logf(4.0f), 1e-6);
    float q[] = {0.5f, 0.5f, 0.0f, 0.0f}, one = 1.0f, dq[4] = {0};
    k_reduce_fwd(AA_OP_ENTROPY, &s, 1, q, &h);
    CHECK_NEAR(h, logf(2.0f), 1e-6);
    k_reduce_bwd(AA_OP_ENTROPY, &s, 1, q, &h, &one, dq);
    for (int i = 0; i < 4; i++) CHECK(isfinite(dq[i]));
    CHECK_NEAR(dq[0], -(logf(0.5f) + 1.0f), 1e-6);
    free(a);
    free(p);
}

static void mask_fwd(gcase *c) { k_mask(c->flag, c->mode, &c->s[0], c->x[0], c->y, 0); }
static void mask_bwd(gcase *c, const float *dy, float **dx)
{
    if (dx[0]) k_mask(c->flag, c->mode, &c->s[0], dy, dx[0], 1);
}

TEST(mask)
{
    for (int upper = 0; upper <= 1; upper++) {
        for (int diag = -2; diag <= 2; diag++) {
            gcase c;
            char name[96];
            snprintf(name, sizeof name, "mask upper=%d diagonal=%d", upper, diag);
            gc_init(&c, name, 1, 70);
            c.s[0] = S3(2, 5, 7);
            c.flag = upper;
            c.mode = diag;
            c.fwd = mask_fwd;
            c.bwd = mask_bwd;
            gc_input(&c, 0, 70, -1, 1);
            gradcheck(&c);
            /* kept exactly where the contract says */
            mask_fwd(&c);
            int bad = 0;
            for (int b = 0; b < 2; b++)
                for (int i = 0; i < 5; i++)
                    for (int j = 0; j < 7; j++) {
                        int keep = upper ? j - i >= diag : j - i <= diag;
                        size_t o = (size_t)(b * 35 + i * 7 + j);
                        bad += c.y[o] != (keep ? c.x[0][o] : 0.0f);
                    }
            CHECK_MSG(bad == 0, "%s: %d elements wrong", name, bad);
            gc_free(&c);
        }
    }
    /* PyTorch's convention: tril(0)/triu(0) keep the diagonal, tril(-1)/triu(1) drop it */
    float ones[16], y[16];
    k_shape s = S2(4, 4);
    for (int i = 0; i < 16; i++) ones[i] = 1.0f;
    float cnt;
    k_mask(0, 0, &s, ones, y, 0);
    cnt = 0; for (int i = 0; i < 16; i++) cnt += y[i];
    CHECK(cnt == 10 && y[0] == 1 && y[1] == 0 && y[4] == 1);
    k_mask(1, 1, &s, ones, y, 0);
    cnt = 0; for (int i = 0; i < 16; i++) cnt += y[i];
    CHECK(cnt == 6 && y[0] == 0 && y[1] == 1 && y[4] == 0);
}

/* ---- layout ----------------------------------------------------------------------------------- */

static void permute_fwd(gcase *c) { k_permute(&c->s[0], c->perm, c->x[0], c->y, 0); }
static void permute_bwd(gcase *c, const float *dy, float **dx)
{
    int inv[4];
    for (int i = 0; i < c->s[0].rank; i++) inv[c->perm[i]] = i;
    if (dx[0]) k_permute(&c->s[1], inv, dy, dx[0], 1);
}

/* Naive permute reference. */
static void permute_ref(const k_shape *sx, const int *perm, const float *x, float *y)
{
    int r = sx->rank;
    size_t n = k_numel(sx), xs[4];
    xs[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--) xs[i] = xs[i + 1] * sx->d[i + 1];
    int yd[4];
    for (int i = 0; i < r; i++) yd[i] = sx->d[perm[i]];
    for (size_t lin = 0; lin < n; lin++) {
        size_t rem = lin, off = 0;
        for (int i = r - 1; i >= 0; i--) {
            off += (rem % yd[i]) * xs[perm[i]];
            rem /= yd[i];
        }
        y[lin] = x[off];
    }
}

static void check_permute(k_shape sx, const int *perm, int grad)
{
    gcase c;
    char name[96];
    size_t n = k_numel(&sx);
    snprintf(name, sizeof name, "permute rank %d [%d %d %d %d]", sx.rank, perm[0],
             sx.rank > 1 ? perm[1] : -1, sx.rank > 2 ? perm[2] : -1, sx.rank > 3 ? perm[3] : -1);
    gc_init(&c, name, 1, n);
    c.s[0] = sx;
    c.s[1] = sx;
    for (int i = 0; i < sx.rank; i++) {
        c.perm[i] = perm[i];
        c.s[1].d[i] = sx.d[perm[i]];
    }
    c.fwd = permute_fwd;
    c.bwd = permute_bwd;
    gc_input(&c, 0, n, -1, 1);
    float *ref = zeros(n), *back = zeros(n);
    permute_fwd(&c);
    permute_ref(&sx, perm, c.x[0], ref);
    CHECK_MSG(memcmp(ref, c.y, n * sizeof *ref) == 0, "%s: forward differs", name);
    /* round trip through the inverse permutation */
    int inv[4];
    for (int i = 0; i < sx.rank; i++) inv[perm[i]] = i;
    k_permute(&c.s[1], inv, c.y, back, 0);
    CHECK_MSG(memcmp(back, c.x[0], n * sizeof *back) == 0, "%s: round trip differs", name);
    if (grad) gradcheck(&c);
    free(ref);
    free(back);
    gc_free(&c);
}

TEST(permute)
{
    /* every permutation of a rank-4 tensor */
    int p[4] = {0, 1, 2, 3};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 4; d++) {
                    if (a == b || a == c || a == d || b == c || b == d || c == d) continue;
                    p[0] = a; p[1] = b; p[2] = c; p[3] = d;
                    check_permute(S4(2, 3, 4, 5), p, 1);
                }
    int p2[] = {1, 0}, p3[] = {2, 0, 1}, p4[] = {0, 2, 1};
    check_permute(S2(6, 9), p2, 1);
    check_permute(S3(3, 4, 5), p3, 1);
    /* the tiled transpose with ragged tiles, and the head split swap, large */
    check_permute(S3(3, 70, 45), p4 + 0, 0);
    int swap12[] = {0, 2, 1, 3}, swap23[] = {0, 1, 3, 2};
    check_permute(S4(2, 100, 4, 64), swap12, 1);
    check_permute(S4(2, 3, 37, 66), swap23, 1);
}

static void slice_fwd(gcase *c) { k_slice_fwd(&c->s[0], c->axis, c->M, c->N, c->x[0], c->y); }
static void slice_bwd(gcase *c, const float *dy, float **dx) { k_slice_bwd(&c->s[0], c->axis, c->M, c->N, dy, dx[0]); }

TEST(slice)
{
    struct { k_shape s; int axis, start, len; } cases[] = {
        {S3(3, 7, 4), 1, 2, 3}, {S3(3, 7, 4), 0, 1, 2}, {S3(3, 7, 4), 2, 3, 1}, {S3(3, 7, 4), -1, 0, 4},
        {S2(5, 3000), 1, 100, 2500},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        gcase c;
        char name[96];
        k_shape s = cases[k].s;
        int ax = cases[k].axis < 0 ? cases[k].axis + s.rank : cases[k].axis;
        size_t n = k_numel(&s), ny = n / s.d[ax] * cases[k].len;
        snprintf(name, sizeof name, "slice case %d", k);
        gc_init(&c, name, 1, ny);
        c.s[0] = s;
        c.axis = cases[k].axis;
        c.M = cases[k].start;
        c.N = cases[k].len;
        c.fwd = slice_fwd;
        c.bwd = slice_bwd;
        gc_input(&c, 0, n, -1, 1);
        gradcheck(&c);
        gc_free(&c);
    }
    /* forward values: x[i, j] = 10 i + j, columns 2..4 */
    float x[21], y[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 7; j++) x[i * 7 + j] = 10.0f * i + j;
    k_shape s = S2(3, 7);
    k_slice_fwd(&s, 1, 2, 3, x, y);
    CHECK(y[0] == 2 && y[2] == 4 && y[3] == 12 && y[8] == 24);
}

static void expand_fwd(gcase *c) { k_expand_fwd(&c->s[0], c->x[0], &c->s[1], c->y); }
static void expand_bwd(gcase *c, const float *dy, float **dx) { k_expand_bwd(&c->s[0], &c->s[1], dy, dx[0]); }

TEST(expand)
{
    k_shape pairs[][2] = {
        {S4(1, 3, 1, 5), S4(2, 3, 4, 5)}, {S2(4, 1), S2(4, 6)}, {S4(1, 1, 1, 1), S4(2, 3, 4, 5)},
        {S3(1, 1, 9), S3(5, 6, 9)}, {S3(2, 3, 4), S3(2, 3, 4)},
    };
    for (int k = 0; k < (int)(sizeof pairs / sizeof pairs[0]); k++) {
        gcase c;
        char name[96];
        snprintf(name, sizeof name, "expand case %d", k);
        gc_init(&c, name, 1, k_numel(&pairs[k][1]));
        c.s[0] = pairs[k][0];
        c.s[1] = pairs[k][1];
        c.fwd = expand_fwd;
        c.bwd = expand_bwd;
        gc_input(&c, 0, k_numel(&c.s[0]), -1, 1);
        /* forward = adding a zero tensor of the target shape */
        float *z = zeros(c.ny), *ref = zeros(c.ny);
        binary_ref(AA_OP_ADD, &c.s[0], c.x[0], &c.s[1], z, &c.s[1], ref);
        expand_fwd(&c);
        CHECK_MSG(memcmp(ref, c.y, c.ny * sizeof *ref) == 0, "%s: forward differs", name);
        free(z);
        free(ref);
        gradcheck(&c);
        gc_free(&c);
    }
}

/* ---- linear algebra ----------------------------------------------------------------------------- */

static void linear_fwd(gcase *c) { k_linear_fwd(c->M, c->K, c->N, c->x[0], c->x[1], c->flag ? c->x[2] : NULL, c->y); }
static void linear_bwd(gcase *c, const float *dy, float **dx)
{
    k_linear_bwd(c->M, c->K, c->N, c->x[0], c->x[1], dy, dx[0], dx[1], c->flag ? dx[2] : NULL);
}

/* The largest |y - exact| of a linear forward over its error bound,
 * gamma_{K+1} * (sum_k |x w| + |bias|) per element: <= 1 whatever the kernel. */
static double linear_forward_error(const gcase *c)
{
    double worst = 0;
    for (int m = 0; m < c->M; m++)
        for (int n = 0; n < c->N; n++) {
            double s = c->flag ? c->x[2][n] : 0.0, S = fabs(s);
            for (int k = 0; k < c->K; k++) {
                double t = (double)c->x[0][m * c->K + k] * c->x[1][n * c->K + k];
                s += t;
                S += fabs(t);
            }
            worst = fmax(worst, fabs(s - c->y[m * c->N + n]) / (gamma_n(c->K + 1) * S + 1e-30));
        }
    return worst;
}

TEST(linear)
{
    for (int bias = 0; bias <= 1; bias++) {
        gcase c;
        int M = 5, K = 7, N = 6;
        gc_init(&c, bias ? "linear+bias" : "linear", bias ? 3 : 2, (size_t)M * N);
        c.M = M; c.K = K; c.N = N; c.flag = bias;
        c.fwd = linear_fwd;
        c.bwd = linear_bwd;
        gc_input(&c, 0, (size_t)M * K, -1, 1);
        gc_input(&c, 1, (size_t)N * K, -1, 1);
        if (bias) gc_input(&c, 2, N, -1, 1);
        c.sum_len = M > N ? M : N;
        linear_fwd(&c);
        double worst = linear_forward_error(&c);
        CHECK_MSG(worst <= 1.0, "linear forward off by %g times its error bound", worst);
        gradcheck(&c);
        gc_free(&c);
    }
}

TEST(gemm_tiles)
{
    /* big enough to be cut into several output tiles */
    gcase c;
    int M = 300, K = 20, N = 290;
    gc_init(&c, "linear tiled", 3, (size_t)M * N);
    c.M = M; c.K = K; c.N = N; c.flag = 1;
    c.fwd = linear_fwd;
    c.bwd = linear_bwd;
    gc_input(&c, 0, (size_t)M * K, -1, 1);
    gc_input(&c, 1, (size_t)N * K, -1, 1);
    gc_input(&c, 2, N, -1, 1);
    c.sum_len = M > N ? M : N;
    linear_fwd(&c);
    double worst = linear_forward_error(&c);
    CHECK_MSG(worst <= 1.0, "tiled linear forward off by %g times its error bound", worst);
    gradcheck(&c);
    gc_free(&c);
}

static void matmul_fwd(gcase *c)
{
    k_matmul_fwd(c->batch, c->s[0].d[0], c->s[0].d[1], c->s[1].d[0], c->s[1].d[1], c->ta, c->tb,
                 c->x[0], c->x[1], c->y);
}
static void matmul_bwd(gcase *c, const float *dy, float **dx)
{
    k_matmul_bwd(c->batch, c->s[0].d[0], c->s[0].d[1], c->s[1].d[0], c->s[1].d[1], c->ta, c->tb,
                 c->x[0], c->x[1], dy, dx[0], dx[1]);
}

/* The largest |y - exact| of a batched matmul over gamma_{K} * sum_k |a b|,
 * on every row_step-th row: <= 1 whatever the kernel. */
static double matmul_forward_error(const gcase *c, int M, int K, int N, int row_step)
{
    double worst = 0;
    for (int b = 0; b < c->batch; b++)
        for (int i = 0; i < M; i += row_step)
            for (int j = 0; j < N; j++) {
                double s = 0, S = 0;
                for (int k = 0; k < K; k++) {
                    size_t ai = c->ta ? (size_t)k * M + i : (size_t)i * K + k;
                    size_t bi = c->tb ? (size_t)j * K + k : (size_t)k * N + j;
                    double t = (double)c->x[0][(size_t)b * M * K + ai] * c->x[1][(size_t)b * K * N + bi];
                    s += t;
                    S += fabs(t);
                }
                worst = fmax(worst, fabs(s - c->y[(size_t)b * M * N + (size_t)i * N + j]) / (gamma_n(K) * S + 1e-30));
            }
    return worst;
}

TEST(matmul)
{
    int M = 4, K = 5, N = 3;
    for (int batch = 1; batch <= 3; batch += 2)
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) {
                gcase c;
                char name[96];
                snprintf(name, sizeof name, "matmul batch %d ta %d tb %d", batch, ta, tb);
                gc_init(&c, name, 2, (size_t)batch * M * N);
                c.batch = batch; c.ta = ta; c.tb = tb;
                c.s[0] = ta ? S2(K, M) : S2(M, K);
                c.s[1] = tb ? S2(N, K) : S2(K, N);
                c.fwd = matmul_fwd;
                c.bwd = matmul_bwd;
                gc_input(&c, 0, (size_t)batch * M * K, -1, 1);
                gc_input(&c, 1, (size_t)batch * K * N, -1, 1);
                c.sum_len = M + N + K;
                matmul_fwd(&c);
                double worst = matmul_forward_error(&c, M, K, N, 1);
                CHECK_MSG(worst <= 1.0, "%s: forward off by %g times its error bound", name, worst);
                gradcheck(&c);
                gc_free(&c);
            }
}

static void trisolve_fwd(gcase *c) { k_trisolve_fwd(c->batch, c->N, c->M, c->x[0], c->x[1], c->y); }
static void trisolve_bwd(gcase *c, const float *dy, float **dx)
{
    k_trisolve_bwd(c->batch, c->N, c->M, c->x[0], c->y, dy, dx[0], dx[1]);
}

TEST(matmul_large)
{
    /* matrices too big for the batch-parallel path: tiled GEMMs per batch */
    int batch = 2, M = 130, K = 140, N = 150;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            gcase c;
            char name[96];
            snprintf(name, sizeof name, "matmul large ta %d tb %d", ta, tb);
            gc_init(&c, name, 2, (size_t)batch * M * N);
            c.batch = batch; c.ta = ta; c.tb = tb;
            c.s[0] = ta ? S2(K, M) : S2(M, K);
            c.s[1] = tb ? S2(N, K) : S2(K, N);
            c.fwd = matmul_fwd;
            c.bwd = matmul_bwd;
            gc_input(&c, 0, (size_t)batch * M * K, -1, 1);
            gc_input(&c, 1, (size_t)batch * K * N, -1, 1);
            c.sum_len = M + N + K;
            matmul_fwd(&c);
            double worst = matmul_forward_error(&c, M, K, N, 7);
            CHECK_MSG(worst <= 1.0, "%s: forward off by %g times its error bound", name, worst);
            gradcheck(&c);
            gc_free(&c);
        }
}

TEST(trisolve)
{
    int batch = 2, n = 6, m = 3;
    gcase c;
    gc_init(&c, "trisolve", 2, (size_t)batch * n * m);
    c.batch = batch; c.N = n; c.M = m;
    c.fwd = trisolve_fwd;
    c.bwd = trisolve_bwd;
    gc_input(&c, 0, (size_t)batch * n * n, -0.5f, 0.5f);
    gc_input(&c, 1, (size_t)batch * n * m, -1, 1);
    /* diagonal and upper part are ignored: fill them with junk */
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) c.x[0][(b * n + i) * n + j] = 7.0f + i - j;
    gradcheck(&c);

    /* (I + L) X = B with NaN on the diagonal and above (never read) */
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) c.x[0][(b * n + i) * n + j] = NAN;
    trisolve_fwd(&c);
    double worst = 0;
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                double s = c.y[(b * n + i) * m + j];
                for (int k = 0; k < i; k++) s += (double)c.x[0][(b * n + i) * n + k] * c.y[(b * n + k) * m + j];
                worst = fmax(worst, fabs(s - c.x[1][(b * n + i) * m + j]));
            }
    CHECK_MSG(worst < 1e-5, "trisolve residual %g", worst);
    /* the backward does not read them either, nor write there */
    float *dy = rnd_buf(c.ny, -1, 1), *dA = zeros(c.n[0]), *dB = zeros(c.n[1]);
    trisolve_bwd(&c, dy, (float *[]){dA, dB});
    int finite = 1, upper_zero = 1;
    for (size_t i = 0; i < c.n[0]; i++) finite &= isfinite(dA[i]) != 0;
    for (size_t i = 0; i < c.n[1]; i++) finite &= isfinite(dB[i]) != 0;
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) upper_zero &= dA[(b * n + i) * n + j] == 0.0f;
    CHECK(finite);
    CHECK(upper_zero);
    free(dy); free(dA); free(dB);
    gc_free(&c);
}

/* ---- normalisation ---------------------------------------------------------------------------- */

static void rmsnorm_fwd(gcase *c) { k_rmsnorm_fwd(c->M, c->N, c->x[0], c->x[1], c->y, c->saved); }
static void rmsnorm_bwd(gcase *c, const float *dy, float **dx)
{
    k_rmsnorm_bwd(c->M, c->N, c->x[0], c->x[1], c->saved, dy, dx[0], dx[1]);
}
static void layernorm_fwd(gcase *c) { k_layernorm_fwd(c->M, c->N, c->x[0], c->x[1], c->x[2], c->y, c->saved); }
static void layernorm_bwd(gcase *c, const float *dy, float **dx)
{
    k_layernorm_bwd(c->M, c->N, c->x[0], c->x[1], c->saved, dy, dx[0], dx[1], dx[2]);
}
static void l2norm_fwd(gcase *c) { k_l2norm_fwd(c->M, c->N, c->x[0], c->y, c->saved); }
static void l2norm_bwd(gcase *c, const float *dy, float **dx)
{
    k_l2norm_bwd(c->M, c->N, c->x[0], c->y, c->saved, dy, dx[0]);
}
static void gated_fwd(gcase *c)
{
    k_gated_rmsnorm_fwd(c->mode, c->M, c->N, c->x[0], c->x[1], c->x[2], c->y, c->saved);
}
static void gated_bwd(gcase *c, const float *dy, float **dx)
{
    k_gated_rmsnorm_bwd(c->mode, c->M, c->N, c->x[0], c->x[1], c->x[2], c->saved, dy, dx[0], dx[1], dx[2]);
}

TEST(norms)
{
    int dims[] = {10, 40};
    for (int di = 0; di < 2; di++) {
        int rows = 6, D = dims[di];
        size_t n = (size_t)rows * D;
        char name[96];
        gcase c;

        snprintf(name, sizeof name, "rmsnorm D=%d", D);
        gc_init(&c, name, 2, n);
        c.M = rows; c.N = D; c.saved = zeros(rows);
        c.fwd = rmsnorm_fwd; c.bwd = rmsnorm_bwd;
        gc_input(&c, 0, n, -2, 2);
        gc_input(&c, 1, D, 0.5f, 1.5f);
        gradcheck(&c);
        /* y = x / rms(x) * w */
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)c.x[0][i] * c.x[0][i];
        CHECK_NEAR(c.y[1], c.x[0][1] / sqrt(ss / D + 1e-6) * c.x[1][1], 1e-5);
        gc_free(&c);

        snprintf(name, sizeof name, "layernorm D=%d", D);
        gc_init(&c, name, 3, n);
        c.M = rows; c.N = D; c.saved = zeros(2 * rows);
        c.fwd = layernorm_fwd; c.bwd = layernorm_bwd;
        gc_input(&c, 0, n, -2, 2);
        gc_input(&c, 1, D, 0.5f, 1.5f);
        gc_input(&c, 2, D, -0.5f, 0.5f);
        gradcheck(&c);
        /* with w = 1, b = 0 each row has mean 0 and variance ~1 */
        for (int i = 0; i < D; i++) { c.x[1][i] = 1; c.x[2][i] = 0; }
        layernorm_fwd(&c);
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += c.y[i];
        mu /= D;
        for (int i = 0; i < D; i++) var += (c.y[i] - mu) * (c.y[i] - mu);
        CHECK_NEAR(mu, 0.0, 1e-6);
        CHECK_NEAR(var / D, 1.0, 1e-4);
        gc_free(&c);

        snprintf(name, sizeof name, "l2norm D=%d", D);
        gc_init(&c, name, 1, n);
        c.M = rows; c.N = D; c.saved = zeros(rows);
        c.fwd = l2norm_fwd; c.bwd = l2norm_bwd;
        gc_input(&c, 0, n, -2, 2);
        gradcheck(&c);
        double nrm = 0;
        for (int i = 0; i < D; i++) nrm += (double)c.y[i] * c.y[i];
        CHECK_NEAR(nrm, 1.0, 1e-5);
        gc_free(&c);

        for (int mode = 0; mode <= 1; mode++) {
            snprintf(name, sizeof name, "gated rmsnorm mode %d D=%d", mode, D);
            gc_init(&c, name, 3, n);
            c.M = rows; c.N = D; c.mode = mode; c.saved = zeros(rows);
            c.fwd = gated_fwd; c.bwd = gated_bwd;
            gc_input(&c, 0, n, -2, 2);
            gc_input(&c, 1, n, -3, 3);
            gc_input(&c, 2, D, 0.5f, 1.5f);
            gradcheck(&c);
            /* against the composition of the plain ops */
            float *ref = zeros(n), *z = zeros(n), *sg = zeros(n), *rs = zeros(rows);
            k_unary_fwd(AA_OP_SILU, 0, 0, n, c.x[1], sg);
            if (mode == 0) {
                k_rmsnorm_fwd(rows, D, c.x[0], c.x[2], z, rs);
                for (size_t i = 0; i < n; i++) ref[i] = z[i] * sg[i];
            } else {
                for (size_t i = 0; i < n; i++) z[i] = c.x[0][i] * sg[i];
                k_rmsnorm_fwd(rows, D, z, c.x[2], ref, rs);
            }
            size_t at = 0;
            double e = test_max_rel_err(c.y, ref, n, 1e-3, &at);
            CHECK_MSG(e < 1e-5, "%s: differs from rmsnorm and silu at %zu (%g)", name, at, e);
            free(ref); free(z); free(sg); free(rs);
            gc_free(&c);
        }
    }
}

/* ---- convolution ------------------------------------------------------------------------------ */

static void conv_fwd(gcase *c) { k_conv_fwd(c->B, c->T, c->C, c->K, c->x[0], c->x[1], c->y); }
static void conv_bwd(gcase *c, const float *dy, float **dx)
{
    k_conv_bwd(c->B, c->T, c->C, c->K, c->x[0], c->x[1], dy, dx[0], dx[1]);
}

TEST(conv)
{
    struct { int B, T, C, K; } cases[] = {
        {2, 9, 5, 1}, {2, 9, 5, 2}, {2, 9, 5, 3}, {2, 9, 5, 4}, {2, 9, 5, 7}, {1, 5, 3, 8},
        {2, 150, 70, 4}, {1, 140, 20, 64},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        int B = cases[k].B, T = cases[k].T, C = cases[k].C, K = cases[k].K;
        size_t n = (size_t)B * T * C;
        gcase c;
        char name[96];
        snprintf(name, sizeof name, "conv B=%d T=%d C=%d K=%d", B, T, C, K);
        gc_init(&c, name, 2, n);
        c.B = B; c.T = T; c.C = C; c.K = K;
        c.fwd = conv_fwd; c.bwd = conv_bwd;
        gc_input(&c, 0, n, -1, 1);
        gc_input(&c, 1, (size_t)C * K, -1, 1);
        /* forward against the definition */
        conv_fwd(&c);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int ch = 0; ch < C; ch++) {
                    double s = 0;
                    for (int j = 0; j < K; j++) {
                        int src = t - K + 1 + j;
                        if (src >= 0) s += (double)c.x[1][ch * K + j] * c.x[0][((size_t)b * T + src) * C + ch];
                    }
                    worst = fmax(worst, fabs(s - c.y[((size_t)b * T + t) * C + ch]));
                }
        CHECK_MSG(worst < 1e-5, "%s: forward off by %g", name, worst);
        gradcheck(&c);

        /* a Dirac filter (last tap 1) is the identity */
        memset(c.x[1], 0, (size_t)C * K * sizeof(float));
        for (int ch = 0; ch < C; ch++) c.x[1][ch * K + K - 1] = 1.0f;
        conv_fwd(&c);
        CHECK_MSG(memcmp(c.y, c.x[0], n * sizeof(float)) == 0, "%s: Dirac filter is not the identity", name);
        gc_free(&c);
    }
}

/* ---- training ops ------------------------------------------------------------------------------- */

static void embed_fwd(gcase *c) { k_embed_fwd(c->M, c->N, c->ids, c->x[0], c->y); }
static void embed_bwd(gcase *c, const float *dy, float **dx) { k_embed_bwd(c->M, c->N, c->V, c->ids, dy, dx[0]); }

TEST(embed)
{
    int n = 12, D = 70, V = 9;
    gcase c;
    gc_init(&c, "embed", 1, (size_t)n * D);
    c.M = n; c.N = D; c.V = V;
    c.ids = malloc(n * sizeof *c.ids);
    for (int i = 0; i < n; i++) c.ids[i] = (int32_t)(i * 5 % 7); /* repeats; rows 7, 8 unused */
    c.fwd = embed_fwd; c.bwd = embed_bwd;
    gc_input(&c, 0, (size_t)V * D, -1, 1);
    gradcheck(&c);
    embed_fwd(&c);
    CHECK(memcmp(c.y + 3 * D, c.x[0] + (size_t)c.ids[3] * D, D * sizeof(float)) == 0);
    /* out-of-range ids are skipped by the scatter */
    float *dt = zeros((size_t)V * D), *dy = rnd_buf((size_t)n * D, -1, 1);
    c.ids[0] = -1;
    c.ids[1] = V;
    k_embed_bwd(n, D, V, c.ids, dy, dt);
    CHECK(isfinite(dt[0]));
    free(dt); free(dy);
    gc_free(&c);
}

static void xent_fwd(gcase *c) { c->y[0] = k_xent_fwd(c->M, c->V, c->x[0], c->ids, c->saved); }
static void xent_bwd(gcase *c, const float *dy, float **dx) { k_xent_bwd(c->M, c->V, c->saved, c->ids, dy[0], dx[0]); }

TEST(xent)
{
    int n = 8, V = 50;
    gcase c;
    gc_init(&c, "xent", 1, 1);
    c.M = n; c.V = V;
    c.ids = malloc(n * sizeof *c.ids);
    c.saved = zeros((size_t)n * V);
    for (int i = 0; i < n; i++) c.ids[i] = (int32_t)(rnd_u32() % V);
    c.ids[2] = -1;
    c.ids[5] = -1;
    c.fwd = xent_fwd; c.bwd = xent_bwd;
    c.h = 3e-2;
    gc_input(&c, 0, (size_t)n * V, -3, 3);
    gradcheck(&c);
    /* ignored rows get no gradient */
    float *dl = zeros((size_t)n * V);
    xent_fwd(&c);
    k_xent_bwd(n, V, c.saved, c.ids, 1.0f, dl);
    int zero = 1;
    for (int i = 0; i < V; i++) zero &= dl[2 * V + i] == 0.0f && dl[5 * V + i] == 0.0f;
    CHECK(zero);
    /* each counted row's gradient sums to zero */
    double s = 0;
    for (int i = 0; i < V; i++) s += dl[i];
    CHECK_NEAR(s, 0.0, 1e-6);
    free(dl);
    /* uniform logits: loss = log V; against a direct computation otherwise */
    for (size_t i = 0; i < c.n[0]; i++) c.x[0][i] = 0.25f;
    CHECK_NEAR(k_xent_fwd(n, V, c.x[0], c.ids, NULL), logf((float)V), 1e-5);
    gc_free(&c);

    float logits[] = {1.0f, 2.0f, 3.0f, 1000.0f, 0.0f, -1000.0f};
    int32_t tg[] = {2, 0};
    double l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0, l1 = 0.0;
    CHECK_NEAR(k_xent_fwd(2, 3, logits, tg, NULL), (l0 + l1) / 2, 1e-6);
    int32_t none[] = {-1, -1};
    CHECK(k_xent_fwd(2, 3, logits, none, NULL) == 0.0f);
}

TEST(adamw)
{
    k_adamw h = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f, .step = 1};
    float p[2] = {1.0f, 1.0f}, g[2] = {0.5f, 0.5f}, m[2] = {0}, v[2] = {0};
    k_adamw_update(&h, 1, p, g, m, v, 1);      /* decayed */
    k_adamw_update(&h, 1, p + 1, g, m + 1, v + 1, 0); /* not decayed */
    /* step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25 -> update 0.1 * 0.5 / 0.5 */
    /* (float arithmetic: 1 - 0.999f is 0.001 only to ~1e-5 relative) */
    CHECK_NEAR(m[0], 0.05, 1e-7);
    CHECK_NEAR(v[0], 0.00025, 1e-8);
    CHECK_NEAR(p[0], 1.0 * (1 - 0.01) - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6);
    CHECK_NEAR(p[1], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6);

    /* step 2 against a double-precision transcription of torch.optim.AdamW */
    double P = p[0], M = m[0], Vv = v[0], G = -0.3;
    g[0] = (float)G;
    h.step = 2;
    k_adamw_update(&h, 1, p, g, m, v, 1);
    P *= 1 - 0.1 * 0.1;
    M = 0.9 * M + 0.1 * G;
    Vv = 0.999 * Vv + 0.001 * G * G;
    double mhat = M / (1 - 0.9 * 0.9), vhat = Vv / (1 - 0.999 * 0.999);
    P -= 0.1 * mhat / (sqrt(vhat) + 1e-8);
    CHECK_NEAR(p[0], P, 1e-6);
    CHECK_NEAR(m[0], M, 1e-7);
    CHECK_NEAR(v[0], Vv, 1e-5 * Vv);
}

TEST(sumsq_scale)
{
    size_t n = 100003;
    float *x = rnd_buf(n, -1, 1);
    double ref = 0;
    for (size_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    CHECK_NEAR(k_sumsq(n, x), ref, 1e-9 * ref);
    CHECK(k_sumsq(0, x) == 0.0);
    float x0 = x[7];
    k_scale_inplace(n, x, 0.5f);
    CHECK(x[7] == x0 * 0.5f);
    free(x);
    CHECK(k_numel(&(k_shape){3, {2, 3, 4, 99}}) == 24);
    CHECK(k_numel(&(k_shape){0, {5, 5, 5, 5}}) == 1);
}

/* ---- thread-count independence ------------------------------------------------------------------- */

/* Each runner computes a set of outputs from fixed inputs into out. */
typedef void (*runner)(float *out);
enum { BIG_ROWS = 512, BIG_D = 128 };
static float *g_x, *g_y, *g_w, *g_g;
static int32_t *g_ids;

static void run_binary_bwd(float *out)
{
    k_shape sa = S3(8, 64, BIG_D), sb = S3(1, 1, BIG_D), sh = S4(4, 4, 32, BIG_D), sc = S4(1, 4, 1, 1);
    memset(out, 0, 3 * BIG_D * sizeof(float));
    k_binary_bwd(AA_OP_MUL, &sa, g_x, &sb, g_w, &sa, g_y, NULL, out);
    k_binary_bwd(AA_OP_DIV, &sh, g_x, &sc, g_w, &sh, g_y, NULL, out + BIG_D);
    k_binary_bwd(AA_OP_ADD, &sb, NULL, &sa, NULL, &sa, g_y, out + 2 * BIG_D, NULL);
}

static void run_reduce(float *out)
{
    k_shape s = S3(16, 32, BIG_D);
    float *dx = zeros(16 * 32 * BIG_D);
    k_reduce_fwd(AA_OP_MEAN, &s, 1, g_x, out);
    k_reduce_fwd(AA_OP_SOFTMAX, &s, 2, g_x, dx);
    k_reduce_bwd(AA_OP_CUMSUM, &s, 1, g_x, NULL, g_y, dx);
    memcpy(out + 16 * BIG_D, dx, 64 * sizeof(float));
    free(dx);
}

static void run_norms(float *out)
{
    size_t n = (size_t)BIG_ROWS * BIG_D;
    float *y = zeros(n), *st = zeros(2 * BIG_ROWS), *dx = zeros(n), *dg = zeros(n);
    memset(out, 0, 4 * BIG_D * sizeof(float));
    k_rmsnorm_fwd(BIG_ROWS, BIG_D, g_x, g_w, y, st);
    k_rmsnorm_bwd(BIG_ROWS, BIG_D, g_x, g_w, st, g_y, dx, out);
    k_layernorm_fwd(BIG_ROWS, BIG_D, g_x, g_w, g_w, y, st);
    k_layernorm_bwd(BIG_ROWS, BIG_D, g_x, g_w, st, g_y, dx, out + BIG_D, out + 2 * BIG_D);
    k_gated_rmsnorm_fwd(1, BIG_ROWS, BIG_D, g_x, g_g, g_w, y, st);
    k_gated_rmsnorm_bwd(1, BIG_ROWS, BIG_D, g_x, g_g, g_w, st, g_y, dx, dg, out + 3 * BIG_D);
    out[0] += dx[77] + dg[12345];
    free(y); free(st); free(dx); free(dg);
}

static void run_conv(float *out)
{
    int B = 4, T = 128, C = BIG_D, K = 4;
    memset(out, 0, (size_t)C * 7 * sizeof(float));
    float *dx = zeros((size_t)B * T * C);
    k_conv_bwd(B, T, C, K, g_x, g_w, g_y, dx, out);
    k_conv_bwd(B, T, C, 3, g_x, g_w, g_y, dx, out + C * K);
    out[0] += dx[1000];
    free(dx);
}

static void run_train_ops(float *out)
{
    int V = 64;
    memset(out, 0, (size_t)V * BIG_D * sizeof(float));
    k_embed_bwd(BIG_ROWS, BIG_D, V, g_ids, g_y, out);
    float *probs = zeros((size_t)BIG_ROWS * BIG_D);
    out[0] += k_xent_fwd(BIG_ROWS, BIG_D, g_x, g_ids, probs);
    out[1] += (float)k_sumsq((size_t)BIG_ROWS * BIG_D, g_x);
    free(probs);
}

static void run_linalg(float *out)
{
    int M = BIG_ROWS, K = BIG_D, N = 96;
    memset(out, 0, ((size_t)N * K + N) * sizeof(float));
    k_linear_bwd(M, K, N, g_x, g_w, g_y, NULL, out, out + (size_t)N * K);
    float *C = zeros(32 * 32 * 32), *dA = zeros(16 * 64 * 64);
    k_matmul_fwd(32, 32, 64, 32, 64, 0, 1, g_x, g_y, C); /* 32 x [32,64] [32,64]^T */
    k_trisolve_bwd(16, 64, 32, g_g, g_x, g_y, dA, NULL);
    out[0] += C[4321] + dA[12345];
    free(C);
    free(dA);
}

TEST(thread_count_independence)
{
    size_t n = (size_t)BIG_ROWS * BIG_D;
    g_x = rnd_buf(n, -2, 2);
    g_y = rnd_buf(n, -1, 1);
    g_w = rnd_buf(n, 0.5f, 1.5f);
    g_g = rnd_buf(n, -0.2f, 0.2f);
    g_ids = malloc(BIG_ROWS * sizeof *g_ids);
    for (int i = 0; i < BIG_ROWS; i++) g_ids[i] = (int32_t)(rnd_u32() % 64);
    struct { const char *name; runner fn; size_t nout; } runs[] = {
        {"binary_bwd", run_binary_bwd, 3 * BIG_D}, {"reduce", run_reduce, 16 * BIG_D + 64},
        {"norms", run_norms, 4 * BIG_D},           {"conv", run_conv, BIG_D * 7},
        {"train_ops", run_train_ops, 64 * BIG_D},  {"linalg", run_linalg, 96 * BIG_D + 96},
    };
    int saved_threads = omp_get_max_threads();
    for (int r = 0; r < (int)(sizeof runs / sizeof runs[0]); r++) {
        float *ref = zeros(runs[r].nout), *out = zeros(runs[r].nout);
        omp_set_num_threads(1);
        runs[r].fn(ref);
        for (int nt = 2; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            runs[r].fn(out);
            CHECK_MSG(memcmp(ref, out, runs[r].nout * sizeof(float)) == 0,
                      "%s: %d threads differ from 1", runs[r].name, nt);
        }
        free(ref);
        free(out);
    }
    omp_set_num_threads(saved_threads);
    free(g_x); free(g_y); free(g_w); free(g_g); free(g_ids);
}

int main(void)
{
    RUN(unary_grad);
    RUN(unary_values);
    RUN(binary_grad_and_broadcast);
    RUN(binary_null_grads);
    RUN(reduce_grad);
    RUN(reduce_values);
    RUN(mask);
    RUN(permute);
    RUN(slice);
    RUN(expand);
    RUN(linear);
    RUN(matmul);
    RUN(gemm_tiles);
    RUN(matmul_large);
    RUN(trisolve);
    RUN(norms);
    RUN(conv);
    RUN(embed);
    RUN(xent);
    RUN(adamw);
    RUN(sumsq_scale);
    RUN(thread_count_independence);
    return test_summary();
}
