/*
 * attacks.c — the adversarial suite: what hostile candidate code would try.
 *
 * Each program runs in a locked-down runner exactly where candidate code
 * would (the checker and the JIT allow-list are bypassed: this is native
 * code in the runner), so it tests the sandbox layer alone. System calls
 * are made raw (syscall(2), int 0x80, inline asm) so libc cannot soften
 * them. A program that survives says what happened: `blocked(...)` when the
 * kernel refused (an errno), `escaped(...)` when the attempt worked, which
 * is a sandbox failure. Probes that would hurt the supervisor if they
 * worked (kill, ptrace) use harmless forms: signal 0, an attach that is
 * detached at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "sb_internal.h"

extern char **environ;

static void say(sb_attack_ctx *c, int escaped, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(sb_attack_ctx *c, int escaped, const char *fmt, ...)
{
    c->result->returned = 1;
    c->result->escaped = escaped;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->result->text, sizeof c->result->text, fmt, ap);
    va_end(ap);
}

/* The call returned r: >= 0 means it worked. */
static void judge(sb_attack_ctx *c, long r, const char *what)
{
    if (r >= 0) say(c, 1, "%s succeeded (returned %ld)", what, r);
    else say(c, 0, "%s: %s", what, strerrorname_np(errno) ? strerrorname_np(errno) : "error");
}

static void read_and_judge(sb_attack_ctx *c, long fd, const char *what)
{
    if (fd < 0) {
        judge(c, fd, what);
        return;
    }
    char buf[4096];
    long n = read((int)fd, buf, sizeof buf);
    say(c, 1, "%s: opened, read %ld bytes", what, n);
}

/* ---- files ----------------------------------------------------------------------- */

static void a_open(sb_attack_ctx *c)
{
#ifdef SYS_open
    read_and_judge(c, syscall(SYS_open, "/etc/passwd", O_RDONLY), "open /etc/passwd");
#else
    read_and_judge(c, syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY), "open /etc/passwd");
#endif
}

static void a_openat(sb_attack_ctx *c)
{
    read_and_judge(c, syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY), "openat /etc/passwd");
}

static void a_openat2(sb_attack_ctx *c)
{
    struct open_how how = {.flags = O_RDONLY};
    read_and_judge(c, syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &how, sizeof how), "openat2 /etc/passwd");
}

static void a_readlink(sb_attack_ctx *c)
{
    char buf[256];
    judge(c, syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf, sizeof buf), "readlink /proc/self/exe");
}

static void a_proc_mem(sb_attack_ctx *c)
{
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/mem", O_RDWR);
    judge(c, fd, "open /proc/self/mem for writing");
}

static void a_environment(sb_attack_ctx *c)
{
    /* A GPU runner keeps its fixed time zone (sb_lockdown); nothing else. */
    for (char **e = environ; e && *e; e++) {
        if (strcmp(*e, "TZ=" SB_RUNNER_TZ) == 0) continue;
        say(c, 1, "the environment is not empty: %.60s...", *e);
        return;
    }
    read_and_judge(c, syscall(SYS_openat, AT_FDCWD, "/proc/self/environ", O_RDONLY), "open /proc/self/environ");
}

/* The runner must hold only stdin/stdout/stderr, its channel and its death
 * pipe (attack jobs carry no data fds). */
static void a_inherited_fds(sb_attack_ctx *c)
{
    char extra[200] = "";
    size_t at = 0;
    for (int fd = SB_FD_DEATH + 1; fd < 1024; fd++)
        if (syscall(SYS_fcntl, fd, F_GETFD) >= 0 && at < sizeof extra - 8) at += (size_t)snprintf(extra + at, sizeof extra - at, " %d", fd);
    if (at) say(c, 1, "fds open beyond 0-4:%s", extra);
    else say(c, 0, "only fds 0-4 are open (stdio, channel, death pipe)");
}

static void canary_path(const sb_attack_ctx *c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", c->canary_dir, name);
}

static void a_write_canary(sb_attack_ctx *c)
{
    char p[1100];
    canary_path(c, "canary", p, sizeof p);
    long fd = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        long n = write((int)fd, "owned\n", 6);
        say(c, 1, "opened the canary for writing (wrote %ld bytes)", n);
        return;
    }
    judge(c, fd, "open the canary for writing");
}

static void a_unlink_canary(sb_attack_ctx *c)
{
    char p[1100];
    canary_path(c, "canary", p, sizeof p);
    judge(c, syscall(SYS_unlinkat, AT_FDCWD, p, 0), "unlink the canary");
}

