/*
 * test_score.c — the orchestrator's deterministic judgement (orchestrator/
 * score.h): the fitness formula against hand-computed values and on a grid
 * of pathological inputs, selection, early stop on synthetic curves,
 * suspicion, shingles and structure texts from real reference graphs, near
 * duplicates, the rule-based judge, novelty check and analyst (whose answers
 * must parse as the LLM's do), and cognition retrieval from an analysis.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "arch.h"
#include "score.h"
#include "test.h"

static double sig(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static rt_metrics metrics(const char *name, double val_loss, double mqar)
{
    rt_metrics m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name);
    m.val_loss = val_loss;
    m.mqar_acc = mqar;
    m.params = 100000;
    m.tokens_per_s = 20000;
    m.flops_per_token = 1e6;
    m.steps = 1000;
    return m;
}

static os_baseline baseline(double val_loss, double mqar)
{
    os_baseline b = {.name = "gated_delta_net", .val_loss = val_loss, .mqar_acc = mqar, .tokens_per_s = 20000,
                     .train_seconds = 100, .params = 100000, .flops_per_token = 1e6};
    return b;
}

/* ---- fitness ------------------------------------------------------------------------ */

TEST(fitness_formula_hand_values)
{
    os_baseline b = baseline(2.0, -1);
    os_fitness_parts p;
    rt_metrics m = metrics("c", 2.0, -1);
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), 0.5, 1e-12);   /* equal to the baseline */
    CHECK(p.n_present == 1 && !p.mqar.present && !p.judge.present);
    m.val_loss = 1.8;                                          /* 10% better: r = 1 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(6), 1e-12);
    CHECK_NEAR(p.loss.ratio, 1.0, 1e-12);
    m.val_loss = 1.9;                                          /* 5% better: r = 0.5 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(3), 1e-12);
    m.val_loss = 2.1;                                          /* 5% worse */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(-3), 1e-12);
    m.val_loss = 1.0;                                          /* 50% better: r = 5, clipped to 1 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(6), 1e-12);
    CHECK_NEAR(p.loss.ratio, 5.0, 1e-12);
    CHECK_NEAR(p.loss.clipped, 1.0, 0);
    m.val_loss = 3.0;                                          /* r = -5, clipped to -1 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(-6), 1e-12);
    CHECK_NEAR(p.loss.clipped, -1.0, 0);
    CHECK(!p.loss.invalid && p.note[0] == '\0');
}

TEST(fitness_mqar_and_judge)
{
    os_baseline b = baseline(2.0, 0.5);
    os_fitness_parts p;
    rt_metrics m = metrics("c", 1.9, 0.55);   /* loss r = 0.5, MQAR r = 0.05 / 0.05 = 1 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), (sig(3) + sig(6)) / 2, 1e-12);
    CHECK(p.n_present == 2 && p.mqar.present);
    CHECK_NEAR(p.mqar.ratio, 1.0, 1e-12);
    m.mqar_acc = 0.45;                        /* r = -1 */
    CHECK_NEAR(os_fitness(&m, &b, 0.7, &p), (sig(3) + sig(-6) + 0.7) / 3, 1e-12);
    CHECK(p.n_present == 3);
    /* A baseline that recalls nothing: the 1% floor keeps the ratio finite. */
    b.mqar_acc = 0;
    m.mqar_acc = 0.0005;                      /* r = 0.0005 / 0.001 = 0.5 */
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), (sig(3) + sig(3)) / 2, 1e-12);
    m.mqar_acc = 0;
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), (sig(3) + 0.5) / 2, 1e-12);
    /* Loss and judge only: the baseline ran no probe. */
    b.mqar_acc = -1;
    m.mqar_acc = 0.9;
    CHECK_NEAR(os_fitness(&m, &b, 0.25, &p), (sig(3) + 0.25) / 2, 1e-12);
    CHECK(!p.mqar.present && p.judge.present && p.n_present == 2);
}

TEST(fitness_missing_and_invalid_components)
{
    os_baseline b = baseline(2.0, 0.5);
    os_fitness_parts p;
    /* The candidate ran no probe but the baseline did: worst, not absent. */
    rt_metrics m = metrics("c", 2.0, -1);
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), (0.5 + sig(-6)) / 2, 1e-12);
    CHECK(p.mqar.present && p.mqar.invalid);
    CHECK_STR_CONTAINS(p.note, "no MQAR probe");
    /* Diverged: both worst. */
    m.diverged = 1;
    m.val_loss = NAN;
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(-6), 1e-12);
    CHECK(p.loss.invalid);
    CHECK_STR_CONTAINS(p.note, "diverged");
    /* A judge score out of range counts as its worst, 0. */
    m = metrics("c", 2.0, 0.5);
    CHECK_NEAR(os_fitness(&m, &b, 1.5, &p), (0.5 + 0.5 + 0) / 3, 1e-12);
    CHECK(p.judge.invalid);
    /* An unusable baseline accuracy leaves MQAR out; an unusable baseline loss gives the worst loss value. */
    b.mqar_acc = NAN;
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), 0.5, 1e-12);
    CHECK(!p.mqar.present);
    b.val_loss = 0;
    CHECK_NEAR(os_fitness(&m, &b, NAN, &p), sig(-6), 1e-12);
    CHECK_STR_CONTAINS(p.note, "baseline val_loss");
    CHECK_NEAR(os_fitness(NULL, NULL, NAN, NULL), sig(-6), 1e-12);
}

TEST(fitness_never_nan_on_pathological_grid)
{
    const double vals[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -1.0, -1e300, 1e-300, DBL_MIN, 0.5, 1.0,
                           1.5, 2.0, 1e300, DBL_MAX};
    const int nv = (int)(sizeof vals / sizeof vals[0]);
    long cases = 0, bad = 0;
    for (int a = 0; a < nv; a++)
        for (int c = 0; c < nv; c++)
            for (int d = 0; d < nv; d++)
                for (int e = 0; e < nv; e += 2)
                    for (int j = 0; j < nv; j += 3)
                        for (int div = 0; div < 2; div++) {
                            rt_metrics m = metrics("c", vals[a], vals[d]);
                            m.diverged = div;
                            os_baseline b = baseline(vals[c], vals[e]);
                            os_fitness_parts p;
                            double f = os_fitness(&m, &b, vals[j], &p);
                            int ok = isfinite(f) && f >= 0 && f <= 1 && p.n_present >= 1 && p.n_present <= 3 &&
                                     isfinite(p.loss.value) && isfinite(p.mqar.value) && isfinite(p.judge.value) &&
                                     f == p.fitness;
                            cases++;
                            if (!ok && bad++ < 5)
                                fprintf(stderr, "fitness %g for loss %g/%g mqar %g/%g judge %g diverged %d\n", f,
                                        vals[a], vals[c], vals[d], vals[e], vals[j], div);
                        }
    CHECK(bad == 0);
    CHECK(cases > 10000);
    /* NULL metrics or baseline are pathological inputs too. */
    rt_metrics m = metrics("c", 2, 0.5);
    os_baseline b = baseline(2, 0.5);
    CHECK(isfinite(os_fitness(NULL, &b, NAN, NULL)));
    CHECK(isfinite(os_fitness(&m, NULL, 0.3, NULL)));
}

