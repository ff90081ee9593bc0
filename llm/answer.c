/*
 * answer.c — what the model answered, taken apart: the candidate's C file
 * from a researcher or repair answer, the JSON object from an analyst,
 * judge or novelty answer.
 *
 * Models wrap their answers in many ways (prose before and after, several
 * fenced blocks, ~~~ fences, CRLF, a fence inside a list item, no fence at
 * all, JSON in the middle of a sentence). Everything here accepts those and
 * refuses the rest with a message that says what was expected and shows
 * what was found, because that message goes back to the model. Input is any
 * NUL-terminated text (fuzzed by fuzz/fuzz_answer.c): nothing reads past
 * the terminator and nothing aborts.
 */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define SHOWN 80            /* characters of an answer quoted in an error */
#define MAX_BLOCKS 64       /* fenced blocks looked at in one answer */
#define MAX_JSON_STARTS 64  /* '{' positions tried when no fence holds the JSON */

/* ---- lines and fences ------------------------------------------------------- */

typedef struct fence_block {
    const char *body;       /* the first body line */
    size_t len;             /* up to the closing fence line */
    char lang[16];          /* first word of the info string, lower case; "" if none */
    int line;               /* 1-based line of the opening fence */
    int indent;             /* columns before the opening fence (removed from body lines) */
    int closed;
} fence_block;

typedef struct fence_list {
    fence_block items[MAX_BLOCKS];
    int n;
} fence_list;

/* The line that starts at p: its length without "\n" or "\r\n". */
static size_t line_len(const char *p, const char **next)
{
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    *next = e ? e + 1 : p + n;
    if (n > 0 && p[n - 1] == '\r') n--;
    return n;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i])) return 0;
    return 1;
}

/* An opening fence: any indentation, then 3+ ` or ~, then an info string
 * (for backticks, without backticks: "```x```" is inline code). Sets the
 * fence character, its length and the language. */
static int opening_fence(const char *p, size_t n, char *ch, size_t *count, int *indent, char *lang, size_t lang_cap)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    if (i == n || (p[i] != '`' && p[i] != '~')) return 0;
    char c = p[i];
    size_t k = 0;
    while (i + k < n && p[i + k] == c) k++;
    if (k < 3) return 0;
    if (c == '`' && memchr(p + i + k, '`', n - i - k)) return 0;
    *ch = c;
    *count = k;
    *indent = (int)i;
    size_t j = i + k;
    while (j < n && isspace((unsigned char)p[j])) j++;
    size_t m = 0;
    while (j < n && !isspace((unsigned char)p[j]) && p[j] != '{' && m + 1 < lang_cap)
        lang[m++] = (char)tolower((unsigned char)p[j++]);
    lang[m] = 0;
    return 1;
}

/* A closing fence: only the fence character, at least count times. */
static int closing_fence(const char *p, size_t n, char ch, size_t count)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    size_t k = 0;
    while (i + k < n && p[i + k] == ch) k++;
    return k >= count && blank(p + i + k, n - i - k);
}

/* Every fenced block of text, in order (at most MAX_BLOCKS). A block left
 * open at the end of the text is recorded with closed = 0. */
static void find_fences(const char *text, fence_list *out)
{
    out->n = 0;
    const char *p = text, *next;
    int line = 1;
    while (*p && out->n < MAX_BLOCKS) {
        size_t n = line_len(p, &next);
        fence_block *b = &out->items[out->n];
        char ch;
        size_t count;
        if (!opening_fence(p, n, &ch, &count, &b->indent, b->lang, sizeof b->lang)) {
            p = next;
            line++;
            continue;
        }
        b->line = line;
        b->body = next;
        b->closed = 0;
        p = next;
        line++;
        while (*p) {
            n = line_len(p, &next);
            if (closing_fence(p, n, ch, count)) {
                b->closed = 1;
                break;
            }
            p = next;
            line++;
        }
        b->len = (size_t)(p - b->body);
        out->n++;
        if (b->closed) {
            p = next;
            line++;
        }
    }
}

/* ---- C code ------------------------------------------------------------------- */

static int is_c_lang(const char *lang)
{
    static const char *const c_langs[] = {"", "c", "h", "c99", "c11", "c17", "c18", "cpp", "c++", "cc", "cxx"};
    for (size_t i = 0; i < sizeof c_langs / sizeof c_langs[0]; i++)
        if (!strcmp(lang, c_langs[i])) return 1;
    return 0;
}

