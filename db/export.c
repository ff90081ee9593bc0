/*
 * export.c — candidates, attempts, events and runs as JSON (for
 * `asiarch db ... --json`), and the export of a whole run (or every run) as
 * one document.
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* A stored JSON text as a value (null when absent). */
static void add_parsed(cJSON *o, const char *key, const char *text)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(o, key, v ? v : cJSON_CreateNull());
}

static void add_string_or_null(cJSON *o, const char *key, const char *s)
{
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static void add_time(cJSON *o, const char *key, const char *t) { add_string_or_null(o, key, t[0] ? t : NULL); }

static void add_id_or_null(cJSON *o, const char *key, int64_t id)
{
    if (id) cJSON_AddNumberToObject(o, key, (double)id);
    else cJSON_AddNullToObject(o, key);
}

cJSON *db_candidate_json(const db_candidate *c, int flags)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)c->id);
    cJSON_AddNumberToObject(o, "run_id", (double)c->run_id);
    add_id_or_null(o, "parent", c->parent_id);
    cJSON *refs = cJSON_AddArrayToObject(o, "refs");
    for (int i = 0; i < c->n_refs && refs; i++) cJSON_AddItemToArray(refs, cJSON_CreateNumber((double)c->refs[i]));
    cJSON_AddStringToObject(o, "name", c->name ? c->name : "");
    add_string_or_null(o, "motivation", c->motivation);
    cJSON_AddStringToObject(o, "status", db_status_name(c->status));
    add_string_or_null(o, "status_reason", c->status_reason);
    cJSON_AddNumberToObject(o, "retries", c->retries);
    cJSON_AddBoolToObject(o, "is_baseline", c->is_baseline);
    if (isnan(c->score)) cJSON_AddNullToObject(o, "score");
    else cJSON_AddNumberToObject(o, "score", c->score);
    add_parsed(o, "metrics", c->metrics_json);
    add_parsed(o, "scores", c->scores_json);
    add_string_or_null(o, "graph_hash", c->graph_hash);
    add_string_or_null(o, "source_sha256", c->source_sha256);
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)c->costs.prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", (double)c->costs.completion_tokens);
    cJSON_AddNumberToObject(o, "cost_usd", c->costs.cost_usd);
    cJSON_AddNumberToObject(o, "cpu_seconds", c->costs.cpu_seconds);
    cJSON_AddNumberToObject(o, "gpu_seconds", c->costs.gpu_seconds);
    add_time(o, "created_at", c->created_at);
    add_time(o, "started_at", c->started_at);
    add_time(o, "finished_at", c->finished_at);
    if (flags & DB_JSON_FULL) {
        add_string_or_null(o, "source", c->source);
        add_string_or_null(o, "analysis", c->analysis);
    }
    return o;
}

cJSON *db_attempt_json(const db_attempt *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)a->id);
    cJSON_AddNumberToObject(o, "candidate_id", (double)a->candidate_id);
    cJSON_AddNumberToObject(o, "n", a->n);
    cJSON_AddStringToObject(o, "stage", a->stage ? a->stage : "");
    cJSON_AddBoolToObject(o, "ok", a->ok);
    cJSON *reports = a->reports_json ? cJSON_Parse(a->reports_json) : NULL;
    cJSON_AddItemToObject(o, "reports", reports ? reports : cJSON_CreateArray());
    add_string_or_null(o, "source", a->source);
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)a->prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", (double)a->completion_tokens);
    add_time(o, "created_at", a->created_at);
    return o;
}

cJSON *db_event_json(const db_event *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)e->id);
    cJSON_AddNumberToObject(o, "run_id", (double)e->run_id);
    add_id_or_null(o, "candidate_id", e->candidate_id);
    add_time(o, "ts", e->ts);
    cJSON_AddStringToObject(o, "kind", e->kind ? e->kind : "");
    cJSON_AddStringToObject(o, "message", e->message ? e->message : "");
    return o;
}

