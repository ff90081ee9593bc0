/*
 * jit_sweep.c — `asiarch jit sweep FILE --set n=1024,4096,16384`: one
 * sandboxed run per size (timed, and compared where there is a
 * reference), as a table, CSV, JSON, and an SVG plot of time against size
 * on log-log axes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jit_cmd.h"

#define MAX_POINTS 64

typedef struct point {
    long long value;
    kp_sizes sizes;
    kp_outcome out;
} point;

typedef struct sweep {
    char param[KP_NAME_MAX];
    point pts[MAX_POINTS];
    int n;
    int have_ref;
} sweep;

static double worst_abs(const kp_outcome *o)
{
    double w = 0;
    for (int i = 0; i < o->n_outputs; i++)
        if (o->outputs[i].compared && o->outputs[i].max_abs > w) w = o->outputs[i].max_abs;
    return w;
}

static double per_s(double amount, double s) { return amount >= 0 && s > 0 ? amount / s : NAN; }

/* "n=1024,4096" -> the name and the values; the other --set stay fixed. */
static int parse_sweep(const jit_run_opts *o, sweep *sw, const char **list, int *which)
{
    *which = -1;
    for (int i = 0; i < o->n_sets; i++)
        if (strchr(o->sets[i], ',')) {
            if (*which >= 0) { cli_error("jit sweep", "sweep one parameter at a time: two --set have lists"); return -1; }
            *which = i;
        }
    if (*which < 0) { cli_error("jit sweep", "give the sizes as a list: --set NAME=V1,V2,..."); return -1; }
    const char *eq = strchr(o->sets[*which], '=');
    if (!eq || eq == o->sets[*which] || eq - o->sets[*which] >= KP_NAME_MAX) {
        cli_error("jit sweep", "--set %s: write NAME=V1,V2,...", o->sets[*which]);
        return -1;
    }
    snprintf(sw->param, sizeof sw->param, "%.*s", (int)(eq - o->sets[*which]), o->sets[*which]);
    *list = eq + 1;
    return 0;
}

static int run_point(kernel_file *k, const kernel_file *ref, const jit_run_opts *o, const sweep *sw, const char *value,
                     point *p)
{
    char assign[256], err[300];
    snprintf(assign, sizeof assign, "%s=%s", sw->param, value);
    if (kp_spec_set(&k->spec, assign, err, sizeof err) < 0 || kp_spec_sizes(&k->spec, &p->sizes, err, sizeof err) < 0) {
        cli_error("jit sweep", "%s", err);
        return EXIT_USAGE;
    }
    p->value = k->spec.params[kp_find_param(&k->spec, sw->param)].value;
    if (!o->json) fprintf(stderr, "asiarch jit sweep: %s=%lld ...\n", sw->param, p->value);
    sb_result res;
    int rc = jit_run_once("jit sweep", k, ref, o, &res);
    if (rc == EXIT_OK) p->out = res.kernel;
    sb_result_free(&res);
    return rc;
}

static void print_table(const sweep *sw, FILE *f, int csv)
{
    const char *sep = csv ? "," : "  ";
    if (csv) fprintf(f, "%s,median_s,min_s,p20_s,p80_s,gb_per_s,gflop_per_s,ref_median_s,speedup,max_abs_err,status\n", sw->param);
    else fprintf(f, "%12s  %12s  %12s  %9s  %11s  %12s  %8s  %11s  %s\n", sw->param, "median", "min", "GB/s", "GFLOP/s",
                 "ref median", "speedup", "max |err|", "status");
    for (int i = 0; i < sw->n; i++) {
        const point *p = &sw->pts[i];
        const kp_timing *t = &p->out.kernel, *r = &p->out.ref;
        const char *status = !sw->have_ref ? "-" : p->out.mismatch ? "MISMATCH" : "ok";
        if (csv) {
            fprintf(f, "%lld%s%.9g%s%.9g%s%.9g%s%.9g%s%.6g%s%.6g%s", p->value, sep, t->median_s, sep, t->min_s, sep,
                    t->p20_s, sep, t->p80_s, sep, per_s(p->sizes.bytes, t->median_s) * 1e-9, sep,
                    per_s(p->sizes.flops, t->median_s) * 1e-9, sep);
            if (r->reps) fprintf(f, "%.9g%s%.4g%s", r->median_s, sep, r->median_s / t->median_s, sep);
            else fprintf(f, "%s%s", sep, sep);
            fprintf(f, "%.3g%s%s\n", worst_abs(&p->out), sep, status);
            continue;
        }
        char ref[32] = "-", speed[32] = "-";
        if (r->reps) {
            snprintf(ref, sizeof ref, "%.3f us", r->median_s * 1e6);
            snprintf(speed, sizeof speed, "%.2fx", r->median_s / t->median_s);
        }
        fprintf(f, "%12lld  %9.3f us  %9.3f us  %9.2f  %11.2f  %12s  %8s  %11.3g  %s\n", p->value, t->median_s * 1e6,
                t->min_s * 1e6, per_s(p->sizes.bytes, t->median_s) * 1e-9, per_s(p->sizes.flops, t->median_s) * 1e-9,
                ref, speed, worst_abs(&p->out), status);
    }
}

