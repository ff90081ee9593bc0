/*
 * discover.c — the loop: open or resume a run, train the baselines, then
 * let N workers propose, evaluate and store candidates until the budget (or
 * the clock, or Ctrl-C) ends it.
 *
 * Resume: the latest run in the database continues when its scale and seed
 * match; candidates a killed process left running become interrupted and
 * are retried once (db_recover_interrupted); finished ones are never run
 * again; baselines already scored are read back, with their loss curves.
 */
#include <cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orch_internal.h"

/* The baselines; the last, the convolution-only control, trains only when a
 * model judges (its rubric's floor: "no better than the control"). */
#define CONTROL_NAME "conv_only"
static const char *const baseline_refs[OR_MAX_BASELINES] = {"delta_net", "gated_delta_net", CONTROL_NAME};
static int n_baselines(const orch *o) { return o->llm ? OR_MAX_BASELINES : OR_MAX_BASELINES - 1; }

void or_lock(orch *o) { pthread_mutex_lock(&o->lock); }
void or_unlock(orch *o) { pthread_mutex_unlock(&o->lock); }

void or_event(orch *o, int64_t candidate, const char *kind, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    or_lock(o);
    db_event_add(o->db, o->run_id, candidate, kind, "%s", msg);
    or_unlock(o);
}