cJSON *db_run_json(const db_run *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    add_time(o, "created_at", r->created_at);
    add_time(o, "updated_at", r->updated_at);
    add_parsed(o, "config", r->config_json);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    add_string_or_null(o, "scale", r->scale);
    add_string_or_null(o, "proposer", r->proposer);
    cJSON_AddStringToObject(o, "status", db_run_status_name(r->status));
    return o;
}

/* ---- export ------------------------------------------------------------------------------- */

static int add_attempts(aa_db *db, cJSON *cand, int64_t id)
{
    db_attempt *a;
    int n;
    if (db_attempt_list(db, id, &a, &n) < 0) return -1;
    cJSON *arr = cJSON_AddArrayToObject(cand, "attempts");
    for (int i = 0; i < n && arr; i++) cJSON_AddItemToArray(arr, db_attempt_json(&a[i]));
    db_attempt_list_free(a, n);
    return arr ? 0 : -1;
}

static int add_candidates(aa_db *db, cJSON *run, int64_t run_id)
{
    db_candidate_list l;
    if (db_candidate_list_all(db, run_id, -1, &l) < 0) return -1;
    cJSON *arr = cJSON_AddArrayToObject(run, "candidates");
    int rc = arr ? 0 : -1;
    for (int i = 0; rc == 0 && i < l.n; i++) {
        cJSON *c = db_candidate_json(&l.items[i], DB_JSON_FULL);
        if (!c) rc = -1;
        else cJSON_AddItemToArray(arr, c);
        if (rc == 0) rc = add_attempts(db, c, l.items[i].id);
    }
    db_candidate_list_free(&l);
    return rc;
}

static int add_events(aa_db *db, cJSON *run, int64_t run_id)
{
    db_event *e;
    int n;
    if (db_event_list(db, run_id, 0, &e, &n) < 0) return -1;
    cJSON *arr = cJSON_AddArrayToObject(run, "events");
    for (int i = 0; i < n && arr; i++) cJSON_AddItemToArray(arr, db_event_json(&e[i]));
    db_event_list_free(e, n);
    return arr ? 0 : -1;
}

/* Every run (or the one asked for) with its candidates and events. */
static int add_runs(aa_db *db, cJSON *doc, int64_t run_id)
{
    db_run *runs;
    int n;
    if (db_run_list(db, &runs, &n) < 0) return -1;
    cJSON *arr = cJSON_AddArrayToObject(doc, "runs");
    int rc = arr ? 0 : -1, found = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        if (run_id && runs[i].id != run_id) continue;
        found = 1;
        cJSON *r = db_run_json(&runs[i]);
        if (!r) rc = -1;
        else cJSON_AddItemToArray(arr, r);
        if (rc == 0) rc = add_candidates(db, r, runs[i].id);
        if (rc == 0) rc = add_events(db, r, runs[i].id);
    }
    db_run_list_free(runs, n);
    if (rc == 0 && run_id && !found) rc = db_fail(db, "exporting: there is no run %lld", (long long)run_id);
    return rc;
}

int db_export(aa_db *db, int64_t run_id, char **json)
{
    *json = NULL;
    db->err[0] = 0;   /* so that a failure without a message of its own reads as out of memory */
    int began;
    if (db_read_begin(db, "exporting", &began) < 0) return -1;   /* one consistent snapshot */
    cJSON *doc = cJSON_CreateObject();
    int rc = doc ? 0 : -1;
    if (rc == 0) {
        cJSON_AddStringToObject(doc, "format", "asiarch-lineage");
        cJSON_AddNumberToObject(doc, "schema_version", DB_SCHEMA_VERSION);
        rc = add_runs(db, doc, run_id);
    }
    db_read_end(db, began);
    if (rc == 0 && !(*json = cJSON_Print(doc))) rc = -1;
    if (rc < 0 && !db->err[0]) db_fail(db, "exporting: out of memory");
    cJSON_Delete(doc);
    return rc;
}
