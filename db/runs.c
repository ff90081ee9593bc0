/*
 * runs.c — runs (one per `asiarch discover` invocation, continued on resume)
 * and the event log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

static const char *const run_status_names[DB_RUN_STATUS_COUNT] = {"running", "stopped", "finished", "failed"};

const char *db_run_status_name(db_run_status s)
{
    return (unsigned)s < DB_RUN_STATUS_COUNT ? run_status_names[s] : NULL;
}

int db_run_status_parse(const char *name, db_run_status *out)
{
    for (int s = 0; s < DB_RUN_STATUS_COUNT; s++)
        if (name && !strcmp(name, run_status_names[s])) {
            *out = (db_run_status)s;
            return 0;
        }
    return -1;
}

/* ---- runs -------------------------------------------------------------------------- */

int db_run_create(aa_db *db, const db_run_new *r, int64_t *id)
{
    const char *what = "creating a run";
    if (r->config_json && !db_json_is(r->config_json, 0))
        return db_fail(db, "%s: config_json is not a JSON object", what);
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO runs (config_json, seed, scale, proposer)"
                                      " VALUES (coalesce(?1, '{}'), ?2, ?3, ?4)", what);
    if (st) {
        db_bind_text(st, 1, r->config_json);
        sqlite3_bind_int64(st, 2, r->seed);
        db_bind_text(st, 3, r->scale);
        db_bind_text(st, 4, r->proposer);
    }
    int rc = db_exec_stmt(db, st, what);
    int64_t new_id = sqlite3_last_insert_rowid(db->sql);
    if (rc == 0) rc = db_insert_event(db, new_id, 0, "run", "run created");
    if (db_write_end(db, rc, what) < 0) return -1;
    if (id) *id = new_id;
    return 0;
}

#define RUN_COLUMNS "id, created_at, updated_at, config_json, seed, scale, proposer, status"

/* One row of RUN_COLUMNS into *r; -1 when out of memory. */
static int read_run(sqlite3_stmt *st, db_run *r)
{
    int oom = 0;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    db_col_time(st, 1, r->created_at);
    db_col_time(st, 2, r->updated_at);
    r->config_json = db_col_strdup(st, 3, &oom);
    r->seed = sqlite3_column_int64(st, 4);
    r->scale = db_col_strdup(st, 5, &oom);
    r->proposer = db_col_strdup(st, 6, &oom);
    db_run_status_parse((const char *)sqlite3_column_text(st, 7), &r->status);
    if (oom) db_run_free(r);
    return oom ? -1 : 0;
}

/* The first row of a prepared run query: 0 found, 1 none, -1 error. */
static int fetch_one_run(aa_db *db, sqlite3_stmt *st, db_run *out, const char *what)
{
    if (!st) return -1;
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) ret = read_run(st, out) < 0 ? db_fail(db, "%s: out of memory", what) : 0;
    else if (rc == SQLITE_DONE) ret = 1;
    else ret = db_fail_sql(db, what);
    sqlite3_finalize(st);
    if (ret == 1) db_fail(db, "%s: no such run", what);
    return ret;
}

int db_run_get(aa_db *db, int64_t id, db_run *out)
{
    char what[64];
    snprintf(what, sizeof what, "reading run %lld", (long long)id);
    sqlite3_stmt *st = db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1", what);
    if (st) sqlite3_bind_int64(st, 1, id);
    return fetch_one_run(db, st, out, what);
}

int db_run_latest(aa_db *db, db_run *out)
{
    const char *what = "reading the latest run";
    return fetch_one_run(db, db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC LIMIT 1", what), out,
                         what);
}

int db_run_list(aa_db *db, db_run **out, int *n)
{
    const char *what = "listing runs";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id", what);
    if (!st) return -1;
    db_run *runs = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_run *grown = db_grow(runs, count, &cap, sizeof *runs);
        if (!grown || read_run(st, &grown[count]) < 0) ret = db_fail(db, "%s: out of memory", what);
        if (grown) runs = grown;
        if (ret == 0) count++;
    }
    if (ret == 0 && rc != SQLITE_DONE) ret = db_fail_sql(db, what);
    sqlite3_finalize(st);
    if (ret < 0) {
        db_run_list_free(runs, count);
        return -1;
    }
    *out = runs;
    *n = count;
    return 0;
}

