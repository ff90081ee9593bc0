/*
 * candidates.c — writing candidates and their attempts: insert, start,
 * status changes, results (stored with the final attempt in one
 * transaction), costs, and recovery of candidates a killed process left
 * running. Every status change is logged as an event in the same
 * transaction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

static const char *const status_names[DB_STATUS_COUNT] = {"proposed", "running",   "scored",     "failed",
                                                          "rejected", "duplicate", "interrupted"};

const char *db_status_name(db_status s) { return (unsigned)s < DB_STATUS_COUNT ? status_names[s] : NULL; }

int db_status_parse(const char *name, db_status *out)
{
    for (int s = 0; s < DB_STATUS_COUNT; s++)
        if (name && !strcmp(name, status_names[s])) {
            *out = (db_status)s;
            return 0;
        }
    return -1;
}

int db_status_is_final(db_status s)
{
    return s == DB_SCORED || s == DB_FAILED || s == DB_REJECTED || s == DB_DUPLICATE;
}

db_result db_result_init(void) { return (db_result){.status = DB_SCORED, .score = NAN}; }

/* ---- helpers ------------------------------------------------------------------------- */

/* The stored status (and retries) of candidate id; -1 "no candidate N". */
static int current_status(aa_db *db, int64_t id, db_status *s, int *retries, const char *what)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT status, retries FROM candidates WHERE id = ?1", what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        db_status_parse((const char *)sqlite3_column_text(st, 0), s);
        if (retries) *retries = sqlite3_column_int(st, 1);
    } else if (rc == SQLITE_DONE) {
        ret = db_fail(db, "%s: there is no candidate %lld", what, (long long)id);
    } else {
        ret = db_fail_sql(db, what);
    }
    sqlite3_finalize(st);
    return ret;
}

static int row_exists(aa_db *db, const char *sql, int64_t id, const char *what)
{
    sqlite3_stmt *st = db_prepare(db, sql, what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return db_fail_sql(db, what);
}

static int log_status(aa_db *db, int64_t id, db_status from, db_status to, const char *reason)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s -> %s%s%s", db_status_name(from), db_status_name(to), reason ? ": " : "",
             reason ? reason : "");
    return db_insert_event(db, 0, id, "status", msg);
}

static int refuse_final(aa_db *db, int64_t id, db_status s, const char *what)
{
    return db_fail(db, "%s: candidate %lld is already %s, which is final (a finished candidate is never run again)",
                   what, (long long)id, db_status_name(s));
}

/* ---- insert ----------------------------------------------------------------------------- */

static int validate_new(aa_db *db, const db_candidate_new *c, const char *what)
{
    if (!c->name || !c->name[0]) return db_fail(db, "%s: the name is empty", what);
    if (!db_status_name(c->status)) return db_fail(db, "%s: invalid status %d", what, (int)c->status);
    if (c->status == DB_RUNNING || c->status == DB_INTERRUPTED || c->status == DB_SCORED)
        return db_fail(db, "%s: a new candidate cannot be %s (insert it as proposed, then start and finish it)", what,
                       db_status_name(c->status));
    if (c->n_refs < 0 || (c->n_refs > 0 && !c->refs)) return db_fail(db, "%s: bad references", what);
    return 0;
}

/* The run, the parent and every reference must exist (clearer than SQLite's
 * "FOREIGN KEY constraint failed"). */
static int check_links(aa_db *db, const db_candidate_new *c, const char *what)
{
    int rc = row_exists(db, "SELECT 1 FROM runs WHERE id = ?1", c->run_id, what);
    if (rc == 0) return db_fail(db, "%s: there is no run %lld", what, (long long)c->run_id);
    if (rc < 0) return -1;
    const char *exists = "SELECT 1 FROM candidates WHERE id = ?1";
    if (c->parent_id && (rc = row_exists(db, exists, c->parent_id, what)) <= 0)
        return rc < 0 ? -1 : db_fail(db, "%s: the parent %lld is not a candidate", what, (long long)c->parent_id);
    for (int i = 0; i < c->n_refs; i++)
        if ((rc = row_exists(db, exists, c->refs[i], what)) <= 0)
            return rc < 0 ? -1 : db_fail(db, "%s: the reference %lld is not a candidate", what, (long long)c->refs[i]);
    return 0;
}