void or_worker_stage(orch *o, or_worker *w, const char *fmt, ...)
{
    char buf[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    or_lock(o);
    memcpy(w->stage, buf, sizeof w->stage);
    or_unlock(o);
}

/* ---- configuration --------------------------------------------------------------- */

void or_config_defaults(or_config *c)
{
    memset(c, 0, sizeof *c);
    c->db_path = DB_DEFAULT_PATH;
    c->budget = 6;
    c->workers = 1;
    snprintf(c->scale, sizeof c->scale, "tiny");
    c->mqar = 1;
    c->sandbox = SB_PROFILE_STRICT;
    c->seed = 1;
    c->max_repairs = 3;
    c->confirm_top = 1;
    c->seeds = 3;
}

/* ---- set-up ------------------------------------------------------------------------ */

static int prepare_corpus(orch *o, char *err, size_t errlen)
{
    char dir[1024];
    if (o->cfg->data_dir) snprintf(dir, sizeof dir, "%s", o->cfg->data_dir);
    else dt_default_dir(dir, sizeof dir);
    snprintf(o->train_path, sizeof o->train_path, "%s/train.bin", dir);
    snprintf(o->val_path, sizeof o->val_path, "%s/val.bin", dir);
    if (access(o->train_path, R_OK) == 0 && access(o->val_path, R_OK) == 0) return 0;
    if (o->cfg->data_dir) {
        snprintf(err, errlen, "%s: no corpus here; run `asiarch data prepare --out %s` first", dir, dir);
        return -1;
    }
    dt_prepare_info info;
    return dt_prepare_bytes(NULL, dir, 0.05, &info, err, errlen);
}

/* The settings a score depends on, as stored with each run. */
static void run_settings(const orch *o, char *out, size_t len)
{
    const or_config *c = o->cfg;
    char data[300];
    snprintf(data, sizeof data, "%s", c->data_dir ? c->data_dir : "default");
    for (char *p = data; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '_';   /* stays a JSON string */
    snprintf(out, len, "\"scale\":\"%s\",\"seed\":%llu,\"steps\":%d,\"mqar\":%d,\"data\":\"%s\"", c->scale,
             (unsigned long long)c->seed, c->steps > 0 ? c->steps : o->rcfg.steps, c->mqar, data);
}

/* Earlier runs made at these settings: the population this run continues
 * (o->population 0) when every earlier run is one of them, and where its
 * baselines can be reused from. */
static void find_population(orch *o)
{
    db_run *runs = NULL;
    int n = 0, all_same = 1;
    char mine[512];
    run_settings(o, mine, sizeof mine);
    o->population = o->run_id;
    if (db_run_list(o->db, &runs, &n) < 0) return;
    for (int i = n - 1; i >= 0; i--) {
        if (runs[i].id == o->run_id) continue;
        int same = runs[i].config_json && strstr(runs[i].config_json, mine) != NULL;
        all_same &= same;
        if (same && o->n_reuse < (int)(sizeof o->reuse_from / sizeof *o->reuse_from)) o->reuse_from[o->n_reuse++] = runs[i].id;
    }
    for (int i = 0; i < n; i++) db_run_free(&runs[i]);
    free(runs);
    if (!all_same || !o->n_reuse) return;
    o->population = 0;
    o->summary->continued_runs = o->n_reuse;
    for (int k = 0; k < o->n_reuse; k++) {
        int64_t counts[DB_STATUS_COUNT] = {0};
        if (db_count_by_status(o->db, o->reuse_from[k], counts) == 0) o->summary->continued_designs += (int)counts[DB_SCORED];
    }
    or_event(o, 0, "continue", "continuing the population of %d earlier run%s at the same settings (%d scored designs)",
             o->n_reuse, o->n_reuse == 1 ? "" : "s", o->summary->continued_designs);
}

static int open_run(orch *o, char *err, size_t errlen)
{
    const or_config *c = o->cfg;
    db_run last;
    int rc = db_run_latest(o->db, &last);
    if (rc < 0) {
        snprintf(err, errlen, "%s", db_error(o->db));
        return -1;
    }
    if (rc == 0 && !strcmp(last.scale, c->scale) && last.seed == (int64_t)c->seed && last.status != DB_RUN_FINISHED) {
        o->run_id = last.id;
        o->summary->resumed = 1;
        db_run_set_status(o->db, last.id, DB_RUN_RUNNING);
        db_run_free(&last);
        find_population(o);
        return 0;
    }
    if (rc == 0) db_run_free(&last);
    char config[1024], settings[512];
    run_settings(o, settings, sizeof settings);
    snprintf(config, sizeof config,
             "{%s,\"budget\":%d,\"workers\":%d,\"max_repairs\":%d,\"sandbox\":\"%s\",\"proposer\":\"%s\"}",
             settings, c->budget, c->workers, c->max_repairs, sb_profile_name(c->sandbox), o->llm ? "llm" : "builtin");
    db_run_new r = {.config_json = config, .seed = (int64_t)c->seed, .scale = c->scale,
                    .proposer = o->llm ? "llm" : "builtin"};
    if (db_run_create(o->db, &r, &o->run_id) < 0) {
        snprintf(err, errlen, "%s", db_error(o->db));
        return -1;
    }
    find_population(o);
    return 0;
}

/* Every exchange of the run is recorded in <run dir>/llm/<db file>-run<id>:
 * `--llm replay:` that directory reproduces the run without the endpoint. */
static void record_llm(orch *o)
{
    if (!o->llm) return;
    const char *base = strrchr(o->cfg->db_path, '/');
    base = base ? base + 1 : o->cfg->db_path;
    char parent[1200];
    snprintf(parent, sizeof parent, "%s/llm", o->run_dir);
    mkdir(parent, 0755);
    snprintf(o->summary->llm_log_dir, sizeof o->summary->llm_log_dir, "%.900s/%.200s-run%lld", parent, base,
             (long long)o->run_id);
    if (llm_client_set_log_dir(o->llm, o->summary->llm_log_dir) < 0) o->summary->llm_log_dir[0] = 0;
}

static int open_llm(orch *o, char *err, size_t errlen)
{
    const or_config *c = o->cfg;
    if (!c->llm_url || !strcmp(c->llm_url, "builtin")) return 0;
    llm_config lc;
    llm_config_defaults(&lc);
    lc.base_url = c->llm_url;
    lc.model = c->model;
    lc.api_key = c->api_key;
    if (c->llm_timeout_s > 0) lc.timeout_s = c->llm_timeout_s;
    lc.seed = c->seed;   /* the log directory is the run's: set once the run is known (record_llm) */
    llm_error e;
    o->llm = llm_client_new(&lc, &e);
    if (!o->llm) snprintf(err, errlen, "language model: %s", e.message);
    return o->llm ? 0 : -1;
}

/* ---- baselines ------------------------------------------------------------------------ */

/* A scored baseline of this run, read back into o->base. */
static int load_baseline(orch *o, const db_candidate *c)
{
    cJSON *m = cJSON_Parse(c->metrics_json ? c->metrics_json : "");
    if (!m || o->n_base == OR_MAX_BASELINES) {
        cJSON_Delete(m);
        return -1;
    }
    os_baseline *b = &o->base[o->n_base];
    memset(b, 0, sizeof *b);
    snprintf(o->base_names[o->n_base], sizeof o->base_names[0], "%s", c->name);
    b->name = o->base_names[o->n_base];
    b->val_loss = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "val_loss"));
    cJSON *mq = cJSON_GetObjectItem(m, "mqar_acc");
    b->mqar_acc = cJSON_IsNumber(mq) ? mq->valuedouble : -1;
    b->tokens_per_s = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "tokens_per_s"));
    b->train_seconds = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "train_seconds"));
    b->params = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "params"));
    b->flops_per_token = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "flops_per_token"));
    cJSON *cpu = cJSON_GetObjectItem(m, "step_cpu_s");   /* absent in runs before it was measured */
    b->step_cpu_s = cJSON_IsNumber(cpu) && cpu->valuedouble > 0 ? cpu->valuedouble : 0;
    cJSON *curve = cJSON_GetObjectItem(m, "loss_curve");
    int n = cJSON_GetArraySize(curve);
    float *v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
    for (int i = 0; v && i < n; i++) v[i] = (float)cJSON_GetNumberValue(cJSON_GetArrayItem(curve, i));
    o->curves[o->n_base] = v;
    b->loss_curve = v;
    b->curve_len = v ? n : 0;
    if (!o->baseline_params) o->baseline_params = b->params;
    o->n_base++;
    cJSON_Delete(m);
    return 0;
}

