/*
 * filter.c — the seccomp profiles, built with libseccomp.
 *
 * strict      default action TRAP; an allow-list of what a locked-down runner
 *             needs to train: read/write on its own fds, memory without
 *             PROT_EXEC, futex, thread-only clone, clocks, exit. Every rule
 *             with arguments says why. clone3 returns ENOSYS so glibc falls
 *             back to clone, whose flags the filter can inspect.
 * permissive  default action ALLOW; a deny-list (TRAP) of what could leave
 *             the runner: exec, processes, network, ptrace and cross-process
 *             memory, namespaces and mounts, kernel attack surface (bpf, perf,
 *             io_uring, keyctl, modules, userfaultfd, ldt, iopl), executable
 *             memory, file changes, and opening files outside an empty root.
 * cuda        (with either) the driver's ioctls and shared mmaps on the
 *             /dev/nvidia* fds it opened before lock-down.
 *
 * Calls of another ABI (i386 via int 0x80, x32 numbers) hit the
 * bad-architecture action, which is TRAP too: they are reported, not
 * silently killed. Syscall names unknown on this architecture (open on
 * aarch64) are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "sb_internal.h"

typedef struct builder {
    scmp_filter_ctx ctx;
    int rules;
    char *err;
    size_t errlen;
    int failed;
} builder;

static int add(builder *b, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0;   /* not a syscall on this architecture */
    int rc = seccomp_rule_add_array(b->ctx, action, nr, n, args);
    if (rc < 0 && !b->failed) {
        snprintf(b->err, b->errlen, "seccomp rule for %s: %s", name, strerror(-rc));
        b->failed = 1;
    }
    if (rc == 0) b->rules++;
    return rc;
}

static void allow(builder *b, const char *name) { add(b, SCMP_ACT_ALLOW, name, 0, NULL); }
static void deny(builder *b, const char *name) { add(b, SCMP_ACT_TRAP, name, 0, NULL); }

static void allow_on_fds(builder *b, const char *name, const int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fds[i]);
        add(b, SCMP_ACT_ALLOW, name, 1, &a);
    }
}

/* Memory may be mapped and re-protected, never executable: all executable
 * memory (the JIT's) was mapped before lock-down. */
static void allow_memory(builder *b)
{
    struct scmp_arg_cmp mmap_args[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
                                       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS)};
    add(b, SCMP_ACT_ALLOW, "mmap", 2, mmap_args);
    struct scmp_arg_cmp prot = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    add(b, SCMP_ACT_ALLOW, "mprotect", 1, &prot);
    allow(b, "munmap");
    allow(b, "mremap");   /* cannot add PROT_EXEC: it keeps the old protection */
    allow(b, "brk");
    allow(b, "madvise");
}

/* Threads only: CLONE_THREAD excludes fork and every namespace flag. */
static void allow_threads(builder *b)
{
    struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    add(b, SCMP_ACT_ALLOW, "clone", 1, &thread);
    add(b, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    allow(b, "set_robust_list");
    allow(b, "rseq");
    allow(b, "futex");
    allow(b, "sched_yield");
    allow(b, "sched_getaffinity");
    allow(b, "rt_sigprocmask");   /* pthread_create blocks signals around clone */
    allow(b, "rt_sigreturn");
    allow(b, "gettid");
    allow(b, "getpid");
}

static void build_strict(builder *b, const sb_filter_spec *s)
{
    allow_on_fds(b, "read", s->read_fds, s->n_read);
    allow_on_fds(b, "write", s->write_fds, s->n_write);
    allow_on_fds(b, "writev", s->write_fds, s->n_write);
    allow_on_fds(b, "fstat", s->write_fds, s->n_write);   /* stdio asks before its first write */
    allow_on_fds(b, "fstat", s->read_fds, s->n_read);
    allow_memory(b);
    allow_threads(b);
    struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)s->self_pid);
    add(b, SCMP_ACT_ALLOW, "tgkill", 1, &self);   /* abort() signals itself */
    allow(b, "exit");
    allow(b, "exit_group");
    allow(b, "clock_gettime");
    allow(b, "clock_getres");
    allow(b, "gettimeofday");
    allow(b, "time");
    allow(b, "nanosleep");
    allow(b, "clock_nanosleep");
    allow(b, "getrusage");        /* peak memory in the metrics */
    /* OpenBLAS asks for a NUMA policy on its buffers and ignores a refusal:
     * refuse quietly rather than open the mempolicy code to candidates. */
    add(b, SCMP_ACT_ERRNO(EPERM), "mbind", 0, NULL);
    /* glibc's qsort asks for the machine's memory size and copes without it. */
    add(b, SCMP_ACT_ERRNO(ENOSYS), "sysinfo", 0, NULL);
}