static void a_create_outside(sb_attack_ctx *c)
{
    char p[1100];
    canary_path(c, "planted", p, sizeof p);
    judge(c, syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL, 0644), "create a file outside the run directory");
}

/* ---- network -------------------------------------------------------------------------- */

static void a_socket_inet(sb_attack_ctx *c) { judge(c, syscall(SYS_socket, AF_INET, SOCK_STREAM, 0), "socket(AF_INET)"); }
static void a_socket_unix(sb_attack_ctx *c) { judge(c, syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0), "socket(AF_UNIX)"); }
static void a_socket_netlink(sb_attack_ctx *c) { judge(c, syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0), "socket(AF_NETLINK)"); }

static void a_connect_inherited(sb_attack_ctx *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    judge(c, syscall(SYS_connect, SB_FD_CHANNEL, &sa, sizeof sa), "connect on inherited fd 3");
}

/* ---- programs and processes ---------------------------------------------------------------- */

static void a_execve(sb_attack_ctx *c)
{
    char *argv[] = {"sh", "-c", "echo escaped", NULL};
    judge(c, syscall(SYS_execve, "/bin/sh", argv, NULL), "execve /bin/sh");
}

static void a_execveat(sb_attack_ctx *c)
{
    char *argv[] = {"sh", NULL};
    judge(c, syscall(SYS_execveat, AT_FDCWD, "/bin/sh", argv, NULL, 0), "execveat /bin/sh");
}

/* A child that got through exits at once; the parent reports. */
static void judge_child(sb_attack_ctx *c, long pid, const char *what)
{
    if (pid == 0) syscall(SYS_exit, 0);
    judge(c, pid, what);
}

static void a_fork(sb_attack_ctx *c)
{
#ifdef SYS_fork
    judge_child(c, syscall(SYS_fork), "fork");
#else
    judge_child(c, syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0), "fork");
#endif
}

static void a_vfork(sb_attack_ctx *c)
{
#if defined(__x86_64__)
    long r;   /* the child shares our stack: it must not touch it */
    __asm__ volatile("syscall" : "=a"(r) : "a"(SYS_vfork) : "rcx", "r11", "memory");
    if (r == 0) __asm__ volatile("syscall" : : "a"(SYS_exit), "D"(0) : "rcx", "r11", "memory");
    if (r < 0) {
        errno = (int)-r;
        r = -1;
    }
    judge(c, r, "vfork");
#else
    a_fork(c);
#endif
}

static void a_clone_newuser(sb_attack_ctx *c)
{
    judge_child(c, syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), "clone(CLONE_NEWUSER)");
}

static void a_clone3(sb_attack_ctx *c)
{
    struct clone_args args = {.exit_signal = SIGCHLD};
    judge_child(c, syscall(SYS_clone3, &args, sizeof args), "clone3");
}

static void a_unshare(sb_attack_ctx *c) { judge(c, syscall(SYS_unshare, CLONE_NEWUSER), "unshare(CLONE_NEWUSER)"); }

static void a_fork_bomb(sb_attack_ctx *c)
{
    long made = 0, pid = 0;
    for (int i = 0; i < 4096; i++) {
        pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) syscall(SYS_exit, 0);
        if (pid < 0) break;
        made++;
    }
    if (made) say(c, 1, "fork bomb: %ld processes created", made);
    else judge(c, pid, "fork bomb");
}

static void a_ptrace(sb_attack_ctx *c)
{
    long r = syscall(SYS_ptrace, PTRACE_ATTACH, c->supervisor_pid, 0, 0);
    if (r == 0) syscall(SYS_ptrace, PTRACE_DETACH, c->supervisor_pid, 0, 0);
    judge(c, r, "ptrace(PTRACE_ATTACH) of the supervisor");
}

static void a_process_vm_writev(sb_attack_ctx *c)
{
    char byte = 0;
    struct iovec local = {&byte, 1}, remote = {(void *)0x10000, 1};
    long r = syscall(SYS_process_vm_writev, c->supervisor_pid, &local, 1, &remote, 1, 0);
    if (r < 0 && errno == EFAULT) say(c, 1, "process_vm_writev reached the supervisor's memory (EFAULT at a bad address)");
    else judge(c, r, "process_vm_writev into the supervisor");
}

static void a_kill_parent(sb_attack_ctx *c) { judge(c, syscall(SYS_kill, c->supervisor_pid, 0), "kill(supervisor, 0)"); }
static void a_kill_all(sb_attack_ctx *c) { judge(c, syscall(SYS_kill, -1, 0), "kill(-1, 0)"); }
/* Outlive the supervisor: the runner dies with it by its parent-death signal. */
static void a_clear_pdeathsig(sb_attack_ctx *c)
{
    judge(c, syscall(SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0), "prctl(PR_SET_PDEATHSIG, 0)");
}

