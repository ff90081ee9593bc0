/*
 * test_gpu_layout.c — the broadcasting binary ops (kernels/cuda/binary.cu)
 * and the layout kernels (kernels/cuda/layout.cu) against the CPU kernels
 * they mirror, forward and backward, through the launchers of
 * gpu/ops_layout.c on the emulated device (gpu_emu.h).
 *
 * Tolerances, from error bounds (u = 2^-24, a float's unit roundoff):
 *  - data movement (permute, slice, expand forward, mask, and their
 *    accumulating forms: one float add) is exact on both sides: 0;
 *  - a binary op forward is one IEEE operation on both sides: 0;
 *  - a gradient element is gx + sum of n terms dy * slope, each term the
 *    same float product on both sides; both sum in double (differing only
 *    in order: n 2^-53 relative to the sum of |terms|), round to float
 *    (u) and add to gx (u), and the GPU may contract the one-term form into
 *    an FMA: |GPU - CPU| <= (4u + n 2^-52) (|gx| + sum |terms|), with sum
 *    |terms| from the CPU kernel itself run on |a|, |b|, |dy|.
 */
#include <stdint.h>
#include <stdlib.h>

#include "asiarch.h"
#include "binary.h"
#include "gpu_emu.h"
#include "kernels.h"
#include "layout.h"
#include "test.h"

#define BLOCK 256   /* AAK_BLOCK of kernels/cuda/aak.h: the kernels' block size */

static gpu_dev *dev;

static float *copy_of(const float *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    if (n) memcpy(y, x, n * sizeof *y);
    return y;
}

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static float *abs_of(const float *x, size_t n)
{
    float *y = copy_of(x, n);
    for (size_t i = 0; i < n; i++) y[i] = fabsf(y[i]);
    return y;
}

static k_shape shape(int rank, int d0, int d1, int d2, int d3)
{
    k_shape s = {rank, {d0, d1, d2, d3}};
    return s;
}

static const char *shape_str(const k_shape *s, char *buf, size_t len)
{
    int at = snprintf(buf, len, "[");
    for (int i = 0; i < s->rank; i++) at += snprintf(buf + at, len - (size_t)at, i ? ",%d" : "%d", s->d[i]);
    snprintf(buf + at, len - (size_t)at, "]");
    return buf;
}

/* Every |got - ref| <= tol[i] (tol NULL: exactly equal); reports the first
 * element that is not. */
static int within(gpu_ptr got_dev, const float *ref, const double *tol, size_t n)
{
    float *got = malloc((n ? n : 1) * sizeof *got);
    int ok = gpu_download(dev, got, got_dev, n * sizeof *got) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        double e = fabs((double)got[i] - ref[i]), t = tol ? tol[i] : 0.0;
        if (!(e <= t)) {
            fprintf(stderr, "element %zu: got %.9g, want %.9g (|diff| %.3g > %.3g)\n", i, got[i], ref[i], e, t);
            ok = 0;
        }
    }
    free(got);
    return ok;
}

/* The bound of the header for gradients: gx0 the gradient before, mag the
 * sum of |terms| per element, n terms each. */
static double *grad_tol(const float *gx0, const float *mag, size_t count, size_t n_terms)
{
    double *t = malloc((count ? count : 1) * sizeof *t);
    const double u = 1.0 / 16777216.0;
    for (size_t i = 0; i < count; i++)
        t[i] = (4 * u + (double)n_terms * 0x1p-52) * (fabs((double)gx0[i]) + fabs((double)mag[i]));
    return t;
}

/* ---- binary ops -------------------------------------------------------------------------- */

typedef struct bcase { k_shape a, b, y; } bcase;

/* Every broadcast pattern the graph produces, ranks 1-4, extents not
 * multiples of the block; the last ones are large enough that the
 * reductions split their sums over grid.y (ops_layout.c). */