typedef struct baseline_job {
    orch *o;
    or_worker *w;
    or_candidate c;
} baseline_job;

static void *baseline_main(void *arg)
{
    baseline_job *b = arg;
    or_worker_stage(b->o, b->w, "baseline %s", b->c.name);
    or_evaluate(b->o, b->w, &b->c);
    or_candidate_free(&b->c);
    return NULL;
}

/* The id of this run's baseline `name`, inserting it when new; 0 when it is
 * already scored (nothing to do) or cannot be stored. */
/* A copy of baseline `name` scored by an earlier run at the same settings,
 * stored in this run with its per-seed results: 1 when one was reused. */
static int reuse_baseline(orch *o, const char *name)
{
    for (int k = 0; k < o->n_reuse; k++) {
        db_candidate_list old = {0};
        const db_candidate *b = NULL;
        if (db_candidate_list_all(o->db, o->reuse_from[k], DB_SCORED, &old) == 0)
            for (int i = 0; i < old.n && !b; i++)
                if (old.items[i].is_baseline && !strcmp(old.items[i].name, name)) b = &old.items[i];
        int64_t id = 0;
        char why[160];
        snprintf(why, sizeof why, "baseline: reused from run %lld (#%lld), trained at the same settings",
                 (long long)o->reuse_from[k], b ? (long long)b->id : 0LL);
        db_candidate_new nc = {.run_id = o->run_id, .name = name, .is_baseline = 1, .motivation = why};
        db_result r = db_result_init();
        int ok = b && db_candidate_insert(o->db, &nc, &id) == 0 && db_candidate_start(o->db, id) == 0;
        if (ok) {
            r.metrics_json = b->metrics_json;
            r.score = b->score;
            r.scores_json = b->scores_json;
            r.graph_hash = b->graph_hash;
            db_attempt_new a = {.candidate_id = id, .stage = "evaluate", .ok = 1};
            ok = db_candidate_finish(o->db, id, &r, &a) == 0;
        }
        db_seed_result *sr = NULL;
        int n = 0;
        if (ok && db_seed_results(o->db, b->id, NULL, 0, &sr, &n) == 0)
            for (int i = 0; i < n; i++) db_seed_result_put(o->db, id, sr[i].seed, sr[i].scale, sr[i].steps, sr[i].metrics_json);
        db_seed_results_free(sr, n);
        if (ok) or_event(o, id, "continue", "%s", why);
        db_candidate_list_free(&old);
        if (ok) {
            o->summary->reused_baselines++;
            return 1;
        }
    }
    return 0;
}

static int64_t baseline_to_train(orch *o, const db_candidate_list *all, const char *name)
{
    int64_t id = 0;
    for (int k = 0; k < all->n; k++)
        if (all->items[k].is_baseline && !strcmp(all->items[k].name, name)) id = all->items[k].id;
    db_candidate c;
    if (id && db_candidate_get(o->db, id, &c) == 0) {
        int scored = c.status == DB_SCORED;
        db_candidate_free(&c);
        return scored ? 0 : id;
    }
    if (reuse_baseline(o, name)) return 0;
    db_candidate_new nc = {.run_id = o->run_id, .name = name, .is_baseline = 1,
                           .motivation = "baseline: the reference mixer, trained with the run's budget and seed"};
    return db_candidate_insert(o->db, &nc, &id) == 0 ? id : 0;
}

