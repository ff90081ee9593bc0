/*
 * test_sandbox.c — the sandbox layer on this kernel: filters build and load
 * (the CUDA rules too, on a stand-in device fd), the adversarial suite is
 * contained under strict and permissive, the runner holds only its own fds,
 * every reference trains to the same loss under strict as under off (and as
 * in process), failing candidates (trap, NaN, timeout, link error,
 * violation) come back as structured reports while the supervisor keeps
 * working, and checkpoints round-trip through the runner.
 */
#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include "arch.h"
#include "data.h"
#include "gpu.h"
#include "jit.h"
#include "sandbox.h"
#include "sb_internal.h"
#include "test.h"
#include "test_corpus.h"

static char corpus[] = "/tmp/asiarch-test-sandbox-XXXXXX";
static char train_path[256], val_path[256];

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n;
}

static rt_config tiny_config(int steps)
{
    rt_config cfg;
    char err[256];
    rt_config_scale("tiny", &cfg, err, sizeof err);
    cfg.steps = steps;
    cfg.mqar_steps = 0;
    cfg.seed = 7;
    return cfg;
}

/* ---- filters ----------------------------------------------------------------------- */

TEST(kernel_has_seccomp)
{
    char why[256] = "";
    CHECK_MSG(sb_kernel_support(why, sizeof why) == 0, "%s", why);
}

TEST(every_profile_builds)
{
    char err[256];
    sb_filter_spec s = {.self_pid = getpid(), .read_fds = {3}, .n_read = 1, .write_fds = {1, 2, 3, 4}, .n_write = 4};
    s.profile = SB_PROFILE_STRICT;
    int strict = sb_filter_check(&s, err, sizeof err);
    s.profile = SB_PROFILE_PERMISSIVE;
    int permissive = sb_filter_check(&s, err, sizeof err);
    s.chrooted = 1;
    int permissive_root = sb_filter_check(&s, err, sizeof err);
    s.profile = SB_PROFILE_STRICT;
    s.cuda = 1;
    s.device_fds[0] = 9;
    s.n_device = 1;
    int cuda = sb_filter_check(&s, err, sizeof err);
    CHECK(strict > 30);
    CHECK(permissive > 100);
    CHECK(permissive_root > permissive);   /* write flags checked one by one instead of denying opens */
    CHECK(cuda > strict);
}

static volatile sig_atomic_t stage;
static void exit_with_stage(int sig)
{
    (void)sig;
    _exit(40 + stage);
}

/* The CUDA rules, on /dev/null standing in for a /dev/nvidia* fd: ioctl and
 * shared mmap pass on the device fd, ioctl on any other fd traps. */
TEST(cuda_rules_allow_only_the_device_fds)
{
    pid_t pid = fork();
    if (pid == 0) {
        int dev = open("/dev/null", O_RDWR);
        signal(SIGSYS, exit_with_stage);
        sb_filter_spec s = {.profile = SB_PROFILE_STRICT, .cuda = 1, .self_pid = getpid(), .write_fds = {1, 2},
                            .n_write = 2, .device_fds = {dev}, .n_device = 1};
        char err[256];
        if (sb_filter_load(&s, err, sizeof err) < 0) _exit(2);
        int n;
        ioctl(dev, FIONREAD, &n);                 /* allowed: ENOTTY from the kernel */
        stage = 1;
        mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, 0);   /* allowed: ENODEV from /dev/null */
        stage = 2;
        ioctl(1, FIONREAD, &n);                   /* not a device fd: traps */
        _exit(3);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 42, "child status 0x%x (42 = both device calls passed, "
              "then the other ioctl trapped)", status);
}

/* Which system call trapped: its number on stderr (async-signal-safe), exit 50. */
static void report_trap(int sig, siginfo_t *info, void *uc)
{
    (void)sig; (void)uc;
    char msg[48] = "trapped system call ";
    int nr = info->si_syscall, len = 20;
    char digits[12];
    int k = 0;
    do { digits[k++] = (char)('0' + nr % 10); nr /= 10; } while (nr && k < 11);
    while (k) msg[len++] = digits[--k];
    msg[len++] = '\n';
    if (write(2, msg, (size_t)len) < 0) _exit(51);
    if (info->si_syscall == 257) {   /* openat: the path, for the person reading the failure */
        const char *path = (const char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI];
        size_t n = 0;
        while (path && n < 200 && path[n]) n++;
        if (path && write(2, path, n) < 0) _exit(51);
    }
    _exit(50);
}