static const bcase binary_cases[] = {
    {{3, {3, 5, 7}}, {3, {3, 5, 7}}, {3, {3, 5, 7}}},           /* same shapes */
    {{3, {2, 17, 37}}, {3, {1, 1, 37}}, {3, {2, 17, 37}}},      /* [B,T,C] op [1,1,C] */
    {{3, {1, 1, 37}}, {3, {2, 17, 37}}, {3, {2, 17, 37}}},      /* ... on the other side */
    {{3, {2, 17, 37}}, {3, {2, 17, 1}}, {3, {2, 17, 37}}},      /* [B,T,C] op [B,T,1] */
    {{3, {2, 17, 37}}, {3, {1, 1, 1}}, {3, {2, 17, 37}}},       /* scalar */
    {{3, {1, 1, 1}}, {3, {3, 9, 11}}, {3, {3, 9, 11}}},
    {{3, {3, 1, 29}}, {3, {1, 13, 1}}, {3, {3, 13, 29}}},       /* both sides broadcast */
    {{3, {1, 1, 1}}, {3, {1, 1, 1}}, {3, {1, 1, 1}}},           /* one element */
    {{1, {300}}, {1, {1}}, {1, {300}}},                         /* rank 1 */
    {{1, {300}}, {1, {300}}, {1, {300}}},
    {{2, {13, 29}}, {2, {13, 1}}, {2, {13, 29}}},               /* rank 2 */
    {{2, {1, 29}}, {2, {13, 29}}, {2, {13, 29}}},
    {{4, {2, 3, 5, 7}}, {4, {2, 1, 5, 1}}, {4, {2, 3, 5, 7}}},  /* rank 4 */
    {{4, {1, 3, 1, 7}}, {4, {2, 3, 5, 7}}, {4, {2, 3, 5, 7}}},
    {{4, {2, 1, 5, 7}}, {4, {2, 1, 1, 7}}, {4, {2, 1, 5, 7}}},  /* an extent-1 axis of y */
    {{4, {2, 3, 1, 1}}, {4, {1, 1, 4, 6}}, {4, {2, 3, 4, 6}}},
    {{3, {8, 64, 24}}, {3, {1, 1, 24}}, {3, {8, 64, 24}}},      /* split sums: columns */
    {{3, {4, 64, 72}}, {3, {1, 1, 1}}, {3, {4, 64, 72}}},       /* split sums: a scalar */
};

static const char *op_name(int op)
{
    static const char *names[] = {"?", "add", "sub", "mul", "div"};
    return op >= AA_OP_ADD && op <= AA_OP_DIV ? names[op] : "?";
}

/* DIV divides by b: keep it away from 0. */
static float *operand(size_t n, int is_b, int op, uint64_t seed)
{
    return is_b && op == AA_OP_DIV ? gpu_test_randoms(n, 0.5f, 2.0f, seed) : gpu_test_randoms(n, -2.0f, 2.0f, seed);
}

TEST(binary_forward_matches_the_cpu)
{
    for (size_t c = 0; c < sizeof binary_cases / sizeof *binary_cases; c++)
        for (int op = AA_OP_ADD; op <= AA_OP_DIV; op++) {
            const bcase *k = &binary_cases[c];
            size_t na = k_numel(&k->a), nb = k_numel(&k->b), ny = k_numel(&k->y);
            float *a = operand(na, 0, op, 10 * c + 1), *b = operand(nb, 1, op, 10 * c + 2), *y = zeros(ny);
            k_binary_fwd(op, &k->a, a, &k->b, b, &k->y, y);
            gpu_ptr ga = gpu_emu_put(dev, a, na), gb = gpu_emu_put(dev, b, nb), gy = gpu_alloc(dev, ny * sizeof(float));
            char sa[64], sb[64];
            CHECK(gpu_binary_fwd(dev, op, &k->a, ga, &k->b, gb, &k->y, gy) == 0);
            CHECK_MSG(within(gy, y, NULL, ny), "%s %s %s forward", shape_str(&k->a, sa, 64), op_name(op),
                      shape_str(&k->b, sb, 64));
            gpu_free(dev, ga); gpu_free(dev, gb); gpu_free(dev, gy);
            free(a); free(b); free(y);
        }
}

/* The backward with both gradients, only da, only db; the gradients start
 * random (accumulation). ADD and SUB get no operands at all (they must not
 * read them). */
