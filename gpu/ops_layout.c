/*
 * ops_layout.c — launchers of the broadcasting binary ops
 * (kernels/cuda/binary.cu) and of the layout kernels (kernels/cuda/layout.cu):
 * permute, slice, expand, triangular mask, add.
 *
 * The shapes are turned into strides here, once per call, so that the
 * kernels do the least index arithmetic per element: a binary op's
 * broadcast is merged into as few dimensions as possible, as the CPU's
 * plan (kernels/elementwise.c) merges it, and a permute that moves x's last
 * axis goes through shared-memory tiles.
 */
#include <stdint.h>

#include "asiarch.h"
#include "binary.h"
#include "gpu.h"
#include "gpu_internal.h"
#include "layout.h"

static const gpu_kernel kern_binary_fwd = {"binary.cu", "aak_binary_fwd", NULL};
static const gpu_kernel kern_binary_bwd_full = {"binary.cu", "aak_binary_bwd_full", NULL};
static const gpu_kernel kern_binary_bwd_reduce = {"binary.cu", "aak_binary_bwd_reduce", NULL};
static const gpu_kernel kern_binary_parts = {"binary.cu", "aak_binary_parts", NULL};
static const gpu_kernel kern_strided_copy = {"layout.cu", "aak_strided_copy", NULL};
static const gpu_kernel kern_transpose = {"layout.cu", "aak_transpose", NULL};
static const gpu_kernel kern_slice = {"layout.cu", "aak_slice", NULL};
static const gpu_kernel kern_mask = {"layout.cu", "aak_mask", NULL};
static const gpu_kernel kern_add_into = {"layout.cu", "aak_add_into", NULL};

/* Blocks that keep every SM of a large GPU busy (132 SMs x 8 blocks of 256
 * threads on an H100): below this, a broadcast reduction splits its sums. */
#define TARGET_BLOCKS 1024
/* Terms each lane sums at least per split, so that a split pays for its
 * partial sum. */
#define MIN_TERMS_PER_LANE 32

/* The kernels index in 32 bits: every tensor has fewer than 2^31 elements. */
static int check_size(gpu_dev *d, const char *who, size_t n)
{
    if (n <= INT32_MAX) return 0;
    gpu_fail(d, "%s: %zu elements: the GPU kernels take fewer than 2^31", who, n);
    return -1;
}

static int check_rank(gpu_dev *d, const char *who, const k_shape *s)
{
    if (s->rank < 0 || s->rank > K_MAX_RANK) {
        gpu_fail(d, "%s: rank %d (at most %d)", who, s->rank, K_MAX_RANK);
        return -1;
    }
    for (int i = 0; i < s->rank; i++)
        if (s->d[i] < 0) {
            gpu_fail(d, "%s: extent %d along axis %d", who, s->d[i], i);
            return -1;
        }
    return 0;
}

/* x broadcasts to y: same rank, each extent of x 1 or y's. */
static int check_broadcast(gpu_dev *d, const char *who, const k_shape *sx, const k_shape *sy)
{
    if (check_rank(d, who, sx) || check_rank(d, who, sy)) return -1;
    if (sx->rank != sy->rank) {
        gpu_fail(d, "%s: rank %d does not broadcast to rank %d", who, sx->rank, sy->rank);
        return -1;
    }
    for (int i = 0; i < sy->rank; i++)
        if (sx->d[i] != 1 && sx->d[i] != sy->d[i]) {
            gpu_fail(d, "%s: extent %d does not broadcast to %d along axis %d", who, sx->d[i], sy->d[i], i);
            return -1;
        }
    return check_size(d, who, k_numel(sy));
}

/* ---- binary ops ------------------------------------------------------------------- */

/* The iteration space of y as make_plan of kernels/elementwise.c builds it:
 * extents of 1 dropped, adjacent dimensions merged where a and b both
 * broadcast the same way; each operand contiguous over the dimensions it
 * keeps. Left-aligned (dimension 0 outermost); nd 0 for one element. */
