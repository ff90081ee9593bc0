/*
 * cmd_db.c — `asiarch db`: read the lineage database that `asiarch discover`
 * writes (default ./asiarch.db, DB_DEFAULT_PATH).
 *
 *   asiarch db [--db PATH] list [--status S] [--run ID] [--json]
 *   asiarch db [--db PATH] show ID [--json]
 *   asiarch db [--db PATH] best [-k N] [--run ID] [--no-baselines] [--json]
 *   asiarch db [--db PATH] tree [--format dot|svg] [-o FILE] [--run ID] [--refs]
 *   asiarch db [--db PATH] export [-o FILE] [--run ID]
 *
 * The database is opened read-only, so these commands are safe while
 * discover runs (WAL: they read a consistent snapshot and never block it).
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "db_tree.h"
#include "score.h"

/* ---- arguments ------------------------------------------------------------------- */

/* Which options a subcommand accepts. */
enum { A_DB = 1, A_STATUS = 2, A_RUN = 4, A_JSON = 8, A_FORMAT = 16, A_OUT = 32, A_REFS = 64, A_K = 128,
       A_NO_BASELINES = 256 };

typedef struct db_args {
    const char *db_path;
    const char *status, *format, *out;
    int64_t run_id, id;
    int json, k, refs, no_baselines;
} db_args;

typedef struct db_subcommand {
    const char *name;
    int (*run)(const char *cmd, aa_db *db, const db_args *a);
    int allowed;          /* A_* */
    int takes_id;         /* one positional candidate ID */
    const char *usage;
} db_subcommand;

enum { OPT_DB = 256, OPT_STATUS, OPT_RUN, OPT_JSON, OPT_FORMAT, OPT_REFS, OPT_NO_BASELINES };