static void check_binary_bwd(const bcase *k, int op, int want_a, int want_b, uint64_t seed)
{
    size_t na = k_numel(&k->a), nb = k_numel(&k->b), ny = k_numel(&k->y);
    float *a = operand(na, 0, op, seed + 1), *b = operand(nb, 1, op, seed + 2), *dy = gpu_test_randoms(ny, -1, 1, seed + 3);
    float *da = gpu_test_randoms(na, -1, 1, seed + 4), *db = gpu_test_randoms(nb, -1, 1, seed + 5);
    float *da0 = copy_of(da, na), *db0 = copy_of(db, nb);
    /* sum |terms| per element: the same kernel on magnitudes (every term then
     * has one sign; DIV's db terms are all negative) */
    float *aa = abs_of(a, na), *ab = abs_of(b, nb), *ady = abs_of(dy, ny), *ma = zeros(na), *mb = zeros(nb);
    k_binary_bwd(op, &k->a, aa, &k->b, ab, &k->y, ady, ma, mb);
    k_binary_bwd(op, &k->a, a, &k->b, b, &k->y, dy, want_a ? da : NULL, want_b ? db : NULL);

    int reads = op == AA_OP_MUL || op == AA_OP_DIV;
    gpu_ptr ga = reads ? gpu_emu_put(dev, a, na) : 0, gb = reads ? gpu_emu_put(dev, b, nb) : 0;
    gpu_ptr gdy = gpu_emu_put(dev, dy, ny);
    gpu_ptr gda = want_a ? gpu_emu_put(dev, da0, na) : 0, gdb = want_b ? gpu_emu_put(dev, db0, nb) : 0;
    char sa[64], sb[64];
    shape_str(&k->a, sa, 64);
    shape_str(&k->b, sb, 64);
    CHECK_MSG(gpu_binary_bwd(dev, op, &k->a, ga, &k->b, gb, &k->y, gdy, gda, gdb) == 0, "%s", gpu_error(dev));
    if (want_a) {
        double *tol = grad_tol(da0, ma, na, ny / na);
        CHECK_MSG(within(gda, da, tol, na), "%s %s %s backward, da", sa, op_name(op), sb);
        free(tol);
    }
    if (want_b) {
        double *tol = grad_tol(db0, mb, nb, ny / nb);
        CHECK_MSG(within(gdb, db, tol, nb), "%s %s %s backward, db", sa, op_name(op), sb);
        free(tol);
    }
    gpu_free(dev, ga); gpu_free(dev, gb); gpu_free(dev, gdy); gpu_free(dev, gda); gpu_free(dev, gdb);
    free(a); free(b); free(dy); free(da); free(db); free(da0); free(db0);
    free(aa); free(ab); free(ady); free(ma); free(mb);
}

TEST(binary_backward_matches_the_cpu)
{
    for (size_t c = 0; c < sizeof binary_cases / sizeof *binary_cases; c++)
        for (int op = AA_OP_ADD; op <= AA_OP_DIV; op++) {
            uint64_t seed = 1000 + 40 * c + 10 * (uint64_t)op;
            check_binary_bwd(&binary_cases[c], op, 1, 1, seed);
            check_binary_bwd(&binary_cases[c], op, 1, 0, seed);
            check_binary_bwd(&binary_cases[c], op, 0, 1, seed);
        }
    /* no gradient wanted: nothing to do, nothing read */
    k_shape s = shape(2, 4, 5, 0, 0);
    long before = gpu_emu_launches();
    CHECK(gpu_binary_bwd(dev, AA_OP_MUL, &s, 0, &s, 0, &s, 0, 0, 0) == 0);
    CHECK(gpu_emu_launches() == before);
}

/* A broadcast operand's gradient is the same, bit for bit, on any grid: the
 * kernels' order depends on the shapes only. [R, C] -> [1, C] and -> [R, 1]
 * by hand (binary.h), on grids of 1, 3 and many blocks. */
