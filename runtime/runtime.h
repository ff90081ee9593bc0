/*
 * runtime.h — from a mixer to a trained, evaluated language model.
 *
 *   rt_config      scale profiles (tiny, small, 20m) and training settings
 *   rt_build       the backbone around a mixer, as one ir_graph
 *   rt_model       an executable graph: planned memory, parameters,
 *                  forward, backward (autograd), AdamW
 *   rt_train       the training loop with schedules, evaluation, metrics
 *
 * Memory is planned once per graph (llm.c style): one arena for parameters
 * and their gradients and optimiser moments, one for activations, one for
 * activation gradients whose buffers are reused by liveness. Nothing is
 * allocated per step.
 */
#ifndef ASIARCH_RUNTIME_H
#define ASIARCH_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "ir.h"
#include "report.h"

typedef aa_t (*rt_mixer_fn)(aa_layer *l, aa_t x);

/* A mixer and where it came from: a reference linked into the binary, or a
 * candidate loaded by the JIT (which also resolves its custom pointwise
 * functions by name). */
typedef struct rt_arch {
    const char *name;
    const char *source_file;   /* for messages: "cand.c:14: ..." */
    rt_mixer_fn mixer;
    ir_resolver resolve;       /* NULL for natively linked mixers */
    void *resolve_ctx;
    const char *source_text;   /* the candidate's source (its AA_SCALAR functions run on a
                                  GPU from it); NULL for natively linked mixers */
} rt_arch;

/* ---- configuration ------------------------------------------------------------ */

typedef enum rt_schedule { RT_SCHED_WSD = 0, RT_SCHED_COSINE = 1, RT_SCHED_CONSTANT = 2 } rt_schedule;

typedef struct rt_config {
    char scale[16];
    ir_dims dims;           /* vocab, model, heads, layers, batch, time, chunk, mlp_hidden */
    int steps;
    float lr, min_lr_frac;  /* peak learning rate; final = lr * min_lr_frac */
    int warmup;             /* steps */
    float decay_frac;       /* WSD: fraction of steps spent decaying at the end */
    rt_schedule schedule;
    float beta1, beta2, eps, weight_decay, clip;
    uint64_t seed;
    int eval_every;         /* steps between validation passes (0: only at the end) */
    int eval_batches;       /* validation batches per pass */
    /* MQAR recall probe: a separate model of the same architecture trained
     * on MQAR for mqar_steps, then scored on fresh sequences. 0 disables. */
    int mqar_steps, mqar_time, mqar_kv, mqar_batch, mqar_eval_batches;
    float mqar_lr;
} rt_config;

/* Fill cfg with a named profile: "tiny", "small" or "20m". Returns -1 with a
 * message listing the valid names. */
int rt_config_scale(const char *name, rt_config *cfg, char *err, size_t errlen);
/* d_model -> SwiGLU hidden width (8/3 d rounded up to a multiple of 32). */
int rt_mlp_hidden(int model);
/* Learning rate at step (0-based) under the schedule. */
float rt_lr_at(const rt_config *cfg, int step);

/* ---- model graph ------------------------------------------------------------------ */

/* Embedding -> N x [RMSNorm -> mixer -> residual -> RMSNorm -> SwiGLU ->
 * residual] -> RMSNorm -> tied LM head -> cross-entropy (+ aux losses).
 * On a build error returns NULL and writes "file:line: op: message". */
ir_graph *rt_build_arch(const ir_dims *dims, const rt_arch *arch, char *err, size_t errlen);
/* The same, also returning the structured build error (line, DSL op). */
ir_graph *rt_build_detailed(const ir_dims *dims, const rt_arch *arch, ir_error *error, char *err,
                            size_t errlen);
/* The same for a natively linked mixer (no custom pointwise functions). */
ir_graph *rt_build(const ir_dims *dims, rt_mixer_fn mixer, const char *source_file, char *err,
                   size_t errlen);

/* ---- executable model ----------------------------------------------------------------- */

typedef struct rt_model rt_model;

/* The device every model made from now on runs on: a GPU opened with
 * gpu_open (gpu.h), or NULL for the CPU (the default). One process trains
 * on one device; the caller keeps the gpu_dev open while models use it. */
struct gpu_dev;
void rt_set_device(struct gpu_dev *d);
/* "cpu", or the GPU's name, architecture and GEMM precision. */
void rt_device_describe(char *out, size_t len);

/* Plan memory and allocate. training = 0 plans a forward-only model whose
 * activations reuse memory by liveness. Takes ownership of g. */
rt_model *rt_model_new(ir_graph *g, int training, char *err, size_t errlen);
void rt_model_free(rt_model *m);
const ir_graph *rt_model_graph(const rt_model *m);

/* Initialise every parameter from its initialiser; each parameter's stream
 * is derived from (seed, name), so adding one does not shift the others. */
void rt_model_init_params(rt_model *m, uint64_t seed);
/* Move every parameter element off its value: p += U(-1, 1) * max(|p|,
 * 0.02). Verification uses it so that nothing hides behind a weight that
 * starts at zero or under a threshold. */
