/*
 * binary.cu — broadcasting add, sub, mul, div, forward and backward, as
 * kernels/elementwise.c computes them (same formulas, so the devices agree
 * to rounding).
 *
 * Forward and the gradient of an operand with the shape of y are one
 * thread per element of y (grid-stride). The gradient of a broadcast
 * operand is a sum over its broadcast axes: each of its elements is summed
 * by a fixed group of lanes in double, then a tree in shared memory, and,
 * where the launcher splits the summed axes over grid.y, the partial sums
 * are added in order by aak_binary_parts. No atomics, and the order depends
 * on the shapes only: deterministic.
 */
#include "aak.h"
#include "asiarch.h"
#include "binary.h"

/* Offsets in a, b and y of flat index idx over walk w. The outermost
 * dimension needs no modulo (idx is below its extent), so a walk of one
 * dimension costs no division. The loop has constant bounds (unrolled, the
 * arrays stay in registers); the used dimensions are the last nd. */
static inline void walk_at(aak_walk w, unsigned idx, unsigned *oa, unsigned *ob, unsigned *oy)
{
    unsigned a = 0, b = 0, y = 0;
    int first = AAK_BIN_DIMS - w.nd;
    for (int k = AAK_BIN_DIMS - 1; k >= 0; k--) {
        if (k < first) break;
        unsigned i = idx;
        if (k > first) {
            i = idx % (unsigned)w.n[k];
            idx /= (unsigned)w.n[k];
        }
        a += i * (unsigned)w.sa[k];
        b += i * (unsigned)w.sb[k];
        y += i * (unsigned)w.sy[k];
    }
    *oa = a;
    *ob = b;
    *oy = y;
}

static inline float binary_value(int op, float A, float B)
{
    switch (op) {
    case AA_OP_ADD: return A + B;
    case AA_OP_SUB: return A - B;
    case AA_OP_MUL: return A * B;
    case AA_OP_DIV: return A / B;
    default: return 0.0f;
    }
}

/* d(a op b)/da (wrt_b = 0) or d(a op b)/db at a[oa], b[ob]. ADD and SUB read
 * neither operand (k_expand_bwd's reduction passes none). */
static inline float binary_slope(int op, int wrt_b, const float *a, const float *b, unsigned oa, unsigned ob)
{
    switch (op) {
    case AA_OP_ADD: return 1.0f;
    case AA_OP_SUB: return wrt_b ? -1.0f : 1.0f;
    case AA_OP_MUL: return wrt_b ? a[oa] : b[ob];
    case AA_OP_DIV: {
        float B = b[ob];
        return wrt_b ? -a[oa] / (B * B) : 1.0f / B;
    }
    default: return 0.0f;
    }
}

AAK_KERNEL(aak_binary_fwd, aak_binary_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        unsigned oa, ob, oy;
        walk_at(p.all, (unsigned)i, &oa, &ob, &oy);
        p.out[oy] = binary_value(p.op, p.a[oa], p.b[ob]);
    }
}

/* gx has the shape of y: gx[i] += dy[i] * slope, element by element. */
AAK_KERNEL(aak_binary_bwd_full, aak_binary_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        unsigned oa, ob, oy;
        walk_at(p.all, (unsigned)i, &oa, &ob, &oy);
        p.out[oy] += p.dy[oy] * binary_slope(p.op, p.wrt_b, p.a, p.b, oa, ob);
    }
}

/* gx of a broadcast operand (binary.h): block (x, y) sums, for its
 * AAK_BLOCK / lanes elements j, the q of split blockIdx.y; with one split
 * into gx[j], else into part[y, j] for aak_binary_parts. Runs with
 * AAK_BLOCK threads a block. */
AAK_KERNEL(aak_binary_bwd_reduce, aak_binary_reduce_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    int t = (int)threadIdx.x, lanes = p.lanes, per = AAK_BLOCK / lanes;
    int lane = p.lanes_fast ? t % lanes : t / per;
    int slot = p.lanes_fast ? t / lanes : t % per;
    int step = p.lanes_fast ? 1 : per;   /* from lane l of a j to its lane l + 1 in red */
    long long q0 = (long long)blockIdx.y * p.chunk;
    long long q1 = q0 + p.chunk < p.summed_n ? q0 + p.chunk : p.summed_n;
    long long tiles = (p.kept_n + per - 1) / per;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {   /* uniform over the block */
        long long j = tile * per + slot;
        double acc = 0.0;
        if (j < p.kept_n) {
            unsigned ka, kb, ky, qa, qb, qy;
            walk_at(p.kept, (unsigned)j, &ka, &kb, &ky);
            for (long long q = q0 + lane; q < q1; q += lanes) {
                walk_at(p.summed, (unsigned)q, &qa, &qb, &qy);
                acc += (double)p.dy[ky + qy] * binary_slope(p.op, p.wrt_b, p.a, p.b, ka + qa, kb + qb);
            }
        }
        red[t] = acc;
        AAK_SYNC();
        for (int half = 1; half < lanes; half *= 2) {   /* pairs (l, l + half), l a multiple of 2*half */
            if (lane % (2 * half) == 0 && lane + half < lanes) red[t] += red[t + half * step];
            AAK_SYNC();
        }
        if (lane == 0 && j < p.kept_n) {
            if (p.part) p.part[(long long)blockIdx.y * p.kept_n + j] = red[t];
            else p.gx[j] += (float)red[t];
        }
        AAK_SYNC();   /* red is reused by the next tile */
    }
}

/* gx[j] += the partial sums of the splits, in split order. */
AAK_KERNEL(aak_binary_parts, aak_binary_parts_args)
{
    for (long long j = aak_tid(); j < p.n; j += aak_stride()) {
        double s = 0.0;
        for (int k = 0; k < p.parts; k++) s += p.part[(long long)k * p.n + j];
        p.gx[j] += (float)s;
    }
}
