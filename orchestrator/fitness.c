/*
 * fitness.c — a candidate's fitness against the reference baseline
 * (ARCHITECTURE §6): the sigmoid-scored loss and recall ratios and the judge's
 * normalised score, averaged, with every pathological input mapped to a
 * documented value so that no score is ever NaN (score.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "score.h"

void os_baseline_from_metrics(os_baseline *b, const rt_metrics *m, const float *curve, int curve_len)
{
    memset(b, 0, sizeof *b);
    b->name = m->name;
    b->val_loss = m->val_loss;
    b->mqar_acc = m->mqar_acc;
    b->tokens_per_s = m->tokens_per_s;
    b->train_seconds = m->train_seconds;
    b->params = m->params;
    b->flops_per_token = m->flops_per_token;
    b->step_cpu_s = m->step_cpu_s;
    b->loss_curve = curve;
    b->curve_len = curve_len;
}

/* A cross-entropy measured on real text: finite and positive. */
static int usable_loss(double l)
{
    return isfinite(l) && l > 0;
}

int os_reference_baseline(const os_baseline *b, int n)
{
    int best = -1;
    for (int i = 0; b && i < n; i++)
        if (usable_loss(b[i].val_loss) && (best < 0 || b[i].val_loss < b[best].val_loss)) best = i;
    return best;
}

