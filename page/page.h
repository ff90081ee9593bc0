/*
 * page.h — `asiarch report`: a discovery database as one self-contained HTML
 * page (inline SVG, CSS and a little JS; no server, no network).
 *
 * The page holds a summary (runs, candidates by status, compute, the best
 * designs against the baselines with their intervals over seeds), the
 * discoveries against cumulative training compute, the lineage (an SVG the
 * caller renders with Graphviz), loss curves of the best designs against
 * the baselines, the Pareto fronts of loss against parameters and FLOPs per
 * token, which DSL ops the best designs use, and a section per candidate
 * (source highlighted, diff against its parent, motivation, analysis,
 * attempts with their reports, metrics, score components, cost), filtered
 * by status and score and shown a page at a time.
 *
 * Everything from the database is HTML-escaped: names, sources and reports
 * come from a language model.
 */
#ifndef ASIARCH_PAGE_H
#define ASIARCH_PAGE_H

#include <stdint.h>
#include <stdio.h>

#include "db.h"

typedef struct pg_opts {
    int64_t run_id;             /* 0: every run of the database */
    int max_sources;            /* candidates shown with their source (best first); 0: 300 */
    const char *lineage_svg;    /* the lineage as SVG text (Graphviz), or NULL: not shown */
    const char *db_label;       /* shown in the title (the database's path) */
} pg_opts;

/* Write the page. 0, or -1 with err (the database could not be read). */
int pg_write_report(aa_db *db, const pg_opts *o, FILE *out, char *err, size_t errlen);

/* Write text HTML-escaped (& < > " ' and control characters). */
void pg_escape(FILE *out, const char *text);

#endif /* ASIARCH_PAGE_H */
