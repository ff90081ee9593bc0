/*
 * test_cli.c — the `asiarch` binary end to end, as a user drives it: help and
 * version, exit codes for bad usage, data preparation, `train --json` for
 * every reference at tiny scale, checkpoints through `eval`, the IR printer,
 * cognition search.
 */
#include <cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data.h"
#include "db.h"
#include "gpu.h"
#include "jit.h"
#include "mock_llm.h"
#include "test.h"

static char tmpdir[] = "/tmp/asiarch-test-cli-XXXXXX";

/* Run `asiarch ARGS`; capture stdout (stderr to a file), return exit code. */
static int run(const char *args, char **out, char **err)
{
    char cmd[2048], errpath[256];
    snprintf(errpath, sizeof errpath, "%s/stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", ASIARCH_BINARY, args, errpath);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int status = pclose(p);
    if (out) *out = buf; else free(buf);
    if (err) {
        FILE *f = fopen(errpath, "r");
        char *e = calloc(1, 1 << 16);
        if (f) { size_t n = fread(e, 1, (1 << 16) - 1, f); e[n] = 0; fclose(f); }
        *err = e;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(version_and_help)
{
    char *out;
    CHECK(run("--version", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "asiarch 0.");
    free(out);
    CHECK(run("--help", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "train");
    free(out);
    const char *cmds[] = {"train --help", "eval --help", "data --help", "data prepare --help", "ir --help"};
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(run(cmds[i], &out, NULL) == 0, "%s", cmds[i]);
        CHECK_STR_CONTAINS(out, "usage: asiarch");
        free(out);
    }
}

TEST(usage_errors_exit_2_with_a_message)
{
    char *err;
    CHECK(run("frobnicate", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "unknown command");
    free(err);
    CHECK(run("train no_such_mixer", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "unknown mixer 'no_such_mixer'");
    free(err);
    CHECK(run("train delta_net --steps many", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "--steps expects an integer");
    free(err);
    CHECK(run("train delta_net --scale huge", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "unknown scale 'huge'");
    free(err);
    CHECK(run("train delta_net --bogus", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "--bogus");
    free(err);
}

TEST(list_references)
{
    char *out;
    CHECK(run("train --list --json", &out, NULL) == 0);
    cJSON *arr = cJSON_Parse(out);
    CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) >= 6);
    const char *want[] = {"delta_net", "gated_delta_net", "gla", "retnet", "mamba2"};
    for (int i = 0; i < 5; i++) CHECK_STR_CONTAINS(out, want[i]);
    cJSON_Delete(arr);
    free(out);
}

static cJSON *train_json(const char *name, const char *extra)
{
    char args[1024], *out;
    snprintf(args, sizeof args, "train %s --scale tiny --steps 20 --no-mqar --data %s/corpus --json %s", name, tmpdir,
             extra);
    int rc = run(args, &out, NULL);
    CHECK_MSG(rc == 0, "%s exited %d", args, rc);
    cJSON *o = cJSON_Parse(out);
    CHECK_MSG(o != NULL, "not JSON: %s", out);
    free(out);
    return o;
}

TEST(data_prepare_train_every_reference_eval)
{
    char args[1024], *out, *err;
    /* A text file of our own as the corpus. */
    char text[300];
    snprintf(text, sizeof text, "%s/text.txt", tmpdir);
    FILE *f = fopen(text, "w");
    for (int i = 0; i < 3000; i++) fprintf(f, "In the beginning was the line %d, and the line was good.\n", i);
    fclose(f);
    snprintf(args, sizeof args, "data prepare --text %s --out %s/corpus --json", text, tmpdir);
    CHECK(run(args, &out, NULL) == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK(o && cJSON_GetObjectItem(o, "train_tokens")->valuedouble > 100000);
    cJSON_Delete(o);
    free(out);

    const char *names[] = {"delta_net", "gated_delta_net", "gla", "retnet", "mamba2", "conv_only"};
    for (int i = 0; i < 6; i++) {
        o = train_json(names[i], "");
        if (!o) continue;
        const char *keys[] = {"val_loss", "val_bpb", "tokens_per_s", "peak_rss_bytes", "params", "graph_hash"};
        for (int k = 0; k < 6; k++) CHECK_MSG(cJSON_GetObjectItem(o, keys[k]) != NULL, "%s lacks %s", names[i], keys[k]);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "mqar_acc")));
        CHECK(cJSON_GetObjectItem(o, "val_loss")->valuedouble < 5.0);
        cJSON_Delete(o);
    }

    /* Save, then evaluate the checkpoint: the same validation loss. */
    snprintf(args, sizeof args, "--save %s/ckpt.bin", tmpdir);
    o = train_json("delta_net", args);
    snprintf(args, sizeof args, "eval delta_net --checkpoint %s/ckpt.bin --data %s/corpus --json", tmpdir, tmpdir);
    CHECK(run(args, &out, &err) == 0);
    cJSON *e = cJSON_Parse(out);
    CHECK(o && e);
    if (o && e)
        CHECK_NEAR(cJSON_GetObjectItem(e, "val_loss")->valuedouble, cJSON_GetObjectItem(o, "val_loss")->valuedouble,
                   1e-5);
    cJSON_Delete(o);
    cJSON_Delete(e);
    free(out);
    free(err);
    /* The wrong mixer for a checkpoint is a clear error. */
    snprintf(args, sizeof args, "eval gla --checkpoint %s/ckpt.bin --data %s/corpus", tmpdir, tmpdir);
    CHECK(run(args, NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "ckpt.bin");
    free(err);
    /* A missing corpus directory names the fix. */
    CHECK(run("train delta_net --data /nonexistent/dir", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "asiarch data prepare");
    free(err);
}

/* GPT-2-style subword shards (llm.c format, ids beyond 255) widen the
 * vocabulary; bits per byte is then unknown (null). */
TEST(subword_shards_train)
{
    char dir[300], path[340], err[256], args[600], *out;
    snprintf(dir, sizeof dir, "%s/gpt2", tmpdir);
    mkdir(dir, 0700);
    uint16_t tok[20000];
    uint64_t rng = 5;
    for (int i = 0; i < 20000; i++) tok[i] = (uint16_t)(dt_rand_u64(&rng) % 3000);
    snprintf(path, sizeof path, "%s/train.bin", dir);
    CHECK(dt_shard_write(path, tok, 18000, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/val.bin", dir);
    CHECK(dt_shard_write(path, tok + 18000, 2000, err, sizeof err) == 0);
    snprintf(args, sizeof args, "train delta_net --scale tiny --steps 3 --no-mqar --batches 2 --data %s --json", dir);
    CHECK(run(args, &out, NULL) == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK(o && cJSON_IsNull(cJSON_GetObjectItem(o, "val_bpb")));
    CHECK(o && cJSON_GetObjectItem(o, "params")->valuedouble > 50257 * 64);
    cJSON_Delete(o);
    free(out);
}

/* The front end from the command line: check, verify, ir and train on
 * candidate files (tests/cand), failures in the common report format. */
#define CAND ASIARCH_SOURCE_DIR "/tests/cand/"

TEST(check_command)
{
    char *out, *err;
    CHECK(run("check " ASIARCH_SOURCE_DIR "/arch/delta_net.c", NULL, &err) == 0);
    CHECK_STR_CONTAINS(err, "accepted");
    free(err);
    CHECK(run("check " CAND "calls_system.c", NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "calls_system.c:6:");
    CHECK_STR_CONTAINS(err, ": dsl/");
    CHECK_STR_CONTAINS(err, "^");
    free(err);
    CHECK(run("check " CAND "calls_system.c --json", &out, NULL) == 1);
    cJSON *arr = cJSON_Parse(out);
    CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) >= 1);
    cJSON *first = cJSON_GetArrayItem(arr, 0);
    CHECK(first && cJSON_GetObjectItem(first, "line")->valueint == 6);
    CHECK(first && strncmp(cJSON_GetObjectItem(first, "rule")->valuestring, "dsl/", 4) == 0);
    CHECK(first && strlen(cJSON_GetObjectItem(first, "snippet")->valuestring) > 0);
    cJSON_Delete(arr);
    free(out);
    CHECK(run("check /nonexistent/cand.c", NULL, NULL) == 2);
}

TEST(verify_command)
{
    char *out, *err;
    CHECK(run("verify " CAND "softcap_delta.c", &out, &err) == 0);
    CHECK_STR_CONTAINS(out, "verified");
    free(out);
    free(err);
    CHECK(run("verify " CAND "peeks_ahead.c --json", &out, NULL) == 1);
    cJSON *o = cJSON_Parse(out);
    CHECK(o && !strcmp(cJSON_GetObjectItem(o, "stage")->valuestring, "verify"));
    CHECK_STR_CONTAINS(out, "verify/causality");
    cJSON_Delete(o);
    free(out);
    CHECK(run("verify " CAND "shape_error.c", NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "shape_error.c:10: build/aa_add: cannot broadcast");
    free(err);
    CHECK(run("verify delta_net --json", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "\"status\":\"verified\"");
    free(out);
}

TEST(ir_and_train_on_a_candidate_file)
{
    char *out, *err, args[600];
    CHECK(run("ir " CAND "softcap_delta.c --all", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "define");            /* the LLVM IR */
    CHECK_STR_CONTAINS(out, "fn=soft_cap");       /* the graph's custom op */
    free(out);
    snprintf(args, sizeof args, "train " CAND "softcap_delta.c --scale tiny --steps 10 --no-mqar --json --data %s/corpus",
             tmpdir);
    CHECK(run(args, &out, &err) == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK(o && !strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "softcap_delta"));
    CHECK(o && cJSON_GetObjectItem(o, "val_loss")->valuedouble < 6.0);
    cJSON_Delete(o);
    free(out);
    free(err);
    snprintf(args, sizeof args, "train " CAND "peeks_ahead.c --scale tiny --steps 10 --json --data %s/corpus", tmpdir);
    CHECK(run(args, &out, NULL) == 1);
    CHECK_STR_CONTAINS(out, "\"status\":\"failed\",\"stage\":\"verify\"");
    free(out);
}

TEST(ir_prints_the_graph)
{
    char *out;
    CHECK(run("ir gated_delta_net", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "linattn(");
    CHECK_STR_CONTAINS(out, "gate=scalar");
    CHECK_STR_CONTAINS(out, "structural hash");
    free(out);
    CHECK(run("ir delta_net --summary", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "parameters");
    free(out);
}

/* --device cuda where there is no GPU: exit 2 with the reason, before any
 * work; with a GPU it trains (tests/gpu/run.sh covers that). The
 * candidate's device code is printed for audit with NVRTC alone. */
TEST(gpu_device_and_device_code)
{
    char *out, *err, why[1024];
    if (gpu_probe(why, sizeof why) < 0) {
        const char *cmds[] = {"train delta_net --scale tiny --steps 1 --device cuda", "verify delta_net --device cuda",
                              "discover --device cuda --budget 1"};
        for (int i = 0; i < 3; i++) {
            CHECK_MSG(run(cmds[i], &out, &err) == 2, "%s", cmds[i]);
            CHECK_STR_CONTAINS(err, "--device cuda cannot run here");
            CHECK_STR_CONTAINS(err, "NVIDIA driver");
            free(out);
            free(err);
        }
        CHECK(run("sandbox selftest --cuda", &out, &err) == 2);
        CHECK_STR_CONTAINS(err, "there is none here");
        free(out);
        free(err);
    }
    CHECK(run("train delta_net --device tpu", &out, &err) == 2);
    CHECK_STR_CONTAINS(err, "--device expects cpu or cuda");
    free(out);
    free(err);
    CHECK(run("train delta_net --precision fp16", &out, &err) == 2);
    CHECK_STR_CONTAINS(err, "fp32, tf32 or bf16");
    free(out);
    free(err);
    if (jit_nvrtc_load(why, sizeof why) < 0) {
        printf("  (no NVRTC here, --ptx not tested: %s)\n", why);
        return;
    }
    CHECK(run("ir " CAND "softcap_delta.c --ptx --arch 90", &out, &err) == 0);
    CHECK_STR_CONTAINS(out, ".target sm_90");
    CHECK_STR_CONTAINS(out, ".entry aak_pw_fwd_0");
    CHECK_STR_CONTAINS(out, ".entry aak_pw_bwd_0");
    free(out);
    free(err);
    CHECK(run("ir delta_net --ptx", &out, &err) == 2);
    CHECK_STR_CONTAINS(err, "built-in kernels");
    free(out);
    free(err);
}

/* `asiarch db` on a database filled through db.h: a baseline, two scored
 * children, one that failed at check (with its report), one still running. */
static void fill_lineage_db(const char *path)
{
    char err[512];
    aa_db *db;
    CHECK_MSG(db_open(path, &db, err, sizeof err) == 0, "%s", err);
    if (!db) return;
    int64_t run, ids[5];
    db_run_new r = {.scale = "tiny", .proposer = "builtin"};
    CHECK(db_run_create(db, &r, &run) == 0);
    const char *names[5] = {"delta_net", "fir_gate", "router", "bad_ptr", "pending"};
    const double scores[5] = {0.5, 0.62, 0.71, NAN, NAN};
    for (int i = 0; i < 5; i++) {
        db_candidate_new c = {.run_id = run, .parent_id = i ? ids[i == 4 ? 2 : i == 3 ? 1 : 0] : 0, .name = names[i],
                              .motivation = "a reason", .is_baseline = i == 0,
                              .source = "#include <asiarch.h>\n\naa_t mixer(aa_layer *l, aa_t x)\n{\n"
                                        "    float *p = 0;\n    return x;\n}\n"};
        CHECK(db_candidate_insert(db, &c, &ids[i]) == 0);
        CHECK(db_candidate_start(db, ids[i]) == 0);
        if (i == 4) continue;
        db_result res = db_result_init();
        db_attempt_new last = {.stage = "evaluate", .ok = 1};
        if (i == 3) {
            res.status = DB_FAILED;
            res.reason = "check: repairs ran out";
            last = (db_attempt_new){.stage = "check", .ok = 0,
                                    .reports_json = "[{\"stage\":\"check\",\"file\":\"cand.c\",\"line\":5,\"col\":5,"
                                                    "\"rule\":\"dsl/pointer\",\"message\":\"pointer type 'float *' is "
                                                    "not allowed\",\"snippet\":\"    float *p = 0;\"}]"};
        } else {
            res.score = scores[i];
            res.metrics_json = "{\"val_loss\":1.6,\"bpb\":2.3,\"mqar_acc\":0.8}";
        }
        CHECK_MSG(db_candidate_finish(db, ids[i], &res, &last) == 0, "%s", db_error(db));
    }
    db_close(db);
}

TEST(db_commands)
{
    char dir[300], path[400], args[1200], *out, *err;
    snprintf(dir, sizeof dir, "%s/lineage", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, DB_DEFAULT_PATH);
    fill_lineage_db(path);

    /* list --json, from the default path in the current directory. */
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0);
    CHECK(run("db list --json", &out, NULL) == 0);
    CHECK(chdir(cwd) == 0);
    cJSON *arr = cJSON_Parse(out);
    CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 5);
    const char *keys[] = {"id", "parent", "name", "status", "score", "metrics"};
    cJSON *item;
    cJSON_ArrayForEach(item, arr)
        for (int k = 0; k < 6; k++) CHECK_MSG(cJSON_GetObjectItem(item, keys[k]) != NULL, "no %s", keys[k]);
    cJSON *router = cJSON_GetArrayItem(arr, 2), *bad = cJSON_GetArrayItem(arr, 3);
    CHECK(router && !strcmp(cJSON_GetObjectItem(router, "name")->valuestring, "router"));
    CHECK(router && cJSON_GetObjectItem(router, "score")->valuedouble == 0.71);
    CHECK(router && cJSON_GetObjectItem(cJSON_GetObjectItem(router, "metrics"), "mqar_acc")->valuedouble == 0.8);
    CHECK(bad && cJSON_IsNull(cJSON_GetObjectItem(bad, "score")) && cJSON_IsNull(cJSON_GetObjectItem(bad, "metrics")));
    CHECK(bad && !strcmp(cJSON_GetObjectItem(bad, "status")->valuestring, "failed"));
    CHECK(bad && cJSON_GetObjectItem(bad, "parent")->valueint == 2);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "parent")));
    cJSON_Delete(arr);
    free(out);

    snprintf(args, sizeof args, "db --db %s list --status scored --json", path);
    CHECK(run(args, &out, NULL) == 0);
    arr = cJSON_Parse(out);
    CHECK(cJSON_GetArraySize(arr) == 3);
    cJSON_Delete(arr);
    free(out);
    snprintf(args, sizeof args, "db --db %s list", path);
    CHECK(run(args, &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "delta_net  [baseline]");
    CHECK_STR_CONTAINS(out, "5 candidates");
    free(out);

    /* best: by score, best first. */
    snprintf(args, sizeof args, "db --db %s best -k 2 --json", path);
    CHECK(run(args, &out, NULL) == 0);
    arr = cJSON_Parse(out);
    CHECK(cJSON_GetArraySize(arr) == 2 && cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "id")->valueint == 3);
    cJSON_Delete(arr);
    free(out);

    /* show: the failed candidate's report like a compiler diagnostic, its source. */
    snprintf(args, sizeof args, "db --db %s show 4", path);
    CHECK(run(args, &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "candidate 4: bad_ptr");
    CHECK_STR_CONTAINS(out, "failed: check: repairs ran out");
    CHECK_STR_CONTAINS(out, "cand.c:5:5: dsl/pointer: pointer type 'float *' is not allowed");
    CHECK_STR_CONTAINS(out, "        ^");
    CHECK_STR_CONTAINS(out, "    5 |     float *p = 0;");
    free(out);
    snprintf(args, sizeof args, "db show 4 --json --db %s", path);
    CHECK(run(args, &out, NULL) == 0);
    cJSON *o = cJSON_Parse(out);
    cJSON *attempts = cJSON_GetObjectItem(o, "attempts");
    CHECK(cJSON_GetArraySize(attempts) == 1);
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(attempts, 0), "reports"), 0),
                                      "rule")->valuestring, "dsl/pointer"));
    CHECK_STR_CONTAINS(cJSON_GetObjectItem(o, "source")->valuestring, "float *p");
    cJSON_Delete(o);
    free(out);
    snprintf(args, sizeof args, "db --db %s show 99", path);
    CHECK(run(args, NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "no candidate 99");
    free(err);

    /* tree: DOT always; SVG when Graphviz is installed. */
    snprintf(args, sizeof args, "db --db %s tree --format dot", path);
    CHECK(run(args, &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "digraph lineage");
    CHECK_STR_CONTAINS(out, "c1 -> c2;");
    CHECK_STR_CONTAINS(out, "c3 -> c5;");
    CHECK_STR_CONTAINS(out, "peripheries=2");     /* the baseline */
    CHECK_STR_CONTAINS(out, "fillcolor=\"#e0e0e0\"");   /* the failed one */
    CHECK_STR_CONTAINS(out, "router\\n#3  0.7100");
    free(out);
    if (system("command -v dot >/dev/null 2>&1") == 0) {
        char svg[500];
        snprintf(svg, sizeof svg, "%s/tree.svg", dir);
        snprintf(args, sizeof args, "db --db %s tree --format svg -o %s", path, svg);
        CHECK(run(args, NULL, NULL) == 0);
        FILE *f = fopen(svg, "r");
        char head[4096] = "";
        if (f) { head[fread(head, 1, sizeof head - 1, f)] = 0; fclose(f); }
        CHECK_STR_CONTAINS(head, "<svg");
    } else {
        printf("db tree --format svg: not tested (Graphviz's dot is not installed)\n");
    }

    /* export: one JSON document. */
    char file[500];
    snprintf(file, sizeof file, "%s/export.json", dir);
    snprintf(args, sizeof args, "db --db %s export -o %s", path, file);
    CHECK(run(args, NULL, NULL) == 0);
    FILE *f = fopen(file, "r");
    char *text = calloc(1, 1 << 20);
    if (f) { fread(text, 1, (1 << 20) - 1, f); fclose(f); }
    o = cJSON_Parse(text);
    cJSON *runs = cJSON_GetObjectItem(o, "runs");
    CHECK(cJSON_GetArraySize(runs) == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "candidates")) == 5);
    cJSON_Delete(o);
    free(text);

    /* Errors: a missing database, a bad id, help. */
    CHECK(run("db --db /nonexistent/asiarch.db list", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "/nonexistent/asiarch.db");
    free(err);
    CHECK(run("db show abc", NULL, NULL) == 2);
    const char *helps[] = {"db --help", "db list --help", "db show --help", "db best --help", "db tree --help",
                           "db export --help"};
    for (int i = 0; i < 6; i++) {
        CHECK_MSG(run(helps[i], &out, NULL) == 0, "%s", helps[i]);
        CHECK_STR_CONTAINS(out, "usage: asiarch db");
        free(out);
    }
}

/* `asiarch llm chat` against the scripted server, a dead port and bad usage;
 * `asiarch llm prompt` prints the shipped templates. */
/* A database edited by hand (or by a tool gone wrong): an infinite score,
 * a huge one, escape sequences in a name, a motivation and an event. Every
 * db command still works, exits 0, and prints no control character. */
TEST(db_survives_hostile_values)
{
    char dir[300], path[400], args[1200], cmd[1600], *out;
    snprintf(dir, sizeof dir, "%s/hostile", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, DB_DEFAULT_PATH);
    fill_lineage_db(path);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); "
             "d.execute('UPDATE candidates SET score=9e999 WHERE id=2'); "
             "d.execute('UPDATE candidates SET score=1e308 WHERE id=3'); "
             "d.execute(\\\"UPDATE candidates SET name='evil'||char(27)||'[2K'||char(13)||'val loss 0.0001', "
             "motivation='x'||char(27)||']0;pwned'||char(7) WHERE id=5\\\"); "
             "d.execute(\\\"INSERT INTO events(run_id,candidate_id,kind,message) VALUES (1,5,'note','a'||char(27)||'[31mred')\\\"); "
             "d.commit()\" %s",
             path);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    const char *cmds[] = {"list", "best -k 3", "show 5", "show 2", "tree --format dot"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(args, sizeof args, "db --db %s %s", path, cmds[i]);
        int rc = run(args, &out, NULL);
        CHECK_MSG(rc == 0, "db %s: exit %d", cmds[i], rc);
        CHECK_MSG(!strchr(out, 27) && !strchr(out, 13) && !strchr(out, 7), "db %s printed a control character", cmds[i]);
        free(out);
    }
    snprintf(args, sizeof args, "db --db %s show 5", path);
    CHECK(run(args, &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "evil\\x1b[2K\\x0dval loss");   /* shown, escaped */
    free(out);
}

TEST(llm_chat_and_prompt)
{
    unsetenv("ASIARCH_LLM_URL");
    unsetenv("ASIARCH_LLM_MODEL");
    unsetenv("OPENAI_API_KEY");
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    mock_llm m;
    CHECK(mock_llm_start(&m, tmpdir, "[{\"content\": \"pong\", \"usage\": {\"prompt_tokens\": 10, "
                                     "\"completion_tokens\": 2}}, {\"content\": \"plain\", \"no_usage\": true}]") == 0);
    char args[512], *out, *err;
    setenv("ASIARCH_API_KEY", "sk-cli-test-key-42", 1);
    snprintf(args, sizeof args, "llm chat --llm %s/v1/ --model mock --price-in 1000 --json ping", m.url);
    CHECK(run(args, &out, NULL) == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK(o && !strcmp(cJSON_GetObjectItem(o, "content")->valuestring, "pong"));
    CHECK(o && cJSON_GetObjectItem(o, "prompt_tokens")->valueint == 10 && cJSON_IsTrue(cJSON_GetObjectItem(o, "usage_reported")));
    CHECK(o && fabs(cJSON_GetObjectItem(o, "cost_usd")->valuedouble - 0.01) < 1e-12);
    cJSON_Delete(o);
    free(out);
    unsetenv("ASIARCH_API_KEY");
    snprintf(args, sizeof args, "llm chat --llm %s --model mock --system 'Be brief.' hello", m.url);
    CHECK(run(args, &out, &err) == 0);
    CHECK(!strcmp(out, "plain\n"));
    CHECK_STR_CONTAINS(err, "usage not reported by the server");
    free(out);
    free(err);
    cJSON *reqs = mock_llm_requests(&m);
    CHECK(cJSON_GetArraySize(reqs) == 2);
    CHECK_STR_CONTAINS(mock_llm_header(cJSON_GetArrayItem(reqs, 0), "authorization"), "Bearer sk-cli-test-key-42");
    CHECK(mock_llm_header(cJSON_GetArrayItem(reqs, 1), "authorization") == NULL);
    const cJSON *sys = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 1), "body"), "messages"), 0);
    CHECK(sys && !strcmp(cJSON_GetObjectItem(sys, "content")->valuestring, "Be brief."));
    cJSON_Delete(reqs);
    CHECK(mock_llm_stop(&m) == 0);

    /* The server is gone now: a clear failure, exit 1, within seconds. */
    snprintf(args, sizeof args, "llm chat --llm %s --model mock --retries 0 hello", m.url);
    CHECK(run(args, NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "cannot reach");
    CHECK_STR_CONTAINS(err, "is the server running");
    free(err);
    CHECK(run("llm chat --llm http://127.0.0.1:9 hello", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "no model");
    free(err);
    CHECK(run("llm chat --llm ftp://x --model m hello", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "must start with http://");
    free(err);
    CHECK(run("llm prompt researcher", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "{{parent_source}}");
    free(out);
    CHECK(run("llm chat --help", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "usage: asiarch llm chat");
    free(out);
}

/* The cognition base from the command line: search --json is one array of
 * ranked entries, best first; usage mistakes exit 2, unknown ids 1. */
TEST(cognition_command)
{
    char *out, *err;
    CHECK(run("cognition search \"the model forgets too slowly; recall is poor on long sequences; a decay gate "
              "might help\" -k 3 --json", &out, NULL) == 0);
    cJSON *arr = cJSON_Parse(out);
    CHECK_MSG(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 3, "not an array of 3: %s", out);
    double previous = 1e300;
    int found_gated_delta = 0;
    for (int i = 0; i < cJSON_GetArraySize(arr); i++) {
        cJSON *hit = cJSON_GetArrayItem(arr, i);
        CHECK(cJSON_GetObjectItem(hit, "rank")->valueint == i + 1);
        double score = cJSON_GetObjectItem(hit, "score")->valuedouble;
        CHECK(score > 0 && score <= previous);
        previous = score;
        const char *keys[] = {"id", "title", "source", "problem", "insight", "dsl"};
        for (int k = 0; k < 6; k++) CHECK(cJSON_IsString(cJSON_GetObjectItem(hit, keys[k])));
        CHECK(cJSON_IsArray(cJSON_GetObjectItem(hit, "topics")));
        found_gated_delta |= !strcmp(cJSON_GetObjectItem(hit, "id")->valuestring, "gated-delta-rule");
    }
    CHECK(found_gated_delta);
    cJSON_Delete(arr);
    free(out);

    CHECK(run("cognition list --json", &out, NULL) == 0);
    arr = cJSON_Parse(out);
    CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) >= 40);
    cJSON_Delete(arr);
    free(out);
    CHECK(run("cognition show delta-rule-error-correction", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "In the DSL: aa_delta_rule(");
    free(out);
    CHECK(run("cognition search --help", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "usage: asiarch cognition search");
    free(out);

    CHECK(run("cognition search", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "missing QUERY");
    free(err);
    CHECK(run("cognition search decay -k many", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "-k expects an integer");
    free(err);
    CHECK(run("cognition show no-such-entry", NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "no entry with id 'no-such-entry'");
    free(err);
    CHECK(run("cognition search decay --dir /nonexistent/entries", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "/nonexistent/entries");
    free(err);
}

/* ---- no runner outlives its supervisor ---------------------------------------------- */

/* The asiarch-runner whose parent is pid, or 0. */
static pid_t runner_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (d && !found && (e = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        if (strstr(buf, "(asiarch-runner)") && close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 &&
            ppid == parent)
            found = (pid_t)atoi(e->d_name);
    }
    if (d) closedir(d);
    return found;
}

/* Alive and not a zombie. */
static int alive(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[2] != 'Z' && close_paren[2] != 'X';
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Start `asiarch ARGS`, SIGKILL it `after` seconds into its runner's life,
 * and require the runner to be gone within a second. */
static int kill_supervisor_during(const char *phase, const char *args, double after);

/* The same at after = 0, step, 2 step, ... until the runner ends on its
 * own first: every phase of the run, the last ones included, is cut. */
static void kill_supervisor_throughout(const char *phase, const char *args, double step)
{
    int cuts = 0;
    for (double after = 0; after < 30 && kill_supervisor_during(phase, args, after); after += step) cuts++;
    CHECK_MSG(cuts >= 2, "%s: only %d cuts", phase, cuts);
}

/* Returns 1 when the runner was still alive at the kill (and then died
 * with the supervisor: checked), 0 when it had ended on its own. */
static int kill_supervisor_during(const char *phase, const char *args, double after)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>&1", ASIARCH_BINARY, args);
    pid_t sup = fork();
    if (sup == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    pid_t runner = 0;
    double t0 = now_s();
    while (!runner && now_s() - t0 < 60 && waitpid(sup, NULL, WNOHANG) == 0) {
        runner = runner_of(sup);
        if (!runner) usleep(2000);
    }
    CHECK_MSG(runner > 0, "%s: no runner appeared", phase);
    if (runner > 0) usleep((useconds_t)(after * 1e6));
    int was_alive = runner > 0 && alive(runner);
    kill(sup, SIGKILL);
    waitpid(sup, NULL, 0);
    if (!was_alive) return 0;
    for (int i = 0; i < 100 && alive(runner); i++) usleep(10000);
    CHECK_MSG(!alive(runner), "%s: runner %d outlived its supervisor by a second (killed %.2f s in)", phase,
              (int)runner, after);
    if (alive(runner)) kill(runner, SIGKILL);
    return 1;
}

TEST(runners_die_with_their_supervisor)
{
    char args[1024];
    /* verification: a custom derivative that spins in the derivative check */
    CHECK(kill_supervisor_during("verify", "verify " CAND "spins.c --time-limit 120", 0.5));
    /* graph building and training */
    snprintf(args, sizeof args, "train delta_net --scale tiny --steps 100000 --no-mqar --data %s/corpus", tmpdir);
    CHECK(kill_supervisor_during("build", args, 0.0));
    CHECK(kill_supervisor_during("training", args, 1.0));
    /* the MQAR probe: one training step, then the probe trains its own model for seconds */
    snprintf(args, sizeof args, "train delta_net --scale tiny --steps 1 --data %s/corpus", tmpdir);
    CHECK(kill_supervisor_during("MQAR probe", args, 1.5));
    /* the end of training: evaluation, the trained model's checks, the checkpoint being written */
    snprintf(args, sizeof args, "train delta_net --scale tiny --steps 10 --no-mqar --save %s/k.ckpt --data %s/corpus",
             tmpdir, tmpdir);
    kill_supervisor_throughout("checkpointing", args, 0.1);
    CHECK(run(args, NULL, NULL) == 0);
    /* evaluating a checkpoint */
    snprintf(args, sizeof args, "eval delta_net --checkpoint %s/k.ckpt --data %s/corpus", tmpdir, tmpdir);
    kill_supervisor_throughout("evaluation", args, 0.05);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(version_and_help);
    RUN(usage_errors_exit_2_with_a_message);
    RUN(list_references);
    RUN(data_prepare_train_every_reference_eval);
    RUN(subword_shards_train);
    RUN(check_command);
    RUN(verify_command);
    RUN(ir_and_train_on_a_candidate_file);
    RUN(ir_prints_the_graph);
    RUN(db_commands);
    RUN(db_survives_hostile_values);
    RUN(llm_chat_and_prompt);
    RUN(cognition_command);
    RUN(gpu_device_and_device_code);
    RUN(runners_die_with_their_supervisor);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
