/*
 * seeds.c — per-seed results of a candidate: the same code trained again
 * with other seeds, so that a win is reported with its interval.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

int db_seed_result_put(aa_db *db, int64_t candidate_id, int64_t seed, const char *scale, int steps,
                       const char *metrics_json)
{
    char what[96];
    snprintf(what, sizeof what, "storing a seed result of candidate %lld", (long long)candidate_id);
    if (!scale || !*scale || steps <= 0) return db_fail(db, "%s: a scale and a step count are required", what);
    if (!metrics_json || !db_json_is(metrics_json, 0)) return db_fail(db, "%s: metrics_json is not a JSON object", what);
    if (db_write_begin(db, what) < 0) return -1;
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO seed_results (candidate_id, seed, scale, steps, metrics_json)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (candidate_id, seed, scale, steps)"
                                  " DO UPDATE SET metrics_json = excluded.metrics_json, created_at = excluded.created_at",
                                  what);
    if (st) {
        sqlite3_bind_int64(st, 1, candidate_id);
        sqlite3_bind_int64(st, 2, seed);
        db_bind_text(st, 3, scale);
        sqlite3_bind_int(st, 4, steps);
        db_bind_text(st, 5, metrics_json);
    }
    return db_write_end(db, db_exec_stmt(db, st, what), what);
}

int db_seed_results(aa_db *db, int64_t candidate_id, const char *scale, int steps, db_seed_result **out, int *n)
{
    const char *what = "listing seed results";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT candidate_id, seed, scale, steps, metrics_json, created_at FROM seed_results"
                                  " WHERE candidate_id = ?1 AND (?2 IS NULL OR (scale = ?2 AND steps = ?3))"
                                  " ORDER BY seed, id",
                                  what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, candidate_id);
    db_bind_text(st, 2, scale);
    sqlite3_bind_int(st, 3, steps);
    db_seed_result *items = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_seed_result *grown = db_grow(items, count, &cap, sizeof *items);
        if (!grown) {
            ret = db_fail(db, "%s: out of memory", what);
            break;
        }
        items = grown;
        db_seed_result *r = &items[count++];
        int oom = 0;
        memset(r, 0, sizeof *r);
        r->candidate_id = sqlite3_column_int64(st, 0);
        r->seed = sqlite3_column_int64(st, 1);
        r->scale = db_col_strdup(st, 2, &oom);
        r->steps = sqlite3_column_int(st, 3);
        r->metrics_json = db_col_strdup(st, 4, &oom);
        db_col_time(st, 5, r->created_at);
        if (oom) ret = db_fail(db, "%s: out of memory", what);
    }
    if (ret == 0 && rc != SQLITE_DONE) ret = db_fail_sql(db, what);
    sqlite3_finalize(st);
    if (ret < 0) {
        db_seed_results_free(items, count);
        return -1;
    }
    *out = items;
    *n = count;
    return 0;
}

int db_seed_values(aa_db *db, int64_t candidate_id, const char *scale, int steps, const char *key, double *out,
                   int max)
{
    const char *what = "reading seed results";
    char path[80];
    if (!key || strspn(key, "abcdefghijklmnopqrstuvwxyz_") != strlen(key) || strlen(key) > 60)
        return db_fail(db, "%s: '%.60s' is not a metric name", what, key ? key : "");
    snprintf(path, sizeof path, "$.%s", key);
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT json_extract(metrics_json, ?4) FROM seed_results WHERE candidate_id = ?1"
                                  " AND (?2 IS NULL OR (scale = ?2 AND steps = ?3)) ORDER BY seed, id",
                                  what);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, candidate_id);
    db_bind_text(st, 2, scale);
    sqlite3_bind_int(st, 3, steps);
    db_bind_text(st, 4, path);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        int t = sqlite3_column_type(st, 0);
        out[n++] = t == SQLITE_INTEGER || t == SQLITE_FLOAT ? sqlite3_column_double(st, 0) : NAN;
    }
    int bad = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (bad) db_fail_sql(db, what);
    sqlite3_finalize(st);
    return bad ? -1 : n;
}

void db_seed_results_free(db_seed_result *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].scale);
        free(r[i].metrics_json);
    }
    free(r);
}
