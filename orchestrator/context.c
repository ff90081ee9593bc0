/*
 * context.c — what the model's roles are told about the population: the
 * texts that fill the researcher's, analyst's and judge's prompts.
 *
 * Everything here is read from the database and said in absolute numbers a
 * person would write: the scale, each design's results (MQAR "not
 * measured" rather than -1; an early stop with its reason and numbers, never
 * as "val loss nan"), the source of every parent (a baseline's comes from
 * the binary: arch_ref.source), the siblings, the references as diffs
 * against the parent with the analysts' next ideas, what was tried and
 * failed, and a notice when the last proposal was refused. Loss curves are
 * summarised in a few points: a prompt has better uses for its bytes.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "orch_internal.h"

#define MAX_SIBLINGS 6
#define MAX_TRIED 8
#define DIFF_MAX_LINES 400

/* ---- one candidate ------------------------------------------------------------------ */

const char *or_source_of(const db_candidate *c)
{
    if (c->source) return c->source;
    const arch_ref *ref = c->is_baseline || !c->source ? arch_find(c->name) : NULL;
    return ref ? ref->source : NULL;
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "val loss 1.6690 nats (2.408 bits/byte), MQAR 0.550, 12,345 tokens/s,
 * 123,456 parameters": what was measured, in a sentence. */
static void metrics_sentence(FILE *f, const cJSON *m)
{
    double loss = json_num(m, "val_loss"), bpb = json_num(m, "val_bpb"), mqar = json_num(m, "mqar_acc");
    double tps = json_num(m, "tokens_per_s"), params = json_num(m, "params");
    if (isfinite(loss)) fprintf(f, "val loss %.4f nats/token", loss);
    else fprintf(f, "val loss not measured");
    if (isfinite(bpb)) fprintf(f, " (%.3f bits/byte)", bpb);
    if (isfinite(mqar) && mqar >= 0) fprintf(f, ", MQAR accuracy %.3f", mqar);
    else fprintf(f, ", MQAR not measured");
    if (isfinite(tps) && tps > 0) fprintf(f, ", %.0f tokens/s", tps);
    if (isfinite(params)) fprintf(f, ", %.0f parameters", params);
}

/* The candidate's results or why it has none, on one line. */
static void results_line(FILE *f, const db_candidate *c)
{
    cJSON *m = c->metrics_json ? cJSON_Parse(c->metrics_json) : NULL;
    cJSON *s = c->scores_json ? cJSON_Parse(c->scores_json) : NULL;
    const char *early = s ? json_str(s, "early_stop") : NULL;
    if (c->status == DB_SCORED && early) {
        fprintf(f, "stopped early, not trained to the end: %s", early);
    } else if (c->status == DB_SCORED && m) {
        metrics_sentence(f, m);
        if (isfinite(c->score)) fprintf(f, "; fitness %.4f", c->score);
    } else {
        fprintf(f, "%s", db_status_name(c->status));
        if (c->status_reason && *c->status_reason) fprintf(f, ": %s", c->status_reason);
    }
    cJSON_Delete(m);
    cJSON_Delete(s);
}

char *or_metrics_text(const rt_metrics *m, const char *early_stop)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    if (early_stop && *early_stop) {
        fprintf(f, "stopped early, not trained to the end: %s", early_stop);
    } else {
        fprintf(f, "val loss %.4f nats/token", m->val_loss);
        if (m->val_bpb > 0) fprintf(f, " (%.3f bits/byte)", m->val_bpb);
        if (m->mqar_acc >= 0) fprintf(f, ", MQAR accuracy %.3f", m->mqar_acc);
        else fprintf(f, ", MQAR not measured");
        fprintf(f, ", %.0f tokens/s, %ld parameters", m->tokens_per_s, m->params);
    }
    fclose(f);
    return text;
}

char *or_results_text(const db_candidate *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    if (!c) fputs("(none)", f);
    else {
        fprintf(f, "%s (#%lld%s): ", c->name, (long long)c->id, c->is_baseline ? ", a baseline" : "");
        results_line(f, c);
    }
    fclose(f);
    return text;
}

/* "next_idea: ..." of an analysis, or NULL. */
static char *next_idea(const char *analysis)
{
    const char *p = analysis ? strstr(analysis, "next_idea:") : NULL;
    if (!p) return NULL;
    p += strlen("next_idea:");
    while (*p == ' ') p++;
    return strndup(p, strcspn(p, "\n"));
}