/* memmem for a length-bounded haystack and a C-string needle. */
static const char *find_in(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, m)) return hay + i;
    return NULL;
}

/* "mixer" followed by optional blanks and "(", as a whole word. */
static int has_mixer(const char *s, size_t n)
{
    const char *end = s + n, *p = s;
    while ((p = find_in(p, (size_t)(end - p), "mixer")) != NULL) {
        int word_start = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        const char *q = p + 5;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (word_start && q < end && *q == '(') return 1;
        p += 5;
    }
    return 0;
}

/* "#include <asiarch.h>" with any blanks a preprocessor would accept. */
static int has_dsl_include(const char *s, size_t n)
{
    const char *end = s + n, *p = s;
    while ((p = memchr(p, '#', (size_t)(end - p))) != NULL) {
        const char *q = p + 1;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if ((size_t)(end - q) >= 7 && !memcmp(q, "include", 7)) {
            q += 7;
            while (q < end && (*q == ' ' || *q == '\t')) q++;
            if ((size_t)(end - q) >= 11 && !memcmp(q, "<asiarch.h>", 11)) return 1;
        }
        p++;
    }
    return 0;
}

/* Copy n bytes of s as the extracted file: line ends become LF (carriage
 * returns before a line end dropped, however many), up to `indent` leading
 * blanks dropped from each line (a fence inside a list item indents its
 * whole body), a final newline guaranteed. */
static char *copy_code(const char *s, size_t n, int indent)
{
    char *out = malloc(n + 2), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    while (i < n) {
        for (int k = 0; k < indent && i < n && (s[i] == ' ' || s[i] == '\t'); k++) i++;
        while (i < n && s[i] != '\n') {
            size_t j = i;
            while (j < n && s[j] == '\r') j++;
            if (j > i && (j == n || s[j] == '\n')) { i = j; break; }
            if (j == i) j++;          /* no run of carriage returns: one ordinary byte */
            while (i < j) *o++ = s[i++];
        }
        if (i < n) *o++ = s[i++];
    }
    if (o == out || o[-1] != '\n') *o++ = '\n';
    *o = 0;
    return out;
}

/* How well a block fits "the candidate's file": holds a mixer definition
 * first, then longer. */
static int better_block(const fence_block *a, const fence_block *b)
{
    int ma = has_mixer(a->body, a->len), mb = has_mixer(b->body, b->len);
    if (ma != mb) return ma > mb;
    return a->len > b->len;
}

static int code_block_eligible(const fence_block *b)
{
    if (is_c_lang(b->lang)) return 1;
    /* A mislabelled block ("```python", "```text") that is plainly the file. */
    return has_dsl_include(b->body, b->len) && has_mixer(b->body, b->len);
}

static void describe_blocks(const fence_list *fl, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; i < fl->n && strlen(buf) + 24 < cap; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? ", " : "",
                 fl->items[i].lang[0] ? fl->items[i].lang : "(no language)");
}

/* Is this line plainly code (or a comment), not prose? Used only for an
 * answer without fences, to trim the prose around the file. */
static int code_like_line(const char *p, size_t n)
{
    while (n > 0 && isspace((unsigned char)p[n - 1])) n--;
    while (n > 0 && isspace((unsigned char)*p)) p++, n--;
    if (n == 0) return 0;
    if (*p == '#' || *p == '*' || (n >= 2 && p[0] == '/' && (p[1] == '/' || p[1] == '*'))) return 1;
    return strchr(";{}),", p[n - 1]) != NULL || (n >= 2 && !memcmp(p + n - 2, "*/", 2));
}

/* Can a C file start with this line: an #include (not a Markdown "# heading")
 * or a comment? */
static int file_start_line(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
    if (n >= 2 && p[0] == '/' && (p[1] == '*' || p[1] == '/')) return 1;
    if (n == 0 || *p != '#') return 0;
    p++, n--;
    while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
    return n >= 7 && !memcmp(p, "include", 7);
}

/* An answer without any fence that is nevertheless a whole DSL file, maybe
 * with a sentence before or after it: from the first preprocessor or comment
 * line to the last line that is code. */
