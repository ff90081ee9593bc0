/*
 * fuzz_check.c — libFuzzer harness for the DSL checker (jit/check.c).
 *
 * Any bytes are a candidate: the checker must return (no crash, no hang),
 * with -1 only when it could not run, and every report it makes must be a
 * well-formed stage-"check" report. The harness runs the checker in-process
 * (jit_check_in_process), so that the fuzzer sees its coverage; libclang
 * itself can still crash on some inputs, which asiarch contains by running
 * the checker in a child (check_spawn.c). fuzz/run_fuzz.sh therefore sorts
 * the crashes it finds: one inside libclang is contained and must give a
 * check/crash report from `asiarch check`; one in our own code fails the run.
 *
 *   fuzz/run_fuzz.sh check 60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "jit_internal.h"

/* A candidate is at most 1 MiB; the checker refuses more without parsing. */
#define FUZZ_MAX ((size_t)1 << 20)

static void fail(const char *what, const aa_reports *r)
{
    fprintf(stderr, "fuzz_check: invariant broken: %s\n", what);
    for (int i = 0; r && i < r->n; i++) aa_report_print(&r->items[i], stderr);
    abort();
}

/* The checker's invariants on one input, in one mode (0: a DSL candidate;
 * 1: a C kernel file of asiarch jit, whose rule ids read kernel/...). */
static void check_mode(const jit_source *src, int kernel)
{
    const char *prefix = kernel ? "kernel/" : "dsl/", *too_many = kernel ? "kernel/too-many-violations" : "dsl/too-many-violations";
    aa_reports reps = {0};
    int n = jit_check_in_process(src, kernel, &reps);
    if (n < -1) fail("jit_check returned less than -1", &reps);
    if (n == 0 && reps.n != 0) fail("no violation but reports", &reps);
    if (n > 0 && reps.n == 0) fail("violations but no report", &reps);
    if (n == -1 && reps.n == 0) fail("failure without a report", &reps);
    for (int i = 0; i < reps.n; i++) {
        const aa_report *r = &reps.items[i];
        if (strcmp(r->stage, "check") != 0) fail("a report whose stage is not \"check\"", &reps);
        if (!r->rule[0]) fail("a report without a rule id", &reps);
        if (!r->message[0]) fail("a report without a message", &reps);
        if (strcmp(r->file, "fuzz.c") != 0) fail("a report about another file", &reps);
        int whole_file = !strcmp(r->rule, "check/crash");   /* libclang gave up on the file */
        if (n > 0 && !whole_file && (r->line < 1 || r->col < 1)) fail("a violation without a position", &reps);
        if (n > 0 && !whole_file && strncmp(r->rule, prefix, strlen(prefix)) != 0) fail("a violation whose rule has another mode's prefix", &reps);
        if (i > 0 && n > 0 && strcmp(r->rule, too_many) != 0) {
            const aa_report *p = &reps.items[i - 1];
            if (p->line > r->line || (p->line == r->line && p->col > r->col)) fail("reports out of source order", &reps);
        }
    }
    aa_reports_free(&reps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX) return 0;
    jit_source src;
    memset(&src, 0, sizeof src);
    snprintf(src.path, sizeof src.path, "fuzz.c");
    src.text = malloc(size + 1);
    if (!src.text) return 0;
    memcpy(src.text, data, size);
    src.text[size] = 0;          /* NUL-terminated copy; an embedded NUL ends the text */
    src.len = size;
    check_mode(&src, 0);
    check_mode(&src, 1);
    free(src.text);
    return 0;
}