/* A --device cuda runner compiles the candidate's pointwise module with
 * NVRTC after lock-down (the runner warmed NVRTC before): that compile must
 * need nothing the strict CUDA filter forbids. NVRTC runs without a GPU, so
 * this is checked here; skipped where NVRTC is not installed. */
TEST(nvrtc_compiles_after_strict_lockdown)
{
    char why[512];
    if (jit_nvrtc_load(why, sizeof why) < 0) {
        printf("  (skipped: %s)\n", why);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setenv("TZ", SB_RUNNER_TZ, 1);   /* as the supervisor gives a GPU runner, kept by sb_lockdown */
        tzset();
        if (jit_nvrtc_warm(why, sizeof why) < 0) _exit(2);
        clearenv();                      /* as sb_lockdown does, keeping the zone */
        setenv("TZ", SB_RUNNER_TZ, 1);
        struct sigaction sa = {.sa_sigaction = report_trap, .sa_flags = SA_SIGINFO};
        sigaction(SIGSYS, &sa, NULL);
        sb_filter_spec s = {.profile = SB_PROFILE_STRICT, .cuda = 1, .self_pid = getpid(), .write_fds = {1, 2},
                            .n_write = 2};
        char err[256];
        if (sb_filter_load(&s, err, sizeof err) < 0) _exit(3);
        const char *text = "AA_SCALAR float f(float x) { return tanhf(x); }\n"
                           "AA_SCALAR float f_d0(float x) { float t = tanhf(x); return 1.0f - t * t; }\n";
        gpu_pointwise_op op = {"f", 1};
        char *src = gpu_pointwise_source("cand.c", text, &op, 1, err, sizeof err);
        jit_nvrtc_opts o;
        jit_nvrtc_defaults(&o);
        o.use_cache = 0;   /* the runner's compile: in memory, no cache file */
        jit_nvrtc_headers h;
        gpu_kernel_headers(&h);
        jit_device_code code;
        aa_reports reps = {0};
        _exit(src && jit_nvrtc_compile("pointwise.cu", src, &h, &o, &code, &reps) == 0 && code.len > 0 ? 0 : 4);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child status 0x%x (50: a system call trapped, named on stderr; 4: the compile failed)", status);
}

/* ---- the adversarial suite -------------------------------------------------------------- */

static const char *outcome_of(const sb_selftest_entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].attack->name, name)) return e[i].outcome;
    return "(not run)";
}

static void run_suite(sb_profile p)
{
    sb_selftest_entry e[128];
    char applied[512], err[512];
    int n = sb_selftest(p, 0, NULL, e, 128, applied, sizeof applied, err, sizeof err);
    int total;
    sb_attacks(&total);
    CHECK_MSG(n == total, "%s", err);
    for (int i = 0; i < n; i++) CHECK_MSG(e[i].contained, "%s: %s", e[i].attack->name, e[i].outcome);
    printf("%s: %s\n", sb_profile_name(p), applied);
    CHECK_STR_CONTAINS(applied, "no_new_privs");
    CHECK_STR_CONTAINS(outcome_of(e, n, "clone3"), "ENOSYS");
    CHECK_STR_CONTAINS(outcome_of(e, n, "output-flood"), "output limit");
    CHECK_STR_CONTAINS(outcome_of(e, n, "sleep-forever"), "timeout");
    CHECK_STR_CONTAINS(outcome_of(e, n, "memory-bomb"), "ENOMEM");
    CHECK_STR_CONTAINS(outcome_of(e, n, "channel-garbage"), "rejected by the supervisor");
    if (p == SB_PROFILE_STRICT) {
        CHECK_STR_CONTAINS(outcome_of(e, n, "openat-etc-passwd"), "SIGSYS openat");
        CHECK_STR_CONTAINS(outcome_of(e, n, "thread-before-lockdown"), "SIGSYS openat");
        CHECK_STR_CONTAINS(outcome_of(e, n, "int-0x80"), "SIGSYS i386 open");
        CHECK_STR_CONTAINS(outcome_of(e, n, "x32-syscall"), "SIGSYS x32 openat");
        CHECK_STR_CONTAINS(outcome_of(e, n, "own-sigsys-handler"), "SIGSYS rt_sigaction");
    }
}

