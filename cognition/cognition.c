/*
 * cognition.c — loading the cognition base: parse and validate JSON entries
 * (embedded at build time or from a directory), keep ids unique, and render
 * an entry as prompt text. Retrieval is in bm25.c.
 *
 * Loading is all-or-nothing per call: an error leaves the base as it was, so
 * a caller can report the message and carry on with what it had.
 */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cog_private.h"

/* Entries are a few kilobytes; anything this large is not an entry. */
#define MAX_ENTRY_BYTES (1 << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- entries ---------------------------------------------------------------------- */

static void entry_free(cog_entry *e)
{
    free(e->id);
    free(e->title);
    free(e->source);
    for (int i = 0; i < e->n_topics; i++) free(e->topics[i]);
    free(e->topics);
    free(e->problem);
    free(e->insight);
    free(e->dsl);
    free(e->pitfalls);
    free(e->origin);
    for (int i = 0; i < e->n_terms; i++) free(e->terms[i].text);
    free(e->terms);
    memset(e, 0, sizeof *e);
}

/* Drop entries added after the first `keep`: undoes a failed load. */
static void truncate_base(cog_base *base, int keep)
{
    while (base->n > keep) entry_free(&base->entries[--base->n]);
}

void cog_base_free(cog_base *base)
{
    truncate_base(base, 0);
    free(base->entries);
    memset(base, 0, sizeof *base);
}

const cog_entry *cog_base_find(const cog_base *base, const char *id)
{
    for (int i = 0; i < base->n; i++)
        if (strcmp(base->entries[i].id, id) == 0) return &base->entries[i];
    return NULL;
}

/* ---- validation ------------------------------------------------------------------- */

static const char *const known_fields[] = {"id", "title", "source", "topics", "problem", "insight", "dsl",
                                           "pitfalls"};
static const char *const required_strings[] = {"id", "title", "source", "problem", "insight", "dsl"};

static int is_known_field(const char *name)
{
    for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
        if (strcmp(name, known_fields[i]) == 0) return 1;
    return 0;
}

static int is_nonempty_string(const cJSON *item)
{
    return cJSON_IsString(item) && item->valuestring[0] != '\0';
}

/* Ids become file names and appear in prompts: keep them plain. */
static int is_valid_id(const char *id)
{
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return id[0] != '\0' && id[0] != '-';
}

static int check_topics(const cJSON *topics, const char *origin, char *err, size_t errlen)
{
    if (!cJSON_IsArray(topics) || cJSON_GetArraySize(topics) == 0)
        return fail(err, errlen, "%s: \"topics\" must be a non-empty array of strings", origin);
    const cJSON *t;
    cJSON_ArrayForEach(t, topics) {
        if (!is_nonempty_string(t))
            return fail(err, errlen, "%s: every topic must be a non-empty string", origin);
    }
    return 0;
}

static int check_entry(const cJSON *root, const cog_base *base, const char *origin, char *err, size_t errlen)
{
    if (!cJSON_IsObject(root)) return fail(err, errlen, "%s: an entry must be a JSON object", origin);
    const cJSON *field;
    cJSON_ArrayForEach(field, root) {
        if (!is_known_field(field->string))
            return fail(err, errlen, "%s: unknown field \"%s\" (fields: id, title, source, topics, problem, "
                        "insight, dsl, pitfalls)", origin, field->string);
    }
    for (size_t i = 0; i < sizeof required_strings / sizeof required_strings[0]; i++) {
        if (!is_nonempty_string(cJSON_GetObjectItemCaseSensitive(root, required_strings[i])))
            return fail(err, errlen, "%s: \"%s\" is missing or not a non-empty string", origin,
                        required_strings[i]);
    }
    const cJSON *pitfalls = cJSON_GetObjectItemCaseSensitive(root, "pitfalls");
    if (pitfalls && !is_nonempty_string(pitfalls))
        return fail(err, errlen, "%s: \"pitfalls\", when present, must be a non-empty string", origin);
    if (check_topics(cJSON_GetObjectItemCaseSensitive(root, "topics"), origin, err, errlen) != 0) return -1;

    const char *id = cJSON_GetObjectItemCaseSensitive(root, "id")->valuestring;
    if (!is_valid_id(id))
        return fail(err, errlen, "%s: id \"%s\" must be lowercase letters, digits and '-'", origin, id);
    const cog_entry *other = cog_base_find(base, id);
    if (other) return fail(err, errlen, "%s: duplicate id \"%s\" (also in %s)", origin, id, other->origin);
    return 0;
}

/* ---- building an entry from checked JSON ---------------------------------------- */

static char *copy_field(const cJSON *root, const char *name, int *oom)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item) return NULL;
    char *copy = strdup(item->valuestring);
    if (!copy) *oom = 1;
    return copy;
}

static int fill_entry(cog_entry *e, const cJSON *root, const char *origin)
{
    int oom = 0;
    memset(e, 0, sizeof *e);
    e->id = copy_field(root, "id", &oom);
    e->title = copy_field(root, "title", &oom);
    e->source = copy_field(root, "source", &oom);
    e->problem = copy_field(root, "problem", &oom);
    e->insight = copy_field(root, "insight", &oom);
    e->dsl = copy_field(root, "dsl", &oom);
    e->pitfalls = copy_field(root, "pitfalls", &oom);
    e->origin = strdup(origin);
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(root, "topics"), *t;
    e->topics = calloc((size_t)cJSON_GetArraySize(topics), sizeof *e->topics);
    if (oom || !e->origin || !e->topics) return -1;
    cJSON_ArrayForEach(t, topics) {
        if (!(e->topics[e->n_topics++] = strdup(t->valuestring))) return -1;
    }
    return cog_index_entry(e);
}

