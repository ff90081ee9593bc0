/*
 * confirm.c — wins that hold: before the summary reports a candidate as
 * beating the baseline, the run's best candidates and its baselines are
 * trained again on more seeds, and each is reported as mean +- 95%
 * interval (seeds.c), with a verdict per measure against the best baseline
 * on that measure: better, not distinguishable (the intervals overlap,
 * whatever the single-seed score said), or worse.
 *
 * Seeds: the run's own training is the first (seed = the run's seed); the
 * others are the run's seed + k * 1000003. Every result is stored as it
 * comes (db seed_results), so a stopped run resumes without training a
 * seed twice, and `asiarch db best --json` reads the same numbers.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_internal.h"

#define SEED_STRIDE 1000003u

static uint64_t nth_seed(const orch *o, int k) { return o->cfg->seed + (uint64_t)k * SEED_STRIDE; }

/* Train c on every seed it has no stored result for. */
static void train_seeds(orch *o, const db_candidate *c)
{
    for (int k = 0; k < o->cfg->seeds && !(o->cancel && *o->cancel); k++) {
        uint64_t seed = nth_seed(o, k);
        db_seed_result *r = NULL;
        int n = 0, have = 0;
        or_lock(o);
        if (db_seed_results(o->db, c->id, o->rcfg.scale, o->rcfg.steps, &r, &n) == 0)
            for (int i = 0; i < n; i++) have |= r[i].seed == (int64_t)seed;
        db_seed_results_free(r, n);
        or_unlock(o);
        if (have) continue;
        char why[600] = "";
        char *json = k == 0 && c->metrics_json ? strdup(c->metrics_json) : NULL;   /* the run's own training */
        if (!json) {
            or_worker_stage(o, &o->workers[0], "confirm #%lld seed %d/%d", (long long)c->id, k + 1, o->cfg->seeds);
            json = or_train_seed(o, c, seed, why, sizeof why);
        }
        or_lock(o);
        if (json && db_seed_result_put(o->db, c->id, (int64_t)seed, o->rcfg.scale, o->rcfg.steps, json) < 0)
            or_event(o, c->id, "error", "storing a seed result: %s", db_error(o->db));
        if (!json && !(o->cancel && *o->cancel))
            or_event(o, c->id, "confirm", "training on seed %llu failed: %s", (unsigned long long)seed, why);
        or_unlock(o);
        free(json);
    }
}

/* Mean and interval of one measure over the stored seeds. */
static os_seed_stats stats_of(orch *o, int64_t id, const char *key)
{
    double v[64];
    or_lock(o);
    int m = db_seed_values(o->db, id, o->rcfg.scale, o->rcfg.steps, key, v, 64);
    or_unlock(o);
    return os_seed_stats_of(v, m > 0 ? m : 0);
}

static or_confirmed confirmed_entry(orch *o, const db_candidate *c)
{
    or_confirmed e = {.id = c->id, .is_baseline = c->is_baseline};
    snprintf(e.name, sizeof e.name, "%s", c->name);
    os_seed_stats l = stats_of(o, c->id, "val_loss"), a = stats_of(o, c->id, "mqar_acc");
    e.n = l.n;
    e.loss_mean = l.mean;
    e.loss_ci95 = l.ci95;
    e.mqar_n = a.n;
    e.mqar_mean = a.mean;
    e.mqar_ci95 = a.ci95;
    return e;
}

static os_seed_stats as_stats(double mean, double ci, int n) { return (os_seed_stats){.n = n, .mean = mean, .ci95 = ci}; }

/* Each candidate against the best baseline on each measure (by mean). */
static void verdicts(orch *o, or_summary *s)
{
    int best_loss = -1, best_mqar = -1;
    for (int i = 0; i < s->n_confirmed; i++) {
        const or_confirmed *e = &s->confirmed[i];
        if (!e->is_baseline || !strcmp(e->name, "conv_only")) continue;   /* the control is no bar */
        if (isfinite(e->loss_mean) && (best_loss < 0 || e->loss_mean < s->confirmed[best_loss].loss_mean)) best_loss = i;
        if (isfinite(e->mqar_mean) && (best_mqar < 0 || e->mqar_mean > s->confirmed[best_mqar].mqar_mean)) best_mqar = i;
    }
    for (int i = 0; i < s->n_confirmed; i++) {
        or_confirmed *e = &s->confirmed[i];
        if (e->is_baseline) continue;
        if (best_loss >= 0) {
            const or_confirmed *b = &s->confirmed[best_loss];
            os_seed_stats c = as_stats(e->loss_mean, e->loss_ci95, e->n), r = as_stats(b->loss_mean, b->loss_ci95, b->n);
            snprintf(e->loss_verdict, sizeof e->loss_verdict, "%s", os_seed_verdict_name(os_seed_compare(&c, &r, 1)));
            snprintf(e->loss_baseline, sizeof e->loss_baseline, "%s", b->name);
        }
        if (best_mqar >= 0 && e->mqar_n) {
            const or_confirmed *b = &s->confirmed[best_mqar];
            os_seed_stats c = as_stats(e->mqar_mean, e->mqar_ci95, e->mqar_n),
                          r = as_stats(b->mqar_mean, b->mqar_ci95, b->mqar_n);
            snprintf(e->mqar_verdict, sizeof e->mqar_verdict, "%s", os_seed_verdict_name(os_seed_compare(&c, &r, 0)));
            snprintf(e->mqar_baseline, sizeof e->mqar_baseline, "%s", b->name);
        }
        or_lock(o);
        or_event(o, e->id, "confirm",
                 "over %d seeds: val loss %.4f +- %.4f (%s than %s); MQAR %s", e->n, e->loss_mean, e->loss_ci95,
                 e->loss_verdict[0] ? e->loss_verdict : "unknown", e->loss_baseline,
                 e->mqar_verdict[0] ? e->mqar_verdict : "not measured");
        or_unlock(o);
    }
}

void or_confirm(orch *o)
{
    or_summary *s = o->summary;
    if (o->cfg->confirm_top <= 0 || o->cfg->seeds < 2) return;
    s->seeds = o->cfg->seeds;
    db_candidate_list top = {0}, all = {0};
    or_lock(o);
    db_top_scored(o->db, o->run_id, o->cfg->confirm_top, DB_RANK_NO_BASELINES, &top);
    db_candidate_list_all(o->db, o->run_id, DB_SCORED, &all);
    or_unlock(o);
    for (int i = 0; i < all.n && !(o->cancel && *o->cancel); i++)
        if (all.items[i].is_baseline) train_seeds(o, &all.items[i]);
    for (int i = 0; i < top.n && !(o->cancel && *o->cancel); i++) train_seeds(o, &top.items[i]);
    for (int i = 0; i < all.n && s->n_confirmed < OR_MAX_CONFIRMED; i++)
        if (all.items[i].is_baseline) s->confirmed[s->n_confirmed++] = confirmed_entry(o, &all.items[i]);
    for (int i = 0; i < top.n && s->n_confirmed < OR_MAX_CONFIRMED; i++)
        s->confirmed[s->n_confirmed++] = confirmed_entry(o, &top.items[i]);
    verdicts(o, s);
    db_candidate_list_free(&top);
    db_candidate_list_free(&all);
}
