/*
 * cli.h — the `asiarch` subcommands. Each takes the argv that starts at its
 * own name (argv[0] = "train", ...), parses flags with getopt_long, and calls
 * the libraries; none holds logic of its own beyond that.
 *
 * Exit codes, shared by every command:
 *   0  success
 *   1  the work failed (bad candidate, failed training, rejected data)
 *   2  usage error (bad flag, missing argument) or I/O error
 * Messages for people go to stderr; with --json, stdout carries exactly one
 * JSON object (or array) and nothing else.
 */
#ifndef ASIARCH_CLI_H
#define ASIARCH_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "jit.h"
#include "report.h"
#include "runtime.h"
#include "sandbox.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sandbox(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_llm(int argc, char **argv);
int cmd_cognition(int argc, char **argv);
int cmd_genome(int argc, char **argv);
int cmd_jit(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* The report page of db_path (run 0: every run) into out_path, written to
 * a temporary file and renamed; "report: PATH" on stdout unless quiet.
 * EXIT_OK or EXIT_USAGE (message printed). (cmd_report.c) */
int cli_write_report(const char *cmd, const char *db_path, int64_t run, int max_sources, const char *out_path, int quiet);

/* A mixer named on the command line: a reference, or a source file taken
 * through check -> compile -> link. */
typedef struct cli_candidate {
    rt_arch arch;
    jit_source src;         /* empty for references */
    jit_bitcode bitcode;
    jit_module *module;     /* NULL for references */
} cli_candidate;

typedef struct cli_front_opts {
    int json;               /* failures as one JSON object on stdout */
    int no_cache;           /* compile without the bitcode cache */
    int load;               /* also link it here (ir --llvm); else the runner links it */
} cli_front_opts;

/* Returns EXIT_OK, EXIT_FAILED (the candidate was rejected: reports printed)
 * or EXIT_USAGE (unreadable file). */
int cli_open_candidate(const char *cmd, const char *arg, const cli_front_opts *o, cli_candidate *c);
void cli_close_candidate(cli_candidate *c);
/* Reports on stderr, or {"status":"failed","stage":..,"reports":[..]} on stdout. */
void cli_print_reports(const aa_reports *reps, int json, const char *stage);

/* ---- running candidate code: always in a sandboxed runner ---------------------- */

/* --sandbox, --time-limit, --memory-limit: shared by every command that runs
 * a mixer. */
typedef struct cli_sandbox_opts {
    sb_profile profile;
    double time_limit_s;    /* 0 = none */
    double memory_gib;      /* 0 = the default */
    int cuda;               /* --device cuda */
    int precision;          /* --precision: a gpu_precision */
    int deterministic;      /* --deterministic */
} cli_sandbox_opts;

#define CLI_SANDBOX_OPTIONS_HELP                                                                    \
    "  --sandbox P     strict (default) | permissive | off: how the runner that executes the mixer\n" \
    "                  is confined (see `asiarch sandbox selftest`)\n"                                  \
    "  --time-limit S  stop the runner after S seconds of wall-clock time\n"                            \
    "  --memory-limit G  address-space limit of the runner in GiB (default: the machine's memory, shared among discover's workers)\n" \
    "  --device D      cpu (default) | cuda: where the runner trains (cuda: an NVIDIA GPU, driver\n"          \
    "                  loaded at run time; exits 2 saying why where there is none)\n"                         \
    "  --precision P   GPU GEMMs: fp32 (default) | tf32 | bf16 (tensor cores, FP32 accumulation)\n"          \
    "  --deterministic GPU: fixed reduction orders and pedantic cuBLAS math (bit-identical reruns)\n"
enum { CLI_OPT_SANDBOX = 1000, CLI_OPT_TIME_LIMIT, CLI_OPT_MEMORY_LIMIT, CLI_OPT_DEVICE, CLI_OPT_PRECISION,
       CLI_OPT_DETERMINISTIC };
#define CLI_SANDBOX_LONG_OPTIONS                                                          \
    {"sandbox", required_argument, 0, CLI_OPT_SANDBOX},                                   \
        {"time-limit", required_argument, 0, CLI_OPT_TIME_LIMIT},                         \
        {"memory-limit", required_argument, 0, CLI_OPT_MEMORY_LIMIT},                     \
        {"device", required_argument, 0, CLI_OPT_DEVICE},                                 \
        {"precision", required_argument, 0, CLI_OPT_PRECISION}, {                         \
        "deterministic", no_argument, 0, CLI_OPT_DETERMINISTIC                            \
    }

void cli_sandbox_defaults(cli_sandbox_opts *so);
/* Handle one of the options above (getopt's c and optarg): 1 taken, 0 not
 * ours, -1 bad value (message printed). */
int cli_sandbox_option(const char *cmd, int c, const char *arg, cli_sandbox_opts *so);
/* With --device cuda: whether this machine can run it (the NVIDIA driver
 * loads and a GPU is visible). EXIT_OK, or EXIT_USAGE with the reason
 * printed; cheap, so every command checks before any work. */
int cli_check_device(const char *cmd, const cli_sandbox_opts *so);
/* A job for the candidate (reference or compiled file) under the options. */
void cli_sandbox_job(const cli_candidate *c, const cli_sandbox_opts *so, sb_job_kind kind, sb_job *job);
/* Run it. EXIT_OK when the job finished; else the reports are printed (with
 * the candidate's source lines) and EXIT_FAILED. Free res either way. */
int cli_run_job(const char *cmd, const sb_job *job, const cli_candidate *c, int json, sb_result *res);

/* SASS of a cubin through the CUDA toolkit's disassembler (cuobjdump or
 * nvdisasm); EXIT_OK, or EXIT_FAILED saying what is missing. */
struct jit_device_code;
int cli_print_sass(const char *cmd, const struct jit_device_code *code);

/* Print "asiarch <cmd>: <message>" to stderr, printf-style. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* printf to stdout for people: what it prints may quote a candidate, a
 * model or a database (names, motivations, messages), so every control
 * character but newline and tab is shown escaped, never sent to the
 * terminal. */
void cli_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print one JSON value on stdout and free it; EXIT_OK or EXIT_FAILED (out of memory). */
typedef struct cJSON cJSON;
int cli_print_json(const char *cmd, cJSON *obj);
/* {"n", "mean", "ci95"} of a measure over seeds; a non-finite value is null. */
cJSON *cli_stats_json(int n, double mean, double ci95);
/* A flag's value: the whole string must be a number within [lo, hi], else a
 * message "FLAG expects ... in [lo, hi], got 'S'" and -1. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* 1 if stderr is a terminal (progress lines are drawn only then). */
int cli_is_tty(void);

#endif /* ASIARCH_CLI_H */