TEST(binary_reductions_do_not_depend_on_the_grid)
{
    const int R = 70, C = 45;
    float *dy = gpu_test_randoms((size_t)R * C, -1, 1, 7);
    gpu_ptr gdy = gpu_emu_put(dev, dy, (size_t)R * C);
    static const gpu_kernel reduce = {"binary.cu", "aak_binary_bwd_reduce", NULL};
    for (int rows = 0; rows <= 1; rows++) {   /* 0: column sums [1, C]; 1: row sums [R, 1] */
        aak_binary_reduce_args p = {.op = AA_OP_ADD, .dy = (const float *)(uintptr_t)gdy};
        p.kept.nd = p.summed.nd = 1;
        p.kept.n[3] = rows ? R : C;
        p.kept.sy[3] = rows ? C : 1;
        p.kept.sa[3] = 1;
        p.summed.n[3] = rows ? C : R;
        p.summed.sy[3] = rows ? 1 : C;
        p.kept_n = p.kept.n[3];
        p.summed_n = p.chunk = p.summed.n[3];
        p.lanes_fast = rows;
        p.lanes = rows ? 64 : 8;
        float first[128], got[128];
        for (int blocks = 1, trial = 0; trial < 3; trial++, blocks *= 3) {
            gpu_ptr gx = gpu_alloc(dev, (size_t)p.kept_n * sizeof(float));
            CHECK(gpu_zero(dev, gx, (size_t)p.kept_n) == 0);
            p.gx = (float *)(uintptr_t)gx;
            gpu_grid grid = {.blocks_x = (unsigned)blocks, .blocks_y = 1, .threads = BLOCK};
            CHECK(gpu_launch(dev, &reduce, grid, &p, sizeof p) == 0);
            CHECK(gpu_download(dev, trial ? got : first, gx, (size_t)p.kept_n * sizeof(float)) == 0);
            if (trial) CHECK_MSG(memcmp(first, got, (size_t)p.kept_n * sizeof(float)) == 0, "%d blocks", blocks);
            gpu_free(dev, gx);
        }
        /* and the sums are right */
        float *ref = zeros((size_t)p.kept_n);
        k_shape sy = shape(2, R, C, 0, 0), sx = rows ? shape(2, R, 1, 0, 0) : shape(2, 1, C, 0, 0);
        k_binary_bwd(AA_OP_ADD, &sx, NULL, &sy, NULL, &sy, dy, ref, NULL);
        float *ad = abs_of(dy, (size_t)R * C), *mag = zeros((size_t)p.kept_n), *z = zeros((size_t)p.kept_n);
        k_binary_bwd(AA_OP_ADD, &sx, NULL, &sy, NULL, &sy, ad, mag, NULL);
        for (int j = 0; j < p.kept_n; j++) {
            double *tol = grad_tol(z + j, mag + j, 1, (size_t)p.summed_n);
            CHECK_NEAR(first[j], ref[j], tol[0]);
            free(tol);
        }
        free(ref); free(ad); free(mag); free(z);
    }
    gpu_free(dev, gdy);
    free(dy);
}

/* ---- permute --------------------------------------------------------------------------------- */

static void check_permute(k_shape sx, const int *perm, uint64_t seed)
{
    size_t n = k_numel(&sx);
    float *x = gpu_test_randoms(n, -1, 1, seed), *y = gpu_test_randoms(n, -1, 1, seed + 1), *y0 = copy_of(y, n);
    char s[64];
    shape_str(&sx, s, 64);
    gpu_ptr gx = gpu_emu_put(dev, x, n);
    for (int acc = 0; acc <= 1; acc++) {
        float *ref = copy_of(y0, n);
        k_permute(&sx, perm, x, ref, acc);
        gpu_ptr gy = gpu_emu_put(dev, y0, n);
        CHECK_MSG(gpu_permute(dev, &sx, perm, gx, gy, acc) == 0, "%s", gpu_error(dev));
        CHECK_MSG(within(gy, ref, NULL, n), "permute %s by (%d %d %d %d) accumulate %d", s, perm[0],
                  sx.rank > 1 ? perm[1] : -1, sx.rank > 2 ? perm[2] : -1, sx.rank > 3 ? perm[3] : -1, acc);
        gpu_free(dev, gy);
        free(ref);
    }
    gpu_free(dev, gx);
    free(x); free(y); free(y0);
}

TEST(permute_matches_the_cpu)
{
    /* every permutation of rank 3, extents past a tile (32) and not multiples of it */
    static const int p3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int i = 0; i < 6; i++) {
        check_permute(shape(3, 3, 37, 45, 0), p3[i], 10 + i);
        check_permute(shape(3, 4, 1, 9, 0), p3[i], 20 + i);   /* an extent-1 axis */
    }
    static const int p4[][4] = {{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 2, 1, 0}, {1, 3, 0, 2},
                                {0, 2, 3, 1}, {2, 0, 3, 1}, {0, 1, 2, 3}};
    for (size_t i = 0; i < sizeof p4 / sizeof *p4; i++) check_permute(shape(4, 2, 5, 33, 7), p4[i], 30 + i);
    static const int t2[2] = {1, 0}, id2[2] = {0, 1}, id1[1] = {0};
    check_permute(shape(2, 70, 41, 0, 0), t2, 40);
    check_permute(shape(2, 70, 41, 0, 0), id2, 41);
    check_permute(shape(2, 1, 41, 0, 0), t2, 42);
    check_permute(shape(1, 300, 0, 0, 0), id1, 43);
}

