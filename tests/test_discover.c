/*
 * test_discover.c — `asiarch discover` end to end, as a user runs it.
 *
 *   builtin   --budget 6 --scale tiny: the database holds the two baselines
 *             and six scored candidates with lineage, every candidate's
 *             source carries its genome, attempts and events are stored
 *   resume    kill -9 while a candidate trains, run again: nothing finished
 *             is lost or run twice, the interrupted one is retried once and
 *             marked
 *   ctrl-c    SIGINT stops cleanly (exit 0, summary says so, the running
 *             candidate is interrupted) and the same command finishes the run
 *   llm       a scripted OpenAI-compatible server: a broken candidate that
 *             needs two repairs (the repair prompts carry the exact
 *             reports), a hostile one the checker rejects, a duplicate of a
 *             baseline, malformed judge JSON, 429 with Retry-After, 500, a
 *             hang past the timeout; asserts on what was sent and stored
 */
#include <cJSON.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "db.h"
#include "mock_llm.h"
#include "test.h"

static char dir[] = "/tmp/asiarch-test-discover-XXXXXX";
static char corpus[300];

static int run(const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s discover --data %s %s 2>%s/stderr", dir, ASIARCH_BINARY, corpus, args, dir);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + len, 1, cap - len - 1, p)) > 0) len += k;
    buf[len] = 0;
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void show_stderr(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tail -20 %s/stderr >&2", dir);
    if (system(cmd) != 0) fprintf(stderr, "(no stderr)\n");
}

static aa_db *open_db(const char *name)
{
    char path[400], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    aa_db *db = NULL;
    if (db_open_readonly(path, &db, err, sizeof err) < 0) fprintf(stderr, "%s\n", err);
    return db;
}

static int count(const db_candidate_list *l, int baseline, int status)
{
    int n = 0;
    for (int i = 0; i < l->n; i++)
        if (l->items[i].is_baseline == baseline && (status < 0 || (int)l->items[i].status == status)) n++;
    return n;
}

TEST(builtin_budget_6_tiny)
{
    char *out;
    int rc = run("--db b.db --budget 6 --scale tiny --steps 40 --no-mqar --seed 3 --json", &out);
    CHECK_MSG(rc == 0, "exit %d", rc);
    if (rc) show_stderr();
    cJSON *s = cJSON_Parse(out);
    CHECK(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "scored")) >= 8);
    CHECK(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "baselines")) == 2);
    /* wins that hold: the best candidate and the baselines over 3 seeds */
    const cJSON *conf = cJSON_GetObjectItem(s, "confirmation");
    CHECK(conf && cJSON_GetNumberValue(cJSON_GetObjectItem(conf, "seeds")) == 3);
    const cJSON *designs = cJSON_GetObjectItem(conf, "designs");
    CHECK(cJSON_GetArraySize(designs) == 3);
    const cJSON *best = cJSON_GetArrayItem(designs, 2);
    CHECK(best && !cJSON_IsTrue(cJSON_GetObjectItem(best, "baseline")));
    const cJSON *loss = cJSON_GetObjectItem(best, "val_loss");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(loss, "n")) == 3 && cJSON_GetNumberValue(cJSON_GetObjectItem(loss, "ci95")) > 0);
    const char *verdict = cJSON_GetStringValue(cJSON_GetObjectItem(best, "loss_vs_best_baseline"));
    CHECK(verdict && (!strcmp(verdict, "better") || !strcmp(verdict, "not distinguishable") || !strcmp(verdict, "worse")));
    cJSON_Delete(s);
    free(out);
    aa_db *db = open_db("b.db");
    if (!db) return;
    /* the per-seed results are stored: 3 seeds for the best and each baseline */
    db_candidate_list top = {0};
    db_top_scored(db, 0, 1, DB_RANK_NO_BASELINES, &top);
    db_seed_result *sr = NULL;
    int nsr = 0;
    CHECK(top.n == 1 && db_seed_results(db, top.items[0].id, "tiny", 40, &sr, &nsr) == 0 && nsr == 3);
    db_seed_results_free(sr, nsr);
    db_candidate_list_free(&top);
    char args[300], *best_json;
    snprintf(args, sizeof args, "cd %s && %s db --db b.db best -k 1 --no-baselines --json", dir, ASIARCH_BINARY);
    FILE *p = popen(args, "r");
    best_json = calloc(1, 1 << 20);
    size_t got = p ? fread(best_json, 1, (1 << 20) - 1, p) : 0;
    best_json[got] = 0;
    if (p) pclose(p);
    cJSON *bj = cJSON_Parse(best_json);
    const cJSON *seeds = cJSON_GetObjectItem(cJSON_GetArrayItem(bj, 0), "seeds");
    CHECK_MSG(seeds && cJSON_GetArraySize(cJSON_GetObjectItem(seeds, "results")) == 3, "db best --json: %.300s", best_json);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(seeds, "loss_vs_best_baseline"), "verdict") != NULL);
    cJSON_Delete(bj);
    free(best_json);
    db_candidate_list all = {0};
    CHECK(db_candidate_list_all(db, 0, -1, &all) == 0);
    CHECK_MSG(count(&all, 1, DB_SCORED) == 2, "baselines scored: %d", count(&all, 1, DB_SCORED));
    CHECK_MSG(count(&all, 0, DB_SCORED) == 6, "candidates scored: %d of %d", count(&all, 0, DB_SCORED), count(&all, 0, -1));
    for (int i = 0; i < all.n; i++) {
        db_candidate *c = &all.items[i];
        if (c->is_baseline) continue;
        CHECK_MSG(c->parent_id > 0, "#%lld has no parent", (long long)c->id);
        CHECK(c->source && strstr(c->source, "asiarch-genome:"));
        CHECK(isfinite(c->score) && c->score >= 0 && c->score <= 1);
        CHECK(c->analysis && strstr(c->analysis, "rule-based analyst"));
        CHECK(c->graph_hash && strlen(c->graph_hash) == 16);
    }
    db_candidate_list_free(&all);
    db_close(db);
}

