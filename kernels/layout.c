/*
 * layout.c — permute, slice, broadcast (expand): pure data movement.
 *
 * Permute and expand are one "strided copy": y is walked in order, rows of
 * its last axis at a time, reading x through a stride per axis of y (0 on a
 * broadcast axis). A row whose x stride is 1 is a memcpy — that covers the
 * head split/merge [B,T,H,D] <-> [B,H,T,D], whose rows are whole head
 * vectors. A swap of the last two axes, where a row would stride through x,
 * goes through cache-sized tiles instead.
 */
#include <string.h>

#include <omp.h>

#include "asiarch.h"
#include "kernels.h"

#define PAR_MIN 32768
#define BLK 4096      /* elements per task in slice */
#define TT 32         /* transpose tile edge */

/* This thread's share [*r0, *r1) of n rows under a static split. */
static void thread_range(size_t n, size_t *r0, size_t *r1)
{
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    *r0 = n * t / nt;
    *r1 = n * (t + 1) / nt;
}

/* y (contiguous, extents yd) = or += x read with stride st[i] along axis i of y. */
static void strided_copy(const size_t yd[4], const size_t st[4], const float *x, float *y,
                         int accumulate)
{
    size_t inner = yd[3], rows = yd[0] * yd[1] * yd[2], s3 = st[3];
    if (rows == 0 || inner == 0) return;
#pragma omp parallel if (rows * inner >= PAR_MIN)
    {
        size_t r0, r1;
        thread_range(rows, &r0, &r1);
        /* Walk the rows with an incremented multi-index: a division per row
         * would cost as much as copying a short row. */
        size_t i0 = r0 / (yd[1] * yd[2]), i1 = r0 / yd[2] % yd[1], i2 = r0 % yd[2];
        for (size_t r = r0; r < r1; r++) {
            const float *xr = x + i0 * st[0] + i1 * st[1] + i2 * st[2];
            float *yr = y + r * inner;
            if (s3 == 1 && !accumulate) {
                memcpy(yr, xr, inner * sizeof *yr);
            } else if (s3 == 1) {
#pragma omp simd
                for (size_t j = 0; j < inner; j++) yr[j] += xr[j];
            } else if (!accumulate) {
                for (size_t j = 0; j < inner; j++) yr[j] = xr[j * s3];
            } else {
                for (size_t j = 0; j < inner; j++) yr[j] += xr[j * s3];
            }
            if (++i2 == yd[2]) {
                i2 = 0;
                if (++i1 == yd[1]) { i1 = 0; i0++; }
            }
        }
    }
}

/* Planes of x [R, C] (plane p at x + pbase(p)) transposed into y [C, R]
 * (contiguous planes), TT x TT tiles at a time. */
static void transpose_planes(size_t planes, size_t yd1, const size_t st[4], size_t R, size_t C,
                             const float *x, float *y, int accumulate)
{
    size_t tr = (R + TT - 1) / TT, tc = (C + TT - 1) / TT, tasks = planes * tr * tc;
#pragma omp parallel for schedule(static) if (planes * R * C >= PAR_MIN)
    for (size_t t = 0; t < tasks; t++) {
        size_t p = t / (tr * tc), r0 = (t / tc % tr) * TT, c0 = (t % tc) * TT;
        size_t r1 = r0 + TT < R ? r0 + TT : R, c1 = c0 + TT < C ? c0 + TT : C;
        const float *xp = x + p / yd1 * st[0] + p % yd1 * st[1];
        float *yp = y + p * R * C;
        for (size_t c = c0; c < c1; c++) {
            float *yr = yp + c * R;
            if (accumulate)
                for (size_t r = r0; r < r1; r++) yr[r] += xp[r * C + c];
            else
                for (size_t r = r0; r < r1; r++) yr[r] = xp[r * C + c];
        }
    }
}

