/*
 * train.cu — the training step's small kernels, as kernels/linalg.c and
 * kernels/train_ops.c compute them: the bias of a linear layer (forward
 * broadcast, backward column sums), the embedding, the softmax
 * cross-entropy, AdamW, and the sum of squares and scaling of gradient
 * clipping. The GEMMs themselves are cuBLAS (gpu_gemm_run).
 *
 * Every sum has a fixed order: column sums and the sum of squares add
 * fixed-size pieces, then the pieces in order (in double); the embedding's
 * backward adds each token's row in position order, as the CPU does, so its
 * result is the CPU's to the bit; no kernel uses atomics.
 */
#include "aak.h"
#include "train.h"

static inline int valid_target(int t, int V) { return t >= 0 && t < V; }

/* ---- linear-layer bias ------------------------------------------------------------- */

AAK_KERNEL(aak_bias_fwd, aak_bias_args)
{
    long long n = p.rows * p.N;
    for (long long i = aak_tid(); i < n; i += aak_stride()) p.y[i] = p.bias[i % p.N];
}

/* part[chunk, col] = sum of x[r, col] over the chunk's rows, in float. */
AAK_KERNEL(aak_colsum_part, aak_colsum_args)
{
    long long chunks = (p.rows + AAK_COLSUM_ROWS - 1) / AAK_COLSUM_ROWS, n = chunks * p.N;
    for (long long q = aak_tid(); q < n; q += aak_stride()) {
        long long r0 = q / p.N * AAK_COLSUM_ROWS, r1 = r0 + AAK_COLSUM_ROWS < p.rows ? r0 + AAK_COLSUM_ROWS : p.rows;
        const float *col = p.x + q % p.N;
        float s = 0.0f;
        for (long long r = r0; r < r1; r++) s += col[r * p.N];
        p.part[q] = s;
    }
}

/* out[col] += the chunks' partials, in order, in double. */
AAK_KERNEL(aak_colsum_add, aak_colsum_args)
{
    long long chunks = (p.rows + AAK_COLSUM_ROWS - 1) / AAK_COLSUM_ROWS;
    for (long long col = aak_tid(); col < p.N; col += aak_stride()) {
        double acc = 0.0;
        for (long long k = 0; k < chunks; k++) acc += p.part[k * p.N + col];
        p.out[col] += (float)acc;
    }
}

/* ---- embedding ------------------------------------------------------------------------ */

/* y[r] = table[ids[r]]; a negative id (padding) gives a row of zeros. */
AAK_KERNEL(aak_embed_fwd, aak_embed_args)
{
    long long n = p.n * p.D;
    for (long long i = aak_tid(); i < n; i += aak_stride()) {
        int id = p.ids[i / p.D];
        p.y[i] = id >= 0 ? p.table[(long long)id * p.D + i % p.D] : 0.0f;
    }
}

/*
 * dtable[ids[r]] += dy[r] without atomics: a thread owns one column d of
 * the ids of one vocabulary slice (id % gridDim.y == blockIdx.y), and walks
 * all positions in order, adding the rows whose id it owns. Each element of
 * dtable then has one writer, which adds in position order: the CPU's order.
 * The block reads the ids a tile at a time into shared memory, marking
 * those outside its slice (or outside [0, V)) with -1.
 */
AAK_KERNEL(aak_embed_bwd, aak_embed_args)
{
    AAK_SHARED int tile[AAK_EMBED_TILE];
    int tx = (int)threadIdx.x, slices = (int)gridDim.y, slice = (int)blockIdx.y;
    for (long long d0 = (long long)blockIdx.x * blockDim.x; d0 < p.D; d0 += (long long)gridDim.x * blockDim.x) {
        long long d = d0 + tx;
        for (long long r0 = 0; r0 < p.n; r0 += AAK_EMBED_TILE) {
            int len = p.n - r0 < AAK_EMBED_TILE ? (int)(p.n - r0) : AAK_EMBED_TILE;
            for (int k = tx; k < len; k += (int)blockDim.x) {
                int id = p.ids[r0 + k];
                tile[k] = id >= 0 && id < p.V && id % slices == slice ? id : -1;
            }
            AAK_SYNC();
            if (d < p.D)
                for (int k = 0; k < len; k++)
                    if (tile[k] >= 0) p.dtable[(long long)tile[k] * p.D + d] += p.dy[(r0 + k) * p.D + d];
            AAK_SYNC();   /* the tile is overwritten next */
        }
    }
}

/* ---- cross-entropy ----------------------------------------------------------------------- */

/* A block per row: its maximum, the sum of exp(x - max), the probabilities,
 * and the row's loss in double (logsumexp as the CPU: max + log(sum)). */
