/*
 * train_ops.c — embedding, fused softmax cross-entropy, AdamW, and the small
 * helpers of gradient clipping.
 *
 * Sums over many elements (the loss, the squared gradient norm) are split
 * into a fixed number of blocks that depends only on the element count;
 * blocks are summed in parallel and then combined in order, so the result is
 * the same for any number of threads.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "kmath.h"

#define PAR_MIN 32768
#define NBLOCKS 256 /* blocks of a deterministic parallel sum */
#define TW 64       /* columns per task in the embedding scatter-add */


/* Rows [*r0, *r1) of block k of n rows split into nb blocks. */
static void block_range(size_t n, size_t nb, size_t k, size_t *r0, size_t *r1)
{
    *r0 = n * k / nb;
    *r1 = n * (k + 1) / nb;
}

/* ---- embedding ---------------------------------------------------------------- */

void k_embed_fwd(size_t n, int D, const int32_t *ids, const float *table, float *y)
{
#pragma omp parallel for schedule(static) if (n * (size_t)D >= PAR_MIN)
    for (size_t r = 0; r < n; r++)
        memcpy(y + r * D, table + (size_t)ids[r] * D, (size_t)D * sizeof *y);
}

/* dtable[ids[r]] += dy[r]. Repeated ids add to the same row, so the split is
 * over tiles of columns: each task walks all n rows in order for its columns
 * (deterministic, no atomics). Ids outside [0, V) are skipped. */
void k_embed_bwd(size_t n, int D, int V, const int32_t *ids, const float *dy, float *dtable)
{
    if (!dtable) return;
    int ntile = (D + TW - 1) / TW;
#pragma omp parallel for schedule(static) if (n * (size_t)D >= PAR_MIN)
    for (int t = 0; t < ntile; t++) {
        int c0 = t * TW, w = D - c0 < TW ? D - c0 : TW;
        for (size_t r = 0; r < n; r++) {
            int32_t id = ids[r];
            if (id < 0 || id >= V) continue;
            const float *g = dy + r * D + c0;
            float *o = dtable + (size_t)id * D + c0;
#pragma omp simd
            for (int i = 0; i < w; i++) o[i] += g[i];
        }
    }
}

/* ---- cross-entropy ---------------------------------------------------------------- */

static int valid_target(int32_t t, int V) { return t >= 0 && t < V; }

/* Softmax of one row into p (when p is given); returns log-sum-exp. */

static double row_softmax_lse(int V, const float *x, float *p)
{
    float m = row_max((size_t)V, x);
    double s = 0.0;
    if (p) {
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < V; i++) {
            p[i] = fast_expf(x[i] - m);
            s += p[i];
        }
        float inv = (float)(1.0 / s);
#pragma omp simd
        for (int i = 0; i < V; i++) p[i] *= inv;
    } else {
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < V; i++) s += fast_expf(x[i] - m);
    }
    return m + log(s);
}

/* Mean over rows with a target in [0, V) of -log softmax(logits)[target];
 * other rows (target -1: padding) count for nothing. probs may be NULL when
 * no backward follows (evaluation). */
float k_xent_fwd(size_t n, int V, const float *logits, const int32_t *targets, float *probs)
{
    size_t nb = n < NBLOCKS ? n : NBLOCKS;
    double part[NBLOCKS];
    size_t cnt[NBLOCKS];
#pragma omp parallel for schedule(static) if (n * (size_t)V >= PAR_MIN)
    for (size_t k = 0; k < nb; k++) {
        size_t r0, r1, c = 0;
        double s = 0.0;
        block_range(n, nb, k, &r0, &r1);
        for (size_t r = r0; r < r1; r++) {
            const float *x = logits + r * V;
            double lse = row_softmax_lse(V, x, probs ? probs + r * V : NULL);
            int32_t t = targets[r];
            if (!valid_target(t, V)) continue;
            s += lse - x[t];
            c++;
        }
        part[k] = s;
        cnt[k] = c;
    }
    double loss = 0.0;
    size_t count = 0;
    for (size_t k = 0; k < nb; k++) {
        loss += part[k];
        count += cnt[k];
    }
    return count ? (float)(loss / (double)count) : 0.0f;
}

/* dlogits += dloss / count * (p - onehot(target)) on rows with a target. */
void k_xent_bwd(size_t n, int V, const float *probs, const int32_t *targets, float dloss,
                float *dlogits)
{
    if (!dlogits) return;
    size_t count = 0;
    for (size_t r = 0; r < n; r++) count += valid_target(targets[r], V);
    if (!count) return;
    float scale = (float)(dloss / (double)count);
#pragma omp parallel for schedule(static) if (n * (size_t)V >= PAR_MIN)
    for (size_t r = 0; r < n; r++) {
        int32_t t = targets[r];
        if (!valid_target(t, V)) continue;
        const float *p = probs + r * V;
        float *o = dlogits + r * V;
#pragma omp simd
        for (int i = 0; i < V; i++) o[i] += scale * p[i];
        o[t] -= scale;
    }
}

/* ---- optimiser ------------------------------------------------------------------------ */

/* torch.optim.AdamW, one step:
 *   p *= 1 - lr wd                    (decoupled weight decay, decay groups only)
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)          */
void k_adamw_update(const k_adamw *h, size_t n, float *p, const float *grad, float *m, float *v,
                    int decay)
{
    int step = h->step > 0 ? h->step : 1;
    double bc1 = 1.0 - pow(h->beta1, step), bc2 = 1.0 - pow(h->beta2, step);
    const float b1 = h->beta1, b2 = h->beta2, eps = h->eps;
    const float step_size = (float)(h->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float keep = decay ? 1.0f - h->lr * h->weight_decay : 1.0f;
    /* sqrtf may set errno, so the loop only vectorises under -fno-math-errno
     * (which the compilers announce with __NO_MATH_ERRNO__); it is then
     * memory-bound instead of sqrt/div-bound, about 15x faster. */
#ifdef __NO_MATH_ERRNO__
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
#else
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * keep - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

double k_sumsq(size_t n, const float *x)
{
    size_t nb = n < NBLOCKS ? n : NBLOCKS;
    double part[NBLOCKS];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t k = 0; k < nb; k++) {
        size_t i0, i1;
        double s = 0.0;
        block_range(n, nb, k, &i0, &i1);
#pragma omp simd reduction(+ : s)
        for (size_t i = i0; i < i1; i++) s += (double)x[i] * x[i];
        part[k] = s;
    }
    double total = 0.0;
    for (size_t k = 0; k < nb; k++) total += part[k];
    return total;
}

void k_scale_inplace(size_t n, float *x, float s)
{
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}
