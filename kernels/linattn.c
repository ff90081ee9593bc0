/*
 * linattn.c — the generalised linear-attention op of kernels.h: DeltaNet,
 * Gated DeltaNet, GLA, RetNet and Mamba2-style recurrences in one kernel,
 * forward and backward, in a recurrent form (the reference) and a chunkwise
 * WY/UT form (the fast one). Both forms give the same results to float32
 * rounding; tests/test_linattn.c checks them against each other and against a
 * double-precision reference with finite differences.
 *
 * ---- the recurrence (per batch b, head h; S is Dk x Dv, starts at s0 or 0) ----
 *
 *     a_t = exp(g_t) * lambda_h       scalar (K_GATE_SCALAR, or lambda alone),
 *                                     or a vector over Dk (K_GATE_CHANNEL)
 *     S   = diag(a_t) S
 *     S   = S + k_t u_t^T,  u_t = beta_t (v_t - S^T k_t)   delta rule
 *                           u_t = v_t                      otherwise
 *     o_t = S^T q_t
 *
 * (the delta update (I - beta k k^T) S + beta k v^T is S + k u^T with u as
 * above). Gradients are wrt q, k, v, beta, g and s0; lambda is a constant.
 *
 * ---- the chunkwise form --------------------------------------------------------
 *
 * Inside a chunk of L <= C positions t = 0..L-1 with start state S0, let
 *     b_t    = prod_{r<=t} a_r              cumulative decay (vector over Dk)
 *     P[t,s] = prod_{s<r<=t} a_r = b_t/b_s  (t >= s; always <= 1)
 *     c_s    = P[L-1,s] = b_{L-1}/b_s
 * Writing S_t = diag(b_t) Z_t turns the recurrence into an undecayed delta
 * rule on Z with keys k/b (write side) and k*b (read side), whose WY/UT form is
 *     M[t,s] = sum_i Q[t,i] K[s,i] P[t,s,i]     t >= s (0 above the diagonal)
 *     N[t,s] = sum_i K[t,i] K[s,i] P[t,s,i]     t >  s
 *     Qh = Q*b, Kh = K*b, KC = K*c               (rows scaled per channel)
 *     delta: R = V - Kh S0, W = diag(beta) R,
 *            U = (I + A)^-1 W with A = diag(beta) N (unit lower triangular)
 *     plain: U = V
 *     O      = Qh S0 + M U
 *     S_L    = diag(b_{L-1}) S0 + KC^T U
 * Every decay factor is a product of a_r over a forward range, so we build
 * b, c and P by running products and never form 1/b (which overflows for
 * strongly negative gates); the products underflow gracefully to 0.
 * Scalar gates: P[t,s] is a scalar D[t,s], so M = (Q K^T) .* D and
 * N = (K K^T) .* D are GEMMs. Channel gates: M and N cost C^2 Dk multiply-adds
 * with a running product per (t, s) pair (channel_scores).
 *
 * Backward per chunk, in reverse chunk order. dS is the gradient of the chunk's
 * end state (ds_final, then the previous chunk's dS0), the forward
 * intermediates are recomputed from the saved chunk-start state:
 *     dU   = M^T dO + KC dS           dM  = dO U^T (lower)    dQh = dO S0^T
 *     dS0  = Qh^T dO + diag(b_{L-1}) dS                       dKC = U dS^T
 *   delta:
 *     dW   = (I + A)^-T dU            dA  = -(dW U^T) (strictly lower)
 *     dbeta_t += dW[t].R[t] + sum_s dA[t,s] N[t,s]            dN  = diag(beta) dA
 *     dR   = diag(beta) dW            dV += dR
 *     dKh  = -dR S0^T                 dS0 -= Kh^T dR
 *   plain: dV += dU
 * then into Q, K and G_t = log b_t (per channel), from
 *     Qh, Kh: dQ += dQh*b,  dG += dQh*Qh  (same for K)
 *     KC:     dK += dKC*c,  dG_s -= dKC*KC, dG_{L-1} += sum_s dKC*KC
 *     M:      dQ[t] += sum_s dM[t,s] K[s]*P[t,s] =: dQM[t], dG_t += Q[t]*dQM[t]
 *             dK[s] += sum_t dM[t,s] Q[t]*P[t,s] =: dKM[s], dG_s -= K[s]*dKM[s]
 *     N:      the same with Q -> K
 *     S0:     dG_{L-1,i} += b_{L-1,i} sum_j dS[i,j] S0[i,j]
 * and finally dg_r = sum_{t >= r in the chunk} dG_t (summed over channels for
 * scalar gates), because G_t = sum_{r<=t} (g_r + log lambda).
 *
 * ---- memory ---------------------------------------------------------------------
 *
 * saved: the state at the start of every chunk (recurrent form: every
 *   REC_SEGMENT steps), B*H*ceil(T/C)*Dk*Dv floats. The backward recomputes
 *   everything else from it: one extra chunk forward (or REC_SEGMENT recurrent
 *   steps) per chunk.
 *   For B=8, H=8, T=2048, Dk=Dv=32, C=64: 2.1M floats (8.4 MB). The forward
 *   accepts saved == NULL (inference, no backward to follow).
 * scratch: one slice per OpenMP thread (omp_get_max_threads() at the call,
 *   the count k_linattn_scratch_floats must have been given), sized for the
 *   larger of the forward and backward workspaces (chunk_ws / rec_ws below):
 *   6 C^2 + 16 C Dk + 3 C Dv + 3 Dk Dv floats for the chunk form (266 KB at
 *   C=64, Dk=Dv=32), (REC_SEGMENT + 2) Dk Dv floats for the recurrent form
 *   (271 KB at Dk=Dv=32). Nothing is allocated inside the op.
 *
 * ---- parallelism and numerics -----------------------------------------------------
 *
 * One (batch, head) pair per loop iteration, static split, each pair's output
 * and gradient slices written by one thread only, BLAS called single-threaded
 * from inside the parallel region (OpenBLAS' OpenMP build does that by
 * itself): results do not depend on the number of threads. Denormals are
 * flushed to zero inside the op (x86 MXCSR, restored on exit), since decays
 * that underflow would otherwise crawl through the slow denormal path.
 * Element loops are `omp simd` (GCC leaves them scalar at -O2 otherwise), exp
 * is a vectorisable polynomial (exp_simd), and the C^2 Dk loops of channel
 * gates work on four rows at a time to avoid store-to-load stalls.
 * Where the time goes (C=64, Dk=Dv=32): ~85% in OpenBLAS sgemm/strsm for
 * scalar or no gates; the channel-gate score loops add ~25%.
 */
#include "kernels.h"
#include "kmath.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

/* Checkpoint interval of the recurrent form's backward. */
#define REC_SEGMENT 64
/* Workspace pieces start on 64-byte boundaries (relative to the slice). */
#define ALIGN_FLOATS 16
/* Floats per SIMD vector (AVX-512); loops padded to it skip the scalar tail. */
#define VEC_FLOATS 16

