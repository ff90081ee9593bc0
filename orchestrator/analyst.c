/*
 * analyst.c — the analyst without a language model (ARCHITECTURE §6): after a run,
 * compare the candidate with its parent, grandparent, siblings and
 * the baseline by rule, say what moved beyond noise, and name the levers the
 * cognition base knows about, so that its text retrieves useful entries for
 * the next proposal (score.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "score.h"
#include "text.h"

#define MQAR_NOISE 0.02     /* accuracy differences below this are noise */
#define MQAR_WEAK_GAP 0.05  /* recall this far below the baseline's or the parent's is weak */
#define SLOW_FRAC 0.7       /* throughput below 70% of the baseline's is slow */
#define FAST_FRAC 1.1
#define HEAVY_FRAC 1.2      /* 20% more parameters than the baseline */
#define NOISY_VS_BASE 1.5   /* step-to-step variation 1.5x the baseline's is noisy */
#define NOISY_ABS 0.02      /* ... or 2% of the loss when there is no baseline curve */
#define MIN_CURVE 10

/* A design to compare with, whichever kind it is. */
typedef struct ref_point {
    const char *role, *name;  /* "parent", "P" */
    double val_loss, mqar_acc, tokens_per_s;
    long params;
} ref_point;

static int usable_loss(double l)
{
    return isfinite(l) && l > 0;
}

static int usable_acc(double a)
{
    return isfinite(a) && a >= 0 && a <= 1;
}

static const char *or_unnamed(const char *s)
{
    return s && s[0] ? s : "(unnamed)";
}

static ref_point from_metrics(const char *role, const os_relative *r)
{
    const rt_metrics *m = r->metrics;
    return (ref_point){role, or_unnamed(r->name ? r->name : m->name), m->diverged ? NAN : m->val_loss, m->mqar_acc,
                       m->tokens_per_s, m->params};
}

static ref_point from_baseline(const os_baseline *b)
{
    return (ref_point){"baseline", or_unnamed(b->name), b->val_loss, b->mqar_acc, b->tokens_per_s, b->params};
}

/* The sibling with the lowest usable loss, or -1. */
static int strongest_sibling(const os_analysis_input *in)
{
    int best = -1;
    for (int i = 0; i < in->n_siblings && i < 3; i++) {
        const rt_metrics *m = in->siblings[i].metrics;
        if (!m || m->diverged || !usable_loss(m->val_loss)) continue;
        if (best < 0 || m->val_loss < in->siblings[best].metrics->val_loss) best = i;
    }
    return best;
}

#define MAX_REFS 6

/* Parent, grandparent, siblings, baseline: those present. */
static int gather_refs(const os_analysis_input *in, ref_point refs[MAX_REFS])
{
    int n = 0;
    if (in->parent.metrics) refs[n++] = from_metrics("parent", &in->parent);
    if (in->grandparent.metrics) refs[n++] = from_metrics("grandparent", &in->grandparent);
    for (int i = 0; i < in->n_siblings && i < 3; i++)
        if (in->siblings[i].metrics) refs[n++] = from_metrics("sibling", &in->siblings[i]);
    if (in->baseline) refs[n++] = from_baseline(in->baseline);
    return n;
}

static const ref_point *find_ref(const ref_point *refs, int n, const char *role)
{
    for (int i = 0; i < n; i++)
        if (strcmp(refs[i].role, role) == 0) return &refs[i];
    return NULL;
}

/* Relative change of a over b, in percent. */
static double pct(double a, double b)
{
    return 100 * (a - b) / b;
}

/* ---- what the candidate is ------------------------------------------------------------ */

/* word occurs in text as a whole word (case-insensitive), or as the start of
 * one when prefix is set ("rout" finds router, routing, routed). */
static int mentions(const char *text, const char *word, int prefix)
{
    size_t n = strlen(word);
    for (const char *p = text; p && *p; p++) {
        if (p != text && isalnum((unsigned char)p[-1])) continue;
        if (strncasecmp(p, word, n) != 0) continue;
        if (prefix || !isalnum((unsigned char)p[n])) return 1;
    }
    return 0;
}

typedef struct design_traits {
    int routed;   /* blends paths with a router */
    int fir;      /* has FIR / convolution paths */
} design_traits;

