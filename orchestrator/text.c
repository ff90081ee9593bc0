/*
 * text.c — the growing string of text.h.
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(os_text *t, size_t extra)
{
    if (t->failed) return -1;
    if (t->len + extra + 1 <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + extra + 1) cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->failed = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

void os_text_putn(os_text *t, const char *s, size_t n)
{
    if (reserve(t, n) < 0) return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void os_text_puts(os_text *t, const char *s)
{
    os_text_putn(t, s, strlen(s));
}

void os_text_vprintf(os_text *t, const char *fmt, va_list ap)
{
    va_list measure;
    va_copy(measure, ap);
    int n = vsnprintf(NULL, 0, fmt, measure);
    va_end(measure);
    if (n < 0 || reserve(t, (size_t)n) < 0) return;
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    t->len += (size_t)n;
}

void os_text_printf(os_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    os_text_vprintf(t, fmt, ap);
    va_end(ap);
}

char *os_text_take(os_text *t)
{
    if (!t->failed && !t->s) reserve(t, 0);
    if (!t->failed) t->s[t->len] = '\0';
    char *s = t->failed ? NULL : t->s;
    if (!s) free(t->s);
    memset(t, 0, sizeof *t);
    return s;
}

void os_text_free(os_text *t)
{
    free(t->s);
    memset(t, 0, sizeof *t);
}