typedef struct bin_plan {
    int nd;
    int n[K_MAX_RANK], sa[K_MAX_RANK], sb[K_MAX_RANK], sy[K_MAX_RANK];
} bin_plan;

static bin_plan make_plan(const k_shape *ka, const k_shape *kb, const k_shape *ky)
{
    bin_plan p = {0};
    int bca[K_MAX_RANK], bcb[K_MAX_RANK];
    for (int i = 0; i < ky->rank; i++) {
        int e = ky->d[i], ba = ka->d[i] == 1, bb = kb->d[i] == 1, m = p.nd;
        if (e == 1) continue;
        if (m > 0 && bca[m - 1] == ba && bcb[m - 1] == bb) {
            p.n[m - 1] *= e;
            continue;
        }
        p.n[m] = e;
        bca[m] = ba;
        bcb[m] = bb;
        p.nd++;
    }
    int ra = 1, rb = 1, ry = 1;
    for (int i = p.nd - 1; i >= 0; i--) {
        p.sa[i] = bca[i] ? 0 : ra;
        p.sb[i] = bcb[i] ? 0 : rb;
        p.sy[i] = ry;
        if (!bca[i]) ra *= p.n[i];
        if (!bcb[i]) rb *= p.n[i];
        ry *= p.n[i];
    }
    return p;
}

/* The dimensions of p along which stride is 0 (zero = 1) or not (zero = 0),
 * as a walk (right-aligned, binary.h); *count the elements it covers. */
static aak_walk walk_of(const bin_plan *p, const int *stride, int zero, long long *count)
{
    aak_walk w = {0};
    int dims[K_MAX_RANK];
    *count = 1;
    for (int i = 0; i < p->nd; i++)
        if ((stride[i] == 0) == zero) dims[w.nd++] = i;
    for (int k = 0; k < w.nd; k++) {
        int i = dims[k], at = AAK_BIN_DIMS - w.nd + k;
        w.n[at] = p->n[i];
        w.sa[at] = p->sa[i];
        w.sb[at] = p->sb[i];
        w.sy[at] = p->sy[i];
        *count *= p->n[i];
    }
    return w;
}

static aak_walk walk_all(const bin_plan *p)
{
    static const int none[K_MAX_RANK] = {1, 1, 1, 1};   /* every dimension "nonzero" */
    long long count;
    return walk_of(p, none, 0, &count);
}

static int check_binary(gpu_dev *d, const char *who, int op, const k_shape *sa, const k_shape *sb, const k_shape *sy)
{
    if (op < AA_OP_ADD || op > AA_OP_DIV) {
        gpu_fail(d, "%s: unknown binary op %d", who, op);
        return -1;
    }
    return check_broadcast(d, who, sa, sy) || check_broadcast(d, who, sb, sy) ? -1 : 0;
}

int gpu_binary_fwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b, const k_shape *sy,
                   gpu_ptr y)
{
    if (check_binary(d, "binary forward", op, sa, sb, sy)) return -1;
    size_t n = k_numel(sy);
    if (!n) return 0;
    bin_plan plan = make_plan(sa, sb, sy);
    aak_binary_args p = {.op = op, .n = (long long)n, .all = walk_all(&plan), .a = GPU_CF(a), .b = GPU_CF(b),
                         .out = GPU_F(y)};
    return gpu_launch(d, &kern_binary_fwd, gpu_grid_for(n), &p, sizeof p);
}

static int pow2_at_least(long long n, int cap)
{
    int l = 1;
    while (l < n && l < cap) l *= 2;
    return l;
}

/* gx += the gradient of a broadcast operand (a when wrt_b = 0): sums over
 * the axes it broadcasts along (binary.h). */
