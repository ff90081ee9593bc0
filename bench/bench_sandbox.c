/*
 * bench_sandbox.c — what the sandbox costs.
 *
 *   1. Runner start-up: fork to lock-down done (exec, job, namespaces, JIT and
 *      thread pool ready, filter loaded), for strict and off, median of N
 *      runs of a job that returns at once.
 *   2. Training throughput of the small DeltaNet under strict vs off in the
 *      same process, alternating rounds; the median ratio is the overhead
 *      (target >= 0.98).
 *
 *   build/bench/bench_sandbox [-n STARTS] [-r ROUNDS] [-s STEPS] [--scale S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "sandbox.h"
#include "kernels.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double startup_ms(sb_profile p, int runs, double *wall_ms)
{
    double *v = calloc((size_t)runs, sizeof *v), *w = calloc((size_t)runs, sizeof *w);
    for (int i = 0; i < runs; i++) {
        sb_job job;
        sb_job_init(&job, SB_JOB_ATTACK);
        job.profile = p;
        job.attack = "clone3";   /* returns at once with ENOSYS */
        sb_result res;
        sb_run(&job, &res);
        v[i] = res.startup_ms;
        w[i] = res.wall_s * 1e3;
        sb_result_free(&res);
    }
    double m = median(v, runs);
    *wall_ms = median(w, runs);
    free(v);
    free(w);
    return m;
}

static double train_tps(sb_profile p, const char *scale, int steps, const char *train, const char *val)
{
    sb_job job;
    sb_job_init(&job, SB_JOB_TRAIN);
    job.profile = p;
    job.reference = "delta_net";
    char err[256];
    rt_config_scale(scale, &job.cfg, err, sizeof err);
    job.cfg.steps = steps;
    job.cfg.mqar_steps = 0;
    job.train_path = train;
    job.val_path = val;
    sb_result res;
    sb_run(&job, &res);
    double tps = res.outcome == SB_DONE && res.have_metrics ? res.metrics.tokens_per_s : 0;
    if (tps == 0) fprintf(stderr, "training under %s failed: %s\n", sb_profile_name(p),
                          res.reports.n ? res.reports.items[0].message : sb_outcome_name(res.outcome));
    sb_result_free(&res);
    return tps;
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);   /* the kernels and threads asiarch itself would use */
    int starts = 20, rounds = 3, steps = 60;
    const char *scale = "small";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) starts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = argv[++i];
        else {
            fprintf(stderr, "usage: bench_sandbox [-n STARTS] [-r ROUNDS] [-s STEPS] [--scale S]\n");
            return 2;
        }
    }
    if (starts < 1 || rounds < 1 || steps < 1) return 2;
    char dir[] = "/tmp/asiarch-bench-sandbox-XXXXXX", err[512], train[300], val[300];
    dt_prepare_info info;
    if (!mkdtemp(dir) || dt_prepare_bytes(NULL, dir, 0.05, &info, err, sizeof err) < 0) {
        fprintf(stderr, "cannot prepare the corpus: %s\n", err);
        return 1;
    }
    snprintf(train, sizeof train, "%s/train.bin", dir);
    snprintf(val, sizeof val, "%s/val.bin", dir);

    double wall_strict, wall_off;
    double s_strict = startup_ms(SB_PROFILE_STRICT, starts, &wall_strict);
    double s_off = startup_ms(SB_PROFILE_OFF, starts, &wall_off);
    printf("runner start-up, fork to lock-down (median of %d): strict %.1f ms, off %.1f ms\n", starts, s_strict, s_off);
    printf("whole job that returns at once (spawn to reaped):    strict %.1f ms, off %.1f ms\n", wall_strict, wall_off);

    double *ratio = calloc((size_t)rounds, sizeof *ratio), *ts = calloc((size_t)rounds, sizeof *ts),
           *to = calloc((size_t)rounds, sizeof *to);
    for (int r = 0; r < rounds; r++) {
        /* Alternate which goes first, so drift in the machine hits both. */
        if (r % 2 == 0) {
            ts[r] = train_tps(SB_PROFILE_STRICT, scale, steps, train, val);
            to[r] = train_tps(SB_PROFILE_OFF, scale, steps, train, val);
        } else {
            to[r] = train_tps(SB_PROFILE_OFF, scale, steps, train, val);
            ts[r] = train_tps(SB_PROFILE_STRICT, scale, steps, train, val);
        }
        ratio[r] = to[r] > 0 ? ts[r] / to[r] : 0;
        printf("round %d: %s DeltaNet %d steps: strict %.0f tok/s, off %.0f tok/s, ratio %.3f\n", r + 1, scale, steps,
               ts[r], to[r], ratio[r]);
    }
    double mr = median(ratio, rounds);
    printf("training throughput strict/off: median ratio %.3f over %d rounds (target >= 0.98): strict %.0f, off %.0f "
           "tok/s\n", mr, rounds, median(ts, rounds), median(to, rounds));
    free(ratio);
    free(ts);
    free(to);
    snprintf(err, sizeof err, "rm -rf '%s'", dir);
    if (system(err) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
