/*
 * linattn.cu — the generalised linear-attention op (k_linattn_fwd /
 * k_linattn_bwd of kernels/linattn.c) on the GPU: delta rule or plain,
 * no / scalar / channel gates, constant per-head decays, in the chunkwise
 * WY/UT form. Read kernels/linattn.c first: the notation (a, b, c, P, M, N,
 * A, Qh, Kh, KC, R, W, U) and the formulas are the same, and so are the
 * products that build the decays (running products, never 1/b), so that the
 * two devices agree to rounding.
 *
 * ---- four kernels --------------------------------------------------------------
 *
 *  aak_linattn_prep        one block per chunk (all chunks of all heads at once):
 *                          everything of a chunk that does not depend on its
 *                          start state: the decays a, b, c (and D), the scores
 *                          M and N, and Ti = (I + diag(beta) N)^-1. Written to
 *                          the chunk's slice of the workspace cw.
 *  aak_linattn_fwd_state   one block per (head, tile of AAK_LA_DV_TILE state
 *                          columns), walking the head's chunks in order: the
 *                          columns of S are independent in both the delta rule
 *                          and plain linear attention (u_t's column j reads
 *                          only column j of S), so each block owns its columns'
 *                          slice of S in shared memory. Per chunk:
 *                            U = Ti diag(beta) (V - Kh S0)   (delta; else U = V)
 *                            O = Qh S0 + M U
 *                            S = diag(b_{L-1}) S0 + KC^T U
 *                          and the chunk-start states are saved (as the CPU).
 *  aak_linattn_bwd_state   the same blocks walking the chunks backwards with
 *                          the state gradient dS (column-separable too):
 *                            dU  = M^T dO + KC dS,  dW = Ti^T dU (delta)
 *                            dS0 = Qh^T dO + diag(b_{L-1}) dS - Kh^T diag(beta) dW
 *                          it adds dv, ds0, and leaves per chunk what the next
 *                          kernel needs: dS (chunk end) and dW.
 *  aak_linattn_bwd_chunk   one block per chunk again: recomputes R and U from
 *                          the saved S0 (delta rule), then the gradients that
 *                          sum over the state's columns (dq, dk, dbeta, dg),
 *                          from S0, dS, U, dW, R (see the CPU's bwd_outputs ..
 *                          bwd_gates for the formulas).
 *
 * Every output element is written by one thread, each sum is a loop in a
 * fixed order, and there are no atomics: the results are deterministic.
 * The recurrent form (chunk == 0) runs as chunks of AAK_LA_MAX_CHUNK = 64 =
 * the CPU's REC_SEGMENT: the same results to rounding and the same saved
 * states (the CPU checkpoints the recurrence every 64 steps).
 *
 * ---- work split inside a block --------------------------------------------------
 *
 * Element loops run `for (e = tid; e < n; e += nthreads)` over output
 * elements, each a dot product in a fixed order. Two loops run one thread
 * per column instead, because their columns are independent recurrences and
 * need no barrier per step: the channel-gate scores (one column s of M and N,
 * advancing the running products K[s,i] P[t,s,i] down t) and the triangular
 * inverse (one column of Ti, by forward substitution). The channel-gate
 * backward runs one thread per channel i for the same reason.
 */
#include "aak.h"
#include "linattn.h"

#define TILE AAK_LA_DV_TILE

static inline int la_tid(void) { return (int)threadIdx.x; }
static inline int la_nthreads(void) { return (int)blockDim.x; }
static inline int la_min(int a, int b) { return a < b ? a : b; }

/* One chunk of one head: positions t0 .. t0+L-1. */
typedef struct la_chunk {
    int bh, n, t0, L;
    int channel;                 /* decays per channel (channel gates) */
    float lambda;                /* 1 without constant decays */
    const float *Q, *K, *V, *beta, *g, *dO; /* the chunk's rows (beta, g, dO may be NULL) */
    float *cw;                   /* the chunk's workspace slice */
} la_chunk;

