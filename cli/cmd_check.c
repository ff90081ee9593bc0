/*
 * cmd_check.c — `asiarch check FILE` and `asiarch verify FILE|NAME`.
 *
 *   check   the DSL rules only (libclang; nothing is compiled or run):
 *           exit 0 valid, 1 rejected, 2 usage or I/O error
 *   verify  the whole front end (check, compile, link, build) and then the
 *           deterministic checks of the built graph: causality, batch
 *           independence, sub-quadratic complexity, parameter budget
 */
#include <cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: asiarch check FILE [--json]\n\n"
                 "Check a candidate against the DSL rules (only <asiarch.h>, no pointers, no preprocessor,\n"
                 "calls only to the DSL, bounded loops, ...). Prints FILE:LINE:COL: RULE: message and the\n"
                 "offending line per violation; --json prints an array of {file, line, col, rule, message,\n"
                 "snippet, stage}. Exit code 0 valid, 1 rejected, 2 usage or I/O error.\n");
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'h') { check_usage(stdout); return EXIT_OK; }
        else { cli_error("check", "unknown option '%s' (see `asiarch check --help`)", argv[optind - 1]); return EXIT_USAGE; }
    }
    if (optind != argc - 1) {
        cli_error("check", "expected exactly one FILE");
        return EXIT_USAGE;
    }
    aa_reports reps = {0};
    jit_source src;
    int rc = jit_source_read(argv[optind], &src, &reps) < 0 ? -2 : jit_check(&src, &reps);
    if (json) {
        char *s = aa_reports_json(&reps);
        puts(s ? s : "[]");
        free(s);
    } else {
        for (int i = 0; i < reps.n; i++) aa_report_print(&reps.items[i], stderr);
        if (rc == 0) fprintf(stderr, "%s: accepted\n", argv[optind]);
        else if (rc > 0) fprintf(stderr, "%s: rejected: %d violation%s\n", argv[optind], rc, rc == 1 ? "" : "s");
    }
    if (rc != -2) jit_source_free(&src);
    aa_reports_free(&reps);
    return rc == 0 ? EXIT_OK : rc > 0 ? EXIT_FAILED : EXIT_USAGE;
}

static void verify_usage(FILE *out)
{
    fprintf(out, "usage: asiarch verify FILE|NAME [options]\n\n"
                 "Take a candidate through check, compile, link and build, then verify the built model\n"
                 "without training: causality (a later token never moves an earlier output), batch\n"
                 "independence, sub-quadratic complexity (no tensor with two time axes; FLOPs at 2T <=\n"
                 "2.1x FLOPs at T), parameter budget relative to DeltaNet, custom derivatives.\n\n"
                 "options:\n"
                 "  --scale S           tiny | small | 20m (default tiny)\n"
                 "  --param-budget R    max parameters relative to DeltaNet at the scale (default 1.5; 0: none)\n"
                 "  --no-cache          compile without the bitcode cache\n"
                 "  --json              one JSON object on stdout\n"
                 CLI_SANDBOX_OPTIONS_HELP
                 "Exit code 0 verified, 1 a stage failed, 2 usage or I/O error.\n");
}

static void print_verified(const char *file, const rt_verify_info *info, const rt_verify_opts *o, int json)
{
    if (json) {
        cJSON *j = cJSON_CreateObject();
        char hash[32];
        snprintf(hash, sizeof hash, "%016llx", (unsigned long long)info->graph_hash);
        cJSON_AddStringToObject(j, "status", "verified");
        cJSON_AddStringToObject(j, "file", file);
        cJSON_AddNumberToObject(j, "params", (double)info->params);
        cJSON_AddNumberToObject(j, "param_ratio", info->param_ratio);
        cJSON_AddNumberToObject(j, "param_budget", o->param_budget);
        cJSON_AddNumberToObject(j, "flops_ratio_2t", info->flops_ratio);
        cJSON_AddNumberToObject(j, "causality_probes", info->causality_probes);
        cJSON_AddStringToObject(j, "graph_hash", hash);
        cli_print_json("verify", j);
        return;
    }
    printf("%s: verified\n", file);
    printf("  causality: %d probes, earlier outputs unchanged; batch independence: ok\n", info->causality_probes);
    printf("  complexity: FLOPs x%.2f when T doubles (limit x%.2f); no tensor with two time axes\n",
           info->flops_ratio, o->flops_ratio_limit);
    printf("  parameters: %ld (%.2fx DeltaNet's %ld; limit %.2fx)\n", info->params, info->param_ratio,
           info->baseline_params, o->param_budget);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"scale", required_argument, 0, 's'},
                                         {"param-budget", required_argument, 0, 'b'},
                                         {"no-cache", no_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
                                         CLI_SANDBOX_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_front_opts fo = {0};
    cli_sandbox_opts so;
    cli_sandbox_defaults(&so);
    rt_verify_opts vo;
    rt_verify_defaults(&vo);
    const char *scale = "tiny";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': fo.json = 1; break;
        case 's': scale = optarg; break;
        case 'n': fo.no_cache = 1; break;
        case 'b': {
            char *end;
            vo.param_budget = strtod(optarg, &end);
            if (*end || vo.param_budget < 0) { cli_error("verify", "--param-budget expects a ratio >= 0, got '%s'", optarg); return EXIT_USAGE; }
            break;
        }
        case 'h': verify_usage(stdout); return EXIT_OK;
        case CLI_OPT_SANDBOX: case CLI_OPT_TIME_LIMIT: case CLI_OPT_MEMORY_LIMIT: case CLI_OPT_DEVICE:
        case CLI_OPT_PRECISION: case CLI_OPT_DETERMINISTIC:
            if (cli_sandbox_option("verify", c, optarg, &so) < 0) return EXIT_USAGE;
            break;
        default: cli_error("verify", "unknown or incomplete option '%s' (see `asiarch verify --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("verify", "expected exactly one FILE or NAME");
        return EXIT_USAGE;
    }
    rt_config cfg;
    char err[256];
    if (rt_config_scale(scale, &cfg, err, sizeof err) < 0) {
        cli_error("verify", "%s", err);
        return EXIT_USAGE;
    }
    if (cli_check_device("verify", &so) != EXIT_OK) return EXIT_USAGE;
    cli_candidate cand;
    int rc = cli_open_candidate("verify", argv[optind], &fo, &cand);
    if (rc != EXIT_OK) return rc;
    sb_job job;
    cli_sandbox_job(&cand, &so, SB_JOB_VERIFY, &job);
    job.cfg = cfg;
    job.verify_opts = vo;
    sb_result res;
    rc = cli_run_job("verify", &job, &cand, fo.json, &res);
    if (rc == EXIT_OK) print_verified(cand.arch.source_file, &res.verify_info, &vo, fo.json);
    sb_result_free(&res);
    cli_close_candidate(&cand);
    return rc;
}
