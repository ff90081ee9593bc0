/* train.h — arguments of the kernels in train.cu (linear-layer bias,
 * embedding, cross-entropy, AdamW, gradient-norm helpers); the launchers in
 * gpu/ops_train.c fill the same structs. */
#ifndef AAK_TRAIN_H
#define AAK_TRAIN_H

/* Rows summed in float into one partial of a column sum (dbias); the
 * partials are then added in order, in double. */
#define AAK_COLSUM_ROWS 64
/* Token positions whose ids a block of aak_embed_bwd reads at a time. */
#define AAK_EMBED_TILE 256

/* y[r, n] = bias[n] for rows r < rows, n < N. */
typedef struct aak_bias_args {
    long long rows;
    int N;
    const float *bias;
    float *y;
} aak_bias_args;

/* out[n] += sum_r x[r, n] over rows, in two passes through part
 * [ceil(rows / AAK_COLSUM_ROWS), N]. */
typedef struct aak_colsum_args {
    long long rows;
    int N;
    const float *x;
    float *part;
    float *out;
} aak_colsum_args;

/* Forward: y[r] = table[ids[r]] (rows of D). Backward: dtable[ids[r]] +=
 * dy[r] for ids in [0, V), position by position in order. */
typedef struct aak_embed_args {
    long long n;
    int D, V;
    const int *ids;
    const float *table, *dy;
    float *y, *dtable;
} aak_embed_args;

/* The rows of the cross-entropy: probs = softmax(logits) (NULL: not kept),
 * rowloss[r] = logsumexp - logits[r, target] (0 where the target is not in
 * [0, V)). */
typedef struct aak_xent_rows_args {
    long long n;
    int V;
    const float *logits;
    const int *targets;
    float *probs;
    double *rowloss;
} aak_xent_rows_args;

/* Over the rows with a target: loss[0] = their mean rowloss (forward; 0 when
 * none), or scale[0] = dloss / count and scale[1] = 1 when count > 0, else
 * scale = {0, 0} (backward). */
typedef struct aak_xent_count_args {
    long long n;
    int V;
    const int *targets;
    const double *rowloss;
    float *loss;
    float dloss;
    float *scale;
} aak_xent_count_args;

/* dlogits += scale[0] (probs - onehot(target)) on rows with a target, when
 * scale[1] != 0. */
typedef struct aak_xent_bwd_args {
    long long n;
    int V;
    const float *probs;
    const int *targets;
    const float *scale;
    float *dlogits;
} aak_xent_bwd_args;

/* One AdamW step (k_adamw_update), with the step's scalars from the host:
 * p = p keep - step_size m / (sqrt(v) inv_sqrt_bc2 + eps). */
typedef struct aak_adamw_args {
    long long n;
    float beta1, beta2, eps, step_size, inv_sqrt_bc2, keep;
    float *p;
    const float *grad;
    float *m, *v;
} aak_adamw_args;

/* Sum of squares in double: part[block] over this block's grid-stride
 * share (aak_sumsq_part), then out[0] = the parts in order
 * (aak_sum_parts, n = the number of parts). */
typedef struct aak_sumsq_args {
    long long n;
    const float *x;
    double *part;
    double *out;
} aak_sumsq_args;

/* x *= s. */
typedef struct aak_scale_args {
    long long n;
    float s;
    float *x;
} aak_scale_args;

#endif