static int binary_bwd_reduce(gpu_dev *d, int op, int wrt_b, const bin_plan *plan, gpu_ptr a, gpu_ptr b, gpu_ptr dy,
                             gpu_ptr gx)
{
    const int *sx = wrt_b ? plan->sb : plan->sa;
    aak_binary_reduce_args p = {.op = op, .wrt_b = wrt_b, .a = GPU_CF(a), .b = GPU_CF(b), .dy = GPU_CF(dy),
                                .gx = GPU_F(gx)};
    p.kept = walk_of(plan, sx, 0, &p.kept_n);
    p.summed = walk_of(plan, sx, 1, &p.summed_n);
    /* x broadcast along y's last axis: lanes read runs of dy; else the j
     * of a block do, AAK_BLOCK / 8 = 32 of them (a warp's line). */
    p.lanes_fast = plan->nd > 0 && sx[plan->nd - 1] == 0;
    p.lanes = pow2_at_least(p.summed_n, p.lanes_fast ? GPU_BLOCK : 8);
    long long per = GPU_BLOCK / p.lanes, tiles = (p.kept_n + per - 1) / per;
    long long splits = 1;
    if (tiles < TARGET_BLOCKS) {
        long long by_work = p.summed_n / ((long long)p.lanes * MIN_TERMS_PER_LANE);
        splits = (TARGET_BLOCKS + tiles - 1) / tiles;
        if (splits > by_work) splits = by_work;
        if (splits > 65535) splits = 65535;   /* grid.y */
        if (splits < 1) splits = 1;
    }
    p.chunk = (p.summed_n + splits - 1) / splits;
    splits = (p.summed_n + p.chunk - 1) / p.chunk;   /* none empty */
    gpu_grid grid = gpu_grid_for((size_t)tiles * GPU_BLOCK);
    grid.blocks_y = (unsigned)splits;
    if (splits == 1) return gpu_launch(d, &kern_binary_bwd_reduce, grid, &p, sizeof p);

    gpu_ptr part = gpu_alloc(d, (size_t)splits * (size_t)p.kept_n * sizeof(double));
    if (!part) return -1;
    p.part = (double *)(uintptr_t)part;
    aak_binary_parts_args q = {.n = p.kept_n, .parts = (int)splits, .part = p.part, .gx = GPU_F(gx)};
    int rc = gpu_launch(d, &kern_binary_bwd_reduce, grid, &p, sizeof p) ||
             gpu_launch(d, &kern_binary_parts, gpu_grid_for((size_t)p.kept_n), &q, sizeof q);
    gpu_free(d, part);   /* one stream: a later user of the block runs after these kernels */
    return rc ? -1 : 0;
}

/* gx += the gradient of operand a (wrt_b = 0) or b, of shape sx. */
static int binary_bwd_one(gpu_dev *d, int op, int wrt_b, const bin_plan *plan, const k_shape *sx, size_t ny,
                          gpu_ptr a, gpu_ptr b, gpu_ptr dy, gpu_ptr gx)
{
    if (!gx) return 0;
    if (k_numel(sx) != ny) return binary_bwd_reduce(d, op, wrt_b, plan, a, b, dy, gx);
    aak_binary_args p = {.op = op, .wrt_b = wrt_b, .n = (long long)ny, .all = walk_all(plan), .a = GPU_CF(a),
                         .b = GPU_CF(b), .dy = GPU_CF(dy), .out = GPU_F(gx)};
    return gpu_launch(d, &kern_binary_bwd_full, gpu_grid_for(ny), &p, sizeof p);
}

int gpu_binary_bwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b,
                   const k_shape *sy, gpu_ptr dy, gpu_ptr da, gpu_ptr db)
{
    if (check_binary(d, "binary backward", op, sa, sb, sy)) return -1;
    size_t ny = k_numel(sy);
    if (!ny || (!da && !db)) return 0;
    bin_plan plan = make_plan(sa, sb, sy);
    return binary_bwd_one(d, op, 0, &plan, sa, ny, a, b, dy, da) ||
                   binary_bwd_one(d, op, 1, &plan, sb, ny, a, b, dy, db)
               ? -1
               : 0;
}