/* ---- shapes and sizes ----------------------------------------------------------- */

static int segment_len(const k_linattn_cfg *c) { return c->chunk > 0 ? c->chunk : REC_SEGMENT; }
static int n_segments(const k_linattn_cfg *c)
{
    return (c->T + segment_len(c) - 1) / segment_len(c);
}
static size_t state_floats(const k_linattn_cfg *c) { return (size_t)c->Dk * c->Dv; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

size_t k_linattn_saved_floats(const k_linattn_cfg *c)
{
    return (size_t)c->B * c->H * n_segments(c) * state_floats(c);
}

/* A bump allocator over a scratch slice; with base == NULL it only counts. */
typedef struct bump { float *base; size_t used; } bump;

static float *take(bump *b, size_t n)
{
    float *p = b->base ? b->base + b->used : NULL;
    b->used += (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return p;
}

/* Workspace of the recurrent form. */
typedef struct rec_ws {
    float *S, *dS;     /* Dk x Dv: running state, its gradient */
    float *states;     /* REC_SEGMENT x Dk x Dv: states recomputed in backward */
    float *u, *w, *du, *dw; /* Dv */
    float *a;          /* Dk: decay of the current step */
    float *dk;         /* Dk: this step's key gradient, added to the output once */
} rec_ws;

static size_t rec_ws_carve(const k_linattn_cfg *c, float *base, rec_ws *ws)
{
    bump b = {base, 0};
    ws->S = take(&b, state_floats(c));
    ws->dS = take(&b, state_floats(c));
    ws->states = take(&b, (size_t)REC_SEGMENT * state_floats(c));
    ws->u = take(&b, c->Dv);
    ws->w = take(&b, c->Dv);
    ws->du = take(&b, c->Dv);
    ws->dw = take(&b, c->Dv);
    ws->a = take(&b, c->Dk);
    ws->dk = take(&b, c->Dk);
    return b.used;
}

/* Workspace of the chunkwise form. C x C matrices have leading dimension C,
 * row blocks (C x Dk, C x Dv) their row length; only L <= C rows are used. */
typedef struct chunk_ws {
    float *S, *dS, *dS_prev;     /* Dk x Dv */
    float *a_pos, *b_pos, *c_pos; /* C: scalar decays a_t, b_t, c_t */
    float *a, *b, *c;            /* C x Dk: per channel (b, c also for scalar gates) */
    float *D;                    /* C x C: P for scalar gates (lower) */
    float *M, *N, *A;            /* C x C: scores, key-key scores, diag(beta) N */
    float *Qh, *Kh, *KC;         /* C x Dk: Q*b, K*b, K*c */
    float *R, *Ubuf;             /* C x Dv: V - Kh S0, U (delta) */
    const float *U;              /* Ubuf (delta) or the chunk's rows of V */
    float *P;                    /* C x Dk: running products (channel gates) */
    /* backward only */
    float *dU, *dM, *dA;         /* C x Dv, C x C, C x C */
    float *dQh, *dKh, *dKC, *dQ, *dK, *dQM, *dKN, *dKkey, *dG; /* C x Dk */
    float *dGs, *run;            /* C: scalar-gate dG; Dk: running sum */
} chunk_ws;

static size_t chunk_ws_carve(const k_linattn_cfg *c, float *base, chunk_ws *ws)
{
    const size_t C = (size_t)c->chunk, Dk = c->Dk, Dv = c->Dv;
    bump b = {base, 0};
    ws->S = take(&b, Dk * Dv);
    ws->dS = take(&b, Dk * Dv);
    ws->dS_prev = take(&b, Dk * Dv);
    ws->a_pos = take(&b, C);
    ws->b_pos = take(&b, C);
    ws->c_pos = take(&b, C);
    ws->a = take(&b, C * Dk);
    ws->b = take(&b, C * Dk);
    ws->c = take(&b, C * Dk);
    ws->D = take(&b, C * C);
    ws->M = take(&b, C * C);
    ws->N = take(&b, C * C);
    ws->A = take(&b, C * C);
    ws->Qh = take(&b, C * Dk);
    ws->Kh = take(&b, C * Dk);
    ws->KC = take(&b, C * Dk);
    ws->R = take(&b, C * Dv);
    ws->Ubuf = take(&b, C * Dv);
    ws->U = NULL;
    ws->P = take(&b, C * Dk);
    ws->dU = take(&b, C * Dv);
    ws->dM = take(&b, C * C);
    ws->dA = take(&b, C * C);
    ws->dQh = take(&b, C * Dk);
    ws->dKh = take(&b, C * Dk);
    ws->dKC = take(&b, C * Dk);
    ws->dQ = take(&b, C * Dk);
    ws->dK = take(&b, C * Dk);
    ws->dQM = take(&b, C * Dk);
    ws->dKN = take(&b, C * Dk);
    ws->dKkey = take(&b, C * Dk);
    ws->dG = take(&b, C * Dk);
    ws->dGs = take(&b, C);
    ws->run = take(&b, Dk);
    return b.used;
}

static size_t per_thread_floats(const k_linattn_cfg *c)
{
    rec_ws r;
    chunk_ws w;
    return c->chunk > 0 ? chunk_ws_carve(c, NULL, &w) : rec_ws_carve(c, NULL, &r);
}

size_t k_linattn_scratch_floats(const k_linattn_cfg *c, int nthreads)
{
    return (size_t)(nthreads > 0 ? nthreads : 1) * per_thread_floats(c);
}

/* ---- one (batch, head) pair --------------------------------------------------------- */

/* Pointers into one head's slices; gradient outputs may be NULL (skipped). */
typedef struct head {
    const float *q, *k, *v, *beta, *g, *s0;
    float lambda;                /* 1 when cfg->lambda is NULL */
    float *o, *s_final, *save_to; /* forward */
    const float *saved;          /* backward: states saved by the forward */
    const float *d_o, *ds_final;
    float *dq, *dk, *dv, *dbeta, *dg, *ds0;
} head;

static head head_inputs(const k_linattn_cfg *c, int bh, const float *q, const float *k,
                        const float *v, const float *beta, const float *g, const float *s0)
{
    const size_t T = c->T, Dk = c->Dk, Dv = c->Dv, S = state_floats(c);
    const size_t gstride = c->gate == K_GATE_CHANNEL ? T * Dk : T;
    head h;
    memset(&h, 0, sizeof h);
    h.q = q + bh * T * Dk;
    h.k = k + bh * T * Dk;
    h.v = v + bh * T * Dv;
    h.beta = c->delta ? beta + bh * T : NULL;
    h.g = c->gate != K_GATE_NONE ? g + bh * gstride : NULL;
    h.s0 = s0 ? s0 + bh * S : NULL;
    h.lambda = c->lambda ? c->lambda[bh % c->H] : 1.0f;
    return h;
}

/* Offset p by n floats, keeping NULL as NULL. */
static float *at(float *p, size_t n) { return p ? p + n : NULL; }
static const float *cat(const float *p, size_t n) { return p ? p + n : NULL; }

/* ---- denormals ------------------------------------------------------------------------ */

static unsigned flush_denormals(void)
{
#ifdef HAVE_MXCSR
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040); /* FTZ | DAZ */
    return csr;
#else
    return 0;
#endif
}

static void restore_denormals(unsigned csr)
{
#ifdef HAVE_MXCSR
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

/* ---- vector helpers ---------------------------------------------------------------
 * Short loops over a row (Dk, Dv or a chunk's positions). `omp simd` makes GCC
 * vectorise them at -O2, whose cost model otherwise leaves them scalar. */

static float dot(const float *x, const float *y, int n)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += x[j] * y[j];
    return s;
}

static float sum(const float *x, int n)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += x[j];
    return s;
}

