/*
 * evaluate.c — one candidate through the pipeline, with the repair loop.
 *
 *   check (libclang) -> compile (clang child) -> verify in a runner (link,
 *   build, causality, complexity, budget; gives the graph hash and the IR)
 *   -> exact and near duplicates -> train in a runner (early stop against
 *   the baseline's loss curve) -> score -> analyse -> store
 *
 * A failure at any stage before the score is an attempt, stored with its
 * stage and reports; the proposer's repair gets the source and the exact
 * reports, up to max_repairs times. Early stops and duplicates are final:
 * repairing them would not change the verdict.
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orch_internal.h"

void or_candidate_free(or_candidate *c)
{
    free(c->name);
    free(c->motivation);
    free(c->source);
    memset(c, 0, sizeof *c);
}

/* ---- what a run of the stages produced --------------------------------------- */

typedef enum stage_end { END_OK, END_REPAIRABLE, END_FINAL } stage_end;

typedef struct stages {
    aa_reports reports;
    char checkpoint[1200];      /* the trained candidate's parameters ("" when none), removed when done */
    char stage[16];
    rt_metrics metrics;
    rt_verify_info info;
    char graph_hash[32];
    char *ir_text;
    db_status final_status;     /* END_FINAL: failed, duplicate or rejected */
    char reason[800];
    double train_s;
    double novelty;             /* 1 - similarity to the closest earlier candidate */
    char early_stop[800];       /* why training was stopped early ("" when it ran to the end) */
} stages;

static void stages_free(stages *s)
{
    if (s->checkpoint[0]) unlink(s->checkpoint);
    aa_reports_free(&s->reports);
    free(s->ir_text);
    memset(s, 0, sizeof *s);
}

static stage_end fail_at(stages *s, const char *stage, stage_end e)
{
    snprintf(s->stage, sizeof s->stage, "%s", stage);
    return e;
}

static void take_reports(stages *s, sb_result *res)
{
    for (int i = 0; i < res->reports.n; i++) {
        aa_report *r = &res->reports.items[i];
        aa_report *d = aa_report_add(&s->reports, r->stage, r->file, r->line, r->col, r->rule, "%s", r->message);
        if (d) memcpy(d->snippet, r->snippet, sizeof d->snippet);
    }
}

/* ---- the stages ------------------------------------------------------------------- */

static void base_job(orch *o, sb_job *job, sb_job_kind kind)
{
    sb_job_init(job, kind);
    job->profile = o->cfg->sandbox;
    job->cuda = o->cfg->cuda;
    job->gpu_precision = o->cfg->gpu_precision;
    job->gpu_deterministic = o->cfg->gpu_deterministic;
    job->cfg = o->rcfg;
    job->run_dir = o->run_dir;
    job->limits.threads = o->threads_per_runner;
    job->limits.address_space = sb_memory_per_runner(o->cfg->workers);
    job->cancel = o->cancel;
    double base_s = o->n_base ? o->base[0].train_seconds : 0;
    job->limits.wall_s = o->cfg->time_limit_s > 0 ? o->cfg->time_limit_s : base_s > 0 ? 20 * base_s + 30 : 0;
}

static stage_end front_end(orch *o, or_candidate *c, jit_source *src, jit_bitcode *bc, stages *s)
{
    char path[160];
    snprintf(path, sizeof path, "%s.c", c->name);
    if (jit_source_from_string(path, c->source, src) < 0) {
        aa_report_add(&s->reports, "check", path, 0, 0, "check/source", "the source is empty or larger than 1 MiB");
        return fail_at(s, "check", END_REPAIRABLE);
    }
    if (jit_check(src, &s->reports) != 0) return fail_at(s, "check", END_REPAIRABLE);
    jit_compile_opts co;
    jit_compile_defaults(&co);
    if (jit_compile(src, &co, bc, &s->reports) < 0) return fail_at(s, "compile", END_REPAIRABLE);
    (void)o;
    return END_OK;
}