/* ---- the experiment -------------------------------------------------------------------- */

char *or_scale_text(const orch *o)
{
    const ir_dims *d = &o->rcfg.dims;
    char *t = NULL;
    if (asprintf(&t,
                 "scale %s: %d layers, d_model %d, %d heads of dimension %d, chunk %d; sequences of %d tokens, "
                 "batch %d, %d training steps (%ld tokens), vocabulary %d. Parameter budget: at most %.0f "
                 "parameters in the whole model (1.5x DeltaNet's %ld at this scale).",
                 o->rcfg.scale, d->layers, d->model, d->heads, d->heads ? d->model / d->heads : 0, d->chunk, d->time,
                 d->batch, o->rcfg.steps, (long)o->rcfg.steps * d->batch * d->time, d->vocab,
                 1.5 * (double)o->baseline_params, o->baseline_params) < 0)
        return NULL;
    return t;
}

/* The training loss at a few points of the run: enough to see its shape. */
static void curve_points(FILE *f, const float *curve, int n)
{
    static const double at[] = {0.1, 0.25, 0.5, 0.75, 1.0};
    if (!curve || n <= 0) return;
    fprintf(f, "; training loss at step");
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        int s = (int)(at[i] * n + 0.5);
        if (s < 1) s = 1;
        if (s > n) s = n;
        fprintf(f, "%s %d: %.3f", i ? "," : "", s, curve[s - 1]);
    }
}

char *or_baselines_text(const orch *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    for (int i = 0; i < o->n_base; i++) {
        const os_baseline *b = &o->base[i];
        fprintf(f, "- %s: val loss %.4f nats/token, ", b->name, b->val_loss);
        if (b->mqar_acc >= 0) fprintf(f, "MQAR accuracy %.3f", b->mqar_acc);
        else fprintf(f, "MQAR not measured");
        fprintf(f, ", %.0f tokens/s, %ld parameters", b->tokens_per_s, b->params);
        if (b->step_cpu_s > 0) fprintf(f, ", %.3f CPU s/step", b->step_cpu_s);
        curve_points(f, b->loss_curve, b->curve_len);
        const char *role = i == o->ref_base && i == o->mqar_base ? " (the reference for loss and recall)"
                           : i == o->ref_base ? " (the reference for loss)"
                           : i == o->mqar_base ? " (the reference for recall)"
                           : !strcmp(b->name, "conv_only") ? " (the convolution-only control: no memory at all)" : "";
        fprintf(f, "%s\n", role);
    }
    if (o->n_base == 0) fputs("(not trained yet)\n", f);
    fclose(f);
    return text;
}

char *or_noise_text(orch *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    int shown = 0;
    db_candidate_list all = {0};
    if (db_candidate_list_all(o->db, o->run_id, DB_SCORED, &all) == 0)
        for (int i = 0; i < all.n; i++) {
            const db_candidate *c = &all.items[i];
            if (!c->is_baseline) continue;
            double v[64];
            int m = db_seed_values(o->db, c->id, o->rcfg.scale, o->rcfg.steps, "val_loss", v, 64);
            os_seed_stats s = os_seed_stats_of(v, m > 0 ? m : 0);
            if (s.n < 2) continue;
            fprintf(f, "%s%s: val loss %.4f +- %.4f over %d seeds (95%% interval, %.1f%% of the mean)",
                    shown ? "; " : "Seed-to-seed noise at these settings: ", c->name, s.mean, s.ci95, s.n,
                    100 * s.ci95 / s.mean);
            shown++;
        }
    db_candidate_list_free(&all);
    if (shown) fputs(". A difference smaller than that is not evidence of anything.", f);
    else fputs("Seed-to-seed noise at these settings: not measured yet in this database (`discover --confirm` "
               "measures it at the end of a run); treat loss differences below about 1% as noise.", f);
    fclose(f);
    return text;
}

/* ---- a line diff ------------------------------------------------------------------------- */

typedef struct lines {
    const char **at;
    int *len, n;
} lines;