int db_run_set_status(aa_db *db, int64_t id, db_run_status s)
{
    char what[80];
    snprintf(what, sizeof what, "setting the status of run %lld", (long long)id);
    if (!db_run_status_name(s)) return db_fail(db, "%s: invalid status %d", what, (int)s);
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = db_prepare(db, "UPDATE runs SET status = ?1, updated_at = " DB_NOW_SQL " WHERE id = ?2", what);
    if (st) {
        sqlite3_bind_text(st, 1, db_run_status_name(s), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
    }
    int rc = db_exec_stmt(db, st, what);
    if (rc == 0 && sqlite3_changes(db->sql) == 0) rc = db_fail(db, "%s: no such run", what);
    if (rc == 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "run status: %s", db_run_status_name(s));
        rc = db_insert_event(db, id, 0, "run", msg);
    }
    return db_write_end(db, rc, what);
}

int db_run_costs(aa_db *db, int64_t run_id, db_costs *out)
{
    const char *what = "summing the costs of a run";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_prepare(db, "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"
                                      " coalesce(sum(cost_usd), 0), coalesce(sum(cpu_seconds), 0),"
                                      " coalesce(sum(gpu_seconds), 0) FROM candidates WHERE ?1 = 0 OR run_id = ?1",
                                  what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->prompt_tokens = sqlite3_column_int64(st, 0);
        out->completion_tokens = sqlite3_column_int64(st, 1);
        out->cost_usd = sqlite3_column_double(st, 2);
        out->cpu_seconds = sqlite3_column_double(st, 3);
        out->gpu_seconds = sqlite3_column_double(st, 4);
    } else {
        db_fail_sql(db, what);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

void db_run_free(db_run *r)
{
    if (!r) return;
    free(r->config_json);
    free(r->scale);
    free(r->proposer);
    memset(r, 0, sizeof *r);
}

void db_run_list_free(db_run *runs, int n)
{
    for (int i = 0; i < n; i++) db_run_free(&runs[i]);
    free(runs);
}

/* ---- events ------------------------------------------------------------------------- */

int db_insert_event(aa_db *db, int64_t run_id, int64_t candidate_id, const char *kind, const char *message)
{
    char what[96];
    snprintf(what, sizeof what, "logging a '%s' event", kind ? kind : "");
    if (!run_id && !candidate_id) return db_fail(db, "%s: an event needs a run or a candidate", what);
    if (!kind || !kind[0]) return db_fail(db, "%s: the kind is empty", what);
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO events (run_id, candidate_id, kind, message)"
                                      " VALUES (coalesce(?1, (SELECT run_id FROM candidates WHERE id = ?2)), ?2, ?3, ?4)",
                                  what);
    if (st) {
        db_bind_id(st, 1, run_id);
        db_bind_id(st, 2, candidate_id);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, message ? message : "", -1, SQLITE_STATIC);
    }
    return db_exec_stmt(db, st, what);
}

int db_event_add(aa_db *db, int64_t run_id, int64_t candidate_id, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!msg) return db_fail(db, "logging an event: out of memory");
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    int rc = db_write_begin(db, "logging an event");
    if (rc == 0) rc = db_write_end(db, db_insert_event(db, run_id, candidate_id, kind, msg), "logging an event");
    free(msg);
    return rc;
}

int db_event_list(aa_db *db, int64_t run_id, int64_t candidate_id, db_event **out, int *n)
{
    const char *what = "listing events";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT id, run_id, candidate_id, ts, kind, message FROM events"
                                      " WHERE (?1 = 0 OR run_id = ?1) AND (?2 = 0 OR candidate_id = ?2) ORDER BY id",
                                  what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, candidate_id);
    db_event *events = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE, oom = 0;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_event *grown = db_grow(events, count, &cap, sizeof *events);
        if (!grown) { oom = 1; break; }
        events = grown;
        db_event *e = &events[count++];
        memset(e, 0, sizeof *e);
        e->id = sqlite3_column_int64(st, 0);
        e->run_id = sqlite3_column_int64(st, 1);
        e->candidate_id = sqlite3_column_int64(st, 2);
        db_col_time(st, 3, e->ts);
        e->kind = db_col_strdup(st, 4, &oom);
        e->message = db_col_strdup(st, 5, &oom);
    }
    int ret = oom ? db_fail(db, "%s: out of memory", what) : rc != SQLITE_DONE ? db_fail_sql(db, what) : 0;
    sqlite3_finalize(st);
    if (ret < 0) {
        db_event_list_free(events, count);
        return -1;
    }
    *out = events;
    *n = count;
    return 0;
}

void db_event_list_free(db_event *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].kind);
        free(e[i].message);
    }
    free(e);
}