/* y += alpha x */
static void axpy(float *restrict y, float alpha, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] += alpha * x[j];
}

/* y = alpha x */
static void scaled_copy(float *restrict y, float alpha, const float *restrict x, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] = alpha * x[j];
}

static void scale(float *x, float alpha, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++) x[j] *= alpha;
}

static void fill(float *x, float value, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++) x[j] = value;
}

/* y = x .* f */
static void mul(float *restrict y, const float *restrict x, const float *restrict f, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] = x[j] * f[j];
}

/* x .*= f */
static void mul_inplace(float *restrict x, const float *restrict f, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++) x[j] *= f[j];
}

/* y += x .* f */
static void add_mul(float *restrict y, const float *restrict x, const float *restrict f, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] += x[j] * f[j];
}

/* y -= x .* f */
static void sub_mul(float *restrict y, const float *restrict x, const float *restrict f, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] -= x[j] * f[j];
}


/* Decays a = exp(g) * lambda. */
static void decays_of(float *restrict a, const float *restrict g, float lambda, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++) a[j] = fast_expf(g[j]) * lambda;
}

/* ======================================================================================
 * Recurrent form
 * ====================================================================================== */

/* Decay of step t into a[0] (scalar gate, lambda alone, none) or a[0..Dk)
 * (channel); returns 0 when there is no decay at all (a[0] = 1). */
static int step_decay(const k_linattn_cfg *c, const head *hd, int t, float *a)
{
    if (c->gate == K_GATE_CHANNEL) {
        decays_of(a, hd->g + (size_t)t * c->Dk, hd->lambda, c->Dk);
    } else if (c->gate == K_GATE_SCALAR) {
        a[0] = fast_expf(hd->g[t]) * hd->lambda;
    } else {
        a[0] = hd->lambda;
    }
    return c->gate != K_GATE_NONE || hd->lambda != 1.0f;
}

static float decay_of_row(const k_linattn_cfg *c, const float *a, int i)
{
    return c->gate == K_GATE_CHANNEL ? a[i] : a[0];
}

/* One step of the recurrence, in place on S; u receives the written value. */
static void rec_step(const k_linattn_cfg *c, const head *hd, int t, float *S, float *u, float *a)
{
    const int Dk = c->Dk, Dv = c->Dv;
    const float *kt = hd->k + (size_t)t * Dk, *vt = hd->v + (size_t)t * Dv;
    if (step_decay(c, hd, t, a))
        for (int i = 0; i < Dk; i++) scale(S + (size_t)i * Dv, decay_of_row(c, a, i), Dv);
    if (c->delta) {
        const float beta = hd->beta[t];
        memset(u, 0, sizeof(float) * Dv);
        for (int i = 0; i < Dk; i++) axpy(u, kt[i], S + (size_t)i * Dv, Dv); /* S^T k */
        for (int j = 0; j < Dv; j++) u[j] = beta * (vt[j] - u[j]);
    } else {
        memcpy(u, vt, sizeof(float) * Dv);
    }
    for (int i = 0; i < Dk; i++) axpy(S + (size_t)i * Dv, kt[i], u, Dv);
}

static void rec_fwd_head(const k_linattn_cfg *c, const head *hd, rec_ws *ws)
{
    const int Dk = c->Dk, Dv = c->Dv;
    const size_t SS = state_floats(c);
    if (hd->s0) memcpy(ws->S, hd->s0, sizeof(float) * SS);
    else memset(ws->S, 0, sizeof(float) * SS);
    for (int t = 0; t < c->T; t++) {
        if (t % REC_SEGMENT == 0 && hd->save_to)
            memcpy(hd->save_to + (size_t)(t / REC_SEGMENT) * SS, ws->S, sizeof(float) * SS);
        rec_step(c, hd, t, ws->S, ws->u, ws->a);
        float *o = hd->o + (size_t)t * Dv;
        const float *q = hd->q + (size_t)t * Dk;
        memset(o, 0, sizeof(float) * Dv);
        for (int i = 0; i < Dk; i++) axpy(o, q[i], ws->S + (size_t)i * Dv, Dv); /* S^T q */
    }
    if (hd->s_final) memcpy(hd->s_final, ws->S, sizeof(float) * SS);
}

/* Backward of step t. S is the state before the step (S_{t-1}); ws->dS holds
 * the gradient of the state after it and leaves holding that of S_{t-1}.
 * With Sp = diag(a) S and S_t = Sp + k u^T:
 *   dq += S_t do;  dS += q do^T;  dk += dS u;  du = dS^T k;
 *   delta (u = beta (v - Sp^T k)): dbeta += du.(v - w), dv += beta du,
 *         dw = -beta du, dk += Sp dw, dSp = dS + k dw^T;  plain: dv += du
 *   dg_i = sum_j dSp[i,j] Sp[i,j];  dS_{t-1} = diag(a) dSp. */