TEST(transpose_does_not_depend_on_the_grid)
{
    /* [5, 40, 70] -> [5, 70, 40] through the tiled kernel, by hand, on 1 and 7 blocks */
    const int A = 5, R = 40, C = 70;
    size_t n = (size_t)A * R * C;
    float *x = gpu_test_randoms(n, -1, 1, 50), *ref = zeros(n);
    static const int perm[3] = {0, 2, 1};
    k_shape sx = shape(3, A, R, C, 0);
    k_permute(&sx, perm, x, ref, 0);
    gpu_ptr gx = gpu_emu_put(dev, x, n), gy = gpu_alloc(dev, n * sizeof(float));
    static const gpu_kernel transpose = {"layout.cu", "aak_transpose", NULL};
    /* y axes (1, A, C, R): v = 2 (x's rows), o = (0, 1) */
    aak_transpose_args p = {.nv = C, .nu = R, .n1 = A, .xs_u = C, .ys_v = R, .xs0 = 0, .xs1 = R * C, .ys0 = 0,
                            .ys1 = R * C, .tiles = (long long)A * 3 * 2,
                            .x = (const float *)(uintptr_t)gx, .y = (float *)(uintptr_t)gy};
    for (unsigned blocks = 1; blocks <= 7; blocks += 6) {
        CHECK(gpu_zero(dev, gy, n) == 0);
        gpu_grid grid = {.blocks_x = blocks, .blocks_y = 1, .threads = BLOCK};
        CHECK(gpu_launch(dev, &transpose, grid, &p, sizeof p) == 0);
        CHECK_MSG(within(gy, ref, NULL, n), "%u blocks", blocks);
    }
    gpu_free(dev, gx); gpu_free(dev, gy);
    free(x); free(ref);
}

/* ---- slice ---------------------------------------------------------------------------------- */

static void check_slice(k_shape sx, int axis, int start, int len, uint64_t seed)
{
    size_t nx = k_numel(&sx), ny = nx / (size_t)sx.d[axis < 0 ? axis + sx.rank : axis] * (size_t)len;
    float *x = gpu_test_randoms(nx, -1, 1, seed), *y = zeros(ny), *dy = gpu_test_randoms(ny, -1, 1, seed + 1);
    float *dx = gpu_test_randoms(nx, -1, 1, seed + 2), *dx0 = copy_of(dx, nx);
    char s[64];
    shape_str(&sx, s, 64);
    k_slice_fwd(&sx, axis, start, len, x, y);
    k_slice_bwd(&sx, axis, start, len, dy, dx);
    gpu_ptr gx = gpu_emu_put(dev, x, nx), gdx = gpu_emu_put(dev, dx0, nx);
    gpu_ptr gy = ny ? gpu_alloc(dev, ny * sizeof(float)) : 0, gdy = ny ? gpu_emu_put(dev, dy, ny) : 0;
    CHECK_MSG(gpu_slice_fwd(dev, &sx, axis, start, len, gx, gy) == 0, "%s", gpu_error(dev));
    CHECK_MSG(gpu_slice_bwd(dev, &sx, axis, start, len, gdy, gdx) == 0, "%s", gpu_error(dev));
    CHECK_MSG(within(gy, y, NULL, ny), "slice %s axis %d [%d, +%d) forward", s, axis, start, len);
    CHECK_MSG(within(gdx, dx, NULL, nx), "slice %s axis %d [%d, +%d) backward", s, axis, start, len);
    CHECK(gpu_slice_bwd(dev, &sx, axis, start, len, gdy, 0) == 0);   /* no gradient wanted */
    gpu_free(dev, gx); gpu_free(dev, gdx); gpu_free(dev, gy); gpu_free(dev, gdy);
    free(x); free(y); free(dy); free(dx); free(dx0);
}