TEST(suite_is_contained_under_strict) { run_suite(SB_PROFILE_STRICT); }
TEST(suite_is_contained_under_permissive) { run_suite(SB_PROFILE_PERMISSIVE); }

TEST(selftest_refuses_the_off_profile)
{
    sb_selftest_entry e[4];
    char applied[64], err[256];
    CHECK(sb_selftest(SB_PROFILE_OFF, 0, NULL, e, 4, applied, sizeof applied, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "off profile");
}

/* Even with no filter, the runner holds only its own fds. */
TEST(runner_holds_only_its_own_fds)
{
    sb_job job;
    sb_job_init(&job, SB_JOB_ATTACK);
    job.profile = SB_PROFILE_OFF;
    job.attack = "inherited-fds";
    job.limits.wall_s = 10;
    int stray = open("/dev/null", O_RDONLY);   /* not CLOEXEC: must still not reach the runner */
    sb_result res;
    CHECK(sb_run(&job, &res) == 0);
    CHECK_MSG(res.outcome == SB_DONE && res.attack.returned && !res.attack.escaped, "%s: %s",
              sb_outcome_name(res.outcome), res.attack.text);
    CHECK_STR_CONTAINS(res.applied, "profile off");
    sb_result_free(&res);
    close(stray);
}

/* ---- equivalence --------------------------------------------------------------------------- */

static int train_in_runner(const char *ref, sb_profile p, int steps, rt_metrics *m, sb_result *keep)
{
    sb_job job;
    sb_job_init(&job, SB_JOB_TRAIN);
    job.profile = p;
    job.reference = ref;
    job.cfg = tiny_config(steps);
    job.train_path = train_path;
    job.val_path = val_path;
    job.limits.threads = 2;
    sb_result res;
    sb_run(&job, &res);
    int ok = res.outcome == SB_DONE && res.have_metrics;
    if (!ok) fprintf(stderr, "%s under %s: %s: %s\n", ref, sb_profile_name(p), sb_outcome_name(res.outcome),
                     res.reports.n ? res.reports.items[0].message : "");
    if (ok) *m = res.metrics;
    if (keep) *keep = res;
    else sb_result_free(&res);
    return ok ? 0 : -1;
}

TEST(every_reference_trains_the_same_under_strict_and_off)
{
    int n;
    const arch_ref *refs = arch_all(&n);
    for (int i = 0; i < n; i++) {
        rt_metrics strict, off;
        CHECK_MSG(train_in_runner(refs[i].name, SB_PROFILE_STRICT, 20, &strict, NULL) == 0, "%s", refs[i].name);
        CHECK_MSG(train_in_runner(refs[i].name, SB_PROFILE_OFF, 20, &off, NULL) == 0, "%s", refs[i].name);
        CHECK_MSG(strict.train_loss == off.train_loss && strict.val_loss == off.val_loss,
                  "%s: strict %.9g/%.9g vs off %.9g/%.9g", refs[i].name, strict.train_loss, strict.val_loss,
                  off.train_loss, off.val_loss);
        CHECK(isfinite(strict.val_loss) && strict.steps == 20);
    }
}

TEST(runner_matches_training_in_process)
{
    rt_metrics inside;
    sb_result res;
    CHECK(train_in_runner("delta_net", SB_PROFILE_STRICT, 30, &inside, &res) == 0);
    CHECK_STR_CONTAINS(res.applied, "seccomp allow-list");
    CHECK(res.startup_ms > 0 && res.startup_ms < 5000);
    printf("runner start-up (fork to lock-down): %.1f ms\n", res.startup_ms);
    sb_result_free(&res);
    dt_tokens train = {0}, val = {0};
    char err[512];
    CHECK(dt_shard_read(train_path, &train, err, sizeof err) == 0 && dt_shard_read(val_path, &val, err, sizeof err) == 0);
    rt_config cfg = tiny_config(30);
    const arch_ref *ref = arch_find("delta_net");
    rt_arch arch = {.name = ref->name, .source_file = ref->file, .mixer = ref->mixer};
    rt_train_io io = {.train = &train, .val = &val};
    rt_metrics here;
    omp_set_num_threads(2);
    CHECK(rt_train(&cfg, &arch, &io, &here, err, sizeof err) == 0);
    CHECK_MSG(here.train_loss == inside.train_loss && here.val_loss == inside.val_loss, "in process %.9g/%.9g, "
              "runner %.9g/%.9g", here.train_loss, here.val_loss, inside.train_loss, inside.val_loss);
    dt_tokens_free(&train);
    dt_tokens_free(&val);
}

/* ---- failing candidates ------------------------------------------------------------------------ */

typedef struct compiled {
    jit_source src;
    jit_bitcode bc;
} compiled;

/* Compile a test candidate without the checker (the sandbox must hold alone). */
static int compile_file(const char *name, compiled *c)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/cand/%s", ASIARCH_SOURCE_DIR, name);
    aa_reports reps = {0};
    jit_compile_opts o;
    jit_compile_defaults(&o);
    o.use_cache = 0;
    int rc = jit_source_read(path, &c->src, &reps) == 0 && jit_compile(&c->src, &o, &c->bc, &reps) == 0 ? 0 : -1;
    if (rc) fprintf(stderr, "%s: %s\n", name, reps.n ? reps.items[0].message : "?");
    aa_reports_free(&reps);
    return rc;
}

