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

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_ir(int argc, char **argv);

/* Print "asiarch <cmd>: <message>" to stderr, printf-style. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if stderr is a terminal (progress lines are drawn only then). */
int cli_is_tty(void);

#endif /* ASIARCH_CLI_H */