TEST(fitness_parts_json)
{
    os_baseline b = baseline(2.0, 0.5);
    rt_metrics m = metrics("c", 1.9, -1);
    os_fitness_parts p;
    os_fitness(&m, &b, NAN, &p);
    cJSON *o = os_fitness_parts_json(&p);
    CHECK(o != NULL);
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STR_CONTAINS(s, "\"components\":2");
    CHECK_STR_CONTAINS(s, "\"judge\":{\"present\":false");
    CHECK_STR_CONTAINS(s, "no MQAR probe");
    CHECK_NEAR(cJSON_GetObjectItem(o, "fitness")->valuedouble, p.fitness, 1e-12);
    free(s);
    cJSON_Delete(o);
}

TEST(reference_baseline_is_the_stronger)
{
    os_baseline b[3] = {baseline(2.10, 0.7), baseline(2.05, 0.6), baseline(NAN, 0.9)};
    CHECK(os_reference_baseline(b, 3) == 1);
    CHECK(os_reference_baseline(b, 1) == 0);
    b[1].val_loss = 2.10;  /* a tie: the earlier one */
    CHECK(os_reference_baseline(b, 3) == 0);
    os_baseline broken[2] = {baseline(NAN, 0.7), baseline(-1, 0.6)};
    CHECK(os_reference_baseline(broken, 2) == -1);
    CHECK(os_reference_baseline(b, 0) == -1);
    rt_metrics m = metrics("delta_net", 2.2, 0.8);
    float curve[3] = {5, 4, 3};
    os_baseline from;
    os_baseline_from_metrics(&from, &m, curve, 3);
    CHECK(strcmp(from.name, "delta_net") == 0 && from.val_loss == 2.2 && from.mqar_acc == 0.8 &&
          from.loss_curve == curve && from.curve_len == 3 && from.params == m.params);
}

/* ---- selection ------------------------------------------------------------------------ */

static double *descending(int n)
{
    double *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    for (int i = 0; i < n; i++) s[i] = 1.0 - i * 0.001;
    return s;
}

TEST(rng_is_splitmix64)
{
    os_rng r;
    os_rng_seed(&r, 0);
    CHECK(os_rng_next(&r) == 0xe220a8397b1dcdafULL);   /* the reference implementation's first output */
    CHECK(os_rng_next(&r) == 0x6e789e6aa1b965f4ULL);
    os_rng_seed(&r, 7);
    for (int i = 0; i < 1000; i++) CHECK(os_rng_below(&r, 7) < 7);
    CHECK(os_rng_below(&r, 1) == 0 && os_rng_below(&r, 0) == 0);
}

TEST(select_ranges_distinct_deterministic)
{
    double *s = descending(100);
    int varied = 0, first_parent = -1;
    for (uint64_t seed = 0; seed < 500; seed++) {
        int parent, refs[4], n_refs, parent2, refs2[4], n_refs2;
        CHECK(os_select(s, 100, seed, &parent, refs, &n_refs) == 0);
        CHECK(os_select(s, 100, seed, &parent2, refs2, &n_refs2) == 0);
        CHECK(parent == parent2 && n_refs == n_refs2 && memcmp(refs, refs2, sizeof refs) == 0);
        CHECK(parent >= 0 && parent < 10);
        CHECK(n_refs == 4);
        for (int i = 0; i < n_refs; i++) {
            CHECK(refs[i] >= 10 && refs[i] < 50);
            if (i) CHECK(refs[i] > refs[i - 1]);   /* sorted, hence distinct */
        }
        if (first_parent < 0) first_parent = parent;
        else if (parent != first_parent) varied = 1;
    }
    CHECK(varied);
    free(s);
}

TEST(select_is_uniform)
{
    double *s = descending(60);
    int parent_count[10] = {0}, ref_count[60] = {0};
    const int trials = 20000;
    for (int t = 0; t < trials; t++) {
        int parent, refs[4], n_refs;
        os_select(s, 60, (uint64_t)t * 7919u + 1, &parent, refs, &n_refs);
        parent_count[parent]++;
        for (int i = 0; i < n_refs; i++) ref_count[refs[i]]++;
    }
    for (int i = 0; i < 10; i++) CHECK_NEAR(parent_count[i], trials / 10.0, trials / 10.0 * 0.08);
    for (int i = 10; i < 50; i++) CHECK_NEAR(ref_count[i], trials * 4 / 40.0, trials * 4 / 40.0 * 0.1);
    for (int i = 50; i < 60; i++) CHECK(ref_count[i] == 0);
    free(s);
}

TEST(select_small_runs)
{
    double *s = descending(14);
    int parent, refs[4], n_refs;
    CHECK(os_select(s, 1, 3, &parent, refs, &n_refs) == 0);
    CHECK(parent == 0 && n_refs == 0);
    CHECK(os_select(s, 2, 3, &parent, refs, &n_refs) == 0);
    CHECK(n_refs == 1 && refs[0] == 1 - parent);
    for (int n = 3; n <= 14; n++)
        for (uint64_t seed = 0; seed < 50; seed++) {
            CHECK(os_select(s, n, seed, &parent, refs, &n_refs) == 0);
            CHECK(parent >= 0 && parent < (n < 10 ? n : 10));
            CHECK(n_refs == (n - 1 < 4 ? n - 1 : 4));
            int from_pool = 0;
            for (int i = 0; i < n_refs; i++) {
                CHECK(refs[i] != parent && refs[i] >= 0 && refs[i] < n);
                if (i) CHECK(refs[i] > refs[i - 1]);
                from_pool += refs[i] >= 10;
            }
            CHECK(from_pool == (n > 10 ? (n - 10 < 4 ? n - 10 : 4) : 0));   /* ranks 11+ first */
        }
    free(s);
    double bad[3] = {0.5, 0.7, 0.1}, with_nan[3] = {0.9, NAN, 0.1};
    CHECK(os_select(bad, 3, 1, &parent, refs, &n_refs) == -1);
    CHECK(os_select(with_nan, 3, 1, &parent, refs, &n_refs) == -1);
    CHECK(os_select(bad, 0, 1, &parent, refs, &n_refs) == -1);
    double ties[4] = {0.5, 0.5, 0.5, 0.5};
    CHECK(os_select(ties, 4, 1, &parent, refs, &n_refs) == 0 && n_refs == 3);
}

/* ---- early stop ----------------------------------------------------------------------- */

#define STEPS 1000

