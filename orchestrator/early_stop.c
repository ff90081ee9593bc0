/*
 * early_stop.c — stopping a training run that is not worth finishing
 * (ARCHITECTURE §6): one that diverged, falls behind the baseline's loss curve
 * beyond a margin, or runs far slower than its cost explains, persistently;
 * and flagging one
 * whose results are too good to trust before causality is re-verified
 * (score.h).
 */
#include <math.h>
#include <stdio.h>

#include "score.h"

void os_stop_defaults(os_stop_opts *o)
{
    o->warmup_frac = 0.3;
    o->behind_margin = 0.10;
    o->ema_window = 20;
    o->slow_factor = 3.0;
    o->slow_warmup_steps = 5;
    o->slow_min_steps = 10;
    o->slow_min_cpu_s = 1.0;
    o->slow_windows = 2;
    o->suspicious_frac = 0.30;
}

static double ema_alpha(const os_stop_opts *o)
{
    int window = o->ema_window > 0 ? o->ema_window : 1;
    return 2.0 / (window + 1.0);
}

/* The first value starts the average (no bias towards 0). */
static double ema_fold(double ema, int seen, double x, double alpha)
{
    return seen == 0 ? x : ema + alpha * (x - ema);
}

/* Smooth the baseline's curve up to `step` (its first `step` points), the
 * same filter as the candidate's; a non-finite point poisons the average
 * (NaN), which disables the comparison. */
static void advance_baseline(os_stop_state *st, const os_baseline *b, int step, double alpha)
{
    int upto = step < b->curve_len ? step : b->curve_len;
    for (; st->base_upto < upto; st->base_upto++)
        st->base_ema = ema_fold(st->base_ema, st->base_upto, b->loss_curve[st->base_upto], alpha);
}

static const char *name_of(const os_baseline *b)
{
    return b->name && b->name[0] ? b->name : "the baseline";
}

/* What the baseline's speed allows this candidate per step: more where it
 * does more arithmetic per token (the budget caps that elsewhere). */
static double allowed_cpu_per_step(const os_stop_state *st, const os_baseline *b, double *cost_ratio)
{
    *cost_ratio = 1.0;
    if (st->flops_per_token > 0 && b->flops_per_token > 0 && isfinite(st->flops_per_token))
        *cost_ratio = st->flops_per_token / b->flops_per_token;
    return b->step_cpu_s * (*cost_ratio > 1.0 ? *cost_ratio : 1.0);
}

/* Speed in windows after the warm-up; one slow window is never enough (a
 * burst of load, a page-fault storm): slow_windows of them in a row are. */
static os_stop_verdict check_slow(os_stop_state *st, const os_baseline *b, int step, double cpu_s,
                                  const os_stop_opts *o, char *reason, size_t len)
{
    if (!(b->step_cpu_s > 0) || !isfinite(b->step_cpu_s) || !(cpu_s >= 0) || !isfinite(cpu_s)) return OS_CONTINUE;
    if (st->window_step == 0) {   /* the warm-up is not timed */
        if (step >= o->slow_warmup_steps) st->window_step = step, st->window_cpu_s = cpu_s;
        return OS_CONTINUE;
    }
    int n = step - st->window_step;
    double spent = cpu_s - st->window_cpu_s;
    if (n < o->slow_min_steps || spent < o->slow_min_cpu_s) return OS_CONTINUE;
    double mine = spent / n, ratio, allowed = allowed_cpu_per_step(st, b, &ratio);
    int from = st->window_step;
    st->window_step = step, st->window_cpu_s = cpu_s;
    st->slow_run = mine > o->slow_factor * allowed ? st->slow_run + 1 : 0;
    if (st->slow_run < (o->slow_windows > 0 ? o->slow_windows : 1)) return OS_CONTINUE;
    snprintf(reason, len, "%.1fx slower than %s: %.3g CPU s/step vs %.3g over steps %d-%d, %d windows in a row, "
             "at %.2fx its FLOPs per token", mine / b->step_cpu_s, name_of(b), mine, b->step_cpu_s, from, step,
             st->slow_run, ratio);
    return OS_STOP_SLOW;
}

static os_stop_verdict check_curve(os_stop_state *st, const os_baseline *b, int step, int steps,
                                   const os_stop_opts *o, char *reason, size_t len)
{
    if (!b->loss_curve || step > b->curve_len || step < o->warmup_frac * steps) return OS_CONTINUE;
    double theirs = st->base_ema, mine = st->ema;
    if (!isfinite(theirs) || theirs <= 0) return OS_CONTINUE;
    double excess = mine / theirs - 1;
    if (excess > o->behind_margin) {
        snprintf(reason, len, "behind the baseline: smoothed loss %.4g is %.1f%% above %s's %.4g at step %d "
                 "(margin %.0f%%)", mine, 100 * excess, name_of(b), theirs, step, 100 * o->behind_margin);
        return OS_STOP_BEHIND;
    }
    if (!st->flagged && -excess > o->suspicious_frac) {
        st->flagged = 1;
        snprintf(reason, len, "suspiciously far ahead: smoothed loss %.4g is %.1f%% below %s's %.4g at step %d; "
                 "re-verify causality", mine, -100 * excess, name_of(b), theirs, step);
        return OS_SUSPECT;
    }
    return OS_CONTINUE;
}

os_stop_verdict os_early_stop_check(os_stop_state *st, const os_baseline *b, int step, int steps, float loss,
                                    double cpu_s, const os_stop_opts *o, char *reason, size_t len)
{
    os_stop_opts defaults;
    if (!o) {
        os_stop_defaults(&defaults);
        o = &defaults;
    }
    char scratch[8];
    if (!reason || len == 0) {   /* the verdict alone was wanted */
        reason = scratch;
        len = sizeof scratch;
    }
    reason[0] = '\0';
    if (!isfinite(loss)) {
        snprintf(reason, len, "diverged: training loss is %s at step %d", isnan(loss) ? "nan" : "inf", step);
        return OS_STOP_DIVERGED;
    }
    double alpha = ema_alpha(o);
    /* A call after a gap of g steps weighs the new loss as g steps of it
     * would have, so sparse calls smooth like the baseline's dense curve. */
    int gap = step - st->last_step > 1 ? step - st->last_step : 1;
    st->ema = ema_fold(st->ema, st->steps_seen, loss, 1 - pow(1 - alpha, gap));
    st->steps_seen++;
    st->last_step = step;
    if (!b) return OS_CONTINUE;
    if (b->loss_curve) advance_baseline(st, b, step, alpha);
    os_stop_verdict v = check_slow(st, b, step, cpu_s, o, reason, len);
    if (v != OS_CONTINUE) return v;
    return check_curve(st, b, step, steps, o, reason, len);
}
