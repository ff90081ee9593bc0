/*
 * propose.c — where new mixers come from, and their repairs, analyses and
 * judgements.
 *
 * builtin  regularised evolution over the genome grammar (genome.h): the
 *          parent's genome (recovered from the comment in its source) is
 *          mutated and rendered to DSL source; a failed candidate is repaired
 *          by a simplifying mutation. Analyst and judge are the rule-based
 *          stand-ins of score.h, which say so in their text.
 * llm      an OpenAI-compatible endpoint with the prompts in prompts/: the
 *          researcher gets the parent (source, motivation, results, analysis),
 *          the references, the baselines, retrieved cognition and the DSL
 *          header; the repair role gets the source and the exact reports.
 * A malformed answer is a failed attempt with the parser's reason, never a
 * crash.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genome.h"
#include "orch_internal.h"

/* ---- small text helpers -------------------------------------------------------- */

/* The string literal of MACRO("...") in src, or NULL. */
static char *macro_string(const char *src, const char *macro)
{
    const char *p = strstr(src, macro);
    if (!p || !(p = strchr(p, '"'))) return NULL;
    const char *e = ++p;
    while (*e && *e != '"') e += e[0] == '\\' && e[1] ? 2 : 1;
    return *e ? strndup(p, (size_t)(e - p)) : NULL;
}

static char *reports_text(const aa_reports *reps)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    for (int i = 0; i < reps->n; i++) aa_report_print(&reps->items[i], f);
    fclose(f);
    return text;
}

static void add_costs(db_costs *c, const llm_reply *r)
{
    c->prompt_tokens += r->prompt_tokens;
    c->completion_tokens += r->completion_tokens;
    c->cost_usd += r->cost_usd;
}

char *or_ask(orch *o, const char *template_name, const llm_var *vars, int n, db_costs *costs, char *err,
                 size_t errlen)
{
    llm_error e;
    char *prompt = NULL;
    if (llm_prompt_render(template_name, vars, n, &prompt, &e) < 0) {
        snprintf(err, errlen, "%s prompt: %s", template_name, e.message);
        return NULL;
    }
    llm_message msg = {"user", prompt};
    llm_reply reply;
    int rc = llm_chat(o->llm, &msg, 1, &reply, &e);
    free(prompt);
    add_costs(costs, &reply);
    char *answer = rc == 0 ? reply.content : NULL;
    reply.content = NULL;
    if (rc < 0) snprintf(err, errlen, "%s call failed (%s): %s", template_name, llm_error_class_name(e.cls), e.message);
    llm_reply_free(&reply);
    return answer;
}

/* The C file in an answer, with its name and motivation. */
static int take_code(const char *answer, or_candidate *c, char *err, size_t errlen)
{
    llm_error e;
    char *code = NULL;
    if (llm_extract_code(answer, &code, &e) < 0) {
        snprintf(err, errlen, "the answer had no usable C file: %s", e.message);
        return -1;
    }
    char *name = macro_string(code, "AA_NAME(");
    char *why = macro_string(code, "AA_MOTIVATION(");
    free(c->source);
    c->source = code;
    if (name && *name) {   /* as written; the checker refuses one that is not a plain name (dsl/name) */
        char plain[JIT_NAME_MAX + 1];
        jit_name_sanitise(name, plain, sizeof plain);
        free(c->name);
        c->name = strdup(plain);
    }
    free(name);
    if (why && *why) {
        free(c->motivation);
        c->motivation = why;
    } else {
        free(why);
    }
    if (!c->name) c->name = strdup("unnamed");
    if (!c->motivation) c->motivation = strdup("");
    return 0;
}

/* ---- built-in proposer ----------------------------------------------------------- */

static int builtin_propose(orch *o, const db_candidate *parent, or_candidate *out, char *err, size_t errlen)
{
    og_genome pg, child;
    char what[512], gerr[256], name[128];
    if (parent && parent->source && og_from_source(parent->source, &pg, gerr, sizeof gerr) == 0) {
        og_mutate(&pg, &child, &o->rng, what, sizeof what);
    } else {
        og_random(&child, &o->rng);
        snprintf(what, sizeof what, "a fresh multi-path mixer from the grammar (the parent%s%s has no genome)",
                 parent ? ", " : "", parent ? parent->name : "");
    }
    og_name(&child, name, sizeof name);
    char *source = NULL;
    if (og_render(&child, what, &source) < 0) {
        snprintf(err, errlen, "rendering genome %s failed", name);
        return -1;
    }
    out->name = strdup(name);
    out->motivation = strdup(what);
    out->source = source;
    return 0;
}