void k_permute(const k_shape *sx, const int *perm, const float *x, float *y, int accumulate)
{
    /* Pad to rank 4 with leading axes of extent 1 (which stay in place). */
    int pad = K_MAX_RANK - sx->rank, p4[4];
    size_t xd[4], xs[4], yd[4], st[4];
    for (int i = 0; i < 4; i++) xd[i] = i < pad ? 1 : (size_t)sx->d[i - pad];
    xs[3] = 1;
    for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * xd[i + 1];
    for (int i = 0; i < 4; i++) {
        p4[i] = i < pad ? i : perm[i - pad] + pad;
        yd[i] = xd[p4[i]];
        st[i] = xs[p4[i]];
    }
    if (p4[2] == 3 && p4[3] == 2 && xd[2] > 1 && xd[3] > 1)
        transpose_planes(yd[0] * yd[1], yd[1], st, xd[2], xd[3], x, y, accumulate);
    else
        strided_copy(yd, st, x, y, accumulate);
}

/* ---- slice ---------------------------------------------------------------------- */

/* x viewed as [outer, n, inner] around axis: the window is, per outer index,
 * one contiguous block of len*inner floats. */
static void slice_view(const k_shape *sx, int axis, size_t *outer, size_t *n, size_t *inner)
{
    if (axis < 0) axis += sx->rank;
    *outer = *n = *inner = 1;
    for (int i = 0; i < sx->rank; i++) {
        if (i < axis) *outer *= (size_t)sx->d[i];
        else if (i == axis) *n = (size_t)sx->d[i];
        else *inner *= (size_t)sx->d[i];
    }
}

/* forward: y block = x window; backward: x window += y block. */
static void slice_move(const k_shape *sx, int axis, int start, int len, const float *src,
                       float *dst, int backward)
{
    size_t outer, n, inner;
    slice_view(sx, axis, &outer, &n, &inner);
    size_t block = (size_t)len * inner, nblk = (block + BLK - 1) / BLK, tasks = outer * nblk;
#pragma omp parallel for schedule(static) if (outer * block >= PAR_MIN)
    for (size_t t = 0; t < tasks; t++) {
        size_t o = t / nblk, c0 = (t % nblk) * BLK, m = block - c0 < BLK ? block - c0 : BLK;
        size_t win = (o * n + (size_t)start) * inner + c0, blk = o * block + c0;
        if (!backward) {
            memcpy(dst + blk, src + win, m * sizeof *dst);
        } else {
            const float *g = src + blk;
            float *o_ = dst + win;
#pragma omp simd
            for (size_t i = 0; i < m; i++) o_[i] += g[i];
        }
    }
}

void k_slice_fwd(const k_shape *sx, int axis, int start, int len, const float *x, float *y)
{
    slice_move(sx, axis, start, len, x, y, 0);
}

void k_slice_bwd(const k_shape *sx, int axis, int start, int len, const float *dy, float *dx)
{
    if (dx) slice_move(sx, axis, start, len, dy, dx, 1);
}

/* ---- expand (broadcast) ------------------------------------------------------------ */

void k_expand_fwd(const k_shape *sx, const float *x, const k_shape *sy, float *y)
{
    int pad = K_MAX_RANK - sy->rank;
    size_t xd[4], yd[4], st[4], s = 1;
    for (int i = 0; i < 4; i++) {
        xd[i] = i < pad ? 1 : (size_t)sx->d[i - pad];
        yd[i] = i < pad ? 1 : (size_t)sy->d[i - pad];
    }
    for (int i = 3; i >= 0; i--) {
        st[i] = xd[i] == 1 && yd[i] != 1 ? 0 : s; /* stride 0 repeats x along the axis */
        s *= xd[i];
    }
    strided_copy(yd, st, x, y, 0);
}

/* The gradient of a broadcast is the same reduction as that of the first
 * operand of a broadcasting add, which never reads its operands' values. */
void k_expand_bwd(const k_shape *sx, const k_shape *sy, const float *dy, float *dx)
{
    if (dx) k_binary_bwd(AA_OP_ADD, sx, NULL, sy, NULL, sy, dy, dx, NULL);
}
