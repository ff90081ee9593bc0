/*
 * queries.c — reading candidates and attempts: by id, by run and status,
 * children, rankings by score (the selection of parents and references),
 * exact-duplicate lookup by graph hash, counts by status.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#define CANDIDATE_COLUMNS                                                                                        \
    "id, run_id, parent_id, refs_json, name, motivation, source, source_sha256, graph_hash, is_baseline, status," \
    " status_reason, retries, metrics_json, score, scores_json, analysis, prompt_tokens, completion_tokens,"     \
    " cost_usd, cpu_seconds, gpu_seconds, created_at, started_at, finished_at"

/* refs_json (validated as an array of ids when written) into c->refs. */
static int parse_refs(const char *text, db_candidate *c)
{
    cJSON *arr = text ? cJSON_Parse(text) : NULL;
    int n = cJSON_GetArraySize(arr);
    if (n > 0 && !(c->refs = malloc(sizeof *c->refs * (size_t)n))) {
        cJSON_Delete(arr);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) if (cJSON_IsNumber(item)) c->refs[c->n_refs++] = (int64_t)item->valuedouble;
    cJSON_Delete(arr);
    return 0;
}

/* One row of CANDIDATE_COLUMNS into *c; -1 when out of memory. */
static int read_candidate(sqlite3_stmt *st, db_candidate *c)
{
    int oom = 0;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->run_id = sqlite3_column_int64(st, 1);
    c->parent_id = sqlite3_column_int64(st, 2);
    if (parse_refs((const char *)sqlite3_column_text(st, 3), c) < 0) oom = 1;
    c->name = db_col_strdup(st, 4, &oom);
    c->motivation = db_col_strdup(st, 5, &oom);
    c->source = db_col_strdup(st, 6, &oom);
    c->source_sha256 = db_col_strdup(st, 7, &oom);
    c->graph_hash = db_col_strdup(st, 8, &oom);
    c->is_baseline = sqlite3_column_int(st, 9);
    db_status_parse((const char *)sqlite3_column_text(st, 10), &c->status);
    c->status_reason = db_col_strdup(st, 11, &oom);
    c->retries = sqlite3_column_int(st, 12);
    c->metrics_json = db_col_strdup(st, 13, &oom);
    c->score = sqlite3_column_type(st, 14) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 14);
    if (!isfinite(c->score)) c->score = NAN;   /* a file edited by hand may hold 9e999: no score */
    c->scores_json = db_col_strdup(st, 15, &oom);
    c->analysis = db_col_strdup(st, 16, &oom);
    c->costs.prompt_tokens = sqlite3_column_int64(st, 17);
    c->costs.completion_tokens = sqlite3_column_int64(st, 18);
    c->costs.cost_usd = sqlite3_column_double(st, 19);
    c->costs.cpu_seconds = sqlite3_column_double(st, 20);
    c->costs.gpu_seconds = sqlite3_column_double(st, 21);
    db_col_time(st, 22, c->created_at);
    db_col_time(st, 23, c->started_at);
    db_col_time(st, 24, c->finished_at);
    if (oom) db_candidate_free(c);
    return oom ? -1 : 0;
}

void db_candidate_free(db_candidate *c)
{
    if (!c) return;
    free(c->refs);
    free(c->name);
    free(c->motivation);
    free(c->source);
    free(c->source_sha256);
    free(c->graph_hash);
    free(c->status_reason);
    free(c->metrics_json);
    free(c->scores_json);
    free(c->analysis);
    memset(c, 0, sizeof *c);
}

void db_candidate_list_free(db_candidate_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) db_candidate_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Step a bound query of CANDIDATE_COLUMNS to the end into *out; finalizes st. */
static int collect(aa_db *db, sqlite3_stmt *st, db_candidate_list *out, const char *what)
{
    memset(out, 0, sizeof *out);
    if (!st) return -1;
    int cap = 0, rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_candidate *grown = db_grow(out->items, out->n, &cap, sizeof *out->items);
        if (grown) out->items = grown;
        if (!grown || read_candidate(st, &out->items[out->n]) < 0) ret = db_fail(db, "%s: out of memory", what);
        else out->n++;
    }
    if (ret == 0 && rc != SQLITE_DONE) ret = db_fail_sql(db, what);
    sqlite3_finalize(st);
    if (ret < 0) db_candidate_list_free(out);
    return ret;
}

int db_candidate_get(aa_db *db, int64_t id, db_candidate *out)
{
    char what[64];
    snprintf(what, sizeof what, "reading candidate %lld", (long long)id);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_prepare(db, "SELECT " CANDIDATE_COLUMNS " FROM candidates WHERE id = ?1", what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    db_candidate_list l;
    if (collect(db, st, &l, what) < 0) return -1;
    if (l.n == 0) {
        db_fail(db, "%s: there is no candidate %lld", what, (long long)id);
        return 1;
    }
    *out = l.items[0];   /* take over its strings */
    free(l.items);
    return 0;
}

int db_candidate_list_all(aa_db *db, int64_t run_id, int status, db_candidate_list *out)
{
    const char *what = "listing candidates";
    memset(out, 0, sizeof *out);
    if (status != -1 && !db_status_name((db_status)status)) return db_fail(db, "%s: invalid status %d", what, status);
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT " CANDIDATE_COLUMNS " FROM candidates"
                                  " WHERE (?1 = 0 OR run_id = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY id",
                                  what);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        db_bind_text(st, 2, status == -1 ? NULL : db_status_name((db_status)status));
    }
    return collect(db, st, out, what);
}