static int split_lines(const char *text, lines *l)
{
    int cap = 64;
    l->n = 0;
    l->at = malloc(sizeof *l->at * (size_t)cap);
    l->len = malloc(sizeof *l->len * (size_t)cap);
    for (const char *p = text; p && *p && l->at && l->len;) {
        if (l->n == cap) {
            cap *= 2;
            const char **a = realloc(l->at, sizeof *a * (size_t)cap);
            int *n = a ? realloc(l->len, sizeof *n * (size_t)cap) : NULL;
            if (a) l->at = a;
            if (n) l->len = n;
            if (!a || !n) return -1;
        }
        size_t k = strcspn(p, "\n");
        l->at[l->n] = p;
        l->len[l->n++] = (int)k;
        p += k + (p[k] == '\n');
    }
    return l->at && l->len ? 0 : -1;
}

static int same_line(const lines *a, int i, const lines *b, int j)
{
    return a->len[i] == b->len[j] && !memcmp(a->at[i], b->at[j], (size_t)a->len[i]);
}

/* The lines of `to` that differ from `from`, as a unified-style diff
 * (`-` removed, `+` added, unchanged lines elided), from the longest common
 * subsequence. NULL when either text is too long to diff here. */
char *os_diff_text(const char *from, const char *to)
{
    lines a = {0}, b = {0};
    char *text = NULL;
    size_t len = 0;
    int *lcs = NULL;
    if (split_lines(from, &a) < 0 || split_lines(to, &b) < 0 || a.n > DIFF_MAX_LINES || b.n > DIFF_MAX_LINES) goto done;
    int w = b.n + 1;
    lcs = calloc((size_t)(a.n + 1) * (size_t)w, sizeof *lcs);
    if (!lcs) goto done;
    for (int i = a.n - 1; i >= 0; i--)
        for (int j = b.n - 1; j >= 0; j--)
            lcs[i * w + j] = same_line(&a, i, &b, j) ? lcs[(i + 1) * w + j + 1] + 1
                             : lcs[(i + 1) * w + j] > lcs[i * w + j + 1] ? lcs[(i + 1) * w + j] : lcs[i * w + j + 1];
    FILE *f = open_memstream(&text, &len);
    if (!f) goto done;
    int i = 0, j = 0, elided = 0;
    while (i < a.n || j < b.n) {
        if (i < a.n && j < b.n && same_line(&a, i, &b, j)) {
            elided++;
            i++, j++;
            continue;
        }
        if (elided) fprintf(f, "  ... (%d unchanged line%s)\n", elided, elided == 1 ? "" : "s");
        elided = 0;
        if (i < a.n && (j == b.n || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {   /* removals first */
            fprintf(f, "- %.*s\n", a.len[i], a.at[i]);
            i++;
        } else {
            fprintf(f, "+ %.*s\n", b.len[j], b.at[j]);
            j++;
        }
    }
    if (elided) fprintf(f, "  ... (%d unchanged line%s)\n", elided, elided == 1 ? "" : "s");
    fclose(f);
done:
    free(lcs);
    free(a.at);
    free(a.len);
    free(b.at);
    free(b.len);
    return text;
}

/* ---- the population ------------------------------------------------------------------------ */

char *or_references_text(const db_candidate *parent, const db_candidate_list *refs)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    const char *parent_src = parent ? or_source_of(parent) : NULL;
    for (int i = 0; refs && i < refs->n; i++) {
        const db_candidate *r = &refs->items[i];
        fprintf(f, "### %s (#%lld%s)\n", r->name, (long long)r->id, r->is_baseline ? ", a baseline" : "");
        if (r->motivation && *r->motivation) fprintf(f, "Motivation: %s\n", r->motivation);
        fputs("Results: ", f);
        results_line(f, r);
        fputc('\n', f);
        char *idea = next_idea(r->analysis);
        if (idea) fprintf(f, "The analyst's next idea for it: %s\n", idea);
        free(idea);
        const char *src = or_source_of(r);
        char *diff = src && parent_src ? os_diff_text(parent_src, src) : NULL;
        if (diff && *diff) fprintf(f, "Its source against the parent's (- parent, + this design):\n```diff\n%s```\n", diff);
        else if (src) fprintf(f, "Source:\n```c\n%s\n```\n", src);
        free(diff);
        fputc('\n', f);
    }
    if (!refs || refs->n == 0) fputs("(none yet)\n", f);
    fclose(f);
    return text;
}

char *or_siblings_text(orch *o, int64_t parent_id, int64_t self_id)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    db_candidate_list kids = {0};
    int shown = 0;
    if (parent_id > 0 && db_candidate_children(o->db, parent_id, &kids) == 0) {
        for (int i = kids.n - 1; i >= 0 && shown < MAX_SIBLINGS; i--) {   /* newest first */
            const db_candidate *k = &kids.items[i];
            if (k->id == self_id || k->status == DB_PROPOSED || k->status == DB_RUNNING) continue;
            fprintf(f, "- %s (#%lld): ", k->name, (long long)k->id);
            results_line(f, k);
            if (k->motivation && *k->motivation) fprintf(f, ". Idea: %.300s", k->motivation);
            fputc('\n', f);
            shown++;
        }
    }
    db_candidate_list_free(&kids);
    if (!shown) fputs(parent_id > 0 ? "(none yet: this is the parent's first finished child)\n" : "(no parent)\n", f);
    fclose(f);
    return text;
}