static void rec_step_bwd(const k_linattn_cfg *c, const head *hd, int t, const float *S,
                         rec_ws *ws)
{
    const int Dk = c->Dk, Dv = c->Dv;
    const size_t tk = (size_t)t * Dk, tv = (size_t)t * Dv;
    const float *q = hd->q + tk, *k = hd->k + tk, *v = hd->v + tv, *d_o = hd->d_o + tv;
    float *a = ws->a, *u = ws->u, *w = ws->w, *du = ws->du, *dw = ws->dw, *dS = ws->dS;
    float *dq = at(hd->dq, tk), *dk = hd->dk ? ws->dk : NULL;
    const int decays = step_decay(c, hd, t, a);

    /* Recompute w = Sp^T k and u. */
    if (c->delta) {
        memset(w, 0, sizeof(float) * Dv);
        for (int i = 0; i < Dk; i++)
            axpy(w, k[i] * decay_of_row(c, a, i), S + (size_t)i * Dv, Dv);
        for (int j = 0; j < Dv; j++) u[j] = hd->beta[t] * (v[j] - w[j]);
    } else {
        memcpy(u, v, sizeof(float) * Dv);
    }
    /* Output o = S_t^T q. */
    if (dq) {
        const float u_do = dot(u, d_o, Dv);
        for (int i = 0; i < Dk; i++)
            dq[i] += decay_of_row(c, a, i) * dot(S + (size_t)i * Dv, d_o, Dv) + k[i] * u_do;
    }
    /* Write S_t = Sp + k u^T. */
    memset(du, 0, sizeof(float) * Dv);
    if (dk) memset(dk, 0, sizeof(float) * Dk);
    for (int i = 0; i < Dk; i++) {
        float *row = dS + (size_t)i * Dv;
        axpy(row, q[i], d_o, Dv);
        axpy(du, k[i], row, Dv);
        if (dk) dk[i] += dot(row, u, Dv);
    }
    if (c->delta) {
        const float beta = hd->beta[t];
        float dbeta = 0;
        for (int j = 0; j < Dv; j++) {
            dbeta += du[j] * (v[j] - w[j]);
            dw[j] = -beta * du[j];
        }
        if (hd->dbeta) hd->dbeta[t] += dbeta;
        if (hd->dv) axpy(hd->dv + tv, beta, du, Dv);
        for (int i = 0; i < Dk; i++) {
            if (dk) dk[i] += decay_of_row(c, a, i) * dot(S + (size_t)i * Dv, dw, Dv);
            axpy(dS + (size_t)i * Dv, k[i], dw, Dv);
        }
    } else if (hd->dv) {
        axpy(hd->dv + tv, 1.0f, du, Dv);
    }
    if (dk) axpy(hd->dk + tk, 1.0f, dk, Dk);
    /* Decay Sp = diag(a) S_{t-1}. */
    if (!decays) return;
    float dg_scalar = 0;
    for (int i = 0; i < Dk; i++) {
        float *row = dS + (size_t)i * Dv;
        const float ai = decay_of_row(c, a, i);
        const float dgi = ai * dot(row, S + (size_t)i * Dv, Dv);
        if (c->gate == K_GATE_CHANNEL && hd->dg) hd->dg[tk + i] += dgi;
        dg_scalar += dgi;
        scale(row, ai, Dv);
    }
    if (c->gate == K_GATE_SCALAR && hd->dg) hd->dg[t] += dg_scalar;
}

static void rec_bwd_head(const k_linattn_cfg *c, const head *hd, rec_ws *ws)
{
    const size_t SS = state_floats(c);
    if (hd->ds_final) memcpy(ws->dS, hd->ds_final, sizeof(float) * SS);
    else memset(ws->dS, 0, sizeof(float) * SS);
    for (int seg = n_segments(c) - 1; seg >= 0; seg--) {
        const int t0 = seg * REC_SEGMENT, L = imin(REC_SEGMENT, c->T - t0);
        /* states[r] = state before step t0 + r, recomputed from the checkpoint. */
        memcpy(ws->states, hd->saved + (size_t)seg * SS, sizeof(float) * SS);
        for (int r = 0; r + 1 < L; r++) {
            float *next = ws->states + (size_t)(r + 1) * SS;
            memcpy(next, ws->states + (size_t)r * SS, sizeof(float) * SS);
            rec_step(c, hd, t0 + r, next, ws->u, ws->a);
        }
        for (int r = L - 1; r >= 0; r--)
            rec_step_bwd(c, hd, t0 + r, ws->states + (size_t)r * SS, ws);
    }
    if (hd->ds0) axpy(hd->ds0, 1.0f, ws->dS, (int)SS);
}

/* ======================================================================================
 * Chunkwise form
 * ====================================================================================== */

/* Row-major GEMM shorthand: C = alpha op(A) op(B) + beta C. */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* One chunk: positions t0 .. t0+L-1 of a head. */
typedef struct chunk {
    int t0, L;
    const float *Q, *K, *V, *beta, *g; /* the chunk's rows (beta, g may be NULL) */
} chunk;

static chunk chunk_at(const k_linattn_cfg *c, const head *hd, int t0)
{
    const size_t Dk = c->Dk;
    chunk ch = {t0, imin(c->chunk, c->T - t0), hd->q + t0 * Dk, hd->k + t0 * Dk,
                hd->v + (size_t)t0 * c->Dv, cat(hd->beta, t0), NULL};
    if (hd->g) ch.g = hd->g + (c->gate == K_GATE_CHANNEL ? t0 * Dk : (size_t)t0);
    return ch;
}

/* Scalar decays: a_t, b_t = prod_{r<=t} a_r, c_t = b_{L-1}/b_t, the lower
 * triangle D[t,s] = b_t/b_s (row t = row t-1 times a_t), and b, c broadcast
 * over channels. */
static void scalar_decays(const k_linattn_cfg *c, const head *hd, const chunk *ch, chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk;
    if (ch->g) decays_of(ws->a_pos, ch->g, hd->lambda, L);
    else fill(ws->a_pos, hd->lambda, L);
    float run = 1;
    for (int t = 0; t < L; t++) ws->b_pos[t] = run *= ws->a_pos[t];
    ws->c_pos[L - 1] = 1;
    for (int t = L - 2; t >= 0; t--) ws->c_pos[t] = ws->c_pos[t + 1] * ws->a_pos[t + 1];
    for (int t = 0; t < L; t++) {
        float *Dt = ws->D + (size_t)t * C;
        if (t) scaled_copy(Dt, ws->a_pos[t], Dt - C, t); /* row t-1 times a_t */
        Dt[t] = 1;
        fill(Dt + t + 1, 0, L - t - 1);
        fill(ws->b + (size_t)t * Dk, ws->b_pos[t], Dk);
        fill(ws->c + (size_t)t * Dk, ws->c_pos[t], Dk);
    }
}

/* Channel decays: a[t,i], b[t,i] = prod_{r<=t} a[r,i], c[t,i] = b[L-1,i]/b[t,i]. */
static void channel_decays(const k_linattn_cfg *c, const head *hd, const chunk *ch,
                           chunk_ws *ws)
{
    const int L = ch->L, Dk = c->Dk;
    decays_of(ws->a, ch->g, hd->lambda, L * Dk);
    memcpy(ws->b, ws->a, sizeof(float) * Dk);
    for (int t = 1; t < L; t++)
        mul(ws->b + (size_t)t * Dk, ws->b + (size_t)(t - 1) * Dk, ws->a + (size_t)t * Dk, Dk);
    fill(ws->c + (size_t)(L - 1) * Dk, 1, Dk);
    for (int t = L - 2; t >= 0; t--)
        mul(ws->c + (size_t)t * Dk, ws->c + (size_t)(t + 1) * Dk, ws->a + (size_t)(t + 1) * Dk, Dk);
}

/* Scalar gates: M = (Q K^T) .* D (lower, zero above), N = (K K^T) .* D
 * (strictly lower; only read there). */
