/*
 * db.h — the lineage database: every run of `asiarch discover`, every
 * candidate it proposed (parent, references, source, hashes, status, metrics,
 * scores, analysis, costs), every attempt at building it (with its failure
 * reports) and a log of events, in one SQLite file.
 *
 * Durability (ARCHITECTURE §6). SQLite in WAL mode with synchronous=FULL. Outside
 * an explicit transaction, a mutating call that returned 0 has committed,
 * and a committed transaction survives `kill -9` of the process at any later
 * moment. synchronous=NORMAL would already give that (the WAL frames are in
 * the kernel's page cache when COMMIT returns); FULL also fsyncs the WAL at
 * every commit, so a commit survives a power loss or kernel crash too, for
 * one fsync per commit (milliseconds at most; a candidate takes minutes).
 * A killed process leaves no half-written row: each mutating call is one
 * transaction (or a savepoint inside the caller's transaction), a
 * candidate's result is stored together with its final attempt, and the
 * schema itself refuses a final status without a finish time or a scored
 * row without score and metrics. Foreign keys are enforced. A second process
 * (`asiarch db list` while discover runs) reads a consistent snapshot
 * without blocking the writer; writers wait up to DB_BUSY_TIMEOUT_MS for
 * each other.
 *
 * Schema version DB_SCHEMA_VERSION, kept in the `meta` table. A database
 * written by a newer asiarch is refused with a clear error; an older one is
 * migrated when opened read-write.
 *
 * Errors: every function returns 0 on success and -1 on failure (lookups
 * also return 1 for "not found"); db_error() then says what was being done
 * and what SQLite said, e.g. "finishing candidate 12: database or disk is
 * full (SQLITE_FULL: the disk is full ...; nothing of this call was
 * written)". A failed call has changed nothing.
 *
 * Single writer: one orchestrator process writes a database at a time;
 * db_recover_interrupted() assumes that whoever left a candidate 'running'
 * is dead. Any number of readers may run alongside. An aa_db is one
 * connection for one thread at a time (open one per thread, or serialise).
 */
#ifndef ASIARCH_DB_H
#define ASIARCH_DB_H

#include <stddef.h>
#include <stdint.h>

/* The database `asiarch discover` and `asiarch db` use when none is named:
 * a file in the current directory. */
#define DB_DEFAULT_PATH "asiarch.db"
#define DB_SCHEMA_VERSION 2
#define DB_BUSY_TIMEOUT_MS 10000
/* Times a candidate is retried after the process running it was killed. */
#define DB_MAX_RETRIES 1

typedef struct aa_db aa_db;
typedef struct cJSON cJSON;

/* ---- opening ------------------------------------------------------------------ */

/* Open (creating if needed) PATH for reading and writing, migrating an older
 * schema. Fails clearly for a newer schema, a file that is not an asiarch
 * database, a read-only file or directory, or a file system without the
 * shared memory WAL needs. On failure *out is NULL and err holds the reason. */
int db_open(const char *path, aa_db **out, char *err, size_t errlen);
/* Open an existing database for reading only (what `asiarch db` does): never
 * creates or migrates; a missing file is an error. Writes through it fail. */
int db_open_readonly(const char *path, aa_db **out, char *err, size_t errlen);
void db_close(aa_db *db);
/* What the last failed call on db was doing and why it failed. */
const char *db_error(const aa_db *db);
const char *db_path(const aa_db *db);
/* PRAGMA integrity_check and foreign_key_check; -1 with the problems in db_error(). */
int db_check_integrity(aa_db *db);

/* Explicit transactions, to make several calls one atomic unit. Inside one,
 * each call is a savepoint: a call that fails leaves the transaction as it
 * was before the call, and the caller decides to commit or roll back. If
 * SQLite itself had to abandon the transaction (disk full, I/O error), later
 * calls and db_commit fail and say so. Transactions do not nest. */
int db_begin(aa_db *db);
int db_commit(aa_db *db);
int db_rollback(aa_db *db);

/* ---- vocabulary ----------------------------------------------------------------- */

typedef enum db_status {
    DB_PROPOSED,     /* stored, not started */
    DB_RUNNING,      /* being checked / built / trained by a live process */
    DB_SCORED,       /* trained and evaluated: metrics and score recorded */
    DB_FAILED,       /* a stage failed and repairs ran out (attempts say where) */
    DB_REJECTED,     /* refused before training (novelty, judge, budget) */
    DB_DUPLICATE,    /* same graph as an earlier candidate */
    DB_INTERRUPTED,  /* its process was killed while it ran; to be retried */
    DB_STATUS_COUNT
} db_status;