static cJSON *sweep_json(const kernel_file *k, const sweep *sw)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", k->src.path);
    cJSON_AddStringToObject(o, "kernel", k->spec.entry);
    cJSON_AddStringToObject(o, "param", sw->param);
    cJSON_AddStringToObject(o, "device", sw->n ? sw->pts[0].out.device : "");
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (int i = 0; i < sw->n; i++) {
        const point *p = &sw->pts[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "value", (double)p->value);
        cJSON_AddNumberToObject(r, "median_s", p->out.kernel.median_s);
        cJSON_AddNumberToObject(r, "min_s", p->out.kernel.min_s);
        cJSON_AddNumberToObject(r, "p20_s", p->out.kernel.p20_s);
        cJSON_AddNumberToObject(r, "p80_s", p->out.kernel.p80_s);
        cJSON_AddNumberToObject(r, "reps", p->out.kernel.reps);
        if (p->sizes.bytes >= 0) cJSON_AddNumberToObject(r, "gb_per_s", per_s(p->sizes.bytes, p->out.kernel.median_s) * 1e-9);
        if (p->sizes.flops >= 0) cJSON_AddNumberToObject(r, "gflop_per_s", per_s(p->sizes.flops, p->out.kernel.median_s) * 1e-9);
        if (p->out.ref.reps) {
            cJSON_AddNumberToObject(r, "ref_median_s", p->out.ref.median_s);
            cJSON_AddNumberToObject(r, "speedup", p->out.ref.median_s / p->out.kernel.median_s);
        }
        if (sw->have_ref) {
            cJSON_AddNumberToObject(r, "max_abs_err", worst_abs(&p->out));
            cJSON_AddBoolToObject(r, "mismatch", p->out.mismatch);
        }
        cJSON_AddItemToArray(rows, r);
    }
    return o;
}

/* ---- the plot ---------------------------------------------------------------------------------- */

#define W 720
#define H 440
#define L 80     /* margins */
#define R 30
#define T 40
#define B 60

static double lx(double v, double lo, double hi) { return L + (W - L - R) * (log10(v) - lo) / (hi - lo > 0 ? hi - lo : 1); }
static double ly(double v, double lo, double hi) { return H - B - (H - T - B) * (log10(v) - lo) / (hi - lo > 0 ? hi - lo : 1); }

static void svg_line(FILE *f, const sweep *sw, int ref, double x0, double x1, double y0, double y1, const char *colour)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    for (int i = 0; i < sw->n; i++) {
        double t = ref ? sw->pts[i].out.ref.median_s : sw->pts[i].out.kernel.median_s;
        fprintf(f, "%.1f,%.1f ", lx((double)sw->pts[i].value, x0, x1), ly(t, y0, y1));
    }
    fprintf(f, "\"/>\n");
    for (int i = 0; i < sw->n; i++) {
        const kp_timing *t = ref ? &sw->pts[i].out.ref : &sw->pts[i].out.kernel;
        double x = lx((double)sw->pts[i].value, x0, x1);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x, x, ly(t->p20_s, y0, y1),
                ly(t->p80_s, y0, y1), colour);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s=%lld: median %.4g s</title></circle>\n",
                x, ly(t->median_s, y0, y1), colour, sw->param, sw->pts[i].value, t->median_s);
    }
}

static int write_svg(const char *path, const kernel_file *k, const sweep *sw)
{
    FILE *f = fopen(path, "w");
    if (!f) { cli_error("jit sweep", "cannot write %s", path); return EXIT_USAGE; }
    double tmin = INFINITY, tmax = 0, vmin = INFINITY, vmax = 0;
    for (int i = 0; i < sw->n; i++) {
        const kp_outcome *o = &sw->pts[i].out;
        double lo = o->kernel.p20_s, hi = o->kernel.p80_s;
        if (o->ref.reps) { lo = fmin(lo, o->ref.p20_s); hi = fmax(hi, o->ref.p80_s); }
        tmin = fmin(tmin, fmin(lo, o->kernel.median_s));
        tmax = fmax(tmax, fmax(hi, o->kernel.median_s));
        vmin = fmin(vmin, (double)sw->pts[i].value);
        vmax = fmax(vmax, (double)sw->pts[i].value);
    }
    double y0 = floor(log10(tmin > 0 ? tmin : 1e-9)), y1 = ceil(log10(tmax > 0 ? tmax : 1e-9));
    if (y1 <= y0) y1 = y0 + 1;
    double x0 = log10(vmin) - 0.1, x1 = log10(vmax) + 0.1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">", L);
    aa_fputs_escaped(k->spec.entry, f);
    fprintf(f, ": time against %s (%s)</text>\n", sw->param, sw->n ? sw->pts[0].out.device : "");
    for (double e = y0; e <= y1; e++) {   /* decades of seconds */
        double y = ly(pow(10, e), y0, y1);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                   "text-anchor=\"end\">1e%+.0f s</text>\n", L, W - R, y, y, L - 6, y + 4, e);
    }
    for (int i = 0; i < sw->n; i++) {
        double x = lx((double)sw->pts[i].value, x0, x1);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%d\" "
                   "text-anchor=\"middle\">%lld</text>\n", x, x, T, H - B, x, H - B + 18, sw->pts[i].value);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s (log scale); bars: p20..p80</text>\n", (L + W - R) / 2,
            H - 18, sw->param);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", L, T, W - L - R,
            H - T - B);
    svg_line(f, sw, 0, x0, x1, y0, y1, "#1f77b4");
    if (sw->n && sw->pts[0].out.ref.reps) svg_line(f, sw, 1, x0, x1, y0, y1, "#d62728");
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">kernel</text>", W - R - 130, T + 18);
    if (sw->n && sw->pts[0].out.ref.reps) fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#d62728\">reference</text>", W - R - 130, T + 34);
    fprintf(f, "\n</svg>\n");
    if (fclose(f) != 0) { cli_error("jit sweep", "cannot write %s", path); return EXIT_USAGE; }
    return EXIT_OK;
}

