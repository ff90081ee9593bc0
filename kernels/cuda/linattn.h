/* linattn.h — arguments of the kernels in linattn.cu (the launchers in
 * gpu/ops_linattn.c fill the same struct), and the layout of the per-chunk
 * workspace that the kernels share. */
#ifndef AAK_LINATTN_H
#define AAK_LINATTN_H

/* Limits of the kernels' fixed-size shared tiles and local arrays. */
#define AAK_LA_MAX_CHUNK 64   /* chunk length C (the recurrent form runs as C = 64) */
#define AAK_LA_MAX_DK 128
#define AAK_LA_MAX_DV 128
#define AAK_LA_DV_TILE 32     /* state columns per block of the state walks */
#define AAK_LA_THREADS 256    /* threads per block of every linattn kernel */

/* Gate kinds, as enum k_gate of kernels.h. */
#define AAK_LA_GATE_NONE 0
#define AAK_LA_GATE_SCALAR 1
#define AAK_LA_GATE_CHANNEL 2

/* Where each per-chunk quantity sits in one chunk's slice of the workspace
 * (offsets in floats; -1: not used by this configuration). Decays are per
 * channel (C x Dk) for channel gates, else per position (C). */
typedef struct aak_la_layout {
    int M;        /* C x C  scores (Q K^T) .* P, lower triangle incl. diagonal */
    int N;        /* C x C  key scores (K K^T) .* P, strictly lower (delta) */
    int Ti;       /* C x C  (I + diag(beta) N)^-1, lower, unit diagonal (delta) */
    int D;        /* C x C  P[t,s] = prod_{s<r<=t} a_r, lower (scalar decays) */
    int a, b, c;  /* C or C x Dk: a_t, b_t = prod_{r<=t} a_r, c_t = b_{L-1} / b_t */
    int stride;   /* floats per chunk */
} aak_la_layout;

static inline aak_la_layout aak_la_layout_of(int C, int Dk, int delta, int gate)
{
    aak_la_layout l;
    int at = 0, cc = C * C, dec = gate == AAK_LA_GATE_CHANNEL ? C * Dk : C;
    l.M = at; at += cc;
    l.N = delta ? at : -1; at += delta ? cc : 0;
    l.Ti = delta ? at : -1; at += delta ? cc : 0;
    l.D = gate != AAK_LA_GATE_CHANNEL ? at : -1; at += gate != AAK_LA_GATE_CHANNEL ? cc : 0;
    l.a = at; at += dec;
    l.b = at; at += dec;
    l.c = at; at += dec;
    l.stride = at;
    return l;
}

/* Floats per chunk of the backward's gradient workspace (aak_linattn_bwd_chunk):
 * dM, dA (C x C), dQh, dKh, dKC (C x Dk), dG of the last row (Dk), and for
 * the delta rule R = V - Kh S0 and U (C x Dv). */
static inline long long aak_la_bw_stride(int C, int Dk, int Dv, int delta)
{
    return 2LL * C * C + 3LL * C * Dk + Dk + (delta ? 2LL * C * Dv : 0);
}

/* One struct for all four kernels: shapes, inputs, outputs, workspaces. A
 * NULL gradient is not wanted; NULL s0 is a zero start state. */
typedef struct aak_linattn_args {
    int B, H, T, Dk, Dv;
    int delta, gate;
    int C, n_chunks;          /* chunk length (64 for the recurrent form), chunks per head */
    aak_la_layout lay;
    const float *lambda;      /* [H] or NULL (no constant decay) */
    const float *q, *k, *v, *beta, *g, *s0;
    /* forward */
    float *o, *s_final, *saved;
    /* backward */
    const float *saved_in, *d_o, *ds_final;
    float *dq, *dk, *dv, *dbeta, *dg, *ds0;
    /* workspaces: per chunk (cw, bw), the gradient of each chunk's end
     * state (dstates, [B,H,n_chunks,Dk,Dv]), dW per position (dwbuf,
     * [B,H,T,Dv], delta rule) */
    float *cw, *bw, *dstates, *dwbuf;
    int want_chunk_grads;     /* any of dq, dk, dbeta, dg: the bwd_state walk fills dstates, dwbuf */
} aak_linattn_args;

#endif
