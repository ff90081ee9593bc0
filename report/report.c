/* report.c — building, printing and serialising failure reports. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

aa_report *aa_report_add(aa_reports *list, const char *stage, const char *file, int line, int col,
                         const char *rule, const char *fmt, ...)
{
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 8;
        aa_report *items = realloc(list->items, sizeof *items * (size_t)cap);
        if (!items) return NULL;
        list->items = items;
        list->cap = cap;
    }
    aa_report *r = &list->items[list->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->stage, sizeof r->stage, "%s", stage ? stage : "");
    snprintf(r->file, sizeof r->file, "%s", file ? file : "");
    r->line = line;
    r->col = col;
    snprintf(r->rule, sizeof r->rule, "%s", rule ? rule : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return r;
}

void aa_reports_free(aa_reports *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

void aa_report_snippet(aa_report *r, const char *source, size_t len)
{
    r->snippet[0] = 0;
    if (!source || r->line <= 0) return;
    size_t i = 0;
    for (int line = 1; line < r->line && i < len; i++)
        if (source[i] == '\n') line++;
    size_t j = i;
    while (j < len && source[j] != '\n') j++;
    size_t n = j - i < sizeof r->snippet - 1 ? j - i : sizeof r->snippet - 1;
    memcpy(r->snippet, source + i, n);
    r->snippet[n] = 0;
    for (size_t k = 0; k < n; k++)   /* keep the snippet printable */
        if ((unsigned char)r->snippet[k] < 32 && r->snippet[k] != '\t') r->snippet[k] = ' ';
}

void aa_fputs_escaped(const char *s, FILE *out)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '\n' || *p == '\t' || (*p >= 32 && *p != 127)) fputc(*p, out);
        else fprintf(out, "\\x%02x", *p);
    }
}

void aa_report_print(const aa_report *r, FILE *out)
{
    /* Messages quote candidate text (names, strings, model answers): escape
     * control characters so none can move the cursor or repaint a line. */
    aa_fputs_escaped(r->file, out);
    if (r->line > 0 && r->col > 0) fprintf(out, ":%d:%d: ", r->line, r->col);
    else if (r->line > 0) fprintf(out, ":%d: ", r->line);
    else fputs(": ", out);
    aa_fputs_escaped(r->rule, out);
    fputs(": ", out);
    aa_fputs_escaped(r->message, out);
    fputc('\n', out);
    if (!r->snippet[0]) return;
    fputs("    ", out);
    aa_fputs_escaped(r->snippet, out);
    fputc('\n', out);
    if (r->col <= 0) return;
    fputs("    ", out);
    for (int c = 1; c < r->col && r->snippet[c - 1]; c++) fputc(r->snippet[c - 1] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

char *aa_reports_json(const aa_reports *list)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < list->n; i++) {
        const aa_report *r = &list->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "stage", r->stage);
        cJSON_AddStringToObject(o, "file", r->file);
        cJSON_AddNumberToObject(o, "line", r->line);
        cJSON_AddNumberToObject(o, "col", r->col);
        cJSON_AddStringToObject(o, "rule", r->rule);
        cJSON_AddStringToObject(o, "message", r->message);
        cJSON_AddStringToObject(o, "snippet", r->snippet);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}

static void copy_field(const cJSON *o, const char *key, char *dst, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(dst, len, "%s", cJSON_IsString(v) && v->valuestring ? v->valuestring : "");
}

static int int_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9 ? (int)v->valuedouble : 0;
}

int aa_reports_from_json(const char *json, aa_reports *out)
{
    cJSON *arr = cJSON_Parse(json ? json : "");
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return -1;
    }
    int n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        if (!cJSON_IsObject(o)) continue;
        aa_report *r = aa_report_add(out, "", "", int_field(o, "line"), int_field(o, "col"), "", "%s", "");
        if (!r) break;
        copy_field(o, "stage", r->stage, sizeof r->stage);
        copy_field(o, "file", r->file, sizeof r->file);
        copy_field(o, "rule", r->rule, sizeof r->rule);
        copy_field(o, "message", r->message, sizeof r->message);
        copy_field(o, "snippet", r->snippet, sizeof r->snippet);
        n++;
    }
    cJSON_Delete(arr);
    return n;
}
