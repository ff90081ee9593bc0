/* reduce.h — arguments of the kernels in reduce.cu (reductions, scans and
 * the softmax along one axis, as kernels/reduce.c); the launchers in
 * gpu/ops_norm.c fill the same struct. */
#ifndef AAK_REDUCE_H
#define AAK_REDUCE_H

/* The input viewed as [outer, n, inner], n the axis the op runs along. y has
 * yn = n rows per outer slice (CUMSUM, SOFTMAX) or 1 (SUM, MEAN, VAR,
 * ENTROPY). A line is one (outer, inner) pair: its n elements lie inner
 * apart. op is an aa_reduce_op.
 *   forward:  y = op(x) along the axis
 *   backward: dx += the gradient of op for dy (x is read by VAR and ENTROPY
 *             only, y by SOFTMAX only: the others may pass 0) */
typedef struct aak_reduce_args {
    int op;
    long long outer, n, inner, yn;
    const float *x, *y, *dy;
    float *out;          /* y (forward) or dx (backward) */
} aak_reduce_args;

#endif