static void scalar_scores(const k_linattn_cfg *c, const chunk *ch, chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk;
    gemm(0, 1, L, L, Dk, 1, ch->Q, Dk, ch->K, Dk, 0, ws->M, C);
    if (c->delta)
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, L, Dk, 1, ch->K, Dk, 0, ws->N, C);
    for (int t = 0; t < L; t++) {
        float *Mt = ws->M + (size_t)t * C, *Nt = ws->N + (size_t)t * C;
        const float *Dt = ws->D + (size_t)t * C;
        mul_inplace(Mt, Dt, L); /* D is 0 above the diagonal: this also masks M */
        if (c->delta) mul_inplace(Nt, Dt, t);
    }
}

/* Channel gates, one row t of M and N: advance four rows i..i+3 of XT (see
 * channel_scores) by their decays a_t,i and add their terms to M[t,s] and
 * N[t,s], s < n. Four channels per pass, because M[t,:] is read and written
 * once per pass and the loop is otherwise bound by that store-to-load
 * latency. */
static void channel_scores_4(int n, int C, int delta, float *restrict x, const float *a,
                             const float *q, const float *k, float *restrict Mt,
                             float *restrict Nt)
{
    float *restrict x0 = x, *restrict x1 = x + C, *restrict x2 = x + 2 * C,
                    *restrict x3 = x + 3 * C;
    if (delta) {
#pragma omp simd
        for (int s = 0; s < n; s++) {
            const float y0 = x0[s] * a[0], y1 = x1[s] * a[1], y2 = x2[s] * a[2],
                        y3 = x3[s] * a[3];
            x0[s] = y0, x1[s] = y1, x2[s] = y2, x3[s] = y3;
            Mt[s] += q[0] * y0 + q[1] * y1 + q[2] * y2 + q[3] * y3;
            Nt[s] += k[0] * y0 + k[1] * y1 + k[2] * y2 + k[3] * y3;
        }
    } else {
#pragma omp simd
        for (int s = 0; s < n; s++) {
            const float y0 = x0[s] * a[0], y1 = x1[s] * a[1], y2 = x2[s] * a[2],
                        y3 = x3[s] * a[3];
            x0[s] = y0, x1[s] = y1, x2[s] = y2, x3[s] = y3;
            Mt[s] += q[0] * y0 + q[1] * y1 + q[2] * y2 + q[3] * y3;
        }
    }
}

/* The same for a single channel (the Dk % 4 left over). */
static void channel_scores_1(int n, int delta, float *restrict x, float a, float q, float k,
                             float *restrict Mt, float *restrict Nt)
{
#pragma omp simd
    for (int s = 0; s < n; s++) {
        const float y = x[s] * a;
        x[s] = y;
        Mt[s] += q * y;
        if (delta) Nt[s] += k * y;
    }
}

/* Channel gates: M[t,s] = sum_i Q[t,i] X[s,i], N[t,s] = sum_i K[t,i] X[s,i]
 * with X[s,i] = K[s,i] P[t,s,i]. X is kept transposed (XT[i][s], in ws->P)
 * and advanced by one decay per row t, so the inner loops run over s,
 * contiguous, without reductions. */
static void channel_scores(const k_linattn_cfg *c, const chunk *ch, chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk;
    float *XT = ws->P;
    /* Columns s >= t of XT are zero until row t reaches them, so the loops
     * over s may run on to a whole number of vectors (no scalar tail) and
     * only add zeros to M and N there. */
    memset(XT, 0, sizeof(float) * Dk * C);
    for (int t = 0; t < L; t++) {
        float *Mt = ws->M + (size_t)t * C, *Nt = ws->N + (size_t)t * C;
        const float *a = ws->a + (size_t)t * Dk, *q = ch->Q + (size_t)t * Dk,
                    *k = ch->K + (size_t)t * Dk;
        const int t_vec = imin(C, (t + VEC_FLOATS - 1) / VEC_FLOATS * VEC_FLOATS);
        fill(Mt, 0, imax(L, t_vec));
        if (c->delta) fill(Nt, 0, imax(L, t_vec));
        int i = 0;
        for (; i + 4 <= Dk; i += 4)
            channel_scores_4(t_vec, C, c->delta, XT + (size_t)i * C, a + i, q + i, k + i, Mt, Nt);
        for (; i < Dk; i++)
            channel_scores_1(t_vec, c->delta, XT + (size_t)i * C, a[i], q[i], k[i], Mt, Nt);
        /* s = t: P = 1; N has no diagonal. */
        for (i = 0; i < Dk; i++) XT[(size_t)i * C + t] = k[i];
        Mt[t] = dot(q, k, Dk);
    }
}

/* Everything the forward and the backward of a chunk share, from its start
 * state S0: decays, Qh, Kh, KC, M, N, A, R and U. */
static void chunk_prepare(const k_linattn_cfg *c, const head *hd, const chunk *ch,
                          const float *S0, chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk, Dv = c->Dv;
    if (c->gate == K_GATE_CHANNEL) {
        channel_decays(c, hd, ch, ws);
        channel_scores(c, ch, ws);
    } else {
        scalar_decays(c, hd, ch, ws);
        scalar_scores(c, ch, ws);
    }
    const size_t n = (size_t)L * Dk;
    mul(ws->Qh, ch->Q, ws->b, n);
    mul(ws->Kh, ch->K, ws->b, n);
    mul(ws->KC, ch->K, ws->c, n);
    if (!c->delta) {
        ws->U = ch->V;
        return;
    }
    /* A = diag(beta) N; R = V - Kh S0; U = (I + A)^-1 diag(beta) R. */
    for (int t = 0; t < L; t++)
        scaled_copy(ws->A + (size_t)t * C, ch->beta[t], ws->N + (size_t)t * C, t);
    memcpy(ws->R, ch->V, sizeof(float) * L * Dv);
    gemm(0, 0, L, Dv, Dk, -1, ws->Kh, Dk, S0, Dv, 1, ws->R, Dv);
    for (int t = 0; t < L; t++)
        scaled_copy(ws->Ubuf + (size_t)t * Dv, ch->beta[t], ws->R + (size_t)t * Dv, Dv);
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasUnit, L, Dv, 1, ws->A,
                C, ws->Ubuf, Dv);
    ws->U = ws->Ubuf;
}

static void chunk_fwd_head(const k_linattn_cfg *c, const head *hd, chunk_ws *ws)
{
    const int C = c->chunk, Dk = c->Dk, Dv = c->Dv;
    const size_t SS = state_floats(c);
    float *S = ws->S;
    if (hd->s0) memcpy(S, hd->s0, sizeof(float) * SS);
    else memset(S, 0, sizeof(float) * SS);
    for (int t0 = 0; t0 < c->T; t0 += C) {
        const chunk ch = chunk_at(c, hd, t0);
        const int L = ch.L;
        if (hd->save_to) memcpy(hd->save_to + (size_t)(t0 / C) * SS, S, sizeof(float) * SS);
        chunk_prepare(c, hd, &ch, S, ws);
        /* O = Qh S0 + M U */
        float *O = hd->o + (size_t)t0 * Dv;
        gemm(0, 0, L, Dv, Dk, 1, ws->Qh, Dk, S, Dv, 0, O, Dv);
        gemm(0, 0, L, Dv, L, 1, ws->M, C, ws->U, Dv, 1, O, Dv);
        /* S = diag(b_{L-1}) S0 + KC^T U */
        const float *b_last = ws->b + (size_t)(L - 1) * Dk;
        for (int i = 0; i < Dk; i++) scale(S + (size_t)i * Dv, b_last[i], Dv);
        gemm(1, 0, Dk, Dv, L, 1, ws->KC, Dk, ws->U, Dv, 1, S, Dv);
    }
    if (hd->s_final) memcpy(hd->s_final, S, sizeof(float) * SS);
}

