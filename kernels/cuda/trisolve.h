/* trisolve.h — arguments of the kernels in trisolve.cu (unit-lower
 * triangular solves, as k_trisolve_fwd / k_trisolve_bwd); the launchers in
 * gpu/ops_train.c fill the same structs. */
#ifndef AAK_TRISOLVE_H
#define AAK_TRISOLVE_H

/* Right-hand-side columns per block at most (one thread each) when the
 * system is solved in shared memory, and the largest n solved there. */
#define AAK_TRISOLVE_COLS 64
#define AAK_TRISOLVE_NMAX 64

/* M = I + strict_lower(A), A [batch,n,n]; rhs, out, dB [batch,n,m].
 * Forward: out = X = M^-1 B (rhs = B, dB NULL). Backward: out = G = M^-T dX
 * (rhs = dX), and dB += G unless dB is NULL. */
typedef struct aak_trisolve_args {
    int batch, n, m;
    const float *A;
    const float *rhs;
    float *out;
    float *dB;
} aak_trisolve_args;

/* dA[b,i,j] -= P[b,i,j] below the diagonal (i > j); the rest of dA is left
 * alone (the solve reads no other part of A). P, dA [batch,n,n]. */
typedef struct aak_trisolve_da_args {
    int batch, n;
    const float *P;
    float *dA;
} aak_trisolve_da_args;

#endif
