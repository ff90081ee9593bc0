/*
 * flow.c — where information may flow in a built model: causality (no
 * output depends on a later token) and batch independence (no sequence
 * depends on another), checked by running the model itself.
 *
 * The check runs on the model a score comes from, at its own sizes and with
 * its own parameters: before training (rt_verify, on the very sizes that
 * training, evaluation and the MQAR probe use) and again after training, on
 * the trained model. A mixer can only change its graph with the sizes it is
 * built at, and a leak can hide behind a parameter that training moves, so
 * a check at other sizes or other weights would prove nothing about the
 * score.
 *
 * Outputs are compared for exact equality: the kernels compute each output
 * row from its own inputs in a fixed order, so a correct mixer changes
 * earlier outputs by exactly nothing, and any leak, however small, shows.
 *
 *   batch independence  each sequence gets a code of k bits, k/2 of them
 *                       set, no two alike; for each bit, replace the
 *                       sequences whose code has it and require the others
 *                       not to move at all: every ordered pair of sequences
 *                       is tested, in k passes (8 for B = 64);
 *   causality           each pass gives every sequence its own cut p and
 *                       replaces all of its tokens from p on; the outputs
 *                       before p must not move. A cut tests every later
 *                       position at once; the cuts come in priority order
 *                       (the last position, the first, both sides of every
 *                       chunk boundary, then the rest in a seeded order)
 *                       and cover every position when the rounds allow.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

#define BATCH_MIXING                                                                                  \
    "(must be exactly 0): something mixes across the batch axis (a reduction, scan or reshape over axis 0, " \
    "or one that folds the batch into another axis)"

typedef struct flow {
    rt_model *m;
    const rt_flow_opts *o;
    const char *file;
    aa_reports *out;
    int batch, time, vocab;
    size_t bt, nl;
    int32_t *base, *tok, *tgt;
    float *ref;
    uint64_t rng;
} flow;

/* A token different from t. */
static int32_t other_token(flow *f, int32_t t)
{
    return (int32_t)(((uint64_t)t + 1 + dt_rand_u64(&f->rng) % (uint64_t)(f->vocab - 1)) % (uint64_t)f->vocab);
}

static const float *run(flow *f)
{
    rt_forward(f->m, f->tok, f->tgt);
    return rt_logits(f->m);
}

/* The first output of sequence seq in positions [t0, t1) that differs from
 * the reference (NaN counts as a change); -1 when none. */
static int first_change(const flow *f, const float *y, int seq, int t0, int t1, double *by, int *nan)
{
    for (int t = t0; t < t1; t++) {
        size_t row = ((size_t)seq * f->time + t) * (size_t)f->vocab;
        for (int v = 0; v < f->vocab; v++) {
            float a = f->ref[row + v], b = y[row + v];
            if (a == b) continue;
            *nan = isnan(b);
            *by = fabs((double)a - b);
            return t;
        }
    }
    return -1;
}

static void describe_change(char *buf, size_t len, double by, int nan)
{
    if (nan) snprintf(buf, len, "to NaN");
    else snprintf(buf, len, "by %.3g", by);
}

static int report_nonfinite(flow *f)
{
    for (size_t i = 0; i < f->nl; i++) {
        if (isfinite(f->ref[i])) continue;
        size_t row = i / (size_t)f->vocab;
        aa_report_add(f->out, "verify", f->file, 0, 0, "verify/non-finite",
                      "%s: the output at sequence %zu, position %zu is %s before any token is changed, so where "
                      "information flows cannot be checked; the model must compute finite values (look for exp "
                      "or division of unbounded values, log of values that can be 0 or negative, missing "
                      "normalisation)",
                      f->o->what, row / (size_t)f->time, row % (size_t)f->time, isnan(f->ref[i]) ? "NaN" : "infinite");
        return 1;
    }
    return 0;
}

/* ---- batch independence ------------------------------------------------------ */

/* Replace the tokens of sequence b from position p on. */
static void cut_sequence(flow *f, int b, int p)
{
    for (int t = p; t < f->time; t++) {
        size_t i = (size_t)b * f->time + t;
        f->tok[i] = other_token(f, f->base[i]);
    }
}

/* Codes for batch independence: each sequence gets a distinct k-bit code
 * with exactly k/2 bits set, k the least with C(k, k/2) >= batch. Two such
 * codes never contain one another, so for every ordered pair (a, b) some bit
 * is set in a's code and clear in b's: the pass for that bit changes a and
 * not b. k passes (8 for a batch of 64, 6 for 16) test every pair, against
 * 2 log2(batch) for the bits of the index. */
