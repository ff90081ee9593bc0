/* conv.h — arguments of the kernels in conv.cu (causal depthwise
 * convolution, as k_conv_fwd / k_conv_bwd); the launchers in gpu/ops_train.c
 * fill the same structs. */
#ifndef AAK_CONV_H
#define AAK_CONV_H

/* (batch x time) rows summed in float into one partial of dw; the partials
 * are then added in double (conv.c sums 128-step chunks the same way). */
#define AAK_CONV_DW_ROWS 64

/* x, y [B,T,C], w [C,K]. Forward: out = y = conv(in = x). Backward: out = dx
 * += the transposed convolution of in = dy. */
typedef struct aak_conv_args {
    int B, T, C, K;
    const float *in;
    const float *w;
    float *out;
} aak_conv_args;

/* dw[c,j] += sum over rows r = (b,t) of dy[r,c] x[b, t-K+1+j, c], in two
 * passes: part[chunk, j, c] (the rows of one chunk), then dw (the chunks in
 * order, in double). */
typedef struct aak_conv_dw_args {
    int B, T, C, K;
    const float *x, *dy;
    float *part;         /* [ceil(B*T / AAK_CONV_DW_ROWS), K, C] */
    float *dw;           /* [C, K] */
} aak_conv_dw_args;

#endif