static const struct option db_options[] = {
    {"db", required_argument, 0, OPT_DB},         {"status", required_argument, 0, OPT_STATUS},
    {"run", required_argument, 0, OPT_RUN},       {"json", no_argument, 0, OPT_JSON},
    {"format", required_argument, 0, OPT_FORMAT}, {"output", required_argument, 0, 'o'},
    {"refs", no_argument, 0, OPT_REFS},           {"no-baselines", no_argument, 0, OPT_NO_BASELINES},
    {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
};

static int option_bit(int c)
{
    switch (c) {
    case OPT_DB: return A_DB;
    case OPT_STATUS: return A_STATUS;
    case OPT_RUN: return A_RUN;
    case OPT_JSON: return A_JSON;
    case OPT_FORMAT: return A_FORMAT;
    case 'o': return A_OUT;
    case OPT_REFS: return A_REFS;
    case 'k': return A_K;
    case OPT_NO_BASELINES: return A_NO_BASELINES;
    default: return 0;
    }
}

/* A positive integer (an id, a count); -1 if s is not one. */
static int64_t parse_positive(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || end == s || *end || v <= 0 ? -1 : (int64_t)v;
}

/* Store one option's value; EXIT_OK or EXIT_USAGE. */
static int take_option(const char *cmd, int c, const char *arg, db_args *a)
{
    switch (c) {
    case OPT_DB: a->db_path = arg; break;
    case OPT_STATUS: {
        db_status s;
        if (db_status_parse(arg, &s) < 0) {
            cli_error(cmd, "unknown status '%s' (proposed, running, scored, failed, rejected, duplicate, interrupted)",
                      arg);
            return EXIT_USAGE;
        }
        a->status = arg;
        break;
    }
    case OPT_RUN:
        if ((a->run_id = parse_positive(arg)) < 0) { cli_error(cmd, "--run expects a run id, got '%s'", arg); return EXIT_USAGE; }
        break;
    case OPT_JSON: a->json = 1; break;
    case OPT_FORMAT:
        if (strcmp(arg, "dot") && strcmp(arg, "svg")) { cli_error(cmd, "--format is dot or svg, not '%s'", arg); return EXIT_USAGE; }
        a->format = arg;
        break;
    case 'o': a->out = arg; break;
    case OPT_REFS: a->refs = 1; break;
    case OPT_NO_BASELINES: a->no_baselines = 1; break;
    case 'k': {
        int64_t k = parse_positive(arg);
        if (k < 0 || k > 1000000) { cli_error(cmd, "-k expects a positive count, got '%s'", arg); return EXIT_USAGE; }
        a->k = (int)k;
        break;
    }
    }
    return EXIT_OK;
}

/* Parse a subcommand's argv (argv[0] is its name). Returns -1 when parsed,
 * else the exit code to return now (help printed, or a usage error). */
static int parse_subcommand(const char *cmd, const db_subcommand *sub, int argc, char **argv, db_args *a)
{
    int c, longindex = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:k:", db_options, &longindex)) != -1) {
        if (c == 'h') {
            fputs(sub->usage, stdout);
            return EXIT_OK;
        }
        if (c == '?' || c == ':' || !(option_bit(c) & sub->allowed)) {
            /* Name the option as typed: a long one from the table, a short one from optopt or c. */
            char name[64];
            if (longindex >= 0) snprintf(name, sizeof name, "--%s", db_options[longindex].name);
            else if (c != '?' && c != ':') snprintf(name, sizeof name, "-%c", c);
            else if (optopt > 0 && optopt < 128) snprintf(name, sizeof name, "-%c", optopt);
            else snprintf(name, sizeof name, "%s", argv[optind - 1]);   /* a long option as typed */
            const char *problem = c == ':' ? "needs a value" : c == '?' ? "is unknown" : "does not apply here";
            cli_error(cmd, "option '%s' %s (see `asiarch %s --help`)", name, problem, cmd);
            return EXIT_USAGE;
        }
        longindex = -1;
        if (take_option(cmd, c, optarg, a) != EXIT_OK) return EXIT_USAGE;
    }
    int positional = argc - optind;
    if (positional != (sub->takes_id ? 1 : 0)) {
        if (sub->takes_id) cli_error(cmd, "expected one candidate ID");
        else cli_error(cmd, "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (sub->takes_id && (a->id = parse_positive(argv[optind])) < 0) {
        cli_error(cmd, "'%s' is not a candidate id", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

/* ---- output helpers ------------------------------------------------------------------ */

/* A number from a candidate's metrics, NAN when absent. */
static double metric(const cJSON *metrics, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(metrics, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void print_num(double v, int width, int prec)
{
    if (isnan(v)) cli_out("%*s", width, "-");
    else cli_out("%*.*f", width, prec, v);
}

static void print_table_header(int ranked)
{
    if (ranked) cli_out("%5s ", "rank");
    cli_out("%6s %6s  %-11s %8s %9s %8s  %s\n", "id", "parent", "status", "score", "val_loss", "mqar", "name");
}

static void print_table_row(const db_candidate *c, int rank)
{
    cJSON *m = c->metrics_json ? cJSON_Parse(c->metrics_json) : NULL;
    if (rank) cli_out("%5d ", rank);
    cli_out("%6lld ", (long long)c->id);
    if (c->parent_id) cli_out("%6lld  ", (long long)c->parent_id);
    else cli_out("%6s  ", "-");
    cli_out("%-11s ", db_status_name(c->status));
    print_num(c->score, 8, 4);
    print_num(metric(m, "val_loss"), 10, 4);
    print_num(metric(m, "mqar_acc"), 9, 3);
    cli_out("  %s%s\n", c->name, c->is_baseline ? "  [baseline]" : "");
    cJSON_Delete(m);
}

/* The listed candidates as a JSON array on stdout. */
static int print_list_json(const char *cmd, const db_candidate_list *l)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < l->n; i++) cJSON_AddItemToArray(arr, db_candidate_json(&l->items[i], 0));
    return cli_print_json(cmd, arr);
}

static int db_failed(const char *cmd, aa_db *db)
{
    cli_error(cmd, "%s", db_error(db));
    return EXIT_USAGE;   /* the database could not be read: an I/O error */
}

/* Write text to path; EXIT_OK or EXIT_USAGE (an I/O error). */
static int write_file(const char *cmd, const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error(cmd, "cannot write %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    size_t wrote = fwrite(text, 1, len, f);
    if (fclose(f) != 0 || wrote != len) {
        cli_error(cmd, "writing %s failed: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- db list ---------------------------------------------------------------------- */

static int run_list(const char *cmd, aa_db *db, const db_args *a)
{
    db_status s = DB_PROPOSED;
    if (a->status) db_status_parse(a->status, &s);
    db_candidate_list l;
    if (db_candidate_list_all(db, a->run_id, a->status ? (int)s : -1, &l) < 0) return db_failed(cmd, db);
    int rc = EXIT_OK;
    if (a->json) {
        rc = print_list_json(cmd, &l);
    } else {
        print_table_header(0);
        for (int i = 0; i < l.n; i++) print_table_row(&l.items[i], 0);
        cli_out("%d candidate%s\n", l.n, l.n == 1 ? "" : "s");
    }
    db_candidate_list_free(&l);
    return rc;
}

/* ---- db best ----------------------------------------------------------------------- */

/* The metrics with the loss curve summarised ("N steps, first -> last"). */
static void print_metrics_line(const char *json)
{
    cJSON *m = cJSON_Parse(json);
    cJSON *curve = m ? cJSON_DetachItemFromObjectCaseSensitive(m, "loss_curve") : NULL;
    char *text = m ? cJSON_PrintUnformatted(m) : NULL;
    cli_out("  metrics     %s\n", text ? text : json);
    int n = cJSON_GetArraySize(curve);
    if (n > 0)
        cli_out("  loss curve  %d steps, %.4f -> %.4f\n", n, cJSON_GetNumberValue(cJSON_GetArrayItem(curve, 0)),
                cJSON_GetNumberValue(cJSON_GetArrayItem(curve, n - 1)));
    free(text);
    cJSON_Delete(curve);
    cJSON_Delete(m);
}

/* ---- db best: wins that hold ------------------------------------------------------------------ */

/* The scale and step count c was trained at (its run's scale, its metrics' steps). */
static int trained_at(aa_db *db, const db_candidate *c, char *scale, size_t len, int *steps)
{
    db_run run;
    if (db_run_get(db, c->run_id, &run) != 0) return -1;
    snprintf(scale, len, "%s", run.scale ? run.scale : "");
    db_run_free(&run);
    cJSON *metrics = c->metrics_json ? cJSON_Parse(c->metrics_json) : NULL;
    *steps = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(metrics, "steps"));
    cJSON_Delete(metrics);
    return 0;
}

/* A candidate's measure over its stored seeds at the scale and steps it was trained at. */
static os_seed_stats seed_measure(aa_db *db, const db_candidate *c, const char *key)
{
    double v[64];
    char scale[64];
    int steps, m = trained_at(db, c, scale, sizeof scale, &steps) == 0
                       ? db_seed_values(db, c->id, scale, steps, key, v, 64) : 0;
    return os_seed_stats_of(v, m > 0 ? m : 0);
}

/* Every stored seed's metrics at those settings. */
static void seed_results_json(aa_db *db, const db_candidate *c, cJSON *results)
{
    char scale[64];
    int steps, n = 0;
    db_seed_result *r = NULL;
    if (trained_at(db, c, scale, sizeof scale, &steps) < 0 || db_seed_results(db, c->id, scale, steps, &r, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "seed", (double)r[i].seed);
        cJSON_AddStringToObject(e, "scale", r[i].scale);
        cJSON_AddNumberToObject(e, "steps", r[i].steps);
        cJSON_AddItemToObject(e, "metrics", cJSON_Parse(r[i].metrics_json));
        cJSON_AddItemToArray(results, e);
    }
    db_seed_results_free(r, n);
}

static cJSON *stats_json(const os_seed_stats *s) { return cli_stats_json(s->n, s->mean, s->ci95); }

/* The baseline of c's run that is best on key over seeds (index into l), or -1. */
static int best_baseline(aa_db *db, const db_candidate_list *l, const char *key, int lower, os_seed_stats *out)
{
    int best = -1;
    for (int i = 0; i < l->n; i++) {
        if (!l->items[i].is_baseline || !strcmp(l->items[i].name, "conv_only")) continue;   /* the control is no bar */
        os_seed_stats s = seed_measure(db, &l->items[i], key);
        if (s.n && (best < 0 || (lower ? s.mean < out->mean : s.mean > out->mean))) {
            best = i;
            *out = s;
        }
    }
    return best;
}

static void add_verdict(cJSON *o, const char *key, aa_db *db, const db_candidate_list *base, const os_seed_stats *mine,
                        int lower)
{
    os_seed_stats b = {0};
    int i = best_baseline(db, base, lower ? "val_loss" : "mqar_acc", lower, &b);
    if (i < 0 || mine->n == 0) return;
    cJSON *v = cJSON_AddObjectToObject(o, key);
    cJSON_AddStringToObject(v, "baseline", base->items[i].name);
    cJSON_AddItemToObject(v, "baseline_stats", stats_json(&b));
    cJSON_AddStringToObject(v, "verdict", os_seed_verdict_name(os_seed_compare(mine, &b, lower)));
}

/* "seeds": every stored seed's metrics, mean +- 95% interval of loss and
 * recall, and the verdict against the run's best baseline on each. */
static void add_seeds(aa_db *db, const db_candidate *c, cJSON *item)
{
    cJSON *seeds = cJSON_AddObjectToObject(item, "seeds");
    seed_results_json(db, c, cJSON_AddArrayToObject(seeds, "results"));
    os_seed_stats loss = seed_measure(db, c, "val_loss"), mqar = seed_measure(db, c, "mqar_acc");
    cJSON_AddItemToObject(seeds, "val_loss", stats_json(&loss));
    cJSON_AddItemToObject(seeds, "mqar_acc", stats_json(&mqar));
    if (c->is_baseline) return;
    db_candidate_list base = {0};
    if (db_candidate_list_all(db, c->run_id, DB_SCORED, &base) == 0) {
        add_verdict(seeds, "loss_vs_best_baseline", db, &base, &loss, 1);
        add_verdict(seeds, "mqar_vs_best_baseline", db, &base, &mqar, 0);
    }
    db_candidate_list_free(&base);
}

static int run_best(const char *cmd, aa_db *db, const db_args *a)
{
    db_candidate_list l;
    if (db_top_scored(db, a->run_id, a->k ? a->k : 10, a->no_baselines ? DB_RANK_NO_BASELINES : 0, &l) < 0)
        return db_failed(cmd, db);
    int rc = EXIT_OK;
    if (a->json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; arr && i < l.n; i++) {
            cJSON *item = db_candidate_json(&l.items[i], 0);
            add_seeds(db, &l.items[i], item);
            cJSON_AddItemToArray(arr, item);
        }
        rc = cli_print_json(cmd, arr);
    } else if (l.n == 0) {
        cli_out("no scored candidates yet\n");
    } else {
        print_table_header(1);
        for (int i = 0; i < l.n; i++) print_table_row(&l.items[i], i + 1);
    }
    db_candidate_list_free(&l);
    return rc;
}

/* ---- db show ----------------------------------------------------------------------- */

static void print_block(const char *title, const char *text)
{
    if (!text || !text[0]) return;
    cli_out("\n%s:\n", title);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        cli_out("  %.*s\n", n, p);
        p += n + (nl != NULL);
    }
}

static void print_source(const char *source)
{
    cli_out("\nsource:\n");
    int line = 1;
    for (const char *p = source; *p; line++) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        cli_out("%5d | %.*s\n", line, n, p);
        p += n + (nl != NULL);
    }
}

/* One stored report (an element of reports_json) printed like a compiler diagnostic. */
static void print_report(const cJSON *o)
{
    aa_report r;
    memset(&r, 0, sizeof r);
    const cJSON *v;
#define COPY_STR(field) \
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, #field))) snprintf(r.field, sizeof r.field, "%s", v->valuestring)
    COPY_STR(stage);
    COPY_STR(file);
    COPY_STR(rule);
    COPY_STR(message);
    COPY_STR(snippet);
#undef COPY_STR
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "line"))) r.line = v->valueint;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "col"))) r.col = v->valueint;
    fputs("      ", stdout);
    aa_report_print(&r, stdout);
}

