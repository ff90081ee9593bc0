/* elementwise.h — arguments of the kernels in elementwise.cu (the launchers
 * in gpu/ fill the same structs). */
#ifndef AAK_ELEMENTWISE_H
#define AAK_ELEMENTWISE_H

/* y = op(x) (forward), dx += dy * op'(x or y) (backward); op an aa_unary_op
 * with scalar arguments a, b, as k_unary_fwd/k_unary_bwd. */
typedef struct aak_unary_args {
    int op;
    float a, b;
    long long n;
    const float *x, *y, *dy;
    float *out;          /* y (forward) or dx (backward) */
} aak_unary_args;

#endif
