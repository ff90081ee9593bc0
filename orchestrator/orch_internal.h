/*
 * orch_internal.h — the state the discovery loop's files share.
 *
 * One `orch` per discover invocation. The database connection is used by
 * one thread at a time (o->lock); workers hold the lock only for short
 * database calls and proposals, never while a runner trains.
 */
#ifndef ASIARCH_ORCH_INTERNAL_H
#define ASIARCH_ORCH_INTERNAL_H

#include <pthread.h>

#include "cognition.h"
#include "db.h"
#include "llm.h"
#include "orchestrator.h"
#include "score.h"

#define OR_MAX_WORKERS 16
#define OR_MAX_BASELINES 3

typedef struct or_worker {
    int index;
    char stage[96];             /* for the status line: "train #12 140/300" */
    int64_t candidate;
} or_worker;

typedef struct orch {
    const or_config *cfg;
    volatile int *cancel;
    aa_db *db;
    pthread_mutex_t lock;
    int64_t run_id;
    int64_t population;         /* the runs parents come from: 0 = every run of the database (they were
                                   all made at this run's settings), else this run only */
    int64_t reuse_from[8];      /* earlier runs at the same settings, newest first */
    int n_reuse;
    rt_config rcfg;             /* the scale's training configuration */
    char train_path[1100], val_path[1100];
    char run_dir[1100];
    os_baseline base[OR_MAX_BASELINES];
    char base_names[OR_MAX_BASELINES][64];
    float *curves[OR_MAX_BASELINES];
    int ref_base;               /* the baseline with the lowest loss: the loss reference (-1: none) */
    int mqar_base;              /* the baseline with the best MQAR accuracy (-1: none measured) */
    os_baseline ref;            /* what each term is scored against (os_reference_composite) */
    int n_base;
    long baseline_params;
    cog_base cognition;
    llm_client *llm;            /* NULL: the built-in proposer */
    uint64_t rng;
    int threads_per_runner;
    int proposed;               /* non-baseline candidates of this run so far */
    double t_start, training_s;
    or_worker workers[OR_MAX_WORKERS];
    /* Near-duplicate signatures of the candidates verified by this process. */
    os_candidate_sig *sigs;
    char **sig_names;
    int n_sigs, cap_sigs;
    or_summary *summary;
} orch;

/* A candidate on its way through the pipeline. */
typedef struct or_candidate {
    int64_t id, parent_id;
    char *name, *motivation, *source;
    const char *reference;      /* baselines: the reference mixer */
    int is_baseline;
    db_costs costs;             /* what proposing and repairing it cost */
} or_candidate;

void or_candidate_free(or_candidate *c);

/* propose.c: a new candidate from a parent (NULL parent: from scratch), and
 * a repaired source after a failure. Called with o->lock held for the
 * database reads, released around model calls. 0, or -1 with err. */
/* why_parent: how the parent was chosen, for the researcher ("" : none). */
int or_propose(orch *o, const db_candidate *parent, const char *why_parent, const db_candidate_list *refs,
               or_candidate *out, char *err,
               size_t errlen);
int or_repair(orch *o, or_candidate *c, const char *stage, const aa_reports *reps, int attempt, char *err,
              size_t errlen);
/* One user message with a rendered template for the model; the answer's
 * text (malloc'd), or NULL with err. Tokens and cost are added to costs. */
char *or_ask(orch *o, const char *template_name, const llm_var *vars, int n, db_costs *costs, char *err,
             size_t errlen);
/* Analyst and judge: rule-based with the built-in proposer, the model otherwise. */
/* early_stop: why training was stopped early ("" or NULL when it ran to the end). */
int or_judge(orch *o, const or_candidate *c, const rt_metrics *m, const char *early_stop, double novelty, long params,
             llm_judgement *out);
char *or_analyse(orch *o, const or_candidate *c, const rt_metrics *m, const char *early_stop, db_costs *costs);

/* A stored analysis is the analyst's text, this line, then the insights
 * retrieved for it (the researcher gets those once, as {{cognition}}). */
#define OR_COGNITION_MARK "\n\nRelated insights (cognition base):\n"

/* Train candidate c once more on seed (a baseline by its reference name, a
 * candidate from its stored source: checked, compiled, verified, trained,
 * evaluated, as the run did). Its metrics as JSON (malloc'd), or NULL with
 * why. (evaluate.c) */
char *or_train_seed(orch *o, const db_candidate *c, uint64_t seed, char *why, size_t len);

/* Wins that hold (confirm.c): the run's top candidates and its baselines
 * trained on o->cfg->seeds seeds, with the results in the database and the
 * verdicts in the summary and the events. Resumable: stored seeds are not
 * trained again. */
void or_confirm(orch *o);

/* ---- what the roles are told (context.c); malloc'd texts, NULL when out of memory ---- */

/* The candidate's source: its own, or for a baseline the reference's text. */
const char *or_source_of(const db_candidate *c);
/* "name (#id): val loss ..., MQAR not measured, ..." or why it has no results. */
char *or_results_text(const db_candidate *c);
/* The same from metrics just measured (or the early stop's reason). */
char *or_metrics_text(const rt_metrics *m, const char *early_stop);
char *or_scale_text(const orch *o);
/* The baselines with a few points of their loss curves. */
char *or_baselines_text(const orch *o);
/* The references: results, the analyst's next idea, a diff against the parent. */
char *or_references_text(const db_candidate *parent, const db_candidate_list *refs);
/* The parent's other finished children (not self_id), newest first. */
char *or_siblings_text(orch *o, int64_t parent_id, int64_t self_id);
/* This run's recent duplicates, refusals, early stops and failures, with
 * the reason, the numbers or the stage and rule. */
char *or_tried_text(orch *o);
/* A notice when the run's latest proposal was refused (duplicate...): "(none)" otherwise. */
char *or_notice_text(orch *o);
/* The baselines' measured seed-to-seed spread at this run's settings (from
 * stored seed results), or that it is not measured yet. */
char *or_noise_text(orch *o);

/* The reference baseline (the stronger one), or NULL before any trained. */
const os_baseline *or_reference(const orch *o);
/* The numbers of a stored metrics_json, as rt_metrics (what the scoring reads). */
int or_metrics_from_json(const char *json, rt_metrics *m);

/* evaluate.c: take one stored candidate through every stage and store the outcome. */
int or_evaluate(orch *o, or_worker *w, or_candidate *c);

/* discover.c */
void or_lock(orch *o);
void or_unlock(orch *o);
void or_event(orch *o, int64_t candidate, const char *kind, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void or_worker_stage(orch *o, or_worker *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* ASIARCH_ORCH_INTERNAL_H */
