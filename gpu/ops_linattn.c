/*
 * ops_linattn.c — launchers of the linear-attention kernels
 * (kernels/cuda/linattn.cu; the algorithm and the kernels' split are
 * described there).
 *
 * Forward:  prep (per chunk) -> fwd_state (per head and tile of Dv columns).
 * Backward: prep again (nothing of it is saved) -> bwd_state -> bwd_chunk,
 * the last only when dq, dk, dbeta or dg is wanted.
 *
 * Workspaces come from the caching allocator and go back to it at once:
 * the device runs one stream, so a later user of the same block runs after
 * these kernels. Sizes, in floats, with n = B*H*ceil(T/C):
 *   cw       n * (C^2 (M) [+ 2 C^2 (N, Ti) delta] [+ C^2 (D) unless channel]
 *            + 3 C or 3 C Dk (a, b, c))                     forward and backward
 *   bw       n * (2 C^2 + 3 C Dk + Dk [+ 2 C Dv delta])      backward
 *   dstates  n * Dk Dv                                       backward
 *   dW       B H T Dv                                        backward, delta
 * (bw, dstates and dW only when dq, dk, dbeta or dg is wanted).
 */
#include <stdint.h>

#include "gpu.h"
#include "gpu_internal.h"
#include "linattn.h"

_Static_assert(K_GATE_NONE == AAK_LA_GATE_NONE && K_GATE_SCALAR == AAK_LA_GATE_SCALAR &&
                   K_GATE_CHANNEL == AAK_LA_GATE_CHANNEL,
               "gate codes of kernels.h and linattn.h");

static const gpu_kernel la_prep = {"linattn.cu", "aak_linattn_prep", NULL};
static const gpu_kernel la_fwd_state = {"linattn.cu", "aak_linattn_fwd_state", NULL};
static const gpu_kernel la_bwd_state = {"linattn.cu", "aak_linattn_bwd_state", NULL};
static const gpu_kernel la_bwd_chunk = {"linattn.cu", "aak_linattn_bwd_chunk", NULL};

/* The chunk length: c->chunk, or for the recurrent form the CPU's
 * checkpoint interval (REC_SEGMENT of kernels/linattn.c), so that the saved
 * states are the same. */
static int chunk_len(const k_linattn_cfg *c) { return c->chunk > 0 ? c->chunk : AAK_LA_MAX_CHUNK; }
static int n_chunks(const k_linattn_cfg *c) { return (c->T + chunk_len(c) - 1) / chunk_len(c); }

size_t gpu_linattn_saved_floats(const k_linattn_cfg *c)
{
    return (size_t)c->B * c->H * n_chunks(c) * c->Dk * c->Dv;
}

/* The shapes these kernels take, or -1 with why. */
static int check_cfg(gpu_dev *d, const char *who, const k_linattn_cfg *c, gpu_ptr beta, gpu_ptr g)
{
    if (c->B < 0 || c->H < 0 || c->T < 0 || c->Dk < 1 || c->Dv < 1 || c->chunk < 0) {
        gpu_fail(d, "%s: bad shape B=%d H=%d T=%d Dk=%d Dv=%d chunk=%d", who, c->B, c->H, c->T, c->Dk, c->Dv,
                 c->chunk);
        return -1;
    }
    if (c->Dk > AAK_LA_MAX_DK || c->Dv > AAK_LA_MAX_DV) {
        gpu_fail(d, "%s: head dimensions Dk=%d Dv=%d: the GPU kernels take at most Dk=%d, Dv=%d", who, c->Dk, c->Dv,
                 AAK_LA_MAX_DK, AAK_LA_MAX_DV);
        return -1;
    }
    if (c->chunk > AAK_LA_MAX_CHUNK) {
        gpu_fail(d, "%s: chunk length %d: the GPU kernels take at most %d", who, c->chunk, AAK_LA_MAX_CHUNK);
        return -1;
    }
    if (c->gate < K_GATE_NONE || c->gate > K_GATE_CHANNEL) {
        gpu_fail(d, "%s: unknown gate kind %d", who, c->gate);
        return -1;
    }
    if ((c->delta && !beta) || (c->gate != K_GATE_NONE && !g)) {
        gpu_fail(d, "%s: %s", who, c->delta && !beta ? "the delta rule needs beta" : "a gate needs g");
        return -1;
    }
    if ((long long)c->B * c->H * (n_chunks(c) + 1) > INT32_MAX / 2) {
        gpu_fail(d, "%s: %d x %d heads of %d chunks: too many", who, c->B, c->H, n_chunks(c));
        return -1;
    }
    return 0;
}

/* The arguments every kernel shares: shapes and inputs. */
static aak_linattn_args args_of(const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                                gpu_ptr beta, gpu_ptr g, gpu_ptr s0)
{
    aak_linattn_args a = {.B = c->B, .H = c->H, .T = c->T, .Dk = c->Dk, .Dv = c->Dv, .delta = c->delta != 0,
                          .gate = c->gate, .C = chunk_len(c), .n_chunks = n_chunks(c)};
    a.lay = aak_la_layout_of(a.C, c->Dk, a.delta, c->gate);
    a.lambda = GPU_CF(lambda);
    a.q = GPU_CF(q);
    a.k = GPU_CF(k);
    a.v = GPU_CF(v);
    a.beta = a.delta ? GPU_CF(beta) : NULL;
    a.g = c->gate != K_GATE_NONE ? GPU_CF(g) : NULL;
    a.s0 = GPU_CF(s0);
    return a;
}

