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

/* ---- replay (replay.c): a recorded run's exchanges, served again ---- */

typedef struct cJSON cJSON;
typedef struct llm_replay llm_replay;
#define LLM_REPLAY_PREFIX "replay:"
/* Read every llm-NNNNNN.json of dir. NULL with err when there is none. */
llm_replay *llm_replay_open(const char *dir, llm_error *err);
void llm_replay_free(llm_replay *r);
const char *llm_replay_model(const llm_replay *r);
/* The recorded answer to this request (its messages byte for byte), or
 * its recorded failure; a protocol error when none matches. */
int llm_replay_chat(llm_replay *r, const cJSON *request, llm_reply *reply, llm_error *err);

#endif /* ASIARCH_LLM_INTERNAL_H */
