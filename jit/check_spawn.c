/*
 * check_spawn.c — jit_check: the DSL checker, run where a crash is contained.
 *
 * libclang parses in the calling process, and hostile text can crash it or
 * make it run for a long time. So the checker runs in asiarch-check
 * (check_main.c), started like clang for compile (process.c): its own
 * process group, rlimits (CPU seconds, address space, file size, no core),
 * a wall-clock deadline, an empty environment, the source on stdin. Its
 * verdict comes back as the last line of its output; every other ending is
 * a report of its own, so the candidate goes to repair and the caller
 * carries on:
 *
 *   check/crash     the checker died on a signal or ended without a verdict
 *   check/timeout   it ran past the deadline (or its CPU seconds)
 *   check/internal  the helper could not be started
 *
 * The helper is $ASIARCH_CHECKER, else asiarch-check beside the running
 * program, else the one this build made.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

#ifndef ASIARCH_CHECKER_BUILD_PATH
#define ASIARCH_CHECKER_BUILD_PATH ""
#endif

#define CHECK_TIMEOUT_S 30.0   /* $ASIARCH_CHECK_TIMEOUT overrides (tests, very slow machines) */
#define CHECK_MAX_OUTPUT ((size_t)8 << 20)
#define CHECK_FILE_SIZE ((rlim_t)1 << 20)   /* its VFS overlay, when there is no memfd */
/* AddressSanitizer reserves terabytes of shadow memory up front: a
 * sanitized helper (the test build) runs without an address-space cap. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_ADDRESS_SPACE RLIM_INFINITY
#else
#define CHECK_ADDRESS_SPACE ((rlim_t)4 << 30)
#endif

/* The source in an unlinked in-memory file, positioned at its start. */
static int source_fd(const jit_source *src)
{
    int fd = memfd_create("asiarch-candidate", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < src->len) {
        ssize_t w = write(fd, src->text + done, src->len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { close(fd); return -1; }
        done += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { close(fd); return -1; }
    return fd;
}

/* The last few lines the helper printed, for a report (one line, capped). */
static void output_tail(const proc_result *res, char *buf, size_t len)
{
    const char *text = res->out && res->len ? res->out : "";
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) n--;
    size_t from = n > 300 ? n - 300 : 0;
    snprintf(buf, len, "%.*s", (int)(n - from), text + from);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 32) *p = ' ';
}

/* Parse "MARKER N [json]" from the last verdict line; -2 when absent. */
static int read_verdict(const proc_result *res, aa_reports *out)
{
    const char *v = NULL;
    for (const char *p = res->out; p && (p = strstr(p, JIT_CHECK_VERDICT)); p++) v = p;
    if (!v) return -2;
    char *end;
    long n = strtol(v + strlen(JIT_CHECK_VERDICT), &end, 10);
    if (end == v + strlen(JIT_CHECK_VERDICT) || n < -1 || n > INT_MAX) return -2;
    aa_reports got = {0};
    if (aa_reports_from_json(end, &got) < 0 || (n > 0 && got.n == 0) || (n == -1 && got.n == 0)) {
        aa_reports_free(&got);
        return -2;
    }
    for (int i = 0; i < got.n; i++) {
        aa_report *r = aa_report_add(out, "", "", 0, 0, "", "%s", "");
        if (r) *r = got.items[i];
    }
    aa_reports_free(&got);
    return (int)n;
}

static void crash_report(aa_reports *out, const jit_source *src, const proc_result *res)
{
    char tail[320], what[96];
    output_tail(res, tail, sizeof tail);
    if (res->how == PROC_SIGNALED)
        snprintf(what, sizeof what, "died on signal %d (%s)", res->code, strsignal(res->code));
    else if (res->how == PROC_FLOOD)
        snprintf(what, sizeof what, "printed more than %zu bytes", CHECK_MAX_OUTPUT);
    else
        snprintf(what, sizeof what, "ended (exit code %d) without a verdict", res->code);
    aa_report_add(out, "check", src->path, 0, 0, "check/crash",
                  "the checker (libclang) %s while reading this file, so the file is rejected unchecked; this "
                  "is a construct the parser cannot handle (very deep nesting or macro expansion, unusual "
                  "syntax): write it more plainly%s%s",
                  what, tail[0] ? ". Its last output: " : "", tail);
}

static int check_as(const jit_source *src, const char *mode, aa_reports *out)
{
    if (jit_check_size(src, out)) return 1;
    char helper[PATH_MAX];
    if (jit_find_program("asiarch-check", "ASIARCH_CHECKER", ASIARCH_CHECKER_BUILD_PATH, helper, sizeof helper) != 0) {
        aa_report_add(out, "check", src->path, 0, 0, "check/internal",
                      "cannot find the checker program asiarch-check (looked in $ASIARCH_CHECKER, beside this "
                      "program and in the build directory '%s'); rebuild asiarch or set ASIARCH_CHECKER",
                      ASIARCH_CHECKER_BUILD_PATH);
        return -1;
    }
    int fd = source_fd(src);
    if (fd < 0) {
        aa_report_add(out, "check", src->path, 0, 0, "check/internal",
                      "cannot hand the source to the checker: %s", strerror(errno));
        return -1;
    }
    char *argv[] = {helper, (char *)src->path, NULL, NULL, NULL};
    if (mode) {   /* asiarch-check --kernel c PATH */
        argv[1] = "--kernel";
        argv[2] = (char *)mode;
        argv[3] = (char *)src->path;
    }
    const char *t = getenv("ASIARCH_CHECK_TIMEOUT");
    double timeout_s = t && atof(t) > 0 ? atof(t) : CHECK_TIMEOUT_S;
    proc_opts opts = {.timeout_s = timeout_s, .max_output = CHECK_MAX_OUTPUT,
                      .address_space = CHECK_ADDRESS_SPACE, .file_size = CHECK_FILE_SIZE, .stdin_fd = fd};
    proc_result res;
    int started = jit_run_process(argv, &opts, &res);
    close(fd);
    int n = -1;
    if (started < 0 || res.how == PROC_NOEXEC || res.how == PROC_ERROR) {
        aa_report_add(out, "check", src->path, 0, 0, "check/internal", "cannot run the checker '%s': %s", helper,
                      strerror(res.code));
    } else if (res.how == PROC_TIMEOUT) {
        aa_report_add(out, "check", src->path, 0, 0, "check/timeout",
                      "the checker (libclang) needed more than %.0f seconds for this file, so the file is "
                      "rejected unchecked; a candidate of a few hundred lines takes milliseconds: remove deep "
                      "nesting, huge initialisers or repeated expansions", timeout_s);
        n = 1;
    } else if (res.how == PROC_EXITED && (n = read_verdict(&res, out)) != -2) {
        /* the verdict: n violations, or -1 with the checker's own report */
    } else {
        crash_report(out, src, &res);
        n = 1;
    }
    free(res.out);
    return n;
}

int jit_check(const jit_source *src, aa_reports *out) { return check_as(src, NULL, out); }

int jit_check_kernel(const jit_source *src, aa_reports *out) { return check_as(src, "c", out); }
