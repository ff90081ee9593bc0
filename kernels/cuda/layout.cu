/*
 * layout.cu — permute, expand, slice, triangular mask and add: data
 * movement, as kernels/layout.c and k_mask (kernels/reduce.c) do it. Every
 * output element is written by one thread and nothing is summed (but for
 * the accumulate forms' one add), so all of it is deterministic.
 */
#include "aak.h"
#include "layout.h"

/* Offset in x of element i of y (extents yd, x strides st). */
static inline unsigned strided_offset(aak_copy_args c, unsigned i)
{
    unsigned o = 0;
    for (int k = 3; k > 0; k--) {   /* constant indices once unrolled: no local copy of the arrays */
        o += i % (unsigned)c.yd[k] * (unsigned)c.st[k];
        i /= (unsigned)c.yd[k];
    }
    return o + i * (unsigned)c.st[0];
}

AAK_KERNEL(aak_strided_copy, aak_copy_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        float v = p.x[strided_offset(p, (unsigned)i)];
        if (p.accumulate) p.y[i] += v;
        else p.y[i] = v;
    }
}

/* One AAK_TILE x AAK_TILE tile of (axis v, axis 3) of y per block at a time:
 * read from x with consecutive threads along v (x's contiguous axis) into
 * shared memory, written to y with consecutive threads along axis 3. The
 * tile has one padding column so that neither pass hits one bank twice. */
AAK_KERNEL(aak_transpose, aak_transpose_args)
{
    AAK_SHARED float tile[AAK_TILE * (AAK_TILE + 1)];
    const int rows = AAK_BLOCK / AAK_TILE;
    int tx = (int)threadIdx.x % AAK_TILE, ty = (int)threadIdx.x / AAK_TILE;
    long long tv = (p.nv + AAK_TILE - 1) / AAK_TILE, tu = (p.nu + AAK_TILE - 1) / AAK_TILE;
    for (long long t = blockIdx.x; t < p.tiles; t += gridDim.x) {   /* uniform over the block */
        long long batch = t / (tv * tu);
        int v0 = (int)(t / tu % tv) * AAK_TILE, u0 = (int)(t % tu) * AAK_TILE;
        unsigned i0 = (unsigned)(batch / p.n1), i1 = (unsigned)(batch % p.n1);
        unsigned xb = i0 * (unsigned)p.xs0 + i1 * (unsigned)p.xs1;
        unsigned yb = i0 * (unsigned)p.ys0 + i1 * (unsigned)p.ys1;
        for (int r = ty; r < AAK_TILE; r += rows) {   /* tile[u - u0][v - v0] */
            int v = v0 + tx, u = u0 + r;
            if (v < p.nv && u < p.nu)
                tile[r * (AAK_TILE + 1) + tx] = p.x[xb + (unsigned)v + (unsigned)u * (unsigned)p.xs_u];
        }
        AAK_SYNC();
        for (int r = ty; r < AAK_TILE; r += rows) {
            int v = v0 + r, u = u0 + tx;
            if (v < p.nv && u < p.nu) {
                unsigned o = yb + (unsigned)v * (unsigned)p.ys_v + (unsigned)u;
                float x = tile[tx * (AAK_TILE + 1) + r];
                if (p.accumulate) p.y[o] += x;
                else p.y[o] = x;
            }
        }
        AAK_SYNC();   /* the tile is refilled by the next iteration */
    }
}

AAK_KERNEL(aak_slice, aak_slice_args)
{
    unsigned block = (unsigned)p.block, span = (unsigned)p.span, first = (unsigned)p.first;
    for (long long e = aak_tid(); e < p.n; e += aak_stride()) {
        unsigned w = (unsigned)e / block * span + first + (unsigned)e % block;
        if (p.backward) p.dst[w] += p.src[e];
        else p.dst[e] = p.src[w];
    }
}

AAK_KERNEL(aak_mask, aak_mask_args)
{
    for (long long e = aak_tid(); e < p.n; e += aak_stride()) {
        unsigned r = (unsigned)e / (unsigned)p.C;
        int j = (int)((unsigned)e % (unsigned)p.C), i = (int)(r % (unsigned)p.R);
        /* j - i cannot overflow (both in [0, 2^31)); i + diagonal could. */
        int keep = p.upper ? j - i >= p.diagonal : j - i <= p.diagonal;
        if (p.accumulate) {
            if (keep) p.y[e] += p.x[e];
        } else {
            p.y[e] = keep ? p.x[e] : 0.0f;   /* x may be y: read, then write, the same element */
        }
    }
}

AAK_KERNEL(aak_add_into, aak_add_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) p.y[i] += p.x[i];
}