/* A second run at the same settings continues the population: baselines
 * reused, not retrained; parents drawn from both runs. */
TEST(a_second_run_continues_the_population)
{
    CHECK(run("--db p.db --budget 2 --scale tiny --steps 30 --no-mqar --seed 4 --confirm 0", NULL) == 0);
    char *out = NULL;
    CHECK(run("--db p.db --budget 1 --scale tiny --steps 30 --no-mqar --seed 4 --confirm 0 --json", &out) == 0);
    cJSON *s = cJSON_Parse(out);
    CHECK_MSG(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "continued_runs")) == 1, "%s", out);
    CHECK(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "continued_designs")) == 4);
    CHECK(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "reused_baselines")) == 2);
    cJSON_Delete(s);
    free(out);
    aa_db *db = open_db("p.db");
    if (!db) return;
    db_event *ev;
    int n, selected_from_both = 0, reused = 0;
    db_event_list(db, 2, 0, &ev, &n);
    for (int i = 0; i < n; i++) {
        selected_from_both |= !strcmp(ev[i].kind, "select") && strstr(ev[i].message, "top 6 of 6 ranked designs");
        reused |= !strcmp(ev[i].kind, "continue") && strstr(ev[i].message, "reused from run 1");
    }
    db_event_list_free(ev, n);
    CHECK(selected_from_both && reused);
    /* another step count is another experiment: nothing continued, baselines trained */
    CHECK(run("--db p.db --budget 1 --scale tiny --steps 40 --no-mqar --seed 4 --confirm 0 --json", &out) == 0);
    s = cJSON_Parse(out);
    CHECK(s && cJSON_GetNumberValue(cJSON_GetObjectItem(s, "continued_runs")) == 0 &&
          cJSON_GetNumberValue(cJSON_GetObjectItem(s, "reused_baselines")) == 0);
    cJSON_Delete(s);
    free(out);
    db_close(db);
}