static inline la_chunk la_chunk_at(const aak_linattn_args *p, int bh, int n)
{
    la_chunk ch;
    const long long row = (long long)bh * p->T + (long long)n * p->C;
    ch.bh = bh;
    ch.n = n;
    ch.t0 = n * p->C;
    ch.L = la_min(p->C, p->T - ch.t0);
    ch.channel = p->gate == AAK_LA_GATE_CHANNEL;
    ch.lambda = p->lambda ? p->lambda[bh % p->H] : 1.0f;
    ch.Q = p->q + row * p->Dk;
    ch.K = p->k + row * p->Dk;
    ch.V = p->v + row * p->Dv;
    ch.beta = p->delta ? p->beta + row : 0;
    ch.g = p->gate != AAK_LA_GATE_NONE ? p->g + row * (ch.channel ? p->Dk : 1) : 0;
    ch.dO = p->d_o ? p->d_o + row * p->Dv : 0;
    ch.cw = p->cw ? p->cw + ((long long)bh * p->n_chunks + n) * p->lay.stride : 0;
    return ch;
}

/* A decay array of the workspace (a, b or c) at position t, channel i. */
static inline float la_decay(const la_chunk *ch, const float *d, int Dk, int t, int i)
{
    return ch->channel ? d[t * Dk + i] : d[t];
}

static inline float la_dot(const float *x, const float *y, int n)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++) s += x[j] * y[j];
    return s;
}

/* The head's chunk-start state n (saved) or chunk-end state gradient n (dstates). */
static inline long long la_state_at(const aak_linattn_args *p, int bh, int n)
{
    return ((long long)bh * p->n_chunks + n) * p->Dk * p->Dv;
}

/* =====================================================================================
 * aak_linattn_prep
 * ===================================================================================== */

/* a_t = exp(g_t) * lambda (per channel or per position), b_t and c_t by
 * running products, and for scalar decays the lower triangle D[t,s] =
 * prod_{s<r<=t} a_r, one thread per column s. */
static void prep_decays(const aak_linattn_args *p, const la_chunk *ch)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, tid = la_tid(), nt = la_nthreads();
    const int width = ch->channel ? Dk : 1;
    float *a = ch->cw + p->lay.a, *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    for (int e = tid; e < L * width; e += nt) a[e] = ch->g ? expf(ch->g[e]) * ch->lambda : ch->lambda;
    AAK_SYNC();
    for (int i = tid; i < width; i += nt) {
        float run = 1.0f;
        for (int t = 0; t < L; t++) b[t * width + i] = run *= a[t * width + i];
        c[(L - 1) * width + i] = 1.0f;
        for (int t = L - 2; t >= 0; t--) c[t * width + i] = c[(t + 1) * width + i] * a[(t + 1) * width + i];
    }
    if (ch->channel) return;
    float *D = ch->cw + p->lay.D;
    for (int s = tid; s < L; s += nt) {
        D[s * C + s] = 1.0f;
        for (int t = s + 1; t < L; t++) D[t * C + s] = D[(t - 1) * C + s] * a[t];
    }
}

/* Scalar decays: M = (Q K^T) .* D (lower), N = (K K^T) .* D (strictly lower). */
static void prep_scores_scalar(const aak_linattn_args *p, const la_chunk *ch)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, tid = la_tid(), nt = la_nthreads();
    const float *D = ch->cw + p->lay.D;
    float *M = ch->cw + p->lay.M, *N = p->delta ? ch->cw + p->lay.N : 0;
    for (int e = tid; e < L * L; e += nt) {
        const int t = e / L, s = e % L;
        if (s > t) continue;
        M[t * C + s] = la_dot(ch->Q + t * Dk, ch->K + s * Dk, Dk) * D[t * C + s];
        if (N && s < t) N[t * C + s] = la_dot(ch->K + t * Dk, ch->K + s * Dk, Dk) * D[t * C + s];
    }
}

/* Channel decays: M[t,s] = sum_i Q[t,i] X[i], N[t,s] = sum_i K[t,i] X[i]
 * with X[i] = K[s,i] P[t,s,i], one thread per column s advancing X down t
 * by one decay per row (the running products of the CPU's channel_scores). */
static void prep_scores_channel(const aak_linattn_args *p, const la_chunk *ch)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, tid = la_tid(), nt = la_nthreads();
    const float *a = ch->cw + p->lay.a;
    float *M = ch->cw + p->lay.M, *N = p->delta ? ch->cw + p->lay.N : 0;
    for (int s = tid; s < L; s += nt) {
        float X[AAK_LA_MAX_DK];
        const float *Ks = ch->K + s * Dk;
        for (int i = 0; i < Dk; i++) X[i] = Ks[i];
        M[s * C + s] = la_dot(ch->Q + s * Dk, Ks, Dk);
        for (int t = s + 1; t < L; t++) {
            const float *at = a + t * Dk, *Qt = ch->Q + t * Dk, *Kt = ch->K + t * Dk;
            float m = 0.0f, nn = 0.0f;
            for (int i = 0; i < Dk; i++) {
                X[i] *= at[i];
                m += Qt[i] * X[i];
                nn += Kt[i] * X[i];
            }
            M[t * C + s] = m;
            if (N) N[t * C + s] = nn;
        }
    }
}