/* Both baselines at once when there are two workers: the second would idle. */
static void train_baselines(orch *o)
{
    db_candidate_list all = {0};
    db_candidate_list_all(o->db, o->run_id, -1, &all);
    baseline_job jobs[OR_MAX_BASELINES];
    pthread_t threads[OR_MAX_BASELINES];
    int n = 0;
    for (int i = 0; i < n_baselines(o); i++) {
        int64_t id = baseline_to_train(o, &all, baseline_refs[i]);
        if (!id) continue;
        jobs[n] = (baseline_job){.o = o, .w = &o->workers[n % o->cfg->workers],
                                 .c = {.id = id, .reference = baseline_refs[i], .is_baseline = 1,
                                       .name = strdup(baseline_refs[i]), .motivation = strdup("baseline")}};
        n++;
    }
    db_candidate_list_free(&all);
    for (int i = 0; i < n; i += o->cfg->workers) {
        int batch = n - i < o->cfg->workers ? n - i : o->cfg->workers;
        for (int k = 0; k < batch; k++) pthread_create(&threads[i + k], NULL, baseline_main, &jobs[i + k]);
        for (int k = 0; k < batch; k++) pthread_join(threads[i + k], NULL);
    }
    db_candidate_list_all(o->db, o->run_id, DB_SCORED, &all);
    for (int k = 0; k < all.n; k++)
        if (all.items[k].is_baseline) load_baseline(o, &all.items[k]);
    db_candidate_list_free(&all);
    /* The references come from the real baselines: the control (no memory
     * at all) can have the lowest loss of a very short run, and would then
     * make a bar no design of interest is measured against. */
    os_baseline real[OR_MAX_BASELINES];
    int map[OR_MAX_BASELINES], m = 0, r, mq = -1;
    for (int i = 0; i < o->n_base; i++)
        if (strcmp(o->base[i].name, CONTROL_NAME) != 0) real[m] = o->base[i], map[m++] = i;
    r = m ? os_reference_baseline(real, m) : -1;
    o->ref_base = o->mqar_base = -1;
    if (r >= 0) {
        o->ref = os_reference_composite(real, m, &mq);
        o->ref_base = map[r];
        o->mqar_base = mq >= 0 ? map[mq] : -1;
    }
}

const os_baseline *or_reference(const orch *o) { return o->ref_base >= 0 ? &o->ref : NULL; }

int or_metrics_from_json(const char *json, rt_metrics *m)
{
    memset(m, 0, sizeof *m);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!o) return -1;
    cJSON *v;
    m->val_loss = cJSON_IsNumber(v = cJSON_GetObjectItem(o, "val_loss")) ? v->valuedouble : NAN;
    m->train_loss = cJSON_IsNumber(v = cJSON_GetObjectItem(o, "train_loss")) ? v->valuedouble : NAN;
    m->val_bpb = cJSON_IsNumber(v = cJSON_GetObjectItem(o, "val_bpb")) ? v->valuedouble : NAN;
    m->mqar_acc = cJSON_IsNumber(v = cJSON_GetObjectItem(o, "mqar_acc")) ? v->valuedouble : -1;
    m->tokens_per_s = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "tokens_per_s"));
    m->train_seconds = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "train_seconds"));
    m->params = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "params"));
    m->steps = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "steps"));
    m->flops_per_token = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "flops_per_token"));
    v = cJSON_GetObjectItem(o, "step_cpu_s");
    m->step_cpu_s = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (isnan(m->tokens_per_s)) m->tokens_per_s = 0;
    if (isnan(m->train_seconds)) m->train_seconds = 0;
    cJSON_Delete(o);
    return 0;
}

/* ---- workers --------------------------------------------------------------------------- */

static int budget_left(orch *o)
{
    if (o->cancel && *o->cancel) return 0;
    if (o->cfg->hours > 0 && rt_now() - o->t_start > o->cfg->hours * 3600) return 0;
    return o->proposed < o->cfg->budget;
}

