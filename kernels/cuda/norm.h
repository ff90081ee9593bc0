/* norm.h — arguments of the kernels in norm.cu (RMSNorm, LayerNorm,
 * L2-norm and gated RMSNorm over the last axis of [rows, D], as
 * kernels/norm.c); the launchers in gpu/ops_norm.c fill the same structs. */
#ifndef AAK_NORM_H
#define AAK_NORM_H

/* = K_NORM_EPS of kernels/kernels.h (which device code cannot include;
 * tests/test_gpu_norm.c checks that the two agree). */
#define AAK_NORM_EPS 1e-6f


/* Forward of one norm (a block per row). saved (0: not kept) receives
 * rstd / rnorm [rows], or LayerNorm's (mean, rstd) [rows][2]. g is the gate
 * and mode the order of gated RMSNorm (0: norm then gate, 1: gate then
 * norm); b is LayerNorm's bias (0: none). */
typedef struct aak_norm_fwd_args {
    int mode, D;
    long long rows;
    const float *x, *g, *w, *b;
    float *y, *saved;
} aak_norm_fwd_args;

/* Backward of one norm's input(s) (a block per row): dx (and the gate's dg)
 * += their gradients; a 0 gradient is skipped. saved as the forward wrote
 * it; y is read by the L2-norm only. */
typedef struct aak_norm_bwd_args {
    int mode, D;
    long long rows;
    const float *x, *g, *w, *y, *saved, *dy;
    float *dx, *dg;
} aak_norm_bwd_args;

/* What a weight gradient sums over the rows, per element (r, i). */
enum aak_norm_term {
    AAK_NORM_TERM_RMS = 0,   /* dy x rstd (RMSNorm's dw) */
    AAK_NORM_TERM_LN_W,      /* dy (x - mean) rstd (LayerNorm's dw) */
    AAK_NORM_TERM_LN_B,      /* dy (LayerNorm's db) */
    AAK_NORM_TERM_GATED      /* dy x silu(g) rstd (gated RMSNorm's dw, both modes) */
};

/* out[i] += sum over rows of term(r, i), deterministically in two passes:
 * aak_norm_dw_part sums chunks of chunk_rows rows in float into
 * part[chunk][i], aak_norm_dw_sum adds the chunks in order, in double. */
typedef struct aak_norm_dw_args {
    int term, D;
    long long rows, chunk_rows;
    const float *x, *g, *saved, *dy;
    float *part, *out;
} aak_norm_dw_args;

#endif