static stage_end verify_in_runner(orch *o, or_worker *w, or_candidate *c, const jit_source *src,
                                  const jit_bitcode *bc, stages *s)
{
    or_worker_stage(o, w, "verify #%lld", (long long)c->id);
    sb_job job;
    base_job(o, &job, SB_JOB_VERIFY);
    job.source = src;
    job.bitcode = bc;
    sb_result res;
    sb_run(&job, &res);
    stage_end e = END_OK;
    if (res.outcome == SB_STOPPED) {
        take_reports(s, &res);
        e = fail_at(s, "verify", END_FINAL);
        s->final_status = DB_FAILED;
        snprintf(s->reason, sizeof s->reason, "stopped while verifying");
    } else if (res.outcome != SB_DONE) {
        take_reports(s, &res);
        e = fail_at(s, res.reports.n ? res.reports.items[0].stage : "verify", END_REPAIRABLE);
    } else {
        s->info = res.verify_info;
        snprintf(s->graph_hash, sizeof s->graph_hash, "%016llx", (unsigned long long)res.verify_info.graph_hash);
        s->ir_text = res.text;
        res.text = NULL;
    }
    sb_result_free(&res);
    return e;
}

/* Remember a verified candidate's signature (o->lock held). */
static void add_signature(orch *o, const char *name, os_shingle_set st, os_shingle_set mo)
{
    if (o->n_sigs == o->cap_sigs) {
        int cap = o->cap_sigs ? 2 * o->cap_sigs : 64;
        os_candidate_sig *s = realloc(o->sigs, sizeof *s * (size_t)cap);
        char **n = s ? realloc(o->sig_names, sizeof *n * (size_t)cap) : NULL;
        if (s) o->sigs = s;
        if (!s || !n) {
            os_shingles_free(&st);
            os_shingles_free(&mo);
            return;
        }
        o->sig_names = n;
        o->cap_sigs = cap;
    }
    o->sig_names[o->n_sigs] = strdup(name);
    o->sigs[o->n_sigs] = (os_candidate_sig){.name = o->sig_names[o->n_sigs], .structure = st, .motivation = mo};
    o->n_sigs++;
}

/* The novelty judge (the model when one is configured, else the rule)
 * decides about a near duplicate; 1 when it is novel after all. */
static int judged_novel(orch *o, or_candidate *c, const char *closest, double similarity, char *why, size_t len)
{
    llm_novelty v = {0};
    os_rule_novelty(similarity, closest, OS_NEAR_DUP_THRESHOLD, &v);
    int novel = v.novel;
    snprintf(why, len, "%s", v.reason ? v.reason : "");
    llm_novelty_free(&v);
    if (!o->llm) return novel;
    char sim[256], err[256];
    snprintf(sim, sizeof sim, "%s (structure and motivation similarity %.2f)", closest, similarity);
    llm_var vars[] = {{"name", c->name}, {"motivation", c->motivation}, {"source", c->source}, {"similar", sim}};
    char *answer = or_ask(o, "novelty", vars, 4, &c->costs, err, sizeof err);
    llm_error e;
    if (answer && llm_parse_novelty(answer, &v, &e) == 0) {
        novel = v.novel;
        snprintf(why, len, "novelty judge: %s", v.reason ? v.reason : "");
        llm_novelty_free(&v);
    } else {
        snprintf(why + strlen(why), len - strlen(why), " (the novelty judge's answer was not usable: %.120s)",
                 answer ? e.message : err);
    }
    free(answer);
    return novel;
}