/* Drop the last path when there are several (smaller, fewer parameters),
 * else mutate. */
static void simplify(const og_genome *g, og_genome *child, uint64_t *rng, char *what, size_t len)
{
    if (g->n_paths < 2) {
        og_mutate(g, child, rng, what, len);
        return;
    }
    *child = *g;
    child->n_paths--;
    memset(&child->paths[child->n_paths], 0, sizeof child->paths[0]);
    if (child->n_paths == 1) {
        child->router.kind = OG_ROUTER_SIGMOID;
        child->router.entropy_weight = 0;
        child->router.stats = OG_STATS_NONE;
        child->router.stats_detach = 0;
    }
    og_canonicalize(child);
    snprintf(what, len, "dropped a path to meet the limits (%d left)", child->n_paths);
}

/* A simplifying mutation of the failed genome: the grammar renders valid
 * code, so failures are budgets and limits, which a smaller mixer meets. */
static int builtin_repair(orch *o, or_candidate *c, char *err, size_t errlen)
{
    og_genome g, child;
    char what[512], gerr[256], name[128];
    if (og_from_source(c->source, &g, gerr, sizeof gerr) < 0) {
        snprintf(err, errlen, "the failed source has no genome: %s", gerr);
        return -1;
    }
    simplify(&g, &child, &o->rng, what, sizeof what);
    og_name(&child, name, sizeof name);
    char *source = NULL, *motivation = NULL;
    if (asprintf(&motivation, "%s; repaired: %s", c->motivation, what) < 0 || og_render(&child, motivation, &source) < 0) {
        free(motivation);
        snprintf(err, errlen, "rendering the repaired genome failed");
        return -1;
    }
    free(c->source);
    free(c->motivation);
    c->source = source;
    c->motivation = motivation;
    return 0;
}

/* ---- language-model proposer ------------------------------------------------------- */

static int llm_propose(orch *o, const db_candidate *parent, const char *why_parent, const db_candidate_list *refs,
                       or_candidate *out, char *err, size_t errlen)
{
    char *results = or_results_text(parent), *references = or_references_text(parent, refs);
    char *baselines = or_baselines_text(o), *scale = or_scale_text(o), *notice = or_notice_text(o);
    char *siblings = parent ? or_siblings_text(o, parent->id, 0) : strdup("(no parent)");
    char *tried = or_tried_text(o), *cognition = NULL;
    const char *source = parent ? or_source_of(parent) : NULL;
    /* the analysis without the insights stored after it: {{cognition}} has them */
    char *analysis = parent && parent->analysis ? strdup(parent->analysis) : NULL;
    char *mark = analysis ? strstr(analysis, OR_COGNITION_MARK) : NULL;
    if (mark) *mark = 0;
    os_retrieve_cognition(&o->cognition, parent && parent->analysis ? parent->analysis : "linear attention memory recall",
                          3, &cognition);
    llm_var vars[] = {{"parent_name", parent ? parent->name : "(none)"},
                      {"parent_selection", why_parent && *why_parent ? why_parent : "(no parent yet)"},
                      {"parent_motivation", parent && parent->motivation ? parent->motivation : ""},
                      {"parent_results", results ? results : ""},
                      {"parent_source", source ? source : "(no parent: write the first design from scratch)"},
                      {"scale", scale ? scale : ""},
                      {"notice", notice ? notice : "(none)"},
                      {"siblings", siblings ? siblings : ""},
                      {"tried", tried ? tried : ""},
                      {"baselines", baselines ? baselines : ""},
                      {"references", references ? references : ""},
                      {"analysis", analysis ? analysis : "(none yet)"},
                      {"cognition", cognition ? cognition : ""},
                      {"dsl_reference", jit_dsl_header}};
    or_unlock(o);   /* no database access during the call */
    char *answer = or_ask(o, "researcher", vars, (int)(sizeof vars / sizeof vars[0]), &out->costs, err, errlen);
    or_lock(o);
    free(results);
    free(references);
    free(baselines);
    free(scale);
    free(notice);
    free(siblings);
    free(tried);
    free(cognition);
    free(analysis);
    if (!answer) return -1;
    int rc = take_code(answer, out, err, errlen);
    free(answer);
    return rc;
}