static int grow_base(cog_base *base)
{
    if (base->n < base->cap) return 0;
    int cap = base->cap ? 2 * base->cap : 64;
    cog_entry *grown = realloc(base->entries, (size_t)cap * sizeof *grown);
    if (!grown) return -1;
    base->entries = grown;
    base->cap = cap;
    return 0;
}

/* "origin:line:col: malformed JSON near '...'" for a parse that stopped at `at`. */
static int json_syntax_error(const char *origin, const char *text, size_t len, const char *at, char *err,
                             size_t errlen)
{
    int line = 1, col = 1;
    if (!at || at < text || at > text + len) at = text;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int near = 0;
    while (at + near < text + len && near < 24 && at[near] != '\n' && at[near] != '\0') near++;
    return fail(err, errlen, "%s:%d:%d: malformed JSON near '%.*s'", origin, line, col, near, at);
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int parse_json(const char *origin, const char *text, size_t len, cJSON **root, char *err,
                      size_t errlen)
{
    size_t blank = 0;
    while (blank < len && is_blank(text[blank])) blank++;
    *root = NULL;
    if (blank == len) return fail(err, errlen, "%s: empty file: expected one JSON object", origin);
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*root) return json_syntax_error(origin, text, len, end, err, errlen);
    /* One entry per file: anything after the object but blanks is a mistake. */
    while (end && end < text + len && is_blank(*end)) end++;
    if (end && end < text + len && *end != '\0') {
        cJSON_Delete(*root);
        *root = NULL;
        return json_syntax_error(origin, text, len, end, err, errlen);
    }
    return 0;
}

int cog_base_add_json(cog_base *base, const char *origin, const char *text, size_t len, char *err, size_t errlen)
{
    cJSON *root;
    if (parse_json(origin, text, len, &root, err, errlen) != 0) return -1;
    int rc = check_entry(root, base, origin, err, errlen);
    if (rc == 0 && grow_base(base) != 0) rc = fail(err, errlen, "%s: out of memory", origin);
    if (rc == 0) {
        cog_entry *e = &base->entries[base->n];
        if (fill_entry(e, root, origin) == 0) {
            base->n++;
        } else {
            entry_free(e);
            rc = fail(err, errlen, "%s: out of memory", origin);
        }
    }
    cJSON_Delete(root);
    return rc == 0 ? 1 : -1;
}

/* ---- loaders --------------------------------------------------------------------- */

int cog_base_load_embedded(cog_base *base, char *err, size_t errlen)
{
    int before = base->n;
    for (int i = 0; i < cog_embedded_count; i++) {
        char origin[300];
        snprintf(origin, sizeof origin, "embedded:%s", cog_embedded_names[i]);
        if (cog_base_add_json(base, origin, cog_embedded_texts[i], cog_embedded_lengths[i], err, errlen) < 0) {
            truncate_base(base, before);
            return -1;
        }
    }
    return base->n - before;
}

/* The whole file in a malloc'd buffer (NUL-terminated); NULL with err set. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_ENTRY_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_ENTRY_BYTES + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    if (!buf || read_error || n > MAX_ENTRY_BYTES) {
        fail(err, errlen, "%s: %s", path, !buf ? "out of memory" : read_error ? "read error" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int is_entry_file(const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n <= 5 || strcmp(name + n - 5, ".json") != 0) return 0;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry file names in dir, sorted so loading order (and thus any error
 * reported first) does not depend on the file system. */
static int list_entry_files(const char *dir, char ***names, int *count, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) return fail(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
    char **list = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!is_entry_file(dir, de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(list, (size_t)cap * sizeof *grown);
            if (!grown) { rc = -1; break; }
            list = grown;
        }
        if (!(list[n] = strdup(de->d_name))) rc = -1; else n++;
    }
    closedir(d);
    if (rc != 0) {
        free_names(list, n);
        return fail(err, errlen, "%s: out of memory", dir);
    }
    if (n > 1) qsort(list, (size_t)n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return 0;
}

int cog_base_load_dir(cog_base *base, const char *dir, char *err, size_t errlen)
{
    char **names = NULL;
    int n_names = 0;
    if (list_entry_files(dir, &names, &n_names, err, errlen) != 0) return -1;
    int before = base->n, rc = 0;
    for (int i = 0; i < n_names && rc == 0; i++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = read_file(path, &len, err, errlen);
        if (!text || cog_base_add_json(base, path, text, len, err, errlen) < 0) rc = -1;
        free(text);
    }
    free_names(names, n_names);
    if (rc != 0) {
        truncate_base(base, before);
        return -1;
    }
    return base->n - before;
}

/* ---- presentation ------------------------------------------------------------------ */

/* snprintf into buf at *used, counting what would not fit, so the caller
 * learns the full length like snprintf itself reports it. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*used < len ? buf + *used : NULL, *used < len ? len - *used : 0, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
}

size_t cog_format_entry(const cog_entry *e, char *buf, size_t len)
{
    size_t used = 0;
    if (len) buf[0] = '\0';
    append(buf, len, &used, "[%s] %s\nSource: %s\nTopics: ", e->id, e->title, e->source);
    for (int i = 0; i < e->n_topics; i++) append(buf, len, &used, "%s%s", i ? ", " : "", e->topics[i]);
    append(buf, len, &used, "\nProblem: %s\nInsight: %s\nIn the DSL: %s\n", e->problem, e->insight, e->dsl);
    if (e->pitfalls) append(buf, len, &used, "Pitfalls: %s\n", e->pitfalls);
    return used;
}