/* Exact duplicates by graph hash; near ones by structure and motivation. */
static stage_end novelty(orch *o, or_candidate *c, stages *s)
{
    int64_t twin = 0;
    s->novelty = 1;
    or_lock(o);
    int rc = db_find_graph_hash(o->db, s->graph_hash, c->id, &twin);
    or_unlock(o);
    if (rc == 0 && twin > 0) {
        s->final_status = DB_DUPLICATE;
        snprintf(s->reason, sizeof s->reason, "the same graph (hash %s) as candidate #%lld", s->graph_hash,
                 (long long)twin);
        return fail_at(s, "novelty", END_FINAL);
    }
    char *structure = s->ir_text ? os_structure_text(s->ir_text) : NULL;
    os_shingle_set st = {0}, mo = {0};
    os_shingles(structure ? structure : "", OS_STRUCTURE_K, &st);
    os_shingles(c->motivation ? c->motivation : "", OS_TEXT_K, &mo);
    free(structure);
    int closest = -1;
    double sim = 0;
    or_lock(o);
    os_near_duplicate(&st, &mo, o->sigs, o->n_sigs, OS_NEAR_DUP_THRESHOLD, &closest, &sim);
    char closest_name[128] = "";
    if (closest >= 0) snprintf(closest_name, sizeof closest_name, "%s", o->sigs[closest].name);
    add_signature(o, c->name, st, mo);
    or_unlock(o);
    s->novelty = 1 - sim;
    char why[512];
    if (closest >= 0 && sim >= OS_NEAR_DUP_THRESHOLD && !judged_novel(o, c, closest_name, sim, why, sizeof why)) {
        s->final_status = DB_REJECTED;
        snprintf(s->reason, sizeof s->reason, "a near duplicate of %s (similarity %.2f): %.300s", closest_name, sim, why);
        return fail_at(s, "novelty", END_FINAL);
    }
    return END_OK;
}

typedef struct stop_ctx {
    orch *o;
    or_worker *w;
    or_candidate *c;
    os_stop_state state;
    float *curve;
    int curve_cap;
    int suspect;
    int last_step;
    float last_loss;
    /* CPU time per step after the warm-up, measured the same way for
     * baselines and candidates (the baselines' is the yardstick) */
    int timed_from_step, timed_to_step;
    double timed_from_cpu, timed_to_cpu;
} stop_ctx;

static void time_steps(stop_ctx *sc, const sb_progress *p, int warmup_steps)
{
    if (!(p->cpu_s >= 0)) return;
    if (!sc->timed_from_step) {
        if (p->step >= warmup_steps) sc->timed_from_step = p->step, sc->timed_from_cpu = p->cpu_s;
        return;
    }
    sc->timed_to_step = p->step;
    sc->timed_to_cpu = p->cpu_s;
}

static double step_cpu_seconds(const stop_ctx *sc)
{
    int n = sc->timed_to_step - sc->timed_from_step;
    return sc->timed_from_step && n > 0 ? (sc->timed_to_cpu - sc->timed_from_cpu) / n : 0;
}

static int should_stop(void *ctx, const sb_progress *p, char *reason, size_t len)
{
    stop_ctx *sc = ctx;
    int step = p->step, steps = p->steps;
    if (sc->curve && step >= 1 && step <= sc->curve_cap) sc->curve[step - 1] = p->loss;
    sc->last_step = step;
    sc->last_loss = p->loss;
    os_stop_opts opts;
    os_stop_defaults(&opts);
    time_steps(sc, p, opts.slow_warmup_steps);
    or_worker_stage(sc->o, sc->w, "train #%lld %d/%d loss %.3f", (long long)sc->c->id, step, steps, (double)p->loss);
    if (sc->c->is_baseline || sc->o->n_base == 0) return 0;
    os_stop_verdict v = os_early_stop_check(&sc->state, or_reference(sc->o), step, steps, p->loss, p->cpu_s, &opts,
                                            reason, len);
    if (v == OS_SUSPECT) {
        or_lock(sc->o);
        or_event(sc->o, sc->c->id, "suspicious", "%s", reason);
        or_unlock(sc->o);
        sc->suspect = 1;
        return 0;
    }
    return v != OS_CONTINUE;
}