/* "[1,2,3]"; malloc'd. */
static char *refs_to_json(const int64_t *refs, int n)
{
    char *s = malloc(3 + (size_t)n * 21);   /* brackets, NUL, and up to 21 bytes per id */
    if (!s) return NULL;
    size_t len = 0;
    s[len++] = '[';
    for (int i = 0; i < n; i++) len += (size_t)sprintf(s + len, "%s%lld", i ? "," : "", (long long)refs[i]);
    s[len++] = ']';
    s[len] = 0;
    return s;
}

static int insert_row(aa_db *db, const db_candidate_new *c, const char *refs, const char *sha, const char *what)
{
    sqlite3_stmt *st = db_prepare(
        db,
        "INSERT INTO candidates (run_id, parent_id, refs_json, name, motivation, source, source_sha256, graph_hash,"
        " is_baseline, status, status_reason, prompt_tokens, completion_tokens, cost_usd, cpu_seconds, gpu_seconds,"
        " finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " CASE WHEN ?17 THEN " DB_NOW_SQL " END)",
        what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, c->run_id);
    db_bind_id(st, 2, c->parent_id);
    sqlite3_bind_text(st, 3, refs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->name, -1, SQLITE_STATIC);
    db_bind_text(st, 5, c->motivation);
    db_bind_text(st, 6, c->source);
    db_bind_text(st, 7, c->source ? sha : NULL);
    db_bind_text(st, 8, c->graph_hash);
    sqlite3_bind_int(st, 9, c->is_baseline != 0);
    sqlite3_bind_text(st, 10, db_status_name(c->status), -1, SQLITE_STATIC);
    db_bind_text(st, 11, c->status_reason);
    sqlite3_bind_int64(st, 12, c->costs.prompt_tokens);
    sqlite3_bind_int64(st, 13, c->costs.completion_tokens);
    sqlite3_bind_double(st, 14, c->costs.cost_usd);
    sqlite3_bind_double(st, 15, c->costs.cpu_seconds);
    sqlite3_bind_double(st, 16, c->costs.gpu_seconds);
    sqlite3_bind_int(st, 17, db_status_is_final(c->status));
    return db_exec_stmt(db, st, what);
}

int db_candidate_insert(aa_db *db, const db_candidate_new *c, int64_t *id)
{
    char what[200];
    snprintf(what, sizeof what, "storing candidate '%.120s'", c->name ? c->name : "");
    if (validate_new(db, c, what) < 0) return -1;
    char sha[65] = "";
    if (c->source && db_sha256_hex(c->source, sha) < 0) return db_fail(db, "%s: SHA-256 failed", what);
    char *refs = refs_to_json(c->refs, c->n_refs);
    if (!refs) return db_fail(db, "%s: out of memory", what);
    if (db_write_begin(db, what) < 0) {
        free(refs);
        return -1;
    }
    int rc = check_links(db, c, what);
    if (rc == 0) rc = insert_row(db, c, refs, sha, what);
    int64_t new_id = sqlite3_last_insert_rowid(db->sql);
    if (rc == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "new %s'%.200s': %s", c->is_baseline ? "baseline " : "", c->name,
                 db_status_name(c->status));
        rc = db_insert_event(db, c->run_id, new_id, "status", msg);
    }
    free(refs);
    if (db_write_end(db, rc, what) < 0) return -1;
    if (id) *id = new_id;
    return 0;
}

/* ---- status ------------------------------------------------------------------------------ */

int db_candidate_start(aa_db *db, int64_t id)
{
    char what[64];
    snprintf(what, sizeof what, "starting candidate %lld", (long long)id);
    if (db_write_begin(db, what) < 0) return -1;
    db_status s;
    int rc = current_status(db, id, &s, NULL, what);
    if (rc == 0 && db_status_is_final(s)) rc = refuse_final(db, id, s, what);
    if (rc == 0 && s == DB_RUNNING)
        rc = db_fail(db, "%s: it is already running (if its process died, db_recover_interrupted() first)", what);
    if (rc == 0) {
        sqlite3_stmt *st = db_prepare(
            db, "UPDATE candidates SET status = 'running', started_at = " DB_NOW_SQL " WHERE id = ?1", what);
        if (st) sqlite3_bind_int64(st, 1, id);
        rc = db_exec_stmt(db, st, what);
    }
    if (rc == 0) rc = log_status(db, id, s, DB_RUNNING, NULL);
    return db_write_end(db, rc, what);
}