static int unfenced_file(const char *answer, char **code)
{
    size_t n = strlen(answer);
    if (!has_dsl_include(answer, n) || !has_mixer(answer, n)) return 0;
    const char *start = NULL, *end = answer, *p = answer, *next;
    while (*p) {
        size_t len = line_len(p, &next);
        if (!start && file_start_line(p, len)) start = p;
        if (start && code_like_line(p, len)) end = p + len;
        p = next;
    }
    if (!start || end <= start) return 0;
    *code = copy_code(start, (size_t)(end - start), 0);
    return *code ? 1 : -1;
}

int llm_extract_code(const char *answer, char **code, llm_error *err)
{
    *code = NULL;
    llm_error_clear(err);
    char shown[3 * SHOWN];
    llm_quote(shown, sizeof shown, answer, SHOWN);
    if (!answer || blank(answer, strlen(answer)))
        return llm_fail(err, LLM_ERR_ANSWER, "expected a ```c fenced block with the whole mixer file; the answer is empty");

    fence_list *fl = malloc(sizeof *fl);
    if (!fl) return llm_fail(err, LLM_ERR_NOMEM, "out of memory reading the answer");
    find_fences(answer, fl);
    const fence_block *best = NULL;
    for (int i = 0; i < fl->n; i++) {
        const fence_block *b = &fl->items[i];
        if (!code_block_eligible(b)) continue;
        if (!b->closed && !blank(b->body, b->len)) {
            int line = b->line;
            free(fl);
            return llm_fail(err, LLM_ERR_ANSWER,
                            "the code block opened at line %d is never closed (the answer was cut off?); "
                            "expected the whole file between ```c and ```", line);
        }
        if (b->closed && (!best || better_block(b, best))) best = b;
    }
    int rc = 0, found;
    if (best && blank(best->body, best->len)) {
        rc = llm_fail(err, LLM_ERR_ANSWER, "the ```%s block at line %d is empty; expected the whole mixer file in it",
                      best->lang, best->line);
    } else if (best) {
        *code = copy_code(best->body, best->len, best->indent);
        if (!*code) rc = llm_fail(err, LLM_ERR_NOMEM, "out of memory copying the code block");
    } else if ((found = unfenced_file(answer, code)) != 0) {
        /* The file outside any fence (the fences hold something else). */
        if (found < 0) rc = llm_fail(err, LLM_ERR_NOMEM, "out of memory copying the answer");
    } else if (fl->n > 0) {
        char langs[128];
        describe_blocks(fl, langs, sizeof langs);
        rc = llm_fail(err, LLM_ERR_ANSWER,
                      "expected a ```c fenced block with the whole mixer file; found %d fenced block%s (%s) "
                      "and none holds C code: %s", fl->n, fl->n == 1 ? "" : "s", langs, shown);
    } else {
        rc = llm_fail(err, LLM_ERR_ANSWER,
                      "expected a ```c fenced block with the whole mixer file (#include <asiarch.h>, "
                      "AA_NAME, AA_MOTIVATION, mixer()); found no code block in the answer: %s", shown);
    }
    free(fl);
    return rc;
}

/* ---- JSON ---------------------------------------------------------------------- */

/* The '}' that closes the '{' at s[0] (JSON strings and escapes skipped),
 * or NULL when it is never closed. */