/* A baseline curve 2 + 3 exp(-s/150), optionally with multiplicative noise. */
static void make_curve(float *curve, double noise, uint64_t seed)
{
    os_rng r;
    os_rng_seed(&r, seed);
    for (int s = 0; s < STEPS; s++) {
        double u = (double)(os_rng_next(&r) >> 11) / 9007199254740992.0 * 2 - 1;
        curve[s] = (float)((2 + 3 * exp(-(s + 1) / 150.0)) * (1 + noise * u));
    }
}

static os_baseline curve_baseline(const float *curve)
{
    os_baseline b = baseline(2.0, 0.5);
    b.loss_curve = curve;
    b.curve_len = STEPS;
    b.train_seconds = 0.1 * STEPS;   /* 0.1 s per step */
    b.step_cpu_s = 0.1;
    return b;
}

/* Train a synthetic candidate whose loss at step s is factor * clean(s) with
 * noise; returns the step it was stopped at (0: never) and the verdict. */
static int run_candidate(const os_baseline *b, double factor, double noise, double s_per_step, int every,
                         os_stop_verdict *verdict, char *reason, size_t len)
{
    float mine[STEPS];
    make_curve(mine, noise, 99);
    os_stop_state st = {0};
    os_stop_opts o;
    os_stop_defaults(&o);
    for (int step = 1; step <= STEPS; step++) {
        if (step % every) continue;
        os_stop_verdict v = os_early_stop_check(&st, b, step, STEPS, (float)(factor * mine[step - 1]),
                                                s_per_step * step, &o, reason, len);
        if (v == OS_SUSPECT) CHECK(st.flagged);
        if (v != OS_CONTINUE && v != OS_SUSPECT) {
            *verdict = v;
            return step;
        }
    }
    *verdict = OS_CONTINUE;
    return 0;
}

TEST(early_stop_on_divergence)
{
    os_stop_state st = {0};
    char reason[256];
    CHECK(os_early_stop_check(&st, NULL, 5, 100, 3.0f, 1.0, NULL, reason, sizeof reason) == OS_CONTINUE);
    CHECK(reason[0] == '\0');
    CHECK(os_early_stop_check(&st, NULL, 6, 100, NAN, 1.0, NULL, reason, sizeof reason) == OS_STOP_DIVERGED);
    CHECK_STR_CONTAINS(reason, "diverged: training loss is nan at step 6");
    os_stop_state st2 = {0};
    CHECK(os_early_stop_check(&st2, NULL, 1, 100, INFINITY, 0.1, NULL, NULL, 0) == OS_STOP_DIVERGED);
}

TEST(early_stop_behind_the_baseline)
{
    float curve[STEPS];
    make_curve(curve, 0, 1);
    os_baseline b = curve_baseline(curve);
    os_stop_verdict v;
    char reason[256];
    /* 20% above the baseline everywhere: stopped as soon as the warm-up ends. */
    int at = run_candidate(&b, 1.2, 0, 0.1, 1, &v, reason, sizeof reason);
    CHECK(v == OS_STOP_BEHIND && at == 300);
    CHECK_STR_CONTAINS(reason, "behind the baseline");
    CHECK_STR_CONTAINS(reason, "20.0% above gated_delta_net's");
    /* 5% behind is within the 10% margin. */
    at = run_candidate(&b, 1.05, 0, 0.1, 1, &v, reason, sizeof reason);
    CHECK(v == OS_CONTINUE && at == 0);
    /* Checked every 25 steps only: the smoothing keeps pace, same verdict. */
    at = run_candidate(&b, 1.2, 0, 0.1, 25, &v, reason, sizeof reason);
    CHECK(v == OS_STOP_BEHIND && at == 300);
}

TEST(early_stop_tolerates_noise)
{
    float curve[STEPS];
    make_curve(curve, 0.04, 5);   /* a noisy baseline ... */
    os_baseline b = curve_baseline(curve);
    os_stop_verdict v;
    char reason[256];
    /* ... and a candidate that tracks it with its own, larger noise, 3% behind. */
    int at = run_candidate(&b, 1.03, 0.08, 0.12, 1, &v, reason, sizeof reason);
    CHECK_MSG(v == OS_CONTINUE && at == 0, "stopped at %d: %s", at, reason);
    at = run_candidate(&b, 0.98, 0.08, 0.1, 7, &v, reason, sizeof reason);
    CHECK_MSG(v == OS_CONTINUE && at == 0, "stopped at %d: %s", at, reason);
}

/* A same-loss candidate whose step s costs cost(s) CPU seconds and whose
 * FLOPs per token are `flops` times the baseline's; the step it was stopped
 * at for speed (0: never). */
static int run_timed(const os_baseline *b, double flops, double (*cost)(int), char *reason, size_t len)
{
    os_stop_state st = {.flops_per_token = flops * b->flops_per_token};
    double cpu = 0;
    for (int step = 1; step <= STEPS; step++) {
        cpu += cost(step);
        os_stop_verdict v = os_early_stop_check(&st, b, step, STEPS, (float)b->loss_curve[step - 1], cpu, NULL,
                                                reason, len);
        if (v == OS_STOP_SLOW) return step;
        CHECK_MSG(v == OS_CONTINUE || v == OS_SUSPECT, "stopped at %d: %s", step, reason);
    }
    return 0;
}

static double at_3_1x(int step) { return 0.31; }
static double at_2_9x(int step) { return 0.29; }
static double at_6_5x(int step) { return 0.65; }
static double slow_start(int step) { return step <= 5 ? 30.0 : 0.1; }        /* warm-up: never timed */
static double one_slow_window(int step) { return step > 5 && step <= 15 ? 1.0 : 0.1; }   /* a burst of load */
static double slow_twice(int step) { return step > 5 && step <= 25 ? 1.0 : 0.1; }

TEST(early_stop_when_slow)
{
    float curve[STEPS];
    make_curve(curve, 0, 1);
    os_baseline b = curve_baseline(curve);
    b.flops_per_token = 1e6;
    char reason[400];
    /* 3.1x the baseline's CPU time per step at the same cost: two windows
     * of 10 steps after the 5-step warm-up, then stopped */
    CHECK(run_timed(&b, 1.0, at_3_1x, reason, sizeof reason) == 25);
    CHECK_STR_CONTAINS(reason, "3.1x slower than gated_delta_net");
    CHECK_STR_CONTAINS(reason, "2 windows in a row");
    CHECK(run_timed(&b, 1.0, at_2_9x, reason, sizeof reason) == 0);
    /* the warm-up and a single slow window never stop a run ... */
    CHECK(run_timed(&b, 1.0, slow_start, reason, sizeof reason) == 0);
    CHECK(run_timed(&b, 1.0, one_slow_window, reason, sizeof reason) == 0);
    /* ... two in a row do */
    CHECK(run_timed(&b, 1.0, slow_twice, reason, sizeof reason) == 25);
    /* twice the FLOPs per token is allowed twice the time */
    CHECK(run_timed(&b, 2.0, at_3_1x, reason, sizeof reason) == 0);
    CHECK(run_timed(&b, 2.0, at_6_5x, reason, sizeof reason) == 25);
    CHECK_STR_CONTAINS(reason, "at 2.00x its FLOPs per token");
    /* cheaper than the baseline is not allowed less */
    CHECK(run_timed(&b, 0.5, at_2_9x, reason, sizeof reason) == 0);
    /* no baseline timing, or no CPU time: no verdict on speed */
    b.step_cpu_s = 0;
    CHECK(run_timed(&b, 1.0, at_6_5x, reason, sizeof reason) == 0);
    b.step_cpu_s = 0.1;
    os_stop_state st = {0};
    for (int step = 1; step <= 100; step++)
        CHECK(os_early_stop_check(&st, &b, step, STEPS, curve[step - 1], -1, NULL, NULL, 0) == OS_CONTINUE);
}