static void print_attempts(const db_attempt *att, int n)
{
    if (n == 0) return;
    cli_out("\nattempts:\n");
    for (int i = 0; i < n; i++) {
        const db_attempt *a = &att[i];
        cli_out("  #%d  %-9s %-6s %s", a->n, a->stage, a->ok ? "ok" : "failed", a->created_at);
        if (a->prompt_tokens || a->completion_tokens)
            cli_out("  (%lld+%lld tokens)", (long long)a->prompt_tokens, (long long)a->completion_tokens);
        cli_out("%s\n", a->source ? "  [own source]" : "");
        cJSON *reports = a->reports_json ? cJSON_Parse(a->reports_json) : NULL;
        const cJSON *r;
        cJSON_ArrayForEach(r, reports) print_report(r);
        cJSON_Delete(reports);
    }
}

static void print_events(const db_event *e, int n)
{
    if (n == 0) return;
    cli_out("\nevents:\n");
    for (int i = 0; i < n; i++) cli_out("  %s  %-8s %s\n", e[i].ts, e[i].kind, e[i].message);
}

static void print_candidate_text(const db_candidate *c, const db_candidate_list *children)
{
    cli_out("candidate %lld: %s%s  (run %lld)\n", (long long)c->id, c->name, c->is_baseline ? "  [baseline]" : "",
           (long long)c->run_id);
    cli_out("  status      %s%s%s", db_status_name(c->status), c->status_reason ? ": " : "",
           c->status_reason ? c->status_reason : "");
    if (c->retries) cli_out("  (retried %d time%s after an interruption)", c->retries, c->retries == 1 ? "" : "s");
    cli_out("\n");
    if (!isnan(c->score)) cli_out("  score       %.6f\n", c->score);
    if (c->parent_id) cli_out("  parent      %lld\n", (long long)c->parent_id);
    if (c->n_refs) {
        cli_out("  references ");
        for (int i = 0; i < c->n_refs; i++) cli_out(" %lld", (long long)c->refs[i]);
        cli_out("\n");
    }
    if (children->n) {
        cli_out("  children   ");
        for (int i = 0; i < children->n; i++) cli_out(" %lld", (long long)children->items[i].id);
        cli_out("\n");
    }
    if (c->metrics_json) print_metrics_line(c->metrics_json);
    if (c->scores_json) cli_out("  scores      %s\n", c->scores_json);
    cli_out("  graph hash  %s\n", c->graph_hash ? c->graph_hash : "(not built)");
    if (c->source_sha256) cli_out("  source      sha256 %s\n", c->source_sha256);
    cli_out("  cost        %lld prompt + %lld completion tokens, $%.4f, %.1f CPU s, %.1f GPU s\n",
           (long long)c->costs.prompt_tokens, (long long)c->costs.completion_tokens, c->costs.cost_usd,
           c->costs.cpu_seconds, c->costs.gpu_seconds);
    cli_out("  created     %s\n", c->created_at);
    if (c->started_at[0]) cli_out("  started     %s\n", c->started_at);
    if (c->finished_at[0]) cli_out("  finished    %s\n", c->finished_at);
    print_block("motivation", c->motivation);
    print_block("analysis", c->analysis);
}