/* Next work item, with o->lock held: an interrupted candidate to retry, or a
 * new proposal from a selected parent. 0, 1 when there is none, -1 error. */
static int next_candidate(orch *o, or_candidate *c)
{
    if (o->cancel && *o->cancel) return 1;   /* stopping: what is interrupted stays so until a resume */
    db_candidate_list retry = {0};
    if (db_candidate_list_all(o->db, o->run_id, DB_INTERRUPTED, &retry) == 0 && retry.n > 0) {
        db_candidate *r = &retry.items[0];
        *c = (or_candidate){.id = r->id, .parent_id = r->parent_id, .name = strdup(r->name),
                            .motivation = strdup(r->motivation ? r->motivation : ""),
                            .source = r->source ? strdup(r->source) : NULL};
        db_candidate_list_free(&retry);
        o->summary->interrupted_retried++;
        return 0;
    }
    db_candidate_list_free(&retry);
    if (!budget_left(o)) return 1;
    db_candidate_list ranked = {0};
    db_rank_range(o->db, o->population, 1, OS_REF_LAST, 0, &ranked);
    double scores[OS_REF_LAST];
    for (int i = 0; i < ranked.n && i < OS_REF_LAST; i++) scores[i] = ranked.items[i].score;
    int parent_rank = -1, refs[OS_N_REFS], n_refs = 0;
    if (ranked.n > 0 && os_select(scores, ranked.n, o->rng++, &parent_rank, refs, &n_refs) < 0)
        or_event(o, 0, "error", "selection refused the ranking (unsorted or NaN scores); proposing from scratch");
    const db_candidate *parent = parent_rank >= 0 && parent_rank < ranked.n ? &ranked.items[parent_rank] : NULL;
    db_candidate_list ref_list = {.items = calloc(4, sizeof(db_candidate)), .n = 0};
    int64_t ref_ids[4];
    for (int i = 0; i < n_refs; i++) ref_ids[ref_list.n] = ranked.items[refs[i]].id, ref_list.items[ref_list.n++] = ranked.items[refs[i]];
    char err[768], why[300] = "";
    if (parent) {   /* selection made visible: in the events and to the researcher */
        snprintf(why, sizeof why,
                 "chosen at random among the top %d of %d ranked designs (every one equally likely, so the search "
                 "does not only follow the best); it ranks %d with fitness %.4f",
                 ranked.n < OS_PARENT_POOL ? ranked.n : OS_PARENT_POOL, ranked.n, parent_rank + 1, parent->score);
        or_event(o, 0, "select", "parent #%lld %s: %s", (long long)parent->id, parent->name, why);
    }
    int rc = or_propose(o, parent, why, &ref_list, c, err, sizeof err);
    o->proposed++;
    db_candidate_new nc = {.run_id = o->run_id, .parent_id = c->parent_id, .refs = ref_ids, .n_refs = n_refs,
                           .name = c->name, .motivation = c->motivation, .source = c->source, .costs = c->costs};
    if (rc < 0) {
        nc.status = DB_FAILED;
        nc.status_reason = err;
    }
    if (db_candidate_insert(o->db, &nc, &c->id) < 0) or_event(o, 0, "error", "storing a proposal: %s", db_error(o->db));
    else if (rc < 0) {
        aa_reports reps = {0};
        aa_report_add(&reps, "propose", "", 0, 0, o->llm ? "propose/answer" : "propose/builtin", "%s", err);
        char *json = aa_reports_json(&reps);
        db_attempt_new a = {.candidate_id = c->id, .stage = "propose", .reports_json = json,
                            .prompt_tokens = c->costs.prompt_tokens, .completion_tokens = c->costs.completion_tokens};
        db_attempt_add(o->db, &a, NULL);
        free(json);
        aa_reports_free(&reps);
    }
    free(ref_list.items);   /* items were borrowed from ranked */
    db_candidate_list_free(&ranked);
    if (rc < 0) {
        or_candidate_free(c);
        return next_candidate(o, c);
    }
    c->costs = (db_costs){0};   /* stored with the proposal */
    return 0;
}

static void *worker_main(void *arg)
{
    or_worker *w = arg;
    orch *o = (orch *)((char *)(w - w->index) - offsetof(orch, workers));
    for (;;) {
        or_candidate c;
        or_lock(o);
        int rc = next_candidate(o, &c);
        or_unlock(o);
        if (rc != 0) break;
        w->candidate = c.id;
        or_evaluate(o, w, &c);
        or_candidate_free(&c);
    }
    or_worker_stage(o, w, "done");
    return NULL;
}