TEST(slice_matches_the_cpu)
{
    k_shape s3 = shape(3, 4, 6, 35, 0);
    for (int axis = -1; axis < 3; axis++) {
        int n = s3.d[axis < 0 ? 2 : axis];
        check_slice(s3, axis, 0, n, 60 + axis);       /* the whole axis */
        check_slice(s3, axis, 1, 2, 70 + axis);
        check_slice(s3, axis, n - 1, 1, 80 + axis);   /* the last index */
        check_slice(s3, axis, n / 2, 0, 90 + axis);   /* empty */
    }
    check_slice(shape(1, 300, 0, 0, 0), 0, 17, 200, 100);
    k_shape s4 = shape(4, 2, 3, 5, 7);
    for (int axis = 0; axis < 4; axis++) check_slice(s4, axis, 1, s4.d[axis] - 2 > 0 ? s4.d[axis] - 2 : 1, 110 + axis);
}

/* ---- expand ---------------------------------------------------------------------------------- */

TEST(expand_matches_the_cpu)
{
    static const k_shape cases[][2] = {
        {{3, {1, 1, 37}}, {3, {2, 17, 37}}},      /* [1,1,C] */
        {{3, {2, 17, 1}}, {3, {2, 17, 37}}},      /* [B,T,1] */
        {{3, {1, 1, 1}}, {3, {2, 17, 37}}},       /* scalar */
        {{3, {2, 1, 37}}, {3, {2, 17, 37}}},      /* [B,1,C] */
        {{3, {1, 17, 1}}, {3, {2, 17, 37}}},      /* [1,T,1] */
        {{3, {2, 17, 37}}, {3, {2, 17, 37}}},     /* nothing to broadcast */
        {{1, {1}}, {1, {50}}},
        {{2, {13, 1}}, {2, {13, 29}}},
        {{4, {2, 1, 3, 1}}, {4, {2, 4, 3, 5}}},
        {{4, {1, 4, 1, 5}}, {4, {2, 4, 3, 5}}},
        {{3, {1, 1, 24}}, {3, {8, 64, 24}}},      /* a split sum */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const k_shape *sx = &cases[c][0], *sy = &cases[c][1];
        size_t nx = k_numel(sx), ny = k_numel(sy);
        float *x = gpu_test_randoms(nx, -1, 1, 200 + c), *y = zeros(ny), *dy = gpu_test_randoms(ny, -1, 1, 300 + c);
        float *dx = gpu_test_randoms(nx, -1, 1, 400 + c), *dx0 = copy_of(dx, nx);
        float *ady = abs_of(dy, ny), *mag = zeros(nx);
        char a[64], b[64];
        shape_str(sx, a, 64);
        shape_str(sy, b, 64);
        k_expand_fwd(sx, x, sy, y);
        k_expand_bwd(sx, sy, dy, dx);
        k_expand_bwd(sx, sy, ady, mag);
        gpu_ptr gx = gpu_emu_put(dev, x, nx), gy = gpu_alloc(dev, ny * sizeof(float));
        gpu_ptr gdy = gpu_emu_put(dev, dy, ny), gdx = gpu_emu_put(dev, dx0, nx);
        CHECK(gpu_expand_fwd(dev, sx, gx, sy, gy) == 0);
        CHECK(gpu_expand_bwd(dev, sx, sy, gdy, gdx) == 0);
        CHECK(gpu_expand_bwd(dev, sx, sy, gdy, 0) == 0);   /* no gradient wanted */
        double *tol = grad_tol(dx0, mag, nx, ny / nx);
        CHECK_MSG(within(gy, y, NULL, ny), "expand %s to %s forward", a, b);
        CHECK_MSG(within(gdx, dx, tol, nx), "expand %s to %s backward", a, b);
        gpu_free(dev, gx); gpu_free(dev, gy); gpu_free(dev, gdy); gpu_free(dev, gdx);
        free(x); free(y); free(dy); free(dx); free(dx0); free(ady); free(mag); free(tol);
    }
}

/* ---- mask, add -------------------------------------------------------------------------------- */

