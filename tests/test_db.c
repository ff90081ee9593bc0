/*
 * test_db.c — the lineage database (db/db.h): schema creation and version
 * checks, round trips of every field, rankings and their tie-break, rank
 * ranges, duplicate lookup, transactions, recovery of candidates a killed
 * process left running, crash safety under repeated SIGKILL of a writer,
 * readers beside a writer (WAL), a full disk, and unwritable paths.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "test.h"

static char tmpdir[] = "/tmp/asiarch-test-db-XXXXXX";

static void db_file(char *path, size_t len, const char *name)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Open a fresh database named name in the temporary directory. */
static aa_db *open_fresh(const char *name, char *path, size_t len)
{
    db_file(path, len, name);
    char err[1024];
    aa_db *db = NULL;
    int rc = db_open(path, &db, err, sizeof err);
    CHECK_MSG(rc == 0 && db, "db_open(%s): %s", path, err);
    return db;
}

static int64_t new_run(aa_db *db)
{
    int64_t id = 0;
    db_run_new r = {.config_json = "{\"budget\":10}", .seed = 7, .scale = "tiny", .proposer = "builtin"};
    CHECK_MSG(db_run_create(db, &r, &id) == 0, "%s", db_error(db));
    return id;
}

static int64_t insert(aa_db *db, int64_t run, const char *name, int64_t parent, int baseline)
{
    int64_t id = 0;
    db_candidate_new c = {.run_id = run, .parent_id = parent, .name = name, .motivation = "because",
                          .source = "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n", .is_baseline = baseline};
    CHECK_MSG(db_candidate_insert(db, &c, &id) == 0, "%s", db_error(db));
    return id;
}

/* Insert, start and finish as scored in the usual three steps. */
static int64_t insert_scored(aa_db *db, int64_t run, const char *name, int64_t parent, double score, int baseline)
{
    int64_t id = insert(db, run, name, parent, baseline);
    CHECK_MSG(db_candidate_start(db, id) == 0, "%s", db_error(db));
    db_result r = db_result_init();
    r.metrics_json = "{\"val_loss\":1.5,\"bpb\":2.1}";
    r.score = score;
    CHECK_MSG(db_candidate_finish(db, id, &r, NULL) == 0, "%s", db_error(db));
    return id;
}