static design_traits traits_of(const os_analysis_input *in)
{
    design_traits t = {0};
    const char *texts[2] = {in->name, in->motivation};
    for (int i = 0; i < 2; i++) {
        if (!texts[i]) continue;
        t.routed |= mentions(texts[i], "rout", 1) || mentions(texts[i], "mixture", 0);
        /* Not "convolution": the short convolutions on q, k, v are in most designs. */
        t.fir |= mentions(texts[i], "fir", 0) || mentions(texts[i], "long conv", 1);
    }
    return t;
}

/* Mean |l[i] - l[i-1]| over the second half of a curve, relative to its mean
 * loss there; NAN when too short or not finite. */
static double roughness(const float *curve, int len)
{
    if (!curve || len < MIN_CURVE) return NAN;
    double diff = 0, level = 0;
    int from = len / 2;
    for (int i = from; i < len; i++) {
        if (!isfinite(curve[i]) || !isfinite(curve[i - 1])) return NAN;
        diff += fabs((double)curve[i] - curve[i - 1]);
        level += curve[i];
    }
    return level > 0 ? diff / level : NAN;
}

/* What the rules found, for the four fields. */
typedef struct findings {
    int diverged, weak_recall, noisy, slow, heavy, worse_than_parent, better_than_parent, beats_baseline;
    int behind_baseline, sibling_better, no_recall;
    double rough, base_rough;
} findings;

/* ---- the fields ---------------------------------------------------------------------------- */

static void describe_candidate(os_text *t, const os_analysis_input *in)
{
    const rt_metrics *m = in->metrics;
    os_text_printf(t, "%s %s", OS_ANALYST_PREFIX, or_unnamed(in->name ? in->name : m->name));
    if (m->diverged || !usable_loss(m->val_loss)) {
        os_text_printf(t, " diverged: its training loss stopped being finite after %d steps.", m->steps);
        return;
    }
    os_text_printf(t, " reached val_loss %.4f", m->val_loss);
    if (isfinite(m->val_bpb) && m->val_bpb > 0) os_text_printf(t, " (%.3f bits per byte)", m->val_bpb);
    if (usable_acc(m->mqar_acc)) os_text_printf(t, ", mqar_acc %.3f", m->mqar_acc);
    os_text_printf(t, ", %.0f tokens/s, %ld parameters.", m->tokens_per_s, m->params);
}

static void compare_with(os_text *t, const rt_metrics *m, const ref_point *r)
{
    os_text_printf(t, " Against its %s %s:", r->role, r->name);
    if (!usable_loss(r->val_loss) || m->diverged || !usable_loss(m->val_loss)) {
        os_text_puts(t, usable_loss(r->val_loss) ? " no usable loss of its own to compare." :
                                                   " that design has no usable loss.");
        return;
    }
    os_text_printf(t, " val_loss %+.2f%% (%.4f vs %.4f)", pct(m->val_loss, r->val_loss), m->val_loss, r->val_loss);
    if (usable_acc(m->mqar_acc) && usable_acc(r->mqar_acc))
        os_text_printf(t, ", mqar_acc %+.3f (%.3f vs %.3f)", m->mqar_acc - r->mqar_acc, m->mqar_acc, r->mqar_acc);
    if (m->tokens_per_s > 0 && r->tokens_per_s > 0)
        os_text_printf(t, ", tokens/s %+.1f%%", pct(m->tokens_per_s, r->tokens_per_s));
    if (m->params > 0 && r->params > 0) os_text_printf(t, ", parameters %+.1f%%", pct((double)m->params, (double)r->params));
    os_text_puts(t, ".");
}

static char *write_summary(const os_analysis_input *in, const ref_point *refs, int n)
{
    os_text t = {0};
    describe_candidate(&t, in);
    for (int i = 0; i < n; i++) compare_with(&t, in->metrics, &refs[i]);
    if (n == 0) os_text_puts(&t, " Nothing to compare it with yet (no parent, siblings or baseline).");
    return os_text_take(&t);
}

static int loss_better(const rt_metrics *m, const ref_point *r)
{
    return usable_loss(r->val_loss) && usable_loss(m->val_loss) && !m->diverged &&
           m->val_loss < r->val_loss * (1 - OS_NOISE_FRAC);
}

static int loss_worse(const rt_metrics *m, const ref_point *r)
{
    return usable_loss(r->val_loss) && usable_loss(m->val_loss) && !m->diverged &&
           m->val_loss > r->val_loss * (1 + OS_NOISE_FRAC);
}