/* ---- executable memory ------------------------------------------------------------------------ */

static void a_mmap_rwx(sb_attack_ctx *c)
{
    judge(c, syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
          "mmap(PROT_READ|PROT_WRITE|PROT_EXEC)");
}

static void a_mprotect_exec(sb_attack_ctx *c)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    judge(c, p == MAP_FAILED ? -1 : syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC), "mprotect(PROT_EXEC)");
}

static void a_pkey_mprotect(sb_attack_ctx *c)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    judge(c, p == MAP_FAILED ? -1 : syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_EXEC, -1),
          "pkey_mprotect(PROT_EXEC)");
}

static void a_memfd_exec(sb_attack_ctx *c)
{
    long fd = syscall(SYS_memfd_create, "x", 0);
    if (fd < 0) {
        judge(c, fd, "memfd_create");
        return;
    }
    judge(c, syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0), "memfd_create then mmap(PROT_EXEC)");
}

static void a_personality(sb_attack_ctx *c)
{
    long r = syscall(SYS_personality, READ_IMPLIES_EXEC);
    long now = syscall(SYS_personality, 0xffffffffUL);
    if (r >= 0 && now >= 0 && (now & READ_IMPLIES_EXEC)) say(c, 1, "personality(READ_IMPLIES_EXEC) took effect");
    else judge(c, r < 0 ? r : -1, "personality(READ_IMPLIES_EXEC)");
}

/* ---- other ABIs ------------------------------------------------------------------------------------ */

static void a_x32(sb_attack_ctx *c)
{
#if defined(__x86_64__)
    read_and_judge(c, syscall(0x40000000L | SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY), "x32 openat /etc/passwd");
#else
    say(c, 0, "no x32 ABI on this architecture");
#endif
}

static void a_int80(sb_attack_ctx *c)
{
#if defined(__x86_64__)
    /* int 0x80 takes 32-bit pointers: put the path below 4 GiB. */
    char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        judge(c, -1, "mmap(MAP_32BIT) for the int 0x80 path");
        return;
    }
    strcpy(low, "/etc/passwd");
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(5 /* i386 open */), "b"(low), "c"(O_RDONLY) : "memory");
    if (r < 0) {
        errno = (int)-r;
        r = -1;
    }
    read_and_judge(c, r, "int 0x80 open /etc/passwd");
#else
    say(c, 0, "no int 0x80 on this architecture");
#endif
}

static void a_ioctl_high_bits(sb_attack_ctx *c)
{
    char ch = 'x';
    long r = syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (0xdeadUL << 32), &ch);
    /* Any return means the call got past the filter to the kernel. */
    say(c, 1, "ioctl(TIOCSTI | high bits) reached the kernel (returned %ld, %s)", r, strerrorname_np(errno));
}

/* ---- kernel attack surface ---------------------------------------------------------------------- */

static void a_bpf(sb_attack_ctx *c)
{
    union bpf_attr attr = {.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1};
    judge(c, syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr), "bpf(BPF_MAP_CREATE)");
}

static void a_perf(sb_attack_ctx *c)
{
    struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof attr, .config = PERF_COUNT_SW_CPU_CLOCK};
    judge(c, syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0), "perf_event_open");
}

static void a_userfaultfd(sb_attack_ctx *c) { judge(c, syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd"); }

static void a_io_uring(sb_attack_ctx *c)
{
    char params[120] = {0};
    judge(c, syscall(SYS_io_uring_setup, 8, params), "io_uring_setup");
}

static void a_keyctl(sb_attack_ctx *c) { judge(c, syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), "keyctl"); }

static void a_modify_ldt(sb_attack_ctx *c)
{
#ifdef SYS_modify_ldt
    char buf[16];
    judge(c, syscall(SYS_modify_ldt, 0, buf, sizeof buf), "modify_ldt");
#else
    say(c, 0, "no modify_ldt on this architecture");
#endif
}

static void a_iopl(sb_attack_ctx *c)
{
#ifdef SYS_iopl
    judge(c, syscall(SYS_iopl, 3), "iopl(3)");
#else
    say(c, 0, "no iopl on this architecture");
#endif
}

/* ---- the sandbox's own machinery ------------------------------------------------------------------- */

static void ignore(int sig) { (void)sig; }

static void a_own_sigsys(sb_attack_ctx *c)
{
    struct sigaction sa = {.sa_handler = ignore};
    if (sigaction(SIGSYS, &sa, NULL) == 0) {
        say(c, 1, "installed its own SIGSYS handler");
        return;
    }
    judge(c, -1, "sigaction(SIGSYS)");
}

static pthread_t sleeper;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void *sleeper_main(void *arg)
{
    sb_attack_ctx *c = arg;
    pthread_mutex_lock(&gate);   /* held by the main thread until after lock-down */
    read_and_judge(c, syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY), "openat from a thread started before lock-down");
    pthread_mutex_unlock(&gate);
    return NULL;
}