os_baseline os_reference_composite(const os_baseline *b, int n, int *mqar_index)
{
    int best = os_reference_baseline(b, n), recall = -1;
    os_baseline ref = b[best];
    for (int i = 0; i < n; i++)
        if (isfinite(b[i].mqar_acc) && b[i].mqar_acc >= 0 && (recall < 0 || b[i].mqar_acc > b[recall].mqar_acc)) recall = i;
    ref.mqar_acc = recall >= 0 ? b[recall].mqar_acc : -1;
    if (mqar_index) *mqar_index = recall;
    return ref;
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static double clip_unit(double r)
{
    return r < -1 ? -1 : r > 1 ? 1 : r;
}

/* A present component from a finite ratio. */
static os_component scored(double ratio)
{
    os_component c = {.present = 1, .ratio = ratio, .clipped = clip_unit(ratio)};
    c.value = sigmoid(OS_FITNESS_GAIN * c.clipped);
    return c;
}

/* A present component whose input was unusable: the formula's worst value. */
static os_component worst_ratio(void)
{
    os_component c = {.present = 1, .invalid = 1, .clipped = -1};
    c.value = sigmoid(-OS_FITNESS_GAIN);
    return c;
}

/* Append "; what" to the note (truncation only shortens the explanation). */
static void note_add(os_fitness_parts *p, const char *what, double value)
{
    size_t used = strlen(p->note);
    if (used + 1 >= sizeof p->note) return;
    snprintf(p->note + used, sizeof p->note - used, "%s%s %g", used ? "; " : "", what, value);
}

static os_component loss_component(const rt_metrics *m, const os_baseline *base, os_fitness_parts *p)
{
    if (!base || !usable_loss(base->val_loss)) {
        note_add(p, "baseline val_loss is unusable:", base ? base->val_loss : NAN);
        return worst_ratio();
    }
    if (!m) {
        note_add(p, "no candidate metrics: val_loss", NAN);
        return worst_ratio();
    }
    if (m->diverged) {
        note_add(p, "candidate diverged: val_loss", m->val_loss);
        return worst_ratio();
    }
    if (!usable_loss(m->val_loss)) {
        note_add(p, "candidate val_loss is unusable:", m->val_loss);
        return worst_ratio();
    }
    return scored((base->val_loss - m->val_loss) / (OS_FITNESS_REL * base->val_loss));
}

static os_component mqar_component(const rt_metrics *m, const os_baseline *base, os_fitness_parts *p)
{
    os_component absent = {0};
    if (!base || !isfinite(base->mqar_acc) || base->mqar_acc < 0) {
        if (base && !isfinite(base->mqar_acc)) note_add(p, "baseline mqar_acc is unusable (component left out):",
                                                        base->mqar_acc);
        return absent;
    }
    double a_base = base->mqar_acc > 1 ? 1 : base->mqar_acc;
    double a = m ? m->mqar_acc : NAN;
    if (!isfinite(a) || a < 0 || a > 1) {
        note_add(p, a < 0 ? "candidate ran no MQAR probe: mqar_acc" : "candidate mqar_acc is unusable:", a);
        return worst_ratio();
    }
    double floor_base = a_base > OS_MQAR_ACC_FLOOR ? a_base : OS_MQAR_ACC_FLOOR;
    return scored((a - a_base) / (OS_FITNESS_REL * floor_base));
}

static os_component judge_component(double judge_norm, os_fitness_parts *p)
{
    os_component c = {0};
    if (isnan(judge_norm)) return c;
    c.present = 1;
    if (!(judge_norm >= 0 && judge_norm <= 1)) {
        note_add(p, "judge score outside [0,1]:", judge_norm);
        c.invalid = 1;
        c.value = 0;
        return c;
    }
    c.value = judge_norm;
    return c;
}

double os_fitness(const rt_metrics *m, const os_baseline *base, double judge_norm, os_fitness_parts *parts)
{
    os_fitness_parts local;
    os_fitness_parts *p = parts ? parts : &local;
    memset(p, 0, sizeof *p);
    p->loss = loss_component(m, base, p);
    p->mqar = mqar_component(m, base, p);
    p->judge = judge_component(judge_norm, p);
    double sum = p->loss.value;
    p->n_present = 1;
    if (p->mqar.present) { sum += p->mqar.value; p->n_present++; }
    if (p->judge.present) { sum += p->judge.value; p->n_present++; }
    p->fitness = sum / p->n_present;
    return p->fitness;
}

/* JSON has no NaN: a non-finite number becomes null. */
static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* Add item under key; 0 when item is NULL (its creation failed) or adding failed. */
static int add(cJSON *o, const char *key, cJSON *item)
{
    if (!item) return 0;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

static cJSON *component_json(const os_component *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = add(o, "present", cJSON_CreateBool(c->present)) && add(o, "invalid", cJSON_CreateBool(c->invalid)) &&
             add(o, "ratio", number_or_null(c->ratio)) && add(o, "clipped", number_or_null(c->clipped)) &&
             add(o, "value", number_or_null(c->value));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *os_fitness_parts_json(const os_fitness_parts *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = add(o, "fitness", number_or_null(p->fitness)) && add(o, "components", cJSON_CreateNumber(p->n_present)) &&
             add(o, "loss", component_json(&p->loss)) && add(o, "mqar", component_json(&p->mqar)) &&
             add(o, "judge", component_json(&p->judge)) && add(o, "note", cJSON_CreateString(p->note));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int os_suspicious(const rt_metrics *m, const os_baseline *base, char *reason, size_t len)
{
    char scratch[8];
    if (!reason || len == 0) {
        reason = scratch;
        len = sizeof scratch;
    }
    reason[0] = '\0';
    if (!m || !base || m->diverged || !usable_loss(m->val_loss) || !usable_loss(base->val_loss)) return 0;
    double below = 1 - m->val_loss / base->val_loss;
    const char *name = base->name && base->name[0] ? base->name : "the baseline";
    if (below > OS_SUSPICIOUS_LOSS_FRAC) {
        snprintf(reason, len, "val_loss %.4f is %.1f%% below %s's %.4f (more than %.0f%%): re-verify causality",
                 m->val_loss, 100 * below, name, base->val_loss, 100 * OS_SUSPICIOUS_LOSS_FRAC);
        return 1;
    }
    int both_probed = isfinite(m->mqar_acc) && m->mqar_acc >= 0 && isfinite(base->mqar_acc) && base->mqar_acc >= 0;
    if (both_probed && m->mqar_acc > base->mqar_acc + OS_SUSPICIOUS_MQAR_GAIN && below > OS_SUSPICIOUS_MQAR_LOSS_FRAC) {
        snprintf(reason, len, "mqar_acc %.3f is %+.3f over %s's with val_loss %.1f%% lower: re-verify causality",
                 m->mqar_acc, m->mqar_acc - base->mqar_acc, name, 100 * below);
        return 1;
    }
    return 0;
}