static int recall_below(const rt_metrics *m, const ref_point *r, double gap)
{
    return r && usable_acc(m->mqar_acc) && usable_acc(r->mqar_acc) && m->mqar_acc < r->mqar_acc - gap;
}

static findings find(const os_analysis_input *in, const ref_point *refs, int n)
{
    const rt_metrics *m = in->metrics;
    const ref_point *parent = find_ref(refs, n, "parent"), *base = find_ref(refs, n, "baseline");
    int strongest = strongest_sibling(in);
    ref_point sibling = strongest >= 0 ? from_metrics("sibling", &in->siblings[strongest]) : (ref_point){0};
    findings f = {0};
    f.diverged = m->diverged || !usable_loss(m->val_loss);
    f.better_than_parent = parent && loss_better(m, parent);
    f.worse_than_parent = parent && loss_worse(m, parent);
    f.beats_baseline = base && loss_better(m, base);
    f.behind_baseline = base && loss_worse(m, base);
    f.sibling_better = strongest >= 0 && sibling.val_loss < m->val_loss * (1 - OS_NOISE_FRAC) && !f.diverged;
    f.weak_recall = recall_below(m, base, MQAR_WEAK_GAP) || recall_below(m, parent, MQAR_WEAK_GAP);
    f.no_recall = !f.diverged && !usable_acc(m->mqar_acc) && base && usable_acc(base->mqar_acc);
    f.rough = roughness(in->loss_curve, in->curve_len);
    f.base_rough = in->baseline ? roughness(in->baseline->loss_curve, in->baseline->curve_len) : NAN;
    f.noisy = !isnan(f.rough) && (isnan(f.base_rough) ? f.rough > NOISY_ABS
                                                       : f.rough > NOISY_VS_BASE * f.base_rough && f.rough > 0.002);
    f.slow = base && m->tokens_per_s > 0 && base->tokens_per_s > 0 && m->tokens_per_s < SLOW_FRAC * base->tokens_per_s;
    f.heavy = base && m->params > 0 && base->params > 0 && m->params > HEAVY_FRAC * base->params;
    return f;
}

static char *write_strengths(const os_analysis_input *in, const ref_point *refs, int n, const findings *f)
{
    const rt_metrics *m = in->metrics;
    os_text t = {0};
    for (int i = 0; i < n; i++) {
        const ref_point *r = &refs[i];
        if (loss_better(m, r))
            os_text_printf(&t, "%sLower validation loss than its %s %s (%+.2f%%).", t.len ? " " : "", r->role, r->name,
                           pct(m->val_loss, r->val_loss));
        if (!f->diverged && usable_acc(m->mqar_acc) && usable_acc(r->mqar_acc) && m->mqar_acc > r->mqar_acc + MQAR_NOISE)
            os_text_printf(&t, "%sBetter associative recall than its %s %s (mqar_acc %+.3f).", t.len ? " " : "",
                           r->role, r->name, m->mqar_acc - r->mqar_acc);
    }
    const ref_point *base = find_ref(refs, n, "baseline");
    if (base && m->tokens_per_s > FAST_FRAC * base->tokens_per_s && base->tokens_per_s > 0)
        os_text_printf(&t, "%sFaster than %s (tokens/s %+.1f%%).", t.len ? " " : "", base->name,
                       pct(m->tokens_per_s, base->tokens_per_s));
    if (base && m->params > 0 && base->params > 0 && m->params < base->params / FAST_FRAC)
        os_text_printf(&t, "%sFewer parameters than %s (%+.1f%%).", t.len ? " " : "", base->name,
                       pct((double)m->params, (double)base->params));
    if (!t.len) os_text_puts(&t, n ? "None beyond noise (loss differences under 0.5%, recall under 0.02)."
                                   : "Unknown: nothing to compare with.");
    return os_text_take(&t);
}

/* Append one sentence (formatted) to the weaknesses. */
static void weakness(os_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void weakness(os_text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->len) os_text_puts(t, " ");
    va_start(ap, fmt);
    os_text_vprintf(t, fmt, ap);
    va_end(ap);
}

