/*
 * test_cli.c — the `asiarch` binary end to end, as a user drives it: help and
 * version, exit codes for bad usage, data preparation, `train --json` for
 * every reference at tiny scale, checkpoints through `eval`, the IR printer,
 * cognition search.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data.h"
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
    RUN(cognition_command);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
