/* pointwise.h — arguments of a candidate's pointwise kernels, which
 * gpu/pointwise.c generates around its AA_SCALAR functions: y = f(in...)
 * forward, dx_a += dy * f_d<a>(in...) backward (dx_a may be NULL). */
#ifndef AAK_POINTWISE_H
#define AAK_POINTWISE_H

typedef struct aak_pointwise_args {
    long long n;
    const float *in[4];
    float *y;
    const float *dy;
    float *dx[4];
} aak_pointwise_args;

#endif
