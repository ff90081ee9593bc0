/*
 * supervisor.c — start a runner for one job, watch it, and say how it ended.
 *
 * The supervisor prepares everything the runner may touch (an empty root
 * directory, the data fds, the checkpoint's temporary file), starts the
 * runner with exec (never a fork that keeps our memory), sends the job, then
 * polls three fds until the runner is gone: the channel (messages), the
 * death pipe (a violation or fault report from a signal handler) and the
 * output pipe (its stdout/stderr, passed on up to a cap). A breach of the
 * wall-clock, output or protocol limits kills the runner's process group.
 * Nothing the runner sends is trusted: every length is checked and every
 * string is terminated here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "kernels.h"
#include "sb_internal.h"

#ifndef ASIARCH_RUNNER_BUILD_PATH
#define ASIARCH_RUNNER_BUILD_PATH ""
#endif

/* ---- small public helpers --------------------------------------------------------- */

int sb_profile_parse(const char *name, sb_profile *out)
{
    static const char *const names[] = {"off", "permissive", "strict"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (sb_profile)i;
            return 0;
        }
    return -1;
}

const char *sb_profile_name(sb_profile p)
{
    return p == SB_PROFILE_STRICT ? "strict" : p == SB_PROFILE_PERMISSIVE ? "permissive" : "off";
}

const char *sb_outcome_name(sb_outcome o)
{
    static const char *const names[] = {"done", "failed", "violation", "trap", "timeout", "cpu-limit",
                                        "output-limit", "protocol", "crash", "setup", "stopped"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

size_t sb_memory_per_runner(int runners)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)4 << 30;
    size_t share = total / (size_t)(runners > 0 ? runners : 1);
    return share < ((size_t)1 << 30) ? (size_t)1 << 30 : share;
}

void sb_limits_default(sb_limits *l)
{
    memset(l, 0, sizeof *l);
    l->address_space = sb_memory_per_runner(1);
    l->max_output = 1u << 20;
}

void sb_job_init(sb_job *job, sb_job_kind kind)
{
    memset(job, 0, sizeof *job);
    job->kind = kind;
    job->profile = SB_PROFILE_STRICT;
    job->verify = 1;
    sb_limits_default(&job->limits);
    rt_verify_defaults(&job->verify_opts);
}

void sb_result_free(sb_result *res)
{
    aa_reports_free(&res->reports);
    free(res->text);
    res->text = NULL;
}

