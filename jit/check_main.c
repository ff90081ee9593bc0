/*
 * check_main.c — asiarch-check, the process in which libclang reads a
 * candidate.
 *
 * libclang runs in-process and can be crashed or stalled by hostile text
 * (a macro expansion deep enough to overflow the stack, inputs that trip
 * its own bugs). jit_check (check_spawn.c) therefore never calls it in the
 * caller: it starts this helper with rlimits and a deadline, hands it the
 * source on stdin, and reads the verdict back. A crash here becomes a
 * check/crash report; nothing reaches the supervisor.
 *
 *   asiarch-check [--kernel c] PATH < SOURCE
 *
 * --kernel c: the file is a C kernel of `asiarch jit`, checked with the
 * kernel rules (pointers and parameter-bounded loops allowed) and its
 * @kernel declaration.
 *
 * PATH only names the file in reports. The verdict is the last line of
 * stdout: the marker, the number of violations (-1: the checker could not
 * run) and the reports as a JSON array. libclang may print to stderr
 * before it; the caller ignores that unless the verdict is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

/* All of stdin (the caller's checked jit_source: at most 1 MiB, no NUL). */
static char *read_stdin(void)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (ssize_t r; buf; n += (size_t)r) {
        if (n + 1 >= cap) {
            char *p = cap > ((size_t)4 << 20) ? NULL : realloc(buf, 2 * cap);
            if (!p) { free(buf); return NULL; }
            buf = p;
            cap *= 2;
        }
        r = read(0, buf + n, cap - 1 - n);
        if (r == 0) break;
        if (r < 0) { free(buf); return NULL; }
    }
    if (buf) buf[n] = 0;
    return buf;
}

int main(int argc, char **argv)
{
    int kernel = argc == 4 && !strcmp(argv[1], "--kernel") && !strcmp(argv[2], "c");
    if (argc != 2 && !kernel) {
        fprintf(stderr, "usage: asiarch-check [--kernel c] PATH < SOURCE (run by asiarch; not meant to be used by hand)\n");
        return 2;
    }
    const char *path = argv[argc - 1];
    aa_reports reps = {0};
    jit_source src = {0};
    char *text = read_stdin();
    int n = -1;
    if (!text || jit_source_from_string(path, text, &src) < 0)
        aa_report_add(&reps, "check", path, 0, 0, "check/internal",
                      "the checker could not read the source it was given (out of memory or over 1 MiB)");
    else
        n = jit_check_in_process(&src, kernel, &reps);
    free(text);
    char *json = aa_reports_json(&reps);
    if (!json) return 3;
    fflush(stderr);
    printf("\n%s %d %s\n", JIT_CHECK_VERDICT, n, json);
    free(json);
    aa_reports_free(&reps);
    jit_source_free(&src);
    return fflush(stdout) == 0 ? 0 : 3;
}