static int print_candidate_json(const char *cmd, const db_candidate *c, const db_candidate_list *children,
                                const db_attempt *att, int n_att, const db_event *ev, int n_ev)
{
    cJSON *o = db_candidate_json(c, DB_JSON_FULL);
    cJSON *kids = o ? cJSON_AddArrayToObject(o, "children") : NULL;
    for (int i = 0; kids && i < children->n; i++)
        cJSON_AddItemToArray(kids, cJSON_CreateNumber((double)children->items[i].id));
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "attempts") : NULL;
    for (int i = 0; arr && i < n_att; i++) cJSON_AddItemToArray(arr, db_attempt_json(&att[i]));
    arr = o ? cJSON_AddArrayToObject(o, "events") : NULL;
    for (int i = 0; arr && i < n_ev; i++) cJSON_AddItemToArray(arr, db_event_json(&ev[i]));
    return cli_print_json(cmd, o);
}

static int run_show(const char *cmd, aa_db *db, const db_args *a)
{
    db_candidate c;
    int found = db_candidate_get(db, a->id, &c);
    if (found == 1) {
        cli_error(cmd, "there is no candidate %lld in %s", (long long)a->id, db_path(db));
        return EXIT_FAILED;
    }
    if (found < 0) return db_failed(cmd, db);
    db_candidate_list children = {0};
    db_attempt *att = NULL;
    db_event *ev = NULL;
    int n_att = 0, n_ev = 0, rc = EXIT_OK;
    if (db_candidate_children(db, c.id, &children) < 0 || db_attempt_list(db, c.id, &att, &n_att) < 0 ||
        db_event_list(db, c.run_id, c.id, &ev, &n_ev) < 0) {
        rc = db_failed(cmd, db);
    } else if (a->json) {
        rc = print_candidate_json(cmd, &c, &children, att, n_att, ev, n_ev);
    } else {
        print_candidate_text(&c, &children);
        print_attempts(att, n_att);
        print_events(ev, n_ev);
        if (c.source) print_source(c.source);
    }
    db_event_list_free(ev, n_ev);
    db_attempt_list_free(att, n_att);
    db_candidate_list_free(&children);
    db_candidate_free(&c);
    return rc;
}