static const char *matching_brace(const char *s)
{
    int depth = 0, in_string = 0;
    for (const char *p = s; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* Parse s[0..n) as one JSON object (trailing text allowed). On failure,
 * *where points at the offending character. */
static cJSON *parse_object(const char *s, size_t n, const char **where)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (v && cJSON_IsObject(v)) return v;
    if (where) *where = v ? s : end;
    cJSON_Delete(v);
    return NULL;
}

/* A block's body, trimmed, if it starts like an object. */
static int object_in_block(const fence_block *b, cJSON **obj, const char **where)
{
    const char *s = b->body;
    size_t n = b->len;
    while (n > 0 && isspace((unsigned char)*s)) s++, n--;
    if (n == 0 || *s != '{') return 0;
    *obj = parse_object(s, n, where);
    return *obj != NULL;
}

static int json_from_fences(const fence_list *fl, cJSON **obj, char *why, size_t why_cap)
{
    /* ```json blocks first, then any other block that holds an object. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < fl->n; i++) {
            const fence_block *b = &fl->items[i];
            int is_json = !strncmp(b->lang, "json", 4);
            if (pass == 0 ? !is_json : is_json) continue;
            const char *where = NULL;
            if (object_in_block(b, obj, &where)) return 1;
            if (is_json && !why[0]) {
                char near[64];
                llm_quote(near, sizeof near, where ? where : b->body, 20);
                snprintf(why, why_cap, "the ```%s block at line %d is not a valid JSON object (error near %s)",
                         b->lang, b->line, near);
            }
        }
    }
    return 0;
}

static int json_from_braces(const char *answer, cJSON **obj)
{
    const char *p = answer;
    for (int tries = 0; tries < MAX_JSON_STARTS && (p = strchr(p, '{')) != NULL; tries++, p++) {
        const char *close = matching_brace(p);
        if (!close) continue;
        *obj = parse_object(p, (size_t)(close - p) + 1, NULL);
        if (*obj) return 1;
    }
    return 0;
}

int llm_extract_json(const char *answer, cJSON **obj, llm_error *err)
{
    *obj = NULL;
    llm_error_clear(err);
    char shown[3 * SHOWN], why[256] = "";
    llm_quote(shown, sizeof shown, answer, SHOWN);
    if (!answer || blank(answer, strlen(answer)))
        return llm_fail(err, LLM_ERR_ANSWER, "expected a JSON object; the answer is empty");
    fence_list *fl = malloc(sizeof *fl);
    if (!fl) return llm_fail(err, LLM_ERR_NOMEM, "out of memory reading the answer");
    find_fences(answer, fl);
    int found = json_from_fences(fl, obj, why, sizeof why) || json_from_braces(answer, obj);
    free(fl);
    if (found) return 0;
    if (why[0]) return llm_fail(err, LLM_ERR_ANSWER, "expected a JSON object; %s", why);
    return llm_fail(err, LLM_ERR_ANSWER, "expected a JSON object {...}; found none in the answer: %s", shown);
}

/* ---- typed answers ---------------------------------------------------------- */

static void list_keys(const cJSON *obj, char *buf, size_t cap)
{
    buf[0] = 0;
    for (const cJSON *c = obj->child; c && strlen(buf) + 40 < cap; c = c->next)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s\"%.32s\"", buf[0] ? ", " : "", c->string ? c->string : "");
    if (!buf[0]) snprintf(buf, cap, "none");
}

static int missing_key(llm_error *err, const char *what, const char *key, const char *expected, const cJSON *obj)
{
    char keys[256];
    list_keys(obj, keys, sizeof keys);
    return llm_fail(err, LLM_ERR_ANSWER, "%s answer: missing \"%s\"; expected %s, found keys %s", what, key, expected, keys);
}

/* A text field: a string, or a list of strings joined with newlines. */
static int text_field(const cJSON *obj, const char *what, const char *key, const char *expected, char **out,
                      llm_error *err)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v) return missing_key(err, what, key, expected, obj);
    if (cJSON_IsString(v)) {
        *out = llm_strdup(v->valuestring);
        return *out ? 0 : llm_fail(err, LLM_ERR_NOMEM, "out of memory");
    }
    if (!cJSON_IsArray(v))
        return llm_fail(err, LLM_ERR_ANSWER, "%s answer: \"%s\" must be a string (or a list of strings)", what, key);
    llm_buf b = {0};
    llm_buf_str(&b, "");
    for (const cJSON *item = v->child; item; item = item->next) {
        if (!cJSON_IsString(item)) {
            llm_buf_free(&b);
            return llm_fail(err, LLM_ERR_ANSWER, "%s answer: \"%s\" is a list with an element that is not a string",
                            what, key);
        }
        if (b.n) llm_buf_str(&b, "\n");
        llm_buf_str(&b, item->valuestring);
    }
    if (b.oom) {
        llm_buf_free(&b);
        return llm_fail(err, LLM_ERR_NOMEM, "out of memory");
    }
    *out = b.p;
    return 0;
}

/* An optional text field: absent or null gives "". */
static int optional_text(const cJSON *obj, const char *what, const char *expected, const char *key, char **out,
                         llm_error *err)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = llm_strdup("");
        return *out ? 0 : llm_fail(err, LLM_ERR_NOMEM, "out of memory");
    }
    return text_field(obj, what, key, expected, out, err);
}

static const char ANALYSIS_SHAPE[] = "{\"summary\", \"strengths\", \"weaknesses\", \"next_idea\"}";