/* Run SQL on the file directly (what another program, or a future asiarch, would do). */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *s;
    CHECK(sqlite3_open(path, &s) == SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(s, sql, NULL, NULL, &msg);
    CHECK_MSG(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(s);
}

static void raw_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *s;
    sqlite3_stmt *st;
    out[0] = 0;
    CHECK(sqlite3_open(path, &s) == SQLITE_OK);
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* ---- schema -------------------------------------------------------------------------- */

TEST(schema_is_created_and_versioned)
{
    char path[512], err[1024], v[64];
    aa_db *db = open_fresh("schema.db", path, sizeof path);
    db_close(db);
    raw_text(path, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof v);
    CHECK(!strcmp(v, "2"));
    raw_text(path, "PRAGMA journal_mode", v, sizeof v);
    CHECK(!strcmp(v, "wal"));
    raw_text(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)",
             v, sizeof v);
    CHECK(!strcmp(v, "attempts,candidates,events,meta,runs,seed_results"));
    raw_text(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'candidates_%'", v, sizeof v);
    CHECK(atoi(v) >= 3);

    /* Reopening is a no-op; a read-only open works. */
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    CHECK(db_check_integrity(db) == 0);
    db_close(db);
    CHECK(db_open_readonly(path, &db, err, sizeof err) == 0);
    db_close(db);

    /* A database from a future asiarch is refused, clearly, both ways. */
    raw_sql(path, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    CHECK(db_open(path, &db, err, sizeof err) == -1 && db == NULL);
    CHECK_STR_CONTAINS(err, "schema version 3, newer than this asiarch's 2");
    CHECK(db_open_readonly(path, &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "newer");

    /* An empty file is version 0: opening it read-write migrates it;
     * read-only, it is refused with the way out. */
    db_file(path, sizeof path, "empty.db");
    close(open(path, O_CREAT | O_WRONLY, 0644));
    CHECK(db_open_readonly(path, &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "schema version 0");
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    db_close(db);
    raw_text(path, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof v);
    CHECK(!strcmp(v, "2"));

    /* A version-1 database (before per-seed results) is migrated, its rows kept. */
    db_file(path, sizeof path, "v1.db");
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    db_run_new rn = {.seed = 1, .scale = "tiny", .proposer = "builtin"};
    int64_t run = 0;
    CHECK(db_run_create(db, &rn, &run) == 0);
    db_close(db);
    raw_sql(path, "DROP TABLE seed_results");
    raw_sql(path, "UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    CHECK(db_open_readonly(path, &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "schema version 1; open it for writing once");
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    db_run got;
    CHECK(db && db_run_get(db, run, &got) == 0 && !strcmp(got.scale, "tiny"));
    if (db) db_run_free(&got);
    db_close(db);
    raw_text(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'seed_results'", v, sizeof v);
    CHECK(!strcmp(v, "1"));

    /* Another program's SQLite file, and a file that is not SQLite at all. */
    db_file(path, sizeof path, "foreign.db");
    raw_sql(path, "CREATE TABLE photos (id INTEGER)");
    CHECK(db_open(path, &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "not asiarch's");
    db_file(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200; i++) fputs("this is not a database at all ", f);
    fclose(f);
    CHECK(db_open(path, &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "not a database");
}

/* ---- round trips ----------------------------------------------------------------------- */

TEST(runs_round_trip)
{
    char path[512];
    aa_db *db = open_fresh("runs.db", path, sizeof path);
    db_run r;
    CHECK(db_run_latest(db, &r) == 1);
    int64_t a = new_run(db);
    db_run_new spec = {.seed = -3, .scale = "small", .proposer = "llm"};
    int64_t b = 0;
    CHECK(db_run_create(db, &spec, &b) == 0 && b == a + 1);
    CHECK(db_run_latest(db, &r) == 0 && r.id == b);
    CHECK(!strcmp(r.config_json, "{}") && r.seed == -3 && !strcmp(r.scale, "small") && !strcmp(r.proposer, "llm"));
    CHECK(r.status == DB_RUN_RUNNING && strlen(r.created_at) == 24 && r.created_at[23] == 'Z');
    db_run_free(&r);
    CHECK(db_run_get(db, a, &r) == 0);
    CHECK(!strcmp(r.config_json, "{\"budget\":10}") && r.seed == 7 && !strcmp(r.scale, "tiny"));
    db_run_free(&r);
    CHECK(db_run_set_status(db, a, DB_RUN_FINISHED) == 0);
    CHECK(db_run_get(db, a, &r) == 0 && r.status == DB_RUN_FINISHED);
    db_run_free(&r);
    CHECK(db_run_get(db, 99, &r) == 1);
    CHECK(db_run_set_status(db, 99, DB_RUN_STOPPED) == -1);
    CHECK_STR_CONTAINS(db_error(db), "no such run");
    db_run_new bad = {.config_json = "[1,2]"};
    CHECK(db_run_create(db, &bad, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "config_json is not a JSON object");
    db_run *runs;
    int n;
    CHECK(db_run_list(db, &runs, &n) == 0 && n == 2 && runs[0].id == a && runs[1].id == b);
    db_run_list_free(runs, n);
    for (int s = 0; s < DB_RUN_STATUS_COUNT; s++) {
        db_run_status back;
        CHECK(db_run_status_parse(db_run_status_name((db_run_status)s), &back) == 0 && (int)back == s);
    }
    db_close(db);
}

static const char *REPORTS =
    "[{\"stage\":\"check\",\"file\":\"cand.c\",\"line\":3,\"col\":5,\"rule\":\"dsl/pointer\","
    "\"message\":\"pointer type 'float *' is not allowed\",\"snippet\":\"    float *p = 0;\"}]";

TEST(candidate_round_trip_every_field)
{
    char path[512];
    aa_db *db = open_fresh("cand.db", path, sizeof path);
    int64_t run = new_run(db);
    int64_t p = insert_scored(db, run, "parent", 0, 0.5, 1);
    int64_t r1 = insert_scored(db, run, "ref1", p, 0.4, 0);
    int64_t refs[2] = {p, r1};
    db_candidate_new spec = {.run_id = run, .parent_id = p, .refs = refs, .n_refs = 2, .name = "gated \"fir\"",
                             .motivation = "Gate the FIR path.\nSecond line.", .source = "abc",
                             .graph_hash = NULL, .costs = {100, 20, 0.01, 0.5, 0}};
    int64_t id;
    CHECK(db_candidate_insert(db, &spec, &id) == 0);
    db_candidate c;
    CHECK(db_candidate_get(db, id, &c) == 0);
    CHECK(c.id == id && c.run_id == run && c.parent_id == p && c.n_refs == 2 && c.refs[0] == p && c.refs[1] == r1);
    CHECK(!strcmp(c.name, "gated \"fir\"") && !strcmp(c.motivation, "Gate the FIR path.\nSecond line."));
    CHECK(!strcmp(c.source, "abc"));
    CHECK(!strcmp(c.source_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(c.graph_hash == NULL && !c.is_baseline && c.status == DB_PROPOSED && c.retries == 0);
    CHECK(c.metrics_json == NULL && isnan(c.score) && c.scores_json == NULL && c.analysis == NULL);
    CHECK(c.costs.prompt_tokens == 100 && c.costs.completion_tokens == 20 && c.costs.cost_usd == 0.01);
    CHECK(c.created_at[0] && !c.started_at[0] && !c.finished_at[0]);
    db_candidate_free(&c);

    CHECK(db_candidate_start(db, id) == 0);
    CHECK(db_candidate_set_graph_hash(db, id, "00ff00ff00ff00ff") == 0);
    db_costs more = {5, 6, 0.002, 1.5, 2.5};
    CHECK(db_candidate_add_costs(db, id, &more) == 0);
    db_attempt_new a1 = {.candidate_id = id, .stage = "check", .ok = 0, .reports_json = REPORTS,
                         .source = "float *p;", .prompt_tokens = 11, .completion_tokens = 12};
    db_attempt_new a2 = {.candidate_id = id, .stage = "compile", .ok = 1};
    int64_t aid;
    CHECK(db_attempt_add(db, &a1, &aid) == 0 && aid > 0);
    CHECK(db_attempt_add(db, &a2, NULL) == 0);
    db_result res = db_result_init();
    res.metrics_json = "{\"val_loss\":1.25,\"bpb\":1.8,\"mqar_acc\":0.9,\"tok_per_s\":12000,\"steps\":300}";
    res.score = 0.625;
    res.scores_json = "{\"loss\":0.6,\"mqar\":0.7,\"judge\":0.55}";
    res.analysis = "Better than its parent on recall.";
    res.costs = (db_costs){1, 2, 0.003, 10, 20};
    db_attempt_new last = {.stage = "evaluate", .ok = 1};
    CHECK_MSG(db_candidate_finish(db, id, &res, &last) == 0, "%s", db_error(db));

    CHECK(db_candidate_get(db, id, &c) == 0);
    CHECK(c.status == DB_SCORED && c.score == 0.625 && !strcmp(c.graph_hash, "00ff00ff00ff00ff"));
    CHECK(!strcmp(c.metrics_json, res.metrics_json) && !strcmp(c.scores_json, res.scores_json));
    CHECK(!strcmp(c.analysis, res.analysis) && c.status_reason == NULL);
    CHECK(c.costs.prompt_tokens == 106 && c.costs.completion_tokens == 28);
    CHECK_NEAR(c.costs.cost_usd, 0.015, 1e-12);
    CHECK_NEAR(c.costs.cpu_seconds, 12.0, 1e-12);
    CHECK_NEAR(c.costs.gpu_seconds, 22.5, 1e-12);
    CHECK(c.started_at[0] && c.finished_at[0] && strcmp(c.finished_at, c.started_at) >= 0);

    db_attempt *att;
    int n;
    CHECK(db_attempt_list(db, id, &att, &n) == 0 && n == 3);
    if (n == 3) {
        CHECK(att[0].n == 1 && !strcmp(att[0].stage, "check") && !att[0].ok && !strcmp(att[0].reports_json, REPORTS));
        CHECK(!strcmp(att[0].source, "float *p;") && att[0].prompt_tokens == 11 && att[0].completion_tokens == 12);
        CHECK(att[1].n == 2 && att[1].ok && !strcmp(att[1].reports_json, "[]") && att[1].source == NULL);
        CHECK(att[2].n == 3 && !strcmp(att[2].stage, "evaluate") && att[2].candidate_id == id);
    }
    db_attempt_list_free(att, n);

    /* JSON views. */
    cJSON *j = db_candidate_json(&c, DB_JSON_FULL);
    CHECK(cJSON_GetObjectItem(j, "parent")->valuedouble == (double)p);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "refs")) == 2);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "mqar_acc")->valuedouble == 0.9);
    CHECK(!strcmp(cJSON_GetObjectItem(j, "source")->valuestring, "abc"));
    cJSON_Delete(j);
    db_candidate_free(&c);

    /* The analysis may follow the committed result. */
    db_costs analyst = {.prompt_tokens = 4};
    CHECK(db_candidate_set_analysis(db, id, "Recall improved; loss equal.", &analyst) == 0);
    CHECK(db_candidate_get(db, id, &c) == 0 && !strcmp(c.analysis, "Recall improved; loss equal."));
    CHECK(c.costs.prompt_tokens == 110 && c.status == DB_SCORED);
    db_candidate_free(&c);
    CHECK(db_candidate_set_analysis(db, 4242, "x", NULL) == -1);

    /* Costs of the run: every candidate's totals. */
    db_costs total;
    CHECK(db_run_costs(db, run, &total) == 0 && total.prompt_tokens == 110);

    /* Events: every status change was logged. */
    db_event *ev;
    CHECK(db_event_list(db, 0, id, &ev, &n) == 0 && n == 4);
    if (n == 4) {
        CHECK(!strcmp(ev[0].kind, "status") && strstr(ev[0].message, "proposed"));
        CHECK(!strcmp(ev[1].message, "proposed -> running") && !strcmp(ev[2].message, "running -> scored"));
        CHECK(ev[2].run_id == run && ev[2].candidate_id == id);
        CHECK(!strcmp(ev[3].kind, "analysis"));
    }
    db_event_list_free(ev, n);
    CHECK(db_event_add(db, 0, id, "note", "judge said %d/%d", 7, 10) == 0);
    CHECK(db_event_add(db, run, 0, "budget", "halfway") == 0);
    CHECK(db_event_list(db, run, 0, &ev, &n) == 0 && n >= 2 && !strcmp(ev[n - 1].message, "halfway"));
    CHECK(n >= 2 && !strcmp(ev[n - 2].message, "judge said 7/10"));
    db_event_list_free(ev, n);

    /* Export: one document with attempts and events. */
    char *doc;
    CHECK(db_export(db, run, &doc) == 0);
    cJSON *e = cJSON_Parse(doc);
    CHECK(e && !strcmp(cJSON_GetObjectItem(e, "format")->valuestring, "asiarch-lineage"));
    cJSON *runs = cJSON_GetObjectItem(e, "runs");
    CHECK(cJSON_GetArraySize(runs) == 1);
    cJSON *cands = cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "candidates");
    CHECK(cJSON_GetArraySize(cands) == 3);
    cJSON *third = cJSON_GetArrayItem(cands, 2);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(third, "attempts")) == 3);
    CHECK(!strcmp(cJSON_GetObjectItem(third, "analysis")->valuestring, "Recall improved; loss equal."));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "events")) >= 9);
    cJSON_Delete(e);
    free(doc);
    CHECK(db_export(db, 42, &doc) == -1);
    db_close(db);
}