TEST(mask_matches_the_cpu)
{
    static const k_shape shapes[] = {{3, {2, 7, 9}}, {2, {9, 7}}, {2, {1, 6}}, {1, {8}}, {4, {2, 2, 5, 5}}};
    static const int diagonals[] = {-100, -3, -1, 0, 1, 2, 100};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int upper = 0; upper <= 1; upper++)
            for (size_t di = 0; di < sizeof diagonals / sizeof *diagonals; di++)
                for (int acc = 0; acc <= 2; acc++) {   /* 2: in place (x is y) */
                    const k_shape *s = &shapes[si];
                    int diag = diagonals[di];
                    size_t n = k_numel(s);
                    uint64_t seed = 500 + 100 * si + 10 * di + (uint64_t)acc + 5 * (uint64_t)upper;
                    float *x = gpu_test_randoms(n, -1, 1, seed), *y = gpu_test_randoms(n, -1, 1, seed + 1000), *ref = copy_of(y, n);
                    gpu_ptr gx = gpu_emu_put(dev, x, n), gy = acc == 2 ? gx : gpu_emu_put(dev, y, n);
                    if (acc == 2) {
                        memcpy(ref, x, n * sizeof *ref);
                        k_mask(upper, diag, s, ref, ref, 0);
                    } else {
                        k_mask(upper, diag, s, x, ref, acc);
                    }
                    CHECK(gpu_mask(dev, upper, diag, s, gx, gy, acc == 1) == 0);
                    char b[64];
                    CHECK_MSG(within(gy, ref, NULL, n), "mask %s upper %d diagonal %d mode %d",
                              shape_str(s, b, 64), upper, diag, acc);
                    gpu_free(dev, gx);
                    if (acc != 2) gpu_free(dev, gy);
                    free(x); free(y); free(ref);
                }
}

TEST(add_into_adds)
{
    const size_t n = 1000;
    float *x = gpu_test_randoms(n, -1, 1, 600), *y = gpu_test_randoms(n, -1, 1, 601), *ref = copy_of(y, n);
    for (size_t i = 0; i < n; i++) ref[i] += x[i];
    gpu_ptr gx = gpu_emu_put(dev, x, n), gy = gpu_emu_put(dev, y, n);
    CHECK(gpu_add_into(dev, n, gx, gy) == 0);
    CHECK(within(gy, ref, NULL, n));
    CHECK(gpu_add_into(dev, 0, gx, gy) == 0);
    gpu_free(dev, gx); gpu_free(dev, gy);
    free(x); free(y); free(ref);
}

/* ---- errors ----------------------------------------------------------------------------------- */

TEST(bad_arguments_fail_with_a_reason)
{
    k_shape a = shape(2, 3, 4, 0, 0), b = shape(2, 3, 5, 0, 0), r3 = shape(3, 3, 4, 1, 0);
    k_shape big = shape(2, 65536, 65536, 0, 0);   /* 2^32 elements */
    CHECK(gpu_binary_fwd(dev, AA_OP_ADD, &a, 0, &b, 0, &a, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "does not broadcast");
    CHECK(gpu_binary_fwd(dev, AA_OP_ADD, &a, 0, &r3, 0, &a, 0) == -1);
    CHECK(gpu_binary_fwd(dev, 9, &a, 0, &a, 0, &a, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "unknown binary op");
    CHECK(gpu_binary_bwd(dev, AA_OP_ADD, &big, 0, &big, 0, &big, 0, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "2^31");
    static const int twice[3] = {0, 0, 1}, out_of_range[2] = {0, 2};
    CHECK(gpu_permute(dev, &r3, twice, 0, 0, 0) == -1);
    CHECK(gpu_permute(dev, &a, out_of_range, 0, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "permute");
    CHECK(gpu_slice_fwd(dev, &a, 1, 3, 2, 0, 0) == -1);
    CHECK(gpu_slice_fwd(dev, &a, 2, 0, 1, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "window");
    CHECK(gpu_expand_fwd(dev, &b, 0, &a, 0) == -1);
}

int main(void)
{
    dev = gpu_test_open();
    long launches = gpu_emu_launches();
    RUN(binary_forward_matches_the_cpu);
    RUN(binary_backward_matches_the_cpu);
    RUN(binary_reductions_do_not_depend_on_the_grid);
    RUN(permute_matches_the_cpu);
    RUN(transpose_does_not_depend_on_the_grid);
    RUN(slice_matches_the_cpu);
    RUN(expand_matches_the_cpu);
    RUN(mask_matches_the_cpu);
    RUN(add_into_adds);
    RUN(bad_arguments_fail_with_a_reason);
    if (!gpu_test_is_real()) CHECK(gpu_emu_launches() > launches);   /* the work went through the kernels */
    gpu_close(dev);
    return test_summary();
}