/* "proposed", "running", ...; NULL for an invalid value. */
const char *db_status_name(db_status s);
/* Parse a name; -1 if it is not one. */
int db_status_parse(const char *name, db_status *out);
/* Scored, failed, rejected and duplicate are final: never run again. */
int db_status_is_final(db_status s);

typedef enum db_run_status {
    DB_RUN_RUNNING,   /* a discover process owns it (or was killed: resume it) */
    DB_RUN_STOPPED,   /* ended early by the user (SIGINT); resumable */
    DB_RUN_FINISHED,  /* reached its budget */
    DB_RUN_FAILED,    /* ended by an error */
    DB_RUN_STATUS_COUNT
} db_run_status;

const char *db_run_status_name(db_run_status s);
int db_run_status_parse(const char *name, db_run_status *out);

/* Costs of a candidate: language-model tokens and money, compute time. */
typedef struct db_costs {
    int64_t prompt_tokens, completion_tokens;
    double cost_usd;
    double cpu_seconds, gpu_seconds;
} db_costs;

/* Timestamps are UTC, ISO 8601 with milliseconds ("2025-07-30T12:34:56.789Z");
 * "" when not reached yet. */
#define DB_TIME_LEN 32

/* ---- runs ------------------------------------------------------------------------ */

typedef struct db_run {
    int64_t id;
    char created_at[DB_TIME_LEN], updated_at[DB_TIME_LEN];
    char *config_json;          /* the discover configuration, a JSON object */
    int64_t seed;
    char *scale, *proposer;     /* "tiny", ...; "builtin", "llm" */
    db_run_status status;
} db_run;

typedef struct db_run_new {
    const char *config_json;    /* NULL: {} */
    int64_t seed;
    const char *scale, *proposer;
} db_run_new;

int db_run_create(aa_db *db, const db_run_new *r, int64_t *id);
/* 0 found, 1 no such run, -1 error. */
int db_run_get(aa_db *db, int64_t id, db_run *out);
/* The most recently created run (the one `discover --resume` continues);
 * 0 found, 1 the database has no run, -1 error. */
int db_run_latest(aa_db *db, db_run *out);
int db_run_set_status(aa_db *db, int64_t id, db_run_status s);
/* Every run, oldest first. */
int db_run_list(aa_db *db, db_run **out, int *n);
/* Sum of the costs of the run's candidates (run 0: every run). */
int db_run_costs(aa_db *db, int64_t run_id, db_costs *out);
void db_run_free(db_run *r);
void db_run_list_free(db_run *runs, int n);

/* ---- candidates -------------------------------------------------------------------- */

typedef struct db_candidate {
    int64_t id, run_id;
    int64_t parent_id;          /* 0: none */
    int64_t *refs;              /* reference candidates shown to the proposer */
    int n_refs;
    char *name, *motivation;
    char *source;               /* DSL source; NULL for a built-in baseline without one */
    char *source_sha256;        /* hex SHA-256 of source; NULL with it */
    char *graph_hash;           /* hex canonical graph hash; NULL until built */
    int is_baseline;
    db_status status;
    char *status_reason;        /* why it failed / was rejected / ...; NULL if none */
    int retries;                /* times it was interrupted and retried */
    char *metrics_json;         /* JSON object (val_loss, bpb, mqar_acc, tok_per_s, steps, ...) or NULL */
    double score;               /* NAN when not scored */
    char *scores_json;          /* JSON object: fitness components, judge scores; or NULL */
    char *analysis;             /* the analyst's text, or NULL */
    db_costs costs;             /* totals */
    char created_at[DB_TIME_LEN], started_at[DB_TIME_LEN], finished_at[DB_TIME_LEN];
} db_candidate;

typedef struct db_candidate_list {
    db_candidate *items;
    int n;
} db_candidate_list;

/* A new candidate. Strings are copied; NULL means absent where allowed. */
typedef struct db_candidate_new {
    int64_t run_id;
    int64_t parent_id;          /* 0: none (seeds and baselines) */
    const int64_t *refs;        /* each must be a stored candidate */
    int n_refs;
    const char *name;           /* required, non-empty */
    const char *motivation;
    const char *source;         /* its SHA-256 is computed here */
    const char *graph_hash;     /* NULL: not built yet */
    int is_baseline;
    db_status status;           /* DB_PROPOSED normally (0); or a final status
                                   for a proposal refused before it ran */
    const char *status_reason;
    db_costs costs;             /* what proposing it cost */
} db_candidate_new;