static void recall_weakness(os_text *t, const os_analysis_input *in, const ref_point *refs, int n,
                            const design_traits *d)
{
    const ref_point *base = find_ref(refs, n, "baseline"), *parent = find_ref(refs, n, "parent");
    const ref_point *r = recall_below(in->metrics, base, MQAR_WEAK_GAP) ? base : parent;
    weakness(t, "Associative recall (MQAR) is weak: mqar_acc %.3f vs %.3f for its %s %s (%+.3f). The memory forgets "
             "too fast or stores too little: check the decay and forget gate initialisation (biased to forget?), "
             "whether the state is written with the delta rule, and the short convolution on keys.",
             in->metrics->mqar_acc, r->mqar_acc, r->role, r->name, in->metrics->mqar_acc - r->mqar_acc);
    if (d->fir)
        weakness(t, "FIR paths add local context but cannot recall: a longer FIR length does not help memory, and "
                 "FIR paths may be taking weight from the recurrent memory path.");
}

static char *write_weaknesses(const os_analysis_input *in, const ref_point *refs, int n, const findings *f,
                              const design_traits *d)
{
    const rt_metrics *m = in->metrics;
    os_text t = {0};
    if (f->diverged)
        weakness(&t, "Training diverged (the loss became NaN or infinite): an unstable path; NaN sources are "
                 "exp of unbounded inputs, division by small norms and missing normalisation.");
    for (int i = 0; i < n; i++)
        if (loss_worse(m, &refs[i]))
            weakness(&t, "Higher validation loss than its %s %s (%+.2f%%).", refs[i].role, refs[i].name,
                     pct(m->val_loss, refs[i].val_loss));
    if (f->weak_recall) recall_weakness(&t, in, refs, n, d);
    if (f->no_recall) weakness(&t, "No recall measured: the MQAR probe did not run or failed.");
    if (f->noisy)
        weakness(&t, "The training loss is noisy (step-to-step variation %.2f%% of the loss%s): missing normalisation "
                 "(RMSNorm per head on the output, L2-normalised queries and keys) or gates that swing.",
                 100 * f->rough, isnan(f->base_rough) ? "" : ", more than the baseline's");
    const ref_point *base = find_ref(refs, n, "baseline");
    if (f->slow)
        weakness(&t, "Slow: %.0f tokens/s, %.0f%% below %s: long FIR filters (FIR length), extra paths or wide "
                 "projections cost throughput.", m->tokens_per_s, -pct(m->tokens_per_s, base->tokens_per_s), base->name);
    if (f->heavy)
        weakness(&t, "Heavy: %+.0f%% parameters over %s, which the judge counts against it.",
                 pct((double)m->params, (double)base->params), base->name);
    if (d->routed && !f->better_than_parent && !f->diverged)
        weakness(&t, "The router did not pay off: a router whose softmax is too flat blurs the paths, one too sharp "
                 "starves them; router temperature, a probability floor and entropy load balancing control this.");
    if (f->sibling_better) {
        ref_point s = from_metrics("sibling", &in->siblings[strongest_sibling(in)]);
        weakness(&t, "Its sibling %s did better (val_loss %.4f, %+.2f%%).", s.name, s.val_loss,
                 pct(s.val_loss, m->val_loss));
    }
    if (!t.len) os_text_puts(&t, n ? "None beyond noise." : "Unknown: nothing to compare with.");
    return os_text_take(&t);
}