/* Ti = (I + A)^-1 with A = diag(beta) N strictly lower: column j by forward
 * substitution, Ti[t,j] = -sum_{j<=s<t} A[t,s] Ti[s,j], one thread per
 * column (each reads only its own column). */
static void prep_inverse(const aak_linattn_args *p, const la_chunk *ch)
{
    const int L = ch->L, C = p->C, tid = la_tid(), nt = la_nthreads();
    const float *N = ch->cw + p->lay.N;
    float *Ti = ch->cw + p->lay.Ti;
    for (int j = tid; j < L; j += nt) {
        Ti[j * C + j] = 1.0f;
        for (int t = j + 1; t < L; t++) {
            float acc = 0.0f;
            for (int s = j; s < t; s++) acc += (ch->beta[t] * N[t * C + s]) * Ti[s * C + j];
            Ti[t * C + j] = -acc;
        }
    }
}

AAK_KERNEL(aak_linattn_prep, aak_linattn_args)
{
    const int total = p.B * p.H * p.n_chunks;
    for (int blk = (int)blockIdx.x; blk < total; blk += (int)gridDim.x) {
        const la_chunk ch = la_chunk_at(&p, blk / p.n_chunks, blk % p.n_chunks);
        prep_decays(&p, &ch);
        AAK_SYNC();
        if (ch.channel) prep_scores_channel(&p, &ch);
        else prep_scores_scalar(&p, &ch);
        if (p.delta) {
            AAK_SYNC();
            prep_inverse(&p, &ch);
        }
    }
}

/* =====================================================================================
 * State tiles: columns j0 .. j0+w-1 of a Dk x Dv state, in shared memory with
 * row stride TILE.
 * ===================================================================================== */

/* S = src's columns (src [Dk,Dv], NULL: zeros). */
static void tile_load(float *S, const float *src, int Dk, int Dv, int j0, int w)
{
    for (int e = la_tid(); e < Dk * w; e += la_nthreads()) {
        const int i = e / w, jj = e % w;
        S[i * TILE + jj] = src ? src[(long long)i * Dv + j0 + jj] : 0.0f;
    }
}

/* dst's columns = S (or += S). */
static void tile_store(float *dst, const float *S, int Dk, int Dv, int j0, int w, int accumulate)
{
    for (int e = la_tid(); e < Dk * w; e += la_nthreads()) {
        const int i = e / w, jj = e % w;
        float *out = dst + (long long)i * Dv + j0 + jj;
        *out = accumulate ? *out + S[i * TILE + jj] : S[i * TILE + jj];
    }
}

/* Delta rule, forward: W = diag(beta) R with R = V - Kh S0 (tiles), then
 * U = Ti W. */
static void delta_values(const aak_linattn_args *p, const la_chunk *ch, const float *S0, int j0, int w, float *W,
                         float *U)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, Dv = p->Dv, tid = la_tid(), nt = la_nthreads();
    const float *b = ch->cw + p->lay.b, *Ti = ch->cw + p->lay.Ti;
    for (int e = tid; e < L * w; e += nt) {
        const int t = e / w, jj = e % w;
        const float *Kt = ch->K + t * Dk;
        float ks = 0.0f;
        for (int i = 0; i < Dk; i++) ks += (Kt[i] * la_decay(ch, b, Dk, t, i)) * S0[i * TILE + jj];
        W[t * TILE + jj] = ch->beta[t] * (ch->V[t * Dv + j0 + jj] - ks);
    }
    AAK_SYNC();
    for (int e = tid; e < L * w; e += nt) {
        const int t = e / w, jj = e % w;
        const float *Tit = Ti + t * C;
        float u = 0.0f;
        for (int s = 0; s <= t; s++) u += Tit[s] * W[s * TILE + jj];
        U[t * TILE + jj] = u;
    }
}

/* =====================================================================================
 * aak_linattn_fwd_state
 * ===================================================================================== */

/* One chunk of the forward walk; S holds the chunk-start state's tile and
 * leaves holding the chunk-end state's. */
