/*
 * text.h — a growing string for the orchestrator's generated texts (the
 * analyst's fields, the judge's rationale, structure texts). Internal to
 * aa_orchestrator.
 *
 * A failed allocation is remembered instead of reported at each call, so a
 * text can be built with plain sequential calls and checked once at the end
 * (os_text_take returns NULL then).
 */
#ifndef ASIARCH_ORCH_TEXT_H
#define ASIARCH_ORCH_TEXT_H

#include <stdarg.h>
#include <stddef.h>

typedef struct os_text {
    char *s;        /* NUL-terminated once anything was written */
    size_t len, cap;
    int failed;     /* an allocation failed: the text is incomplete */
} os_text;

void os_text_puts(os_text *t, const char *s);
void os_text_putn(os_text *t, const char *s, size_t n);
void os_text_printf(os_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void os_text_vprintf(os_text *t, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The string (malloc'd; "" when nothing was written), or NULL when an
 * allocation failed. Either way t is empty afterwards. */
char *os_text_take(os_text *t);
void os_text_free(os_text *t);

#endif /* ASIARCH_ORCH_TEXT_H */
