/*
 * sb_internal.h — what the supervisor and the runner share inside sandbox/:
 * the fd layout of a runner, the wire format of the channel, the filter
 * builder and the adversarial programs.
 *
 * The runner is built from the same sources as the supervisor, so plain C
 * structs travel on the channel; the job carries a magic and the struct
 * sizes so a runner from another build refuses it. Messages from the runner
 * are untrusted once candidate code has run: the supervisor checks every
 * length and terminates every string it reads.
 */
#ifndef ASIARCH_SB_INTERNAL_H
#define ASIARCH_SB_INTERNAL_H

#include <stdint.h>

#include "sandbox.h"

/* The runner's file descriptors. */
enum {
    SB_FD_CHANNEL = 3,  /* AF_UNIX stream socket: job in, messages out */
    SB_FD_DEATH = 4,    /* pipe: one sb_wire_death written by a signal handler */
    SB_FD_TRAIN = 5,    /* token shards (read-only), when the job trains */
    SB_FD_VAL = 6,
    SB_FD_SAVE = 7,     /* the checkpoint: PATH.tmp to write (train --save), or the file to read (eval) */
    SB_FD_COUNT = 8
};

#define SB_WIRE_MAGIC 0x41415342u  /* "BSAA" */
#define SB_MAX_MESSAGE (64u << 20) /* a job carries source + bitcode; results are small */
#define SB_MAX_REPORTS 256

typedef enum sb_msg_type {
    SB_MSG_JOB = 1,      /* supervisor -> runner: sb_wire_job + payload */
    SB_MSG_LOCKED,       /* runner: lock-down done, candidate code runs next: sb_wire_locked */
    SB_MSG_PROGRESS,     /* runner: one training step: sb_wire_progress */
    SB_MSG_REPORTS,      /* runner: the job failed: n x aa_report */
    SB_MSG_METRICS,      /* runner: rt_metrics */
    SB_MSG_VERIFY_INFO,  /* runner: rt_verify_info */
    SB_MSG_TEXT,         /* runner: text (IR) */
    SB_MSG_ATTACK,       /* runner: sb_attack_result */
    SB_MSG_DONE,         /* runner: nothing more follows */
    SB_MSG_KERNEL,       /* runner: kp_outcome */
    SB_MSG_REGIONS,      /* runner: n x kp_region, before a kernel call in checked mode */
} sb_msg_type;

typedef struct sb_msg_header {
    uint32_t type, len;
} sb_msg_header;

/* The time zone of GPU runners (see sb_lockdown): a POSIX rule, no file. */
#define SB_RUNNER_TZ "UTC0"

typedef struct sb_wire_job {
    uint32_t magic, header_size, job_size, config_size, report_size;
    int32_t kind, profile, cuda, gpu_precision, gpu_deterministic, threads, verify, profile_ops, ir_summary;
    int32_t has_train, has_save, has_checkpoint, supervisor_pid;
    rt_config cfg;
    rt_verify_opts verify_opts;
    char reference[64];
    char source_path[1024];
    char checkpoint_name[1024];     /* for messages */
    char attack[64];
    char canary_dir[1024];
    char root_dir[1024];        /* the empty directory the runner chroots into */
    kp_job kernel;
    uint64_t source_len, bitcode_len, syscalls_len, ref_source_len, ref_bitcode_len;   /* payload, in this order */
} sb_wire_job;

typedef struct sb_wire_locked {
    char applied[512];
} sb_wire_locked;

typedef struct sb_wire_progress {
    int32_t step, steps;
    float loss;
    double tokens_per_s, eta_s;
} sb_wire_progress;

/* Written once, by a signal handler, to the death pipe (<= PIPE_BUF: atomic). */
typedef struct sb_wire_death {
    int32_t kind;               /* SB_DEATH_* */
    int32_t signo, nr;          /* signal; syscall number for violations */
    uint32_t arch;              /* AUDIT_ARCH_* of the trapped call */
    uint64_t ip, addr;
    char name[64];              /* syscall name, or signal name */
    char where[128];            /* "in candidate function f" or "in the runtime" */
    /* In the runtime: what it was doing (rt_activity_now). */
    int32_t phase, node, line, layer;
    char op[32];
} sb_wire_death;

enum { SB_DEATH_VIOLATION = 1, SB_DEATH_TRAP = 2, SB_DEATH_CPU = 3, SB_DEATH_EXEC = 4 };

/* ---- channel.c ---------------------------------------------------------------- */
/* Write one message (header + body) completely; 0 or -1 (errno). Only
 * write(2) is used, so it works after lock-down. */
int sb_send(int fd, uint32_t type, const void *body, size_t len);
/* Two-part body (header struct + payload), one message. */
int sb_send2(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen);
/* Read one whole message (blocking). Returns 0, or -1 with errno (EPROTO for
 * a body longer than max). *body is malloc'd. */
int sb_recv(int fd, uint32_t *type, void **body, size_t *len, size_t max);

/* ---- filter.c ------------------------------------------------------------------ */
typedef struct sb_filter_spec {
    sb_profile profile;
    int cuda;
    int self_pid;               /* kill/tgkill are allowed on this pid only */
    int read_fds[8], n_read;    /* fds read(2) may use */
    int write_fds[8], n_write;  /* fds write(2) may use */
    int device_fds[8], n_device;/* CUDA: fds of /dev/nvidia* */
    int chrooted;               /* permissive: read-only opens allowed only inside an empty root */
} sb_filter_spec;

/* Build the profile's filter and load it on every thread (TSYNC). 0, or -1
 * with a message. The build is separate so tests can count the rules. */
int sb_filter_load(const sb_filter_spec *spec, char *err, size_t errlen);
/* Build only (no load): returns the number of rules, or -1. */
int sb_filter_check(const sb_filter_spec *spec, char *err, size_t errlen);

/* ---- attacks.c ---------------------------------------------------------------- */
typedef struct sb_attack_ctx {
    int supervisor_pid;
    const char *canary_dir;
    sb_attack_result *result;   /* filled when the program returns */
} sb_attack_ctx;

/* Run before lock-down (e.g. start a thread that acts after it); may be NULL. */
typedef void (*sb_attack_prepare_fn)(sb_attack_ctx *ctx);
typedef void (*sb_attack_fn)(sb_attack_ctx *ctx);

int sb_attack_index(const char *name);
sb_attack_prepare_fn sb_attack_prepare(int index);
sb_attack_fn sb_attack_run(int index);

/* ---- syscalls.c ------------------------------------------------------------------ */
/* Execute the fuzzer's system calls: records of {abi, nr, 6 args}. */
void sb_run_syscalls(const unsigned char *data, size_t len);

/* ---- lockdown.c (runner side) ------------------------------------------------------ */
typedef struct sb_isolation {
    char applied[512];
    int chrooted;
} sb_isolation;

/* Before any thread exists: drop root, enter namespaces. */
void sb_isolate_early(const sb_wire_job *job, sb_isolation *iso);
/* After the JIT and the thread pool: chroot, clear the environment,
 * reporters, no_new_privs, the filter. 0, or -1 with err (never run
 * candidate code then). */
int sb_lockdown(const sb_wire_job *job, sb_isolation *iso, char *err, size_t errlen);
/* Tell the fault reporter where candidate code lives (for "in function f"). */
void sb_note_candidate_function(const char *name, const void *addr);

/* Names for syscall numbers of the native and compat ABIs, filled before
 * lock-down (the SIGSYS handler cannot allocate). */
const char *sb_syscall_name(uint32_t arch, int nr);
void sb_syscall_names_init(void);

#endif /* ASIARCH_SB_INTERNAL_H */