static void fwd_chunk(const aak_linattn_args *p, const la_chunk *ch, int j0, int w, float *S, float *U, float *W)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, Dv = p->Dv, tid = la_tid(), nt = la_nthreads();
    const float *M = ch->cw + p->lay.M, *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    const long long row = (long long)ch->bh * p->T + ch->t0;
    if (p->delta) {
        delta_values(p, ch, S, j0, w, W, U);
    } else {
        for (int e = tid; e < L * w; e += nt) U[(e / w) * TILE + e % w] = ch->V[(e / w) * Dv + j0 + e % w];
    }
    AAK_SYNC();
    /* O = Qh S0 + M U */
    float *O = p->o + row * Dv;
    for (int e = tid; e < L * w; e += nt) {
        const int t = e / w, jj = e % w;
        const float *Qt = ch->Q + t * Dk, *Mt = M + t * C;
        float qs = 0.0f, mu = 0.0f;
        for (int i = 0; i < Dk; i++) qs += (Qt[i] * la_decay(ch, b, Dk, t, i)) * S[i * TILE + jj];
        for (int s = 0; s <= t; s++) mu += Mt[s] * U[s * TILE + jj];
        O[t * Dv + j0 + jj] = qs + mu;
    }
    AAK_SYNC();   /* every thread has read S */
    /* S = diag(b_{L-1}) S0 + KC^T U */
    for (int e = tid; e < Dk * w; e += nt) {
        const int i = e / w, jj = e % w;
        float kcu = 0.0f;
        for (int t = 0; t < L; t++) kcu += (ch->K[t * Dk + i] * la_decay(ch, c, Dk, t, i)) * U[t * TILE + jj];
        S[i * TILE + jj] = la_decay(ch, b, Dk, L - 1, i) * S[i * TILE + jj] + kcu;
    }
    AAK_SYNC();
}

AAK_KERNEL(aak_linattn_fwd_state, aak_linattn_args)
{
    AAK_SHARED float S[AAK_LA_MAX_DK * TILE];
    AAK_SHARED float U[AAK_LA_MAX_CHUNK * TILE];
    AAK_SHARED float W[AAK_LA_MAX_CHUNK * TILE];
    const long long SS = (long long)p.Dk * p.Dv;
    const int tiles = (p.Dv + TILE - 1) / TILE;
    for (int bh = (int)blockIdx.x; bh < p.B * p.H; bh += (int)gridDim.x)
        for (int tile = (int)blockIdx.y; tile < tiles; tile += (int)gridDim.y) {
            const int j0 = tile * TILE, w = la_min(TILE, p.Dv - j0);
            tile_load(S, p.s0 ? p.s0 + bh * SS : 0, p.Dk, p.Dv, j0, w);
            AAK_SYNC();
            for (int n = 0; n < p.n_chunks; n++) {
                const la_chunk ch = la_chunk_at(&p, bh, n);
                if (p.saved) tile_store(p.saved + la_state_at(&p, bh, n), S, p.Dk, p.Dv, j0, w, 0);
                fwd_chunk(&p, &ch, j0, w, S, U, W);
            }
            if (p.s_final) tile_store(p.s_final + bh * SS, S, p.Dk, p.Dv, j0, w, 0);
            AAK_SYNC();   /* before the next tile overwrites S */
        }
}

/* =====================================================================================
 * aak_linattn_bwd_state
 * ===================================================================================== */

/* One chunk of the backward walk; dS holds the gradient of the chunk-end
 * state's tile and leaves holding that of the chunk-start state. The walk
 * needs neither U nor R (aak_linattn_bwd_chunk recomputes those, chunks in
 * parallel), only the gradients flowing back through them. */