/* Does the backward need dG (the gradient wrt the cumulative log gates)? */
static int wants_dg(const k_linattn_cfg *c, const head *hd)
{
    return c->gate != K_GATE_NONE && hd->dg;
}

/* Backward through O = Qh S0 + M U and S_L = diag(b_{L-1}) S0 + KC^T U:
 * dU, dM, dQh, dKC, dS_prev (= dS0) and the S0 term of dG. */
static void bwd_outputs(const k_linattn_cfg *c, const head *hd, const chunk *ch,
                        const float *S0, chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk, Dv = c->Dv;
    const float *dO = hd->d_o + (size_t)ch->t0 * Dv, *dS = ws->dS;
    gemm(1, 0, L, Dv, L, 1, ws->M, C, dO, Dv, 0, ws->dU, Dv);
    gemm(0, 0, L, Dv, Dk, 1, ws->KC, Dk, dS, Dv, 1, ws->dU, Dv);
    gemm(0, 1, L, L, Dv, 1, dO, Dv, ws->U, Dv, 0, ws->dM, C);
    gemm(0, 1, L, Dk, Dv, 1, dO, Dv, S0, Dv, 0, ws->dQh, Dk);
    gemm(0, 1, L, Dk, Dv, 1, ws->U, Dv, dS, Dv, 0, ws->dKC, Dk);
    gemm(1, 0, Dk, Dv, L, 1, ws->Qh, Dk, dO, Dv, 0, ws->dS_prev, Dv);
    const float *b_last = ws->b + (size_t)(L - 1) * Dk;
    float *dG_last = ws->dG + (size_t)(L - 1) * Dk;
    for (int i = 0; i < Dk; i++) {
        const float *dSi = dS + (size_t)i * Dv;
        axpy(ws->dS_prev + (size_t)i * Dv, b_last[i], dSi, Dv);
        if (wants_dg(c, hd)) dG_last[i] += b_last[i] * dot(dSi, S0 + (size_t)i * Dv, Dv);
    }
}

/* Backward through U = (I + A)^-1 diag(beta) (V - Kh S0), A = diag(beta) N:
 * dbeta, dV, dKh, the N gradient (left in dA as dN) and dS_prev. */
static void bwd_delta(const k_linattn_cfg *c, const head *hd, const chunk *ch, const float *S0,
                      chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk, Dv = c->Dv;
    float *dW = ws->dU; /* solved in place */
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasUnit, L, Dv, 1, ws->A, C,
                dW, Dv);
    gemm(0, 1, L, L, Dv, -1, dW, Dv, ws->U, Dv, 0, ws->dA, C);
    for (int t = 0; t < L; t++) {
        const float beta = ch->beta[t];
        float *dAt = ws->dA + (size_t)t * C, *dWt = dW + (size_t)t * Dv;
        const float *Nt = ws->N + (size_t)t * C;
        float dbeta = dot(dWt, ws->R + (size_t)t * Dv, Dv) + dot(dAt, Nt, t);
        if (hd->dbeta) hd->dbeta[ch->t0 + t] += dbeta;
        scale(dAt, beta, t); /* dN = diag(beta) dA */
        scale(dWt, beta, Dv); /* dR = diag(beta) dW */
        if (hd->dv) axpy(hd->dv + (size_t)(ch->t0 + t) * Dv, 1.0f, dWt, Dv);
    }
    const float *dR = dW;
    gemm(0, 1, L, Dk, Dv, -1, dR, Dv, S0, Dv, 0, ws->dKh, Dk);
    gemm(1, 0, Dk, Dv, L, -1, ws->Kh, Dk, dR, Dv, 1, ws->dS_prev, Dv);
}

/* Backward through Qh = Q*b, Kh = K*b, KC = K*c into dQ, dK, dG. */
static void bwd_scales(const k_linattn_cfg *c, const head *hd, const chunk *ch, chunk_ws *ws)
{
    const int L = ch->L, Dk = c->Dk;
    const size_t n = (size_t)L * Dk;
    add_mul(ws->dQ, ws->dQh, ws->b, n);
    add_mul(ws->dK, ws->dKC, ws->c, n);
    if (c->delta) add_mul(ws->dK, ws->dKh, ws->b, n);
    if (!wants_dg(c, hd)) return;
    /* dG += dQh*Qh + dKh*Kh - dKC*KC; the last row also gets sum_s dKC*KC. */
    float *kc_sum = ws->run;
    fill(kc_sum, 0, Dk);
    add_mul(ws->dG, ws->dQh, ws->Qh, n);
    if (c->delta) add_mul(ws->dG, ws->dKh, ws->Kh, n);
    for (int t = 0; t < L; t++) {
        const size_t r = (size_t)t * Dk;
        float *restrict dG = ws->dG + r;
        const float *restrict dKC = ws->dKC + r, *restrict KC = ws->KC + r;
#pragma omp simd
        for (int i = 0; i < Dk; i++) {
            const float kc = dKC[i] * KC[i];
            dG[i] -= kc;
            kc_sum[i] += kc;
        }
    }
    axpy(ws->dG + (size_t)(L - 1) * Dk, 1.0f, kc_sum, Dk);
}

/* Scalar gates: backward through M = (Q K^T).*D and N = (K K^T).*D.
 * With F = dM.*D and E = dN.*D: dQ += F K, dK += F^T Q + (E + E^T) K, and
 * dG_t += sum_s H[t,s] - sum_s H[s,t] with H = dM.*M + dN.*N. */