static char *write_next_idea(const os_analysis_input *in, const ref_point *refs, int n, const findings *f,
                             const design_traits *d)
{
    const ref_point *parent = find_ref(refs, n, "parent"), *base = find_ref(refs, n, "baseline");
    os_text t = {0};
    if (f->diverged)
        os_text_puts(&t, "Stabilise before anything else: L2-normalise queries and keys, put an RMSNorm on each "
                         "head's output, keep gates in log space (logsigmoid) and clamp what enters exp.");
    else if (f->weak_recall)
        os_text_puts(&t, "Strengthen the memory: initialise the forget gate decay to remember (a spread of horizons "
                         "biased towards 1) and write the state with the delta rule on L2-normalised keys after a "
                         "short causal convolution, so associations survive until they are queried.");
    else if (f->noisy)
        os_text_puts(&t, "Add normalisation where paths are summed (a gated RMSNorm per head) and L2-normalise "
                         "queries and keys, so the loss stops swinging.");
    else if (f->slow && d->fir)
        os_text_puts(&t, "Shorten the long FIR (FIR length) or drop the weakest path to recover throughput at the "
                         "same loss.");
    else if (f->slow)
        os_text_puts(&t, "Cut cost: drop the weakest path or narrow the projections, then check the loss holds.");
    else if (d->routed && !f->better_than_parent)
        os_text_puts(&t, "Give the router a learnable temperature per head and a probability floor, so no path "
                         "starves early and the blend can sharpen later.");
    else if (f->worse_than_parent)
        os_text_printf(&t, "Go back to the parent %s and change one mechanism at a time; this change cost %+.2f%% "
                       "loss.", parent->name, pct(in->metrics->val_loss, parent->val_loss));
    else if (base && f->behind_baseline)
        os_text_printf(&t, "Close the remaining %+.2f%% gap to %s: borrow its mechanism (delta rule with a "
                       "data-dependent forget gate) as an extra path.", pct(in->metrics->val_loss, base->val_loss),
                       base->name);
    else
        os_text_puts(&t, "Build on this design: vary one lever at a time (decay initialisation, FIR length, router "
                         "temperature) and keep what lowers the loss without hurting recall.");
    return os_text_take(&t);
}

int os_rule_analysis_fields(const os_analysis_input *in, llm_analysis *out)
{
    memset(out, 0, sizeof *out);
    if (!in || !in->metrics) return -1;
    ref_point refs[MAX_REFS];
    int n = gather_refs(in, refs);
    findings f = find(in, refs, n);
    design_traits d = traits_of(in);
    out->summary = write_summary(in, refs, n);
    out->strengths = write_strengths(in, refs, n, &f);
    out->weaknesses = write_weaknesses(in, refs, n, &f, &d);
    out->next_idea = write_next_idea(in, refs, n, &f, &d);
    if (!out->summary || !out->strengths || !out->weaknesses || !out->next_idea) {
        llm_analysis_free(out);
        return -1;
    }
    return 0;
}

int os_rule_analysis(const os_analysis_input *in, char **text)
{
    *text = NULL;
    llm_analysis a;
    if (os_rule_analysis_fields(in, &a) < 0) return -1;
    /* The summary starts with the prefix; it heads the text on its own line. */
    const char *summary = a.summary + strlen(OS_ANALYST_PREFIX);
    while (*summary == ' ') summary++;
    os_text t = {0};
    os_text_printf(&t, "%s\nsummary: %s\nstrengths: %s\nweaknesses: %s\nnext_idea: %s\n", OS_ANALYST_PREFIX, summary,
                   a.strengths, a.weaknesses, a.next_idea);
    llm_analysis_free(&a);
    *text = os_text_take(&t);
    return *text ? 0 : -1;
}

int os_rule_analysis_json(const os_analysis_input *in, char **json)
{
    *json = NULL;
    llm_analysis a;
    if (os_rule_analysis_fields(in, &a) < 0) return -1;
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "summary", a.summary) && cJSON_AddStringToObject(o, "strengths", a.strengths) &&
             cJSON_AddStringToObject(o, "weaknesses", a.weaknesses) &&
             cJSON_AddStringToObject(o, "next_idea", a.next_idea);
    if (ok) *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    llm_analysis_free(&a);
    return *json ? 0 : -1;
}

int os_retrieve_cognition(const cog_base *base, const char *analysis, int k, char **text)
{
    if (!text) return -1;
    *text = NULL;
    if (!base || !analysis) return -1;
    if (k > base->n) k = base->n;
    if (k < 0) k = 0;
    cog_hit *hits = malloc((size_t)(k > 0 ? k : 1) * sizeof *hits);
    if (!hits) return -1;
    int n = k > 0 ? cog_search(base, analysis, k, hits) : 0;
    os_text t = {0};
    for (int i = 0; i < n; i++) {
        size_t need = cog_format_entry(hits[i].entry, NULL, 0);
        char *entry = malloc(need + 1);
        if (!entry) { t.failed = 1; break; }
        cog_format_entry(hits[i].entry, entry, need + 1);
        os_text_printf(&t, "%s%s", i ? "\n\n" : "", entry);
        free(entry);
    }
    free(hits);
    *text = os_text_take(&t);
    if (n < 0 || !*text) {
        free(*text);
        *text = NULL;
        return -1;
    }
    return n;
}