static void bwd_state_chunk(const aak_linattn_args *p, const la_chunk *ch, int j0, int w, float *dS, float *G,
                            float *W)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, Dv = p->Dv, tid = la_tid(), nt = la_nthreads();
    const float *M = ch->cw + p->lay.M, *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    const long long row = (long long)ch->bh * p->T + ch->t0;
    float *dv = p->dv ? p->dv + row * Dv : 0;
    if (p->want_chunk_grads) tile_store(p->dstates + la_state_at(p, ch->bh, ch->n), dS, Dk, Dv, j0, w, 0);
    /* G = dU = M^T dO + KC dS */
    for (int e = tid; e < L * w; e += nt) {
        const int t = e / w, jj = e % w;
        float mdo = 0.0f, kcds = 0.0f;
        for (int s = t; s < L; s++) mdo += M[s * C + t] * ch->dO[s * Dv + j0 + jj];
        for (int i = 0; i < Dk; i++) kcds += (ch->K[t * Dk + i] * la_decay(ch, c, Dk, t, i)) * dS[i * TILE + jj];
        G[t * TILE + jj] = mdo + kcds;
    }
    AAK_SYNC();
    if (p->delta) {
        /* W = dW = Ti^T dU; dR = diag(beta) dW is V's gradient */
        const float *Ti = ch->cw + p->lay.Ti;
        for (int e = tid; e < L * w; e += nt) {
            const int t = e / w, jj = e % w;
            float dw = 0.0f;
            for (int s = t; s < L; s++) dw += Ti[s * C + t] * G[s * TILE + jj];
            W[t * TILE + jj] = dw;
            if (p->want_chunk_grads) p->dwbuf[(row + t) * Dv + j0 + jj] = dw;
            if (dv) dv[t * Dv + j0 + jj] += ch->beta[t] * dw;
        }
        AAK_SYNC();
    } else if (dv) {
        for (int e = tid; e < L * w; e += nt) dv[(e / w) * Dv + j0 + e % w] += G[(e / w) * TILE + e % w];
    }
    /* dS0 = Qh^T dO + diag(b_{L-1}) dS - Kh^T dR (each thread reads its own dS element) */
    for (int e = tid; e < Dk * w; e += nt) {
        const int i = e / w, jj = e % w;
        float qdo = 0.0f;
        for (int t = 0; t < L; t++) qdo += (ch->Q[t * Dk + i] * la_decay(ch, b, Dk, t, i)) * ch->dO[t * Dv + j0 + jj];
        float acc = qdo + la_decay(ch, b, Dk, L - 1, i) * dS[i * TILE + jj];
        if (p->delta) {
            float kdr = 0.0f;
            for (int t = 0; t < L; t++)
                kdr += (ch->K[t * Dk + i] * la_decay(ch, b, Dk, t, i)) * (ch->beta[t] * W[t * TILE + jj]);
            acc -= kdr;
        }
        dS[i * TILE + jj] = acc;
    }
    AAK_SYNC();
}

AAK_KERNEL(aak_linattn_bwd_state, aak_linattn_args)
{
    AAK_SHARED float dS[AAK_LA_MAX_DK * TILE];
    AAK_SHARED float G[AAK_LA_MAX_CHUNK * TILE];
    AAK_SHARED float W[AAK_LA_MAX_CHUNK * TILE];
    const long long SS = (long long)p.Dk * p.Dv;
    const int tiles = (p.Dv + TILE - 1) / TILE;
    for (int bh = (int)blockIdx.x; bh < p.B * p.H; bh += (int)gridDim.x)
        for (int tile = (int)blockIdx.y; tile < tiles; tile += (int)gridDim.y) {
            const int j0 = tile * TILE, w = la_min(TILE, p.Dv - j0);
            tile_load(dS, p.ds_final ? p.ds_final + bh * SS : 0, p.Dk, p.Dv, j0, w);
            AAK_SYNC();
            for (int n = p.n_chunks - 1; n >= 0; n--) {
                const la_chunk ch = la_chunk_at(&p, bh, n);
                bwd_state_chunk(&p, &ch, j0, w, dS, G, W);
            }
            if (p.ds0) tile_store(p.ds0 + bh * SS, dS, p.Dk, p.Dv, j0, w, 1);
            AAK_SYNC();
        }
}

/* =====================================================================================
 * aak_linattn_bwd_chunk
 * ===================================================================================== */

/* The chunk's gradient workspace. */
typedef struct la_grads {
    float *dM, *dA;          /* C x C: dO U^T (lower), -(dW U^T) (strictly lower) */
    float *dQh, *dKh, *dKC;  /* C x Dk: dO S0^T, -dR S0^T, U dS^T */
    float *dG_last;          /* Dk: b_{L-1} .* rowsum(dS .* S0) */
    float *U, *R;            /* C x Dv (delta rule): U, and R = V - Kh S0 */
    const float *Urows;      /* the chunk's rows of U: U, or V for plain attention (stride Dv) */
    const float *dW;         /* the chunk's rows of dW (stride Dv) */
    const float *S0, *dS;    /* chunk-start state, chunk-end state gradient */
} la_grads;