static void bwd_scores_scalar(const k_linattn_cfg *c, const head *hd, const chunk *ch,
                              chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk;
    const int dg = wants_dg(c, hd);
    for (int t = 0; t < L; t++) {
        float *restrict F = ws->dM + (size_t)t * C, *restrict E = ws->dA + (size_t)t * C;
        const float *restrict Mt = ws->M + (size_t)t * C, *restrict Nt = ws->N + (size_t)t * C,
                              *restrict Dt = ws->D + (size_t)t * C;
        if (dg) { /* the diagonal adds and subtracts the same: skip it */
            float row = dot(F, Mt, t) + (c->delta ? dot(E, Nt, t) : 0.0f);
            ws->dGs[t] += row;
            float *restrict dGs = ws->dGs;
            if (c->delta) {
#pragma omp simd
                for (int s = 0; s < t; s++) dGs[s] -= F[s] * Mt[s] + E[s] * Nt[s];
            } else {
#pragma omp simd
                for (int s = 0; s < t; s++) dGs[s] -= F[s] * Mt[s];
            }
        }
        mul_inplace(F, Dt, L); /* and masks F */
        if (c->delta) {
            mul_inplace(E, Dt, t);
            E[t] = 0; /* ssymm reads the diagonal */
        }
    }
    gemm(0, 0, L, Dk, L, 1, ws->dM, C, ch->K, Dk, 1, ws->dQ, Dk);
    gemm(1, 0, L, Dk, L, 1, ws->dM, C, ch->Q, Dk, 1, ws->dK, Dk);
    if (c->delta)
        cblas_ssymm(CblasRowMajor, CblasLeft, CblasLower, L, Dk, 1, ws->dA, C, ch->K, Dk, 1,
                    ws->dK, Dk);
}

/* Channel gates, backward, the pairs (t, s..s+3): advance rows s..s+3 of P
 * by a_t and add
 *   dQM[t] += sum dM[t,s] K[s]*P,  dKN[t] += sum dN[t,s] K[s]*P,
 *   dKkey[s] += (dM[t,s] Q[t] + dN[t,s] K[t])*P.
 * Four pairs per pass, because row t of dQM and dKN is read and written once
 * per pass and the loop is otherwise bound by that store-to-load latency. */
static void channel_bwd_4(int Dk, int delta, const float *restrict a, const float *restrict q,
                          const float *restrict k, const float *m, const float *n,
                          float *restrict P, const float *restrict Ks, float *restrict acc,
                          float *restrict dqm, float *restrict dkn)
{
    float *restrict p0 = P, *restrict p1 = P + Dk, *restrict p2 = P + 2 * Dk,
                    *restrict p3 = P + 3 * Dk;
    float *restrict c0 = acc, *restrict c1 = acc + Dk, *restrict c2 = acc + 2 * Dk,
                    *restrict c3 = acc + 3 * Dk;
    const float *k0 = Ks, *k1 = Ks + Dk, *k2 = Ks + 2 * Dk, *k3 = Ks + 3 * Dk;
    if (delta) {
#pragma omp simd
        for (int i = 0; i < Dk; i++) {
            const float y0 = p0[i] * a[i], y1 = p1[i] * a[i], y2 = p2[i] * a[i],
                        y3 = p3[i] * a[i];
            p0[i] = y0, p1[i] = y1, p2[i] = y2, p3[i] = y3;
            const float x0 = k0[i] * y0, x1 = k1[i] * y1, x2 = k2[i] * y2, x3 = k3[i] * y3;
            dqm[i] += m[0] * x0 + m[1] * x1 + m[2] * x2 + m[3] * x3;
            dkn[i] += n[0] * x0 + n[1] * x1 + n[2] * x2 + n[3] * x3;
            c0[i] += (m[0] * q[i] + n[0] * k[i]) * y0;
            c1[i] += (m[1] * q[i] + n[1] * k[i]) * y1;
            c2[i] += (m[2] * q[i] + n[2] * k[i]) * y2;
            c3[i] += (m[3] * q[i] + n[3] * k[i]) * y3;
        }
    } else {
#pragma omp simd
        for (int i = 0; i < Dk; i++) {
            const float y0 = p0[i] * a[i], y1 = p1[i] * a[i], y2 = p2[i] * a[i],
                        y3 = p3[i] * a[i];
            p0[i] = y0, p1[i] = y1, p2[i] = y2, p3[i] = y3;
            dqm[i] += m[0] * k0[i] * y0 + m[1] * k1[i] * y1 + m[2] * k2[i] * y2 +
                      m[3] * k3[i] * y3;
            c0[i] += m[0] * q[i] * y0;
            c1[i] += m[1] * q[i] * y1;
            c2[i] += m[2] * q[i] * y2;
            c3[i] += m[3] * q[i] * y3;
        }
    }
}

/* The same for a single pair (the t % 4 left over). */
static void channel_bwd_1(int Dk, int delta, const float *restrict a, const float *restrict q,
                          const float *restrict k, float m, float n, float *restrict p,
                          const float *restrict ks, float *restrict acc, float *restrict dqm,
                          float *restrict dkn)
{
#pragma omp simd
    for (int i = 0; i < Dk; i++) {
        const float y = p[i] * a[i], x = ks[i] * y;
        p[i] = y;
        dqm[i] += m * x;
        acc[i] += m * q[i] * y;
        if (delta) {
            dkn[i] += n * x;
            acc[i] += n * k[i] * y;
        }
    }
}

/* Channel gates: backward through M and N with the running products
 * P[s,i] = P[t,s,i] advanced one row t at a time (row layout here, so that the
 * per-pair work is vector ops over i without reductions):
 *   dQM[t] = sum_s dM[t,s] K[s]*P,  dKN[t] = sum_s dN[t,s] K[s]*P,
 *   dKkey[s] = sum_t (dM[t,s] Q[t] + dN[t,s] K[t])*P. */
static void bwd_scores_channel(const k_linattn_cfg *c, const head *hd, const chunk *ch,
                               chunk_ws *ws)
{
    const int L = ch->L, C = c->chunk, Dk = c->Dk;
    const size_t n = (size_t)L * Dk;
    memset(ws->dQM, 0, sizeof(float) * n);
    memset(ws->dKN, 0, sizeof(float) * n);
    memset(ws->dKkey, 0, sizeof(float) * n);
    for (int t = 0; t < L; t++) {
        const size_t r = (size_t)t * Dk;
        const float *a = ws->a + r, *q = ch->Q + r, *k = ch->K + r;
        const float *dMt = ws->dM + (size_t)t * C, *dNt = ws->dA + (size_t)t * C;
        float *dqm = ws->dQM + r, *dkn = ws->dKN + r;
        int s = 0;
        for (; s + 4 <= t; s += 4) {
            const size_t rs = (size_t)s * Dk;
            channel_bwd_4(Dk, c->delta, a, q, k, dMt + s, dNt + s, ws->P + rs, ch->K + rs,
                          ws->dKkey + rs, dqm, dkn);
        }
        for (; s < t; s++) {
            const size_t rs = (size_t)s * Dk;
            channel_bwd_1(Dk, c->delta, a, q, k, dMt[s], c->delta ? dNt[s] : 0.0f, ws->P + rs,
                          ch->K + rs, ws->dKkey + rs, dqm, dkn);
        }
        /* s = t: P = 1; N has no diagonal. */
        fill(ws->P + r, 1, Dk);
        axpy(dqm, dMt[t], k, Dk);
        axpy(ws->dKkey + r, dMt[t], q, Dk);
    }
    axpy(ws->dQ, 1.0f, ws->dQM, n);
    axpy(ws->dK, 1.0f, ws->dKN, n);
    axpy(ws->dK, 1.0f, ws->dKkey, n);
    if (!wants_dg(c, hd)) return;
    add_mul(ws->dG, ch->Q, ws->dQM, n);
    add_mul(ws->dG, ch->K, ws->dKN, n);
    sub_mul(ws->dG, ch->K, ws->dKkey, n);
}