/* Deny the calls whose flags say "write" or "create"; reads are contained by
 * the empty root (or denied outright when there is none). */
static void deny_opens(builder *b, int chrooted)
{
    static const struct { const char *name; int flags_arg; } opens[] = {
        {"open", 1}, {"openat", 2}, {"creat", -1}, {"openat2", -1}, {"open_by_handle_at", -1},
        {"name_to_handle_at", -1}};
    static const int write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};
    for (size_t i = 0; i < sizeof opens / sizeof opens[0]; i++) {
        if (opens[i].flags_arg < 0 || !chrooted) {
            deny(b, opens[i].name);
            continue;
        }
        for (size_t f = 0; f < sizeof write_flags / sizeof write_flags[0]; f++) {
            struct scmp_arg_cmp a = {(unsigned)opens[i].flags_arg, SCMP_CMP_MASKED_EQ, (scmp_datum_t)write_flags[f],
                                     (scmp_datum_t)write_flags[f]};
            add(b, SCMP_ACT_TRAP, opens[i].name, 1, &a);
        }
    }
}

static void build_permissive(builder *b, const sb_filter_spec *s)
{
    static const char *const denied[] = {
        /* programs and processes */
        "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
        "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "process_madvise", "setpgid", "setsid",
        "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setpriority", "sched_setscheduler", "sched_setattr",
        /* namespaces, mounts, privileges */
        "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "fsopen", "fsmount",
        "fsconfig", "fspick", "move_mount", "open_tree", "seccomp", "prctl", "personality",
        /* network */
        "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg",
        "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
        /* kernel attack surface */
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load",
        "kexec_file_load", "reboot", "swapon", "swapoff", "modify_ldt", "iopl", "ioperm", "acct", "quotactl",
        "syslog", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
        "vhangup", "lookup_dcookie", "fanotify_init", "memfd_secret",
        /* file changes and links that name paths */
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "symlink",
        "symlinkat", "link", "linkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
        "truncate", "mknod", "mknodat", "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr",
        "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "readlink", "readlinkat"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) deny(b, denied[i]);
    add(b, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    struct scmp_arg_cmp not_thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
    add(b, SCMP_ACT_TRAP, "clone", 1, &not_thread);
    struct scmp_arg_cmp exec2 = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC);
    add(b, SCMP_ACT_TRAP, "mmap", 1, &exec2);
    add(b, SCMP_ACT_TRAP, "mprotect", 1, &exec2);
    add(b, SCMP_ACT_TRAP, "pkey_mprotect", 1, &exec2);
    /* Signals only to itself; SIGSYS stays ours. */
    struct scmp_arg_cmp other = SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)s->self_pid);
    add(b, SCMP_ACT_TRAP, "kill", 1, &other);
    add(b, SCMP_ACT_TRAP, "tgkill", 1, &other);
    add(b, SCMP_ACT_TRAP, "tkill", 0, NULL);
    struct scmp_arg_cmp sigsys = SCMP_A0(SCMP_CMP_EQ, SIGSYS);
    add(b, SCMP_ACT_TRAP, "rt_sigaction", 1, &sigsys);
    /* Terminal injection; the command is compared on its low 32 bits, as the
     * kernel reads it, so high bits cannot hide it. */
    static const unsigned long tty_cmds[] = {TIOCSTI, TIOCLINUX, TIOCSETD};
    for (size_t i = 0; i < sizeof tty_cmds / sizeof tty_cmds[0]; i++) {
        struct scmp_arg_cmp cmd = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty_cmds[i]);
        add(b, SCMP_ACT_TRAP, "ioctl", 1, &cmd);
    }
    deny_opens(b, s->chrooted);
}