static stage_end train_in_runner(orch *o, or_worker *w, or_candidate *c, const jit_source *src,
                                 const jit_bitcode *bc, stages *s, float *curve)
{
    sb_job job;
    base_job(o, &job, SB_JOB_TRAIN);
    if (c->reference) job.reference = c->reference;
    else {
        job.source = src;
        job.bitcode = bc;
    }
    job.verify = 0;   /* verified in its own runner already; the trained model is checked again there */
    job.train_path = o->train_path;
    job.val_path = o->val_path;
    if (!c->is_baseline) {   /* kept until scored: a suspicious result is re-verified on these weights */
        snprintf(s->checkpoint, sizeof s->checkpoint, "%s/candidate-%lld.ckpt", o->run_dir, (long long)c->id);
        job.save_path = s->checkpoint;
    }
    stop_ctx sc = {.o = o, .w = w, .c = c, .curve = curve, .curve_cap = o->rcfg.steps,
                   .state = {.flops_per_token = s->info.flops_per_token}};
    job.should_stop = should_stop;
    job.stop_ctx = &sc;
    sb_result res;
    sb_run(&job, &res);
    s->train_s = res.wall_s;
    stage_end e = END_OK;
    int early = res.outcome == SB_STOPPED && res.reports.n && !strcmp(res.reports.items[0].rule, "train/early-stop");
    if (res.outcome == SB_DONE && res.have_metrics) {
        s->metrics = res.metrics;
        s->metrics.step_cpu_s = step_cpu_seconds(&sc);
        if (!s->graph_hash[0]) snprintf(s->graph_hash, sizeof s->graph_hash, "%016llx",
                                        (unsigned long long)res.metrics.graph_hash);
    } else if (early) {
        /* Scored as it stood: no validation loss, so the loss component is
         * the worst; the curve so far and the reason are kept. */
        memset(&s->metrics, 0, sizeof s->metrics);
        snprintf(s->metrics.name, sizeof s->metrics.name, "%s", c->name);
        s->metrics.steps = sc.last_step;
        s->metrics.train_loss = sc.last_loss;
        s->metrics.val_loss = NAN;
        s->metrics.val_bpb = NAN;
        s->metrics.mqar_acc = -1;
        s->metrics.diverged = !isfinite(sc.last_loss);
        s->metrics.params = s->info.params;
        snprintf(s->early_stop, sizeof s->early_stop, "%s", res.reports.items[0].message);
    } else {
        take_reports(s, &res);
        if (res.have_metrics) s->metrics = res.metrics;
        int stopped = res.outcome == SB_STOPPED;
        e = fail_at(s, res.reports.n ? res.reports.items[0].stage : "train", stopped ? END_FINAL : END_REPAIRABLE);
        if (stopped) {
            s->final_status = DB_FAILED;
            snprintf(s->reason, sizeof s->reason, "%s", res.reports.n ? res.reports.items[0].message : "stopped");
        }
    }
    sb_result_free(&res);
    return e;
}

static stage_end run_stages(orch *o, or_worker *w, or_candidate *c, stages *s, float *curve)
{
    jit_source src = {0};
    jit_bitcode bc = {0};
    stage_end e = c->reference ? END_OK : front_end(o, c, &src, &bc, s);
    if (e == END_OK && !c->reference) e = verify_in_runner(o, w, c, &src, &bc, s);
    if (e == END_OK && !c->reference) e = novelty(o, c, s);
    if (e == END_OK) e = train_in_runner(o, w, c, &src, &bc, s, curve);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    return e;
}

/* ---- storing ------------------------------------------------------------------------ */

