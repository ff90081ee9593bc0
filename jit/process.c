/*
 * process.c — a helper program as a contained child (see jit_internal.h):
 *
 *   - fork + exec, no shell; stdin is /dev/null or the caller's fd, stdout
 *     and stderr go to one pipe read with a byte cap; all other descriptors
 *     are closed;
 *   - its own process group, killed as a whole on a wall-clock timeout;
 *   - rlimits: CPU seconds, address space, file size, no core;
 *   - a fixed environment, so CPATH or CCC_OVERRIDE_OPTIONS cannot change
 *     what the helper does behind the caller's back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

int jit_find_program(const char *name, const char *env_var, const char *build_path, char *out, size_t len)
{
    const char *env = env_var ? getenv(env_var) : NULL;
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, X_OK);
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        if ((size_t)snprintf(out, len, "%s/%s", self, name) < len && access(out, X_OK) == 0) return 0;
    }
    snprintf(out, len, "%s", build_path ? build_path : "");
    return out[0] ? access(out, X_OK) : -1;
}

double jit_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    setrlimit(resource, &rl);
}

/* In the child, between fork and exec: only async-signal-safe calls. exec
 * failures are reported as errno on the status pipe. */
static void __attribute__((noreturn))
exec_child(char *const argv[], const proc_opts *o, int out_fd, int status_fd)
{
    static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
    setpgid(0, 0);
    /* Move our two pipes clear of 0-3 (the parent may run with stdio
     * closed, so they could be anywhere) before rearranging descriptors. */
    int out = fcntl(out_fd, F_DUPFD, 10), status = fcntl(status_fd, F_DUPFD_CLOEXEC, 10);
    if (out < 0 || status < 0) goto fail;
    int in = o->stdin_fd >= 0 ? fcntl(o->stdin_fd, F_DUPFD, 10) : open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) goto fail;
    /* The status pipe becomes fd 3, close-on-exec; nothing else of ours
     * leaks into clang. */
    if (dup3(status, 3, O_CLOEXEC) < 0) goto fail;
    status = 3;
    if (close_range(4, ~0U, 0) < 0)
        for (int fd = 4; fd < 1024; fd++) close(fd);
    if (o->cwd && chdir(o->cwd) < 0) goto fail;

    rlim_t cpu = (rlim_t)ceil(o->timeout_s) + 1;
    set_limit(RLIMIT_CPU, cpu, cpu + 1);
    set_limit(RLIMIT_AS, o->address_space, o->address_space);
    set_limit(RLIMIT_FSIZE, o->file_size, o->file_size);
    set_limit(RLIMIT_CORE, 0, 0);

    /* exec keeps the signal mask and ignored signals: give clang defaults. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);

    execve(argv[0], argv, envp);
fail:;
    int e = errno;
    ssize_t ignored = write(status >= 0 ? status : status_fd, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* Wait for pid until the deadline; 1 when it was reaped (status in *status). */
static int wait_until(pid_t pid, double deadline, int *status)
{
    long sleep_ns = 100000;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (jit_now_s() >= deadline) return 0;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 5000000) sleep_ns *= 2;
    }
}

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);   /* in case setpgid had not happened yet */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

/* Read the child's output until EOF, the cap or the deadline. Returns the
 * outcome so far: PROC_EXITED means EOF was reached. */
static proc_how drain_output(int fd, double deadline, size_t max_output, proc_result *res)
{
    size_t cap = 4096;
    res->out = malloc(cap);
    if (!res->out) return PROC_ERROR;
    res->out[0] = 0;   /* NUL-terminated even when the child printed nothing */
    for (;;) {
        double left = deadline - jit_now_s();
        if (left <= 0) return PROC_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, left > 60 ? 60000 : (int)ceil(left * 1000));
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) return PROC_ERROR;
        if (pr == 0) continue;   /* the deadline is checked above */
        if (res->len + 1 >= cap) {
            char *q = realloc(res->out, 2 * cap);
            if (!q) return PROC_ERROR;
            res->out = q;
            cap *= 2;
        }
        ssize_t r = read(fd, res->out + res->len, cap - 1 - res->len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return PROC_ERROR;
        if (r == 0) return PROC_EXITED;
        res->len += (size_t)r;
        res->out[res->len] = 0;
        if (res->len > max_output) {
            res->len = max_output;
            res->out[res->len] = 0;
            return PROC_FLOOD;
        }
    }
}

int jit_run_process(char *const argv[], const proc_opts *o, proc_result *res)
{
    memset(res, 0, sizeof *res);
    int outp[2], st[2];
    if (pipe2(outp, O_CLOEXEC) < 0) { res->how = PROC_ERROR; res->code = errno; return -1; }
    if (pipe2(st, O_CLOEXEC) < 0) {
        res->how = PROC_ERROR;
        res->code = errno;
        close(outp[0]);
        close(outp[1]);
        return -1;
    }
    double deadline = jit_now_s() + o->timeout_s;
    pid_t pid = fork();
    if (pid < 0) {
        res->how = PROC_ERROR;
        res->code = errno;
        close(outp[0]); close(outp[1]); close(st[0]); close(st[1]);
        return -1;
    }
    if (pid == 0) exec_child(argv, o, outp[1], st[1]);
    setpgid(pid, pid);   /* also done by the child: whichever runs first wins */
    close(outp[1]);
    close(st[1]);

    /* The status pipe closes on a successful exec, or carries errno. */
    int e = 0;
    ssize_t n;
    while ((n = read(st[0], &e, sizeof e)) < 0 && errno == EINTR) {}
    close(st[0]);
    if (n == (ssize_t)sizeof e) {
        close(outp[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        res->how = PROC_NOEXEC;
        res->code = e;
        return 0;
    }

    proc_how how = drain_output(outp[0], deadline, o->max_output, res);
    if (how == PROC_ERROR) res->code = errno ? errno : ENOMEM;
    close(outp[0]);
    int status = 0;
    if (how == PROC_EXITED) {
        int w = wait_until(pid, deadline, &status);
        if (w == 0) how = PROC_TIMEOUT;
        else if (w < 0) { res->how = PROC_ERROR; res->code = errno; return 0; }
    }
    if (how != PROC_EXITED) {
        kill_group(pid);
        res->how = how;
        return 0;
    }
    if (WIFSIGNALED(status)) {
        /* CPU-time limit: the same as running out of wall-clock time. */
        res->how = WTERMSIG(status) == SIGXCPU ? PROC_TIMEOUT : PROC_SIGNALED;
        res->code = WTERMSIG(status);
    } else {
        res->how = PROC_EXITED;
        res->code = WEXITSTATUS(status);
    }
    return 0;
}