static int llm_repair(orch *o, or_candidate *c, const char *stage, const aa_reports *reps, int attempt, char *err,
                      size_t errlen)
{
    char *report = reports_text(reps), num[16], max[16];
    snprintf(num, sizeof num, "%d", attempt);
    snprintf(max, sizeof max, "%d", o->cfg->max_repairs);
    llm_var vars[] = {{"stage", stage},      {"attempt", num},         {"max_attempts", max},
                      {"report", report ? report : ""}, {"source", c->source}, {"dsl_reference", jit_dsl_header}};
    char *answer = or_ask(o, "repair", vars, (int)(sizeof vars / sizeof vars[0]), &c->costs, err, errlen);
    free(report);
    if (!answer) return -1;
    int rc = take_code(answer, c, err, errlen);
    free(answer);
    return rc;
}

/* ---- the interface ------------------------------------------------------------------ */

int or_propose(orch *o, const db_candidate *parent, const char *why_parent, const db_candidate_list *refs,
               or_candidate *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->parent_id = parent ? parent->id : 0;
    int rc = o->llm ? llm_propose(o, parent, why_parent, refs, out, err, errlen)
                    : builtin_propose(o, parent, out, err, errlen);
    if (!out->name) out->name = strdup("unnamed");
    if (!out->motivation) out->motivation = strdup("");
    return rc;
}

int or_repair(orch *o, or_candidate *c, const char *stage, const aa_reports *reps, int attempt, char *err,
              size_t errlen)
{
    return o->llm ? llm_repair(o, c, stage, reps, attempt, err, errlen) : builtin_repair(o, c, err, errlen);
}

/* The judge's share of the fitness, as the prompt states it. */
static const char *judge_weight(const orch *o) { return o->cfg->mqar ? "one third" : "one half"; }

int or_judge(orch *o, const or_candidate *c, const rt_metrics *m, const char *early_stop, double novelty, long params,
             llm_judgement *out)
{
    const os_baseline *ref = or_reference(o);
    if (!ref) {
        memset(out, 0, sizeof *out);
        out->performance = out->innovation = out->complexity = 5;
        out->rationale = strdup("no baseline yet: neutral scores");
        return 0;
    }
    os_rule_judge(m, ref, novelty, params, o->baseline_params, out);
    if (!o->llm || c->is_baseline) return 0;
    char *results = or_metrics_text(m, early_stop), *baselines = or_baselines_text(o), *scale = or_scale_text(o), err[256];
    db_candidate pc;
    int have_parent = c->parent_id > 0 && db_candidate_get(o->db, c->parent_id, &pc) == 0;
    char *parent = have_parent ? or_results_text(&pc) : strdup("(none: a design from scratch)");
    if (have_parent) db_candidate_free(&pc);
    char *noise = or_noise_text(o);
    llm_var vars[] = {{"name", c->name}, {"motivation", c->motivation}, {"results", results ? results : ""},
                      {"source", c->source ? c->source : ""}, {"baselines", baselines ? baselines : ""},
                      {"parent", parent ? parent : ""}, {"scale", scale ? scale : ""},
                      {"weight", judge_weight(o)}, {"noise", noise ? noise : ""}};
    db_costs costs = {0};
    char *answer = or_ask(o, "judge", vars, (int)(sizeof vars / sizeof vars[0]), &costs, err, sizeof err);
    free(parent);
    free(scale);
    free(noise);
    llm_judgement j;
    llm_error e;
    if (answer && llm_parse_judgement(answer, &j, &e) == 0) {
        llm_judgement_free(out);
        *out = j;
    } else {
        or_event(o, c->id, "judge", "the judge's answer was not usable (%s); the rule-based judgement stands",
                 answer ? e.message : err);
    }
    free(answer);
    free(results);
    free(baselines);
    return 0;
}

