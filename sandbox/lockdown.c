/*
 * lockdown.c — the runner isolates itself, in two steps.
 *
 * sb_isolate_early, while the runner is still single-threaded (unshare of a
 * user namespace needs that): drop root to nobody, then enter new user,
 * mount and network namespaces where the kernel permits (mapping only our
 * own uid, so root inside is nobody outside).
 *
 * sb_lockdown, after the JIT has mapped all executable memory and the
 * thread pool runs: chroot into the empty root, clear the environment,
 * install the reporters (SIGSYS for the filter, faults for traps, SIGXCPU
 * for the CPU limit) on an alternate stack, set no_new_privs and load the
 * filter on every thread. A reporter writes one sb_wire_death to the death
 * pipe and exits: the supervisor turns it into a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sb_internal.h"

#define NOBODY 65534
#define NAME_SLOTS 512

/* ---- syscall names, resolved before lock-down ------------------------------- */

static char native_names[NAME_SLOTS][32], compat_names[NAME_SLOTS][32];
static uint32_t native_arch, compat_arch;

static void fill_names(char (*names)[32], uint32_t arch)
{
    for (int nr = 0; nr < NAME_SLOTS; nr++) {
        char *s = seccomp_syscall_resolve_num_arch(arch, nr);
        snprintf(names[nr], 32, "%s", s ? s : "");
        free(s);
    }
}

void sb_syscall_names_init(void)
{
    native_arch = seccomp_arch_native();
    compat_arch = native_arch == SCMP_ARCH_X86_64 ? SCMP_ARCH_X86 : native_arch == SCMP_ARCH_AARCH64 ? SCMP_ARCH_ARM : 0;
    fill_names(native_names, native_arch);
    if (compat_arch) fill_names(compat_names, compat_arch);
}

const char *sb_syscall_name(uint32_t arch, int nr)
{
    const char *s = "";
    if (nr >= 0 && nr < NAME_SLOTS) {
        if (arch == native_arch) s = native_names[nr];
        else if (compat_arch && arch == compat_arch) s = compat_names[nr];
    }
    return s;
}

/* ---- where a fault happened ------------------------------------------------------ */

#define MAX_FUNCS 256
static struct { uintptr_t addr; char name[64]; } funcs[MAX_FUNCS];
static int n_funcs;

void sb_note_candidate_function(const char *name, const void *addr)
{
    if (n_funcs == MAX_FUNCS || !addr) return;
    funcs[n_funcs].addr = (uintptr_t)addr;
    snprintf(funcs[n_funcs].name, sizeof funcs[n_funcs].name, "%s", name);
    n_funcs++;
}

/* "candidate function f" for the nearest candidate function at or before
 * ip (JIT code is laid out together), else "the runtime". Async-signal-safe. */
static void locate(uintptr_t ip, char *where, size_t len)
{
    int best = -1;
    for (int i = 0; i < n_funcs; i++)
        if (funcs[i].addr <= ip && ip - funcs[i].addr < (1u << 20) && (best < 0 || funcs[i].addr > funcs[best].addr))
            best = i;
    if (best < 0) {
        strncpy(where, "in the runtime (not in candidate code)", len - 1);
        return;
    }
    strncpy(where, "in candidate function ", len - 1);
    size_t at = strlen(where);
    strncpy(where + at, funcs[best].name, len - 1 - at);
}

/* ---- reporters (signal handlers: write(2) and exit_group(2) only) -------------------- */

static void die_with(const sb_wire_death *d)
{
    ssize_t w = write(SB_FD_DEATH, d, sizeof *d);
    (void)w;
    syscall(SYS_exit_group, 159);
}

