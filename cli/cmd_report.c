/*
 * cmd_report.c — `asiarch report --db X [-o report.html] [--run N]`: the
 * database as one self-contained HTML page (page/page.h). The lineage is
 * drawn by Graphviz (`dot`, as `db tree --format svg`); without it the page
 * says so and carries everything else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "db_tree.h"
#include "page.h"

static void report_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch report [--db FILE] [-o report.html] [--run N] [--max-sources N]\n\n"
            "Write the discovery database as one self-contained HTML page (no server, no network): a summary\n"
            "with the best designs against the baselines (and their intervals over seeds), discoveries against\n"
            "compute, the lineage tree (Graphviz), loss curves, Pareto fronts of loss against parameters and\n"
            "FLOPs per token, the DSL ops the best designs share, and every candidate with its source, diff\n"
            "against its parent, analysis and attempts, filtered by status and score.\n\n"
            "options:\n"
            "  --db FILE         the database (default asiarch.db)\n"
            "  -o, --out FILE    where to write (default report.html)\n"
            "  --run N           one run only (default: every run)\n"
            "  --max-sources N   candidates shown with their source, best first (default 300)\n");
}

/* The lineage as SVG text (malloc'd), or NULL when Graphviz is missing. */
static char *lineage_svg(aa_db *db, int64_t run_id)
{
    db_candidate_list l;
    if (db_candidate_list_all(db, run_id, -1, &l) < 0) return NULL;
    char *dot = NULL, *svg = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&dot, &len);
    db_candidate_list top = {0};
    db_top_scored(db, run_id, 1, DB_RANK_NO_BASELINES, &top);
    if (mem) {
        db_tree_write_dot_ex(&l, 0, top.n ? top.items[0].id : 0, 1, mem);
        fclose(mem);
    }
    db_candidate_list_free(&top);
    db_candidate_list_free(&l);
    char path[] = "/tmp/asiarch-lineage-XXXXXX", err[512];
    int fd = dot ? mkstemp(path) : -1;
    if (fd >= 0) {
        close(fd);
        if (db_tree_render_svg(dot, len, path, err, sizeof err) == 0) {
            FILE *f = fopen(path, "r");
            size_t cap = 1 << 16, n = 0;
            svg = f ? malloc(cap) : NULL;
            for (size_t k; svg && (k = fread(svg + n, 1, cap - n - 1, f)) > 0;) {
                n += k;
                if (cap - n < 2) {
                    char *g = realloc(svg, cap *= 2);
                    if (!g) { free(svg); svg = NULL; }
                    else svg = g;
                }
            }
            if (svg) svg[n] = 0;
            if (f) fclose(f);
        }
        unlink(path);
    }
    free(dot);
    return svg;
}

int cli_write_report(const char *cmd, const char *db_path, int64_t run, int max_sources, const char *out_path,
                     int quiet)
{
    aa_db *db = NULL;
    char err[1024];
    if (db_open_readonly(db_path, &db, err, sizeof err) < 0) {
        cli_error(cmd, "%s", err);
        return EXIT_USAGE;
    }
    char *svg = lineage_svg(db, run);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    FILE *f = fopen(tmp, "w");
    int rc = EXIT_OK;
    if (!f) {
        cli_error(cmd, "cannot write %s: %s", tmp, strerror(errno));
        rc = EXIT_USAGE;
    } else {
        pg_opts o = {.run_id = run, .max_sources = max_sources, .lineage_svg = svg, .db_label = db_path};
        int bad = pg_write_report(db, &o, f, err, sizeof err) < 0;
        if (fclose(f) != 0 && !bad) snprintf(err, sizeof err, "writing %.900s failed: %s", tmp, strerror(errno)), bad = 1;
        if (!bad && rename(tmp, out_path) != 0) snprintf(err, sizeof err, "cannot rename %.900s: %s", tmp, strerror(errno)), bad = 1;
        if (bad) {
            unlink(tmp);
            cli_error(cmd, "%s", err);
            rc = EXIT_USAGE;
        } else if (!quiet) {
            cli_out("report: %s%s\n", out_path, svg ? "" : " (no lineage tree: install graphviz for `dot`)");
        }
    }
    free(svg);
    db_close(db);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
                                         {"run", required_argument, 0, 'r'}, {"max-sources", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *db_path = DB_DEFAULT_PATH, *out_path = "report.html";
    long long run = 0, max_sources = 300;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'r': if (cli_parse_int("report", "--run", optarg, 1, INT64_MAX, &run) < 0) return EXIT_USAGE; break;
        case 'm': if (cli_parse_int("report", "--max-sources", optarg, 0, 1000000, &max_sources) < 0) return EXIT_USAGE; break;
        case 'h': report_usage(stdout); return EXIT_OK;
        default: cli_error("report", "unknown or incomplete option '%s' (see `asiarch report --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind != argc) { cli_error("report", "unexpected argument '%s'", argv[optind]); return EXIT_USAGE; }
    return cli_write_report("report", db_path, run, (int)max_sources, out_path, 0);
}