static void run_candidate(const char *file, sb_job_kind kind, int verify, double wall, sb_result *res)
{
    compiled c;
    memset(res, 0, sizeof *res);
    if (compile_file(file, &c) < 0) {
        res->outcome = SB_SETUP;
        return;
    }
    sb_job job;
    sb_job_init(&job, kind);
    job.source = &c.src;
    job.bitcode = &c.bc;
    job.cfg = tiny_config(5);
    job.verify = verify;
    job.train_path = train_path;
    job.val_path = val_path;
    job.limits.wall_s = wall;
    sb_run(&job, res);
    jit_bitcode_free(&c.bc);
    jit_source_free(&c.src);
}

static void expect_report(const sb_result *res, sb_outcome o, const char *stage, const char *rule,
                          const char *needle, const char *file)
{
    CHECK_MSG(res->outcome == o, "%s: outcome %s, expected %s", file, sb_outcome_name(res->outcome),
              sb_outcome_name(o));
    CHECK_MSG(res->reports.n >= 1, "%s: no report", file);
    if (res->reports.n < 1) return;
    const aa_report *r = &res->reports.items[0];
    CHECK_MSG(!strcmp(r->stage, stage) && !strcmp(r->rule, rule), "%s: %s %s", file, r->stage, r->rule);
    CHECK_STR_CONTAINS(r->file, file);
    CHECK_STR_CONTAINS(r->message, needle);
}

TEST(failures_come_back_as_reports_and_the_supervisor_goes_on)
{
    int fds = count_fds();
    sb_result res;
    run_candidate("traps_cast.c", SB_JOB_VERIFY, 1, 30, &res);
    expect_report(&res, SB_TRAP, "sandbox", "sandbox/trap", "in candidate function quantise", "traps_cast.c");
    sb_result_free(&res);
    /* in training: the report names the phase and op, and points at the line that made it */
    run_candidate("traps_cast.c", SB_JOB_TRAIN, 0, 60, &res);
    expect_report(&res, SB_TRAP, "sandbox", "sandbox/trap", "in the forward pass at op pointwise", "traps_cast.c");
    CHECK(res.reports.n && res.reports.items[0].line == 13 && strstr(res.reports.items[0].snippet, "aa_pointwise1"));
    sb_result_free(&res);

    run_candidate("explodes.c", SB_JOB_TRAIN, 0, 60, &res);
    expect_report(&res, SB_FAILED, "train", "train/nan", "NaN or infinite at step 1", "explodes.c");
    CHECK(res.have_metrics && res.metrics.diverged);
    sb_result_free(&res);

    run_candidate("spins.c", SB_JOB_VERIFY, 1, 2, &res);
    expect_report(&res, SB_TIMEOUT, "sandbox", "sandbox/timeout", "wall-clock limit of 2 s", "spins.c");
    CHECK(res.wall_s < 6);
    sb_result_free(&res);

    run_candidate("calls_system.c", SB_JOB_VERIFY, 1, 30, &res);   /* checker bypassed: the linker refuses */
    expect_report(&res, SB_FAILED, "link", "link/undefined-symbol", "system", "calls_system.c");
    CHECK(res.reports.n && res.reports.items[0].line == 10 && strstr(res.reports.items[0].snippet, "system("));
    sb_result_free(&res);

    sb_job job;
    sb_job_init(&job, SB_JOB_ATTACK);
    job.attack = "openat-etc-passwd";
    job.canary_dir = "/tmp";
    CHECK(sb_run(&job, &res) == 0);
    expect_report(&res, SB_VIOLATION, "sandbox", "sandbox/violation", "system call openat", "asiarch-runner");
    CHECK(!strcmp(res.violation, "openat"));
    sb_result_free(&res);

    rt_metrics m;
    CHECK(train_in_runner("gla", SB_PROFILE_STRICT, 5, &m, NULL) == 0);   /* still working */
    CHECK_MSG(count_fds() == fds, "fds before %d, after %d", fds, count_fds());
    CHECK(waitpid(-1, NULL, WNOHANG) < 0);   /* no child left behind */
}

