/*
 * early_stop.c — stopping a training run that is not worth finishing
 * (ARCHITECTURE §6): one that diverged, falls behind the baseline's loss curve
 * beyond a margin, or runs far slower than the baseline; and flagging one
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
    o->slow_min_steps = 10;
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

static os_stop_verdict check_slow(const os_baseline *b, int step, int steps, double elapsed_s,
                                  const os_stop_opts *o, char *reason, size_t len)
{
    /* The baseline ran the same budget; its curve says how far it got. */
    int base_steps = b->curve_len > 0 ? b->curve_len : steps;
    if (step < o->slow_min_steps || step <= 0 || base_steps <= 0) return OS_CONTINUE;
    if (!(b->train_seconds > 0) || !isfinite(b->train_seconds) || !isfinite(elapsed_s)) return OS_CONTINUE;
    double mine = elapsed_s / step, theirs = b->train_seconds / base_steps;
    if (!(mine > o->slow_factor * theirs)) return OS_CONTINUE;
    snprintf(reason, len, "%.1fx slower than %s: %.3g s/step vs %.3g s/step after %d steps", mine / theirs,
             name_of(b), mine, theirs, step);
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
                                    double elapsed_s, const os_stop_opts *o, char *reason, size_t len)
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
    os_stop_verdict v = check_slow(b, step, steps, elapsed_s, o, reason, len);
    if (v != OS_CONTINUE) return v;
    return check_curve(st, b, step, steps, o, reason, len);
}