static size_t n_heads(const k_linattn_cfg *c) { return (size_t)c->B * c->H; }
static size_t chunk_total(const aak_linattn_args *a) { return (size_t)a->B * a->H * a->n_chunks; }

/* One block per chunk / one per (head, tile of Dv columns). */
static gpu_grid per_chunk(const aak_linattn_args *a) { return (gpu_grid){.blocks_x = (unsigned)chunk_total(a), .blocks_y = 1, .threads = AAK_LA_THREADS}; }
static gpu_grid per_tile(const aak_linattn_args *a)
{
    return (gpu_grid){.blocks_x = (unsigned)(a->B * a->H), .blocks_y = (unsigned)((a->Dv + AAK_LA_DV_TILE - 1) / AAK_LA_DV_TILE), .threads = AAK_LA_THREADS};
}

/* n floats of workspace, or 0 (and *failed) when the device has none left. */
static gpu_ptr workspace(gpu_dev *d, size_t n, int *failed)
{
    if (*failed || n == 0) return 0;
    gpu_ptr p = gpu_alloc(d, n * sizeof(float));
    if (!p) *failed = 1;
    return p;
}

int gpu_linattn_fwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr o, gpu_ptr s_final, gpu_ptr saved)
{
    if (check_cfg(d, "gpu_linattn_fwd", c, beta, g) < 0) return -1;
    if (n_heads(c) == 0) return 0;
    aak_linattn_args a = args_of(c, lambda, q, k, v, beta, g, s0);
    a.o = GPU_F(o);
    a.s_final = GPU_F(s_final);
    a.saved = GPU_F(saved);
    int failed = 0;
    gpu_ptr cw = workspace(d, chunk_total(&a) * (size_t)a.lay.stride, &failed);
    a.cw = GPU_F(cw);
    int rc = failed ? -1 : 0;
    if (rc == 0 && a.n_chunks > 0) rc = gpu_launch(d, &la_prep, per_chunk(&a), &a, sizeof a);
    if (rc == 0) rc = gpu_launch(d, &la_fwd_state, per_tile(&a), &a, sizeof a);
    gpu_free(d, cw);
    return rc;
}

int gpu_linattn_bwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr saved, gpu_ptr d_o, gpu_ptr ds_final, gpu_ptr dq,
                    gpu_ptr dk, gpu_ptr dv, gpu_ptr dbeta, gpu_ptr dg, gpu_ptr ds0)
{
    if (check_cfg(d, "gpu_linattn_bwd", c, beta, g) < 0) return -1;
    (void)s0;   /* the chunk-start states, the first included, are in saved */
    if (!c->delta) dbeta = 0;
    if (c->gate == K_GATE_NONE) dg = 0;
    if (n_heads(c) == 0 || !(dq || dk || dv || dbeta || dg || ds0)) return 0;
    aak_linattn_args a = args_of(c, lambda, q, k, v, beta, g, 0);
    a.saved_in = GPU_CF(saved);
    a.d_o = GPU_CF(d_o);
    a.ds_final = GPU_CF(ds_final);
    a.dq = GPU_F(dq);
    a.dk = GPU_F(dk);
    a.dv = GPU_F(dv);
    a.dbeta = GPU_F(dbeta);
    a.dg = GPU_F(dg);
    a.ds0 = GPU_F(ds0);
    a.want_chunk_grads = (dq || dk || dbeta || dg) && a.n_chunks > 0;

    const size_t chunks = chunk_total(&a), per_pos = (size_t)c->B * c->H * c->T * c->Dv;
    const int delta_ws = a.want_chunk_grads && a.delta;
    int failed = 0;
    gpu_ptr cw = workspace(d, chunks * (size_t)a.lay.stride, &failed);
    const size_t bw_floats = chunks * (size_t)aak_la_bw_stride(a.C, c->Dk, c->Dv, a.delta);
    gpu_ptr bw = a.want_chunk_grads ? workspace(d, bw_floats, &failed) : 0;
    gpu_ptr dstates = a.want_chunk_grads ? workspace(d, chunks * (size_t)c->Dk * c->Dv, &failed) : 0;
    gpu_ptr dwbuf = delta_ws ? workspace(d, per_pos, &failed) : 0;
    a.cw = GPU_F(cw);
    a.bw = GPU_F(bw);
    a.dstates = GPU_F(dstates);
    a.dwbuf = GPU_F(dwbuf);

    int rc = failed ? -1 : 0;
    if (rc == 0 && a.n_chunks > 0) rc = gpu_launch(d, &la_prep, per_chunk(&a), &a, sizeof a);
    if (rc == 0) rc = gpu_launch(d, &la_bwd_state, per_tile(&a), &a, sizeof a);
    if (rc == 0 && a.want_chunk_grads) rc = gpu_launch(d, &la_bwd_chunk, per_chunk(&a), &a, sizeof a);
    gpu_free(d, dwbuf);
    gpu_free(d, dstates);
    gpu_free(d, bw);
    gpu_free(d, cw);
    return rc;
}