int db_candidate_set_status(aa_db *db, int64_t id, db_status to, const char *reason)
{
    char what[80];
    snprintf(what, sizeof what, "setting the status of candidate %lld", (long long)id);
    if (!db_status_name(to)) return db_fail(db, "%s: invalid status %d", what, (int)to);
    if (db_write_begin(db, what) < 0) return -1;
    db_status from;
    int rc = current_status(db, id, &from, NULL, what);
    if (rc == 0 && db_status_is_final(from)) rc = refuse_final(db, id, from, what);
    if (rc == 0) {
        sqlite3_stmt *st = db_prepare(db,
                                      "UPDATE candidates SET status = ?1, status_reason = ?2,"
                                      " finished_at = CASE WHEN ?3 THEN " DB_NOW_SQL " END WHERE id = ?4",
                                      what);
        if (st) {
            sqlite3_bind_text(st, 1, db_status_name(to), -1, SQLITE_STATIC);
            db_bind_text(st, 2, reason);
            sqlite3_bind_int(st, 3, db_status_is_final(to));
            sqlite3_bind_int64(st, 4, id);
        }
        rc = db_exec_stmt(db, st, what);
    }
    if (rc == 0) rc = log_status(db, id, from, to, reason);
    return db_write_end(db, rc, what);
}

/* An UPDATE of one candidate by id (?last), failing clearly if there is none. */
static int update_one(aa_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
    int rc = db_exec_stmt(db, st, what);
    if (rc == 0 && sqlite3_changes(db->sql) == 0)
        rc = db_fail(db, "%s: there is no candidate %lld", what, (long long)id);
    return rc;
}

int db_candidate_set_graph_hash(aa_db *db, int64_t id, const char *graph_hash)
{
    char what[80];
    snprintf(what, sizeof what, "setting the graph hash of candidate %lld", (long long)id);
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = db_prepare(db, "UPDATE candidates SET graph_hash = ?1 WHERE id = ?2", what);
    if (st) {
        db_bind_text(st, 1, graph_hash);
        sqlite3_bind_int64(st, 2, id);
    }
    return db_write_end(db, update_one(db, st, id, what), what);
}

static sqlite3_stmt *prepare_add_costs(aa_db *db, const char *what)
{
    return db_prepare(db,
                      "UPDATE candidates SET prompt_tokens = prompt_tokens + ?1,"
                      " completion_tokens = completion_tokens + ?2, cost_usd = cost_usd + ?3,"
                      " cpu_seconds = cpu_seconds + ?4, gpu_seconds = gpu_seconds + ?5 WHERE id = ?6",
                      what);
}

static void bind_costs(sqlite3_stmt *st, int first, const db_costs *c)
{
    sqlite3_bind_int64(st, first, c->prompt_tokens);
    sqlite3_bind_int64(st, first + 1, c->completion_tokens);
    sqlite3_bind_double(st, first + 2, c->cost_usd);
    sqlite3_bind_double(st, first + 3, c->cpu_seconds);
    sqlite3_bind_double(st, first + 4, c->gpu_seconds);
}

int db_candidate_add_costs(aa_db *db, int64_t id, const db_costs *c)
{
    char what[80];
    snprintf(what, sizeof what, "adding to the costs of candidate %lld", (long long)id);
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = prepare_add_costs(db, what);
    if (st) {
        bind_costs(st, 1, c);
        sqlite3_bind_int64(st, 6, id);
    }
    return db_write_end(db, update_one(db, st, id, what), what);
}

int db_candidate_set_analysis(aa_db *db, int64_t id, const char *analysis, const db_costs *costs)
{
    char what[80];
    snprintf(what, sizeof what, "storing the analysis of candidate %lld", (long long)id);
    static const db_costs none;
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE candidates SET analysis = ?6, prompt_tokens = prompt_tokens + ?1,"
                                  " completion_tokens = completion_tokens + ?2, cost_usd = cost_usd + ?3,"
                                  " cpu_seconds = cpu_seconds + ?4, gpu_seconds = gpu_seconds + ?5 WHERE id = ?7",
                                  what);
    if (st) {
        bind_costs(st, 1, costs ? costs : &none);
        db_bind_text(st, 6, analysis);
        sqlite3_bind_int64(st, 7, id);
    }
    int rc = update_one(db, st, id, what);
    if (rc == 0) rc = db_insert_event(db, 0, id, "analysis", analysis ? "analysis stored" : "analysis cleared");
    return db_write_end(db, rc, what);
}

/* ---- attempts ------------------------------------------------------------------------------ */

static int validate_attempt(aa_db *db, const db_attempt_new *a, const char *what)
{
    if (!a->stage || !a->stage[0]) return db_fail(db, "%s: the stage is empty", what);
    if (a->n < 0) return db_fail(db, "%s: attempt number %d is negative", what, a->n);
    if (a->reports_json && !db_json_is(a->reports_json, 1))
        return db_fail(db, "%s: reports_json is not a JSON array", what);
    return 0;
}