/* ---- status line ------------------------------------------------------------------------------ */

static void draw_status(orch *o)
{
    int64_t counts[DB_STATUS_COUNT] = {0};
    or_lock(o);
    db_count_by_status(o->db, o->run_id, counts);
    db_candidate_list top = {0};
    db_top_scored(o->db, o->run_id, 1, DB_RANK_NO_BASELINES, &top);
    char line[512];
    int at = snprintf(line, sizeof line, "\r[%3.0fs] done %lld  running %lld  failed %lld  best %s %.3f ",
                      rt_now() - o->t_start, (long long)counts[DB_SCORED], (long long)counts[DB_RUNNING],
                      (long long)(counts[DB_FAILED] + counts[DB_REJECTED] + counts[DB_DUPLICATE]),
                      top.n ? top.items[0].name : "-", top.n ? top.items[0].score : 0.0);
    for (int i = 0; i < o->cfg->workers && at < (int)sizeof line - 40; i++)
        at += snprintf(line + at, sizeof line - (size_t)at, "| w%d %.30s ", i + 1, o->workers[i].stage);
    or_unlock(o);
    db_candidate_list_free(&top);
    for (char *p = line + 1; *p; p++)   /* names come from candidates and the database: no escapes */
        if ((unsigned char)*p < 32 || *p == 127) *p = '?';
    fprintf(stderr, "%-150.150s", line);
    fflush(stderr);
}

static void run_workers(orch *o)
{
    pthread_t threads[OR_MAX_WORKERS];
    int n = o->cfg->workers;
    for (int i = 0; i < n; i++) pthread_create(&threads[i], NULL, worker_main, &o->workers[i]);
    volatile int running = 1;
    while (running) {
        running = 0;
        for (int i = 0; i < n; i++) {
            or_lock(o);
            int done = !strcmp(o->workers[i].stage, "done");
            or_unlock(o);
            running |= !done;
        }
        if (o->cfg->status_line) draw_status(o);
        if (running) usleep(250000);
    }
    for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
    if (o->cfg->status_line) fputc('\n', stderr);
}

/* ---- summary ----------------------------------------------------------------------------------- */

/* Baselines, repairs and early stops of the run, from its candidates. */
static void count_work(orch *o, or_summary *s)
{
    db_candidate_list all = {0};
    if (db_candidate_list_all(o->db, o->run_id, -1, &all) < 0) return;
    for (int i = 0; i < all.n; i++) {
        const db_candidate *c = &all.items[i];
        s->baselines += c->is_baseline && c->status == DB_SCORED;
        s->early_stops += c->status == DB_SCORED && c->scores_json && strstr(c->scores_json, "\"early_stop\"");
        db_attempt *a = NULL;
        int n = 0;
        if (db_attempt_list(o->db, c->id, &a, &n) == 0 && n > 1) s->repairs += n - 1;
        db_attempt_list_free(a, n);
    }
    db_candidate_list_free(&all);
}

static void summarise(orch *o, or_summary *s)
{
    int64_t counts[DB_STATUS_COUNT] = {0};
    db_count_by_status(o->db, o->run_id, counts);
    s->run_id = o->run_id;
    s->stopped = o->cancel && *o->cancel;
    s->scored = (int)counts[DB_SCORED];
    s->failed = (int)counts[DB_FAILED];
    s->rejected = (int)counts[DB_REJECTED];
    s->duplicates = (int)counts[DB_DUPLICATE];
    count_work(o, s);
    db_candidate_list top = {0};
    db_top_scored(o->db, o->run_id, 1, DB_RANK_NO_BASELINES, &top);
    if (top.n) {
        s->best_id = (int)top.items[0].id;
        s->best_score = top.items[0].score;
        snprintf(s->best_name, sizeof s->best_name, "%s", top.items[0].name);
    }
    db_candidate_list_free(&top);
    s->wall_s = rt_now() - o->t_start;
    s->training_s = o->training_s;
    double capacity = s->wall_s * o->cfg->workers;
    s->overhead_share = capacity > 0 ? 1.0 - o->training_s / capacity : 0;
    db_costs costs;
    if (db_run_costs(o->db, o->run_id, &costs) == 0) {
        s->prompt_tokens = costs.prompt_tokens;
        s->completion_tokens = costs.completion_tokens;
        s->cost_usd = costs.cost_usd;
    }
}

