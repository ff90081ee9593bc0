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

#include <stdio.h>

#include "jit.h"
#include "report.h"
#include "runtime.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_cognition(int argc, char **argv);

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
} cli_front_opts;

/* Returns EXIT_OK, EXIT_FAILED (the candidate was rejected: reports printed)
 * or EXIT_USAGE (unreadable file). */
int cli_open_candidate(const char *cmd, const char *arg, const cli_front_opts *o, cli_candidate *c);
void cli_close_candidate(cli_candidate *c);
/* Verification before training; prints the reports of a failure (with the
 * candidate's source lines) and returns the number of failed checks. */
int cli_verify_candidate(const rt_config *cfg, const cli_candidate *c, const rt_verify_opts *o, int json,
                         rt_verify_info *info);
/* Reports on stderr, or {"status":"failed","stage":..,"reports":[..]} on stdout. */
void cli_print_reports(const aa_reports *reps, int json, const char *stage);

/* Print "asiarch <cmd>: <message>" to stderr, printf-style. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print one JSON value on stdout and free it; EXIT_OK or EXIT_FAILED (out of memory). */
typedef struct cJSON cJSON;
int cli_print_json(const char *cmd, cJSON *obj);
/* 1 if stderr is a terminal (progress lines are drawn only then). */
int cli_is_tty(void);

#endif /* ASIARCH_CLI_H */
