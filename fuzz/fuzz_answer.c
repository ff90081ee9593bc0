/*
 * fuzz_answer.c — libFuzzer harness for the parser of model answers
 * (llm/answer.c) and the template renderer (llm/prompt.c).
 *
 * Any bytes are an answer: every parser must return (no crash, no hang, no
 * read past the text), and what it returns must keep its promises: code is
 * LF-only and ends with a newline, a JSON answer is an object, scores are
 * 1..10, a failure has the answer class and a message. The same bytes as a
 * template: with no values given, rendering is the identity or names a
 * missing placeholder. Build and run with fuzz/run_fuzz.sh:
 *
 *   fuzz/run_fuzz.sh answer 30
 */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

#define FUZZ_MAX ((size_t)1 << 20)

static void fail(const char *what, const llm_error *err)
{
    fprintf(stderr, "fuzz_answer: invariant broken: %s (%s)\n", what, err ? err->message : "");
    abort();
}

/* A failure must say why, in a terminated message, with a class that is the
 * answer's fault (or memory). */
static void check_failure(const llm_error *err, llm_error_class expected)
{
    if (memchr(err->message, 0, sizeof err->message) == NULL) fail("an unterminated message", NULL);
    if (!err->message[0]) fail("a failure without a message", err);
    if (err->cls != expected && err->cls != LLM_ERR_NOMEM) fail("a failure of the wrong class", err);
}

static void fuzz_code(const char *text, size_t size)
{
    char *code = NULL;
    llm_error err;
    if (llm_extract_code(text, &code, &err) != 0) {
        if (code) fail("code returned with a failure", &err);
        check_failure(&err, LLM_ERR_ANSWER);
        return;
    }
    size_t n = code ? strlen(code) : 0;
    if (!code || n == 0) fail("no code with success", &err);
    if (code[n - 1] != '\n') fail("code without a final newline", &err);
    if (strstr(code, "\r\n")) fail("code with CRLF", &err);
    if (n > size + 1) fail("code longer than the answer", &err);
    free(code);
}

static void fuzz_json(const char *text)
{
    cJSON *obj = NULL;
    llm_error err;
    if (llm_extract_json(text, &obj, &err) != 0) {
        if (obj) fail("an object returned with a failure", &err);
        check_failure(&err, LLM_ERR_ANSWER);
        return;
    }
    if (!cJSON_IsObject(obj)) fail("JSON that is not an object", &err);
    cJSON_Delete(obj);
}

static void fuzz_typed(const char *text)
{
    llm_error err;
    llm_judgement j;
    if (llm_parse_judgement(text, &j, &err) == 0) {
        int scores[3] = {j.performance, j.innovation, j.complexity};
        for (int i = 0; i < 3; i++)
            if (scores[i] < 1 || scores[i] > 10) fail("a score outside 1..10", &err);
        if (!j.rationale) fail("no rationale string", &err);
        llm_judgement_free(&j);
    } else {
        check_failure(&err, LLM_ERR_ANSWER);
        if (j.rationale) fail("a rationale left after a failure", &err);
    }
    llm_analysis a;
    if (llm_parse_analysis(text, &a, &err) == 0) {
        if (!a.summary || !a.strengths || !a.weaknesses || !a.next_idea) fail("an analysis field missing", &err);
        llm_analysis_free(&a);
    } else {
        check_failure(&err, LLM_ERR_ANSWER);
    }
    llm_novelty v;
    if (llm_parse_novelty(text, &v, &err) == 0) {
        if ((v.novel != 0 && v.novel != 1) || !v.closest || !v.reason) fail("a malformed novelty verdict", &err);
        llm_novelty_free(&v);
    } else {
        check_failure(&err, LLM_ERR_ANSWER);
    }
}

static void fuzz_template(const char *text)
{
    char *out = NULL;
    llm_error err;
    if (llm_template_render(text, "fuzz", NULL, 0, &out, &err) == 0) {
        if (!out || strcmp(out, text) != 0) fail("rendering without placeholders changed the text", &err);
        free(out);
    } else {
        check_failure(&err, LLM_ERR_TEMPLATE);
        if (!strstr(err.message, "no value for placeholder {{")) fail("a template failure that names no placeholder", &err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;   /* an embedded NUL ends the answer, as it does for a C string from the client */
    size_t len = strlen(text);
    fuzz_code(text, len);
    fuzz_json(text);
    fuzz_typed(text);
    fuzz_template(text);
    free(text);
    return 0;
}