/* The CUDA driver keeps working after lock-down: its ioctls and shared
 * mappings on the device fds it opened during initialisation. Unverified
 * on a GPU in this build's tests (see README). */
static void allow_cuda(builder *b, const sb_filter_spec *s)
{
    for (int i = 0; i < s->n_device; i++) {
        struct scmp_arg_cmp fd0 = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)s->device_fds[i]);
        add(b, SCMP_ACT_ALLOW, "ioctl", 1, &fd0);
        struct scmp_arg_cmp map[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
                                     SCMP_A4(SCMP_CMP_EQ, (scmp_datum_t)s->device_fds[i])};
        add(b, SCMP_ACT_ALLOW, "mmap", 2, map);
    }
    allow(b, "poll");
    allow(b, "ppoll");
    allow(b, "eventfd2");
    allow(b, "sched_setaffinity");
    /* NVRTC asks for the working directory as it compiles the candidate's
     * pointwise module after lock-down (test_sandbox finds out); it needs
     * no answer, and the runner gives none. */
    add(b, SCMP_ACT_ERRNO(ENOENT), "getcwd", 0, NULL);
    /* It also looks for each header on disk before taking the one it was
     * given, and for /etc/localtime: by path, nothing exists. */
    static const char *const by_path[] = {"stat", "lstat", "newfstatat", "access", "faccessat", "faccessat2"};
    for (size_t i = 0; i < sizeof by_path / sizeof *by_path; i++) add(b, SCMP_ACT_ERRNO(ENOENT), by_path[i], 0, NULL);
    /* ... reads its own resource limits (prlimit64(0, resource, NULL, old):
     * changes nothing), and raises its own stack's soft limit for the
     * compile and puts it back (never past the hard limit the supervisor
     * set: an unprivileged process cannot). */
    struct scmp_arg_cmp read_own[] = {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0)};
    add(b, SCMP_ACT_ALLOW, "prlimit64", 2, read_own);
    struct scmp_arg_cmp own_stack[] = {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_EQ, RLIMIT_STACK)};
    add(b, SCMP_ACT_ALLOW, "prlimit64", 2, own_stack);
}

static scmp_filter_ctx build(const sb_filter_spec *s, int *rules, char *err, size_t errlen)
{
    uint32_t def = s->profile == SB_PROFILE_STRICT ? SCMP_ACT_TRAP : SCMP_ACT_ALLOW;
    builder b = {.ctx = seccomp_init(def), .err = err, .errlen = errlen};
    if (!b.ctx) {
        snprintf(err, errlen, "seccomp_init failed (out of memory?)");
        return NULL;
    }
    int rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
    if (rc == 0) rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0) rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_CTL_NNP, 1);
    if (rc < 0) {
        snprintf(err, errlen, "seccomp attributes: %s", strerror(-rc));
        seccomp_release(b.ctx);
        return NULL;
    }
    if (s->profile == SB_PROFILE_STRICT) build_strict(&b, s);
    else build_permissive(&b, s);
    if (s->cuda) allow_cuda(&b, s);
    if (b.failed) {
        seccomp_release(b.ctx);
        return NULL;
    }
    *rules = b.rules;
    return b.ctx;
}

int sb_filter_check(const sb_filter_spec *spec, char *err, size_t errlen)
{
    int rules = 0;
    scmp_filter_ctx ctx = build(spec, &rules, err, errlen);
    if (!ctx) return -1;
    seccomp_release(ctx);
    return rules;
}

int sb_filter_load(const sb_filter_spec *spec, char *err, size_t errlen)
{
    int rules = 0;
    scmp_filter_ctx ctx = build(spec, &rules, err, errlen);
    if (!ctx) return -1;
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(err, errlen,
                 "the kernel refused the %s seccomp filter (%s): seccomp filters (CONFIG_SECCOMP_FILTER) "
                 "and SECCOMP_FILTER_FLAG_TSYNC are required; use --sandbox off only for debugging",
                 sb_profile_name(spec->profile), strerror(-rc));
        return -1;
    }
    return rules;
}