static void add_number(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static char *metrics_json(const rt_metrics *m, const float *curve, int n, int early_stopped)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "early_stopped", early_stopped);
    add_number(o, "val_loss", m->val_loss);
    add_number(o, "val_bpb", m->val_bpb);
    add_number(o, "train_loss", m->train_loss);
    if (m->mqar_acc >= 0) add_number(o, "mqar_acc", m->mqar_acc);
    add_number(o, "tokens_per_s", m->tokens_per_s);
    add_number(o, "train_seconds", m->train_seconds);
    cJSON_AddNumberToObject(o, "params", (double)m->params);
    cJSON_AddNumberToObject(o, "steps", m->steps);
    add_number(o, "flops_per_token", m->flops_per_token);
    if (m->step_cpu_s > 0) add_number(o, "step_cpu_s", m->step_cpu_s);
    if (m->device[0]) cJSON_AddStringToObject(o, "device", m->device);
    if (curve) {
        cJSON *arr = cJSON_AddArrayToObject(o, "loss_curve");
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(isfinite(curve[i]) ? curve[i] : -1));
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static char *scores_json(const os_fitness_parts *p, const llm_judgement *j, double fitness, int suspicious,
                         const char *early_stop)
{
    cJSON *o = p ? os_fitness_parts_json(p) : cJSON_CreateObject();
    add_number(o, "fitness", fitness);
    cJSON_AddNumberToObject(o, "performance", j->performance);
    cJSON_AddNumberToObject(o, "innovation", j->innovation);
    cJSON_AddNumberToObject(o, "complexity", j->complexity);
    cJSON_AddStringToObject(o, "judge_rationale", j->rationale ? j->rationale : "");
    cJSON_AddBoolToObject(o, "suspicious", suspicious);
    if (early_stop && *early_stop) cJSON_AddStringToObject(o, "early_stop", early_stop);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void store_attempt(orch *o, or_candidate *c, const stages *s, int ok)
{
    char *reps = aa_reports_json(&s->reports);
    db_attempt_new a = {.candidate_id = c->id, .stage = ok ? "evaluate" : s->stage, .ok = ok,
                        .reports_json = reps, .source = c->source};
    or_lock(o);
    if (db_attempt_add(o->db, &a, NULL) < 0) or_event(o, c->id, "error", "storing an attempt: %s", db_error(o->db));
    or_unlock(o);
    free(reps);
}

static void finish(orch *o, or_candidate *c, db_status st, const char *reason, const char *metrics,
                   double score, const char *scores, const char *analysis, const stages *s)
{
    db_result r = db_result_init();
    r.status = st;
    r.reason = reason;
    r.metrics_json = metrics;
    r.score = score;
    r.scores_json = scores;
    r.analysis = analysis;
    r.graph_hash = s->graph_hash[0] ? s->graph_hash : NULL;
    if (!c->is_baseline) {   /* after repairs: the code that was last evaluated, not the first proposal */
        r.name = c->name;
        r.motivation = c->motivation;
        r.source = c->source;
    }
    r.costs = c->costs;
    r.costs.cpu_seconds = s->train_s * o->threads_per_runner;
    char *reps = aa_reports_json(&s->reports);
    db_attempt_new last = {.candidate_id = c->id, .stage = st == DB_SCORED ? "evaluate" : s->stage,
                           .ok = st == DB_SCORED, .reports_json = reps, .source = c->source};
    or_lock(o);
    if (db_candidate_finish(o->db, c->id, &r, &last) < 0)
        or_event(o, c->id, "error", "storing the result: %s", db_error(o->db));
    or_unlock(o);
    free(reps);
}

/* For a candidate that beats the baseline by a suspicious margin: its
 * trained weights, loaded into the graph it was trained with (same sizes),
 * are checked again with another seed and enough passes to test every
 * position of every sequence, on real validation text. 0 passed; else the
 * reason is in why. */
static int reverify(orch *o, or_candidate *c, const stages *trained, char *why, size_t len)
{
    jit_source src = {0};
    jit_bitcode bc = {0};
    stages s = {0};
    int rc = -1;
    snprintf(why, len, "the candidate could not be compiled again");
    if (!trained->checkpoint[0] || access(trained->checkpoint, R_OK) != 0) {
        snprintf(why, len, "its trained weights were not saved");
    } else if (front_end(o, c, &src, &bc, &s) == END_OK) {
        sb_job job;
        base_job(o, &job, SB_JOB_EVAL);
        job.source = &src;
        job.bitcode = &bc;
        job.train_path = o->train_path;   /* the runner reads both shards */
        job.val_path = o->val_path;
        job.checkpoint_path = trained->checkpoint;
        job.verify_opts.seed = o->cfg->seed * 7919 + 17;
        job.verify_opts.flow_rounds = 8 * RT_FLOW_ROUNDS_AFTER;
        sb_result res;
        sb_run(&job, &res);
        rc = res.outcome == SB_DONE && res.have_metrics ? 0 : -1;
        if (rc < 0)
            snprintf(why, len, "%s: %s", res.reports.n ? res.reports.items[0].rule : sb_outcome_name(res.outcome),
                     res.reports.n ? res.reports.items[0].message : "no result");
        sb_result_free(&res);
    }
    stages_free(&s);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    return rc;
}

char *or_train_seed(orch *o, const db_candidate *c, uint64_t seed, char *why, size_t len)
{
    jit_source src = {0};
    jit_bitcode bc = {0};
    stages s = {0};
    char *json = NULL;
    sb_job job;
    base_job(o, &job, SB_JOB_TRAIN);
    job.cfg.seed = seed;
    job.verify_opts.seed = seed * 7919 + 17;
    job.train_path = o->train_path;
    job.val_path = o->val_path;
    or_candidate oc = {.id = c->id, .name = c->name, .source = c->source};
    if (c->is_baseline || !c->source) {
        job.reference = c->name;
    } else if (front_end(o, &oc, &src, &bc, &s) == END_OK) {
        job.source = &src;
        job.bitcode = &bc;
    } else {
        snprintf(why, len, "it no longer compiles: %s", s.reports.n ? s.reports.items[0].message : "?");
        goto done;
    }
    sb_result res;
    sb_run(&job, &res);
    or_lock(o);
    o->training_s += res.wall_s;
    or_unlock(o);
    if (res.outcome == SB_DONE && res.have_metrics && !res.metrics.diverged)
        json = metrics_json(&res.metrics, NULL, 0, 0);
    else
        snprintf(why, len, "%s: %s", res.reports.n ? res.reports.items[0].rule : sb_outcome_name(res.outcome),
                 res.reports.n ? res.reports.items[0].message : res.metrics.diverged ? "the loss diverged" : "no result");
    sb_result_free(&res);
done:
    stages_free(&s);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    return json;
}

/* Score a trained candidate and store it with its analysis. */
static void score_and_store(orch *o, or_candidate *c, stages *s, const float *curve)
{
    double novelty = s->novelty;
    llm_judgement j = {0};
    or_judge(o, c, &s->metrics, s->early_stop, novelty, s->metrics.params, &j);
    os_fitness_parts parts;
    const os_baseline *ref = or_reference(o);
    /* Baselines are scored against the reference too, without a judge. */
    double judge = c->is_baseline ? NAN : os_judge_norm(j.performance, j.innovation, j.complexity);
    double fitness = ref ? os_fitness(&s->metrics, ref, judge, &parts) : 0.5;
    char why[256] = "", failed[900];
    int suspicious = ref && !c->is_baseline && os_suspicious(&s->metrics, ref, why, sizeof why);
    if (suspicious && reverify(o, c, s, failed, sizeof failed) != 0) {
        or_lock(o);
        or_event(o, c->id, "suspicious", "%s; re-verification of the trained model FAILED: %.600s", why, failed);
        or_unlock(o);
        aa_report_add(&s->reports, "verify", c->name, 0, 0, "verify/reverification",
                      "beat the baseline suspiciously (%s), and its trained weights failed re-verification: %.500s",
                      why, failed);
        finish(o, c, DB_FAILED, "beat the baseline suspiciously and failed re-verification of its trained model",
               NULL, NAN, NULL, NULL, s);
        llm_judgement_free(&j);
        return;
    }
    if (suspicious) {
        or_lock(o);
        or_event(o, c->id, "suspicious", "%s; its trained model re-verified (another seed, every position): passed",
                 why);
        or_unlock(o);
    }
    db_costs extra = {0};
    char *analysis = c->is_baseline ? NULL : or_analyse(o, c, &s->metrics, s->early_stop, &extra);
    if (s->early_stop[0]) {
        or_lock(o);
        or_event(o, c->id, "early-stop", "%s", s->early_stop);
        or_unlock(o);
    }
    c->costs.prompt_tokens += extra.prompt_tokens;
    c->costs.completion_tokens += extra.completion_tokens;
    c->costs.cost_usd += extra.cost_usd;
    char *mj = metrics_json(&s->metrics, curve, curve ? s->metrics.steps : 0, s->early_stop[0] != 0);
    char *sj = scores_json(ref ? &parts : NULL, &j, fitness, suspicious, s->early_stop);
    finish(o, c, DB_SCORED, NULL, mj, fitness, sj, analysis, s);
    free(mj);
    free(sj);
    free(analysis);
    llm_judgement_free(&j);
}

static int repair(orch *o, or_worker *w, or_candidate *c, const stages *s, int attempt)
{
    char err[512];
    or_worker_stage(o, w, "repair #%lld (%s)", (long long)c->id, s->stage);
    if (or_repair(o, c, s->stage, &s->reports, attempt, err, sizeof err) == 0) return 0;
    or_event(o, c->id, "repair", "repair %d failed: %s", attempt, err);
    return -1;
}

int or_evaluate(orch *o, or_worker *w, or_candidate *c)
{
    or_lock(o);
    int started = db_candidate_start(o->db, c->id);
    or_unlock(o);
    if (started < 0) return -1;
    float *curve = calloc((size_t)o->rcfg.steps + 1, sizeof *curve);
    for (int attempt = 1;; attempt++) {
        stages s = {0};
        stage_end e = run_stages(o, w, c, &s, curve);
        or_lock(o);
        o->training_s += s.train_s;
        or_unlock(o);
        if (o->cancel && *o->cancel) {
            or_lock(o);
            db_candidate_set_status(o->db, c->id, DB_INTERRUPTED, "discover was stopped (Ctrl-C); retried on resume");
            or_unlock(o);
            stages_free(&s);
            break;
        }
        if (e == END_OK) {
            score_and_store(o, c, &s, curve);   /* every curve is kept: the report plots them */
            if (c->is_baseline && o->n_base < OR_MAX_BASELINES) {
                /* the caller reads the metrics back from the database */
            }
            stages_free(&s);
            break;
        }
        if (e == END_FINAL || attempt > o->cfg->max_repairs || c->is_baseline) {
            char reason[900];
            if (e == END_FINAL) snprintf(reason, sizeof reason, "%s", s.reason);
            else snprintf(reason, sizeof reason, "%s failed after %d repair%s: %.400s", s.stage, attempt - 1,
                          attempt == 2 ? "" : "s", s.reports.n ? s.reports.items[0].message : "");
            finish(o, c, e == END_FINAL ? s.final_status : DB_FAILED, reason, NULL, NAN, NULL, NULL, &s);
            stages_free(&s);
            break;
        }
        store_attempt(o, c, &s, 0);
        int repaired = repair(o, w, c, &s, attempt);
        stages_free(&s);
        if (repaired < 0) {
            stages none = {0};
            snprintf(none.stage, sizeof none.stage, "propose");
            finish(o, c, DB_FAILED, "the repair produced no usable source", NULL, NAN, NULL, NULL, &none);
            break;
        }
    }
    free(curve);
    or_worker_stage(o, w, "idle");
    return 0;
}
