/*
 * selftest.c — run the adversarial suite against this kernel.
 *
 * Each program runs in its own runner under the chosen profile, with tight
 * limits (5 s wall, 2 s CPU, 1 GiB address space, 64 KiB output). Outside
 * the run directory sits a canary directory holding one file; the programs
 * aim at it, and after each one the canary must be byte-for-byte intact and
 * alone. A program is contained when it ended in a violation report, a
 * limit, a fault report, a rejected message, or ran to its end with the
 * kernel refusing what it tried; it escaped when it says its attempt
 * worked or the canary changed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_internal.h"

#define CANARY_TEXT "canary: nothing outside the run directory may change\n"

typedef struct selftest_dirs {
    char base[4096], canary_dir[4200], canary[4300], run_dir[4200];
} selftest_dirs;

static int write_canary(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(CANARY_TEXT, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int make_dirs(selftest_dirs *d, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->base, sizeof d->base, "%s/asiarch-selftest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->base)) {
        snprintf(err, errlen, "cannot create a directory for the self-test under %s: %s", tmp ? tmp : "/tmp",
                 strerror(errno));
        return -1;
    }
    chmod(d->base, 0755);   /* the runner (nobody) must reach its root inside */
    snprintf(d->canary_dir, sizeof d->canary_dir, "%s/outside", d->base);
    snprintf(d->canary, sizeof d->canary, "%s/canary", d->canary_dir);
    snprintf(d->run_dir, sizeof d->run_dir, "%s/run", d->base);
    if (mkdir(d->canary_dir, 0777) != 0 || chmod(d->canary_dir, 0777) != 0 || mkdir(d->run_dir, 0755) != 0 ||
        write_canary(d->canary) != 0 || chmod(d->canary, 0666) != 0) {
        /* world-writable on purpose: only the sandbox may stop the attacks */
        snprintf(err, errlen, "cannot prepare the canary files in %s: %s", d->base, strerror(errno));
        return -1;
    }
    return 0;
}

/* Empty string when intact, else what changed. */
static void check_canary(const selftest_dirs *d, char *what, size_t len)
{
    what[0] = 0;
    char buf[256] = {0};
    FILE *f = fopen(d->canary, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    if (!f) snprintf(what, len, "the canary file was removed");
    else if (n != strlen(CANARY_TEXT) || memcmp(buf, CANARY_TEXT, n) != 0) snprintf(what, len, "the canary file was modified");
    DIR *dir = opendir(d->canary_dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "canary"))
            snprintf(what, len, "a file appeared outside the run directory: %.100s", e->d_name);
    if (dir) closedir(dir);
}

static void restore_canary(const selftest_dirs *d)
{
    DIR *dir = opendir(d->canary_dir);
    struct dirent *e;
    char path[4600];
    while (dir && (e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", d->canary_dir, e->d_name);
        unlink(path);
    }
    if (dir) closedir(dir);
    write_canary(d->canary);
    chmod(d->canary, 0666);
}

static void remove_dirs(const selftest_dirs *d)
{
    restore_canary(d);
    unlink(d->canary);
    rmdir(d->canary_dir);
    rmdir(d->run_dir);
    rmdir(d->base);
}

/* The verdict on one run. */
static int judge(const sb_result *res, char *out, size_t len)
{
    switch (res->outcome) {
    case SB_VIOLATION: snprintf(out, len, "contained: SIGSYS %s", res->violation); return 1;
    case SB_TRAP:
        snprintf(out, len, "contained: %.150s", res->reports.n ? res->reports.items[0].message : "fault");
        return 1;
    case SB_CPU_LIMIT: snprintf(out, len, "contained: rlimit (CPU time)"); return 1;
    case SB_TIMEOUT: snprintf(out, len, "contained: timeout (wall clock)"); return 1;
    case SB_OUTPUT_LIMIT: snprintf(out, len, "contained: output limit"); return 1;
    case SB_PROTOCOL: snprintf(out, len, "contained: message rejected by the supervisor"); return 1;
    case SB_DONE:
        if (!res->attack.returned) break;
        snprintf(out, len, "%s: %.170s", res->attack.escaped ? "ESCAPED" : "contained", res->attack.text);
        return !res->attack.escaped;
    default: break;
    }
    snprintf(out, len, "NOT CONTAINED: ended %s: %.140s", sb_outcome_name(res->outcome),
             res->reports.n ? res->reports.items[0].message : "no report");
    return 0;
}

static void run_one(const sb_attack *a, sb_profile profile, int cuda, const selftest_dirs *d, FILE *sink,
                    sb_selftest_entry *e, char *applied, size_t applied_len)
{
    sb_job job;
    sb_job_init(&job, SB_JOB_ATTACK);
    job.profile = profile;
    job.cuda = cuda;
    job.attack = a->name;
    job.canary_dir = d->canary_dir;
    job.run_dir = d->run_dir;
    job.output = sink;
    job.limits = (sb_limits){.wall_s = 5, .cpu_s = 2, .address_space = 1ull << 30, .max_output = 64 << 10,
                             .threads = 1};
    sb_result res;
    double t = rt_now();
    sb_run(&job, &res);
    e->ms = (rt_now() - t) * 1e3;
    e->attack = a;
    e->contained = judge(&res, e->outcome, sizeof e->outcome);
    char damage[200];
    check_canary(d, damage, sizeof damage);
    if (damage[0]) {
        snprintf(e->outcome, sizeof e->outcome, "ESCAPED: %s", damage);
        e->contained = 0;
        restore_canary(d);
    }
    if (applied && !applied[0] && res.applied[0]) snprintf(applied, applied_len, "%s", res.applied);
    sb_result_free(&res);
}

int sb_selftest(sb_profile profile, int cuda, const char *only, sb_selftest_entry *out, int max, char *applied,
                size_t applied_len, char *err, size_t errlen)
{
    if (applied && applied_len) applied[0] = 0;
    if (profile == SB_PROFILE_OFF) {
        snprintf(err, errlen, "the off profile contains nothing by design (a runner with rlimits only); "
                              "self-test strict or permissive");
        return -1;
    }
    if (sb_kernel_support(err, errlen) < 0) return -1;
    int n;
    const sb_attack *attacks = sb_attacks(&n);
    if (only && sb_attack_index(only) < 0) {
        snprintf(err, errlen, "no adversarial program named '%s' (see `asiarch sandbox list`)", only);
        return -1;
    }
    selftest_dirs d;
    if (make_dirs(&d, err, errlen) < 0) return -1;
    FILE *sink = fopen("/dev/null", "w");
    int count = 0;
    for (int i = 0; i < n && count < max; i++) {
        if (only && strcmp(only, attacks[i].name)) continue;
        run_one(&attacks[i], profile, cuda, &d, sink ? sink : stderr, &out[count++], applied, applied_len);
    }
    if (sink) fclose(sink);
    remove_dirs(&d);
    return count;
}
