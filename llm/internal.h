/*
 * internal.h — helpers shared by the files of llm/ (not part of the API).
 */
#ifndef ASIARCH_LLM_INTERNAL_H
#define ASIARCH_LLM_INTERNAL_H

#include <stddef.h>

#include "llm.h"

/* Fill err (when not NULL) and return -1, so callers can `return llm_fail(...)`. */
int llm_fail(llm_error *err, llm_error_class cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void llm_error_clear(llm_error *err);

/* Write the first max characters of text into buf (size cap) as a C-style
 * quoted string with non-printable characters escaped and "..." when cut:
 * what an error message shows of an answer. */
void llm_quote(char *buf, size_t cap, const char *text, size_t max);

/* strdup that tolerates NULL (gives ""). */
char *llm_strdup(const char *s);

/* A growable NUL-terminated byte buffer; after an allocation failure every
 * add fails and oom stays set. */
typedef struct llm_buf {
    char *p;
    size_t n, cap;
    int oom;
} llm_buf;
int llm_buf_add(llm_buf *b, const char *s, size_t n);
int llm_buf_str(llm_buf *b, const char *s);
void llm_buf_free(llm_buf *b);

/* Templates embedded at build time (prompts/NAME.md; generated llm_prompts.c). */
typedef struct llm_template {
    const char *name;
    const char *text;
} llm_template;
extern const llm_template llm_templates[];
extern const int llm_n_templates;

#endif /* ASIARCH_LLM_INTERNAL_H */