static la_grads la_grads_at(const aak_linattn_args *p, const la_chunk *ch)
{
    la_grads gr;
    const int C = p->C, Dk = p->Dk;
    const long long row = (long long)ch->bh * p->T + ch->t0;
    float *base = p->bw + ((long long)ch->bh * p->n_chunks + ch->n) * aak_la_bw_stride(C, Dk, p->Dv, p->delta);
    gr.dM = base;
    gr.dA = base + C * C;
    gr.dQh = base + 2 * C * C;
    gr.dKh = gr.dQh + C * Dk;
    gr.dKC = gr.dKh + C * Dk;
    gr.dG_last = gr.dKC + C * Dk;
    gr.R = p->delta ? gr.dG_last + Dk : 0;
    gr.U = p->delta ? gr.R + C * p->Dv : 0;
    gr.Urows = p->delta ? gr.U : ch->V;
    gr.dW = p->delta ? p->dwbuf + row * p->Dv : 0;
    gr.S0 = p->saved_in + la_state_at(p, ch->bh, ch->n);
    gr.dS = p->dstates + la_state_at(p, ch->bh, ch->n);
    return gr;
}

/* Delta rule: R = V - Kh S0 and U = Ti diag(beta) R, as the forward had them. */
static void recompute_values(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, Dv = p->Dv, tid = la_tid(), nt = la_nthreads();
    const float *b = ch->cw + p->lay.b, *Ti = ch->cw + p->lay.Ti;
    for (int e = tid; e < L * Dv; e += nt) {
        const int t = e / Dv, j = e % Dv;
        const float *Kt = ch->K + t * Dk;
        float ks = 0.0f;
        for (int i = 0; i < Dk; i++) ks += (Kt[i] * la_decay(ch, b, Dk, t, i)) * gr->S0[(long long)i * Dv + j];
        gr->R[e] = ch->V[e] - ks;
    }
    AAK_SYNC();
    for (int e = tid; e < L * Dv; e += nt) {
        const int t = e / Dv, j = e % Dv;
        float u = 0.0f;
        for (int s = 0; s <= t; s++) u += Ti[t * C + s] * (ch->beta[s] * gr->R[s * Dv + j]);
        gr->U[e] = u;
    }
}

static inline int la_wants_dg(const aak_linattn_args *p) { return p->gate != AAK_LA_GATE_NONE && p->dg; }

/* The sums over the state's columns (the CPU's bwd_outputs and bwd_delta). */
static void grads_over_columns(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, Dv = p->Dv, tid = la_tid(), nt = la_nthreads();
    for (int e = tid; e < L * L; e += nt) {
        const int t = e / L, s = e % L;
        if (s > t) continue;
        gr->dM[t * C + s] = la_dot(ch->dO + t * Dv, gr->Urows + s * Dv, Dv);
        if (p->delta && s < t) gr->dA[t * C + s] = -la_dot(gr->dW + t * Dv, gr->Urows + s * Dv, Dv);
    }
    for (int e = tid; e < L * Dk; e += nt) {
        const int t = e / Dk, i = e % Dk;
        const float *S0i = gr->S0 + (long long)i * Dv;
        gr->dQh[e] = la_dot(ch->dO + t * Dv, S0i, Dv);
        gr->dKC[e] = la_dot(gr->Urows + t * Dv, gr->dS + (long long)i * Dv, Dv);
        if (p->delta) {   /* dKh = -dR S0^T, dR = diag(beta) dW */
            const float *dWt = gr->dW + t * Dv;
            float s = 0.0f;
            for (int j = 0; j < Dv; j++) s += (ch->beta[t] * dWt[j]) * S0i[j];
            gr->dKh[e] = -s;
        }
    }
    if (!la_wants_dg(p)) return;
    const float *b = ch->cw + p->lay.b;
    for (int i = tid; i < Dk; i += nt) {
        const long long r = (long long)i * Dv;
        gr->dG_last[i] = la_decay(ch, b, Dk, L - 1, i) * la_dot(gr->dS + r, gr->S0 + r, Dv);
    }
}

/* dbeta_t += dW[t].R[t] + sum_{s<t} dA[t,s] N[t,s]. */
static void grads_beta(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr)
{
    const int C = p->C, Dv = p->Dv;
    const float *N = ch->cw + p->lay.N;
    float *dbeta = p->dbeta + (long long)ch->bh * p->T + ch->t0;
    for (int t = la_tid(); t < ch->L; t += la_nthreads())
        dbeta[t] += la_dot(gr->dW + t * Dv, gr->R + t * Dv, Dv) + la_dot(gr->dA + t * C, N + t * C, t);
}

