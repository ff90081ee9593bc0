/*
 * mqar.c — multi-query associative recall (MQAR), after Zoology
 * (Arora et al. 2023, zoology/data/associative_recall.py: multiquery_ar).
 *
 * One sequence of length T with C = 2*num_kv:
 *
 *   positions 0 .. C-1   context   k1 v1 k2 v2 ... (distinct keys, distinct values)
 *   positions C .. T-1   queries   S = (T-C)/2 two-token slots; slot g starts at
 *                                  p = C + 2g. Key i is queried in slot g_i:
 *                                  inputs[p] = k_i, inputs[p+1] = v_i,
 *                                  targets[p] = v_i.
 *
 * Everything else in the query region is a uniform random token from
 * [0, vocab) (Zoology's random_non_queries), and every other target is -1.
 * Keys come from [1, vocab/2) (0 is never a key), values from [vocab/2, vocab).
 *
 * The slots g_1..g_k are drawn without replacement with probability
 * proportional to a * d^(a-1) over gaps d = g+1 = 1..S (numpy's
 * choice(replace=False, p=...), which draws one at a time and renormalises
 * over what is left). With Zoology's a = 0.01 this is close to 1/d: most
 * queries come soon after the context, a few far away.
 *
 * One difference from Zoology: there the token after a query key is random
 * filler; here it is the value, so the query region reads like the context
 * (key then value). The target at p+1 is still -1, and each key is queried
 * once, so the value never leaks into a scored prediction.
 *
 * All randomness comes from the caller's rng state, in a fixed order (keys,
 * values, filler, slots per sequence), so a saved state reproduces a batch.
 */
#include "data.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int dt_mqar_check(const dt_mqar_cfg *cfg, char *err, size_t errlen)
{
    if (cfg->vocab < 4)
        return fail(err, errlen,
                    "mqar: vocab %d is too small: keys come from [1, vocab/2) and values from "
                    "[vocab/2, vocab), so it needs at least 4",
                    cfg->vocab);
    if (cfg->num_kv < 1)
        return fail(err, errlen, "mqar: num_kv %d: need at least one key-value pair",
                    cfg->num_kv);
    int keys = cfg->vocab / 2 - 1;
    if (cfg->num_kv > keys)
        return fail(err, errlen,
                    "mqar: num_kv %d needs that many distinct keys but vocab %d offers %d "
                    "([1, %d)): raise vocab or lower num_kv",
                    cfg->num_kv, cfg->vocab, keys, cfg->vocab / 2);
    if (cfg->seq_len < 4 || cfg->seq_len / 4 < cfg->num_kv)
        return fail(err, errlen,
                    "mqar: seq_len %d cannot hold %d key-value pairs and a query slot for each "
                    "(needs seq_len >= 4*num_kv = %lld)",
                    cfg->seq_len, cfg->num_kv, 4LL * cfg->num_kv);
    if (!(cfg->power_a > 0) || !isfinite(cfg->power_a))
        return fail(err, errlen, "mqar: power_a %g must be a positive number (Zoology uses 0.01)",
                    (double)cfg->power_a);
    return 0;
}

/* Uniform integer in [0, m), m > 0. The modulo bias, m / 2^64, is nil here. */
static int32_t rand_below(uint64_t *rng, int32_t m)
{
    return (int32_t)(dt_rand_u64(rng) % (uint64_t)m);
}

static double rand_unit(uint64_t *rng)
{
    return (double)(dt_rand_u64(rng) >> 11) * 0x1.0p-53;
}

static int already_chosen(const int32_t *out, int stride, int count, int32_t v)
{
    for (int j = 0; j < count; j++)
        if (out[j * stride] == v)
            return 1;
    return 0;
}

/* k distinct integers from [lo, lo+m) in uniformly random order, written to
 * out[0], out[stride], ... Floyd's algorithm picks a uniform subset with k
 * draws and no table of size m; a Fisher-Yates pass then shuffles it. */
static void sample_distinct(uint64_t *rng, int32_t lo, int32_t m, int k, int32_t *out,
                            int stride)
{
    for (int j = 0, i = m - k; i < m; i++, j++) {
        int32_t t = rand_below(rng, i + 1);
        out[j * stride] = lo + (already_chosen(out, stride, j, lo + t) ? i : t);
    }
    for (int j = k - 1; j > 0; j--) {
        int r = rand_below(rng, j + 1);
        int32_t tmp = out[j * stride];
        out[j * stride] = out[r * stride];
        out[r * stride] = tmp;
    }
}

/* Draw one slot from weights w[0..S) (total mass *total), then remove it. */
static int draw_slot(uint64_t *rng, double *w, int S, double *total)
{
    double u = rand_unit(rng) * *total, acc = 0;
    int last = -1;
    for (int g = 0; g < S; g++) {
        if (w[g] == 0)
            continue;
        acc += w[g];
        last = g;
        if (u < acc)
            break;
    }
    /* Rounding can leave u just above the running sum: take the last live slot. */
    *total -= w[last];
    w[last] = 0;
    return last;
}

static void one_sequence(const dt_mqar_cfg *cfg, uint64_t *rng, const double *gap_weight,
                         double *w, int32_t *in, int32_t *tg)
{
    int T = cfg->seq_len, k = cfg->num_kv, C = 2 * k, S = (T - C) / 2;
    int32_t half = cfg->vocab / 2;

    sample_distinct(rng, 1, half - 1, k, in, 2);                    /* keys at 0, 2, 4, ... */
    sample_distinct(rng, half, cfg->vocab - half, k, in + 1, 2);    /* values at 1, 3, ... */
    for (int t = C; t < T; t++)                                     /* filler, then queries */
        in[t] = rand_below(rng, cfg->vocab);
    for (int t = 0; t < T; t++)
        tg[t] = -1;

    double total = 0;
    for (int g = 0; g < S; g++)
        total += (w[g] = gap_weight[g]);
    for (int i = 0; i < k; i++) {
        int p = C + 2 * draw_slot(rng, w, S, &total);
        in[p] = in[2 * i];
        in[p + 1] = in[2 * i + 1];
        tg[p] = in[2 * i + 1];
    }
}

void dt_mqar_batch(const dt_mqar_cfg *cfg, uint64_t *rng, int B, int32_t *inputs,
                   int32_t *targets)
{
    if (B <= 0 || dt_mqar_check(cfg, NULL, 0) != 0)
        return;     /* documented: callers validate with dt_mqar_check first */
    int T = cfg->seq_len, S = (T - 2 * cfg->num_kv) / 2;
    double *gap_weight = malloc(2 * (size_t)S * sizeof(double));
    if (!gap_weight) {
        fprintf(stderr, "mqar: out of memory for %d gap weights\n", S);
        abort();
    }
    double *work = gap_weight + S;
    /* Zoology's a * d^(a-1); the factor a cancels when normalising but is kept
     * so the numbers match the paper's formula. */
    double a = cfg->power_a;
    for (int g = 0; g < S; g++)
        gap_weight[g] = a * pow(g + 1.0, a - 1.0);

    for (int b = 0; b < B; b++)
        one_sequence(cfg, rng, gap_weight, work, inputs + (size_t)b * T, targets + (size_t)b * T);
    free(gap_weight);
}