TEST(early_stop_flags_suspicious_progress_once)
{
    float curve[STEPS];
    make_curve(curve, 0, 1);
    os_baseline b = curve_baseline(curve);
    os_stop_state st = {0};
    char reason[256];
    int flags = 0, first = 0;
    for (int step = 1; step <= STEPS; step++) {
        os_stop_verdict v = os_early_stop_check(&st, &b, step, STEPS, 0.6f * curve[step - 1], 0.1 * step, NULL,
                                                reason, sizeof reason);
        CHECK(v == OS_CONTINUE || v == OS_SUSPECT);
        if (v == OS_SUSPECT && flags++ == 0) {
            first = step;
            CHECK_STR_CONTAINS(reason, "re-verify causality");
        }
    }
    CHECK(flags == 1 && first == 300);
    /* A baseline whose curve stops early (diverged): no comparison past its end. */
    b.curve_len = 100;
    os_stop_state st2 = {0};
    for (int step = 1; step <= STEPS; step++)
        CHECK(os_early_stop_check(&st2, &b, step, STEPS, 2.0f * curve[step - 1], 0.1 * step, NULL, NULL, 0) ==
              OS_CONTINUE);
}

TEST(suspicious_final_metrics)
{
    os_baseline b = baseline(2.0, 0.4);
    char why[200];
    rt_metrics m = metrics("c", 1.3, 0.4);   /* 35% below */
    CHECK(os_suspicious(&m, &b, why, sizeof why) == 1);
    CHECK_STR_CONTAINS(why, "35.0% below");
    m.val_loss = 1.6;                        /* 20% below: a real win */
    CHECK(os_suspicious(&m, &b, why, sizeof why) == 0);
    m.mqar_acc = 0.95;                       /* +0.55 recall with 20% lower loss */
    CHECK(os_suspicious(&m, &b, why, sizeof why) == 1);
    CHECK_STR_CONTAINS(why, "mqar_acc");
    m.val_loss = 1.9;                        /* +0.55 recall, loss only 5% lower */
    CHECK(os_suspicious(&m, &b, NULL, 0) == 0);
    m.val_loss = NAN;
    CHECK(os_suspicious(&m, &b, NULL, 0) == 0);
    CHECK(os_suspicious(NULL, &b, NULL, 0) == 0);
    m = metrics("c", 1.0, 0.4);
    b.val_loss = 0;
    CHECK(os_suspicious(&m, &b, NULL, 0) == 0);
}

/* ---- shingles and structure ------------------------------------------------------------ */

TEST(shingles_and_jaccard_exact)
{
    os_shingle_set a, b, c, d, e;
    CHECK(os_shingles("the cat sat on the mat", 2, &a) == 0);
    CHECK(a.n == 5);
    CHECK(os_shingles("The cat, sat.", 2, &b) == 0);
    CHECK(b.n == 2);
    CHECK_NEAR(os_jaccard(&a, &b), 2.0 / 5.0, 1e-15);
    CHECK_NEAR(os_jaccard(&a, &a), 1.0, 0);
    CHECK(os_shingles("the the the", 1, &c) == 0);
    CHECK(c.n == 1);
    CHECK(os_shingles("", 2, &d) == 0 && d.n == 0);
    CHECK_NEAR(os_jaccard(&a, &d), 0.0, 0);
    CHECK_NEAR(os_jaccard(&d, &d), 0.0, 0);
    CHECK(os_shingles(" ... , ", 2, &e) == 0 && e.n == 0);   /* punctuation only */
    os_shingles_free(&a);
    os_shingles_free(&b);
    os_shingles_free(&c);
    os_shingles_free(&d);
    os_shingles_free(&e);
    /* Fewer words than k: one shingle of all of them. */
    CHECK(os_shingles("Hello!", 3, &a) == 0 && a.n == 1);
    CHECK(os_shingles("hello", 3, &b) == 0);
    CHECK_NEAR(os_jaccard(&a, &b), 1.0, 0);
    os_shingles_free(&a);
    os_shingles_free(&b);
    /* Word boundaries are part of the hash. */
    CHECK(os_shingles("ab c", 2, &a) == 0 && os_shingles("a bc", 2, &b) == 0);
    CHECK_NEAR(os_jaccard(&a, &b), 0.0, 0);
    os_shingles_free(&a);
    os_shingles_free(&b);
    /* k = 3 on 5 words: "a b c", "b c d", "c d e" against "a b c", "b c x", "c x e". */
    CHECK(os_shingles("a b c d e", 3, &a) == 0 && os_shingles("a b c x e", 3, &b) == 0);
    CHECK(a.n == 3 && b.n == 3);
    CHECK_NEAR(os_jaccard(&a, &b), 1.0 / 5.0, 1e-15);
    os_shingles_free(&a);
    os_shingles_free(&b);
    CHECK(os_shingles(NULL, 2, &a) == 0 && a.n == 0);
}

static rt_config tiny;

