/* binary.h — arguments of the kernels in binary.cu (broadcasting add, sub,
 * mul, div); the launchers in gpu/ops_layout.c fill the same structs.
 *
 * The launcher turns the broadcast into "walks": lists of at most 4
 * dimensions (outermost first, right-aligned in the arrays) with the
 * element strides of a, b and y along each (0 where an operand
 * broadcasts). A flat index over a walk's dimensions, split into a
 * multi-index, gives an offset in each buffer.
 * Every tensor has fewer than 2^31 elements (the launchers check), so
 * offsets and indices fit in 32 bits. */
#ifndef AAK_BINARY_H
#define AAK_BINARY_H

#define AAK_BIN_DIMS 4

typedef struct aak_walk {
    int nd;                    /* dimensions in use, 0..4 (0: one element): the last nd */
    int n[AAK_BIN_DIMS];       /* extents */
    int sa[AAK_BIN_DIMS];      /* element strides of a, b, y */
    int sb[AAK_BIN_DIMS];
    int sy[AAK_BIN_DIMS];
} aak_walk;

/* Forward: y[i] = a op b over the walk `all` (every element of y).
 * Backward, an operand x (a when wrt_b = 0, else b) with the shape of y:
 * gx[i] += dy[i] * d(a op b)/dx over `all`. ADD and SUB never read a or b. */
typedef struct aak_binary_args {
    int op;                    /* an aa_binary_op */
    int wrt_b;
    long long n;               /* elements of y */
    aak_walk all;
    const float *a, *b, *dy;
    float *out;                /* y (forward) or gx (backward) */
} aak_binary_args;

/* Backward, a broadcast operand x: gx[j] += sum over q of dy * d(a op b)/dx,
 * j over the dimensions x keeps (`kept`: then j is also x's own offset), q
 * over those it broadcasts (`summed`). A block of AAK_BLOCK threads owns
 * AAK_BLOCK / lanes consecutive j; each j is summed by `lanes` threads (a
 * power of two), lane l taking q = l, l + lanes, ... in double, then a tree
 * over the lanes in shared memory. With lanes_fast, the lanes of one j are
 * adjacent threads (for q contiguous in dy); else the j are (j contiguous).
 * Where few j would leave the GPU idle, grid.y splits q into chunks of
 * `chunk`: block row y writes its sums to part[y, j] (double, [grid.y,
 * kept_n]) and aak_binary_parts adds them to gx in order; with part = 0
 * (one split) the block adds to gx itself. The order depends on the shapes
 * only: deterministic. */
typedef struct aak_binary_reduce_args {
    int op;
    int wrt_b;
    int lanes, lanes_fast;
    long long kept_n, summed_n;   /* elements of x, and y elements per element of x */
    long long chunk;              /* q per split */
    aak_walk kept, summed;
    const float *a, *b, *dy;
    float *gx;
    double *part;
} aak_binary_reduce_args;

/* gx[j] += sum over k < parts of part[k, j] (in k order), j < n. */
typedef struct aak_binary_parts_args {
    long long n;
    int parts;
    const double *part;
    float *gx;
} aak_binary_parts_args;

#endif