static void cleanup(orch *o)
{
    for (int i = 0; i < o->n_sigs; i++) {
        os_shingles_free(&o->sigs[i].structure);
        os_shingles_free(&o->sigs[i].motivation);
        free(o->sig_names[i]);
    }
    free(o->sigs);
    free(o->sig_names);
    for (int i = 0; i < OR_MAX_BASELINES; i++) free(o->curves[i]);
    cog_base_free(&o->cognition);
    if (o->llm) llm_client_free(o->llm);
    if (o->db) db_close(o->db);
    pthread_mutex_destroy(&o->lock);
}

int or_discover(const or_config *cfg, volatile int *cancel, or_summary *summary, char *err, size_t errlen)
{
    memset(summary, 0, sizeof *summary);
    if (cfg->workers < 1 || cfg->workers > OR_MAX_WORKERS) {
        snprintf(err, errlen, "--workers must be between 1 and %d", OR_MAX_WORKERS);
        return -1;
    }
    orch *o = calloc(1, sizeof *o);
    if (!o) return -1;
    o->cfg = cfg;
    o->cancel = cancel;
    o->summary = summary;
    o->rng = cfg->seed * 0x9E3779B97F4A7C15ull + 1;
    o->t_start = rt_now();
    o->ref_base = o->mqar_base = -1;
    /* Recursive: events are logged both from code that holds the lock and
     * from code that does not. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&o->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    for (int i = 0; i < OR_MAX_WORKERS; i++) {
        o->workers[i].index = i;
        snprintf(o->workers[i].stage, sizeof o->workers[i].stage, "starting");
    }
    snprintf(o->run_dir, sizeof o->run_dir, "%s", cfg->run_dir ? cfg->run_dir : "asiarch-run");
    mkdir(o->run_dir, 0755);
    int threads = omp_get_max_threads() / cfg->workers;
    o->threads_per_runner = threads > 0 ? threads : 1;
    int rc = -1;
    char why[256];
    if (sb_kernel_support(why, sizeof why) < 0 && cfg->sandbox != SB_PROFILE_OFF) snprintf(err, errlen, "%s", why);
    else if (rt_config_scale(cfg->scale, &o->rcfg, err, errlen) < 0) {
    } else if (prepare_corpus(o, err, errlen) == 0 && db_open(cfg->db_path, &o->db, err, errlen) == 0 &&
               open_llm(o, err, errlen) == 0 && cog_base_load_embedded(&o->cognition, err, errlen) >= 0 &&
               open_run(o, err, errlen) == 0) {
        record_llm(o);
        if (cfg->steps > 0) o->rcfg.steps = cfg->steps;
        if (!cfg->mqar) o->rcfg.mqar_steps = 0;
        o->rcfg.seed = cfg->seed;
        db_candidate_list retry = {0};
        db_recover_interrupted(o->db, o->run_id, &retry);
        db_candidate_list_free(&retry);
        db_candidate_list mine = {0};
        db_candidate_list_all(o->db, o->run_id, -1, &mine);
        for (int i = 0; i < mine.n; i++) o->proposed += !mine.items[i].is_baseline;
        db_candidate_list_free(&mine);
        /* A resumed run continues its random sequence instead of replaying
         * it (which would propose the same genomes again). */
        o->rng ^= (uint64_t)o->proposed * 0xD1B54A32D192ED03ull;
        /* A later run of the database draws its own sequence, not the first run's again. */
        if (o->run_id > 1) o->rng ^= (uint64_t)o->run_id * 0x9E3779B97F4A7C15ull;
        train_baselines(o);
        if (o->n_base == 0 && !(cancel && *cancel)) {
            snprintf(err, errlen, "the baselines did not train (see `asiarch db list --status failed`)");
        } else {
            run_workers(o);
            if (!(cancel && *cancel)) or_confirm(o);
            db_run_set_status(o->db, o->run_id, cancel && *cancel ? DB_RUN_STOPPED : DB_RUN_FINISHED);
            summarise(o, summary);
            rc = 0;
        }
    }
    cleanup(o);
    free(o);
    return rc;
}