int llm_parse_analysis(const char *answer, llm_analysis *out, llm_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *obj;
    if (llm_extract_json(answer, &obj, err)) return -1;
    int rc = text_field(obj, "analyst", "summary", ANALYSIS_SHAPE, &out->summary, err) ||
             text_field(obj, "analyst", "strengths", ANALYSIS_SHAPE, &out->strengths, err) ||
             text_field(obj, "analyst", "weaknesses", ANALYSIS_SHAPE, &out->weaknesses, err) ||
             text_field(obj, "analyst", "next_idea", ANALYSIS_SHAPE, &out->next_idea, err);
    if (!rc && blank(out->summary, strlen(out->summary)))
        rc = llm_fail(err, LLM_ERR_ANSWER, "analyst answer: \"summary\" is empty");
    cJSON_Delete(obj);
    if (rc) llm_analysis_free(out);
    return rc ? -1 : 0;
}

void llm_analysis_free(llm_analysis *a)
{
    free(a->summary);
    free(a->strengths);
    free(a->weaknesses);
    free(a->next_idea);
    memset(a, 0, sizeof *a);
}

static const char JUDGE_SHAPE[] = "{\"performance\": 1-10, \"innovation\": 1-10, \"complexity\": 1-10, \"rationale\"}";

/* A score: an integer 1..10, given as a number or as a string of digits. */
static int score_field(const cJSON *obj, const char *key, int *out, llm_error *err)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v) return missing_key(err, "judge", key, JUDGE_SHAPE, obj);
    double x = NAN;
    char found[64];
    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;
        snprintf(found, sizeof found, "%g", x);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char *end;
        while (isspace((unsigned char)*s)) s++;
        long k = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : -1;
        if (k >= 0) {
            while (isspace((unsigned char)*end)) end++;
            if (!*end) x = (double)k;
        }
        llm_quote(found, sizeof found, v->valuestring, 20);
    } else {
        snprintf(found, sizeof found, "a %s", cJSON_IsBool(v) ? "boolean" : cJSON_IsNull(v) ? "null" : "list or object");
    }
    if (!(x >= 1 && x <= 10 && x == floor(x)))
        return llm_fail(err, LLM_ERR_ANSWER, "judge answer: \"%s\" must be an integer from 1 to 10, found %s", key, found);
    *out = (int)x;
    return 0;
}

int llm_parse_judgement(const char *answer, llm_judgement *out, llm_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *obj;
    if (llm_extract_json(answer, &obj, err)) return -1;
    int rc = score_field(obj, "performance", &out->performance, err) ||
             score_field(obj, "innovation", &out->innovation, err) ||
             score_field(obj, "complexity", &out->complexity, err);
    /* The scores are the answer; a missing rationale costs only context. */
    if (!rc) rc = optional_text(obj, "judge", JUDGE_SHAPE, "rationale", &out->rationale, err);
    cJSON_Delete(obj);
    if (rc) llm_judgement_free(out);
    return rc ? -1 : 0;
}

void llm_judgement_free(llm_judgement *j)
{
    free(j->rationale);
    memset(j, 0, sizeof *j);
}

static const char NOVELTY_SHAPE[] = "{\"novel\": true|false, \"closest\", \"reason\"}";

/* true/false, or the strings "true"/"false"/"yes"/"no". */
static int bool_field(const cJSON *obj, const char *key, int *out, llm_error *err)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v) return missing_key(err, "novelty", key, NOVELTY_SHAPE, obj);
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) { *out = 1; return 0; }
        if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) { *out = 0; return 0; }
    }
    char found[64] = "a number, list, object or null";
    if (cJSON_IsString(v)) llm_quote(found, sizeof found, v->valuestring, 20);
    return llm_fail(err, LLM_ERR_ANSWER, "novelty answer: \"%s\" must be true or false, found %s", key, found);
}

int llm_parse_novelty(const char *answer, llm_novelty *out, llm_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *obj;
    if (llm_extract_json(answer, &obj, err)) return -1;
    int rc = bool_field(obj, "novel", &out->novel, err) || optional_text(obj, "novelty", NOVELTY_SHAPE, "closest", &out->closest, err) ||
             optional_text(obj, "novelty", NOVELTY_SHAPE, "reason", &out->reason, err);
    cJSON_Delete(obj);
    if (rc) llm_novelty_free(out);
    return rc ? -1 : 0;
}

void llm_novelty_free(llm_novelty *v)
{
    free(v->closest);
    free(v->reason);
    memset(v, 0, sizeof *v);
}