int sb_kernel_support(char *why, size_t len)
{
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
        snprintf(why, len, "this kernel has no seccomp support (prctl(PR_GET_SECCOMP): %s)", strerror(errno));
        return -1;
    }
    unsigned action = 0x00030000u;   /* SECCOMP_RET_TRAP */
    if (syscall(SYS_seccomp, 2 /* SECCOMP_GET_ACTION_AVAIL */, 0, &action) != 0) {
        snprintf(why, len, "this kernel has no seccomp filters with SECCOMP_RET_TRAP (%s)", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the runner's program ------------------------------------------------------------ */

static int runner_path(const sb_job *job, char *out, size_t len)
{
    if (!job->runner_path) return jit_find_program("asiarch-runner", "ASIARCH_RUNNER", ASIARCH_RUNNER_BUILD_PATH, out, len);
    snprintf(out, len, "%s", job->runner_path);
    return access(out, X_OK) == 0 ? 0 : -1;
}

/* ---- one runner --------------------------------------------------------------------------- */

typedef struct runner {
    pid_t pid;
    int channel, death, output;   /* our ends */
    int child[SB_FD_COUNT];       /* what the runner's fd i will be; -1 closed */
    char path[PATH_MAX];
    char root[PATH_MAX];
    char save_tmp[PATH_MAX];
    char *envp[8];
    char env_store[5][256];
    double t_fork;
} runner;

static void setup_failed(sb_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setup_failed(sb_result *res, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    res->outcome = SB_SETUP;
    aa_report_add(&res->reports, "sandbox", "asiarch-runner", 0, 0, "sandbox/setup", "%s", msg);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int make_root(const sb_job *job, runner *r, sb_result *res)
{
    const char *base = job->run_dir;
    if (!base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if (job->run_dir) mkdir(job->run_dir, 0755);
    snprintf(r->root, sizeof r->root, "%s/asiarch-root-XXXXXX", base);
    if (!mkdtemp(r->root)) {
        setup_failed(res, "cannot create the runner's root directory under %s: %s", base, strerror(errno));
        r->root[0] = 0;
        return -1;
    }
    chmod(r->root, 0555);   /* empty and read-only: the runner sees nothing and writes nothing */
    return 0;
}

static int open_inputs(const sb_job *job, runner *r, sb_result *res)
{
    const char *paths[2] = {job->train_path, job->val_path};
    for (int i = 0; i < 2; i++) {
        if (!paths[i]) continue;
        r->child[SB_FD_TRAIN + i] = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (r->child[SB_FD_TRAIN + i] < 0) {
            setup_failed(res, "%s: cannot open: %s", paths[i], strerror(errno));
            return -1;
        }
    }
    if (job->checkpoint_path) {
        r->child[SB_FD_SAVE] = open(job->checkpoint_path, O_RDONLY | O_CLOEXEC);
        if (r->child[SB_FD_SAVE] < 0) {
            setup_failed(res, "%s: cannot open: %s", job->checkpoint_path, strerror(errno));
            return -1;
        }
    } else if (job->save_path) {
        snprintf(r->save_tmp, sizeof r->save_tmp, "%s.tmp", job->save_path);
        r->child[SB_FD_SAVE] = open(r->save_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (r->child[SB_FD_SAVE] < 0) {
            setup_failed(res, "%s: cannot create: %s", r->save_tmp, strerror(errno));
            r->save_tmp[0] = 0;
            return -1;
        }
    }
    return 0;
}

static int open_pipes(runner *r, sb_result *res)
{
    int sv[2], dp[2], op[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) goto fail;
    r->channel = sv[0];
    r->child[SB_FD_CHANNEL] = sv[1];
    if (pipe2(dp, O_CLOEXEC) != 0) goto fail;
    r->death = dp[0];
    r->child[SB_FD_DEATH] = dp[1];
    if (pipe2(op, O_CLOEXEC) != 0) goto fail;
    r->output = op[0];
    r->child[1] = op[1];
    r->child[2] = dup(op[1]);
    fcntl(r->child[2], F_SETFD, FD_CLOEXEC);
    r->child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->child[0] < 0 || r->child[2] < 0) goto fail;
    return 0;
fail:
    setup_failed(res, "cannot create the runner's channel: %s", strerror(errno));
    return -1;
}

/* Only thread and BLAS settings cross into the runner; it clears them before
 * candidate code runs. The runner's OpenBLAS reads OPENBLAS_CORETYPE as it
 * loads, so the kernel family the CPU calls for is named here (kernels/cpu.c),
 * with a bounded OpenMP spin unless the user chose a wait policy. */
static void build_env(const sb_job *job, runner *r)
{
    int n = 0, threads = job->limits.threads > 0 ? job->limits.threads : omp_get_max_threads();
    snprintf(r->env_store[n], sizeof r->env_store[n], "OMP_NUM_THREADS=%d", threads);
    r->envp[n] = r->env_store[n], n++;
    /* GPU runners: a fixed time zone, read once before lock-down (see
     * sb_lockdown). */
    if (job->cuda) {
        snprintf(r->env_store[n], sizeof r->env_store[n], "TZ=%s", SB_RUNNER_TZ);
        r->envp[n] = r->env_store[n], n++;
    }
    const char *core = k_cpu_child_core(), *spin = k_cpu_child_spincount(), *policy = getenv("OMP_WAIT_POLICY");
    const char *names[] = {"OPENBLAS_CORETYPE", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY"};
    const char *values[] = {core, spin, policy};
    for (int i = 0; i < 3; i++) {
        if (!values[i] || strlen(values[i]) > 200) continue;
        snprintf(r->env_store[n], sizeof r->env_store[n], "%s=%s", names[i], values[i]);
        r->envp[n] = r->env_store[n], n++;
    }
    r->envp[n] = NULL;
}

/* User + system CPU seconds of process pid, all its threads (fields 14 and
 * 15 of /proc/PID/stat, after the command name, which may hold spaces and
 * parentheses); -1 when it cannot be read. */
static double process_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Tasks (processes and threads) of uid now: RLIMIT_NPROC counts them all. */
static long tasks_of(uid_t uid)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        long threads = 1;
        int mine = 0;
        unsigned u;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "Uid: %u", &u) == 1) mine = u == uid;
            sscanf(line, "Threads: %ld", &threads);
        }
        fclose(f);
        if (mine) n += threads;
    }
    closedir(d);
    return n;
}

typedef struct limit_set { int resource; struct rlimit lim; } limit_set;

static int plan_limits(const sb_job *job, limit_set *out)
{
    int n = 0, threads = job->limits.threads > 0 ? job->limits.threads : omp_get_max_threads();
    out[n++] = (limit_set){RLIMIT_CORE, {0, 0}};
    out[n++] = (limit_set){RLIMIT_NOFILE, {64, 64}};
    rlim_t fsize = job->save_path ? (rlim_t)64 << 30 : 0;
    out[n++] = (limit_set){RLIMIT_FSIZE, {fsize, fsize}};
    if (job->limits.cpu_s > 0) {
        rlim_t s = (rlim_t)ceil(job->limits.cpu_s);
        out[n++] = (limit_set){RLIMIT_CPU, {s, s + 2}};
    }
    if (job->limits.address_space > 0 && !job->cuda)
        out[n++] = (limit_set){RLIMIT_AS, {job->limits.address_space, job->limits.address_space}};
    uid_t uid = geteuid() == 0 && job->profile != SB_PROFILE_OFF ? 65534 : geteuid();
    rlim_t procs = (rlim_t)(tasks_of(uid) + threads + 16);
    out[n++] = (limit_set){RLIMIT_NPROC, {procs, procs}};
    struct rlimit st;
    if (getrlimit(RLIMIT_STACK, &st) == 0 && st.rlim_cur == RLIM_INFINITY)
        out[n++] = (limit_set){RLIMIT_STACK, {8u << 20, 8u << 20}};
    return n;
}

/* In the child, between fork and exec: system calls only. */
static void child_exec(runner *r, const limit_set *limits, int n_limits, pid_t parent)
{
    setsid();   /* its own session and process group: no controlling terminal, killed as a group */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int high[SB_FD_COUNT];
    for (int i = 0; i < SB_FD_COUNT; i++) high[i] = r->child[i] >= 0 ? fcntl(r->child[i], F_DUPFD_CLOEXEC, 64) : -1;
    for (int i = 0; i < SB_FD_COUNT; i++) {
        if (high[i] >= 0) dup2(high[i], i);
        else close(i);
    }
    syscall(SYS_close_range, SB_FD_COUNT, ~0u, 0);
    for (int i = 0; i < n_limits; i++) setrlimit(limits[i].resource, &limits[i].lim);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);   /* SIG_IGN would survive exec */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *argv[] = {"asiarch-runner", NULL};
    execve(r->path, argv, r->envp);
    sb_wire_death d = {.kind = SB_DEATH_EXEC, .signo = errno};
    ssize_t w = write(SB_FD_DEATH, &d, sizeof d);
    (void)w;
    _exit(127);
}

