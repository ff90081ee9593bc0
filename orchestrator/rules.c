/*
 * rules.c — the judge and the novelty judge without a language model: the
 * built-in proposer's deterministic stand-ins (ARCHITECTURE §6). Their answers
 * have the shapes llm.h parses from the LLM's, and their texts say what they
 * are (score.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "text.h"

static int clamp_score(double v)
{
    return v < 1 ? 1 : v > 10 ? 10 : (int)v;
}

static int usable_loss(double l)
{
    return isfinite(l) && l > 0;
}

static int usable_acc(double a)
{
    return isfinite(a) && a >= 0 && a <= 1;
}

static const char *base_name(const os_baseline *b)
{
    return b && b->name && b->name[0] ? b->name : "the baseline";
}

/* Recall points: one per 10 accuracy points, at most two either way (the
 * judge prompt: "better recall at equal loss adds a point or two"); 0 unless
 * both ran the probe. */
static int recall_points(const rt_metrics *m, const os_baseline *base)
{
    if (!usable_acc(m->mqar_acc) || !usable_acc(base->mqar_acc)) return 0;
    double points = round((m->mqar_acc - base->mqar_acc) / 0.1);
    return points < -2 ? -2 : points > 2 ? 2 : (int)points;
}

static int performance_score(const rt_metrics *m, const os_baseline *base, os_text *why)
{
    if (!m || m->diverged || !usable_loss(m->val_loss)) {
        os_text_puts(why, " performance 1: the candidate diverged or has no usable validation loss.");
        return 1;
    }
    if (!base || !usable_loss(base->val_loss)) {
        os_text_printf(why, " performance 5: val_loss %.4f, but no usable baseline loss to anchor on.", m->val_loss);
        return 5;
    }
    double pct = 100 * (base->val_loss - m->val_loss) / base->val_loss;
    int loss_points = (int)round(pct < -100 ? -100 : pct > 100 ? 100 : pct);
    int recall = recall_points(m, base);
    int score = clamp_score(5 + loss_points + recall);
    os_text_printf(why, " performance %d: val_loss %.4f vs %.4f for %s (%+.2f%%: %+d)", score, m->val_loss,
                   base->val_loss, base_name(base), -pct, loss_points);
    if (usable_acc(m->mqar_acc) && usable_acc(base->mqar_acc))
        os_text_printf(why, ", mqar_acc %.3f vs %.3f (%+.3f: %+d)", m->mqar_acc, base->mqar_acc,
                       m->mqar_acc - base->mqar_acc, recall);
    os_text_puts(why, ".");
    return score;
}

static int innovation_score(double novelty, os_text *why)
{
    if (!(novelty >= 0 && novelty <= 1)) {
        os_text_puts(why, " innovation 1: no usable novelty measure.");
        return 1;
    }
    int score = clamp_score(1 + round(9 * novelty));
    os_text_printf(why, " innovation %d: novelty %.2f (1 - similarity of op structure and motivation to the "
                   "closest earlier design).", score, novelty);
    return score;
}

/* FLOPs per token over the baseline's, minus 1; NAN when either is unknown. */
static double flops_excess(const rt_metrics *m, const os_baseline *base)
{
    if (!m || !base || !(m->flops_per_token > 0) || !(base->flops_per_token > 0) || !isfinite(m->flops_per_token) ||
        !isfinite(base->flops_per_token))
        return NAN;
    return m->flops_per_token / base->flops_per_token - 1;
}

static int complexity_score(const rt_metrics *m, const os_baseline *base, long params, long baseline_params,
                            os_text *why)
{
    if (params <= 0 || baseline_params <= 0) {
        os_text_puts(why, " complexity 1: parameter counts unknown.");
        return 1;
    }
    double param_excess = (double)params / (double)baseline_params - 1;
    double flops = flops_excess(m, base);
    double excess = !isnan(flops) && flops > param_excess ? flops : param_excess;
    int score = excess > 0 ? clamp_score(10 - round(excess > 10 ? 100 : excess / 0.1)) : 10;
    os_text_printf(why, " complexity %d: %ld parameters vs %ld (%+.1f%%)", score, params, baseline_params,
                   100 * param_excess);
    if (!isnan(flops)) os_text_printf(why, ", FLOPs/token %+.1f%%", 100 * flops);
    os_text_puts(why, "; one point off per 10% more cost.");
    return score;
}

int os_rule_judge(const rt_metrics *m, const os_baseline *base, double novelty, long params, long baseline_params,
                  llm_judgement *out)
{
    memset(out, 0, sizeof *out);
    os_text why = {0};
    os_text_puts(&why, OS_JUDGE_PREFIX);
    out->performance = performance_score(m, base, &why);
    out->innovation = innovation_score(novelty, &why);
    out->complexity = complexity_score(m, base, params, baseline_params, &why);
    out->rationale = os_text_take(&why);
    return out->rationale ? 0 : -1;
}

double os_judge_norm(int performance, int innovation, int complexity)
{
    return ((clamp_score(performance) - 1) + (clamp_score(innovation) - 1) + (clamp_score(complexity) - 1)) / 27.0;
}

int os_rule_novelty(double similarity, const char *closest, double threshold, llm_novelty *out)
{
    memset(out, 0, sizeof *out);
    if (isnan(threshold)) threshold = OS_NEAR_DUP_THRESHOLD;
    const char *name = closest ? closest : "";
    out->novel = !(similarity >= threshold);
    os_text why = {0};
    if (isnan(similarity) || !name[0])
        os_text_printf(&why, "%s no earlier design to compare with: novel.", OS_NOVELTY_PREFIX);
    else
        os_text_printf(&why, "%s similarity %.3f to %s (%.1f x op-structure + %.1f x motivation shingle Jaccard) "
                       "is %s the threshold %.2f: %s.", OS_NOVELTY_PREFIX, similarity, name,
                       OS_NEAR_DUP_W_STRUCTURE, OS_NEAR_DUP_W_MOTIVATION, out->novel ? "below" : "at or above",
                       threshold, out->novel ? "novel" : "a near duplicate");
    out->reason = os_text_take(&why);
    out->closest = strdup(name);
    if (!out->reason || !out->closest) {
        llm_novelty_free(out);
        return -1;
    }
    return 0;
}