/* ---- permute and expand ---------------------------------------------------------------- */

/* y [yd] (contiguous) = or += x read with stride st[k] along axis k of y. */
static int copy_strided(gpu_dev *d, const int yd[4], const int st[4], gpu_ptr x, gpu_ptr y, int accumulate)
{
    size_t n = (size_t)yd[0] * yd[1] * yd[2] * yd[3];
    if (!n) return 0;
    aak_copy_args p = {.accumulate = accumulate, .n = (long long)n, .x = GPU_CF(x), .y = GPU_F(y)};
    for (int k = 0; k < 4; k++) {
        p.yd[k] = yd[k];
        p.st[k] = st[k];
    }
    return gpu_launch(d, &kern_strided_copy, gpu_grid_for(n), &p, sizeof p);
}

/* The same through tiles (aak_transpose), x contiguous along axis v < 3 of y. */
static int copy_transposed(gpu_dev *d, const int yd[4], const int st[4], int v, gpu_ptr x, gpu_ptr y, int accumulate)
{
    int ys[4], o[2], m = 0;
    ys[3] = 1;
    for (int k = 2; k >= 0; k--) ys[k] = ys[k + 1] * yd[k + 1];
    for (int k = 0; k < 3; k++)
        if (k != v) o[m++] = k;
    long long tiles = (long long)yd[o[0]] * yd[o[1]] * ((yd[v] + AAK_TILE - 1) / AAK_TILE) *
                      ((yd[3] + AAK_TILE - 1) / AAK_TILE);
    aak_transpose_args p = {.accumulate = accumulate, .nv = yd[v], .nu = yd[3], .n1 = yd[o[1]], .xs_u = st[3],
                            .ys_v = ys[v], .xs0 = st[o[0]], .xs1 = st[o[1]], .ys0 = ys[o[0]], .ys1 = ys[o[1]],
                            .tiles = tiles, .x = GPU_CF(x), .y = GPU_F(y)};
    return gpu_launch(d, &kern_transpose, gpu_grid_for((size_t)tiles * GPU_BLOCK), &p, sizeof p);
}

int gpu_permute(gpu_dev *d, const k_shape *sx, const int *perm, gpu_ptr x, gpu_ptr y, int accumulate)
{
    if (check_rank(d, "permute", sx) || check_size(d, "permute", k_numel(sx))) return -1;
    int seen = 0;
    for (int i = 0; i < sx->rank; i++) {
        if (perm[i] < 0 || perm[i] >= sx->rank || ((seen >> perm[i]) & 1)) {
            gpu_fail(d, "permute: axis %d of a rank-%d permutation is %d", i, sx->rank, perm[i]);
            return -1;
        }
        seen |= 1 << perm[i];
    }
    /* Pad to rank 4 with leading axes of extent 1, as k_permute. */
    int pad = K_MAX_RANK - sx->rank, xd[4], xs[4], yd[4], st[4];
    for (int i = 0; i < 4; i++) xd[i] = i < pad ? 1 : sx->d[i - pad];
    xs[3] = 1;
    for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * xd[i + 1];
    for (int i = 0; i < 4; i++) {
        int from = i < pad ? i : perm[i - pad] + pad;
        yd[i] = xd[from];
        st[i] = xs[from];
    }
    /* Where y's rows stride through x, x's own rows (the one axis v of
     * extent > 1 with stride 1) are read through tiles instead. */
    if (yd[3] > 1 && st[3] != 1)
        for (int v = 0; v < 3; v++)
            if (st[v] == 1 && yd[v] > 1) return copy_transposed(d, yd, st, v, x, y, accumulate);
    return copy_strided(d, yd, st, x, y, accumulate);
}