/* kill -9 while a candidate trains, then resume. */
TEST(resume_after_kill_9)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && exec %s discover --data %s --db r.db --budget 3 --scale tiny --steps 150 "
             "--no-mqar --seed 5 --confirm 0 >/dev/null 2>%s/stderr-r", dir, ASIARCH_BINARY, corpus, dir);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Wait until a non-baseline candidate is running, then kill -9. */
    int killed = 0;
    for (int i = 0; i < 600 && !killed; i++) {
        usleep(200000);
        aa_db *db = open_db("r.db");
        if (!db) continue;
        db_candidate_list running = {0};
        if (db_candidate_list_all(db, 0, DB_RUNNING, &running) == 0 && count(&running, 0, DB_RUNNING) > 0) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        db_candidate_list_free(&running);
        db_close(db);
    }
    waitpid(pid, NULL, 0);
    CHECK_MSG(killed, "no candidate was ever seen running");
    aa_db *db = open_db("r.db");
    db_candidate_list before = {0};
    if (db) db_candidate_list_all(db, 0, -1, &before);
    if (db) db_close(db);
    int rc = run("--db r.db --budget 3 --scale tiny --steps 150 --no-mqar --seed 5 --confirm 0", NULL);
    CHECK_MSG(rc == 0, "resume exit %d", rc);
    if (rc) show_stderr();
    db = open_db("r.db");
    if (!db) return;
    db_candidate_list after = {0};
    db_candidate_list_all(db, 0, -1, &after);
    /* Everything finished before the kill is unchanged (same finish time). */
    for (int i = 0; i < before.n; i++) {
        if (!db_status_is_final(before.items[i].status)) continue;
        for (int k = 0; k < after.n; k++)
            if (after.items[k].id == before.items[i].id)
                CHECK_MSG(!strcmp(after.items[k].finished_at, before.items[i].finished_at),
                          "#%lld was run again", (long long)before.items[i].id);
    }
    int retried = 0;
    for (int k = 0; k < after.n; k++) {
        CHECK_MSG(db_status_is_final(after.items[k].status), "#%lld left %s", (long long)after.items[k].id,
                  db_status_name(after.items[k].status));
        retried += after.items[k].retries == 1;
    }
    CHECK(retried == 1);
    CHECK_MSG(count(&after, 0, -1) == 3, "%d candidates (budget 3)", count(&after, 0, -1));
    CHECK(count(&after, 1, -1) == 2);
    db_candidate_list_free(&before);
    db_candidate_list_free(&after);
    db_close(db);
}

/* Ctrl-C (SIGINT) while a candidate trains: exit 0, the candidate is left
 * interrupted, and the same command later finishes the run. */
