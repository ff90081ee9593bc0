/* util.c — what the files of llm/ share: llm_error (classes, names, filling), quoting text for messages, a growable buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const class_names[] = {
    [LLM_OK] = "ok",
    [LLM_ERR_CONFIG] = "config",
    [LLM_ERR_CONNECT] = "connect",
    [LLM_ERR_TIMEOUT] = "timeout",
    [LLM_ERR_RATE_LIMIT] = "rate-limit",
    [LLM_ERR_SERVER] = "server",
    [LLM_ERR_HTTP] = "http",
    [LLM_ERR_PROTOCOL] = "protocol",
    [LLM_ERR_ANSWER] = "answer",
    [LLM_ERR_TEMPLATE] = "template",
    [LLM_ERR_NOMEM] = "nomem",
};

const char *llm_error_class_name(llm_error_class c)
{
    if ((unsigned)c >= sizeof class_names / sizeof class_names[0]) return "unknown";
    return class_names[c];
}

int llm_error_is_endpoint(llm_error_class c)
{
    switch (c) {
    case LLM_ERR_CONFIG:
    case LLM_ERR_CONNECT:
    case LLM_ERR_TIMEOUT:
    case LLM_ERR_RATE_LIMIT:
    case LLM_ERR_SERVER:
    case LLM_ERR_HTTP:
    case LLM_ERR_PROTOCOL:
        return 1;
    default:
        return 0;
    }
}

void llm_error_clear(llm_error *err)
{
    if (!err) return;
    err->cls = LLM_OK;
    err->http_status = 0;
    err->message[0] = 0;
}

int llm_fail(llm_error *err, llm_error_class cls, const char *fmt, ...)
{
    if (!err) return -1;
    err->cls = cls;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void llm_quote(char *buf, size_t cap, const char *text, size_t max)
{
    if (cap == 0) return;
    size_t o = 0, i = 0;
    /* Room for the closing quote, "..." and the NUL. */
    const size_t reserve = 5;
    if (cap <= reserve + 1) { buf[0] = 0; return; }
    buf[o++] = '"';
    /* Past max, finish a UTF-8 sequence rather than cut it. */
    for (; text && text[i] && (i < max || ((unsigned char)text[i] & 0xC0) == 0x80); i++) {
        unsigned char c = (unsigned char)text[i];
        char tmp[8];
        size_t k;
        if (c == '\n') k = (size_t)snprintf(tmp, sizeof tmp, "\\n");
        else if (c == '\r') k = (size_t)snprintf(tmp, sizeof tmp, "\\r");
        else if (c == '\t') k = (size_t)snprintf(tmp, sizeof tmp, "\\t");
        else if (c == '"' || c == '\\') k = (size_t)snprintf(tmp, sizeof tmp, "\\%c", c);
        else if (c < 32 || c == 127) k = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else { tmp[0] = (char)c; k = 1; }
        if (o + k + reserve > cap) break;
        memcpy(buf + o, tmp, k);
        o += k;
    }
    buf[o++] = '"';
    if (text && text[i]) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
}

char *llm_strdup(const char *s)
{
    return strdup(s ? s : "");
}

int llm_buf_add(llm_buf *b, const char *s, size_t n)
{
    if (b->oom) return -1;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return -1; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int llm_buf_str(llm_buf *b, const char *s) { return llm_buf_add(b, s, strlen(s)); }

void llm_buf_free(llm_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
