/*
 * cmd_discover.c — `asiarch discover`: the main job. Flags, Ctrl-C, the
 * summary; the loop itself is orchestrator/.
 */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "orchestrator.h"

static volatile int cancelled;

static void on_sigint(int sig)
{
    (void)sig;
    cancelled = 1;
}

static void discover_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch discover [options]\n\n"
            "Run the ASI-Arch loop: train the baselines (DeltaNet, Gated DeltaNet), then propose, check,\n"
            "compile, verify, train (in the sandbox), score and analyse new mixers until the budget is\n"
            "spent; failures go back to the proposer's repair. Everything is kept in the database; running\n"
            "the same command again resumes (finished candidates are never run again). Ctrl-C stops cleanly.\n\n"
            "options:\n"
            "  --db PATH         lineage database (default asiarch.db)\n"
            "  --llm builtin|URL|replay:DIR  proposer: the built-in evolutionary one (default), an\n"
            "                    OpenAI-compatible endpoint (key from ASIARCH_API_KEY or OPENAI_API_KEY; every\n"
            "                    exchange is recorded in <db>.d/llm), or a recorded run's exchanges served again\n"
            "                    without the endpoint (DIR: that run's <db>.d/llm), which reproduces the run\n"
            "  --model NAME      the endpoint's model\n"
            "  --llm-timeout S   seconds per request to the endpoint (default 300; retries follow)\n"
            "  --budget N        candidates to propose (default 6)\n"
            "  --hours H         stop after H hours\n"
            "  --workers N       candidates evaluated in parallel (default 1)\n"
            "  --scale S         tiny | small | 20m (default tiny)\n"
            "  --steps N         training steps per candidate (default: the scale's)\n"
            "  --no-mqar         skip the MQAR recall probe\n"
            "  --seed S          seed of the run (default 1)\n"
            "  --max-repairs N   repairs per candidate (default 3)\n"
            "  --confirm K       wins that hold: at the end, train the K best candidates and the baselines\n"
            "                    on --seeds seeds and report mean +- 95%% interval and whether each beats the\n"
            "                    best baseline (default 1; 0: no confirmation)\n"
            "  --seeds N         seeds of the confirmation, the run's own included (default 3)\n"
            "  --report FILE     write the report page (asiarch report) there at the end\n"
            "  --config FILE     a JSON object with any of these settings (the long names)\n"
            "  --data DIR        corpus directory (default: the KJV Bible, prepared on first use)\n"
            "  --run-dir DIR     logs (LLM exchanges) and runner roots (default asiarch-run)\n"
            "  --json            print the summary as one JSON object\n"
            CLI_SANDBOX_OPTIONS_HELP);
}

enum { O_DB = 300, O_LLM, O_MODEL, O_BUDGET, O_HOURS, O_WORKERS, O_SCALE, O_STEPS, O_NO_MQAR, O_SEED, O_REPAIRS,
       O_CONFIG, O_DATA, O_RUN_DIR, O_JSON, O_LLM_TIMEOUT, O_CONFIRM, O_SEEDS, O_REPORT };

static const char *report_path;   /* --report FILE: the page, written at the end */

