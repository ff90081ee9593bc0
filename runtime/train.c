/*
 * train.c — the training loop: build, initialise, step with AdamW under a
 * schedule, stop on divergence, then evaluate (validation loss, bits per
 * byte, MQAR recall) and report throughput and memory.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"


typedef struct batch { int32_t *inputs, *targets; } batch;

static int batch_alloc(batch *b, size_t n)
{
    b->inputs = malloc(n * sizeof(int32_t));
    b->targets = malloc(n * sizeof(int32_t));
    return b->inputs && b->targets ? 0 : -1;
}

static void batch_free(batch *b)
{
    free(b->inputs);
    free(b->targets);
}

/* Build the graph and an executable, parameter-initialised model. */
static rt_model *make_model(const ir_dims *dims, const rt_arch *arch, uint64_t seed, char *err, size_t errlen)
{
    ir_graph *g = rt_build_arch(dims, arch, err, errlen);
    if (!g) return NULL;
    rt_model *m = rt_model_new(g, 1, err, errlen);
    if (!m) {
        ir_graph_free(g);
        return NULL;
    }
    rt_model_init_params(m, seed);
    return m;
}

/* Run the optimisation loop; returns the number of steps done (fewer than
 * cfg->steps if the loss stopped being finite). */
static int optimise(rt_model *m, const rt_config *cfg, dt_loader *ld, const rt_train_io *io, double *loss_tail,
                    double *seconds)
{
    size_t bt = (size_t)cfg->dims.batch * (size_t)cfg->dims.time;
    batch b;
    if (batch_alloc(&b, bt) < 0) { batch_free(&b); return -1; }
    int tail_from = cfg->steps - (cfg->steps / 10 > 0 ? cfg->steps / 10 : 1);
    double tail = 0, t0 = rt_now();
    int tail_n = 0, step;
    for (step = 0; step < cfg->steps; step++) {
        if (dt_loader_next(ld, b.inputs, b.targets) < 0) { step = -1; break; }
        float total = rt_forward(m, b.inputs, b.targets);
        if (rt_input_error(m)) { step = -1; break; }
        if (!isfinite(total)) break;
        float loss = rt_xent(m);   /* reported; the aux losses are only optimised */
        rt_backward(m);
        rt_adamw_step(m, cfg, rt_lr_at(cfg, step), step + 1);
        if (step >= tail_from) { tail += loss; tail_n++; }
        if (io && io->progress) {
            double el = rt_now() - t0;
            io->progress(io->progress_ctx, step + 1, cfg->steps, loss, (double)bt * (step + 1) / el,
                         el / (step + 1) * (cfg->steps - step - 1));
        }
    }
    *seconds = rt_now() - t0;
    *loss_tail = tail_n ? tail / tail_n : NAN;
    batch_free(&b);
    return step;
}

double rt_unigram_entropy(const dt_tokens *t)
{
    int vocab = t->vocab > 0 ? t->vocab : 65536;
    double *count = calloc((size_t)vocab, sizeof *count);
    if (!count || t->n == 0) { free(count); return 0; }
    for (size_t i = 0; i < t->n; i++)
        if (t->tok[i] < vocab) count[t->tok[i]] += 1;
    double h = 0;
    for (int v = 0; v < vocab; v++)
        if (count[v] > 0) {
            double p = count[v] / (double)t->n;
            h -= p * log(p);
        }
    free(count);
    return h;
}

int rt_check_data(const dt_tokens *t, const char *name, const ir_dims *d, char *err, size_t errlen)
{
    if (!t || !t->tok || t->n < (size_t)d->time + 1) {
        snprintf(err, errlen, "%s holds %zu tokens, fewer than one window of %d (the sequence length %d plus the "
                 "next token to predict); use more text, or a shorter sequence", name, t ? t->n : 0,
                 d->time + 1, d->time);
        return -1;
    }
    if (t->vocab > d->vocab) {
        snprintf(err, errlen, "%s holds token ids up to %d but the model's vocabulary is %d; set the vocabulary "
                 "to at least %d, or use data made for this vocabulary", name, t->vocab - 1, d->vocab, t->vocab);
        return -1;
    }
    return 0;
}

int rt_train(const rt_config *cfg, const rt_arch *arch, const rt_train_io *io, rt_metrics *out, char *err,
             size_t errlen)
{
    double t_start = rt_now();
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", arch->name);
    snprintf(out->scale, sizeof out->scale, "%s", cfg->scale);
    out->mqar_acc = -1;
    out->threads = omp_get_max_threads();
    rt_device_describe(out->device, sizeof out->device);
    if (rt_check_data(io->train, "the training data", &cfg->dims, err, errlen) < 0 ||
        rt_check_data(io->val, "the validation data", &cfg->dims, err, errlen) < 0)
        return -1;
    rt_model *m = make_model(&cfg->dims, arch, cfg->seed, err, errlen);
    if (!m) return -1;
    const ir_graph *g = rt_model_graph(m);
    out->params = ir_param_count(g);
    out->graph_hash = ir_structural_hash(g);
    out->flops_per_token = 3.0 * ir_flops_forward(g) / ((double)cfg->dims.batch * cfg->dims.time);
    out->unigram_entropy = rt_unigram_entropy(io->train);

    dt_loader ld;
    dt_loader_init(&ld, io->train, cfg->dims.batch, cfg->dims.time, cfg->seed, 1);
    rt_model_set_profile(m, io->profile != NULL);
    int done = optimise(m, cfg, &ld, io, &out->train_loss, &out->train_seconds);
    if (io->profile) rt_model_print_profile(m, io->profile);
    rt_model_set_profile(m, 0);
    if (done < 0) {
        if (rt_input_error(m)) snprintf(err, errlen, "%s", rt_input_error(m));
        else snprintf(err, errlen, "out of memory allocating a batch, or the training data ran out");
        rt_model_free(m);
        return -1;
    }
    out->steps = done;
    out->diverged = done < cfg->steps;
    out->tokens_per_s = out->train_seconds > 0
                            ? (double)done * cfg->dims.batch * cfg->dims.time / out->train_seconds : 0;
    out->val_loss = out->diverged ? NAN : rt_eval_loss(m, io->val, cfg->eval_batches);
    out->val_bpb = rt_bits_per_byte(cfg, out->val_loss);
    /* still causal and batch-independent, on real validation text */
    if (!out->diverged && rt_check_trained_on(m, io, "the trained model", io->val, arch->source_file, err, errlen) < 0) {
        rt_model_free(m);
        return -1;
    }
    if (io->save_path && !out->diverged && rt_save_params(m, io->save_path, err, errlen) < 0) {
        rt_model_free(m);
        return -1;
    }
    if (io->save_file && !out->diverged && rt_write_params(m, io->save_file) < 0) {
        snprintf(err, errlen, "writing the trained parameters failed: %s", strerror(errno));
        rt_model_free(m);
        return -1;
    }
    rt_model_free(m);
    if (!out->diverged && cfg->mqar_steps > 0) {
        out->mqar_acc = rt_mqar_probe(cfg, arch, io, err, errlen);
        if (out->mqar_acc < 0) return -1;
    }
    out->peak_rss_bytes = rt_peak_rss();
    out->total_seconds = rt_now() - t_start;
    return 0;
}