int gpu_expand_fwd(gpu_dev *d, const k_shape *sx, gpu_ptr x, const k_shape *sy, gpu_ptr y)
{
    if (check_broadcast(d, "expand", sx, sy)) return -1;
    int pad = K_MAX_RANK - sy->rank, xd[4], yd[4], st[4], s = 1;
    for (int i = 0; i < 4; i++) {
        xd[i] = i < pad ? 1 : sx->d[i - pad];
        yd[i] = i < pad ? 1 : sy->d[i - pad];
    }
    for (int i = 3; i >= 0; i--) {
        st[i] = xd[i] == 1 && yd[i] != 1 ? 0 : s;   /* stride 0 repeats x along the axis */
        s *= xd[i];
    }
    return copy_strided(d, yd, st, x, y, 0);
}

/* As k_expand_bwd: the reduction of the first operand of a broadcasting add,
 * which reads neither operand. */
int gpu_expand_bwd(gpu_dev *d, const k_shape *sx, const k_shape *sy, gpu_ptr dy, gpu_ptr dx)
{
    if (check_broadcast(d, "expand backward", sx, sy)) return -1;
    return dx ? gpu_binary_bwd(d, AA_OP_ADD, sx, 0, sy, 0, sy, dy, dx, 0) : 0;
}

/* ---- slice -------------------------------------------------------------------------------- */

/* forward: y = x's window; backward: x's window += y. */
static int slice_move(gpu_dev *d, const char *who, const k_shape *sx, int axis, int start, int len, gpu_ptr src,
                      gpu_ptr dst, int backward)
{
    if (check_rank(d, who, sx) || check_size(d, who, k_numel(sx))) return -1;
    if (axis < 0) axis += sx->rank;
    if (axis < 0 || axis >= sx->rank || start < 0 || len < 0 || start > sx->d[axis] - len) {
        gpu_fail(d, "%s: window [%d, %d + %d) along axis %d of a rank-%d tensor", who, start, start, len, axis,
                 sx->rank);
        return -1;
    }
    long long outer = 1, inner = 1;
    for (int i = 0; i < sx->rank; i++) {
        if (i < axis) outer *= sx->d[i];
        if (i > axis) inner *= sx->d[i];
    }
    aak_slice_args p = {.backward = backward, .n = outer * len * inner, .block = (long long)len * inner,
                        .span = sx->d[axis] * inner, .first = start * inner, .src = GPU_CF(src), .dst = GPU_F(dst)};
    return p.n ? gpu_launch(d, &kern_slice, gpu_grid_for((size_t)p.n), &p, sizeof p) : 0;
}

int gpu_slice_fwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr x, gpu_ptr y)
{
    return slice_move(d, "slice", sx, axis, start, len, x, y, 0);
}

int gpu_slice_bwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr dy, gpu_ptr dx)
{
    return dx ? slice_move(d, "slice backward", sx, axis, start, len, dy, dx, 1) : 0;
}

/* ---- mask, add ------------------------------------------------------------------------------ */

int gpu_mask(gpu_dev *d, int upper, int diagonal, const k_shape *s, gpu_ptr x, gpu_ptr y, int accumulate)
{
    if (check_rank(d, "mask", s) || check_size(d, "mask", k_numel(s))) return -1;
    int R = s->rank >= 2 ? s->d[s->rank - 2] : 1, C = s->rank >= 1 ? s->d[s->rank - 1] : 1;
    size_t n = k_numel(s);
    if (R <= 0 || C <= 0 || !n) return 0;
    aak_mask_args p = {.upper = upper, .diagonal = diagonal, .accumulate = accumulate, .R = R, .C = C,
                       .n = (long long)n, .x = GPU_CF(x), .y = GPU_F(y)};
    return gpu_launch(d, &kern_mask, gpu_grid_for(n), &p, sizeof p);
}

int gpu_add_into(gpu_dev *d, size_t n, gpu_ptr src, gpu_ptr dst)
{
    if (!n) return 0;
    if (check_size(d, "add", n)) return -1;
    aak_add_args p = {.n = (long long)n, .x = GPU_CF(src), .y = GPU_F(dst)};
    return gpu_launch(d, &kern_add_into, gpu_grid_for(n), &p, sizeof p);
}
