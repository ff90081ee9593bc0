/*
 * sandbox.h — candidate code runs only in an isolated, seccomp-filtered
 * runner process (ARCHITECTURE §5).
 *
 * The supervisor (the CLI or the orchestrator) never calls candidate code.
 * Per job it starts `asiarch-runner`, a separate executable, with:
 *
 *   - an empty environment (the thread settings OMP_NUM_THREADS,
 *     OPENBLAS_NUM_THREADS and OPENBLAS_CORETYPE travel until the libraries
 *     have read them, then clearenv()), no secrets in its memory (exec, not
 *     fork), stdin /dev/null, stdout+stderr to a pipe the supervisor caps;
 *   - only its channel (fd 3), its death-report pipe (fd 4) and the data
 *     fds the job names; everything else closed;
 *   - rlimits: CPU seconds, address space (CPU runs), file size, processes,
 *     no core files;
 *   - its own process group, and PR_SET_PDEATHSIG so it dies with the
 *     supervisor.
 *
 * The runner then (strict and permissive profiles) drops root to nobody,
 * enters new user, mount and network namespaces where the kernel permits,
 * loads the bitcode into LLJIT and resolves every symbol, starts the
 * OpenMP/OpenBLAS thread pool, chroots into an empty directory inside the
 * run directory, installs its SIGSYS and fault reporters, sets
 * no_new_privs and loads the seccomp filter on every thread (TSYNC), and
 * only then calls candidate code. Anything the filter refuses traps; the
 * runner writes the syscall's name to the death pipe and exits.
 *
 * The supervisor enforces the wall-clock and output limits, kills the whole
 * runner on a breach, and turns every ending into aa_report values in the
 * pipeline's one format (stage "sandbox" for violations, limits and
 * crashes; "link", "build", "verify", "train" for what the runner reports).
 */
#ifndef ASIARCH_SANDBOX_H
#define ASIARCH_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jit.h"
#include "proto.h"
#include "report.h"
#include "runtime.h"

typedef enum sb_profile {
    SB_PROFILE_OFF = 0,        /* a runner process with rlimits and fd hygiene only */
    SB_PROFILE_PERMISSIVE = 1, /* deny-list: exec, fork, network, ptrace, namespaces, PROT_EXEC, ... */
    SB_PROFILE_STRICT = 2,     /* allow-list: compute, memory without PROT_EXEC, its own fds */
} sb_profile;

/* "off" | "permissive" | "strict" -> profile; -1 for anything else. */
int sb_profile_parse(const char *name, sb_profile *out);
const char *sb_profile_name(sb_profile p);

typedef struct sb_limits {
    double wall_s;              /* wall-clock seconds; 0 = none */
    double cpu_s;               /* CPU seconds (all threads); 0 = none */
    size_t address_space;       /* bytes of virtual memory; 0 = none (CUDA runners) */
    size_t max_output;          /* bytes of runner stdout+stderr passed on; then it is killed */
    int threads;                /* OpenMP threads in the runner; 0 = the supervisor's count */
} sb_limits;

/* Defaults for a training job: no wall/CPU limit, the machine's memory as
 * address space (sb_memory_per_runner(1)), 1 MiB of output, all threads. */
void sb_limits_default(sb_limits *l);
/* The machine's physical memory shared among `runners` runners at once
 * (at least 1 GiB each): the default address-space limit, so that runners
 * running side by side cannot together exhaust the host. */
size_t sb_memory_per_runner(int runners);

typedef enum sb_job_kind {
    SB_JOB_TRAIN = 0,   /* [verify], train, evaluate: metrics */
    SB_JOB_VERIFY = 1,  /* build + the deterministic checks: rt_verify_info */
    SB_JOB_IR = 2,      /* build and print the graph IR: text */
    SB_JOB_EVAL = 5,    /* load a checkpoint and evaluate: metrics */
    SB_JOB_ATTACK = 3,  /* one adversarial program of the self-test (no candidate) */
    SB_JOB_SYSCALLS = 4,/* fuzzer-chosen system calls (fuzz/fuzz_sandbox.c) */
    SB_JOB_KERNEL = 6   /* a kernel file of `asiarch jit`: run, compare, time: kp_outcome */
} sb_job_kind;

/* A step the runner reported, as the supervisor saw it. cpu_s is the
 * runner's CPU time (all threads, from /proc), which another process on the
 * same cores does not inflate as it does wall time; negative: unknown. */
typedef struct sb_progress {
    int step, steps;
    float loss;
    double wall_s, cpu_s;   /* since the runner was started */
} sb_progress;