static uintptr_t context_ip(void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    sb_wire_death d = {.kind = SB_DEATH_VIOLATION, .signo = sig, .nr = si->si_syscall, .arch = si->si_arch,
                       .ip = (uintptr_t)si->si_call_addr};
    int nr = si->si_syscall;
    const char *prefix = "";
#ifdef __x86_64__
    if (si->si_arch == AUDIT_ARCH_X86_64 && (nr & 0x40000000)) {   /* the x32 ABI */
        prefix = "x32 ";
        nr &= ~0x40000000;
    } else if (si->si_arch == AUDIT_ARCH_I386) {
        prefix = "i386 ";
    }
#endif
    const char *name = sb_syscall_name(si->si_arch, nr);
    strncpy(d.name, prefix, sizeof d.name - 1);
    strncat(d.name, *name ? name : "unknown", sizeof d.name - 1 - strlen(d.name));
    locate((uintptr_t)si->si_call_addr, d.where, sizeof d.where);
    die_with(&d);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    sb_wire_death d = {.kind = sig == SIGXCPU ? SB_DEATH_CPU : SB_DEATH_TRAP, .signo = sig, .ip = context_ip(uc),
                       .addr = (uintptr_t)si->si_addr};
    strncpy(d.name, "SIG", sizeof d.name - 1);
    strncat(d.name, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", sizeof d.name - 4);
    locate(d.ip, d.where, sizeof d.where);
    rt_activity a;
    rt_activity_now(&a);   /* plain loads: safe here */
    d.phase = a.phase;
    d.node = a.node;
    d.line = a.line;
    d.layer = a.layer;
    strncpy(d.op, a.op, sizeof d.op - 1);
    die_with(&d);
}

static int install_reporters(char *err, size_t errlen)
{
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    if (sigaltstack(&ss, NULL) != 0) {
        snprintf(err, errlen, "sigaltstack: %s", strerror(errno));
        return -1;
    }
    struct sigaction sa = {.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER};
    sigfillset(&sa.sa_mask);
    sa.sa_sigaction = on_sigsys;
    if (sigaction(SIGSYS, &sa, NULL) != 0) goto fail;
    static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGXCPU, SIGXFSZ};
    sa.sa_sigaction = on_fault;
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        if (sigaction(faults[i], &sa, NULL) != 0) goto fail;
    /* A thread that blocked SIGSYS cannot escape: the kernel then kills the
     * process with it (the supervisor reports that too). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
fail:
    snprintf(err, errlen, "sigaction: %s", strerror(errno));
    return -1;
}

/* ---- isolation -------------------------------------------------------------------------- */

static void append(sb_isolation *iso, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(sb_isolation *iso, const char *fmt, ...)
{
    size_t at = strlen(iso->applied);
    if (at && at + 2 < sizeof iso->applied) {
        strcat(iso->applied, ", ");
        at += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(iso->applied + at, sizeof iso->applied - at, fmt, ap);
    va_end(ap);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void drop_root(sb_isolation *iso)
{
    if (geteuid() != 0) return;
    if (setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0)
        append(iso, "uid/gid %d (root dropped)", NOBODY);
    else
        append(iso, "still root (dropping to %d failed: %s)", NOBODY, strerror(errno));
}

static void enter_namespaces(sb_isolation *iso)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) {
        append(iso, "no namespaces (unshare: %s%s)", strerror(errno),
               errno == EPERM ? "; unprivileged user namespaces are disabled on this kernel" : "");
        return;
    }
    /* Changing uid made us non-dumpable, which makes /proc/self root's:
     * dumpable just long enough to write our own id maps. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    char map[64];
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    int ok = write_file("/proc/self/setgroups", "deny") == 0 && write_file("/proc/self/uid_map", map) == 0;
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    ok = ok && write_file("/proc/self/gid_map", map) == 0;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    append(iso, "user+mount+network namespaces%s", ok ? "" : " (id maps not written)");
    iso->chrooted = -1;   /* chroot allowed later */
}

/* The kernel clears the parent-death signal the supervisor armed before
 * exec on every credential change (dropping root, entering a user
 * namespace): arm it again after the last one, then make sure the
 * supervisor did not die in between (we would have been reparented). From
 * here on the runner dies with its supervisor, whatever phase it is in. */
static void die_with_supervisor(const sb_wire_job *job)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)job->supervisor_pid) _exit(127);
}

void sb_isolate_early(const sb_wire_job *job, sb_isolation *iso)
{
    memset(iso, 0, sizeof *iso);
    append(iso, "profile %s", sb_profile_name((sb_profile)job->profile));
    if (job->profile == SB_PROFILE_OFF) {
        append(iso, "rlimits and fd hygiene only");
        die_with_supervisor(job);
        return;
    }
    drop_root(iso);
    enter_namespaces(iso);
    die_with_supervisor(job);
}

static void enter_root(const sb_wire_job *job, sb_isolation *iso)
{
    int may = iso->chrooted == -1;
    iso->chrooted = 0;
    if (!may || !job->root_dir[0]) return;
    if (chroot(job->root_dir) == 0 && chdir("/") == 0) {
        iso->chrooted = 1;
        append(iso, "chroot into an empty directory");
    } else {
        append(iso, "no chroot (%s)", strerror(errno));
    }
}

/* CUDA: the fds the driver opened on /dev/nvidia* during initialisation
 * (looked up before the chroot hides /proc). */
static void find_device_fds(sb_filter_spec *s)
{
    for (int fd = 0; fd < 64 && s->n_device < 8; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        if (!strncmp(target, "/dev/nvidia", 11)) s->device_fds[s->n_device++] = fd;
    }
}

static void filter_spec(const sb_wire_job *job, const sb_isolation *iso, sb_filter_spec *s)
{
    s->profile = (sb_profile)job->profile;
    s->cuda = job->cuda;
    s->self_pid = getpid();
    s->chrooted = iso->chrooted;
    s->read_fds[s->n_read++] = SB_FD_CHANNEL;
    s->write_fds[s->n_write++] = SB_FD_CHANNEL;
    s->write_fds[s->n_write++] = SB_FD_DEATH;
    s->write_fds[s->n_write++] = 1;
    s->write_fds[s->n_write++] = 2;
    if (job->has_save) s->write_fds[s->n_write++] = SB_FD_SAVE;
    if (job->has_checkpoint) s->read_fds[s->n_read++] = SB_FD_SAVE;
}

int sb_lockdown(const sb_wire_job *job, sb_isolation *iso, char *err, size_t errlen)
{
    sb_filter_spec spec;
    memset(&spec, 0, sizeof spec);
    if (job->cuda) find_device_fds(&spec);
    enter_root(job, iso);
    clearenv();
    /* A GPU runner compiles the candidate's pointwise module with NVRTC
     * after lock-down, and NVRTC calls localtime(): glibc rereads
     * /etc/localtime unless TZ holds the value it last read. So TZ stays,
     * the one entry (SB_RUNNER_TZ, a fixed zone, no secret). */
    if (job->cuda) setenv("TZ", SB_RUNNER_TZ, 1);
    sb_syscall_names_init();
    if (install_reporters(err, errlen) < 0) return -1;
    if (job->profile == SB_PROFILE_OFF) return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    filter_spec(job, iso, &spec);
    int rules = sb_filter_load(&spec, err, errlen);
    if (rules < 0) return -1;
    append(iso, "no_new_privs, seccomp %s%s (%d rules, all threads)",
           job->profile == SB_PROFILE_STRICT ? "allow-list" : "deny-list", job->cuda ? " with CUDA device rules" : "",
           rules);
    if (job->cuda) append(iso, "%d /dev/nvidia* fds", spec.n_device);
    return 0;
}
