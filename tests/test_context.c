/*
 * test_context.c — what the model's roles are told (orchestrator/context.c),
 * read from a real lineage database: a baseline parent's source, results in
 * absolute numbers (MQAR "not measured", never -1; an early stop with its
 * reason, never "val loss nan"), the scale, loss curves in a few points, the
 * siblings, references as diffs with the analysts' next ideas, the
 * tried-and-failed list, and the notice after a refused proposal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "orch_internal.h"
#include "test.h"

static char dir[] = "/tmp/asiarch-test-context-XXXXXX";

static int64_t add(aa_db *db, int64_t run, int64_t parent, const char *name, const char *source, int baseline)
{
    db_candidate_new c = {.run_id = run, .parent_id = parent, .name = name, .motivation = "an idea", .source = source,
                          .is_baseline = baseline};
    int64_t id = 0;
    CHECK(db_candidate_insert(db, &c, &id) == 0);
    return id;
}

static void finish(aa_db *db, int64_t id, db_status st, const char *reason, const char *metrics, const char *scores,
                   const char *analysis, const char *reports)
{
    CHECK(db_candidate_start(db, id) == 0);
    db_result r = db_result_init();
    r.status = st;
    r.reason = reason;
    r.metrics_json = metrics;
    r.scores_json = scores;
    r.analysis = analysis;
    if (st == DB_SCORED) r.score = 0.5;
    db_attempt_new a = {.candidate_id = id, .stage = st == DB_FAILED ? "verify" : "evaluate", .ok = st == DB_SCORED,
                        .reports_json = reports};
    CHECK(db_candidate_finish(db, id, &r, &a) == 0);
}

static const char *SRC_A =
    "#include <asiarch.h>\nAA_NAME(\"a\");\naa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n"
    "    aa_t h = aa_linear(l, \"in\", x, d);\n    return aa_linear(l, \"out\", h, d);\n}\n";
static const char *SRC_B =
    "#include <asiarch.h>\nAA_NAME(\"b\");\naa_t mixer(aa_layer *l, aa_t x)\n{\n    int d = aa_dim(l, AA_MODEL);\n"
    "    aa_t h = aa_silu(aa_short_conv(l, \"conv\", aa_linear(l, \"in\", x, d), 4));\n"
    "    return aa_linear(l, \"out\", h, d);\n}\n";

#define METRICS "{\"early_stopped\":false,\"val_loss\":1.6691,\"val_bpb\":2.408,\"tokens_per_s\":12345,\"params\":123456}"

TEST(the_population_in_the_prompts)
{
    char path[300], err[300];
    snprintf(path, sizeof path, "%s/c.db", dir);
    aa_db *db = NULL;
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    if (!db) return;
    db_run_new rn = {.seed = 1, .scale = "tiny", .proposer = "llm"};
    int64_t run = 0;
    CHECK(db_run_create(db, &rn, &run) == 0);

    int64_t base = add(db, run, 0, "gated_delta_net", NULL, 1);
    finish(db, base, DB_SCORED, NULL, METRICS, "{}", NULL, NULL);
    int64_t a = add(db, run, base, "a", SRC_A, 0);
    finish(db, a, DB_SCORED, NULL, "{\"val_loss\":1.7,\"mqar_acc\":0.55,\"params\":1000}", "{}",
           "summary: linear\nnext_idea: add a short convolution before the projection" OR_COGNITION_MARK "insight X", NULL);
    int64_t b = add(db, run, a, "b", SRC_B, 0);
    finish(db, b, DB_SCORED, NULL, "{\"early_stopped\":true,\"val_loss\":null}",
           "{\"early_stop\":\"at step 40 of 200 its loss 5.1 was 3.2x the baseline's 1.6 at that step, for 2 windows\"}",
           NULL, NULL);
    int64_t c = add(db, run, a, "c", SRC_B, 0);
    finish(db, c, DB_FAILED, "repairs ran out", NULL, NULL, NULL,
           "[{\"stage\":\"verify\",\"file\":\"c.c\",\"line\":7,\"col\":5,\"rule\":\"verify/causality\","
           "\"message\":\"output at t=3 changed when token 9 changed\",\"snippet\":\"\"}]");
    int64_t d = add(db, run, a, "d", SRC_A, 0);
    finish(db, d, DB_DUPLICATE, "the same graph as #2 (a)", NULL, NULL, NULL, NULL);

    orch o;
    memset(&o, 0, sizeof o);
    o.db = db;
    o.run_id = run;
    o.rcfg.dims = (ir_dims){.vocab = 256, .model = 128, .heads = 4, .layers = 2, .batch = 8, .time = 256, .chunk = 64};
    o.rcfg.steps = 200;
    snprintf(o.rcfg.scale, sizeof o.rcfg.scale, "tiny");
    o.baseline_params = 400000;
    float curve[200];
    for (int i = 0; i < 200; i++) curve[i] = 5.5f - 3.0f * (float)i / 200;
    o.base[0] = (os_baseline){.name = "gated_delta_net", .val_loss = 1.6691, .mqar_acc = -1, .tokens_per_s = 12345,
                              .params = 400000, .loss_curve = curve, .curve_len = 200};
    o.n_base = 1;
    o.ref_base = 0;
    o.mqar_base = -1;

    /* a baseline parent has source, from the binary */
    db_candidate pb;
    CHECK(db_candidate_get(db, base, &pb) == 0);
    const char *src = or_source_of(&pb);
    CHECK(src && src == arch_find("gated_delta_net")->source && strstr(src, "mixer"));
    char *t = or_results_text(&pb);
    CHECK_STR_CONTAINS(t, "gated_delta_net (#1, a baseline): val loss 1.6691 nats/token (2.408 bits/byte), MQAR not measured, 12345 tokens/s, 123456 parameters");
    CHECK(!strstr(t, "-1"));
    free(t);
    db_candidate_free(&pb);

    t = or_scale_text(&o);
    CHECK_STR_CONTAINS(t, "2 layers, d_model 128, 4 heads of dimension 32, chunk 64; sequences of 256 tokens, batch 8, 200 training steps");
    CHECK_STR_CONTAINS(t, "at most 600000 parameters");
    free(t);
    t = or_baselines_text(&o);
    CHECK_STR_CONTAINS(t, "MQAR not measured");
    CHECK_STR_CONTAINS(t, "training loss at step 20: 5.215, 50: 4.765, 100: 4.015, 150: 3.265, 200: 2.515");
    CHECK(strlen(t) < 400);   /* a few points, not the curve */
    free(t);

    /* the early stop, as its reason */
    db_candidate cb;
    CHECK(db_candidate_get(db, b, &cb) == 0);
    t = or_results_text(&cb);
    CHECK_STR_CONTAINS(t, "stopped early, not trained to the end: at step 40 of 200 its loss 5.1 was 3.2x");
    CHECK(!strstr(t, "nan") && !strstr(t, "0 tokens/s"));
    free(t);
    db_candidate_free(&cb);
    rt_metrics m = {.val_loss = NAN, .mqar_acc = -1};
    t = or_metrics_text(&m, "at step 12: too slow");
    CHECK(!strcmp(t, "stopped early, not trained to the end: at step 12: too slow"));
    free(t);

    /* siblings of b under a: c and d (newest first), not b itself */
    t = or_siblings_text(&o, a, b);
    CHECK(t && strstr(t, "- d (#5): duplicate: the same graph as #2 (a)") && strstr(t, "- c (#4): failed: repairs ran out"));
    CHECK(t && strstr(t, "- d") < strstr(t, "- c") && !strstr(t, "- b (#3)"));
    free(t);

    /* tried and failed: the duplicate, the failure with stage and rule, the early stop */
    t = or_tried_text(&o);
    CHECK_STR_CONTAINS(t, "- d (#5): duplicate: the same graph as #2 (a)");
    CHECK_STR_CONTAINS(t, "- c (#4): failed at stage verify after 1 attempt: verify/causality (line 7): output at t=3 changed");
    CHECK_STR_CONTAINS(t, "- b (#3): stopped early, not trained to the end: at step 40");
    CHECK(!strstr(t, "- a (#2)"));
    free(t);

    /* the last proposal was a duplicate: say so */
    t = or_notice_text(&o);
    CHECK_STR_CONTAINS(t, "Your previous proposal, d (#5), was not trained: the same graph as #2 (a)");
    free(t);

    /* references as a diff against the parent, with the analyst's next idea (and no cognition) */
    db_candidate pa, rb;
    CHECK(db_candidate_get(db, a, &pa) == 0 && db_candidate_get(db, b, &rb) == 0);
    db_candidate_list refs = {.items = &pa, .n = 1};
    t = or_references_text(&rb, &refs);
    CHECK_STR_CONTAINS(t, "### a (#2)");
    CHECK_STR_CONTAINS(t, "The analyst's next idea for it: add a short convolution before the projection");
    CHECK_STR_CONTAINS(t, "- AA_NAME(\"b\");\n+ AA_NAME(\"a\");");
    CHECK_STR_CONTAINS(t, "-     aa_t h = aa_silu(aa_short_conv(l, \"conv\", aa_linear(l, \"in\", x, d), 4));\n+     aa_t h = aa_linear(l, \"in\", x, d);");
    CHECK_STR_CONTAINS(t, "unchanged line");
    CHECK(!strstr(t, "insight X"));
    free(t);
    db_candidate_free(&pa);
    db_candidate_free(&rb);

    /* a first proposal has no notice; a run with nothing failed says so */
    db_run_new rn2 = {.seed = 2, .scale = "tiny", .proposer = "llm"};
    CHECK(db_run_create(db, &rn2, &o.run_id) == 0);
    t = or_notice_text(&o);
    CHECK(!strcmp(t, "(none)"));
    free(t);
    t = or_tried_text(&o);
    CHECK(!strcmp(t, "(nothing has failed yet)\n"));
    free(t);
    db_close(db);
}

TEST(diff)
{
    char *t = os_diff_text("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
    CHECK(!strcmp(t, "  ... (1 unchanged line)\n- b\n+ B\n  ... (2 unchanged lines)\n+ e\n"));
    free(t);
    t = os_diff_text("same\n", "same\n");
    CHECK(!strcmp(t, "  ... (1 unchanged line)\n"));
    free(t);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    RUN(the_population_in_the_prompts);
    RUN(diff);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