TEST(missing_runner_is_a_setup_error)
{
    sb_job job;
    sb_job_init(&job, SB_JOB_IR);
    job.reference = "delta_net";
    job.runner_path = "/nonexistent/asiarch-runner";
    sb_result res;
    CHECK(sb_run(&job, &res) < 0 && res.outcome == SB_SETUP);
    CHECK(res.reports.n && !strcmp(res.reports.items[0].rule, "sandbox/setup"));
    CHECK_STR_CONTAINS(res.reports.n ? res.reports.items[0].message : "", "ASIARCH_RUNNER");
    sb_result_free(&res);
}

TEST(checkpoint_round_trips_through_the_runner)
{
    char ckpt[300];
    snprintf(ckpt, sizeof ckpt, "%s/model.ckpt", corpus);
    sb_job job;
    sb_job_init(&job, SB_JOB_TRAIN);
    job.reference = "retnet";
    job.cfg = tiny_config(10);
    job.train_path = train_path;
    job.val_path = val_path;
    job.save_path = ckpt;
    sb_result trained, evaluated;
    sb_run(&job, &trained);
    CHECK(trained.outcome == SB_DONE && trained.have_metrics);
    struct stat st;
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", ckpt);
    CHECK(stat(ckpt, &st) == 0 && st.st_size > 100000 && stat(tmp, &st) != 0);
    sb_job_init(&job, SB_JOB_EVAL);
    job.reference = "retnet";
    job.cfg = tiny_config(10);
    job.train_path = train_path;
    job.val_path = val_path;
    job.checkpoint_path = ckpt;
    sb_run(&job, &evaluated);
    CHECK_MSG(evaluated.outcome == SB_DONE && evaluated.have_metrics, "%s",
              evaluated.reports.n ? evaluated.reports.items[0].message : "");
    CHECK_NEAR(evaluated.metrics.val_loss, trained.metrics.val_loss, 1e-6);
    sb_result_free(&trained);
    sb_result_free(&evaluated);
    unlink(ckpt);
}

int main(void)
{
    if (test_corpus_prepare(corpus, train_path, sizeof train_path, val_path, sizeof val_path) < 0) return 1;
    RUN(kernel_has_seccomp);
    RUN(every_profile_builds);
    RUN(cuda_rules_allow_only_the_device_fds);
    RUN(nvrtc_compiles_after_strict_lockdown);
    RUN(suite_is_contained_under_strict);
    RUN(suite_is_contained_under_permissive);
    RUN(selftest_refuses_the_off_profile);
    RUN(runner_holds_only_its_own_fds);
    RUN(every_reference_trains_the_same_under_strict_and_off);
    RUN(runner_matches_training_in_process);
    RUN(failures_come_back_as_reports_and_the_supervisor_goes_on);
    RUN(missing_runner_is_a_setup_error);
    RUN(checkpoint_round_trips_through_the_runner);
    test_corpus_remove(corpus);
    return test_summary();
}
