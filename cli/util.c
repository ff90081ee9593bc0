/* util.c — small helpers shared by the subcommands. */
#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

/* Format, then write with control characters escaped (aa_fputs_escaped). */
static void vout(FILE *f, const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0) return;
    aa_fputs_escaped(text, f);
    free(text);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "asiarch %s: ", cmd);
    va_start(ap, fmt);
    vout(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vout(stdout, fmt, ap);
    va_end(ap);
}

int cli_is_tty(void) { return isatty(STDERR_FILENO); }

int cli_print_json(const char *cmd, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        cli_error(cmd, "out of memory while building the JSON output");
        return EXIT_FAILED;
    }
    puts(text);
    free(text);
    return EXIT_OK;
}

int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == 0 || *end != 0 || v < lo || v > hi) {
        cli_error(cmd, "%s expects an integer in [%lld, %lld], got '%s'", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) {
        cli_error(cmd, "%s expects a number in [%g, %g], got '%s'", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

cJSON *cli_stats_json(int n, double mean, double ci95)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", n);
    if (isfinite(mean)) cJSON_AddNumberToObject(o, "mean", mean);
    else cJSON_AddNullToObject(o, "mean");
    if (isfinite(ci95)) cJSON_AddNumberToObject(o, "ci95", ci95);
    else cJSON_AddNullToObject(o, "ci95");
    return o;
}
