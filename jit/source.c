/*
 * source.c — a candidate's text, read once and shared by check, compile and
 * load (which all quote it in their reports).
 *
 * A candidate is one C file of a few kilobytes; the 1 MiB cap stops a
 * runaway generator (or a path to /dev/zero) from filling memory before any
 * stage has looked at it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jit.h"

#define SOURCE_MAX ((size_t)1 << 20)

static int read_fail(aa_reports *out, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int read_fail(aa_reports *out, const char *path, const char *fmt, ...)
{
    aa_report *r = out ? aa_report_add(out, "check", path, 0, 0, "io/read", "%s", "") : NULL;
    if (r) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Read all of fd (at most SOURCE_MAX bytes) into a NUL-terminated buffer.
 * Reading until EOF rather than trusting st_size also works for pipes and
 * files that change size under us. Sets errno and returns NULL on failure;
 * *too_big is set when the file exceeds the cap. */
static char *read_all(int fd, size_t *len, int *too_big)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n + 1 == cap) {
            if (cap > SOURCE_MAX) { *too_big = 1; free(buf); return NULL; }
            char *p = realloc(buf, 2 * cap);
            if (!p) { free(buf); return NULL; }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { int e = errno; free(buf); errno = e; return NULL; }
        if (r == 0) break;
        n += (size_t)r;
        if (n > SOURCE_MAX) { *too_big = 1; free(buf); return NULL; }
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Translation phase 1 as the checker and the compiler should both see it:
 * CRLF and lone CR become LF. A lone CR ends a line for clang but not for a
 * scan that looks for '\n', so a directive after one would hide from the
 * checker's guard; and every report's line number counts the same lines
 * as the snippet it quotes. Returns the new length. */
static size_t normalise_newlines(char *text, size_t len)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        if (text[r] == '\r') {
            text[w++] = '\n';
            if (r + 1 < len && text[r + 1] == '\n') r++;
        } else {
            text[w++] = text[r];
        }
    }
    text[w] = 0;
    return w;
}

int jit_source_read(const char *path, jit_source *src, aa_reports *out)
{
    memset(src, 0, sizeof *src);
    if (!path || !*path) return read_fail(out, "", "no source file given");
    if (strlen(path) >= sizeof src->path)
        return read_fail(out, path, "the path is too long (%zu bytes at most); use a shorter or relative path",
                         sizeof src->path - 1);
    snprintf(src->path, sizeof src->path, "%s", path);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return read_fail(out, path, "cannot open the candidate source: %s; check the path", strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return read_fail(out, path, "is a directory; give the path of the candidate's .c file");
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > SOURCE_MAX) {
        close(fd);
        return read_fail(out, path, "the file is larger than 1 MiB: a candidate is one C source file");
    }
    int too_big = 0;
    size_t len = 0;
    char *text = read_all(fd, &len, &too_big);
    int e = errno;
    close(fd);
    if (!text && too_big)
        return read_fail(out, path, "the file is larger than 1 MiB: a candidate is one C source file");
    if (!text) return read_fail(out, path, "cannot read the candidate source: %s", strerror(e));
    if (strlen(text) != len) {
        free(text);
        return read_fail(out, path, "the file contains a NUL byte: a candidate is C source text");
    }
    src->text = text;
    src->len = normalise_newlines(text, len);
    return 0;
}

int jit_source_from_string(const char *path, const char *text, jit_source *src)
{
    memset(src, 0, sizeof *src);
    if (!text) return -1;
    size_t len = strlen(text);
    if (len > SOURCE_MAX) return -1;   /* the same cap as a file */
    snprintf(src->path, sizeof src->path, "%s", path && *path ? path : "candidate.c");
    src->text = malloc(len + 1);
    if (!src->text) return -1;
    memcpy(src->text, text, len + 1);
    src->len = normalise_newlines(src->text, len);
    return 0;
}

int jit_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > JIT_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_')) return 0;
    return 1;
}

void jit_name_sanitise(const char *in, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = in ? in : ""; *p && n + 1 < len && n < JIT_NAME_MAX; p++) {
        char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        out[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    if (len) out[n] = 0;
    if (n == 0 && len) snprintf(out, len, "unnamed");
}

void jit_source_free(jit_source *src)
{
    if (!src) return;
    free(src->text);
    src->text = NULL;
    src->len = 0;
}