void rt_model_perturb_params(rt_model *m, uint64_t seed);
/* Parameter tensor by full name (NULL if absent); *n receives its size. */
float *rt_param(rt_model *m, const char *name, size_t *n);
float *rt_param_grad(rt_model *m, const char *name, size_t *n);
/* Save / load every parameter by name (atomic write; load checks names and
 * sizes). Return 0 or -1 with a message naming the file. */
int rt_save_params(const rt_model *m, const char *path, char *err, size_t errlen);
int rt_load_params(rt_model *m, const char *path, char *err, size_t errlen);
/* The checkpoint's bytes to an open stream (flushed, not synced): the
 * sandboxed runner writes into a file its supervisor opened and renames. */
int rt_write_params(const rt_model *m, FILE *f);
/* Read a checkpoint from an open stream; path names it in messages. */
int rt_read_params(rt_model *m, FILE *f, const char *path, char *err, size_t errlen);
/* Copy every parameter that dst and src share by name and shape. */
int rt_model_copy_params(rt_model *dst, const rt_model *src);

/* tokens, targets: [batch*time] int32 (target -1 = ignored). Returns the loss
 * that training minimises: the cross-entropy plus the mixer's aux losses. */
float rt_forward(rt_model *m, const int32_t *tokens, const int32_t *targets);
/* The cross-entropy alone of the last forward: what evaluation reports. A
 * mixer's aux losses are its own business and can be negative. */
float rt_xent(const rt_model *m);
/* Why the last forward did not run (a token id outside [0, vocab), a
 * target outside [-1, vocab)), or NULL. rt_forward then returns NaN. */
const char *rt_input_error(const rt_model *m);
/* Gradients of the last forward's loss into the parameter gradients. */
void rt_backward(rt_model *m);
/* Value of any node after forward (for tests and probes). */
float *rt_value(rt_model *m, int node);
const float *rt_logits(const rt_model *m);
/* Clip by global norm, then one AdamW step at learning rate lr. Returns the
 * gradient norm before clipping. step is 1-based. */
double rt_adamw_step(rt_model *m, const rt_config *cfg, float lr, int step);

/* What the executor is doing right now, for a fault report: the phase, the
 * graph node being run and where the candidate made it. Reading it is
 * async-signal-safe (plain loads of what the executor stores before each
 * node), so a signal handler may call rt_activity_now. */
typedef enum rt_phase { RT_IDLE = 0, RT_BUILD, RT_FORWARD, RT_BACKWARD, RT_OPTIMISER } rt_phase;
typedef struct rt_activity {
    rt_phase phase;
    int node;                /* -1 when none */
    int line, layer;         /* the DSL call's line in the mixer's file (0: the backbone) */
    const char *op;          /* "linear", "unary.silu", ... (static text), or "" */
} rt_activity;
void rt_activity_now(rt_activity *out);
const char *rt_phase_name(rt_phase p);   /* "forward", ... (static text) */

/* Time every op (a little overhead per node) and print a table of forward
 * and backward seconds per op kind. */
void rt_model_set_profile(rt_model *m, int on);
void rt_model_print_profile(const rt_model *m, FILE *out);

/* Bytes of the three arenas (parameters+optimiser, activations, gradients). */
typedef struct rt_memory { size_t params, activations, gradients, scratch; } rt_memory;
rt_memory rt_model_memory(const rt_model *m);

/* ---- verification before training ------------------------------------------- */

/* Causality passes per checked graph (each pass gives every sequence of the
 * batch a cut of its own): before training a quick look; after training
 * enough to cover every position at the tiny and small scales. */
#define RT_FLOW_ROUNDS_BEFORE 4
#define RT_FLOW_ROUNDS_AFTER 16

typedef struct rt_verify_opts {
    double param_budget;       /* max parameters / DeltaNet's at the same scale; 0 = no limit */
    double flops_ratio_limit;  /* max FLOPs(2T) / FLOPs(T) */
    uint64_t seed;
    int flow_rounds;           /* causality passes per graph (rt_check_flow) */
} rt_verify_opts;

typedef struct rt_verify_info {
    long params, baseline_params;
    double param_ratio, flops_ratio;
    double flops_per_token;    /* training (forward + backward), as rt_metrics counts it */
    int causality_probes;      /* cut positions tested, over every checked graph */
    int graphs;                /* graphs checked at their exact sizes (training, MQAR) */
    uint64_t graph_hash;
} rt_verify_info;

/* Causality and batch independence of a built model at its own sizes and
 * with its current parameters (flow.c): outputs before a cut must not move
 * when the tokens from the cut on change, nor any sequence when others do.
 * Appends one stage-"verify" report (verify/causality, /batch-independence,
 * /non-finite) naming `what` and returns 1, or returns 0. *probes (when not
 * NULL) is increased by the number of cuts tested. */
