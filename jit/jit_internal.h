/*
 * jit_internal.h — private to jit/: running a helper program (clang for
 * compile, asiarch-check for check) as a contained child process.
 *
 * Both stages hand untrusted text to code that may crash, loop or blow up
 * (clang, libclang), so neither runs it in the caller's process: a child is
 * started with fork + exec (no shell), its own process group, rlimits, a
 * fixed environment and a wall-clock deadline, and its output is read with
 * a byte cap. Whatever it does, the caller gets an outcome back.
 */
#ifndef ASIARCH_JIT_INTERNAL_H
#define ASIARCH_JIT_INTERNAL_H

#include <stddef.h>
#include <sys/resource.h>

typedef enum { PROC_EXITED, PROC_SIGNALED, PROC_TIMEOUT, PROC_FLOOD, PROC_NOEXEC, PROC_ERROR } proc_how;

typedef struct proc_result {
    proc_how how;
    int code;       /* exit status, signal number, or errno (NOEXEC, ERROR) */
    char *out;      /* stdout + stderr, NUL-terminated, at most max_output bytes */
    size_t len;
} proc_result;

typedef struct proc_opts {
    const char *cwd;        /* NULL: the caller's */
    double timeout_s;       /* wall clock; the CPU limit is the same number of seconds */
    size_t max_output;      /* bytes of stdout+stderr kept; more kills the child (PROC_FLOOD) */
    rlim_t address_space;   /* RLIMIT_AS */
    rlim_t file_size;       /* RLIMIT_FSIZE */
    int stdin_fd;           /* the child's stdin (a memfd with its input, say); -1: /dev/null */
} proc_opts;

/* Run argv (argv[0] is the program's path) under opts. Returns 0 when the
 * process ran to an outcome (res->how says which), -1 when it could not be
 * started (res->how = PROC_ERROR, res->code = errno). Free res->out. */
int jit_run_process(char *const argv[], const proc_opts *opts, proc_result *res);

double jit_now_s(void);

/* The first word of asiarch-check's verdict line: "MARKER N [reports]". */
#define JIT_CHECK_VERDICT "asiarch-check-verdict:"

/* The checker proper, in this process: what the asiarch-check helper runs.
 * libclang may crash on hostile input, so nothing that must survive
 * (the CLI, the orchestrator) calls this: they call jit_check, which runs
 * it in a contained child. */
int jit_check_in_process(const jit_source *src, int kernel, aa_reports *out);
/* 1 with a dsl/source-too-large report when the text is over 1 MiB (the
 * helper is not even started), else 0. */
int jit_check_size(const jit_source *src, aa_reports *out);

/* ---- files and hashes of the on-disk caches (files.c) ---------------------- */

int jit_mkdir_p(const char *path);
/* Readers see the old content or the whole new one (temporary + rename). */
int jit_write_file_atomic(const char *path, const void *data, size_t len);
/* The whole file, malloc'd and NUL-terminated, or NULL. */
unsigned char *jit_read_file(const char *path, size_t *len);
/* Hex SHA-256 of n fields; `framed` prefixes each with its length (cache
 * keys), else the plain hash of the concatenation (sha256sum's). */
int jit_sha256_hex(const char *const *fields, const size_t *lens, int n, int framed, char out[65]);
/* $XDG_CACHE_HOME/asiarch, else ~/.cache/asiarch; -1 when there is no home. */
int jit_cache_root(char *buf, size_t len);

/* This CPU as LLVM names it, with its features ("znver3 +avx2,+fma,..."):
 * what -march=native compiles for, so part of a kernel's cache key
 * (load.c; computed once). */
const char *jit_host_cpu_text(void);

/* The text of include/asiarch_kernel.h, compiled into the binary. */
extern const char jit_kernel_header[];
extern const size_t jit_kernel_header_len;

#endif