/* The IR text `asiarch ir NAME` prints for a reference mixer. */
static char *reference_ir(const char *name)
{
    const arch_ref *ref = arch_find(name);
    if (!ref) return NULL;
    char err[256];
    ir_graph *g = rt_build(&tiny.dims, ref->mixer, ref->file, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s: %s\n", name, err);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ir_print(g, f);
    fclose(f);
    ir_graph_free(g);
    return text;
}

/* text with every occurrence of from replaced by to (malloc'd). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + nf, from)) count++;
    char *out = malloc(strlen(text) + count * (nt > nf ? nt - nf : 0) + 1), *w = out;
    for (const char *p = text;;) {
        const char *hit = strstr(p, from);
        if (!hit) { strcpy(w, p); break; }
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        memcpy(w, to, nt);
        w += nt;
        p = hit + nf;
    }
    return out;
}

/* Every "line N" becomes "line N+shift" (as if comments were added above). */
static char *shift_lines(const char *text, int shift)
{
    char *out = malloc(strlen(text) * 2 + 1), *w = out;
    for (const char *p = text; *p;) {
        if (strncmp(p, "line ", 5) == 0) {
            char *end;
            long n = strtol(p + 5, &end, 10);
            w += sprintf(w, "line %ld", n + shift);
            p = end;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* A renamed copy of an IR text: other parameter names, lines moved, sizes
 * and constants changed. */
static char *disguise(const char *ir)
{
    char *a = replace_all(ir, "q_proj", "query_projection");
    char *b = replace_all(a, "k_conv", "key_fir");
    char *c = replace_all(b, "c=0.176777", "c=0.125");
    char *d = replace_all(c, "[8,2,128,32]", "[8,4,128,16]");
    char *e = shift_lines(d, 12);
    free(a);
    free(b);
    free(c);
    free(d);
    return e;
}

TEST(structure_text_ignores_names_lines_and_sizes)
{
    char *ir = reference_ir("delta_net");
    CHECK(ir != NULL);
    if (!ir) return;
    char *other = disguise(ir);
    CHECK(strcmp(ir, other) != 0);
    char *s1 = os_structure_text(ir), *s2 = os_structure_text(other);
    CHECK(s1 && s2 && strcmp(s1, s2) == 0);
    CHECK_STR_CONTAINS(s1, "linattn[delta=1,gate=none](scale,l2norm,permute,permute,none)");
    CHECK_STR_CONTAINS(s1, "linear(x,param,none)");   /* the mixer's input is "x" */
    CHECK_STR_CONTAINS(s1, " | ");                    /* two layers */
    CHECK(!strstr(s1, "q_proj") && !strstr(s1, "line ") && !strstr(s1, "[8,") && !strstr(s1, "%") &&
          !strstr(s1, "c=") && !strstr(s1, "swiglu") && !strstr(s1, "embed"));
    char *gdn_ir = reference_ir("gated_delta_net");
    char *s3 = gdn_ir ? os_structure_text(gdn_ir) : NULL;
    CHECK(s3 && strcmp(s1, s3) != 0);
    /* Without any source line (a hand-written text), every node is described. */
    char *plain = os_structure_text("%1 = tokens()  [8,128] i32\n%2 = param \"w\"  [4]\n%3 = embed(%1, %2)  [8,128,4]\n");
    CHECK(plain && strcmp(plain, "tokens() embed(tokens,param)") == 0);
    char *empty = os_structure_text("no graph here\n# comment\n%x = broken(");
    CHECK(empty && strcmp(empty, "") == 0);
    CHECK(os_structure_text(NULL) == NULL);
    free(ir);
    free(other);
    free(s1);
    free(s2);
    free(gdn_ir);
    free(s3);
    free(plain);
    free(empty);
}

/* The signature of a reference mixer: structure and motivation shingles. */
static int reference_sig(const char *name, os_candidate_sig *sig)
{
    const arch_ref *ref = arch_find(name);
    char *ir = reference_ir(name);
    char *structure = ir ? os_structure_text(ir) : NULL;
    int rc = structure && os_shingles(structure, OS_STRUCTURE_K, &sig->structure) == 0 &&
                     os_shingles(ref->motivation, OS_TEXT_K, &sig->motivation) == 0
                 ? 0
                 : -1;
    sig->name = ref->name;
    free(ir);
    free(structure);
    return rc;
}

static void free_sig(os_candidate_sig *s)
{
    os_shingles_free(&s->structure);
    os_shingles_free(&s->motivation);
}

TEST(near_duplicates_on_realistic_pairs)
{
    const char *names[] = {"delta_net", "gated_delta_net", "gla", "retnet", "mamba2", "conv_only",
                           "stat_router_fusion", "sigmoid_gate_fir", "dual_memory_fir"};
    enum { N = sizeof names / sizeof names[0] };
    os_candidate_sig sigs[N];
    memset(sigs, 0, sizeof sigs);
    for (int i = 0; i < N; i++) CHECK(reference_sig(names[i], &sigs[i]) == 0);

    /* A disguised DeltaNet whose motivation is lightly reworded. */
    char *ir = reference_ir("delta_net"), *disguised = disguise(ir), *structure = os_structure_text(disguised);
    os_shingle_set q_struct, q_mot;
    os_shingles(structure, OS_STRUCTURE_K, &q_struct);
    os_shingles("DeltaNet (Yang et al. 2024): a linear attention whose state is updated by the delta rule, "
                "S = S - beta k (k^T S - v^T), so a new association overwrites the old value of its key "
                "instead of piling up; short causal convolutions give q, k and v local context.",
                OS_TEXT_K, &q_mot);
    int closest;
    double sim;
    CHECK(os_near_duplicate(&q_struct, &q_mot, sigs, N, OS_NEAR_DUP_THRESHOLD, &closest, &sim) == 1);
    CHECK(closest == 0 && sim > 0.95);

    /* The same structure for a different purpose is not a near duplicate by default ... */
    os_shingle_set other_mot;
    os_shingles("An experiment with wider keys: we want to know whether associative recall improves when the "
                "query scale is smaller, measured against the previous attempts.", OS_TEXT_K, &other_mot);
    CHECK(os_near_duplicate(&q_struct, &other_mot, sigs, N, OS_NEAR_DUP_THRESHOLD, &closest, &sim) == 0);
    CHECK(closest == 0 && sim >= 0.7 && sim < 0.9);
    /* ... but with no motivation the structure decides alone. */
    os_shingle_set none = {0};
    CHECK(os_near_duplicate(&q_struct, &none, sigs, N, NAN, &closest, &sim) == 1);
    CHECK_NEAR(sim, 1.0, 1e-12);

    /* Every reference is new relative to the others. */
    for (int i = 0; i < N; i++) {
        os_candidate_sig others[N];
        int k = 0;
        for (int j = 0; j < N; j++)
            if (j != i) others[k++] = sigs[j];
        int dup = os_near_duplicate(&sigs[i].structure, &sigs[i].motivation, others, k, OS_NEAR_DUP_THRESHOLD,
                                    &closest, &sim);
        CHECK_MSG(!dup && sim < 0.8, "%s ~ %s at %.3f", names[i], others[closest].name, sim);
    }
    CHECK(os_near_duplicate(&q_struct, &q_mot, sigs, 0, 0.9, &closest, &sim) == 0);
    CHECK(closest == -1 && sim == 0);

    uint64_t known[3] = {11, 22, 33};
    CHECK(os_exact_duplicate(22, known, 3) == 1 && os_exact_duplicate(44, known, 3) == -1);

    os_shingles_free(&q_struct);
    os_shingles_free(&q_mot);
    os_shingles_free(&other_mot);
    for (int i = 0; i < N; i++) free_sig(&sigs[i]);
    free(ir);
    free(disguised);
    free(structure);
}

/* ---- judge and novelty -------------------------------------------------------------------- */

static int judge_performance(double loss, double mqar, double base_mqar)
{
    os_baseline b = baseline(2.0, base_mqar);
    rt_metrics m = metrics("c", loss, mqar);
    llm_judgement j;
    os_rule_judge(&m, &b, 0.5, 100000, 100000, &j);
    int p = j.performance;
    llm_judgement_free(&j);
    return p;
}

TEST(judge_anchors)
{
    CHECK(judge_performance(2.0, -1, -1) == 5);     /* equal to the baseline */
    CHECK(judge_performance(1.98, -1, -1) == 6);    /* 1% lower */
    CHECK(judge_performance(1.94, -1, -1) == 8);
    CHECK(judge_performance(1.8, -1, -1) == 10);    /* 10% lower: capped */
    CHECK(judge_performance(2.2, -1, -1) == 1);
    CHECK(judge_performance(2.0, 0.6, 0.5) == 6);   /* +0.1 recall at equal loss */
    CHECK(judge_performance(2.0, 0.99, 0.2) == 7);  /* at most two points for recall */
    CHECK(judge_performance(2.0, 0.1, 0.5) == 3);
    /* Monotone in loss. */
    int last = 10;
    for (double loss = 1.5; loss <= 2.5; loss += 0.003) {
        int p = judge_performance(loss, -1, -1);
        CHECK(p <= last && p >= 1 && p <= 10);
        last = p;
    }
    CHECK(last == 1);
    rt_metrics m = metrics("c", NAN, -1);
    m.diverged = 1;
    os_baseline b = baseline(2.0, -1);
    llm_judgement j;
    CHECK(os_rule_judge(&m, &b, NAN, 100000, 100000, &j) == 0);
    CHECK(j.performance == 1 && j.innovation == 1 && j.complexity == 10);
    llm_judgement_free(&j);
}

TEST(judge_innovation_complexity_and_text)
{
    os_baseline b = baseline(2.0, 0.5);
    rt_metrics m = metrics("c", 1.96, 0.55);
    m.flops_per_token = 1.1e6;
    llm_judgement j;
    CHECK(os_rule_judge(&m, &b, 0.0, 125000, 100000, &j) == 0);
    /* 2% lower loss: +2; +0.05 recall: +1 (half a point rounds up); 25% more params: 10 - 3. */
    CHECK(j.performance == 8 && j.innovation == 1 && j.complexity == 7);
    CHECK(strncmp(j.rationale, OS_JUDGE_PREFIX, strlen(OS_JUDGE_PREFIX)) == 0);
    CHECK_STR_CONTAINS(j.rationale, "val_loss 1.9600 vs 2.0000 for gated_delta_net (-2.00%: +2)");
    CHECK_STR_CONTAINS(j.rationale, "mqar_acc 0.550 vs 0.500 (+0.050: +1).");
    CHECK_STR_CONTAINS(j.rationale, "125000 parameters vs 100000 (+25.0%), FLOPs/token +10.0%");

    /* The answer has the LLM judge's shape: it parses back unchanged. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "performance", j.performance);
    cJSON_AddNumberToObject(o, "innovation", j.innovation);
    cJSON_AddNumberToObject(o, "complexity", j.complexity);
    cJSON_AddStringToObject(o, "rationale", j.rationale);
    char *answer = cJSON_PrintUnformatted(o);
    llm_judgement back;
    llm_error err;
    CHECK(llm_parse_judgement(answer, &back, &err) == 0);
    CHECK(back.performance == j.performance && back.innovation == j.innovation && back.complexity == j.complexity);
    CHECK(back.rationale && strcmp(back.rationale, j.rationale) == 0);
    llm_judgement_free(&back);
    free(answer);
    cJSON_Delete(o);
    llm_judgement_free(&j);

    CHECK(os_rule_judge(&m, &b, 1.0, 90000, 100000, &j) == 0);
    CHECK(j.innovation == 10 && j.complexity == 9);   /* fewer params, but 10% more FLOPs */
    llm_judgement_free(&j);
    CHECK(os_rule_judge(&m, &b, 0.5, 300000, 100000, &j) == 0);
    CHECK(j.innovation == 6 && j.complexity == 1);
    llm_judgement_free(&j);
    CHECK(os_rule_judge(&m, &b, INFINITY, 0, 100000, &j) == 0);
    CHECK(j.innovation == 1 && j.complexity == 1);
    llm_judgement_free(&j);

    CHECK_NEAR(os_judge_norm(1, 1, 1), 0.0, 0);
    CHECK_NEAR(os_judge_norm(10, 10, 10), 1.0, 0);
    CHECK_NEAR(os_judge_norm(5, 5, 5), 12.0 / 27.0, 1e-15);
    CHECK_NEAR(os_judge_norm(-4, 99, 7), (0 + 9 + 6) / 27.0, 1e-15);
}

TEST(rule_novelty_answer)
{
    llm_novelty v;
    CHECK(os_rule_novelty(0.95, "delta_net", NAN, &v) == 0);
    CHECK(!v.novel && strcmp(v.closest, "delta_net") == 0);
    CHECK(strncmp(v.reason, OS_NOVELTY_PREFIX, strlen(OS_NOVELTY_PREFIX)) == 0);
    CHECK_STR_CONTAINS(v.reason, "similarity 0.950 to delta_net");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "novel", v.novel);
    cJSON_AddStringToObject(o, "closest", v.closest);
    cJSON_AddStringToObject(o, "reason", v.reason);
    char *answer = cJSON_PrintUnformatted(o);
    llm_novelty back;
    llm_error err;
    CHECK(llm_parse_novelty(answer, &back, &err) == 0);
    CHECK(back.novel == 0 && strcmp(back.closest, "delta_net") == 0);
    llm_novelty_free(&back);
    free(answer);
    cJSON_Delete(o);
    llm_novelty_free(&v);
    CHECK(os_rule_novelty(0.4, "gla", 0.9, &v) == 0 && v.novel);
    llm_novelty_free(&v);
    CHECK(os_rule_novelty(NAN, NULL, 0.9, &v) == 0 && v.novel && strcmp(v.closest, "") == 0);
    llm_novelty_free(&v);
}

/* ---- analyst ------------------------------------------------------------------------------ */

static cog_base cognition;

/* The ids of the top-k entries retrieved for text, space-separated. */
static void top_ids(const char *text, int k, char *ids, size_t len)
{
    cog_hit hits[8];
    int n = cog_search(&cognition, text, k, hits);
    ids[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(ids);
        snprintf(ids + used, len - used, "%s ", hits[i].entry->id);
    }
}

TEST(analyst_weak_recall)
{
    rt_metrics cand = metrics("fir_memory_v2", 2.10, 0.30), parent = metrics("fir_memory", 2.12, 0.55),
               sib = metrics("fir_memory_v3", 2.09, 0.50), sib2 = metrics("fir_memory_v4", 2.15, 0.40);
    os_baseline base = baseline(2.08, 0.75);
    os_analysis_input in = {.name = "fir_memory_v2",
                            .motivation = "A 4-tap FIR path next to the memory path, summed.",
                            .metrics = &cand,
                            .parent = {"fir_memory", &parent},
                            .siblings = {{"fir_memory_v4", &sib2}, {"fir_memory_v3", &sib}},
                            .n_siblings = 2,
                            .baseline = &base};
    char *text = NULL;
    CHECK(os_rule_analysis(&in, &text) == 0);
    if (!text) return;
    CHECK(strncmp(text, OS_ANALYST_PREFIX "\nsummary: ", strlen(OS_ANALYST_PREFIX) + 10) == 0);
    CHECK_STR_CONTAINS(text, "val_loss 2.1000");
    CHECK_STR_CONTAINS(text, "mqar_acc 0.300");
    CHECK_STR_CONTAINS(text, "Against its parent fir_memory: val_loss -0.94% (2.1000 vs 2.1200), mqar_acc -0.250");
    CHECK_STR_CONTAINS(text, "Against its sibling fir_memory_v3: val_loss +0.48%");
    CHECK_STR_CONTAINS(text, "Against its baseline gated_delta_net: val_loss +0.96% (2.1000 vs 2.0800), mqar_acc -0.450");
    CHECK_STR_CONTAINS(text, "strengths: Lower validation loss than its parent fir_memory (-0.94%).");
    CHECK_STR_CONTAINS(text, "Associative recall (MQAR) is weak");
    CHECK_STR_CONTAINS(text, "forget gate");
    CHECK_STR_CONTAINS(text, "FIR length");
    CHECK_STR_CONTAINS(text, "Higher validation loss than its baseline gated_delta_net (+0.96%)");
    CHECK_STR_CONTAINS(text, "next_idea: Strengthen the memory");
    CHECK(!strstr(text, "grandparent"));   /* absent: not mentioned */
    CHECK(!strstr(text, "sibling fir_memory_v3 did better"));   /* 0.48% is within noise */

    /* The analysis retrieves entries about recall, memory and forgetting. */
    char ids[512];
    top_ids(text, 3, ids, sizeof ids);
    int relevant = strstr(ids, "mqar-associative-recall") || strstr(ids, "decay-initialisation") ||
                   strstr(ids, "delta-rule-error-correction") || strstr(ids, "lower-bounded-forget-gates") ||
                   strstr(ids, "short-causal-conv-qkv") || strstr(ids, "decoupled-input-forget-gates");
    CHECK_MSG(relevant, "top entries: %s", ids);
    char *retrieved = NULL;
    CHECK(os_retrieve_cognition(&cognition, text, 3, &retrieved) == 3);
    CHECK(retrieved && retrieved[0] == '[' && strstr(retrieved, "\n\n[") && strstr(retrieved, "Insight: "));
    free(retrieved);
    CHECK(os_retrieve_cognition(&cognition, "", 3, &retrieved) == 0 && retrieved && retrieved[0] == '\0');
    free(retrieved);
    free(text);
}

TEST(analyst_json_parses_as_the_llm_answer)
{
    rt_metrics cand = metrics("c", 1.95, 0.80), parent = metrics("p", 2.0, 0.78), grand = metrics("g", 2.05, 0.7);
    os_baseline base = baseline(2.0, 0.76);
    os_analysis_input in = {.name = "c", .motivation = "gated delta memory", .metrics = &cand,
                            .parent = {"p", &parent}, .grandparent = {"g", &grand}, .baseline = &base};
    char *json = NULL;
    CHECK(os_rule_analysis_json(&in, &json) == 0);
    llm_analysis a, direct;
    llm_error err;
    CHECK(llm_parse_analysis(json, &a, &err) == 0);
    CHECK(os_rule_analysis_fields(&in, &direct) == 0);
    CHECK(strcmp(a.summary, direct.summary) == 0 && strcmp(a.strengths, direct.strengths) == 0 &&
          strcmp(a.weaknesses, direct.weaknesses) == 0 && strcmp(a.next_idea, direct.next_idea) == 0);
    CHECK(strncmp(a.summary, OS_ANALYST_PREFIX, strlen(OS_ANALYST_PREFIX)) == 0);
    CHECK_STR_CONTAINS(a.summary, "Against its grandparent g: val_loss -4.88%");
    CHECK_STR_CONTAINS(a.strengths, "Lower validation loss than its baseline gated_delta_net (-2.50%)");
    CHECK_STR_CONTAINS(a.weaknesses, "None beyond noise.");
    CHECK_STR_CONTAINS(a.next_idea, "Build on this design");
    llm_analysis_free(&a);
    llm_analysis_free(&direct);
    free(json);
}

TEST(analyst_levers)
{
    os_baseline base = baseline(2.0, 0.7);
    char *text = NULL;
    /* A noisy loss curve: normalisation. */
    float noisy[200], smooth[200];
    for (int i = 0; i < 200; i++) {
        smooth[i] = (float)(2.0 + 1.0 / (i + 1));
        noisy[i] = smooth[i] * (i % 2 ? 1.08f : 0.92f);
    }
    base.loss_curve = smooth;
    base.curve_len = 200;
    rt_metrics m = metrics("c", 2.0, 0.7);
    os_analysis_input in = {.name = "c", .metrics = &m, .loss_curve = noisy, .curve_len = 200, .baseline = &base};
    CHECK(os_rule_analysis(&in, &text) == 0);
    CHECK_STR_CONTAINS(text, "training loss is noisy");
    CHECK_STR_CONTAINS(text, "next_idea: Add normalisation");
    char ids[512];
    top_ids(text, 3, ids, sizeof ids);
    CHECK_MSG(strstr(ids, "norm") != NULL || strstr(ids, "training-curve-diagnostics") != NULL, "top: %s", ids);
    free(text);

    /* A routed design that did not improve on its parent: router temperature. */
    rt_metrics parent = metrics("p", 1.99, 0.7);
    os_analysis_input routed = {.name = "softmax_router_mix",
                                .motivation = "A softmax router blends a delta path and a FIR path per head.",
                                .metrics = &m, .parent = {"p", &parent}, .baseline = &base};
    CHECK(os_rule_analysis(&routed, &text) == 0);
    CHECK_STR_CONTAINS(text, "router temperature");
    CHECK_STR_CONTAINS(text, "next_idea: Give the router a learnable temperature");
    top_ids(text, 3, ids, sizeof ids);
    CHECK_MSG(strstr(ids, "router") != NULL, "top: %s", ids);
    free(text);

    /* Slow with FIR paths: FIR length. */
    m.tokens_per_s = 8000;
    os_analysis_input slow = {.name = "long_fir", .motivation = "A 64-tap FIR path.", .metrics = &m,
                              .baseline = &base};
    CHECK(os_rule_analysis(&slow, &text) == 0);
    CHECK_STR_CONTAINS(text, "Slow: 8000 tokens/s, 60% below gated_delta_net");
    CHECK_STR_CONTAINS(text, "next_idea: Shorten the long FIR (FIR length)");
    free(text);

    /* Diverged. */
    rt_metrics dead = metrics("d", NAN, -1);
    dead.diverged = 1;
    dead.steps = 57;
    os_analysis_input div = {.name = "d", .metrics = &dead, .baseline = &base};
    CHECK(os_rule_analysis(&div, &text) == 0);
    CHECK_STR_CONTAINS(text, "diverged: its training loss stopped being finite after 57 steps");
    CHECK_STR_CONTAINS(text, "next_idea: Stabilise");
    top_ids(text, 3, ids, sizeof ids);
    CHECK_MSG(strstr(ids, "nan-sources-stability") != NULL, "top: %s", ids);
    free(text);

    /* Nothing to compare with. */
    rt_metrics lone = metrics("first", 2.0, -1);
    os_analysis_input first = {.name = "first", .metrics = &lone};
    CHECK(os_rule_analysis(&first, &text) == 0);
    CHECK_STR_CONTAINS(text, "Nothing to compare it with yet");
    CHECK_STR_CONTAINS(text, "strengths: Unknown");
    free(text);

    /* A better sibling and a change that cost loss relative to the parent. */
    rt_metrics worse = metrics("w", 2.06, 0.7), p2 = metrics("p", 2.0, 0.7), s2 = metrics("s", 1.97, 0.7);
    os_analysis_input regress = {.name = "w", .metrics = &worse, .parent = {"p", &p2},
                                 .siblings = {{"s", &s2}}, .n_siblings = 1, .baseline = &base};
    CHECK(os_rule_analysis(&regress, &text) == 0);
    CHECK_STR_CONTAINS(text, "Its sibling s did better (val_loss 1.9700, -4.37%)");
    CHECK_STR_CONTAINS(text, "next_idea: Go back to the parent p");
    free(text);

    os_analysis_input missing = {.name = "x"};
    CHECK(os_rule_analysis(&missing, &text) == -1 && text == NULL);
}

/* Each term against the best baseline on that measure (issue 14): Gated
 * DeltaNet wins on loss with recall near chance, DeltaNet recalls. */
TEST(reference_per_measure)
{
    os_baseline b[2] = {{.name = "delta_net", .val_loss = 1.80, .mqar_acc = 0.96, .params = 100},
                        {.name = "gated_delta_net", .val_loss = 1.75, .mqar_acc = 0.07, .params = 110}};
    int recall = -2;
    os_baseline ref = os_reference_composite(b, 2, &recall);
    CHECK(!strcmp(ref.name, "gated_delta_net") && ref.val_loss == 1.75 && ref.params == 110);
    CHECK(ref.mqar_acc == 0.96 && recall == 0);
    /* a candidate with some memory is no recall win against the real bar */
    rt_metrics m = {.val_loss = 1.75, .mqar_acc = 0.30};
    os_fitness_parts p;
    os_fitness(&m, &ref, NAN, &p);
    CHECK(p.mqar.present && p.mqar.value < 0.5);
    os_fitness(&m, &b[1], NAN, &p);
    CHECK(p.mqar.value > 0.5);   /* what the loss-best baseline alone would have said */
    b[0].mqar_acc = b[1].mqar_acc = -1;   /* no probe: no recall reference */
    ref = os_reference_composite(b, 2, &recall);
    CHECK(ref.mqar_acc < 0 && recall == -1);
}

/* Mean and 95% interval over seeds, and the verdicts (issue 14's numbers). */
TEST(seed_statistics)
{
    double loss[3] = {1.62, 1.67, 1.72};
    os_seed_stats s = os_seed_stats_of(loss, 3);
    CHECK(s.n == 3);
    CHECK_NEAR(s.mean, 1.67, 1e-12);
    CHECK_NEAR(s.sd, 0.05, 1e-12);
    CHECK_NEAR(s.ci95, 4.303 * 0.05 / sqrt(3.0), 1e-9);
    double one[1] = {2.0}, with_nan[3] = {1.0, NAN, 3.0};
    os_seed_stats o = os_seed_stats_of(one, 1);
    CHECK(o.n == 1 && o.mean == 2.0 && isnan(o.ci95));
    os_seed_stats w = os_seed_stats_of(with_nan, 3);
    CHECK(w.n == 2 && w.mean == 2.0);
    /* 1.669 +- 0.055 against 1.748 +- 0.070: overlapping, however paired the seeds */
    os_seed_stats cand = {.n = 3, .mean = 1.669, .ci95 = 0.055}, base = {.n = 3, .mean = 1.748, .ci95 = 0.070};
    CHECK(os_seed_compare(&cand, &base, 1) == OS_SEEDS_INDISTINGUISHABLE);
    cand.ci95 = 0.01;
    base.ci95 = 0.01;
    CHECK(os_seed_compare(&cand, &base, 1) == OS_SEEDS_BETTER);
    CHECK(os_seed_compare(&base, &cand, 1) == OS_SEEDS_WORSE);
    CHECK(os_seed_compare(&cand, &base, 0) == OS_SEEDS_WORSE);   /* for an accuracy, lower is worse */
    CHECK(os_seed_compare(&o, &base, 1) == OS_SEEDS_UNKNOWN);
    CHECK(!strcmp(os_seed_verdict_name(OS_SEEDS_INDISTINGUISHABLE), "not distinguishable"));
}

int main(void)
{
    RUN(seed_statistics);
    RUN(reference_per_measure);
    char err[256];
    rt_config_scale("tiny", &tiny, err, sizeof err);
    if (cog_base_load_embedded(&cognition, err, sizeof err) < 0) {
        fprintf(stderr, "cognition base: %s\n", err);
        return 1;
    }
    RUN(fitness_formula_hand_values);
    RUN(fitness_mqar_and_judge);
    RUN(fitness_missing_and_invalid_components);
    RUN(fitness_never_nan_on_pathological_grid);
    RUN(fitness_parts_json);
    RUN(reference_baseline_is_the_stronger);
    RUN(rng_is_splitmix64);
    RUN(select_ranges_distinct_deterministic);
    RUN(select_is_uniform);
    RUN(select_small_runs);
    RUN(early_stop_on_divergence);
    RUN(early_stop_behind_the_baseline);
    RUN(early_stop_tolerates_noise);
    RUN(early_stop_when_slow);
    RUN(early_stop_flags_suspicious_progress_once);
    RUN(suspicious_final_metrics);
    RUN(shingles_and_jaccard_exact);
    RUN(structure_text_ignores_names_lines_and_sizes);
    RUN(near_duplicates_on_realistic_pairs);
    RUN(judge_anchors);
    RUN(judge_innovation_complexity_and_text);
    RUN(rule_novelty_answer);
    RUN(analyst_weak_recall);
    RUN(analyst_json_parses_as_the_llm_answer);
    RUN(analyst_levers);
    cog_base_free(&cognition);
    return test_summary();
}