AAK_KERNEL(aak_xent_rows, aak_xent_rows_args)
{
    AAK_SHARED float red[AAK_BLOCK];
    int tx = (int)threadIdx.x, nt = (int)blockDim.x;
    for (long long r = blockIdx.x; r < p.n; r += gridDim.x) {
        const float *x = p.logits + r * p.V;
        float *pr = p.probs ? p.probs + r * p.V : 0;
        float mx = -AAK_INF;
        for (int i = tx; i < p.V; i += nt) mx = x[i] > mx ? x[i] : mx;
        mx = aak_block_max(mx, red);
        float s = 0.0f;
        for (int i = tx; i < p.V; i += nt) {
            float e = expf(x[i] - mx);
            if (pr) pr[i] = e;
            s += e;
        }
        s = aak_block_sum(s, red);
        if (pr) {
            float inv = 1.0f / s;
            for (int i = tx; i < p.V; i += nt) pr[i] *= inv;   /* the elements this thread wrote */
        }
        if (tx == 0) {
            int t = p.targets[r];
            p.rowloss[r] = valid_target(t, p.V) ? (double)mx + log((double)s) - (double)x[t] : 0.0;
        }
    }
}

/* One block (others return): the count of rows with a target, and from it
 * the mean loss (loss != NULL) or the backward's scale (scale != NULL). */
AAK_KERNEL(aak_xent_count, aak_xent_count_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    if (blockIdx.x != 0 || blockIdx.y != 0) return;   /* the whole block: no barrier is skipped */
    double sum = 0.0, count = 0.0;
    for (long long r = threadIdx.x; r < p.n; r += blockDim.x)
        if (valid_target(p.targets[r], p.V)) {
            count += 1.0;
            if (p.rowloss) sum += p.rowloss[r];
        }
    sum = aak_block_sum_double(sum, red);
    count = aak_block_sum_double(count, red);
    if (threadIdx.x != 0) return;
    if (p.loss) p.loss[0] = count > 0.0 ? (float)(sum / count) : 0.0f;
    if (p.scale) {
        p.scale[0] = count > 0.0 ? (float)(p.dloss / count) : 0.0f;
        p.scale[1] = count > 0.0 ? 1.0f : 0.0f;
    }
}

/* A block per row: dlogits += scale probs, then -= scale at the target (two
 * roundings, as the CPU). */
AAK_KERNEL(aak_xent_bwd, aak_xent_bwd_args)
{
    if (p.scale[1] == 0.0f) return;   /* no row has a target: nothing to add */
    float scale = p.scale[0];
    for (long long r = blockIdx.x; r < p.n; r += gridDim.x) {
        int t = p.targets[r];
        if (!valid_target(t, p.V)) continue;
        const float *pr = p.probs + r * p.V;
        float *o = p.dlogits + r * p.V;
        for (int i = (int)threadIdx.x; i < p.V; i += (int)blockDim.x) {
            float g = o[i] + scale * pr[i];
            if (i == t) g -= scale;
            o[i] = g;
        }
    }
}

/* ---- optimiser and clipping ------------------------------------------------------------------ */

AAK_KERNEL(aak_adamw, aak_adamw_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        float g = p.grad[i];
        float m = p.beta1 * p.m[i] + (1.0f - p.beta1) * g;
        float v = p.beta2 * p.v[i] + (1.0f - p.beta2) * g * g;
        p.m[i] = m;
        p.v[i] = v;
        p.p[i] = p.p[i] * p.keep - p.step_size * m / (sqrtf(v) * p.inv_sqrt_bc2 + p.eps);
    }
}

/* part[block] = sum of x^2 over this block's share, in double. */
AAK_KERNEL(aak_sumsq_part, aak_sumsq_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    double s = 0.0;
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {
        double v = p.x[i];
        s += v * v;
    }
    s = aak_block_sum_double(s, red);
    if (threadIdx.x == 0) p.part[blockIdx.x] = s;
}

/* out[0] = sum of part[0..n), by one block (others return). */
AAK_KERNEL(aak_sum_parts, aak_sumsq_args)
{
    AAK_SHARED double red[AAK_BLOCK];
    if (blockIdx.x != 0 || blockIdx.y != 0) return;
    double s = 0.0;
    for (long long i = threadIdx.x; i < p.n; i += blockDim.x) s += p.part[i];
    s = aak_block_sum_double(s, red);
    if (threadIdx.x == 0) p.out[0] = s;
}

AAK_KERNEL(aak_scale, aak_scale_args)
{
    for (long long i = aak_tid(); i < p.n; i += aak_stride()) p.x[i] *= p.s;
}