/* Why a candidate failed: the first report of its last attempt that has
 * reports (the stage and rule the repairs could not get past), then the
 * final reason when that says more (the repair gave up, ...). */
static void failure_line(orch *o, FILE *f, const db_candidate *c)
{
    db_attempt *a = NULL;
    int n = 0, k = -1;
    aa_reports reps = {0};
    if (db_attempt_list(o->db, c->id, &a, &n) == 0)
        for (k = n - 1; k >= 0; k--) {
            aa_reports_free(&reps);
            if (a[k].reports_json && aa_reports_from_json(a[k].reports_json, &reps) > 0) break;
        }
    if (k >= 0 && reps.n) {
        const aa_report *r = &reps.items[0];
        fprintf(f, "failed at stage %s after %d attempt%s: %s", a[k].stage, n, n == 1 ? "" : "s", r->rule);
        if (r->line > 0) fprintf(f, " (line %d)", r->line);
        fprintf(f, ": %.300s", r->message);
        if (c->status_reason && *c->status_reason && !strstr(r->message, c->status_reason))
            fprintf(f, "; in the end: %.200s", c->status_reason);
    } else {
        fprintf(f, "failed: %s", c->status_reason ? c->status_reason : "(no reason recorded)");
    }
    aa_reports_free(&reps);
    db_attempt_list_free(a, n);
}

char *or_tried_text(orch *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    db_candidate_list all = {0};
    int shown = 0;
    if (db_candidate_list_all(o->db, o->run_id, -1, &all) == 0) {
        for (int i = all.n - 1; i >= 0 && shown < MAX_TRIED; i--) {   /* newest first */
            const db_candidate *c = &all.items[i];
            if (c->is_baseline) continue;
            int early = 0;
            if (c->status == DB_SCORED && c->scores_json) {
                cJSON *s = cJSON_Parse(c->scores_json);
                early = s && json_str(s, "early_stop") != NULL;
                cJSON_Delete(s);
            }
            if (!(c->status == DB_FAILED || c->status == DB_DUPLICATE || c->status == DB_REJECTED || early)) continue;
            fprintf(f, "- %s (#%lld): ", c->name, (long long)c->id);
            if (c->status == DB_FAILED) failure_line(o, f, c);
            else results_line(f, c);
            if (c->motivation && *c->motivation) fprintf(f, ". Its idea: %.200s", c->motivation);
            fputc('\n', f);
            shown++;
        }
    }
    db_candidate_list_free(&all);
    if (!shown) fputs("(nothing has failed yet)\n", f);
    fclose(f);
    return text;
}

char *or_notice_text(orch *o)
{
    db_candidate_list all = {0};
    char *t = NULL;
    if (db_candidate_list_all(o->db, o->run_id, -1, &all) == 0) {
        for (int i = all.n - 1; i >= 0; i--) {
            const db_candidate *c = &all.items[i];
            if (c->is_baseline) continue;
            if (c->status == DB_DUPLICATE || c->status == DB_REJECTED) {
                if (asprintf(&t,
                             "Your previous proposal, %s (#%lld), was not trained: %s. Proposing it again is "
                             "wasted budget: change the mechanism itself, not its name, sizes or comments.",
                             c->name, (long long)c->id, c->status_reason ? c->status_reason : db_status_name(c->status)) < 0)
                    t = NULL;
            }
            break;   /* only the latest proposal matters here */
        }
    }
    db_candidate_list_free(&all);
    return t ? t : strdup("(none)");
}
