/*
 * page_internal.h — private to page/: one candidate as the page sees it,
 * and the SVG charts (charts.c).
 */
#ifndef ASIARCH_PAGE_INTERNAL_H
#define ASIARCH_PAGE_INTERNAL_H

#include <cJSON.h>
#include <stdio.h>

#include "page.h"

typedef struct pg_view {
    const db_candidate *c;
    cJSON *metrics, *scores;    /* parsed, or NULL */
    double val_loss, mqar, params, flops, train_s;   /* NaN: not measured */
    int early_stop;
} pg_view;

/* A series of points for a chart. */
typedef struct pg_series {
    const char *label, *colour;
    const double *x, *y;
    int n;
    int line;                   /* 1: a polyline; 0: dots */
} pg_series;

typedef struct pg_axes {
    const char *title, *xlabel, *ylabel;
    int log_x;
} pg_axes;

/* An SVG chart of the series (axes fitted to them, ticks, legend). */
void pg_chart(FILE *out, const pg_axes *a, const pg_series *s, int n);

/* C source with spans for comments, strings, numbers, keywords and aa_* calls. */
void pg_highlight_c(FILE *out, const char *source);

#endif