/* The part of dG_t = dL/dlog b_t that comes through Qh, Kh, KC and S0, at
 * channel i (kc_sum: sum_s dKC KC over the chunk, channel i; it and dG_last
 * belong to the last row). */
static inline float dG_scales(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr, int t, int i,
                              float kc_sum)
{
    const int Dk = p->Dk, e = t * Dk + i;
    const float *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    const float bt = la_decay(ch, b, Dk, t, i), ct = la_decay(ch, c, Dk, t, i);
    float dG = t == ch->L - 1 ? gr->dG_last[i] : 0.0f;
    dG += gr->dQh[e] * (ch->Q[e] * bt);
    if (p->delta) dG += gr->dKh[e] * (ch->K[e] * bt);
    dG -= gr->dKC[e] * (ch->K[e] * ct);
    if (t == ch->L - 1) dG += kc_sum;
    return dG;
}

/* sum_s dKC[s,i] KC[s,i] over the chunk. */
static inline float kc_sum_of(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr, int i)
{
    const int Dk = p->Dk;
    const float *c = ch->cw + p->lay.c;
    float sum = 0.0f;
    for (int s = 0; s < ch->L; s++) sum += gr->dKC[s * Dk + i] * (ch->K[s * Dk + i] * la_decay(ch, c, Dk, s, i));
    return sum;
}

/* Scalar (or no) gates: through M = (Q K^T).*D and N = (K K^T).*D with
 * F = dM.*D and E = dN.*D, dN = diag(beta) dA:
 *   dQ += F K,  dK += F^T Q + (E + E^T) K,
 *   dG_t += sum_{s<t} H[t,s] - sum_{s>t} H[s,t],  H = dM.*M + dN.*N,
 * then dg_r += sum_{t>=r} dG_t (dG summed over channels). */
static void grads_scalar(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr, float *dG_row)
{
    const int L = ch->L, C = p->C, Dk = p->Dk, tid = la_tid(), nt = la_nthreads();
    const float *D = ch->cw + p->lay.D, *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    const float *M = ch->cw + p->lay.M, *N = p->delta ? ch->cw + p->lay.N : 0;
    const long long row = (long long)ch->bh * p->T + ch->t0;
    float *dq = p->dq ? p->dq + row * Dk : 0, *dk = p->dk ? p->dk + row * Dk : 0;
    for (int e = tid; e < L * Dk; e += nt) {
        const int t = e / Dk, i = e % Dk;
        if (dq) {
            float f = 0.0f;
            for (int s = 0; s <= t; s++) f += (gr->dM[t * C + s] * D[t * C + s]) * ch->K[s * Dk + i];
            dq[e] += gr->dQh[e] * b[t] + f;
        }
        if (dk) {
            float acc = gr->dKC[e] * c[t];
            if (p->delta) acc += gr->dKh[e] * b[t];
            float f = 0.0f, es = 0.0f;
            for (int r = t; r < L; r++) f += (gr->dM[r * C + t] * D[r * C + t]) * ch->Q[r * Dk + i];
            if (p->delta) {
                for (int r = 0; r < t; r++)
                    es += ((ch->beta[t] * gr->dA[t * C + r]) * D[t * C + r]) * ch->K[r * Dk + i];
                for (int r = t + 1; r < L; r++)
                    es += ((ch->beta[r] * gr->dA[r * C + t]) * D[r * C + t]) * ch->K[r * Dk + i];
            }
            dk[e] += acc + f + es;
        }
    }
    if (!la_wants_dg(p)) return;
    for (int t = tid; t < L; t += nt) {
        float rowsum = 0.0f, h = 0.0f;
        for (int i = 0; i < Dk; i++) rowsum += dG_scales(p, ch, gr, t, i, t == L - 1 ? kc_sum_of(p, ch, gr, i) : 0.0f);
        for (int s = 0; s < t; s++) {   /* the diagonal adds and subtracts the same: skipped */
            h += gr->dM[t * C + s] * M[t * C + s];
            if (N) h += (ch->beta[t] * gr->dA[t * C + s]) * N[t * C + s];
        }
        for (int s = t + 1; s < L; s++) {
            h -= gr->dM[s * C + t] * M[s * C + t];
            if (N) h -= (ch->beta[s] * gr->dA[s * C + t]) * N[s * C + t];
        }
        dG_row[t] = h + rowsum;
    }
    AAK_SYNC();
    float *dg = p->dg + row;
    for (int r = tid; r < L; r += nt) {
        float run = 0.0f;
        for (int t = L - 1; t >= r; t--) run += dG_row[t];
        dg[r] += run;
    }
}