static void prep_thread(sb_attack_ctx *c)
{
    pthread_mutex_lock(&gate);
    if (pthread_create(&sleeper, NULL, sleeper_main, c) != 0) pthread_mutex_unlock(&gate);
}

static void a_thread(sb_attack_ctx *c)
{
    pthread_mutex_unlock(&gate);
    pthread_join(sleeper, NULL);
    if (!c->result->returned) say(c, 0, "the thread could not be started");
}

static void a_channel_garbage(sb_attack_ctx *c)
{
    sb_msg_header h = {SB_MSG_METRICS, 0xfffffff0u};
    long r = write(SB_FD_CHANNEL, &h, sizeof h);
    judge(c, r, "a forged oversized message on the channel");
    c->result->escaped = 0;   /* the supervisor, not the filter, must contain this one */
}

/* ---- resources -------------------------------------------------------------------------------------- */

static void a_memory_bomb(sb_attack_ctx *c)
{
    size_t total = 0, chunk = 64u << 20;
    for (;;) {
        char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        memset(p, 1, chunk);
        total += chunk;
        if (total > (64ull << 30)) {
            say(c, 1, "allocated %zu GiB without hitting a limit", total >> 30);
            return;
        }
    }
    say(c, 0, "memory bomb stopped after %zu MiB: %s (address-space limit)", total >> 20, strerrorname_np(errno));
}

static int deep(int n)
{
    volatile char frame[64 * 1024];
    if (n > (1 << 30)) return 0;   /* never reached: the stack limit comes first */
    frame[0] = (char)n;
    return deep(n + 1) + frame[0];
}

static void a_huge_stack(sb_attack_ctx *c) { say(c, 1, "recursion returned %d", deep(0)); }

static void a_output_flood(sb_attack_ctx *c)
{
    static char line[65536];
    memset(line, 'A', sizeof line);
    for (long i = 0; i < (1L << 20); i++)
        if (write(2, line, sizeof line) < 0) break;
    say(c, 1, "wrote 64 GiB of output without being stopped");
}

static void a_infinite_loop(sb_attack_ctx *c)
{
    volatile unsigned long n = 0;
    for (;;) n++;
    say(c, 1, "the loop ended");
}

static void a_sleep_forever(sb_attack_ctx *c)
{
    struct timespec ts = {1L << 30, 0};
    syscall(SYS_nanosleep, &ts, NULL);
    say(c, 1, "woke up");
}

/* ---- the table -------------------------------------------------------------------------------------------- */

typedef struct attack_entry {
    sb_attack info;
    sb_attack_prepare_fn prepare;
    sb_attack_fn run;
} attack_entry;