/* ---- db tree ------------------------------------------------------------------------ */

static int run_tree(const char *cmd, aa_db *db, const db_args *a)
{
    db_candidate_list l;
    if (db_candidate_list_all(db, a->run_id, -1, &l) < 0) return db_failed(cmd, db);
    char *dot = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&dot, &len);
    if (!mem) {
        db_candidate_list_free(&l);
        cli_error(cmd, "out of memory");
        return EXIT_FAILED;
    }
    db_tree_write_dot(&l, a->refs, mem);
    fclose(mem);
    db_candidate_list_free(&l);
    int rc = EXIT_OK;
    if (a->format && !strcmp(a->format, "svg")) {
        char err[512];
        if (db_tree_render_svg(dot, len, a->out, err, sizeof err) < 0) {
            cli_error(cmd, "%s", err);
            rc = EXIT_FAILED;
        }
    } else if (a->out) {
        rc = write_file(cmd, a->out, dot, len);
    } else {
        fwrite(dot, 1, len, stdout);
    }
    free(dot);
    return rc;
}

/* ---- db export ----------------------------------------------------------------------- */

static int run_export(const char *cmd, aa_db *db, const db_args *a)
{
    char *json;
    if (db_export(db, a->run_id, &json) < 0) return db_failed(cmd, db);
    int rc = EXIT_OK;
    if (a->out) rc = write_file(cmd, a->out, json, strlen(json));
    else puts(json);
    free(json);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------- */

#define DB_OPTION_HELP "  --db PATH        the database (default ./" DB_DEFAULT_PATH ")\n"

static const db_subcommand subcommands[] = {
    {"list", run_list, A_DB | A_STATUS | A_RUN | A_JSON, 0,
     "usage: asiarch db [--db PATH] list [--status S] [--run ID] [--json]\n\n"
     "List candidates in id order: id, parent, status, score, validation loss, MQAR accuracy, name.\n"
     "--json prints an array of objects {id, run_id, parent, refs, name, motivation, status,\n"
     "status_reason, retries, is_baseline, score, metrics, scores, graph_hash, source_sha256, costs,\n"
     "timestamps}.\n\noptions:\n" DB_OPTION_HELP
     "  --status S       only candidates with this status (proposed, running, scored, failed,\n"
     "                   rejected, duplicate, interrupted)\n"
     "  --run ID         only this run's candidates\n"
     "  --json           one JSON array on stdout\n"},
    {"show", run_show, A_DB | A_JSON, 1,
     "usage: asiarch db [--db PATH] show ID [--json]\n\n"
     "Everything about one candidate: status, score, metrics, lineage, costs, motivation, the\n"
     "analyst's text, every attempt with its failure reports (file:line:col: rule: message, as a\n"
     "compiler prints them), its events, and the source with line numbers.\n\noptions:\n" DB_OPTION_HELP
     "  --json           one JSON object (with source, analysis, children, attempts, events)\n"
     "Exit code 1 when there is no candidate ID.\n"},
    {"best", run_best, A_DB | A_K | A_RUN | A_NO_BASELINES | A_JSON, 0,
     "usage: asiarch db [--db PATH] best [-k N] [--run ID] [--no-baselines] [--json]\n\n"
     "The top N scored candidates, best first (ties: the older first).\n\noptions:\n" DB_OPTION_HELP
     "  -k N             how many (default 10)\n"
     "  --run ID         only this run's candidates\n"
     "  --no-baselines   leave the baselines out\n"
     "  --json           one JSON array on stdout\n"},
    {"tree", run_tree, A_DB | A_FORMAT | A_OUT | A_RUN | A_REFS, 0,
     "usage: asiarch db [--db PATH] tree [--format dot|svg] [-o FILE] [--run ID] [--refs]\n\n"
     "The lineage as a graph: one node per candidate (name, id, score), an edge from each parent\n"
     "to its children; scored candidates filled by score (viridis: purple lowest, yellow highest),\n"
     "baselines with a double border, failed/rejected/duplicate/interrupted ones grey and dashed.\n"
     "svg runs Graphviz's `dot -Tsvg` (Debian package graphviz).\n\noptions:\n" DB_OPTION_HELP
     "  --format F       dot (default) or svg\n"
     "  -o, --output F   write to FILE instead of stdout\n"
     "  --run ID         only this run's candidates\n"
     "  --refs           also draw references (designs shown to the proposer) as dotted edges\n"},
    {"export", run_export, A_DB | A_OUT | A_RUN, 0,
     "usage: asiarch db [--db PATH] export [-o FILE] [--run ID]\n\n"
     "The whole database (or one run) as one JSON document: {\"format\": \"asiarch-lineage\",\n"
     "\"schema_version\", \"runs\": [{run, \"candidates\": [{... with source, analysis and\n"
     "\"attempts\"}], \"events\"}]}.\n\noptions:\n" DB_OPTION_HELP
     "  -o, --output F   write to FILE instead of stdout\n"
     "  --run ID         only this run\n"},
};
#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void db_usage(FILE *out)
{
    fprintf(out, "usage: asiarch db [--db PATH] <command> [options]\n\n"
                 "Read the lineage database written by `asiarch discover` (read-only; safe while it runs).\n"
                 "The database is ./" DB_DEFAULT_PATH " unless --db names another.\n\ncommands:\n"
                 "  list     candidates with status, score and key metrics\n"
                 "  show ID  one candidate: metrics, lineage, attempts with their reports, source\n"
                 "  best     the top-scored candidates\n"
                 "  tree     the lineage as a Graphviz graph (dot or svg), coloured by score\n"
                 "  export   everything as one JSON document\n\n"
                 "`asiarch db <command> --help` describes each. Exit codes: 0 ok, 1 not found or\n"
                 "rendering failed, 2 usage error or unreadable database.\n");
}

static int open_db(const char *cmd, const char *path, aa_db **db)
{
    char err[1024];
    if (db_open_readonly(path, db, err, sizeof err) == 0) return EXIT_OK;
    cli_error(cmd, "%s", err);
    if (!strcmp(path, DB_DEFAULT_PATH))
        fprintf(stderr, "(%s in the current directory is the default; --db PATH names another, and `asiarch "
                        "discover` creates it)\n", DB_DEFAULT_PATH);
    return EXIT_USAGE;
}

/* Options before the subcommand: --db PATH (or --db=PATH) and --help. */
static int parse_global(int argc, char **argv, int *i, db_args *a)
{
    for (*i = 1; *i < argc && argv[*i][0] == '-'; (*i)++) {
        const char *arg = argv[*i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            db_usage(stdout);
            return EXIT_OK;
        }
        if (!strncmp(arg, "--db=", 5)) a->db_path = arg + 5;
        else if (!strcmp(arg, "--db") && *i + 1 < argc) a->db_path = argv[++*i];
        else {
            cli_error("db", "option '%s' %s (see `asiarch db --help`)", arg,
                      !strcmp(arg, "--db") ? "needs a value" : "is unknown");
            return EXIT_USAGE;
        }
    }
    return -1;
}

int cmd_db(int argc, char **argv)
{
    db_args a = {.db_path = DB_DEFAULT_PATH};
    int i, rc = parse_global(argc, argv, &i, &a);
    if (rc >= 0) return rc;
    if (i >= argc) {
        db_usage(stderr);
        return EXIT_USAGE;
    }
    const db_subcommand *sub = NULL;
    for (size_t k = 0; k < N_SUBCOMMANDS; k++)
        if (!strcmp(argv[i], subcommands[k].name)) sub = &subcommands[k];
    if (!sub) {
        cli_error("db", "unknown command '%s' (list, show, best, tree, export)", argv[i]);
        return EXIT_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "db %s", sub->name);
    if ((rc = parse_subcommand(cmd, sub, argc - i, argv + i, &a)) >= 0) return rc;
    aa_db *db;
    if ((rc = open_db(cmd, a.db_path, &db)) != EXIT_OK) return rc;
    rc = sub->run(cmd, db, &a);
    db_close(db);
    return rc;
}