static int batch_codes(int batch, uint32_t *codes)
{
    int k = 0;
    for (;; k++) {
        double c = 1;   /* C(k, k/2) */
        for (int i = 1; i <= k / 2; i++) c = c * (k - k / 2 + i) / i;
        if (c >= batch) break;
    }
    int n = 0;
    for (uint32_t code = 0; n < batch && code < (1u << k); code++)
        if (__builtin_popcount(code) == k / 2) codes[n++] = code;
    return k;
}

static int check_batch(flow *f)
{
    if (f->batch < 2) return 0;
    uint32_t *codes = malloc((size_t)f->batch * sizeof *codes);
    if (!codes) return 0;
    int passes = batch_codes(f->batch, codes), bad = 0;
    for (int bit = 0; bit < passes && !bad; bit++) {
        memcpy(f->tok, f->base, f->bt * sizeof *f->tok);
        int changed = -1;
        for (int b = 0; b < f->batch; b++)
            if (codes[b] >> bit & 1) cut_sequence(f, b, 0), changed = changed < 0 ? b : changed;
        const float *y = run(f);
        for (int b = 0; b < f->batch && !bad; b++) {
            if (codes[b] >> bit & 1) continue;
            double by = 0;
            int nan = 0, t = first_change(f, y, b, 0, f->time, &by, &nan);
            if (t < 0) continue;
            char how[48];
            describe_change(how, sizeof how, by, nan);
            aa_report_add(f->out, "verify", f->file, 0, 0, "verify/batch-independence",
                          "%s: changing other sequences of the batch (pass %d of %d: about half of them, "
                          "sequence %d first, never sequence %d) moved sequence %d at position %d %s " BATCH_MIXING,
                          f->o->what, bit + 1, passes, changed, b, b, t, how);
            bad = 1;
        }
    }
    free(codes);
    return bad;
}

/* ---- causality ---------------------------------------------------------------- */

static void add_cut(int *cuts, int *n, char *seen, int time, int p)
{
    if (p < 1 || p >= time || seen[p]) return;
    seen[p] = 1;
    cuts[(*n)++] = p;
}

/* Every position 1..T-1 once, most telling first. */
static int make_cuts(flow *f, int chunk, int *cuts)
{
    char *seen = calloc((size_t)f->time + 1, 1);
    int n = 0, T = f->time;
    if (!seen) return 0;
    add_cut(cuts, &n, seen, T, T - 1);
    add_cut(cuts, &n, seen, T, 1);
    for (int c = chunk > 0 ? chunk : T; c < T; c += chunk > 0 ? chunk : T) {
        add_cut(cuts, &n, seen, T, c - 1);
        add_cut(cuts, &n, seen, T, c);
        add_cut(cuts, &n, seen, T, c + 1);
    }
    add_cut(cuts, &n, seen, T, T - 2);
    add_cut(cuts, &n, seen, T, T / 2);
    int first_rest = n;
    for (int p = 1; p < T; p++) add_cut(cuts, &n, seen, T, p);
    for (int i = n - 1; i > first_rest; i--) {   /* the rest in a seeded order */
        int j = first_rest + (int)(dt_rand_u64(&f->rng) % (uint64_t)(i - first_rest + 1));
        int keep = cuts[i];
        cuts[i] = cuts[j];
        cuts[j] = keep;
    }
    free(seen);
    return n;
}

/* A pass moved sequence b before its cut: with only that sequence changed,
 * is it a leak from its own future, or from the others? */
static int diagnose(flow *f, int b, int p)
{
    memcpy(f->tok, f->base, f->bt * sizeof *f->tok);
    cut_sequence(f, b, p);
    const float *y = run(f);
    double by = 0;
    int nan = 0, t = first_change(f, y, b, 0, p, &by, &nan);
    char how[48];
    if (t >= 0) {
        describe_change(how, sizeof how, by, nan);
        aa_report_add(f->out, "verify", f->file, 0, 0, "verify/causality",
                      "%s: changing the tokens from position %d on moved the output at earlier position %d %s "
                      "(must be exactly 0): the mixer lets later tokens influence earlier outputs (look for "
                      "slices or pads that bring later positions earlier, reversals, non-causal convolutions, "
                      "or sums, means, softmaxes and matmuls over the time axis)",
                      f->o->what, p, t, how);
    } else {
        aa_report_add(f->out, "verify", f->file, 0, 0, "verify/batch-independence",
                      "%s: sequence %d moved before position %d only when other sequences of the batch changed "
                      "too " BATCH_MIXING, f->o->what, b, p);
    }
    return 1;
}