static const attack_entry table[] = {
    {{"open-etc-passwd", "open(\"/etc/passwd\")"}, NULL, a_open},
    {{"openat-etc-passwd", "openat(AT_FDCWD, \"/etc/passwd\")"}, NULL, a_openat},
    {{"openat2-etc-passwd", "openat2 of /etc/passwd"}, NULL, a_openat2},
    {{"readlink-proc-self-exe", "readlink(\"/proc/self/exe\")"}, NULL, a_readlink},
    {{"write-proc-self-mem", "open /proc/self/mem for writing"}, NULL, a_proc_mem},
    {{"read-environment", "read environ and /proc/self/environ"}, NULL, a_environment},
    {{"inherited-fds", "look for fds beyond the runner's own (fcntl on 5..1023)"}, NULL, a_inherited_fds},
    {{"write-canary", "truncate and write a file outside the run directory"}, NULL, a_write_canary},
    {{"unlink-canary", "delete a file outside the run directory"}, NULL, a_unlink_canary},
    {{"create-outside", "create a file outside the run directory"}, NULL, a_create_outside},
    {{"socket-inet", "socket(AF_INET)"}, NULL, a_socket_inet},
    {{"socket-unix", "socket(AF_UNIX)"}, NULL, a_socket_unix},
    {{"socket-netlink", "socket(AF_NETLINK)"}, NULL, a_socket_netlink},
    {{"connect-inherited-fd", "connect() on the inherited channel fd"}, NULL, a_connect_inherited},
    {{"execve", "execve(\"/bin/sh\")"}, NULL, a_execve},
    {{"execveat", "execveat(\"/bin/sh\")"}, NULL, a_execveat},
    {{"fork", "fork()"}, NULL, a_fork},
    {{"vfork", "vfork()"}, NULL, a_vfork},
    {{"clone-newuser", "clone(CLONE_NEWUSER)"}, NULL, a_clone_newuser},
    {{"clone3", "clone3() (must fail with ENOSYS)"}, NULL, a_clone3},
    {{"unshare", "unshare(CLONE_NEWUSER)"}, NULL, a_unshare},
    {{"fork-bomb", "fork in a loop"}, NULL, a_fork_bomb},
    {{"ptrace-parent", "ptrace(PTRACE_ATTACH) the supervisor"}, NULL, a_ptrace},
    {{"process-vm-writev-parent", "process_vm_writev into the supervisor"}, NULL, a_process_vm_writev},
    {{"kill-parent", "kill() the supervisor (signal 0)"}, NULL, a_kill_parent},
    {{"kill-all", "kill(-1) (signal 0)"}, NULL, a_kill_all},
    {{"clear-parent-death-signal", "prctl(PR_SET_PDEATHSIG, 0): outlive the supervisor"}, NULL, a_clear_pdeathsig},
    {{"mmap-rwx", "mmap(PROT_READ|PROT_WRITE|PROT_EXEC)"}, NULL, a_mmap_rwx},
    {{"mprotect-exec", "mprotect() to PROT_EXEC"}, NULL, a_mprotect_exec},
    {{"pkey-mprotect-exec", "pkey_mprotect() to PROT_EXEC"}, NULL, a_pkey_mprotect},
    {{"memfd-exec", "memfd_create() then an executable mapping"}, NULL, a_memfd_exec},
    {{"personality-exec", "personality(READ_IMPLIES_EXEC)"}, NULL, a_personality},
    {{"x32-syscall", "an x32 system call number (openat)"}, NULL, a_x32},
    {{"int-0x80", "the i386 ABI via int 0x80 (open)"}, NULL, a_int80},
    {{"ioctl-high-bits", "ioctl(TIOCSTI) with high bits set in the command"}, NULL, a_ioctl_high_bits},
    {{"bpf", "bpf(BPF_MAP_CREATE)"}, NULL, a_bpf},
    {{"perf-event-open", "perf_event_open()"}, NULL, a_perf},
    {{"userfaultfd", "userfaultfd()"}, NULL, a_userfaultfd},
    {{"io-uring-setup", "io_uring_setup()"}, NULL, a_io_uring},
    {{"keyctl", "keyctl()"}, NULL, a_keyctl},
    {{"modify-ldt", "modify_ldt()"}, NULL, a_modify_ldt},
    {{"iopl", "iopl(3)"}, NULL, a_iopl},
    {{"own-sigsys-handler", "install its own SIGSYS handler"}, NULL, a_own_sigsys},
    {{"thread-before-lockdown", "a thread started before lock-down opens a file after it"}, prep_thread, a_thread},
    {{"channel-garbage", "a forged, oversized message to the supervisor"}, NULL, a_channel_garbage},
    {{"memory-bomb", "allocate and touch memory without end"}, NULL, a_memory_bomb},
    {{"huge-stack", "unbounded recursion with 64 KiB frames"}, NULL, a_huge_stack},
    {{"output-flood", "write to stderr without end"}, NULL, a_output_flood},
    {{"infinite-loop", "spin forever"}, NULL, a_infinite_loop},
    {{"sleep-forever", "sleep forever"}, NULL, a_sleep_forever},
};

#define N_ATTACKS ((int)(sizeof table / sizeof table[0]))

const sb_attack *sb_attacks(int *n)
{
    static sb_attack infos[N_ATTACKS];
    for (int i = 0; i < N_ATTACKS; i++) infos[i] = table[i].info;
    *n = N_ATTACKS;
    return infos;
}

int sb_attack_index(const char *name)
{
    for (int i = 0; i < N_ATTACKS; i++)
        if (!strcmp(table[i].info.name, name)) return i;
    return -1;
}

sb_attack_prepare_fn sb_attack_prepare(int i) { return i >= 0 && i < N_ATTACKS ? table[i].prepare : NULL; }
sb_attack_fn sb_attack_run(int i) { return i >= 0 && i < N_ATTACKS ? table[i].run : NULL; }