TEST(refusals_are_clear_and_change_nothing)
{
    char path[512];
    aa_db *db = open_fresh("refuse.db", path, sizeof path);
    int64_t run = new_run(db);
    int64_t done = insert_scored(db, run, "done", 0, 0.5, 0);
    /* A finished candidate is never run or finished again. */
    CHECK(db_candidate_start(db, done) == -1);
    CHECK_STR_CONTAINS(db_error(db), "already scored");
    db_result r = db_result_init();
    r.status = DB_FAILED;
    CHECK(db_candidate_finish(db, done, &r, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "never run again");
    CHECK(db_candidate_set_status(db, done, DB_PROPOSED, NULL) == -1);

    int64_t id = insert(db, run, "x", 0, 0);
    CHECK(db_candidate_start(db, id) == 0);
    CHECK(db_candidate_start(db, id) == -1);
    CHECK_STR_CONTAINS(db_error(db), "already running");
    r = db_result_init();   /* scored, but no score and metrics */
    CHECK(db_candidate_finish(db, id, &r, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "needs a score and metrics");
    r.score = 0.5;
    r.metrics_json = "{not json";
    CHECK(db_candidate_finish(db, id, &r, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "metrics_json is not a JSON object");
    r.metrics_json = "{}";
    r.score = INFINITY;
    CHECK(db_candidate_finish(db, id, &r, NULL) == -1);
    db_attempt_new bad_attempt = {.stage = "train", .reports_json = "{}"};
    r.score = 0.5;
    CHECK(db_candidate_finish(db, id, &r, &bad_attempt) == -1);
    CHECK_STR_CONTAINS(db_error(db), "reports_json is not a JSON array");
    db_candidate c;
    CHECK(db_candidate_get(db, id, &c) == 0 && c.status == DB_RUNNING && c.metrics_json == NULL);
    db_candidate_free(&c);

    db_candidate_new bad = {.run_id = run, .name = "orphan", .parent_id = 999};
    CHECK(db_candidate_insert(db, &bad, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "the parent 999 is not a candidate");
    int64_t refs[1] = {12345};
    bad = (db_candidate_new){.run_id = run, .name = "r", .refs = refs, .n_refs = 1};
    CHECK(db_candidate_insert(db, &bad, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "reference 12345");
    bad = (db_candidate_new){.run_id = 77, .name = "r"};
    CHECK(db_candidate_insert(db, &bad, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "no run 77");
    bad = (db_candidate_new){.run_id = run, .name = ""};
    CHECK(db_candidate_insert(db, &bad, NULL) == -1);
    bad = (db_candidate_new){.run_id = run, .name = "s", .status = DB_SCORED};
    CHECK(db_candidate_insert(db, &bad, NULL) == -1);
    db_attempt_new a = {.candidate_id = 5555, .stage = "check"};
    CHECK(db_attempt_add(db, &a, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "no candidate 5555");
    a = (db_attempt_new){.candidate_id = id, .stage = ""};
    CHECK(db_attempt_add(db, &a, NULL) == -1);
    a = (db_attempt_new){.candidate_id = id, .stage = "check", .n = 1};
    CHECK(db_attempt_add(db, &a, NULL) == 0);
    CHECK(db_attempt_add(db, &a, NULL) == -1);   /* attempt numbers are unique per candidate */
    CHECK_STR_CONTAINS(db_error(db), "UNIQUE");
    CHECK(db_candidate_get(db, 4242, &c) == 1);

    /* A proposal refused before it ran can be stored as such. */
    db_candidate_new dup = {.run_id = run, .name = "again", .status = DB_DUPLICATE, .status_reason = "same as 1"};
    int64_t did;
    CHECK(db_candidate_insert(db, &dup, &did) == 0);
    CHECK(db_candidate_get(db, did, &c) == 0 && c.status == DB_DUPLICATE && c.finished_at[0] && c.source == NULL);
    CHECK(c.source_sha256 == NULL && !strcmp(c.status_reason, "same as 1"));
    db_candidate_free(&c);
    CHECK(db_check_integrity(db) == 0);
    db_close(db);
}

/* ---- ranking and lookups ------------------------------------------------------------------ */

TEST(ranking_top_k_tie_break_and_ranges)
{
    char path[512];
    aa_db *db = open_fresh("rank.db", path, sizeof path);
    int64_t run = new_run(db), other = new_run(db);
    /* 60 scored candidates, scores with many ties: score(i) = (i % 7) / 10. */
    int64_t ids[60];
    for (int i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%d", i);
        ids[i] = insert_scored(db, run, name, 0, (i % 7) / 10.0, i == 3);
    }
    /* Not ranked: failed ones, and other runs when a run is asked for. */
    int64_t f = insert(db, run, "failed", 0, 0);
    db_result r = db_result_init();
    r.status = DB_FAILED;
    r.reason = "train: NaN loss";
    r.score = 0.9;   /* a score on a failed candidate never ranks it */
    CHECK(db_candidate_finish(db, f, &r, NULL) == 0);
    insert_scored(db, other, "elsewhere", 0, 0.95, 0);

    /* The expected order: score desc, then id asc. */
    int64_t order[60];
    int n = 0;
    for (int s = 6; s >= 0; s--)
        for (int i = 0; i < 60; i++)
            if (i % 7 == s) order[n++] = ids[i];
    db_candidate_list l;
    CHECK(db_top_scored(db, run, 10, 0, &l) == 0 && l.n == 10);
    for (int i = 0; i < l.n; i++) CHECK_MSG(l.items[i].id == order[i], "rank %d: %lld", i + 1, (long long)l.items[i].id);
    db_candidate_list_free(&l);
    CHECK(db_rank_range(db, run, 11, 50, 0, &l) == 0 && l.n == 40);
    for (int i = 0; i < l.n; i++) CHECK(l.items[i].id == order[10 + i]);
    db_candidate_list_free(&l);
    CHECK(db_rank_range(db, run, 55, 80, 0, &l) == 0 && l.n == 6);
    db_candidate_list_free(&l);
    CHECK(db_rank_range(db, run, 70, 80, 0, &l) == 0 && l.n == 0);
    db_candidate_list_free(&l);
    CHECK(db_rank_range(db, run, 0, 5, 0, &l) == -1);
    /* Every run: the other run's 0.95 leads. */
    CHECK(db_top_scored(db, 0, 1, 0, &l) == 0 && l.n == 1 && !strcmp(l.items[0].name, "elsewhere"));
    db_candidate_list_free(&l);
    /* Without baselines, ids[3] (score 0.3, a baseline) is skipped. */
    CHECK(db_top_scored(db, run, 60, DB_RANK_NO_BASELINES, &l) == 0 && l.n == 59);
    for (int i = 0; i < l.n; i++) CHECK(l.items[i].id != ids[3]);
    db_candidate_list_free(&l);

    int64_t counts[DB_STATUS_COUNT];
    CHECK(db_count_by_status(db, run, counts) == 0 && counts[DB_SCORED] == 60 && counts[DB_FAILED] == 1);
    CHECK(db_count_by_status(db, 0, counts) == 0 && counts[DB_SCORED] == 61);
    CHECK(db_candidate_list_all(db, run, DB_FAILED, &l) == 0 && l.n == 1 && l.items[0].id == f);
    CHECK(l.n == 1 && !strcmp(l.items[0].status_reason, "train: NaN loss"));
    db_candidate_list_free(&l);
    CHECK(db_candidate_list_all(db, 0, -1, &l) == 0 && l.n == 62);
    db_candidate_list_free(&l);
    db_close(db);
}

TEST(duplicates_and_children)
{
    char path[512];
    aa_db *db = open_fresh("dup.db", path, sizeof path);
    int64_t run = new_run(db);
    int64_t a = insert(db, run, "a", 0, 0), b = insert(db, run, "b", a, 0), c = insert(db, run, "c", a, 0);
    int64_t d = insert(db, run, "d", b, 0);
    CHECK(db_candidate_set_graph_hash(db, a, "1111") == 0);
    CHECK(db_candidate_set_graph_hash(db, c, "1111") == 0);
    CHECK(db_candidate_set_graph_hash(db, b, "2222") == 0);
    int64_t found = -1;
    CHECK(db_find_graph_hash(db, "1111", 0, &found) == 0 && found == a);
    CHECK(db_find_graph_hash(db, "1111", a, &found) == 0 && found == c);
    CHECK(db_find_graph_hash(db, "1111", c, &found) == 0 && found == a);
    CHECK(db_find_graph_hash(db, "2222", b, &found) == 0 && found == 0);
    CHECK(db_find_graph_hash(db, "3333", 0, &found) == 0 && found == 0);
    CHECK(db_candidate_set_graph_hash(db, 999, "1") == -1);
    db_candidate_list l;
    CHECK(db_candidate_children(db, a, &l) == 0 && l.n == 2 && l.items[0].id == b && l.items[1].id == c);
    db_candidate_list_free(&l);
    CHECK(db_candidate_children(db, b, &l) == 0 && l.n == 1 && l.items[0].id == d);
    db_candidate_list_free(&l);
    CHECK(db_candidate_children(db, d, &l) == 0 && l.n == 0);
    db_candidate_list_free(&l);
    db_close(db);
}

/* ---- transactions ---------------------------------------------------------------------- */

TEST(explicit_transactions)
{
    char path[512];
    aa_db *db = open_fresh("tx.db", path, sizeof path);
    int64_t run = new_run(db);
    int64_t counts[DB_STATUS_COUNT];
    CHECK(db_begin(db) == 0);
    CHECK(db_begin(db) == -1);
    CHECK_STR_CONTAINS(db_error(db), "do not nest");
    insert(db, run, "a", 0, 0);
    insert(db, run, "b", 0, 0);
    CHECK(db_rollback(db) == 0);
    CHECK(db_count_by_status(db, run, counts) == 0 && counts[DB_PROPOSED] == 0);

    /* A failed call inside a transaction undoes only itself. */
    CHECK(db_begin(db) == 0);
    int64_t a = insert(db, run, "a", 0, 0);
    db_candidate_new orphan = {.run_id = run, .name = "orphan", .parent_id = 999};
    CHECK(db_candidate_insert(db, &orphan, NULL) == -1);
    CHECK(db_candidate_start(db, a) == 0);
    CHECK(db_commit(db) == 0);
    db_candidate c;
    CHECK(db_candidate_get(db, a, &c) == 0 && c.status == DB_RUNNING);
    db_candidate_free(&c);
    CHECK(db_count_by_status(db, run, counts) == 0 && counts[DB_RUNNING] == 1 && counts[DB_PROPOSED] == 0);
    CHECK(db_commit(db) == -1 && db_rollback(db) == -1);
    db_close(db);
}

/* ---- recovery ------------------------------------------------------------------------------ */

TEST(recovery_retries_once_then_fails)
{
    char path[512];
    aa_db *db = open_fresh("recover.db", path, sizeof path);
    int64_t run = new_run(db);
    int64_t x = insert(db, run, "x", 0, 0), y = insert(db, run, "y", 0, 0), z = insert(db, run, "z", 0, 0);
    insert_scored(db, run, "done", 0, 0.5, 0);
    CHECK(db_candidate_start(db, x) == 0);
    CHECK(db_candidate_start(db, y) == 0);
    db_close(db);   /* "killed" with x and y running; z never started */

    char err[512];
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    db_candidate_list retry;
    CHECK(db_recover_interrupted(db, run, &retry) == 0 && retry.n == 2);
    if (retry.n == 2) {
        CHECK(retry.items[0].id == x && retry.items[0].status == DB_INTERRUPTED && retry.items[0].retries == 1);
        CHECK(retry.items[1].id == y && retry.items[1].retries == 1);
        CHECK_STR_CONTAINS(retry.items[0].status_reason, "retry 1 of 1");
    }
    db_candidate_list_free(&retry);
    /* Recovering again before restarting them returns them again, unchanged. */
    CHECK(db_recover_interrupted(db, run, &retry) == 0 && retry.n == 2 && retry.items[0].retries == 1);
    db_candidate_list_free(&retry);
    /* x is retried and finishes; y is retried and killed again. */
    CHECK(db_candidate_start(db, x) == 0);
    db_result r = db_result_init();
    r.score = 0.7;
    r.metrics_json = "{}";
    CHECK(db_candidate_finish(db, x, &r, NULL) == 0);
    CHECK(db_candidate_start(db, y) == 0);
    CHECK(db_recover_interrupted(db, run, &retry) == 0 && retry.n == 0);
    db_candidate_list_free(&retry);
    db_candidate c;
    CHECK(db_candidate_get(db, y, &c) == 0 && c.status == DB_FAILED && c.retries == 2 && c.finished_at[0]);
    CHECK_STR_CONTAINS(c.status_reason, "interrupted 2 times");
    db_candidate_free(&c);
    CHECK(db_candidate_get(db, x, &c) == 0 && c.status == DB_SCORED && c.retries == 1);
    db_candidate_free(&c);
    CHECK(db_candidate_get(db, z, &c) == 0 && c.status == DB_PROPOSED && c.retries == 0);
    db_candidate_free(&c);
    CHECK(db_candidate_start(db, y) == -1);   /* failed is final */
    db_event *ev;
    int n, recover_events = 0;
    CHECK(db_event_list(db, run, 0, &ev, &n) == 0);
    for (int i = 0; i < n; i++) recover_events += !strcmp(ev[i].kind, "recover");
    CHECK(recover_events == 3);
    db_event_list_free(ev, n);
    db_close(db);
}

/* ---- crash safety ------------------------------------------------------------------------------- */

static int sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL)) return 0;
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return n == 32;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define CRASH_SOURCE_LINES 40

/* What the writer stores for candidate k: recognisable, checkable content. */
static void crash_source(char *buf, size_t len, int64_t salt)
{
    size_t used = 0;
    for (int i = 0; i < CRASH_SOURCE_LINES && used + 80 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "aa_t f%d_%lld(aa_t x) { return aa_scale(x, %d); }\n", i,
                                 (long long)salt, i);
}

/* Finish candidate id the way discover does: a failed compile attempt, then
 * the result and its final attempt in one transaction. */
static int crash_finish(aa_db *db, int64_t id)
{
    db_attempt_new first = {.candidate_id = id, .stage = "compile", .ok = 0, .reports_json = REPORTS};
    if (db_attempt_add(db, &first, NULL) < 0) return -1;
    db_result r = db_result_init();
    char metrics[96];
    snprintf(metrics, sizeof metrics, "{\"val_loss\":%lld.5,\"steps\":300}", (long long)id);
    if (id % 3 == 0) {
        r.status = DB_FAILED;
        r.reason = "train: loss became NaN";
    } else {
        r.metrics_json = metrics;
        r.score = (double)id / 1000;
        r.scores_json = "{\"loss\":0.5}";
    }
    r.analysis = "analysis text";
    r.costs.cpu_seconds = 1;
    db_attempt_new last = {.stage = id % 3 == 0 ? "train" : "evaluate", .ok = id % 3 != 0};
    return db_candidate_finish(db, id, &r, &last);
}

/* The child: a discover that resumes the latest run, retries what was
 * interrupted, then proposes and finishes candidates until it is killed.
 * Each id goes down the pipe only after its finish has committed. */
static void crash_writer(const char *path, int fd)
{
    char err[1024], source[4096];
    aa_db *db;
    if (db_open(path, &db, err, sizeof err) < 0) _exit(3);
    db_run run;
    int64_t run_id = 0;
    int found = db_run_latest(db, &run);
    if (found < 0) _exit(4);
    if (found == 0) run_id = run.id;
    db_run_free(&run);
    db_run_new spec = {.scale = "tiny", .proposer = "builtin"};
    if (!run_id && db_run_create(db, &spec, &run_id) < 0) _exit(5);
    db_candidate_list retry;
    if (db_recover_interrupted(db, run_id, &retry) < 0) _exit(6);
    for (int i = 0; i < retry.n; i++) {
        int64_t id = retry.items[i].id;
        if (db_candidate_start(db, id) < 0 || crash_finish(db, id) < 0) _exit(7);
        if (write(fd, &id, sizeof id) != sizeof id) _exit(8);
    }
    db_candidate_list_free(&retry);
    for (int64_t k = 1;; k++) {
        crash_source(source, sizeof source, k);
        db_candidate_new c = {.run_id = run_id, .name = "crash", .motivation = "m", .source = source};
        int64_t id;
        if (db_candidate_insert(db, &c, &id) < 0 || db_candidate_start(db, id) < 0 ||
            db_candidate_set_graph_hash(db, id, "abcdef") < 0 || crash_finish(db, id) < 0) {
            fprintf(stderr, "crash writer: %s\n", db_error(db));
            _exit(9);
        }
        if (write(fd, &id, sizeof id) != sizeof id) _exit(10);
    }
}

/* Every candidate is either unfinished with no result, or finished with all
 * of it (and its attempts); the ones the child reported are finished. */
static void check_complete(aa_db *db, const int64_t *reported, int n_reported)
{
    db_candidate_list l;
    CHECK(db_candidate_list_all(db, 0, -1, &l) == 0);
    for (int i = 0; i < l.n; i++) {
        const db_candidate *c = &l.items[i];
        char sha[65];
        CHECK(c->source && sha256_hex(c->source, sha) && !strcmp(sha, c->source_sha256));
        CHECK_MSG(strlen(c->source) > CRASH_SOURCE_LINES * 40, "candidate %lld source cut", (long long)c->id);
        db_attempt *att;
        int n = 0;
        CHECK(db_attempt_list(db, c->id, &att, &n) == 0);
        int gave_up = c->status == DB_FAILED && c->retries > DB_MAX_RETRIES;   /* recovery failed it */
        if (gave_up) {
            CHECK(c->finished_at[0] && strstr(c->status_reason, "not retried again") && !c->metrics_json);
        } else if (db_status_is_final(c->status)) {
            CHECK_MSG(c->finished_at[0] && c->analysis && n >= 2, "candidate %lld half-written", (long long)c->id);
            CHECK(n >= 2 && !strcmp(att[n - 1].stage, c->status == DB_SCORED ? "evaluate" : "train"));
            if (c->status == DB_SCORED) CHECK(c->metrics_json && !isnan(c->score) && c->scores_json);
            else CHECK(c->status == DB_FAILED && c->status_reason);
        } else {
            CHECK_MSG(!c->finished_at[0] && !c->metrics_json && !c->analysis && n <= 1,
                      "unfinished candidate %lld has result fields", (long long)c->id);
        }
        db_attempt_list_free(att, n);
    }
    for (int r = 0; r < n_reported; r++) {
        db_candidate c;
        int got = db_candidate_get(db, reported[r], &c);
        CHECK_MSG(got == 0 && db_status_is_final(c.status), "reported candidate %lld lost", (long long)reported[r]);
        if (got == 0) db_candidate_free(&c);
    }
    db_candidate_list_free(&l);
}

/* No candidate was ever run after it finished, or started more than once
 * beyond its retries. */
static void check_never_rerun(aa_db *db)
{
    db_candidate_list l;
    CHECK(db_candidate_list_all(db, 0, -1, &l) == 0);
    for (int i = 0; i < l.n; i++) {
        db_event *ev;
        int n, starts = 0, after_final = 0, final_seen = 0;
        CHECK(db_event_list(db, 0, l.items[i].id, &ev, &n) == 0);
        for (int k = 0; k < n; k++) {
            if (strcmp(ev[k].kind, "status") && strcmp(ev[k].kind, "recover")) continue;
            if (strstr(ev[k].message, "-> running")) starts++;
            if (final_seen) after_final++;
            if (strstr(ev[k].message, "-> scored") || strstr(ev[k].message, "-> failed")) final_seen = 1;
        }
        CHECK_MSG(after_final == 0, "candidate %lld changed after it finished", (long long)l.items[i].id);
        CHECK_MSG(starts <= 1 + l.items[i].retries, "candidate %lld started %d times with %d retries",
                  (long long)l.items[i].id, starts, l.items[i].retries);
        db_event_list_free(ev, n);
    }
    db_candidate_list_free(&l);
}

typedef struct id_log {
    int64_t *ids;
    int n, cap;
} id_log;

/* Read one reported id (blocking); 0 at end of file. */
static int read_id(int fd, id_log *log)
{
    int64_t id;
    if (read(fd, &id, sizeof id) != sizeof id) return 0;
    if (log->n == log->cap) log->ids = realloc(log->ids, sizeof *log->ids * (size_t)(log->cap = log->cap ? 2 * log->cap : 64));
    log->ids[log->n++] = id;
    return 1;
}

/* One round: start a writer, kill it with SIGKILL at a random moment, collect
 * what it reported. Odd rounds first wait for two finished candidates, so the
 * test makes progress on a loaded machine; even rounds may kill it anywhere,
 * also while it opens the file or recovers. */
static void crash_round(const char *path, int round, uint64_t *seed, id_log *log)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        crash_writer(path, fds[1]);
    }
    close(fds[1]);
    for (int k = 0; round % 2 && k < 2; k++) read_id(fds[0], log);
    long ms = round == 0 ? 3 : (long)(rng_next(seed) % 100) + 1;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "round %d: writer exited early (status %d)", round,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    while (read_id(fds[0], log)) {}
    close(fds[0]);
}

TEST(crash_safety_under_sigkill)
{
    char path[512], err[1024];
    db_file(path, sizeof path, "crash.db");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    id_log log = {0};
    int rounds = 16;
    for (int round = 0; round < rounds; round++) {
        crash_round(path, round, &seed, &log);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;   /* killed before it created the file */
        aa_db *db;
        CHECK_MSG(db_open(path, &db, err, sizeof err) == 0, "round %d: %s", round, err);
        if (!db) continue;
        CHECK_MSG(db_check_integrity(db) == 0, "round %d: %s", round, db_error(db));
        check_complete(db, log.ids, log.n);
        db_close(db);
    }
    aa_db *db;
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    if (db) {
        check_never_rerun(db);
        int64_t counts[DB_STATUS_COUNT];
        CHECK(db_count_by_status(db, 0, counts) == 0);
        printf("crash safety: %d rounds, %d candidates committed and reported, %lld scored, %lld failed, "
               "%lld interrupted/running\n",
               rounds, log.n, (long long)counts[DB_SCORED], (long long)counts[DB_FAILED],
               (long long)(counts[DB_INTERRUPTED] + counts[DB_RUNNING]));
        CHECK(log.n >= rounds);
        db_close(db);
    }
    free(log.ids);
}

/* ---- concurrency ------------------------------------------------------------------------------- */

#define WAL_CANDIDATES 40

/* A reader process: polls until it has seen every candidate scored; every
 * scored row it sees is complete and the count never goes down. */
static int wal_reader(const char *path)
{
    char err[1024];
    aa_db *db;
    if (db_open_readonly(path, &db, err, sizeof err) < 0) {
        fprintf(stderr, "reader: %s\n", err);
        return 1;
    }
    int last = 0, polls = 0;
    time_t deadline = time(NULL) + 120;
    while (last < WAL_CANDIDATES && time(NULL) < deadline) {
        db_candidate_list l;
        if (db_candidate_list_all(db, 0, DB_SCORED, &l) < 0) {
            fprintf(stderr, "reader: %s\n", db_error(db));
            return 1;
        }
        for (int i = 0; i < l.n; i++)
            if (!l.items[i].metrics_json || isnan(l.items[i].score) || !l.items[i].finished_at[0]) return 2;
        if (l.n < last) return 3;
        last = l.n;
        db_candidate_list_free(&l);
        polls++;
    }
    db_close(db);
    if (polls < 2) fprintf(stderr, "reader: the writer finished before the first poll (no overlap this time)\n");
    return last == WAL_CANDIDATES ? 0 : 4;
}

static int wal_writer(const char *path)
{
    char err[1024];
    aa_db *db;
    if (db_open(path, &db, err, sizeof err) < 0) return 1;
    db_run run;
    if (db_run_latest(db, &run) != 0) return 1;
    for (int i = 0; i < WAL_CANDIDATES; i++) {
        db_candidate_new c = {.run_id = run.id, .name = "w", .source = "x"};
        int64_t id;
        if (db_candidate_insert(db, &c, &id) < 0 || db_candidate_start(db, id) < 0) return 2;
        db_result r = db_result_init();
        r.metrics_json = "{\"val_loss\":1}";
        r.score = i;
        if (db_candidate_finish(db, id, &r, NULL) < 0) return 3;
        struct timespec pause = {0, 2000000L};   /* 2 ms: the readers poll while this runs */
        nanosleep(&pause, NULL);
    }
    db_run_free(&run);
    db_close(db);
    return 0;
}

TEST(readers_beside_a_writer)
{
    char path[512];
    aa_db *db = open_fresh("wal.db", path, sizeof path);
    new_run(db);
    db_close(db);
    pid_t pids[3];
    for (int p = 0; p < 3; p++) {
        pids[p] = fork();
        if (pids[p] == 0) _exit(p == 0 ? wal_writer(path) : wal_reader(path));
    }
    for (int p = 0; p < 3; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with %d", p ? "reader" : "writer",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* ---- failures of the file system ------------------------------------------------------------------ */

/* The child fills the disk (a file-size limit stands in for it); every call
 * after that fails with a clear error, none crashes, and the parent finds
 * every candidate that was reported complete. Ids go down id_fd, the error
 * message down msg_fd. */
static void full_disk_child(const char *path, int id_fd, int msg_fd)
{
    char err[1024], source[8192];
    aa_db *db;
    if (db_open(path, &db, err, sizeof err) < 0) _exit(3);
    int64_t run;
    db_run_new spec = {.scale = "tiny"};
    if (db_run_create(db, &spec, &run) < 0) _exit(4);
    signal(SIGXFSZ, SIG_IGN);   /* a write beyond the limit then fails (EFBIG) instead of killing us */
    struct rlimit lim = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &lim);
    for (int k = 0; k < 10000; k++) {
        crash_source(source, sizeof source, k);
        db_candidate_new c = {.run_id = run, .name = "big", .source = source};
        int64_t id;
        if (db_candidate_insert(db, &c, &id) < 0 || db_candidate_start(db, id) < 0 || crash_finish(db, id) < 0) {
            dprintf(msg_fd, "%s\n", db_error(db));
            /* Later calls keep failing cleanly. The call that failed may have been
             * a larger write than an insert (a finish): the retries store more
             * than any space a full disk can have left, 64 KiB. */
            static char bigger[65536];
            memset(bigger, 'x', sizeof bigger - 1);
            c.source = bigger;
            if (db_candidate_insert(db, &c, &id) == 0) _exit(5);
            /* So does an explicit transaction: its commit fails, and leaves nothing. */
            int64_t in_tx = 0;
            if (db_begin(db) == 0) {
                int inserted = db_candidate_insert(db, &c, &in_tx) == 0;
                if (db_commit(db) == 0) _exit(8);
                db_candidate got;
                if (inserted && db_candidate_get(db, in_tx, &got) != 1) _exit(9);
            }
            db_close(db);
            _exit(0);
        }
        if (write(id_fd, &id, sizeof id) != sizeof id) _exit(6);
    }
    _exit(7);
}

TEST(full_disk_is_a_clear_error)
{
    char path[512], err[1024];
    db_file(path, sizeof path, "full.db");
    int ids[2], msg[2];
    CHECK(pipe(ids) == 0 && pipe(msg) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(ids[0]);
        close(msg[0]);
        full_disk_child(path, ids[1], msg[1]);
    }
    close(ids[1]);
    close(msg[1]);
    int64_t *reported = NULL, id;
    int n = 0, cap = 0;
    while (read(ids[0], &id, sizeof id) == sizeof id) {
        if (n == cap) reported = realloc(reported, sizeof *reported * (size_t)(cap = cap ? 2 * cap : 64));
        reported[n++] = id;
    }
    char message[2048];
    ssize_t len = read(msg[0], message, sizeof message - 1);
    message[len > 0 ? len : 0] = 0;
    close(ids[0]);
    close(msg[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("full disk: %d candidates stored, then: %s", n, message);
    CHECK(n >= 3);
    CHECK(strstr(message, "SQLITE_FULL") || strstr(message, "SQLITE_IOERR"));
    CHECK_STR_CONTAINS(message, "candidate");
    aa_db *db;
    CHECK_MSG(db_open(path, &db, err, sizeof err) == 0, "%s", err);
    if (db) {
        CHECK_MSG(db_check_integrity(db) == 0, "%s", db_error(db));
        check_complete(db, reported, n);
        db_close(db);
    }
    free(reported);
}

TEST(unwritable_and_missing_paths)
{
    char path[600], err[1024];
    aa_db *db = NULL;
    CHECK(db_open("/proc/asiarch-test.db", &db, err, sizeof err) == -1 && db == NULL);
    CHECK_STR_CONTAINS(err, "/proc/asiarch-test.db");
    CHECK(db_open("/nonexistent-dir/asiarch.db", &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "SQLITE_CANTOPEN");
    CHECK(db_open(tmpdir, &db, err, sizeof err) == -1);   /* a directory */
    CHECK(db_open_readonly("/nonexistent-dir/asiarch.db", &db, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "No such file");

    /* Writes through a read-only connection fail clearly. */
    aa_db *w = open_fresh("ro.db", path, sizeof path);
    int64_t run = new_run(w);
    db_close(w);
    CHECK(db_open_readonly(path, &db, err, sizeof err) == 0);
    db_candidate_new c = {.run_id = run, .name = "x"};
    CHECK(db_candidate_insert(db, &c, NULL) == -1);
    CHECK_STR_CONTAINS(db_error(db), "opened read-only");
    CHECK(db_event_add(db, run, 0, "note", "x") == -1);
    CHECK(db_begin(db) == -1);
    db_close(db);

    /* A file without write permission (root ignores permissions: skipped). */
    if (geteuid() != 0) {
        chmod(path, 0444);
        CHECK(db_open(path, &db, err, sizeof err) == -1);
        CHECK_STR_CONTAINS(err, "read-only");
        chmod(path, 0644);
    }
}

TEST(seed_results)
{
    char path[512], err[256];
    aa_db *db = open_fresh("seeds.db", path, sizeof path);
    db_run_new rn = {.seed = 1, .scale = "tiny", .proposer = "builtin"};
    int64_t run = 0, id = 0;
    CHECK(db_run_create(db, &rn, &run) == 0);
    db_candidate_new c = {.run_id = run, .name = "a", .source = "x"};
    CHECK(db_candidate_insert(db, &c, &id) == 0);
    CHECK(db_seed_result_put(db, id, 7, "tiny", 100, "{\"val_loss\":1.5}") == 0);
    CHECK(db_seed_result_put(db, id, 3, "tiny", 100, "{\"val_loss\":1.6}") == 0);
    CHECK(db_seed_result_put(db, id, 3, "small", 100, "{\"val_loss\":1.2}") == 0);
    CHECK(db_seed_result_put(db, id, 7, "tiny", 100, "{\"val_loss\":1.4}") == 0);   /* replaced */
    CHECK(db_seed_result_put(db, id, 8, "tiny", 100, "[1]") == -1);
    CHECK_STR_CONTAINS(db_error(db), "not a JSON object");
    CHECK(db_seed_result_put(db, 999, 8, "tiny", 100, "{}") == -1);   /* no such candidate */
    db_seed_result *r;
    int n;
    CHECK(db_seed_results(db, id, "tiny", 100, &r, &n) == 0 && n == 2);
    if (n == 2) CHECK(r[0].seed == 3 && r[1].seed == 7 && strstr(r[1].metrics_json, "1.4"));
    db_seed_results_free(r, n);
    CHECK(db_seed_results(db, id, NULL, 0, &r, &n) == 0 && n == 3);
    db_seed_results_free(r, n);
    double v[4];
    CHECK(db_seed_values(db, id, "tiny", 100, "val_loss", v, 4) == 2 && v[0] == 1.6 && v[1] == 1.4);
    CHECK(db_seed_values(db, id, "tiny", 100, "mqar_acc", v, 4) == 2 && isnan(v[0]));
    CHECK(db_seed_values(db, id, "tiny", 100, "x') OR 1=1 --", v, 4) == -1);
    CHECK_STR_CONTAINS(db_error(db), "is not a metric name");
    (void)err;
    db_close(db);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(schema_is_created_and_versioned);
    RUN(runs_round_trip);
    RUN(candidate_round_trip_every_field);
    RUN(refusals_are_clear_and_change_nothing);
    RUN(ranking_top_k_tie_break_and_ranges);
    RUN(duplicates_and_children);
    RUN(explicit_transactions);
    RUN(recovery_retries_once_then_fails);
    RUN(crash_safety_under_sigkill);
    RUN(readers_beside_a_writer);
    RUN(full_disk_is_a_clear_error);
    RUN(unwritable_and_missing_paths);
    RUN(seed_results);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