typedef struct rt_flow_opts {
    uint64_t seed;
    int rounds;                /* causality passes */
    const int32_t *tokens;     /* the tokens to start from ([batch*time]); NULL: random */
    const char *what;          /* names the graph in messages: "after training (batch 8, time 128)" */
} rt_flow_opts;
int rt_check_flow(rt_model *m, const rt_flow_opts *o, const char *source_file, aa_reports *out, int *probes);

void rt_verify_defaults(rt_verify_opts *o);
/* rt_build_arch whose failure becomes a stage-"build" report (rule
 * "build/<DSL op>", the mixer's line) appended to out. */
ir_graph *rt_build_reporting(const ir_dims *dims, const rt_arch *arch, aa_reports *out);
/* Build the model at cfg's dimensions and run the deterministic checks:
 * custom derivatives, parameter budget, complexity (graphs at 2 and 4
 * chunks), causality and batch independence (exact). Appends stage "build"
 * or "verify" reports; returns the number of failed checks (0 = verified). */
int rt_verify(const rt_config *cfg, const rt_arch *arch, const rt_verify_opts *o, aa_reports *out,
              rt_verify_info *info);

/* ---- training and evaluation ----------------------------------------------------------- */

typedef struct rt_metrics {
    char name[64];
    char scale[16];
    long params;
    int steps;
    double train_loss;      /* mean of the last 10% of steps */
    double val_loss, val_bpb;
    double unigram_entropy; /* of the training data, nats/token (a floor to beat) */
    double mqar_acc;        /* -1 if not run */
    double tokens_per_s;    /* training throughput (excludes evaluation) */
    double train_seconds, total_seconds;
    double flops_per_token; /* forward + backward (3x forward) */
    double step_cpu_s;      /* CPU seconds per step after the warm-up, as the supervisor timed it
                               (discover's early stop); 0: not measured */
    size_t peak_rss_bytes;
    uint64_t graph_hash;
    int diverged;           /* loss went NaN/Inf: training stopped */
    int threads;
    char device[128];       /* "cpu", or the GPU: "NVIDIA H100 80GB HBM3 (sm_90, fp32)" */
} rt_metrics;

/* Called after each step (progress display). */
typedef void (*rt_progress_fn)(void *ctx, int step, int steps, float loss, double tokens_per_s,
                               double eta_seconds);

typedef struct rt_train_io {
    const dt_tokens *train, *val;   /* byte-level (or GPT-2) token data */
    /* The trained model is checked for causality and batch independence
     * (rt_check_flow) before any number about it is reported; a failure
     * goes into reports (NULL: only err) and the run fails. */
    const rt_verify_opts *verify;   /* NULL: defaults with RT_FLOW_ROUNDS_AFTER passes */
    aa_reports *reports;
    rt_progress_fn progress;
    void *progress_ctx;
    const char *save_path;          /* NULL, or where to save the trained parameters */
    FILE *save_file;                /* or an open stream to write them to (rt_write_params) */
    FILE *profile;                  /* NULL, or where to print per-op times after training */
} rt_train_io;

/* Train the mixer under cfg on io->train, evaluate on io->val, run the MQAR
 * probe. Returns 0, or -1 with err set (a build error, a divergence is
 * reported in metrics->diverged and returns 0). */
int rt_train(const rt_config *cfg, const rt_arch *arch, const rt_train_io *io, rt_metrics *out, char *err,
             size_t errlen);

/* Load a checkpoint into a forward-only model and measure validation loss,
 * bits per byte, forward tokens/s and memory. */
int rt_evaluate_checkpoint(const rt_config *cfg, const rt_arch *arch, const char *checkpoint, const rt_train_io *io,
                           rt_metrics *out, char *err, size_t errlen);
/* The same with the checkpoint open as a stream (the sandboxed runner).
 * io->val is the validation data; the loaded model is checked like a
 * trained one (io->verify, io->reports) before it is measured. */
int rt_evaluate_stream(const rt_config *cfg, const rt_arch *arch, FILE *checkpoint, const char *name,
                       const rt_train_io *io, rt_metrics *out, char *err, size_t errlen);
/* Mean validation loss over up to max_batches consecutive batches. */
double rt_eval_loss(rt_model *m, const dt_tokens *val, int max_batches);
/* Train a fresh model on MQAR and return its query accuracy in [0,1]; the
 * trained probe model is checked like any trained one (io->verify,
 * io->reports). -1 with err on failure. */
double rt_mqar_probe(const rt_config *cfg, const rt_arch *arch, const rt_train_io *io, char *err, size_t errlen);
/* Data that can feed a model of these dims: at least one window of T+1
 * tokens, ids below the vocabulary. -1 with a message naming `name`. */
int rt_check_data(const dt_tokens *t, const char *name, const ir_dims *d, char *err, size_t errlen);
/* Bits per byte of a loss in nats (byte-level vocabularies only, else NaN). */
double rt_bits_per_byte(const rt_config *cfg, double loss_nats);
/* Entropy (nats) of the token unigram distribution. */
double rt_unigram_entropy(const dt_tokens *t);
size_t rt_peak_rss(void);
/* Monotonic clock in seconds. */
double rt_now(void);

#endif /* ASIARCH_RUNTIME_H */
