/* layout.h — arguments of the kernels in layout.cu (permute, expand, slice,
 * triangular mask, add); the launchers in gpu/ops_layout.c fill the same
 * structs. Every tensor has fewer than 2^31 elements (the launchers check),
 * so offsets fit in 32 bits. */
#ifndef AAK_LAYOUT_H
#define AAK_LAYOUT_H

/* Edge of the square tiles of aak_transpose; a block of AAK_BLOCK threads
 * moves a tile in AAK_BLOCK / AAK_TILE rows at a time. */
#define AAK_TILE 32

/* y (contiguous, rank 4, extents yd) = or += x read with element stride
 * st[k] along axis k of y (0: x broadcasts there), element by element:
 * k_permute and k_expand_fwd. */
typedef struct aak_copy_args {
    int accumulate;
    long long n;               /* elements of y */
    int yd[4], st[4];
    const float *x;
    float *y;
} aak_copy_args;

/* The permutes that move x's last axis: x is contiguous along an axis v < 3
 * of y, y along its axis 3 (u). Tiles of AAK_TILE x AAK_TILE over (v, u),
 * read along v and written along u through shared memory (both coalesced),
 * for every index of the two other axes of y (o0, o1), y = or += x. */
typedef struct aak_transpose_args {
    int accumulate;
    int nv, nu, n1;            /* extents of y along v, u and o1 */
    int xs_u, ys_v;            /* stride of x along u, of y along v (both 1 the other way) */
    int xs0, xs1, ys0, ys1;    /* strides of x and y along o0, o1 */
    long long tiles;           /* extent of o0 * n1 * tiles of (v, u) */
    const float *x;
    float *y;
} aak_transpose_args;

/* x viewed as [outer, span / inner, inner] around the axis: the window of
 * element e of y [outer, block] is x[(e / block) * span + first + e % block].
 * Forward: y[e] = window; backward: window += y[e] (dst is then x's
 * gradient and src y's). */
typedef struct aak_slice_args {
    int backward;
    long long n;               /* outer * block */
    long long block;           /* len * inner */
    long long span;            /* x's extent along the axis * inner */
    long long first;           /* start * inner */
    const float *src;
    float *dst;
} aak_slice_args;

/* Over the last two axes [R, C] of n elements, keep (i, j) where
 * j <= i + diagonal (lower) or j >= i + diagonal (upper), as k_mask and
 * PyTorch's tril / triu:
 * y = kept ? x : 0, or with accumulate y += x where kept. */
typedef struct aak_mask_args {
    int upper, diagonal, accumulate;
    int R, C;
    long long n;
    const float *x;
    float *y;
} aak_mask_args;

/* y[i] += x[i], i < n. */
typedef struct aak_add_args {
    long long n;
    const float *x;
    float *y;
} aak_add_args;

#endif