/* Insert inside the caller's write transaction; n 0 takes the next number. */
static int insert_attempt(aa_db *db, const db_attempt_new *a, int64_t candidate_id, int64_t *id, const char *what)
{
    sqlite3_stmt *st = db_prepare(
        db,
        "INSERT INTO attempts (candidate_id, n, stage, ok, reports_json, source, prompt_tokens, completion_tokens)"
        " VALUES (?1, coalesce(?2, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE candidate_id = ?1)),"
        " ?3, ?4, coalesce(?5, '[]'), ?6, ?7, ?8)",
        what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, candidate_id);
    if (a->n > 0) sqlite3_bind_int(st, 2, a->n);
    else sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, a->stage, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, a->ok != 0);
    db_bind_text(st, 5, a->reports_json);
    db_bind_text(st, 6, a->source);
    sqlite3_bind_int64(st, 7, a->prompt_tokens);
    sqlite3_bind_int64(st, 8, a->completion_tokens);
    if (db_exec_stmt(db, st, what) < 0) return -1;
    if (id) *id = sqlite3_last_insert_rowid(db->sql);
    return 0;
}

int db_attempt_add(aa_db *db, const db_attempt_new *a, int64_t *id)
{
    char what[96];
    snprintf(what, sizeof what, "storing an attempt of candidate %lld", (long long)a->candidate_id);
    if (validate_attempt(db, a, what) < 0) return -1;
    if (db_write_begin(db, what) < 0) return -1;
    int rc = row_exists(db, "SELECT 1 FROM candidates WHERE id = ?1", a->candidate_id, what);
    if (rc == 0) rc = db_fail(db, "%s: there is no candidate %lld", what, (long long)a->candidate_id);
    if (rc > 0) rc = insert_attempt(db, a, a->candidate_id, id, what);
    return db_write_end(db, rc, what);
}

/* ---- results ------------------------------------------------------------------------------- */

static int validate_result(aa_db *db, const db_result *r, const char *what)
{
    if (!db_status_is_final(r->status))
        return db_fail(db, "%s: a result's status must be scored, failed, rejected or duplicate, not %s", what,
                       db_status_name(r->status) ? db_status_name(r->status) : "invalid");
    if (isinf(r->score)) return db_fail(db, "%s: the score is infinite", what);
    if (r->status == DB_SCORED && (isnan(r->score) || !r->metrics_json))
        return db_fail(db, "%s: a scored result needs a score and metrics", what);
    if (r->metrics_json && !db_json_is(r->metrics_json, 0))
        return db_fail(db, "%s: metrics_json is not a JSON object", what);
    if (r->scores_json && !db_json_is(r->scores_json, 0))
        return db_fail(db, "%s: scores_json is not a JSON object", what);
    return 0;
}

static int store_result(aa_db *db, int64_t id, const db_result *r, const char *what)
{
    sqlite3_stmt *st = db_prepare(
        db,
        "UPDATE candidates SET prompt_tokens = prompt_tokens + ?1, completion_tokens = completion_tokens + ?2,"
        " cost_usd = cost_usd + ?3, cpu_seconds = cpu_seconds + ?4, gpu_seconds = gpu_seconds + ?5,"
        " status = ?6, status_reason = ?7, metrics_json = ?8, score = ?9, scores_json = ?10, analysis = ?11,"
        " graph_hash = coalesce(?12, graph_hash), name = coalesce(?14, name), motivation = coalesce(?15, motivation),"
        " source = coalesce(?16, source), source_sha256 = coalesce(?17, source_sha256),"
        " finished_at = " DB_NOW_SQL " WHERE id = ?13",
        what);
    if (!st) return -1;
    char sha[65];
    if (r->source && db_sha256_hex(r->source, sha) < 0) {
        sqlite3_finalize(st);
        return db_fail(db, "%s: SHA-256 failed", what);
    }
    bind_costs(st, 1, &r->costs);
    sqlite3_bind_text(st, 6, db_status_name(r->status), -1, SQLITE_STATIC);
    db_bind_text(st, 7, r->reason);
    db_bind_text(st, 8, r->metrics_json);
    db_bind_real_or_null(st, 9, r->score);
    db_bind_text(st, 10, r->scores_json);
    db_bind_text(st, 11, r->analysis);
    db_bind_text(st, 12, r->graph_hash);
    sqlite3_bind_int64(st, 13, id);
    db_bind_text(st, 14, r->name && *r->name ? r->name : NULL);
    db_bind_text(st, 15, r->motivation);
    db_bind_text(st, 16, r->source);
    db_bind_text(st, 17, r->source ? sha : NULL);
    return db_exec_stmt(db, st, what);
}

