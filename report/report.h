/*
 * report.h — the one failure report of the whole pipeline.
 *
 * Every stage (check, compile, link, build, verify, train) reports failures
 * in this shape, because each is read by a person and by the language model
 * that repairs the candidate: where (file:line:col), which rule or check,
 * what was expected, and the offending source line.
 *
 *   cand.c:14:9: dsl/pointer: pointer type 'float *' is not allowed; ...
 *       float *p = 0;
 *             ^
 */
#ifndef ASIARCH_REPORT_H
#define ASIARCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

typedef struct aa_report {
    char stage[16];      /* "check", "compile", "link", "build", "verify", "train" */
    char file[256];
    int line, col;       /* 1-based; 0 when unknown */
    char rule[64];       /* stable id: "dsl/pointer", "link/undefined-symbol", "verify/causality" */
    char message[768];
    char snippet[256];   /* the source line (no newline), "" when unknown */
} aa_report;

/* A growable list of reports. */
typedef struct aa_reports {
    aa_report *items;
    int n, cap;
} aa_reports;

/* Append a report; printf-style message. Returns the new entry (or NULL
 * when out of memory, in which case the report is dropped). */
aa_report *aa_report_add(aa_reports *list, const char *stage, const char *file, int line, int col,
                         const char *rule, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void aa_reports_free(aa_reports *list);

/* Fill r->snippet with line `line` of source (1-based). */
void aa_report_snippet(aa_report *r, const char *source, size_t len);

/* "file:line:col: rule: message", then the snippet with a caret under col. */
void aa_report_print(const aa_report *r, FILE *out);
/* A JSON array of objects {stage, file, line, col, rule, message, snippet};
 * returns a malloc'd string. */
char *aa_reports_json(const aa_reports *list);
/* The reverse: append the reports of such an array to out. Returns how
 * many, or -1 when json is not an array. Fields that are missing or of the
 * wrong type read as empty (0 for line and col). */
int aa_reports_from_json(const char *json, aa_reports *out);

/* Write text that may come from a candidate or a model (a name, a
 * motivation, a message) with every control character but newline and tab
 * shown as \xNN, so that no escape sequence reaches a terminal. */
void aa_fputs_escaped(const char *s, FILE *out);

#endif /* ASIARCH_REPORT_H */
