/*
 * jit_cmd.h — private to the `asiarch jit` commands (cmd_jit.c, jit_sweep.c):
 * a kernel file taken through its front end, and one run of it in the
 * sandbox.
 */
#ifndef ASIARCH_JIT_CMD_H
#define ASIARCH_JIT_CMD_H

#include <getopt.h>

#include "cli.h"
#include "proto.h"

/* A kernel file after the front end: declaration read, rules checked, and
 * (C) compiled to bitcode with its trampoline. */
typedef struct kernel_file {
    jit_source src;
    kp_spec spec;
    jit_bitcode bitcode;        /* C only */
} kernel_file;

/* Read, check and compile. EXIT_OK, EXIT_FAILED (reports printed) or
 * EXIT_USAGE (unreadable). */
int jit_open_kernel(const char *cmd, const char *path, int json, int no_cache, kernel_file *k);
void jit_close_kernel(kernel_file *k);

/* What `jit run` and `jit sweep` share. */
typedef struct jit_run_opts {
    const char *ref;            /* --ref FILE, else the kernel's @ref */
    double tol;                 /* --tol; 0: the file's or the default */
    int json, no_cache;
    kp_run_opts run;
    cli_sandbox_opts so;
    const char *sets[KP_MAX_PARAMS];
    int n_sets;
} jit_run_opts;

/* The reference's path: --ref, else @ref relative to the kernel's directory
 * (into buf), else NULL. */
const char *jit_ref_path(const kernel_file *k, const jit_run_opts *o, char *buf, size_t len);
/* One sandboxed run of k (and ref, may be NULL) at k->spec's current values.
 * EXIT_OK with res->have_kernel, else EXIT_FAILED with the reports printed. */
int jit_run_once(const char *cmd, const kernel_file *k, const kernel_file *ref, const jit_run_opts *o, sb_result *res);
/* "cpu: AMD EPYC 7B13 (2 threads)" */
void jit_cpu_name(char *out, size_t len);

/* Option parsing shared by run and sweep (their getopt table; 'C' and 'G'
 * are sweep's --csv and --svg). jit_run_option: 1 taken, 0 not ours, -1 bad. */
extern const struct option jit_run_long_options[];
void jit_run_defaults(jit_run_opts *o);
int jit_run_option(const char *cmd, int c, const char *arg, jit_run_opts *o);
/* Open the kernel and its reference (ref_path NULL when none); --tol applied;
 * a CUDA file checks that a GPU is there. */
int jit_open_pair(const char *cmd, const char *path, const jit_run_opts *o, kernel_file *k, kernel_file *ref,
                  const char **ref_path, char *buf, size_t len);

int jit_sweep(int argc, char **argv);

#endif