/* The outcome of a candidate, stored in one transaction with its final
 * attempt (so neither exists without the other). */
typedef struct db_result {
    db_status status;           /* DB_SCORED, DB_FAILED, DB_REJECTED or DB_DUPLICATE */
    const char *reason;         /* why (anything but scored); NULL: none */
    const char *metrics_json;   /* JSON object or NULL */
    double score;               /* NAN: none; otherwise finite */
    const char *scores_json;    /* JSON object or NULL */
    const char *analysis;       /* NULL: none */
    const char *graph_hash;     /* NULL: keep the stored one */
    /* What was finally evaluated, when a repair changed it (NULL: keep the
     * stored one): the candidate row describes the code that was trained. */
    const char *name, *motivation, *source;
    db_costs costs;             /* ADDED to the candidate's totals */
} db_result;

/* An empty result to fill in: status DB_SCORED, score NAN (none), nothing else. */
db_result db_result_init(void);

int db_candidate_insert(aa_db *db, const db_candidate_new *c, int64_t *id);
/* proposed or interrupted -> running, started_at = now. Refuses a candidate
 * with a final status ("already scored; not running it again") or one that is
 * already running. */
int db_candidate_start(aa_db *db, int64_t id);
/* Change the status by hand (and log it); final statuses are better set with
 * db_candidate_finish, which also stores the outcome. */
int db_candidate_set_status(aa_db *db, int64_t id, db_status s, const char *reason);
int db_candidate_set_graph_hash(aa_db *db, int64_t id, const char *graph_hash);
/* Add to the candidate's cost totals now (e.g. after each model call), so a
 * kill loses none of what was spent. */
int db_candidate_add_costs(aa_db *db, int64_t id, const db_costs *c);

typedef struct db_attempt_new db_attempt_new;
/* Store the outcome and, when final_attempt is not NULL, that attempt, in one
 * transaction; finished_at = now. Refuses a candidate that already has a
 * final status. Every status change is also logged as an event. */
int db_candidate_finish(aa_db *db, int64_t id, const db_result *r, const db_attempt_new *final_attempt);

/* Store (replace) the analyst's text and add its costs, also on a finished
 * candidate: the result can be committed first, so a kill during the
 * analyst's model call loses no training, and the analysis follows. */
int db_candidate_set_analysis(aa_db *db, int64_t id, const char *analysis, const db_costs *costs);

/* 0 found, 1 no such candidate, -1 error. */
int db_candidate_get(aa_db *db, int64_t id, db_candidate *out);
void db_candidate_free(db_candidate *c);
void db_candidate_list_free(db_candidate_list *l);

/* Candidates of run_id (0: every run) with the given status (-1: any),
 * in id order. */
int db_candidate_list_all(aa_db *db, int64_t run_id, int status, db_candidate_list *out);
/* Children (parent_id = id), in id order. */
int db_candidate_children(aa_db *db, int64_t id, db_candidate_list *out);

/* Ranking: scored candidates with a score, best first, ties by id (older first).
 * run_id 0: every run. Flags: */
#define DB_RANK_NO_BASELINES 1
/* Ranks first..last (1-based, inclusive): "references from ranks 11-50" is
 * (11, 50). Fewer (or none) when fewer are scored. */
int db_rank_range(aa_db *db, int64_t run_id, int first, int last, int flags, db_candidate_list *out);
/* Ranks 1..k. */
int db_top_scored(aa_db *db, int64_t run_id, int k, int flags, db_candidate_list *out);

/* The oldest candidate (any run, any status) other than exclude_id with this
 * graph hash: the exact-duplicate check. *found = 0 when there is none. */
int db_find_graph_hash(aa_db *db, const char *graph_hash, int64_t exclude_id, int64_t *found);
/* counts[s] = candidates of run_id (0: every run) with status s. */
int db_count_by_status(aa_db *db, int64_t run_id, int64_t counts[DB_STATUS_COUNT]);

/* ---- recovery after a kill ---------------------------------------------------------- */

/* Call once when a discover process starts on run_id (resuming it). Every
 * candidate of the run left 'running' by a killed process gets retries + 1;
 * one interrupted at most DB_MAX_RETRIES times becomes 'interrupted' and is
 * returned in *retry (with interrupted candidates that were never restarted),
 * others become 'failed' ("interrupted N times; not retried again"). Each
 * change is logged as an event; all of it is one transaction. Candidates
 * still 'proposed' are not touched: list them to continue them. */