int db_candidate_finish(aa_db *db, int64_t id, const db_result *r, const db_attempt_new *final_attempt)
{
    char what[64];
    snprintf(what, sizeof what, "finishing candidate %lld", (long long)id);
    if (validate_result(db, r, what) < 0) return -1;
    if (final_attempt && validate_attempt(db, final_attempt, what) < 0) return -1;
    if (final_attempt && final_attempt->candidate_id && final_attempt->candidate_id != id)
        return db_fail(db, "%s: the final attempt belongs to candidate %lld", what,
                       (long long)final_attempt->candidate_id);
    if (db_write_begin(db, what) < 0) return -1;
    db_status from;
    int rc = current_status(db, id, &from, NULL, what);
    if (rc == 0 && db_status_is_final(from)) rc = refuse_final(db, id, from, what);
    if (rc == 0) rc = store_result(db, id, r, what);
    if (rc == 0 && final_attempt) rc = insert_attempt(db, final_attempt, id, NULL, what);
    if (rc == 0) rc = log_status(db, id, from, r->status, r->reason);
    return db_write_end(db, rc, what);
}

/* ---- recovery -------------------------------------------------------------------------------- */

/* One candidate found 'running' at start-up: count the interruption; retry it
 * or give up on it. */
static int recover_one(aa_db *db, int64_t id, int retries, const char *what)
{
    retries++;
    int retry = retries <= DB_MAX_RETRIES;
    char reason[200];
    if (retry)
        snprintf(reason, sizeof reason, "the process running it was killed; retry %d of %d", retries, DB_MAX_RETRIES);
    else
        snprintf(reason, sizeof reason, "interrupted %d times (the process running it was killed each time); "
                 "not retried again", retries);
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE candidates SET status = ?1, retries = ?2, status_reason = ?3,"
                                  " finished_at = CASE WHEN ?4 THEN NULL ELSE " DB_NOW_SQL " END WHERE id = ?5",
                                  what);
    if (st) {
        sqlite3_bind_text(st, 1, retry ? "interrupted" : "failed", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, retries);
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, retry);
        sqlite3_bind_int64(st, 5, id);
    }
    if (db_exec_stmt(db, st, what) < 0) return -1;
    char msg[300];
    snprintf(msg, sizeof msg, "running -> %s: %s", retry ? "interrupted" : "failed", reason);
    return db_insert_event(db, 0, id, "recover", msg);
}

/* Ids and retries of the run's candidates left running. */
static int find_running(aa_db *db, int64_t run_id, int64_t **ids, int **retries, int *n, const char *what)
{
    *ids = NULL;
    *retries = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(
        db, "SELECT id, retries FROM candidates WHERE run_id = ?1 AND status = 'running' ORDER BY id", what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int cap = 0, cap2 = 0, rc = SQLITE_DONE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *i2 = db_grow(*ids, *n, &cap, sizeof **ids);
        if (i2) *ids = i2;
        int *r2 = i2 ? db_grow(*retries, *n, &cap2, sizeof **retries) : NULL;
        if (r2) *retries = r2;
        if (!i2 || !r2) break;
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        (*retries)[(*n)++] = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return db_fail(db, "%s: out of memory", what);
    return rc == SQLITE_DONE ? 0 : db_fail_sql(db, what);
}

int db_recover_interrupted(aa_db *db, int64_t run_id, db_candidate_list *retry)
{
    char what[80];
    snprintf(what, sizeof what, "recovering the interrupted candidates of run %lld", (long long)run_id);
    memset(retry, 0, sizeof *retry);
    if (db_write_begin(db, what) < 0) return -1;
    int64_t *ids;
    int *retries, n;
    int rc = find_running(db, run_id, &ids, &retries, &n, what);
    for (int i = 0; rc == 0 && i < n; i++) rc = recover_one(db, ids[i], retries[i], what);
    free(ids);
    free(retries);
    /* Read inside the transaction: the list is exactly what was committed. */
    if (rc == 0) rc = db_candidate_list_all(db, run_id, DB_INTERRUPTED, retry);
    if (db_write_end(db, rc, what) < 0) {
        db_candidate_list_free(retry);
        return -1;
    }
    return 0;
}
