/*
 * charts.c — the page's SVG charts and its C highlighter.
 *
 * A chart fits its axes to the finite points of its series (a 5% margin),
 * draws about five ticks per axis at round values, and a legend. Points
 * carry a <title> so a browser shows their value on hover.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "page_internal.h"

#define W 640
#define H 300
#define ML 64
#define MR 230
#define MT 30
#define MB 44

typedef struct range { double lo, hi; } range;

static double tx(double v, int log_x) { return log_x ? (v > 0 ? log10(v) : NAN) : v; }

static range fit(const pg_series *s, int n, int use_x, int log_x)
{
    range r = {INFINITY, -INFINITY};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            double v = use_x ? tx(s[i].x[k], log_x) : s[i].y[k];
            if (isfinite(v) && isfinite(use_x ? s[i].y[k] : tx(s[i].x[k], log_x))) {
                if (v < r.lo) r.lo = v;
                if (v > r.hi) r.hi = v;
            }
        }
    if (!isfinite(r.lo)) r = (range){0, 1};
    if (r.hi - r.lo < 1e-12) r.lo -= 0.5, r.hi += 0.5;
    double m = 0.05 * (r.hi - r.lo);
    r.lo -= m;
    r.hi += m;
    return r;
}

static double px(double v, range r) { return ML + (W - ML - MR) * (v - r.lo) / (r.hi - r.lo); }
static double py(double v, range r) { return H - MB - (H - MT - MB) * (v - r.lo) / (r.hi - r.lo); }

/* Round tick spacing: 1, 2 or 5 times a power of ten. */
static double tick_step(range r)
{
    double raw = (r.hi - r.lo) / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void axis_ticks(FILE *out, range xr, range yr, int log_x)
{
    double ys = tick_step(yr), xs = tick_step(xr);
    for (double v = ceil(yr.lo / ys) * ys; v <= yr.hi; v += ys)
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
                     "class=\"tick\" text-anchor=\"end\">%g</text>\n", ML, W - MR, py(v, yr), py(v, yr), ML - 5,
                py(v, yr) + 4, fabs(v) < 1e-12 ? 0 : v);
    for (double v = ceil(xr.lo / xs) * xs; v <= xr.hi; v += xs)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%s%g</text>\n", px(v, xr),
                H - MB + 16, log_x ? "1e" : "", fabs(v) < 1e-12 ? 0 : v);
}

void pg_chart(FILE *out, const pg_axes *a, const pg_series *s, int n)
{
    range xr = fit(s, n, 1, a->log_x), yr = fit(s, n, 0, 0);
    fprintf(out, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H, W, H);
    fprintf(out, "<text x=\"%d\" y=\"18\" class=\"ctitle\">", ML);
    pg_escape(out, a->title);
    fprintf(out, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", ML, MT,
            W - ML - MR, H - MT - MB);
    axis_ticks(out, xr, yr, a->log_x);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 8);
    pg_escape(out, a->xlabel);
    fprintf(out, "</text><text x=\"14\" y=\"%d\" class=\"tick\" transform=\"rotate(-90 14 %d)\" "
                 "text-anchor=\"middle\">", (MT + H - MB) / 2, (MT + H - MB) / 2);
    pg_escape(out, a->ylabel);
    fputs("</text>\n", out);
    for (int i = 0; i < n; i++) {
        const pg_series *p = &s[i];
        if (p->line) {
            fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", p->colour);
            for (int k = 0; k < p->n; k++) {
                double x = tx(p->x[k], a->log_x), y = p->y[k];
                if (isfinite(x) && isfinite(y)) fprintf(out, "%.1f,%.1f ", px(x, xr), py(y, yr));
            }
            fputs("\"/>\n", out);
        } else {
            for (int k = 0; k < p->n; k++) {
                double x = tx(p->x[k], a->log_x), y = p->y[k];
                if (!isfinite(x) || !isfinite(y)) continue;
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%g, %g</title></circle>",
                        px(x, xr), py(y, yr), p->colour, p->x[k], y);
            }
            fputc('\n', out);
        }
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                     "class=\"tick\">", W - MR + 10, MT + 4 + 16 * i, p->colour, W - MR + 24, MT + 13 + 16 * i);
        char label[40];
        snprintf(label, sizeof label, "%.36s%s", p->label, strlen(p->label) > 36 ? "..." : "");
        pg_escape(out, label);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n", out);
}

/* ---- C highlighting ------------------------------------------------------------------ */

static const char *const keywords[] = {"int", "float", "double", "const", "static", "return", "for", "if", "else",
                                       "while", "void", "enum", "struct", "typedef", "unsigned", "long", "char",
                                       "break", "continue", "switch", "case", "default", "sizeof", NULL};

static int is_keyword(const char *p, size_t n)
{
    for (int i = 0; keywords[i]; i++)
        if (strlen(keywords[i]) == n && !strncmp(p, keywords[i], n)) return 1;
    return 0;
}

static void put_n(FILE *out, const char *p, size_t n)
{
    char buf[4096];
    while (n) {
        size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
        memcpy(buf, p, k);
        buf[k] = 0;
        pg_escape(out, buf);
        p += k;
        n -= k;
    }
}

static void span(FILE *out, const char *cls, const char *p, size_t n)
{
    fprintf(out, "<span class=\"%s\">", cls);
    put_n(out, p, n);
    fputs("</span>", out);
}

void pg_highlight_c(FILE *out, const char *s)
{
    for (const char *p = s; p && *p;) {
        const char *e = p;
        if (p[0] == '/' && p[1] == '*') {
            e = strstr(p + 2, "*/");
            e = e ? e + 2 : p + strlen(p);
            span(out, "cm", p, (size_t)(e - p));
        } else if (p[0] == '/' && p[1] == '/') {
            e = p + strcspn(p, "\n");
            span(out, "cm", p, (size_t)(e - p));
        } else if (*p == '"') {
            for (e = p + 1; *e && *e != '"' && *e != '\n'; e++)
                if (*e == '\\' && e[1]) e++;
            if (*e == '"') e++;
            span(out, "st", p, (size_t)(e - p));
        } else if (*p == '#') {
            e = p + strcspn(p, "\n");
            span(out, "pp", p, (size_t)(e - p));
        } else if (isdigit((unsigned char)*p)) {
            while (isalnum((unsigned char)*e) || *e == '.') e++;
            span(out, "nu", p, (size_t)(e - p));
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            while (isalnum((unsigned char)*e) || *e == '_') e++;
            size_t n = (size_t)(e - p);
            if (is_keyword(p, n)) span(out, "kw", p, n);
            else if (n > 3 && (!strncmp(p, "aa_", 3) || !strncmp(p, "AA_", 3))) span(out, "op", p, n);
            else put_n(out, p, n);
        } else {
            char one[2] = {*p, 0};
            pg_escape(out, one);
            e = p + 1;
        }
        p = e;
    }
}