int db_candidate_children(aa_db *db, int64_t id, db_candidate_list *out)
{
    const char *what = "listing children";
    sqlite3_stmt *st =
        db_prepare(db, "SELECT " CANDIDATE_COLUMNS " FROM candidates WHERE parent_id = ?1 ORDER BY id", what);
    if (st) sqlite3_bind_int64(st, 1, id);
    return collect(db, st, out, what);
}

int db_rank_range(aa_db *db, int64_t run_id, int first, int last, int flags, db_candidate_list *out)
{
    char what[80];
    snprintf(what, sizeof what, "ranking candidates %d..%d by score", first, last);
    memset(out, 0, sizeof *out);
    if (first < 1) return db_fail(db, "%s: ranks start at 1", what);
    if (last < first) return 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT " CANDIDATE_COLUMNS " FROM candidates"
                                  " WHERE status = 'scored' AND score IS NOT NULL AND abs(score) <= 1e300 AND (?1 = 0 OR run_id = ?1)"
                                  " AND (?2 = 0 OR is_baseline = 0)"
                                  " ORDER BY score DESC, id ASC LIMIT ?3 OFFSET ?4",
                                  what);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int(st, 2, (flags & DB_RANK_NO_BASELINES) != 0);
        sqlite3_bind_int(st, 3, last - first + 1);
        sqlite3_bind_int(st, 4, first - 1);
    }
    return collect(db, st, out, what);
}

int db_top_scored(aa_db *db, int64_t run_id, int k, int flags, db_candidate_list *out)
{
    return db_rank_range(db, run_id, 1, k, flags, out);
}

int db_find_graph_hash(aa_db *db, const char *graph_hash, int64_t exclude_id, int64_t *found)
{
    const char *what = "looking up a graph hash";
    *found = 0;
    if (!graph_hash || !graph_hash[0]) return db_fail(db, "%s: the hash is empty", what);
    sqlite3_stmt *st =
        db_prepare(db, "SELECT id FROM candidates WHERE graph_hash = ?1 AND id <> ?2 ORDER BY id LIMIT 1", what);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, graph_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, exclude_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *found = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail_sql(db, what);
}

int db_count_by_status(aa_db *db, int64_t run_id, int64_t counts[DB_STATUS_COUNT])
{
    const char *what = "counting candidates by status";
    memset(counts, 0, sizeof(int64_t) * DB_STATUS_COUNT);
    sqlite3_stmt *st = db_prepare(
        db, "SELECT status, count(*) FROM candidates WHERE ?1 = 0 OR run_id = ?1 GROUP BY status", what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_status s;
        if (db_status_parse((const char *)sqlite3_column_text(st, 0), &s) == 0) counts[s] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail_sql(db, what);
}

/* ---- attempts ------------------------------------------------------------------------- */

static int read_attempt(sqlite3_stmt *st, db_attempt *a)
{
    int oom = 0;
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->candidate_id = sqlite3_column_int64(st, 1);
    a->n = sqlite3_column_int(st, 2);
    a->stage = db_col_strdup(st, 3, &oom);
    a->ok = sqlite3_column_int(st, 4);
    a->reports_json = db_col_strdup(st, 5, &oom);
    a->source = db_col_strdup(st, 6, &oom);
    a->prompt_tokens = sqlite3_column_int64(st, 7);
    a->completion_tokens = sqlite3_column_int64(st, 8);
    db_col_time(st, 9, a->created_at);
    return oom ? -1 : 0;
}

int db_attempt_list(aa_db *db, int64_t candidate_id, db_attempt **out, int *n)
{
    const char *what = "listing attempts";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id, candidate_id, n, stage, ok, reports_json, source, prompt_tokens,"
                                  " completion_tokens, created_at FROM attempts WHERE candidate_id = ?1 ORDER BY n, id",
                                  what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, candidate_id);
    db_attempt *items = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_attempt *grown = db_grow(items, count, &cap, sizeof *items);
        if (grown) items = grown;
        if (!grown) ret = db_fail(db, "%s: out of memory", what);
        else if (read_attempt(st, &items[count++]) < 0) ret = db_fail(db, "%s: out of memory", what);
    }
    if (ret == 0 && rc != SQLITE_DONE) ret = db_fail_sql(db, what);
    sqlite3_finalize(st);
    if (ret < 0) {
        db_attempt_list_free(items, count);
        return -1;
    }
    *out = items;
    *n = count;
    return 0;
}

void db_attempt_list_free(db_attempt *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].stage);
        free(a[i].reports_json);
        free(a[i].source);
    }
    free(a);
}