/* dg_r += sum_{t >= r} dG_t: G_t is the cumulative sum of the log gates. */
static void bwd_gates(const k_linattn_cfg *c, const head *hd, const chunk *ch, chunk_ws *ws)
{
    if (!wants_dg(c, hd)) return;
    const int L = ch->L, Dk = c->Dk;
    if (c->gate == K_GATE_CHANNEL) {
        float *run = ws->run;
        memset(run, 0, sizeof(float) * Dk);
        for (int t = L - 1; t >= 0; t--) {
            axpy(run, 1.0f, ws->dG + (size_t)t * Dk, Dk);
            axpy(hd->dg + (size_t)(ch->t0 + t) * Dk, 1.0f, run, Dk);
        }
    } else {
        float run = 0;
        for (int t = L - 1; t >= 0; t--) {
            run += ws->dGs[t] + sum(ws->dG + (size_t)t * Dk, Dk);
            hd->dg[ch->t0 + t] += run;
        }
    }
}

static void add_rows(float *dst, const float *src, size_t n)
{
    if (dst) axpy(dst, 1.0f, src, n);
}

/* Backward of one chunk: from ws->dS (gradient of the chunk's end state) and
 * the rows of d_o to the input gradients and ws->dS_prev (that of S0). */
static void chunk_bwd(const k_linattn_cfg *c, const head *hd, const chunk *ch, const float *S0,
                      chunk_ws *ws)
{
    const int L = ch->L, Dk = c->Dk, Dv = c->Dv;
    const size_t n = (size_t)L * Dk;
    memset(ws->dQ, 0, sizeof(float) * n);
    memset(ws->dK, 0, sizeof(float) * n);
    if (wants_dg(c, hd)) {
        memset(ws->dG, 0, sizeof(float) * n);
        memset(ws->dGs, 0, sizeof(float) * L);
    }
    bwd_outputs(c, hd, ch, S0, ws);
    if (c->delta) bwd_delta(c, hd, ch, S0, ws);
    else if (hd->dv) add_rows(hd->dv + (size_t)ch->t0 * Dv, ws->dU, (size_t)L * Dv);
    bwd_scales(c, hd, ch, ws);
    if (c->gate == K_GATE_CHANNEL) bwd_scores_channel(c, hd, ch, ws);
    else bwd_scores_scalar(c, hd, ch, ws);
    bwd_gates(c, hd, ch, ws);
    add_rows(at(hd->dq, (size_t)ch->t0 * Dk), ws->dQ, n);
    add_rows(at(hd->dk, (size_t)ch->t0 * Dk), ws->dK, n);
}

static void chunk_bwd_head(const k_linattn_cfg *c, const head *hd, chunk_ws *ws)
{
    const int C = c->chunk;
    const size_t SS = state_floats(c);
    if (hd->ds_final) memcpy(ws->dS, hd->ds_final, sizeof(float) * SS);
    else memset(ws->dS, 0, sizeof(float) * SS);
    for (int idx = n_segments(c) - 1; idx >= 0; idx--) {
        const chunk ch = chunk_at(c, hd, idx * C);
        const float *S0 = hd->saved + (size_t)idx * SS;
        chunk_prepare(c, hd, &ch, S0, ws);
        chunk_bwd(c, hd, &ch, S0, ws);
        float *swap = ws->dS;
        ws->dS = ws->dS_prev;
        ws->dS_prev = swap;
    }
    if (hd->ds0) axpy(hd->ds0, 1.0f, ws->dS, (int)SS);
}

/* ======================================================================================
 * Entry points
 * ====================================================================================== */

void k_linattn_fwd(const k_linattn_cfg *c, const float *q, const float *k, const float *v,
                   const float *beta, const float *g, const float *s0, float *o, float *s_final,
                   float *saved, float *scratch)
{
    const int BH = c->B * c->H, nthreads = omp_get_max_threads();
    const size_t per_thread = per_thread_floats(c), SS = state_floats(c);
    const size_t saved_per_head = (size_t)n_segments(c) * SS;
#pragma omp parallel num_threads(nthreads)
    {
        const unsigned csr = flush_denormals();
        float *mine = scratch + (size_t)omp_get_thread_num() * per_thread;
        rec_ws rws;
        chunk_ws cws;
        if (c->chunk > 0) chunk_ws_carve(c, mine, &cws);
        else rec_ws_carve(c, mine, &rws);
#pragma omp for schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            head hd = head_inputs(c, bh, q, k, v, beta, g, s0);
            hd.o = o + (size_t)bh * c->T * c->Dv;
            hd.s_final = at(s_final, bh * SS);
            hd.save_to = at(saved, bh * saved_per_head);
            if (c->chunk > 0) chunk_fwd_head(c, &hd, &cws);
            else rec_fwd_head(c, &hd, &rws);
        }
        restore_denormals(csr);
    }
}

void k_linattn_bwd(const k_linattn_cfg *c, const float *q, const float *k, const float *v,
                   const float *beta, const float *g, const float *s0, const float *saved,
                   const float *d_o, const float *ds_final, float *dq, float *dk, float *dv,
                   float *dbeta, float *dg, float *ds0, float *scratch)
{
    const int BH = c->B * c->H, nthreads = omp_get_max_threads();
    const size_t per_thread = per_thread_floats(c), SS = state_floats(c);
    const size_t saved_per_head = (size_t)n_segments(c) * SS;
    const size_t T = c->T, Dk = c->Dk, Dv = c->Dv;
    const size_t gstride = c->gate == K_GATE_CHANNEL ? T * Dk : T;
#pragma omp parallel num_threads(nthreads)
    {
        const unsigned csr = flush_denormals();
        float *mine = scratch + (size_t)omp_get_thread_num() * per_thread;
        rec_ws rws;
        chunk_ws cws;
        if (c->chunk > 0) chunk_ws_carve(c, mine, &cws);
        else rec_ws_carve(c, mine, &rws);
#pragma omp for schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            head hd = head_inputs(c, bh, q, k, v, beta, g, s0);
            hd.saved = saved + bh * saved_per_head;
            hd.d_o = d_o + bh * T * Dv;
            hd.ds_final = cat(ds_final, bh * SS);
            hd.dq = at(dq, bh * T * Dk);
            hd.dk = at(dk, bh * T * Dk);
            hd.dv = at(dv, bh * T * Dv);
            hd.dbeta = c->delta ? at(dbeta, bh * T) : NULL;
            hd.dg = c->gate != K_GATE_NONE ? at(dg, bh * gstride) : NULL;
            hd.ds0 = at(ds0, bh * SS);
            if (c->chunk > 0) chunk_bwd_head(c, &hd, &cws);
            else rec_bwd_head(c, &hd, &rws);
        }
        restore_denormals(csr);
    }
}
