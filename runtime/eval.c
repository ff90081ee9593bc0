/*
 * eval.c — evaluation: validation loss on held-out text, and the MQAR recall
 * probe (Zoology): a fresh model of the same architecture learns
 * multi-query associative recall, then answers queries on new sequences.
 * Recall is where linear-attention designs differ most, and a short
 * convolution alone cannot do it, so the probe separates them cheaply.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

#include "rt_internal.h"

double rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rt_eval_loss(rt_model *m, const dt_tokens *val, int max_batches)
{
    const ir_dims *d = &m->g->dims;
    size_t bt = (size_t)d->batch * (size_t)d->time;
    int32_t *in = malloc(bt * sizeof *in), *tg = malloc(bt * sizeof *tg);
    dt_loader ld;
    dt_loader_init(&ld, val, d->batch, d->time, 0, 0);
    size_t avail = dt_loader_batches(&ld);
    int n = (int)(avail < (size_t)max_batches ? avail : (size_t)max_batches);
    double sum = 0;
    for (int i = 0; i < n && in && tg; i++) {
        if (dt_loader_next(&ld, in, tg) < 0) { sum = NAN; break; }
        rt_forward(m, in, tg);
        sum += rt_xent(m);   /* the cross-entropy: a mixer's aux losses are not part of the score */
    }
    free(in);
    free(tg);
    return n > 0 ? sum / n : NAN;
}

/* Fraction of query positions whose argmax prediction is the target. */
static void count_hits(const float *logits, const int32_t *targets, size_t n, int vocab, long *hits, long *total)
{
    for (size_t i = 0; i < n; i++) {
        if (targets[i] < 0) continue;
        const float *row = logits + i * (size_t)vocab;
        int best = 0;
        for (int v = 1; v < vocab; v++)
            if (row[v] > row[best]) best = v;
        *hits += best == targets[i];
        *total += 1;
    }
}

double rt_mqar_probe(const rt_config *cfg, const rt_arch *arch, const rt_train_io *io, char *err, size_t errlen)
{
    rt_config c = *cfg;
    c.dims.time = cfg->mqar_time;
    c.dims.batch = cfg->mqar_batch;
    c.steps = cfg->mqar_steps;
    c.lr = cfg->mqar_lr;
    dt_mqar_cfg mq = {.vocab = cfg->dims.vocab, .seq_len = c.dims.time, .num_kv = cfg->mqar_kv, .power_a = 0.01f};
    if (dt_mqar_check(&mq, err, errlen) < 0) return -1;
    ir_graph *g = rt_build_arch(&c.dims, arch, err, errlen);
    if (!g) return -1;
    rt_model *m = rt_model_new(g, 1, err, errlen);
    if (!m) { ir_graph_free(g); return -1; }
    rt_model_init_params(m, c.seed + 1000);
    size_t bt = (size_t)c.dims.batch * (size_t)c.dims.time;
    int32_t *in = malloc(bt * sizeof *in), *tg = malloc(bt * sizeof *tg);
    uint64_t rng = c.seed * 7919 + 17;
    for (int step = 0; step < c.steps && in && tg; step++) {
        dt_mqar_batch(&mq, &rng, c.dims.batch, in, tg);
        float loss = rt_forward(m, in, tg);
        if (!isfinite(loss)) break;
        rt_backward(m);
        rt_adamw_step(m, &c, rt_lr_at(&c, step), step + 1);
    }
    long hits = 0, total = 0;
    uint64_t eval_rng = c.seed * 104729 + 99991;   /* sequences never seen in training */
    int checked = 0;
    for (int b = 0; b < cfg->mqar_eval_batches && in && tg; b++) {
        dt_mqar_batch(&mq, &eval_rng, c.dims.batch, in, tg);
        if (!checked++ && rt_check_trained(m, io, "the MQAR probe's trained model", in, arch->source_file, err,
                                           errlen) < 0) {
            total = -1;
            break;
        }
        rt_forward(m, in, tg);
        count_hits(rt_logits(m), tg, bt, c.dims.vocab, &hits, &total);
    }
    free(in);
    free(tg);
    rt_model_free(m);
    if (total < 0) return -1;
    return total ? (double)hits / (double)total : 0.0;
}

int rt_evaluate_checkpoint(const rt_config *cfg, const rt_arch *arch, const char *checkpoint, const rt_train_io *io,
                           rt_metrics *out, char *err, size_t errlen)
{
    FILE *f = fopen(checkpoint, "rb");
    if (!f) {
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "%s: cannot open: %s", checkpoint, strerror(errno));
        return -1;
    }
    int rc = rt_evaluate_stream(cfg, arch, f, checkpoint, io, out, err, errlen);
    fclose(f);
    return rc;
}

int rt_evaluate_stream(const rt_config *cfg, const rt_arch *arch, FILE *checkpoint, const char *name,
                       const rt_train_io *io, rt_metrics *out, char *err, size_t errlen)
{
    const dt_tokens *val = io->val;
    if (errlen) err[0] = 0;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", arch->name);
    snprintf(out->scale, sizeof out->scale, "%s", cfg->scale);
    out->mqar_acc = -1;
    out->train_loss = NAN;
    out->threads = omp_get_max_threads();
    rt_device_describe(out->device, sizeof out->device);
    ir_graph *g = rt_build_arch(&cfg->dims, arch, err, errlen);
    if (!g) return -1;
    rt_model *m = rt_model_new(g, 0, err, errlen);
    if (!m) { ir_graph_free(g); return -1; }
    if (rt_check_data(val, "the validation data", &cfg->dims, err, errlen) < 0 ||
        rt_read_params(m, checkpoint, name, err, errlen) < 0) {
        rt_model_free(m);
        return -1;
    }
    /* The loaded weights are what is measured: check them as trained ones. */
    if (rt_check_trained_on(m, io, "the loaded model", val, arch->source_file, err, errlen) < 0) {
        rt_model_free(m);
        return -1;
    }
    out->params = ir_param_count(g);
    out->graph_hash = ir_structural_hash(g);
    out->flops_per_token = ir_flops_forward(g) / ((double)cfg->dims.batch * cfg->dims.time);
    double t0 = rt_now();
    out->val_loss = rt_eval_loss(m, val, cfg->eval_batches);
    out->total_seconds = rt_now() - t0;
    dt_loader ld;
    dt_loader_init(&ld, val, cfg->dims.batch, cfg->dims.time, 0, 0);
    size_t batches = dt_loader_batches(&ld);
    if (batches > (size_t)cfg->eval_batches) batches = (size_t)cfg->eval_batches;
    out->tokens_per_s = out->total_seconds > 0 ? (double)batches * cfg->dims.batch * cfg->dims.time / out->total_seconds : 0;
    out->val_bpb = rt_bits_per_byte(cfg, out->val_loss);
    out->peak_rss_bytes = rt_peak_rss();
    rt_model_free(m);
    return 0;
}

/* Byte-level models: one token is one byte, so bits/byte = nats / ln 2.
 * For subword tokens the bytes per token are unknown here: NaN (JSON null). */
double rt_bits_per_byte(const rt_config *cfg, double loss_nats)
{
    return cfg->dims.vocab <= 256 ? loss_nats / log(2.0) : NAN;
}

size_t rt_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;   /* Linux reports KiB */
}