static int start(const sb_job *job, runner *r, sb_result *res)
{
    limit_set limits[12];
    int n_limits = plan_limits(job, limits);
    build_env(job, r);
    pid_t parent = getpid();
    r->t_fork = rt_now();
    r->pid = fork();
    if (r->pid < 0) {
        setup_failed(res, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (r->pid == 0) child_exec(r, limits, n_limits, parent);
    for (int i = 0; i < SB_FD_COUNT; i++) close_fd(&r->child[i]);
    return 0;
}

/* ---- the job message -------------------------------------------------------------------------- */

static int send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%.*s", (int)len - 1, src ? src : "");
}

static int send_job(const sb_job *job, const runner *r)
{
    sb_wire_job *w = calloc(1, sizeof *w);
    if (!w) return -1;
    *w = (sb_wire_job){.magic = SB_WIRE_MAGIC, .header_size = sizeof(sb_msg_header), .job_size = sizeof *w,
                       .config_size = sizeof(rt_config), .report_size = sizeof(aa_report), .kind = job->kind,
                       .profile = job->profile, .cuda = job->cuda, .gpu_precision = job->gpu_precision,
                       .gpu_deterministic = job->gpu_deterministic,
                       .threads = job->limits.threads > 0 ? job->limits.threads : omp_get_max_threads(),
                       .verify = job->verify, .profile_ops = job->profile_ops, .ir_summary = job->ir_summary, .has_train = job->train_path != NULL,
                       .has_save = job->save_path != NULL && !job->checkpoint_path,
                       .has_checkpoint = job->checkpoint_path != NULL, .supervisor_pid = getpid(), .cfg = job->cfg,
                       .verify_opts = job->verify_opts};
    copy_str(w->reference, sizeof w->reference, job->reference);
    copy_str(w->source_path, sizeof w->source_path, job->source ? job->source->path : NULL);
    copy_str(w->checkpoint_name, sizeof w->checkpoint_name, job->checkpoint_path);
    copy_str(w->attack, sizeof w->attack, job->attack);
    copy_str(w->canary_dir, sizeof w->canary_dir, job->canary_dir);
    copy_str(w->root_dir, sizeof w->root_dir, r->root);
    w->source_len = job->source ? job->source->len : 0;
    w->bitcode_len = job->bitcode ? job->bitcode->len : 0;
    w->syscalls_len = job->syscalls ? job->syscalls_len : 0;
    w->ref_source_len = job->ref_source ? job->ref_source->len : 0;
    w->ref_bitcode_len = job->ref_bitcode ? job->ref_bitcode->len : 0;
    if (job->kernel) w->kernel = *job->kernel;
    size_t total = sizeof *w + w->source_len + w->bitcode_len + w->syscalls_len + w->ref_source_len + w->ref_bitcode_len;
    sb_msg_header h = {SB_MSG_JOB, (uint32_t)total};
    int rc = total > SB_MAX_MESSAGE ? -1 : send_all(r->channel, &h, sizeof h);
    if (rc == 0) rc = send_all(r->channel, w, sizeof *w);
    if (rc == 0 && w->source_len) rc = send_all(r->channel, job->source->text, w->source_len);
    if (rc == 0 && w->bitcode_len) rc = send_all(r->channel, job->bitcode->data, w->bitcode_len);
    if (rc == 0 && w->syscalls_len) rc = send_all(r->channel, job->syscalls, w->syscalls_len);
    if (rc == 0 && w->ref_source_len) rc = send_all(r->channel, job->ref_source->text, w->ref_source_len);
    if (rc == 0 && w->ref_bitcode_len) rc = send_all(r->channel, job->ref_bitcode->data, w->ref_bitcode_len);
    free(w);
    return rc;
}

/* ---- watching ---------------------------------------------------------------------------------- */

typedef struct watch {
    const sb_job *job;
    runner *r;
    sb_result *res;
    char *buf;                 /* channel bytes not yet parsed */
    size_t len, cap, received;
    size_t output_bytes;
    sb_wire_death death;
    size_t death_len;
    kp_region regions[KP_MAX_BUFFERS];   /* of the kernel call under way (checked mode) */
    int n_regions;
    int done, killed;
    sb_outcome kill_reason;
    char kill_detail[256];
} watch;

static void kill_runner(watch *w, sb_outcome why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kill_runner(watch *w, sb_outcome why, const char *fmt, ...)
{
    if (w->killed) return;
    w->killed = 1;
    w->kill_reason = why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->kill_detail, sizeof w->kill_detail, fmt, ap);
    va_end(ap);
    kill(-w->r->pid, SIGKILL);
    kill(w->r->pid, SIGKILL);
}

static void terminate(char *s, size_t len) { s[len - 1] = 0; }

static int take_reports(watch *w, const char *body, size_t len)
{
    if (len % sizeof(aa_report) != 0 || len / sizeof(aa_report) > SB_MAX_REPORTS) return -1;
    for (size_t i = 0; i < len / sizeof(aa_report); i++) {
        aa_report r;
        memcpy(&r, body + i * sizeof r, sizeof r);
        terminate(r.stage, sizeof r.stage);
        terminate(r.file, sizeof r.file);
        terminate(r.rule, sizeof r.rule);
        terminate(r.message, sizeof r.message);
        terminate(r.snippet, sizeof r.snippet);
        aa_report *dst = aa_report_add(&w->res->reports, r.stage, r.file, r.line, r.col, r.rule, "%s", r.message);
        if (dst) memcpy(dst->snippet, r.snippet, sizeof r.snippet);
    }
    return 0;
}

/* One message from the runner. -1: malformed. */
static int handle(watch *w, uint32_t type, const char *body, size_t len)
{
    sb_result *res = w->res;
    switch (type) {
    case SB_MSG_LOCKED: {
        if (len != sizeof(sb_wire_locked)) return -1;
        memcpy(res->applied, ((const sb_wire_locked *)body)->applied, sizeof res->applied);
        terminate(res->applied, sizeof res->applied);
        res->startup_ms = (rt_now() - w->r->t_fork) * 1e3;
        return 0;
    }
    case SB_MSG_PROGRESS: {
        if (len != sizeof(sb_wire_progress)) return -1;
        sb_wire_progress p;
        memcpy(&p, body, sizeof p);
        if (w->job->progress) w->job->progress(w->job->progress_ctx, p.step, p.steps, p.loss, p.tokens_per_s, p.eta_s);
        if (!w->job->should_stop) return 0;
        char why[400] = "";
        sb_progress at = {.step = p.step, .steps = p.steps, .loss = p.loss, .wall_s = rt_now() - w->r->t_fork,
                          .cpu_s = process_cpu_seconds(w->r->pid)};
        if (w->job->should_stop(w->job->stop_ctx, &at, why, sizeof why))
            kill_runner(w, SB_STOPPED, "early stop at step %d of %d: %s", p.step, p.steps, why);
        return 0;
    }
    case SB_MSG_REPORTS: return take_reports(w, body, len);
    case SB_MSG_METRICS:
        if (len != sizeof(rt_metrics)) return -1;
        memcpy(&res->metrics, body, len);
        terminate(res->metrics.name, sizeof res->metrics.name);
        terminate(res->metrics.scale, sizeof res->metrics.scale);
        res->have_metrics = 1;
        return 0;
    case SB_MSG_VERIFY_INFO:
        if (len != sizeof(rt_verify_info)) return -1;
        memcpy(&res->verify_info, body, len);
        res->have_verify_info = 1;
        return 0;
    case SB_MSG_TEXT:
        free(res->text);
        res->text = malloc(len + 1);
        if (!res->text) return -1;
        memcpy(res->text, body, len);
        res->text[len] = 0;
        return 0;
    case SB_MSG_ATTACK:
        if (len != sizeof(sb_attack_result)) return -1;
        memcpy(&res->attack, body, len);
        terminate(res->attack.text, sizeof res->attack.text);
        return 0;
    case SB_MSG_KERNEL:
        if (len != sizeof(kp_outcome)) return -1;
        memcpy(&res->kernel, body, len);
        for (int i = 0; i < KP_MAX_BUFFERS; i++) terminate(res->kernel.outputs[i].name, sizeof res->kernel.outputs[i].name);
        terminate(res->kernel.device, sizeof res->kernel.device);
        if (res->kernel.n_outputs < 0 || res->kernel.n_outputs > KP_MAX_BUFFERS) return -1;
        res->have_kernel = 1;
        return 0;
    case SB_MSG_REGIONS:
        if (len % sizeof(kp_region) != 0 || len / sizeof(kp_region) > KP_MAX_BUFFERS) return -1;
        memcpy(w->regions, body, len);
        w->n_regions = (int)(len / sizeof(kp_region));
        for (int i = 0; i < w->n_regions; i++) {
            terminate(w->regions[i].name, sizeof w->regions[i].name);
            terminate(w->regions[i].kernel, sizeof w->regions[i].kernel);
        }
        return 0;
    case SB_MSG_DONE: w->done = 1; return 0;
    default: return -1;
    }
}

#define MAX_RESULT_MESSAGE (8u << 20)   /* IR text is the largest */

static void parse_channel(watch *w)
{
    while (w->len >= sizeof(sb_msg_header) && !w->killed) {
        sb_msg_header h;
        memcpy(&h, w->buf, sizeof h);
        if (h.len > MAX_RESULT_MESSAGE) {
            kill_runner(w, SB_PROTOCOL, "a message of %u bytes (type %u) exceeds the %u-byte limit", h.len, h.type,
                        MAX_RESULT_MESSAGE);
            return;
        }
        if (w->len < sizeof h + h.len) return;
        if (handle(w, h.type, w->buf + sizeof h, h.len) < 0) {
            kill_runner(w, SB_PROTOCOL, "a malformed message (type %u, %u bytes)", h.type, h.len);
            return;
        }
        memmove(w->buf, w->buf + sizeof h + h.len, w->len - sizeof h - h.len);
        w->len -= sizeof h + h.len;
    }
}

static int read_channel(watch *w)
{
    if (w->cap - w->len < 65536) {
        size_t cap = w->cap ? w->cap * 2 : 1 << 17;
        char *b = realloc(w->buf, cap);
        if (!b) {
            kill_runner(w, SB_PROTOCOL, "out of memory reading the runner's messages");
            return 0;
        }
        w->buf = b;
        w->cap = cap;
    }
    ssize_t n = read(w->r->channel, w->buf + w->len, w->cap - w->len);
    if (n < 0 && errno == EINTR) return 1;
    if (n <= 0) return 0;
    w->len += (size_t)n;
    w->received += (size_t)n;
    if (w->received > 4 * (size_t)MAX_RESULT_MESSAGE) kill_runner(w, SB_PROTOCOL, "more than 32 MiB of messages");
    parse_channel(w);
    return 1;
}

static int read_output(watch *w)
{
    char buf[65536];
    ssize_t n = read(w->r->output, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return 1;
    if (n <= 0) return 0;
    size_t cap = w->job->limits.max_output;
    size_t pass = w->output_bytes >= cap ? 0 : (size_t)n < cap - w->output_bytes ? (size_t)n : cap - w->output_bytes;
    if (pass) fwrite(buf, 1, pass, w->job->output ? w->job->output : stderr);
    w->output_bytes += (size_t)n;
    if (w->output_bytes > cap) kill_runner(w, SB_OUTPUT_LIMIT, "more than %zu bytes of output", cap);
    return 1;
}

static int read_death(watch *w)
{
    if (w->death_len >= sizeof w->death) {
        char sink[512];
        return read(w->r->death, sink, sizeof sink) > 0;
    }
    ssize_t n = read(w->r->death, (char *)&w->death + w->death_len, sizeof w->death - w->death_len);
    if (n < 0 && errno == EINTR) return 1;
    if (n <= 0) return 0;
    w->death_len += (size_t)n;
    return 1;
}

static void watch_runner(watch *w)
{
    double deadline = w->job->limits.wall_s > 0 ? w->r->t_fork + w->job->limits.wall_s : INFINITY;
    double drain_until = INFINITY;
    int open_fds[3] = {w->r->channel, w->r->death, w->r->output};
    int n_open = 3;
    while (n_open > 0) {
        struct pollfd p[3];
        for (int i = 0; i < 3; i++) p[i] = (struct pollfd){.fd = open_fds[i], .events = POLLIN};
        double t = rt_now(), until = w->killed ? drain_until : deadline;
        int ms = isinf(until) ? -1 : until <= t ? 0 : (int)((until - t) * 1e3) + 1;
        if (w->job->cancel && (ms < 0 || ms > 200)) ms = 200;   /* notice a cancel soon */
        if (w->job->cancel && *w->job->cancel && !w->killed) {
            kill_runner(w, SB_STOPPED, "cancelled");
            drain_until = rt_now() + 2;
        }
        int rc = poll(p, 3, ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) {
            if (w->killed) break;   /* the group is dead; something odd holds a pipe */
            if (rt_now() < deadline) continue;   /* a cancel check, not the deadline */
            kill_runner(w, SB_TIMEOUT, "the wall-clock limit of %.0f s", w->job->limits.wall_s);
            drain_until = rt_now() + 2;
            continue;
        }
        for (int i = 0; i < 3; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int more = i == 0 ? read_channel(w) : i == 1 ? read_death(w) : read_output(w);
            if (!more) {
                open_fds[i] = -1;
                n_open--;
            }
        }
        if (w->killed && isinf(drain_until)) drain_until = rt_now() + 2;
    }
}

/* ---- how it ended --------------------------------------------------------------------------------- */

static const char *report_file(const sb_job *job)
{
    if (job->source) return job->source->path;
    if (job->reference) return job->reference;
    return "asiarch-runner";
}

static void report(sb_result *res, const sb_job *job, sb_outcome o, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(sb_result *res, const sb_job *job, sb_outcome o, const char *rule, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    res->outcome = o;
    aa_report_add(&res->reports, "sandbox", report_file(job), 0, 0, rule, "%s", msg);
}

static const char *trap_meaning(int sig)
{
    switch (sig) {
    case SIGILL:
    case SIGTRAP:
        return "a compiled-in check failed: an array index out of bounds or a float converted to an integer it "
               "does not fit";
    case SIGSEGV: return "an invalid memory access (a stack overflow when it follows deep recursion)";
    case SIGBUS: return "a bus error (misaligned or truncated memory)";
    case SIGFPE: return "an arithmetic exception (integer division by zero)";
    case SIGABRT: return "the runtime aborted";
    case SIGXFSZ: return "the file-size limit (the runner may not write files)";
    default: return "a fatal signal";
    }
}

/* A kernel file in checked mode faulted in a guard: name the buffer and
 * element (proto.h), as stage "run" rule "jit/out-of-bounds". 0 when the
 * fault address is in no guard. */
static int out_of_bounds(watch *w)
{
    char what[400], where[128];
    if (!w->n_regions || !kp_describe_fault(w->regions, w->n_regions, w->death.addr, what, sizeof what)) return 0;
    snprintf(where, sizeof where, "%.*s", (int)sizeof w->death.where, w->death.where);
    w->res->outcome = SB_TRAP;
    aa_report_add(&w->res->reports, "run", report_file(w->job), 0, 0, "jit/out-of-bounds",
                  "out-of-bounds access to %s; the access was made %s (fault address 0x%llx)", what,
                  strstr(where, "runtime") ? "in the harness" : where, (unsigned long long)w->death.addr);
    return 1;
}

static void classify_death(watch *w)
{
    sb_result *res = w->res;
    const sb_wire_death *d = &w->death;
    char name[64], where[128];
    snprintf(name, sizeof name, "%.*s", (int)sizeof d->name, d->name);
    snprintf(where, sizeof where, "%.*s", (int)sizeof d->where, d->where);
    const char *prof = sb_profile_name(w->job->profile);
    if (d->kind == SB_DEATH_VIOLATION) {
        snprintf(res->violation, sizeof res->violation, "%s", name);
        int runtime = strstr(where, "runtime") != NULL && w->job->kind != SB_JOB_ATTACK && w->job->kind != SB_JOB_SYSCALLS;
        report(res, w->job, SB_VIOLATION, "sandbox/violation",
               "system call %s (number %d) is not allowed by the %s sandbox profile; it was made %s and the "
               "runner was stopped. %s",
               name, d->nr, prof, where,
               runtime ? "This is asiarch's own code: please report it as a bug; --sandbox permissive works "
                         "around it."
                       : "Candidate code may only compute with the DSL's operations: no files, processes, "
                         "network or system calls.");
    } else if (d->kind == SB_DEATH_CPU) {
        report(res, w->job, SB_CPU_LIMIT, "sandbox/cpu-limit",
               "the runner used its %.0f s of CPU time (%s) and was stopped", w->job->limits.cpu_s, where);
    } else if (d->kind == SB_DEATH_TRAP && d->signo == SIGSEGV && out_of_bounds(w)) {
        /* a kernel file in checked mode ran into a guard: named in out_of_bounds */
    } else if (d->kind == SB_DEATH_TRAP) {
        char doing[256] = "";
        const char *phase = rt_phase_name((rt_phase)d->phase);
        if (d->phase != RT_IDLE && d->node > 0)
            snprintf(doing, sizeof doing, ", in the %s at op %.*s (graph node %d, %s)", phase, (int)sizeof d->op,
                     d->op, d->node, d->line > 0 ? "made by the line shown" : "a backbone op");
        else if (d->phase != RT_IDLE)
            snprintf(doing, sizeof doing, ", in the %s", phase);
        report(res, w->job, SB_TRAP, "sandbox/trap", "%s %s%s: %s (fault address 0x%llx)", name, where, doing,
               trap_meaning(d->signo), (unsigned long long)d->addr);
        if (d->line > 0 && res->reports.n) {   /* point at the candidate's line that made the op */
            aa_report *r = &res->reports.items[res->reports.n - 1];
            r->line = d->line;
            if (w->job->source && w->job->source->text)
                aa_report_snippet(r, w->job->source->text, w->job->source->len);
        }
    } else if (d->kind == SB_DEATH_EXEC) {
        setup_failed(res, "cannot start the runner %s: %s", w->r->path, strerror(d->signo));
    }
}

static void classify(watch *w, int status)
{
    sb_result *res = w->res;
    const sb_job *job = w->job;
    res->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (w->death_len == sizeof w->death) {
        classify_death(w);
    } else if (w->killed && w->kill_reason == SB_STOPPED) {
        int cancelled = !strcmp(w->kill_detail, "cancelled");
        res->outcome = SB_STOPPED;
        aa_report_add(&res->reports, cancelled ? "sandbox" : "train", report_file(job), 0, 0,
                      cancelled ? "sandbox/cancelled" : "train/early-stop", "the runner was stopped: %s",
                      cancelled ? "cancelled (interrupted by the user)" : w->kill_detail);
    } else if (w->killed) {
        static const char *const rules[] = {[SB_TIMEOUT] = "sandbox/timeout", [SB_OUTPUT_LIMIT] = "sandbox/output-limit",
                                            [SB_PROTOCOL] = "sandbox/protocol"};
        report(res, job, w->kill_reason, rules[w->kill_reason], "the runner was stopped: %s", w->kill_detail);
    } else if (res->term_signal == SIGSYS) {
        snprintf(res->violation, sizeof res->violation, "unknown");
        report(res, job, SB_VIOLATION, "sandbox/violation",
               "the filter trapped a system call while SIGSYS was blocked; the kernel killed the runner");
    } else if (res->term_signal == SIGKILL && job->limits.cpu_s > 0 && res->wall_s >= job->limits.cpu_s / 2) {
        report(res, job, SB_CPU_LIMIT, "sandbox/cpu-limit", "the runner used its %.0f s of CPU time and was killed",
               job->limits.cpu_s);
    } else if (res->term_signal) {
        report(res, job, SB_CRASH, "sandbox/crash", "the runner was killed by %s%s", sigabbrev_np(res->term_signal),
               res->term_signal == SIGKILL ? " (the kernel's out-of-memory killer, or another process)" : "");
    } else if (res->reports.n > 0) {
        int setup = !strcmp(res->reports.items[0].rule, "sandbox/setup");
        res->outcome = setup ? SB_SETUP : SB_FAILED;
    } else if (!w->done) {
        report(res, job, SB_CRASH, "sandbox/crash", "the runner exited with status %d before finishing its job",
               res->exit_status);
    } else {
        res->outcome = SB_DONE;
    }
}

static void finish_save(const sb_job *job, runner *r, sb_result *res)
{
    if (!r->save_tmp[0]) return;
    if (res->outcome == SB_DONE && res->have_metrics && !res->metrics.diverged) {
        int fd = open(r->save_tmp, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        if (rename(r->save_tmp, job->save_path) == 0) return;
        aa_report_add(&res->reports, "train", job->save_path, 0, 0, "train/save", "cannot rename %s: %s",
                      r->save_tmp, strerror(errno));
        res->outcome = SB_FAILED;
    }
    unlink(r->save_tmp);
}

/* Whatever else is left in the runner's process group (a task a fuzzed
 * clone made our child with CLONE_PARENT, say) is killed and reaped too. */
static void reap_group(pid_t pgid)
{
    kill(-pgid, SIGKILL);
    for (int i = 0; i < 50; i++) {
        pid_t p = waitpid(-pgid, NULL, WNOHANG);
        if (p < 0) return;              /* none left */
        if (p == 0) usleep(2000);       /* one still dying */
    }
}

int sb_run(const sb_job *job, sb_result *res)
{
    memset(res, 0, sizeof *res);
    runner r = {.pid = -1, .channel = -1, .death = -1, .output = -1};
    for (int i = 0; i < SB_FD_COUNT; i++) r.child[i] = -1;
    double t0 = rt_now();
    int rc = -1;
    if (runner_path(job, r.path, sizeof r.path) < 0) {
        setup_failed(res, "the runner program %s is missing or not executable (set ASIARCH_RUNNER, or install "
                          "asiarch-runner beside asiarch)", r.path[0] ? r.path : "asiarch-runner");
    } else if (make_root(job, &r, res) == 0 && open_inputs(job, &r, res) == 0 && open_pipes(&r, res) == 0 &&
               start(job, &r, res) == 0) {
        watch w = {.job = job, .r = &r, .res = res};
        res->runner_pid = r.pid;
        if (send_job(job, &r) < 0) kill_runner(&w, SB_PROTOCOL, "the runner did not accept its job (%s)", strerror(errno));
        watch_runner(&w);
        int status = 0;
        while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {}
        reap_group(r.pid);
        res->wall_s = rt_now() - t0;
        classify(&w, status);
        free(w.buf);
        finish_save(job, &r, res);
        rc = res->outcome == SB_SETUP ? -1 : 0;
    }
    for (int i = 0; i < SB_FD_COUNT; i++) close_fd(&r.child[i]);
    close_fd(&r.channel);
    close_fd(&r.death);
    close_fd(&r.output);
    if (r.root[0]) rmdir(r.root);
    if (rc < 0 && r.save_tmp[0]) unlink(r.save_tmp);
    res->wall_s = rt_now() - t0;
    return rc;
}