static int parse(int argc, char **argv, or_config *c, cli_sandbox_opts *so, int *json, void **keep)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, O_DB},         {"llm", required_argument, 0, O_LLM},
        {"model", required_argument, 0, O_MODEL},   {"budget", required_argument, 0, O_BUDGET},
        {"hours", required_argument, 0, O_HOURS},   {"workers", required_argument, 0, O_WORKERS},
        {"scale", required_argument, 0, O_SCALE},   {"steps", required_argument, 0, O_STEPS},
        {"no-mqar", no_argument, 0, O_NO_MQAR},     {"seed", required_argument, 0, O_SEED},
        {"max-repairs", required_argument, 0, O_REPAIRS}, {"config", required_argument, 0, O_CONFIG},
        {"data", required_argument, 0, O_DATA},     {"run-dir", required_argument, 0, O_RUN_DIR},
        {"json", no_argument, 0, O_JSON},           {"help", no_argument, 0, 'h'},
        {"llm-timeout", required_argument, 0, O_LLM_TIMEOUT},
        {"confirm", required_argument, 0, O_CONFIRM},   {"seeds", required_argument, 0, O_SEEDS},
        {"report", required_argument, 0, O_REPORT},
        CLI_SANDBOX_LONG_OPTIONS,                   {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int ch;
    double v;
    long long n;
    char err[512];
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_DB: c->db_path = optarg; break;
        case O_LLM: c->llm_url = optarg; break;
        case O_MODEL: c->model = optarg; break;
        case O_LLM_TIMEOUT: if (cli_parse_double("discover", "--llm-timeout", optarg, 0.1, 86400, &v)) return -1; c->llm_timeout_s = v; break;
        case O_BUDGET: if (cli_parse_int("discover", "--budget", optarg, 0, 1000000, &n)) return -1; c->budget = (int)n; break;
        case O_HOURS: if (cli_parse_double("discover", "--hours", optarg, 0, 1e4, &v)) return -1; c->hours = v; break;
        case O_WORKERS: if (cli_parse_int("discover", "--workers", optarg, 1, 16, &n)) return -1; c->workers = (int)n; break;
        case O_SCALE: snprintf(c->scale, sizeof c->scale, "%s", optarg); break;
        case O_STEPS: if (cli_parse_int("discover", "--steps", optarg, 1, 100000000, &n)) return -1; c->steps = (int)n; break;
        case O_NO_MQAR: c->mqar = 0; break;
        case O_SEED: if (cli_parse_int("discover", "--seed", optarg, 0, (1LL << 62), &n)) return -1; c->seed = (uint64_t)n; break;
        case O_REPORT: report_path = optarg; break;
        case O_CONFIRM: if (cli_parse_int("discover", "--confirm", optarg, 0, 100, &n)) return -1; c->confirm_top = (int)n; break;
        case O_SEEDS: if (cli_parse_int("discover", "--seeds", optarg, 1, 64, &n)) return -1; c->seeds = (int)n; break;
        case O_REPAIRS: if (cli_parse_int("discover", "--max-repairs", optarg, 0, 100, &n)) return -1; c->max_repairs = (int)n; break;
        case O_CONFIG:
            if (or_config_load_json(optarg, c, keep, err, sizeof err) < 0) {
                cli_error("discover", "%s", err);
                return -1;
            }
            break;
        case O_DATA: c->data_dir = optarg; break;
        case O_RUN_DIR: c->run_dir = optarg; break;
        case O_JSON: *json = 1; break;
        case 'h': return 1;
        case CLI_OPT_SANDBOX: case CLI_OPT_TIME_LIMIT: case CLI_OPT_MEMORY_LIMIT: case CLI_OPT_DEVICE:
        case CLI_OPT_PRECISION: case CLI_OPT_DETERMINISTIC:
            if (cli_sandbox_option("discover", ch, optarg, so) < 0) return -1;
            break;
        default: cli_error("discover", "unknown or incomplete option '%s' (see `asiarch discover --help`)", argv[optind - 1]); return -1;
        }
    }
    if (optind < argc) {
        cli_error("discover", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

static cJSON *confirmation_json(const or_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seeds", s->seeds);
    cJSON *list = cJSON_AddArrayToObject(o, "designs");
    for (int i = 0; i < s->n_confirmed; i++) {
        const or_confirmed *e = &s->confirmed[i];
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "id", (double)e->id);
        cJSON_AddStringToObject(d, "name", e->name);
        cJSON_AddBoolToObject(d, "baseline", e->is_baseline);
        cJSON_AddItemToObject(d, "val_loss", cli_stats_json(e->n, e->loss_mean, e->loss_ci95));
        cJSON_AddItemToObject(d, "mqar_acc", cli_stats_json(e->mqar_n, e->mqar_mean, e->mqar_ci95));
        if (e->loss_verdict[0]) {
            cJSON_AddStringToObject(d, "loss_vs_best_baseline", e->loss_verdict);
            cJSON_AddStringToObject(d, "loss_baseline", e->loss_baseline);
        }
        if (e->mqar_verdict[0]) {
            cJSON_AddStringToObject(d, "mqar_vs_best_baseline", e->mqar_verdict);
            cJSON_AddStringToObject(d, "mqar_baseline", e->mqar_baseline);
        }
        cJSON_AddItemToArray(list, d);
    }
    return o;
}

/* "better than X", "not distinguishable from X". */
static const char *verdict_preposition(const char *verdict)
{
    return !strcmp(verdict, "not distinguishable") ? "from " : !strcmp(verdict, "unknown") ? "against " : "than ";
}

static void print_confirmation(const or_summary *s)
{
    cli_out("over %d seeds (mean +- 95%% interval):\n", s->seeds);
    for (int i = 0; i < s->n_confirmed; i++) {
        const or_confirmed *e = &s->confirmed[i];
        cli_out("  #%lld %-24s val loss %.4f +- %.4f", (long long)e->id, e->name, e->loss_mean, e->loss_ci95);
        if (e->mqar_n) cli_out(", MQAR %.3f +- %.3f", e->mqar_mean, e->mqar_ci95);
        if (e->is_baseline) cli_out("  [baseline]");
        else if (e->loss_verdict[0]) {
            cli_out("  loss: %s %s", e->loss_verdict, verdict_preposition(e->loss_verdict));
            cli_out("%s", e->loss_baseline);
            if (e->mqar_verdict[0])
                cli_out("; recall: %s %s%s", e->mqar_verdict, verdict_preposition(e->mqar_verdict), e->mqar_baseline);
        }
        cli_out("\n");
    }
}

static void print_summary(const or_config *c, const or_summary *s, int json)
{
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "run", (double)s->run_id);
        cJSON_AddBoolToObject(o, "resumed", s->resumed);
        cJSON_AddBoolToObject(o, "stopped", s->stopped);
        cJSON_AddNumberToObject(o, "scored", s->scored);
        cJSON_AddNumberToObject(o, "failed", s->failed);
        cJSON_AddNumberToObject(o, "rejected", s->rejected);
        cJSON_AddNumberToObject(o, "duplicates", s->duplicates);
        cJSON_AddNumberToObject(o, "baselines", s->baselines);
        cJSON_AddNumberToObject(o, "repairs", s->repairs);
        cJSON_AddNumberToObject(o, "early_stops", s->early_stops);
        cJSON_AddNumberToObject(o, "continued_runs", s->continued_runs);
        cJSON_AddNumberToObject(o, "continued_designs", s->continued_designs);
        cJSON_AddNumberToObject(o, "reused_baselines", s->reused_baselines);
        cJSON_AddNumberToObject(o, "retried_after_interruption", s->interrupted_retried);
        cJSON_AddNumberToObject(o, "best_id", s->best_id);
        cJSON_AddStringToObject(o, "best_name", s->best_name);
        cJSON_AddNumberToObject(o, "best_score", s->best_score);
        cJSON_AddNumberToObject(o, "wall_seconds", s->wall_s);
        cJSON_AddNumberToObject(o, "training_seconds", s->training_s);
        cJSON_AddNumberToObject(o, "overhead_share", s->overhead_share);
        cJSON_AddNumberToObject(o, "prompt_tokens", (double)s->prompt_tokens);
        cJSON_AddNumberToObject(o, "completion_tokens", (double)s->completion_tokens);
        cJSON_AddNumberToObject(o, "cost_usd", s->cost_usd);
        if (s->llm_log_dir[0]) cJSON_AddStringToObject(o, "llm_exchanges", s->llm_log_dir);
        if (s->seeds) cJSON_AddItemToObject(o, "confirmation", confirmation_json(s));
        cJSON_AddStringToObject(o, "db", c->db_path);
        cli_print_json("discover", o);
        return;
    }
    cli_out("run %lld%s: %d scored (%d of them baselines, %d stopped early), %d failed, %d rejected, %d duplicates; "
            "%d repair%s; in %.0f s (%.1f%% of worker time outside training)\n",
            (long long)s->run_id, s->resumed ? " (resumed)" : "", s->scored, s->baselines, s->early_stops, s->failed,
            s->rejected, s->duplicates, s->repairs, s->repairs == 1 ? "" : "s", s->wall_s, 100 * s->overhead_share);
    if (s->continued_runs || s->reused_baselines)
        cli_out("continued the population of %d earlier run%s at the same settings (%d scored designs as parents and "
                "references); %d baseline%s reused, not retrained\n",
                s->continued_runs, s->continued_runs == 1 ? "" : "s", s->continued_designs, s->reused_baselines,
                s->reused_baselines == 1 ? "" : "s");
    if (s->stopped)
        cli_out("stopped by the user: interrupted candidates are retried when the same command runs again\n");
    if (s->best_id)
        cli_out("best: #%d %s, score %.4f   (`asiarch db --db %s show %d`)\n", s->best_id, s->best_name, s->best_score,
               c->db_path, s->best_id);
    if (s->seeds) print_confirmation(s);
    if (s->prompt_tokens || s->completion_tokens)
        cli_out("language model: %lld prompt + %lld completion tokens, $%.4f\n", (long long)s->prompt_tokens,
               (long long)s->completion_tokens, s->cost_usd);
    if (s->llm_log_dir[0])
        cli_out("exchanges recorded in %s: `--llm replay:%s` reproduces the run without the endpoint\n", s->llm_log_dir,
                s->llm_log_dir);
    cli_out("lineage: `asiarch db --db %s list`, `asiarch db --db %s tree --format svg -o lineage.svg`\n", c->db_path,
           c->db_path);
}