static int check_causality(flow *f, int chunk, int *probes)
{
    int *cuts = malloc(sizeof *cuts * (size_t)f->time), n = cuts ? make_cuts(f, chunk, cuts) : 0;
    int *cut_of = malloc(sizeof *cut_of * (size_t)f->batch);
    int next = 0, bad = 0;
    for (int round = 0; cut_of && round < f->o->rounds && next < n && !bad; round++) {
        memcpy(f->tok, f->base, f->bt * sizeof *f->tok);
        for (int b = 0; b < f->batch; b++) {
            cut_of[b] = next < n ? cuts[next++] : 0;
            if (cut_of[b]) cut_sequence(f, b, cut_of[b]);
        }
        const float *y = run(f);
        for (int b = 0; b < f->batch && !bad; b++) {
            if (!cut_of[b]) continue;
            (*probes)++;
            double by = 0;
            int nan = 0;
            if (first_change(f, y, b, 0, cut_of[b], &by, &nan) >= 0) bad = diagnose(f, b, cut_of[b]);
        }
    }
    free(cuts);
    free(cut_of);
    return bad;
}

/* ---- the check ---------------------------------------------------------------- */

int rt_check_flow(rt_model *m, const rt_flow_opts *o, const char *source_file, aa_reports *out, int *probes)
{
    const ir_graph *g = rt_model_graph(m);
    flow f = {.m = m, .o = o, .file = source_file, .out = out, .batch = g->dims.batch, .time = g->dims.time,
              .vocab = g->dims.vocab, .rng = o->seed ^ 0x666c6f77ULL};
    f.bt = (size_t)f.batch * (size_t)f.time;
    f.nl = f.bt * (size_t)f.vocab;
    f.base = malloc(f.bt * sizeof *f.base);
    f.tok = malloc(f.bt * sizeof *f.tok);
    f.tgt = malloc(f.bt * sizeof *f.tgt);
    f.ref = malloc(f.nl * sizeof *f.ref);
    int bad = 0, dummy = 0;
    if (!probes) probes = &dummy;
    if (!f.base || !f.tok || !f.tgt || !f.ref || f.vocab < 2) {
        aa_report_add(out, "verify", source_file, 0, 0, "verify/internal", "out of memory checking %s", o->what);
        bad = 1;
        goto done;
    }
    for (size_t i = 0; i < f.bt; i++) {
        f.base[i] = o->tokens ? o->tokens[i] : (int32_t)(dt_rand_u64(&f.rng) % (uint64_t)f.vocab);
        if (f.base[i] < 0 || f.base[i] >= f.vocab) f.base[i] = 0;
        f.tgt[i] = -1;
    }
    memcpy(f.tok, f.base, f.bt * sizeof *f.tok);
    memcpy(f.ref, run(&f), f.nl * sizeof *f.ref);
    bad = report_nonfinite(&f);
    if (!bad) bad = check_batch(&f);
    if (!bad) bad = check_causality(&f, g->dims.chunk, probes);
done:
    free(f.base);
    free(f.tok);
    free(f.tgt);
    free(f.ref);
    return bad;
}

/* ---- after training ------------------------------------------------------------- */

int rt_check_trained_on(rt_model *m, const rt_train_io *io, const char *what, const dt_tokens *data,
                        const char *source_file, char *err, size_t errlen)
{
    const ir_dims *d = &rt_model_graph(m)->dims;
    size_t bt = (size_t)d->batch * (size_t)d->time;
    int32_t *in = malloc(bt * sizeof *in), *tg = malloc(bt * sizeof *tg);
    int rc = -1;
    if (in && tg) {
        dt_loader ld;
        dt_loader_init(&ld, data, d->batch, d->time, 0, 0);
        rc = rt_check_trained(m, io, what, dt_loader_next(&ld, in, tg) == 0 ? in : NULL, source_file, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory checking %s", what);
    }
    free(in);
    free(tg);
    return rc;
}

int rt_check_trained(rt_model *m, const rt_train_io *io, const char *what, const int32_t *tokens,
                     const char *source_file, char *err, size_t errlen)
{
    rt_verify_opts defaults;
    rt_verify_defaults(&defaults);
    defaults.flow_rounds = RT_FLOW_ROUNDS_AFTER;
    const rt_verify_opts *vo = io && io->verify ? io->verify : &defaults;
    const ir_dims *d = &rt_model_graph(m)->dims;
    char label[160];
    snprintf(label, sizeof label, "%s (batch %d, time %d)", what, d->batch, d->time);
    rt_flow_opts fo = {.seed = vo->seed ^ 0x747261696e6564ULL, .rounds = vo->flow_rounds, .tokens = tokens,
                       .what = label};
    aa_reports local = {0}, *out = io && io->reports ? io->reports : &local;
    int before = out->n;
    int bad = rt_check_flow(m, &fo, source_file, out, NULL);
    if (bad)
        snprintf(err, errlen, "%s", out->n > before ? out->items[before].message : "the trained model failed verification");
    aa_reports_free(&local);
    return bad ? -1 : 0;
}