TEST(ctrl_c_stops_cleanly_and_resumes)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/stdout-c", dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen(cmd, "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execl(ASIARCH_BINARY, "asiarch", "discover", "--data", corpus, "--db", "c.db", "--budget", "2", "--scale",
              "tiny", "--steps", "200", "--no-mqar", "--seed", "7", "--json", (char *)NULL);
        _exit(127);
    }
    int signalled = 0;
    for (int i = 0; i < 600 && !signalled; i++) {
        usleep(200000);
        aa_db *db = open_db("c.db");
        if (!db) continue;
        db_candidate_list running = {0};
        if (db_candidate_list_all(db, 0, DB_RUNNING, &running) == 0 && count(&running, 0, DB_RUNNING) > 0) {
            kill(pid, SIGINT);
            signalled = 1;
        }
        db_candidate_list_free(&running);
        db_close(db);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(signalled && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/stdout-c", dir);
    FILE *f = fopen(cmd, "r");
    if (f) {
        out = calloc(1, 4096);
        if (fread(out, 1, 4095, f) == 0) out[0] = 0;
        fclose(f);
    }
    cJSON *s = cJSON_Parse(out ? out : "");
    CHECK_MSG(cJSON_IsTrue(cJSON_GetObjectItem(s, "stopped")), "summary: %s", out ? out : "(none)");
    cJSON_Delete(s);
    free(out);
    aa_db *db = open_db("c.db");
    db_candidate_list all = {0};
    if (db) db_candidate_list_all(db, 0, -1, &all);
    CHECK_MSG(count(&all, 0, DB_INTERRUPTED) == 1, "interrupted: %d", count(&all, 0, DB_INTERRUPTED));
    db_candidate_list_free(&all);
    if (db) db_close(db);
    CHECK(run("--db c.db --budget 2 --scale tiny --steps 200 --no-mqar --seed 7 --confirm 0", NULL) == 0);
    db = open_db("c.db");
    if (db) db_candidate_list_all(db, 0, -1, &all);
    CHECK(count(&all, 0, -1) == 2 && count(&all, 0, DB_INTERRUPTED) == 0 && count(&all, 1, DB_SCORED) == 2);
    for (int i = 0; i < all.n; i++) CHECK(db_status_is_final(all.items[i].status));
    db_candidate_list_free(&all);
    if (db) db_close(db);
}

/* ---- the language-model proposer against a scripted server ---------------------- */

#define HEAD "#include <asiarch.h>\n\nAA_NAME(\"conv_gate\");\nAA_MOTIVATION(\"a short causal convolution with a SiLU gate\");\n\n"

static const char *broken_source =
    HEAD "aa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n"
    "    return aa_linear(l, \"o_proj\", undefined_thing, d);\n}\n";
static const char *pointer_source =
    HEAD "aa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n    float *p = 0;\n"
    "    return aa_linear(l, \"o_proj\", x, d);\n}\n";
static const char *fixed_source =
    HEAD "aa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n"
    "    aa_t h = aa_silu(aa_short_conv(l, \"conv\", aa_linear(l, \"in_proj\", x, d), 4));\n"
    "    return aa_linear(l, \"o_proj\", h, d);\n}\n";
static const char *blowup_source =
    "#include <asiarch.h>\n\nAA_NAME(\"blow_up\");\nAA_MOTIVATION(\"an exponential gate without a bound\");\n\n"
    "aa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n"
    "    aa_t h = aa_exp(aa_scale(aa_linear(l, \"in_proj\", x, d), 40.0f));\n"
    "    return aa_linear(l, \"o_proj\", h, d);\n}\n";
static const char *hostile_source =
    "#include <asiarch.h>\nAA_NAME(\"pwn\");\nint system(const char *command);\n"
    "aa_t mixer(aa_layer *l, aa_t x)\n{\n    system(\"touch /tmp/pwned\");\n    return x;\n}\n";

static void step(cJSON *script, const char *match, const char *fmt, const char *code)
{
    cJSON *s = cJSON_CreateObject();
    if (match) cJSON_AddStringToObject(s, "match", match);
    if (fmt) {
        char *content = NULL;
        if (asprintf(&content, fmt, code ? code : "") < 0) content = NULL;
        cJSON_AddStringToObject(s, "content", content ? content : "");
        free(content);
    }
    cJSON_AddItemToArray(script, s);
}

static void status_step(cJSON *script, const char *match, int status, const char *retry_after, double hang)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "match", match);
    if (hang > 0) cJSON_AddNumberToObject(s, "hang", hang);
    else cJSON_AddNumberToObject(s, "status", status);
    if (retry_after) cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "headers"), "Retry-After", retry_after);
    cJSON_AddItemToArray(script, s);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static char *make_script(void)
{
    const char *R = "machine-learning researcher", *F = "You fix a token-mixer", *J = "You are the judge",
               *A = "You are the analyst";
    char path[400];
    snprintf(path, sizeof path, "%s/arch/delta_net.c", ASIARCH_SOURCE_DIR);
    char *dn = read_text(path);
    cJSON *script = cJSON_CreateArray();
    status_step(script, R, 429, "1", 0);     /* honoured, then retried */
    status_step(script, R, 500, NULL, 0);    /* retried */
    status_step(script, R, 0, NULL, 6);      /* a hang past the 2 s timeout: retried */
    step(script, R, "Here is my design.\n\n```c\n%s```\n", broken_source);
    step(script, F, "Fixed the name.\n```c\n%s```", pointer_source);
    step(script, F, "```c\n%s```\nNow it builds.", fixed_source);
    step(script, J, "Scores: {performance: high, innovation: 7", NULL);   /* malformed JSON */
    step(script, A, "```json\n{\"summary\": \"a gated convolution\", \"strengths\": \"fast\", "
                    "\"weaknesses\": \"no memory\", \"next_idea\": \"add a delta-rule path\"}\n```", NULL);
    step(script, R, "```c\n%s```", hostile_source);
    step(script, F, "I cannot fix this one, sorry.", NULL);
    step(script, R, "A copy of DeltaNet:\n```c\n%s```", dn);
    step(script, R, "An exponential gate:\n```c\n%s```", blowup_source);
    step(script, J, "```json\n{\"performance\": 2, \"innovation\": 3, \"complexity\": 8, \"rationale\": \"r\"}\n```", NULL);
    step(script, A, "```json\n{\"summary\": \"s\", \"strengths\": \"t\", \"weaknesses\": \"w\", \"next_idea\": \"n\"}\n```", NULL);
    step(script, R, "The gated convolution again:\n```c\n%s```", fixed_source);
    free(dn);
    char *text = cJSON_Print(script);
    cJSON_Delete(script);
    return text;
}