int cmd_discover(int argc, char **argv)
{
    or_config c;
    or_config_defaults(&c);
    cli_sandbox_opts so;
    cli_sandbox_defaults(&so);
    int json = 0;
    void *keep = NULL;
    int rc = parse(argc, argv, &c, &so, &json, &keep);
    if (rc) {
        if (rc > 0) discover_usage(stdout);
        or_config_free_json(keep);
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    c.sandbox = so.profile;
    c.time_limit_s = so.time_limit_s;
    c.cuda = so.cuda;
    c.gpu_precision = so.precision;
    c.gpu_deterministic = so.deterministic;
    if (cli_check_device("discover", &so) != EXIT_OK) {
        or_config_free_json(keep);
        return EXIT_USAGE;
    }
    c.api_key = getenv("ASIARCH_API_KEY");
    if (!c.api_key || !*c.api_key) c.api_key = getenv("OPENAI_API_KEY");
    if (c.llm_url && strcmp(c.llm_url, "builtin") && strncmp(c.llm_url, "replay:", 7) && !c.model) {
        cli_error("discover", "--llm %s needs --model NAME", c.llm_url);
        or_config_free_json(keep);
        return EXIT_USAGE;
    }
    c.status_line = cli_is_tty() && !json;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    or_summary s;
    char err[1024];
    rc = or_discover(&c, &cancelled, &s, err, sizeof err);
    if (rc < 0) cli_error("discover", "%s", err);
    else print_summary(&c, &s, json);
    if (rc == 0 && report_path) {
        if (cli_write_report("discover", c.db_path, s.run_id, 300, report_path, json) != EXIT_OK) rc = -1;
    } else if (rc == 0 && !json) {
        cli_out("report: `asiarch report --db %s -o report.html` (one HTML page)\n", c.db_path);
    }
    or_config_free_json(keep);
    return rc < 0 ? EXIT_FAILED : EXIT_OK;
}
