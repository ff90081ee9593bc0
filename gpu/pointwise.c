/*
 * pointwise.c — a candidate's custom pointwise ops as CUDA kernels.
 *
 * The candidate's AA_SCALAR functions are copied out of its source, each
 * under a #line directive naming the candidate's file and line, so that an
 * NVRTC error points at the candidate's own text. Around them, two kernels
 * per op: the forward applies the function, the backward accumulates
 * dy times each partial derivative (NAME_d0 ...). It is the same text the
 * CPU compiles with clang: asiarch.h makes AA_SCALAR __device__ under NVRTC.
 *
 * Only AA_SCALAR functions travel: one that calls a helper without
 * AA_SCALAR gets NVRTC's "identifier is undefined" at the call.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "gpu_internal.h"
#include "pointwise.h"

/* ---- the candidate's AA_SCALAR functions ---------------------------------------------- */

typedef struct text_buf { char *s; size_t len, cap; int oom; } text_buf;

static void put(text_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *p = realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void putf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(text_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Past a comment, string or character literal starting at p (or p + 1). */
static const char *skip_literal(const char *p, int *line)
{
    if (p[0] == '/' && p[1] == '/') {
        while (*p && *p != '\n') p++;
        return p;
    }
    if (p[0] == '/' && p[1] == '*') {
        for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++) *line += *p == '\n';
        return *p ? p + 2 : p;
    }
    char quote = *p++;
    for (; *p && *p != quote; p++) {
        if (*p == '\\' && p[1]) p++;
        *line += *p == '\n';
    }
    return *p ? p + 1 : p;
}

static int is_ident(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* Copy every top-level definition that starts with AA_SCALAR, to its
 * closing brace, each under "#line N file". Returns how many. */
static int copy_scalar_functions(const char *file, const char *text, text_buf *out)
{
    int depth = 0, line = 1, found = 0;
    for (const char *p = text; *p;) {
        if ((p[0] == '/' && (p[1] == '/' || p[1] == '*')) || *p == '"' || *p == '\'') {
            p = skip_literal(p, &line);
            continue;
        }
        if (*p == '\n') line++;
        if (*p == '{') depth++;
        if (*p == '}') depth--;
        int word = depth == 0 && strncmp(p, "AA_SCALAR", 9) == 0 && !is_ident(p[9]) && (p == text || !is_ident(p[-1]));
        if (!word) { p++; continue; }
        const char *start = p;
        int start_line = line, d = 0, opened = 0;
        while (*p && !(opened && d == 0)) {
            if ((p[0] == '/' && (p[1] == '/' || p[1] == '*')) || *p == '"' || *p == '\'') {
                p = skip_literal(p, &line);
                continue;
            }
            if (*p == '\n') line++;
            if (*p == ';' && !opened) break;   /* a declaration: nothing to copy */
            if (*p == '{') { d++; opened = 1; }
            if (*p == '}') d--;
            p++;
        }
        if (opened) {
            putf(out, "#line %d \"%s\"\n", start_line, file);
            put(out, start, (size_t)(p - start));
            put(out, "\n", 1);
            found++;
        }
    }
    return found;
}

/* ---- the kernels ---------------------------------------------------------------------------- */

static void put_call(text_buf *b, const char *fn, int nargs)
{
    putf(b, "%s(", fn);
    for (int a = 0; a < nargs; a++) putf(b, "%sp.in[%d][i]", a ? ", " : "", a);
    put(b, ")", 1);
}

static void put_kernels(text_buf *b, int index, const char *name, int nargs)
{
    putf(b, "AAK_KERNEL(aak_pw_fwd_%d, aak_pointwise_args)\n{\n"
            "    for (long long i = aak_tid(); i < p.n; i += aak_stride()) p.y[i] = ", index);
    put_call(b, name, nargs);
    putf(b, ";\n}\n\nAAK_KERNEL(aak_pw_bwd_%d, aak_pointwise_args)\n{\n"
            "    for (long long i = aak_tid(); i < p.n; i += aak_stride()) {\n", index);
    for (int a = 0; a < nargs; a++) {
        char deriv[160];
        snprintf(deriv, sizeof deriv, "%s_d%d", name, a);
        putf(b, "        if (p.dx[%d]) p.dx[%d][i] += p.dy[i] * ", a, a);
        put_call(b, deriv, nargs);
        putf(b, ";\n");
    }
    putf(b, "    }\n}\n\n");
}

char *gpu_pointwise_source(const char *file, const char *text, const gpu_pointwise_op *ops, int n_ops, char *err,
                           size_t errlen)
{
    text_buf b = {0};
    putf(&b, "#include \"aak.h\"\n#include \"asiarch.h\"\n#include \"pointwise.h\"\n");
    if (copy_scalar_functions(file, text, &b) == 0) {
        snprintf(err, errlen, "%s defines no AA_SCALAR function, but uses pointwise ops", file);
        free(b.s);
        return NULL;
    }
    putf(&b, "#line 1 \"<asiarch: generated pointwise kernels>\"\n");
    for (int i = 0; i < n_ops; i++) put_kernels(&b, i, ops[i].name, ops[i].nargs);
    if (b.oom) {
        snprintf(err, errlen, "out of memory generating the pointwise kernels");
        free(b.s);
        return NULL;
    }
    return b.s;
}

int gpu_pointwise_fwd(gpu_dev *d, const gpu_kernel *k, int nargs, size_t n, const gpu_ptr *in, gpu_ptr y)
{
    aak_pointwise_args p = {.n = (long long)n, .y = GPU_F(y)};
    for (int a = 0; a < nargs && a < 4; a++) p.in[a] = GPU_CF(in[a]);
    return n ? gpu_launch(d, k, gpu_grid_for(n), &p, sizeof p) : 0;
}

int gpu_pointwise_bwd(gpu_dev *d, const gpu_kernel *k, int nargs, size_t n, const gpu_ptr *in, gpu_ptr dy,
                      const gpu_ptr *dx)
{
    aak_pointwise_args p = {.n = (long long)n, .dy = GPU_CF(dy)};
    int any = 0;
    for (int a = 0; a < nargs && a < 4; a++) {
        p.in[a] = GPU_CF(in[a]);
        p.dx[a] = GPU_F(dx[a]);
        any |= dx[a] != 0;
    }
    return n && any ? gpu_launch(d, k, gpu_grid_for(n), &p, sizeof p) : 0;
}