typedef struct sb_job {
    sb_job_kind kind;
    sb_profile profile;
    int cuda;                   /* train on the GPU (gpu.h), opened before lock-down, under the
                                   CUDA variant of the filter (device ioctls and mmaps) */
    int gpu_precision;          /* gpu_precision of the GEMMs (0: FP32) */
    int gpu_deterministic;      /* fixed reduction orders, pedantic cuBLAS math */
    sb_limits limits;
    const char *run_dir;        /* where the runner's empty root is made; NULL: a temporary directory */
    const char *runner_path;    /* NULL: $ASIARCH_RUNNER, else asiarch-runner beside this program */

    /* The mixer: a reference linked into the runner, or a compiled candidate
     * (its source travels too: link reports quote it). */
    const char *reference;
    const jit_source *source;
    const jit_bitcode *bitcode;

    /* TRAIN, VERIFY, IR */
    rt_config cfg;
    rt_verify_opts verify_opts;
    int verify;                 /* TRAIN: run rt_verify before training */
    int profile_ops;            /* TRAIN: per-op timing table on the runner's stderr */
    int ir_summary;             /* IR: one summary line instead of the whole graph */
    const char *train_path, *val_path;  /* token shards, opened here and passed as fds */
    const char *save_path;      /* TRAIN: parameters, written by the runner into PATH.tmp, renamed here */
    const char *checkpoint_path;/* EVAL: parameters to load (opened here, read by the runner) */

    /* KERNEL: source/bitcode above are the kernel file (bitcode: C only);
     * the reference, when there is one, here */
    const kp_job *kernel;
    const jit_source *ref_source;
    const jit_bitcode *ref_bitcode;

    /* ATTACK */
    const char *attack;         /* a name from sb_attacks() */
    const char *canary_dir;     /* a directory outside the run directory the attack may aim at */

    /* SYSCALLS */
    const unsigned char *syscalls;
    size_t syscalls_len;

    /* Training progress, called in the supervisor for each step the runner reports. */
    rt_progress_fn progress;
    void *progress_ctx;
    FILE *output;               /* where the runner's stdout/stderr go (NULL: stderr) */
    /* Early stop: asked after each reported step; nonzero (with a reason)
     * kills the runner and ends the job SB_STOPPED (train/early-stop). */
    int (*should_stop)(void *ctx, const sb_progress *p, char *reason, size_t len);
    void *stop_ctx;
    /* Set (e.g. from a SIGINT handler) to stop the runner at once: SB_STOPPED
     * with rule sandbox/cancelled. Checked at least every 200 ms. */
    volatile int *cancel;
} sb_job;

/* Fill a job with defaults: strict, sb_limits_default, verify on. */
void sb_job_init(sb_job *job, sb_job_kind kind);

typedef enum sb_outcome {
    SB_DONE = 0,        /* the job ran to its end (metrics, info or text in the result) */
    SB_FAILED,          /* the runner reported failures (link/build/verify/train reports) */
    SB_VIOLATION,       /* the filter trapped a system call (sandbox/violation) */
    SB_TRAP,            /* a fault in the runner: SIGILL/SIGSEGV/SIGFPE/SIGBUS (sandbox/trap) */
    SB_TIMEOUT,         /* wall-clock limit (sandbox/timeout) */
    SB_CPU_LIMIT,       /* RLIMIT_CPU (sandbox/cpu-limit) */
    SB_OUTPUT_LIMIT,    /* too much output (sandbox/output-limit) */
    SB_PROTOCOL,        /* a malformed message from the runner (sandbox/protocol) */
    SB_CRASH,           /* ended without a result or a report (sandbox/crash) */
    SB_SETUP,           /* the sandbox could not be set up: never ran anything (sandbox/setup) */
    SB_STOPPED,         /* stopped on purpose: early stop or cancel (train/early-stop, sandbox/cancelled) */
} sb_outcome;

const char *sb_outcome_name(sb_outcome o);

typedef struct sb_attack_result {
    int returned;               /* the program ran to its end and said how it went */
    int escaped;                /* ... and it got through (a sandbox failure) */
    char text[256];             /* "open /etc/passwd: ENOENT" */
} sb_attack_result;

typedef struct sb_result {
    sb_outcome outcome;
    aa_reports reports;         /* why it failed, in the pipeline's report format */
    int have_metrics;
    rt_metrics metrics;
    int have_verify_info;
    rt_verify_info verify_info;
    char *text;                 /* IR job: the printed graph (malloc'd) */
    int have_kernel;
    kp_outcome kernel;          /* KERNEL job */
    sb_attack_result attack;
    char applied[512];          /* what the runner put in place: profile, namespaces, chroot, uid, ... */
    char violation[64];         /* SB_VIOLATION: the system call's name ("openat") */
    int runner_pid;             /* also its process group and session id; all reaped when sb_run returns */
    int term_signal;            /* the signal that ended the runner, 0 if it exited */
    int exit_status;
    double startup_ms;          /* fork to lock-down done (just before candidate code) */
    double wall_s;
} sb_result;

/* Run a job in a fresh runner. Returns 0 when the runner ran (res->outcome
 * says how it ended) and -1 when it could not be started (res->reports
 * says why; outcome SB_SETUP). Always free res with sb_result_free. */
int sb_run(const sb_job *job, sb_result *res);
void sb_result_free(sb_result *res);

/* ---- self-test: the adversarial suite -------------------------------------- */

typedef struct sb_attack {
    const char *name;           /* "open-etc-passwd" */
    const char *what;           /* one line for people */
} sb_attack;

/* The adversarial programs, in suite order; *n receives the count. */
const sb_attack *sb_attacks(int *n);

typedef struct sb_selftest_entry {
    const sb_attack *attack;
    int contained;
    char outcome[192];          /* "contained: SIGSYS openat", "ESCAPED: read 2841 bytes", ... */
    double ms;
} sb_selftest_entry;

/* Run every attack (or the one named) under profile and check the canary
 * files after each. Returns the number of entries written to out (at most
 * max), or -1 with err when the self-test itself cannot run (no seccomp:
 * a loud failure, never a silent fallback). applied receives what the
 * runners put in place (profile, namespaces, chroot, uid, filter). */
int sb_selftest(sb_profile profile, int cuda, const char *only, sb_selftest_entry *out, int max, char *applied,
                size_t applied_len, char *err, size_t errlen);

/* Whether this kernel has seccomp filters (and SECCOMP_RET_TRAP); 0 or -1
 * with a reason. */
int sb_kernel_support(char *why, size_t len);

#endif /* ASIARCH_SANDBOX_H */