/* Channel gates, one thread per channel i, with the running products
 * P[s] = P[t,s,i] advanced down t (the CPU's bwd_scores_channel):
 *   dQM[t] = sum_{s<=t} dM[t,s] K[s,i] P,  dKN[t] = sum_{s<t} dN[t,s] K[s,i] P,
 *   dKkey[s] = sum_{t>=s} (dM[t,s] Q[t,i] + dN[t,s] K[t,i]) P,
 * then dQ, dK and dG of channel i, and dg_r += sum_{t>=r} dG_t. */
static void grads_channel(const aak_linattn_args *p, const la_chunk *ch, const la_grads *gr)
{
    const int L = ch->L, C = p->C, Dk = p->Dk;
    const float *a = ch->cw + p->lay.a, *b = ch->cw + p->lay.b, *c = ch->cw + p->lay.c;
    const long long row = (long long)ch->bh * p->T + ch->t0;
    for (int i = la_tid(); i < Dk; i += la_nthreads()) {
        float P[AAK_LA_MAX_CHUNK], dkey[AAK_LA_MAX_CHUNK], dqm[AAK_LA_MAX_CHUNK], dkn[AAK_LA_MAX_CHUNK];
        for (int t = 0; t < L; t++) {
            const float at = a[t * Dk + i], qt = ch->Q[t * Dk + i], kt = ch->K[t * Dk + i];
            const float beta = p->delta ? ch->beta[t] : 0.0f;
            const float *dMt = gr->dM + t * C, *dAt = gr->dA + t * C;
            float m_acc = 0.0f, n_acc = 0.0f;
            for (int s = 0; s < t; s++) {
                P[s] *= at;
                const float x = ch->K[s * Dk + i] * P[s], m = dMt[s], nn = p->delta ? beta * dAt[s] : 0.0f;
                m_acc += m * x;
                n_acc += nn * x;
                dkey[s] += (m * qt + nn * kt) * P[s];
            }
            P[t] = 1.0f;   /* s = t: no decay; N has no diagonal */
            dqm[t] = m_acc + dMt[t] * kt;
            dkn[t] = n_acc;
            dkey[t] = dMt[t] * qt;
        }
        for (int t = 0; t < L; t++) {
            const int e = t * Dk + i;
            if (p->dq) p->dq[row * Dk + e] += gr->dQh[e] * b[e] + dqm[t];
            if (p->dk) {
                float acc = gr->dKC[e] * c[e];
                if (p->delta) acc += gr->dKh[e] * b[e];
                p->dk[row * Dk + e] += acc + dkn[t] + dkey[t];
            }
        }
        if (!p->dg) continue;
        const float kc = kc_sum_of(p, ch, gr, i);
        float run = 0.0f;
        for (int t = L - 1; t >= 0; t--) {
            const int e = t * Dk + i;
            float dG = dG_scales(p, ch, gr, t, i, kc);
            dG += ch->Q[e] * dqm[t] + ch->K[e] * dkn[t] - ch->K[e] * dkey[t];
            run += dG;
            p->dg[row * Dk + e] += run;
        }
    }
}

AAK_KERNEL(aak_linattn_bwd_chunk, aak_linattn_args)
{
    AAK_SHARED float dG_row[AAK_LA_MAX_CHUNK];
    const int total = p.B * p.H * p.n_chunks;
    for (int blk = (int)blockIdx.x; blk < total; blk += (int)gridDim.x) {
        const la_chunk ch = la_chunk_at(&p, blk / p.n_chunks, blk % p.n_chunks);
        const la_grads gr = la_grads_at(&p, &ch);
        if (p.delta) {
            recompute_values(&p, &ch, &gr);
            AAK_SYNC();
        }
        grads_over_columns(&p, &ch, &gr);
        AAK_SYNC();
        if (p.delta && p.dbeta) grads_beta(&p, &ch, &gr);
        if (ch.channel) grads_channel(&p, &ch, &gr);
        else grads_scalar(&p, &ch, &gr, dG_row);
        AAK_SYNC();   /* dG_row is reused by the next chunk */
    }
}