static const char *user_content(const cJSON *request)
{
    const cJSON *msgs = cJSON_GetObjectItem(cJSON_GetObjectItem(request, "body"), "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    return cJSON_GetStringValue(cJSON_GetObjectItem(last, "content"));
}

static db_candidate *find(db_candidate_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].name, name)) return &l->items[i];
    return NULL;
}

/* The first report message stored with a candidate's first failed attempt. */
static char *first_report(aa_db *db, int64_t id, const char *field)
{
    db_attempt *a;
    int n;
    char *msg = NULL;
    if (db_attempt_list(db, id, &a, &n) == 0 && n > 0) {
        cJSON *r = cJSON_Parse(a[0].reports_json);
        msg = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), field)) ?: "");
        cJSON_Delete(r);
        db_attempt_list_free(a, n);
    }
    return msg;
}

TEST(llm_proposer_with_repairs_and_a_misbehaving_endpoint)
{
    mock_llm m;
    char *script = make_script();
    CHECK(mock_llm_start(&m, dir, script) == 0);
    free(script);
    char args[512];
    snprintf(args, sizeof args, "--db l.db --llm %s --model mock --llm-timeout 2 --budget 5 --max-repairs 2 --confirm 0 "
             "--scale tiny --steps 20 --no-mqar --seed 9 --json", m.url);
    char *summary_text = NULL;
    int rc = run(args, &summary_text);
    CHECK_MSG(rc == 0, "exit %d", rc);
    if (rc) show_stderr();
    /* the summary counts the repairs and the early stop, not only "0 failed" */
    cJSON *summary = cJSON_Parse(summary_text);
    CHECK_MSG(summary && cJSON_GetNumberValue(cJSON_GetObjectItem(summary, "repairs")) >= 2, "%s", summary_text);
    CHECK(summary && cJSON_GetNumberValue(cJSON_GetObjectItem(summary, "early_stops")) == 1);
    CHECK(summary && cJSON_GetNumberValue(cJSON_GetObjectItem(summary, "duplicates")) == 2);
    CHECK(summary && strstr(cJSON_GetStringValue(cJSON_GetObjectItem(summary, "llm_exchanges")) ?: "", "l.db-run1"));
    cJSON_Delete(summary);
    free(summary_text);
    cJSON *log = mock_llm_requests(&m);
    mock_llm_stop(&m);
    aa_db *db = open_db("l.db");
    if (!db || !log) return;
    db_candidate_list all = {0};
    db_candidate_list_all(db, 0, -1, &all);
    db_candidate *fixed = find(&all, "conv_gate"), *hostile = find(&all, "pwn"), *dup = find(&all, "delta_net");
    CHECK(count(&all, 1, DB_SCORED) == 3 && count(&all, 0, -1) == 5);   /* with a judge: the conv-only control too */
    CHECK_MSG(fixed && fixed->status == DB_SCORED, "conv_gate: %s", fixed ? db_status_name(fixed->status) : "missing");
    CHECK(hostile && hostile->status == DB_FAILED && strstr(hostile->status_reason, "repair"));
    /* The copy of DeltaNet is named delta_net like the baseline: the non-baseline one. */
    dup = NULL;
    for (int i = 0; i < all.n; i++)
        if (!all.items[i].is_baseline && !strcmp(all.items[i].name, "delta_net")) dup = &all.items[i];
    CHECK_MSG(dup && dup->status == DB_DUPLICATE && strstr(dup->status_reason, "#1"), "duplicate: %s",
              dup ? dup->status_reason : "missing");
    if (fixed) {
        db_attempt *a;
        int n;
        CHECK(db_attempt_list(db, fixed->id, &a, &n) == 0 && n == 3);
        if (n == 3) {
            CHECK(!strcmp(a[0].stage, "check") && !a[0].ok && strstr(a[0].reports_json, "undefined_thing"));
            CHECK(!strcmp(a[1].stage, "check") && strstr(a[1].reports_json, "dsl/pointer"));
            CHECK(a[2].ok);
            /* the candidate row holds the code that was trained, not the first, broken proposal */
            CHECK(fixed->source && a[2].source && !strcmp(fixed->source, a[2].source));
            CHECK(fixed->source && !strstr(fixed->source, "undefined_thing"));
        }
        db_attempt_list_free(a, n);
        CHECK(fixed->costs.prompt_tokens > 0);
        db_event *ev;
        int ne, judged = 0;
        db_event_list(db, 0, fixed->id, &ev, &ne);
        for (int i = 0; i < ne; i++) judged |= !strcmp(ev[i].kind, "judge");
        db_event_list_free(ev, ne);
        CHECK_MSG(judged, "no event about the malformed judge answer");
        CHECK(fixed->analysis && strstr(fixed->analysis, "add a delta-rule path"));
        /* The first repair prompt carries the exact stored report. */
        char *msg = first_report(db, fixed->id, "message"), *snippet = first_report(db, fixed->id, "snippet");
        const cJSON *req;
        int found = 0;
        cJSON_ArrayForEach(req, log) {
            const char *c = user_content(req);
            if (c && strstr(c, "You fix a token-mixer") && msg && strstr(c, msg) && snippet && strstr(c, snippet)) found = 1;
        }
        CHECK_MSG(found, "no repair prompt holds the report '%s'", msg ? msg : "");
        free(msg);
        free(snippet);
    }
    CHECK(cJSON_GetArraySize(log) >= 15);   /* 3 refused + 12 answered */
    /* What the researcher was told (issue 14): the answered researcher prompts, in order. */
    const char *researcher[8] = {0};
    int nr = 0;
    const cJSON *rq;
    cJSON_ArrayForEach(rq, log) {
        const char *c = user_content(rq);
        if (c && strstr(c, "machine-learning researcher") && nr < 8) researcher[nr++] = c;
    }
    CHECK_MSG(nr >= 5, "%d researcher prompts", nr);
    if (nr >= 5) {
        const char *first = researcher[nr - 5], *third = researcher[nr - 3], *fourth = researcher[nr - 2],
                   *fifth = researcher[nr - 1];
        /* the early stop reaches the next prompt as its reason, never as "val loss nan" */
        CHECK_STR_CONTAINS(fifth, "- blow_up (#");
        CHECK_STR_CONTAINS(fifth, "stopped early, not trained to the end: ");
        CHECK(!strstr(fifth, "val loss nan"));
        /* a baseline parent shows its source, and the scale is stated in numbers */
        CHECK(strstr(first, "# The parent: delta_net") || strstr(first, "# The parent: gated_delta_net"));
        CHECK(strstr(first, "aa_delta_rule(") || strstr(first, "aa_linattn("));
        CHECK(!strstr(first, "(a built-in reference)"));
        CHECK_STR_CONTAINS(first, "d_model ");
        CHECK_STR_CONTAINS(first, "MQAR not measured");
        CHECK(!strstr(first, "MQAR -1") && !strstr(first, "MQAR accuracy -1"));
        CHECK_STR_CONTAINS(first, "# Notice\n\n(none)");
        CHECK_STR_CONTAINS(first, "How it was chosen: chosen at random among the top 3 of 3 ranked designs");
        CHECK_STR_CONTAINS(first, "conv_only: ");
        CHECK_STR_CONTAINS(first, "(the convolution-only control: no memory at all)");
        /* the hostile proposal's failure reaches the later prompts with its stage and rule */
        CHECK_STR_CONTAINS(third, "- pwn (#");
        CHECK_STR_CONTAINS(third, "failed at stage ");
        /* the duplicate is told, and listed */
        CHECK_STR_CONTAINS(fourth, "Your previous proposal, delta_net (#");
        CHECK_STR_CONTAINS(fourth, "was not trained: ");
        CHECK_STR_CONTAINS(fourth, "duplicate: ");
        CHECK(strcmp(third, fourth) != 0);
    }
    /* the judge was told its weight (one half without MQAR) and the noise it has to beat */
    int judge_seen = 0;
    cJSON_ArrayForEach(rq, log) {
        const char *c = user_content(rq);
        if (!c || !strstr(c, "You are the judge")) continue;
        judge_seen = 1;
        CHECK_STR_CONTAINS(c, "make up\none half of its fitness");
        CHECK_STR_CONTAINS(c, "Seed-to-seed noise at these settings: not measured yet");
    }
    CHECK(judge_seen);
    /* the analyst of conv_gate was told about its siblings (none finished yet), not "(not listed)" */
    int analyst_seen = 0;
    cJSON_ArrayForEach(rq, log) {
        const char *c = user_content(rq);
        if (!c || !strstr(c, "You are the analyst")) continue;
        analyst_seen = 1;
        CHECK(!strstr(c, "(not listed)"));
        CHECK_STR_CONTAINS(c, "# Its siblings");
    }
    CHECK(analyst_seen);

    /* The same run replayed from its recorded exchanges, without the endpoint:
     * every candidate again, with the same source, status and score. */
    snprintf(args, sizeof args, "--db l2.db --llm replay:asiarch-run/llm/l.db-run1 --llm-timeout 2 --budget 5 --confirm 0 "
             "--max-repairs 2 --scale tiny --steps 20 --no-mqar --seed 9");
    rc = run(args, NULL);
    CHECK_MSG(rc == 0, "replay: exit %d", rc);
    if (rc) show_stderr();
    aa_db *db2 = open_db("l2.db");
    db_candidate_list again = {0};
    if (db2) db_candidate_list_all(db2, 0, -1, &again);
    CHECK_MSG(again.n == all.n, "replayed %d candidates of %d", again.n, all.n);
    for (int i = 0; i < all.n && i < again.n; i++) {
        const db_candidate *x = &all.items[i], *y = &again.items[i];
        CHECK_MSG(!strcmp(x->name, y->name) && x->status == y->status, "#%d: %s %s vs %s %s", i + 1, x->name,
                  db_status_name(x->status), y->name, db_status_name(y->status));
        CHECK((!x->source && !y->source) || (x->source && y->source && !strcmp(x->source, y->source)));
        CHECK_MSG((isnan(x->score) && isnan(y->score)) || x->score == y->score, "#%d: score %.17g vs %.17g", i + 1,
                  x->score, y->score);
    }
    db_candidate_list_free(&again);
    if (db2) db_close(db2);
    CHECK(!mock_llm_header(cJSON_GetArrayItem(log, 0), "Authorization"));   /* no key set: none sent */
    cJSON_Delete(log);
    db_candidate_list_free(&all);
    db_close(db);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    unsetenv("ASIARCH_API_KEY");
    unsetenv("OPENAI_API_KEY");
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    char err[512];
    dt_prepare_info info;
    if (dt_prepare_bytes(NULL, corpus, 0.05, &info, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(builtin_budget_6_tiny);
    RUN(a_second_run_continues_the_population);
    RUN(resume_after_kill_9);
    RUN(ctrl_c_stops_cleanly_and_resumes);
    RUN(llm_proposer_with_repairs_and_a_misbehaving_endpoint);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