int db_recover_interrupted(aa_db *db, int64_t run_id, db_candidate_list *retry);

/* ---- attempts ----------------------------------------------------------------------- */

/* One try at taking a candidate through the pipeline: the stage it reached
 * ('propose', 'check', 'compile', 'link', 'build', 'verify', 'train',
 * 'evaluate', 'sandbox', ...), whether it passed, and the reports of its
 * failure (report.h's aa_reports_json(): an array of
 * {stage, file, line, col, rule, message, snippet}). */
struct db_attempt_new {
    int64_t candidate_id;
    int n;                      /* attempt number from 1; 0: the next one */
    const char *stage;          /* required */
    int ok;
    const char *reports_json;   /* JSON array; NULL: [] */
    const char *source;         /* the source tried, if it differs from the candidate's */
    int64_t prompt_tokens, completion_tokens;   /* of the repair that produced it */
};

typedef struct db_attempt {
    int64_t id, candidate_id;
    int n;
    char *stage;
    int ok;
    char *reports_json;         /* a JSON array */
    char *source;               /* NULL if it was the candidate's */
    int64_t prompt_tokens, completion_tokens;
    char created_at[DB_TIME_LEN];
} db_attempt;

int db_attempt_add(aa_db *db, const db_attempt_new *a, int64_t *id);
/* The candidate's attempts in order. */
int db_attempt_list(aa_db *db, int64_t candidate_id, db_attempt **out, int *n);
void db_attempt_list_free(db_attempt *a, int n);

/* ---- seed results: the same candidate trained again on other seeds ------------------- */

/* One training of a candidate (or baseline) on one seed, at a scale and
 * step count: what makes a claimed win checkable (mean and interval over
 * seeds). The run's own training is one of them too, stored the same way. */
typedef struct db_seed_result {
    int64_t candidate_id, seed;
    char *scale;
    int steps;
    char *metrics_json;         /* JSON object: val_loss, mqar_acc, ... */
    char created_at[DB_TIME_LEN];
} db_seed_result;

/* Store (replace) the result of candidate_id on seed at scale/steps. */
int db_seed_result_put(aa_db *db, int64_t candidate_id, int64_t seed, const char *scale, int steps,
                       const char *metrics_json);
/* The candidate's results at scale/steps (scale NULL: any), by seed. */
int db_seed_results(aa_db *db, int64_t candidate_id, const char *scale, int steps, db_seed_result **out, int *n);
void db_seed_results_free(db_seed_result *r, int n);
/* One metric of those results (key: a top-level field of metrics_json,
 * [a-z_]), by seed, into out[0..max): NaN where it is missing or not a
 * number. Returns how many, or -1. */
int db_seed_values(aa_db *db, int64_t candidate_id, const char *scale, int steps, const char *key, double *out,
                   int max);

/* ---- events -------------------------------------------------------------------------- */

typedef struct db_event {
    int64_t id, run_id, candidate_id;   /* candidate_id 0: about the run */
    char ts[DB_TIME_LEN];
    char *kind, *message;
} db_event;

/* Log an event (printf-style message). Status changes made through this API
 * are logged by it with kind "status"; "recover" marks recovery. */
int db_event_add(aa_db *db, int64_t run_id, int64_t candidate_id, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Events of run_id (0: every run) about candidate_id (0: all), oldest first. */
int db_event_list(aa_db *db, int64_t run_id, int64_t candidate_id, db_event **out, int *n);
void db_event_list_free(db_event *e, int n);

/* ---- JSON ------------------------------------------------------------------------------ */

/* A candidate as a JSON object: id, run_id, parent (null), refs, name,
 * motivation, status, status_reason, retries, is_baseline, score (null),
 * metrics, scores (parsed objects or null), graph_hash, source_sha256, the
 * costs, timestamps; with DB_JSON_FULL also source and analysis. NULL when
 * out of memory. */
#define DB_JSON_FULL 1
cJSON *db_candidate_json(const db_candidate *c, int flags);
cJSON *db_attempt_json(const db_attempt *a);
cJSON *db_event_json(const db_event *e);
cJSON *db_run_json(const db_run *r);

/* The whole database (run_id 0) or one run as one JSON document:
 * {"format": "asiarch-lineage", "schema_version": 1, "runs": [{...run,
 *  "candidates": [{...candidate with source and analysis, "attempts": [...]}],
 *  "events": [...]}]}. *json is malloc'd text. */
int db_export(aa_db *db, int64_t run_id, char **json);

#endif /* ASIARCH_DB_H */
