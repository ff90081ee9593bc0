/*
 * orchestrator.h — `asiarch discover`: the ASI-Arch loop (ARCHITECTURE §1, §6).
 *
 *   baselines (DeltaNet, Gated DeltaNet; same budget and seed)
 *   then, until the budget is spent:
 *     select a parent (uniform from the top 10) and four references (ranks 11-50)
 *     propose a mixer (built-in evolution, or a language model)
 *     check -> compile -> verify in the sandbox -> novelty -> train in the
 *     sandbox (early stop against the baseline's curve) -> score -> analyse
 *     any failure goes back to the proposer's repair, up to max_repairs times
 *     store everything (candidate, attempts, events) in the lineage database
 *
 * Everything is stored as it happens, so a killed discover resumes where it
 * was: finished candidates are never run again, an interrupted one is
 * retried once.
 */
#ifndef ASIARCH_ORCHESTRATOR_H
#define ASIARCH_ORCHESTRATOR_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

typedef struct or_config {
    const char *db_path;        /* default DB_DEFAULT_PATH */
    const char *llm_url;        /* NULL or "builtin": the built-in proposer */
    const char *model;          /* LLM model name */
    const char *api_key;        /* from ASIARCH_API_KEY / OPENAI_API_KEY; never stored */
    double llm_timeout_s;       /* per request; 0 = the client's default */
    int budget;                 /* candidates to propose in this run (not counting baselines) */
    double hours;               /* wall-clock budget; 0 = none */
    int workers;                /* parallel candidates */
    char scale[16];
    int steps;                  /* 0: the scale's */
    int mqar;                   /* run the MQAR probe */
    sb_profile sandbox;
    int cuda;                   /* runners train on the GPU (one device, shared by the workers) */
    int gpu_precision, gpu_deterministic;
    uint64_t seed;
    int max_repairs;
    int confirm_top;            /* wins that hold: retrain this many of the best on `seeds` seeds (0: none) */
    int seeds;                  /* seeds of that retraining, the run's own included (default 3) */
    double time_limit_s;        /* per runner; 0: 20x the baseline's training time */
    const char *data_dir;       /* NULL: the default KJV corpus */
    const char *run_dir;        /* logs and runner roots; default "<db>.d" */
    int status_line;            /* draw a live status line on stderr */
    int quiet;
} or_config;

void or_config_defaults(or_config *c);
/* Apply a JSON config file's keys (the long option names: "budget",
 * "workers", "scale", "steps", "seed", "max_repairs", "sandbox", "llm",
 * "model", "hours", "time_limit", "mqar", "data", "db"). Unknown keys are an
 * error naming them. The strings stay owned by *keep (free with
 * or_config_free_json). */
int or_config_load_json(const char *path, or_config *c, void **keep, char *err, size_t errlen);
void or_config_free_json(void *keep);

/* A design trained on several seeds: mean +- 95% interval per measure, and
 * for a candidate the verdict against the best baseline on that measure
 * ("better", "not distinguishable", "worse", "unknown"). */
#define OR_MAX_CONFIRMED 16
typedef struct or_confirmed {
    int64_t id;
    char name[128];
    int is_baseline;
    int n, mqar_n;              /* seeds with a usable loss / recall */
    double loss_mean, loss_ci95, mqar_mean, mqar_ci95;   /* NaN: none */
    char loss_verdict[32], mqar_verdict[32];
    char loss_baseline[64], mqar_baseline[64];
} or_confirmed;

typedef struct or_summary {
    int64_t run_id;
    int resumed;
    int stopped;                /* ended by the user (cancel): resumable */
    int scored, failed, rejected, duplicates, interrupted_retried;
    int baselines;              /* of the scored: the baselines */
    int repairs;                /* attempts after a candidate's first (each a repair) */
    int early_stops;            /* of the scored: stopped early, with a reason */
    char llm_log_dir[1200];     /* where the model's exchanges were recorded ("" : none) */
    int continued_runs;         /* earlier runs whose population this one continued (0: a fresh one) */
    int continued_designs;      /* the scored designs of those runs, parents and references here */
    int reused_baselines;       /* baselines taken from an earlier run at the same settings, not retrained */
    int best_id;
    double best_score;
    char best_name[128];
    double wall_s;
    double training_s;          /* wall time inside training runners, summed over workers */
    double overhead_share;      /* 1 - training_s / (wall_s * workers) */
    int64_t prompt_tokens, completion_tokens;
    double cost_usd;
    int seeds;                  /* of the confirmation (0: none ran) */
    or_confirmed confirmed[OR_MAX_CONFIRMED];   /* baselines first, then the best candidates */
    int n_confirmed;
} or_summary;

/* Run (or resume) discovery. Returns 0 when the budget was spent or the
 * user stopped it cleanly (summary filled), -1 with err when it could not
 * run (database, corpus, sandbox, endpoint configuration). *cancel may be
 * set from a signal handler to stop: running candidates are stopped and
 * left to be retried on resume. */
int or_discover(const or_config *cfg, volatile int *cancel, or_summary *summary, char *err, size_t errlen);

#endif /* ASIARCH_ORCHESTRATOR_H */