/* ---- the command -------------------------------------------------------------------------------- */

static int do_sweep(kernel_file *k, const kernel_file *ref, const jit_run_opts *o, sweep *sw, const char *list)
{
    char *copy = strdup(list);
    if (!copy) return EXIT_FAILED;
    int rc = EXIT_OK;
    for (char *save = NULL, *v = strtok_r(copy, ",", &save); v && rc == EXIT_OK; v = strtok_r(NULL, ",", &save)) {
        if (sw->n == MAX_POINTS) { cli_error("jit sweep", "at most %d sizes", MAX_POINTS); rc = EXIT_USAGE; break; }
        rc = run_point(k, ref, o, sw, v, &sw->pts[sw->n]);
        if (rc == EXIT_OK) sw->n++;
    }
    free(copy);
    return rc;
}

int jit_sweep(int argc, char **argv)
{
    jit_run_opts o;
    jit_run_defaults(&o);
    o.run.bench = 1;
    const char *csv = NULL, *svg = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", jit_run_long_options, NULL)) != -1) {
        if (c == 'h') { cmd_jit(2, (char *[]){"jit", "--help", NULL}); return EXIT_OK; }
        if (c == 'C') { csv = optarg; continue; }
        if (c == 'G') { svg = optarg; continue; }
        int taken = jit_run_option("jit sweep", c, optarg, &o);
        if (taken < 0) return EXIT_USAGE;
        if (!taken) { cli_error("jit sweep", "unknown or incomplete option '%s' (see `asiarch jit --help`)", argv[optind - 1]); return EXIT_USAGE; }
    }
    if (optind != argc - 1) { cli_error("jit sweep", "expected one kernel FILE"); return EXIT_USAGE; }
    static sweep sw;
    memset(&sw, 0, sizeof sw);
    const char *list;
    int which;
    if (parse_sweep(&o, &sw, &list, &which) < 0) return EXIT_USAGE;
    if (cli_check_device("jit sweep", &o.so) != EXIT_OK) return EXIT_USAGE;
    kernel_file k, ref;
    const char *ref_path;
    char buf[1024], err[300];
    int rc = jit_open_pair("jit sweep", argv[optind], &o, &k, &ref, &ref_path, buf, sizeof buf);
    if (rc != EXIT_OK) return rc;
    sw.have_ref = ref_path != NULL;
    for (int i = 0; i < o.n_sets && rc == EXIT_OK; i++)
        if (i != which && kp_spec_set(&k.spec, o.sets[i], err, sizeof err) < 0) { cli_error("jit sweep", "%s", err); rc = EXIT_USAGE; }
    if (rc == EXIT_OK && kp_find_param(&k.spec, sw.param) < 0) {
        cli_error("jit sweep", "the kernel declares no @param %s", sw.param);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK) rc = do_sweep(&k, ref_path ? &ref : NULL, &o, &sw, list);
    if (rc == EXIT_OK) {
        if (o.json) cli_print_json("jit sweep", sweep_json(&k, &sw));
        else {
            cli_out("%s (%s) on %s\n", k.spec.entry, k.src.path, sw.n ? sw.pts[0].out.device : "");
            print_table(&sw, stdout, 0);
        }
        if (csv) {
            FILE *f = fopen(csv, "w");
            if (!f) { cli_error("jit sweep", "cannot write %s", csv); rc = EXIT_USAGE; }
            else { print_table(&sw, f, 1); if (fclose(f) != 0) rc = EXIT_USAGE; }
        }
        if (svg && rc == EXIT_OK) rc = write_svg(svg, &k, &sw);
        for (int i = 0; i < sw.n && rc == EXIT_OK; i++)
            if (sw.pts[i].out.mismatch) rc = EXIT_FAILED;
    }
    jit_close_kernel(&k);
    if (ref_path) jit_close_kernel(&ref);
    return rc;
}