static char *relative_text(const os_relative *r)
{
    if (!r->metrics) return strdup("(none)");
    char *m = or_metrics_text(r->metrics, NULL), *t = NULL;
    if (!m || asprintf(&t, "%s: %s", r->name, m) < 0) t = NULL;
    free(m);
    return t;
}

/* The analyst role of the model: {"summary","strengths","weaknesses","next_idea"}
 * as text, or NULL (an event says why; the rule-based analysis is used). */
static char *llm_analyse(orch *o, const or_candidate *c, const rt_metrics *m, const char *early_stop,
                         const os_analysis_input *in, db_costs *costs)
{
    char *results = or_metrics_text(m, early_stop), *parent = relative_text(&in->parent),
         *grand = relative_text(&in->grandparent), *baselines = or_baselines_text(o), err[600];
    char *siblings = or_siblings_text(o, c->parent_id, c->id), *scale = or_scale_text(o);
    llm_var vars[] = {{"name", c->name},           {"motivation", c->motivation}, {"results", results ? results : ""},
                      {"source", c->source ? c->source : ""}, {"parent", parent ? parent : ""},
                      {"grandparent", grand ? grand : ""}, {"siblings", siblings ? siblings : ""},
                      {"baselines", baselines ? baselines : ""}, {"scale", scale ? scale : ""}};
    char *answer = or_ask(o, "analyst", vars, (int)(sizeof vars / sizeof vars[0]), costs, err, sizeof err);
    free(siblings);
    free(scale);
    free(results);
    free(parent);
    free(grand);
    free(baselines);
    llm_analysis a;
    llm_error e;
    char *text = NULL;
    if (answer && llm_parse_analysis(answer, &a, &e) == 0) {
        if (asprintf(&text, "summary: %s\nstrengths: %s\nweaknesses: %s\nnext_idea: %s", a.summary, a.strengths,
                     a.weaknesses, a.next_idea) < 0)
            text = NULL;
        llm_analysis_free(&a);
    } else {
        or_event(o, c->id, "analyst", "the analyst's answer was not usable (%s); the rule-based analysis is used",
                 answer ? e.message : err);
    }
    free(answer);
    return text;
}

/* The parent and grandparent for the analyst, read from the database. */
static void relatives(orch *o, const or_candidate *c, os_analysis_input *in, db_candidate *pc, db_candidate *gc,
                      rt_metrics *pm, rt_metrics *gm)
{
    or_lock(o);
    if (c->parent_id && db_candidate_get(o->db, c->parent_id, pc) == 0 && or_metrics_from_json(pc->metrics_json, pm) == 0) {
        in->parent = (os_relative){pc->name, pm};
        if (pc->parent_id && db_candidate_get(o->db, pc->parent_id, gc) == 0 &&
            or_metrics_from_json(gc->metrics_json, gm) == 0)
            in->grandparent = (os_relative){gc->name, gm};
    }
    or_unlock(o);
}

char *or_analyse(orch *o, const or_candidate *c, const rt_metrics *m, const char *early_stop, db_costs *costs)
{
    os_analysis_input in;
    memset(&in, 0, sizeof in);
    in.name = c->name;
    in.motivation = c->motivation;
    in.metrics = m;
    in.baseline = or_reference(o);
    db_candidate pc = {0}, gc = {0};
    rt_metrics pm, gm;
    relatives(o, c, &in, &pc, &gc, &pm, &gm);
    char *text = NULL;
    if (o->llm) text = llm_analyse(o, c, m, early_stop, &in, costs);
    if (!text) os_rule_analysis(&in, &text);
    db_candidate_free(&pc);
    db_candidate_free(&gc);
    char *cognition = NULL;
    os_retrieve_cognition(&o->cognition, text ? text : c->motivation, 3, &cognition);
    char *both = NULL;
    if (asprintf(&both, "%s" OR_COGNITION_MARK "%s", text ? text : "", cognition ? cognition : "") < 0)
        both = NULL;
    free(text);
    free(cognition);
    return both;
}
