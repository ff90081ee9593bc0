/*
 * fuzz_sandbox.c — libFuzzer harness for the sandbox: fuzzer-chosen system
 * calls inside a locked-down runner.
 *
 * Each input is a byte for the profile (strict or permissive) and then
 * records of {abi, number, argument modes, six arguments} (see
 * sandbox/syscalls.c) that the runner executes after lock-down, through the
 * native, i386 (int 0x80) and x32 ABIs. On this side, after every run:
 *
 *   - the runner ended in one of the sandbox's outcomes, never "setup";
 *   - every ending other than "done" carries a report (forged messages on
 *     the channel are possible and must be survived, not prevented);
 *   - nothing appeared outside the run directory: the canary file is intact,
 *     the planted path the dictionary offers does not exist, the run
 *     directory is empty again;
 *   - no process of the runner's session is left behind.
 *
 * A broken invariant aborts, and libFuzzer keeps the input. Built and run
 * by fuzz/run_fuzz.sh (the release build's asiarch-runner executes):
 *
 *   fuzz/run_fuzz.sh sandbox 60
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

#define RECORD 56
#define PLANTED "/tmp/asiarch-fuzz-planted"   /* in the runner's path dictionary */
#define CANARY_TEXT "canary\n"

static char base[] = "/tmp/asiarch-fuzz-sandbox-XXXXXX";
static char run_dir[128], canary[128];

static void fail(const char *what, const sb_result *res)
{
    fprintf(stderr, "fuzz_sandbox: invariant broken: %s (outcome %s)\n", what, sb_outcome_name(res->outcome));
    for (int i = 0; i < res->reports.n; i++) aa_report_print(&res->reports.items[i], stderr);
    abort();
}

static void setup_dirs(void)
{
    if (run_dir[0]) return;
    if (!mkdtemp(base)) abort();
    chmod(base, 0755);
    snprintf(run_dir, sizeof run_dir, "%s/run", base);
    snprintf(canary, sizeof canary, "%s/canary", base);
    FILE *f = fopen(canary, "w");
    if (mkdir(run_dir, 0755) != 0 || !f || fputs(CANARY_TEXT, f) < 0 || fclose(f) != 0) abort();
    chmod(canary, 0666);
    unlink(PLANTED);
}

static int canary_intact(void)
{
    char buf[64] = {0};
    FILE *f = fopen(canary, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(CANARY_TEXT) && !memcmp(buf, CANARY_TEXT, n);
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + RECORD || size > 1 + 64 * RECORD) return 0;
    setup_dirs();
    sb_job job;
    sb_job_init(&job, SB_JOB_SYSCALLS);
    job.profile = data[0] & 1 ? SB_PROFILE_PERMISSIVE : SB_PROFILE_STRICT;
    job.syscalls = data + 1;
    job.syscalls_len = size - 1;
    job.run_dir = run_dir;
    job.limits = (sb_limits){.wall_s = 3, .cpu_s = 2, .address_space = 1ull << 30, .max_output = 16 << 10, .threads = 1};
    FILE *sink = fopen("/dev/null", "w");
    job.output = sink;
    sb_result res;
    sb_run(&job, &res);
    if (sink) fclose(sink);
    if (res.outcome == SB_SETUP) fail("the runner could not be set up", &res);
    if (res.outcome != SB_DONE && res.reports.n == 0) fail("an ending without a report", &res);
    if (!canary_intact()) fail("the canary file changed", &res);
    if (access(PLANTED, F_OK) == 0) fail(PLANTED " was created", &res);
    if (!dir_is_empty(run_dir)) fail("the run directory was not cleaned up", &res);
    /* Only the runner's group: libFuzzer keeps an llvm-symbolizer child of its own. */
    if (res.runner_pid > 0 && (kill(-res.runner_pid, 0) == 0 || errno != ESRCH)) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "ps -o pid,ppid,pgid,sid,stat,comm -g %d >&2", res.runner_pid);
        if (system(cmd) != 0) fprintf(stderr, "(ps failed)\n");
        fail("a process of the runner's session was left behind", &res);
    }
    sb_result_free(&res);
    return 0;
}
