/*
 * seeds.c — a result over several seeds: mean, 95% interval, and whether a
 * candidate is distinguishable from a baseline (score.h).
 *
 * A single seed's difference can be noise: at tiny scale the seed-to-seed
 * spread of the validation loss is of the order of the differences the
 * search chases. A win is reported only when the intervals do not overlap,
 * a conservative test (overlapping 95% intervals can still differ at the
 * 5% level), chosen because it is simple to state and to check.
 */
#include <math.h>

#include "score.h"

/* Two-sided 97.5% quantiles of Student's t, by degrees of freedom 1..30. */
static const double t975[31] = {NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                 2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

os_seed_stats os_seed_stats_of(const double *v, int n)
{
    os_seed_stats s = {.n = 0, .mean = NAN, .sd = NAN, .ci95 = NAN};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) sum += v[i], s.n++;
    if (s.n == 0) return s;
    s.mean = sum / s.n;
    if (s.n < 2) return s;
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(ss / (s.n - 1));
    s.ci95 = (s.n - 1 <= 30 ? t975[s.n - 1] : 1.96) * s.sd / sqrt((double)s.n);
    return s;
}

os_seed_verdict os_seed_compare(const os_seed_stats *c, const os_seed_stats *b, int lower_is_better)
{
    if (c->n < 2 || b->n < 2 || !isfinite(c->ci95) || !isfinite(b->ci95)) return OS_SEEDS_UNKNOWN;
    int below = c->mean + c->ci95 < b->mean - b->ci95, above = c->mean - c->ci95 > b->mean + b->ci95;
    if (!below && !above) return OS_SEEDS_INDISTINGUISHABLE;
    return below == lower_is_better ? OS_SEEDS_BETTER : OS_SEEDS_WORSE;
}

const char *os_seed_verdict_name(os_seed_verdict v)
{
    switch (v) {
    case OS_SEEDS_BETTER: return "better";
    case OS_SEEDS_INDISTINGUISHABLE: return "not distinguishable";
    case OS_SEEDS_WORSE: return "worse";
    default: return "unknown";
    }
}
