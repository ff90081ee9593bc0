/*
 * cmd_genome.c — `asiarch genome`: the built-in proposer's grammar by hand
 * (orchestrator/genome.h): draw, render and mutate genomes, and read the
 * genome back from a rendered candidate.
 *
 *   asiarch genome random [--seed S] [--json]
 *   asiarch genome render FILE [--motivation TEXT] [--json]
 *   asiarch genome mutate FILE [--seed S] [--json]
 *
 * FILE holds a genome as JSON, or is a candidate file the proposer rendered
 * (its first line carries the genome); '-' reads stdin. The candidate file
 * goes to stdout, so `asiarch genome random --seed 3 > c.c && asiarch verify
 * c.c` tries one. Exit codes follow cli.h: 2 for a bad command line or an
 * unreadable file, 1 for a genome that is not in the grammar.
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genome.h"

#define MAX_GENOME_FILE (1 << 20)

static const char genome_usage[] =
    "usage: asiarch genome <command> [options]\n"
    "\n"
    "The built-in proposer's grammar of multi-path mixers: 1-4 paths (delta rule,\n"
    "gated delta rule, GLA, causal FIR of 2-16 taps, identity) over shared q, k, v,\n"
    "mixed per head and token by a sigmoid, softmax or MLP-over-path-statistics\n"
    "router (temperature, floor, entropy bonus), then an output norm and gate.\n"
    "Genomes render to ordinary candidate files.\n"
    "\n"
    "Commands:\n"
    "  random    a random genome, rendered as a candidate file\n"
    "  render    a genome (JSON, or a rendered candidate) as a candidate file\n"
    "  mutate    a child of a genome with one to three small changes\n"
    "\n"
    "Run 'asiarch genome <command> --help' for the options of a command.\n";

static const char random_usage[] =
    "usage: asiarch genome random [--seed S] [--json]\n"
    "\n"
    "Draws a genome (the same one for the same seed) and prints it as a candidate\n"
    "file on stdout.\n"
    "\n"
    "Options:\n"
    "  --seed S     random seed, a non-negative integer (default 1)\n"
    "  --json       print {name, description, genome, source} instead\n"
    "  -h, --help   show this help\n";

static const char render_usage[] =
    "usage: asiarch genome render FILE [--motivation TEXT] [--json]\n"
    "\n"
    "Renders the genome in FILE (JSON such as\n"
    "  {\"paths\": [{\"kind\": \"delta\"}, {\"kind\": \"fir\", \"length\": 7}],\n"
    "   \"router\": {\"kind\": \"softmax\", \"temperature\": 0.7}}\n"
    "or a candidate file rendered earlier; '-' reads stdin) as a candidate file on\n"
    "stdout. Fields left out take their defaults; a mistake is reported with its\n"
    "place, e.g. \"paths[1].length: 20 is outside 2..16\".\n"
    "\n"
    "Options:\n"
    "  --motivation TEXT  the AA_MOTIVATION (default: a description of the genome)\n"
    "  --json             print {name, description, genome, source} instead\n"
    "  -h, --help         show this help\n";

static const char mutate_usage[] =
    "usage: asiarch genome mutate FILE [--seed S] [--json]\n"
    "\n"
    "Reads the genome in FILE (JSON or a rendered candidate; '-' reads stdin),\n"
    "makes one to three small changes (add, remove or replace a path, FIR length,\n"
    "router, temperature, floor, norms, gates, ...) and prints the child as a\n"
    "candidate file whose motivation says what changed.\n"
    "\n"
    "Options:\n"
    "  --seed S     random seed, a non-negative integer (default 1)\n"
    "  --json       print {name, description, what, genome, source} instead\n"
    "  -h, --help   show this help\n";

typedef struct genome_args {
    uint64_t seed;
    int json;
    const char *motivation;
} genome_args;

static int usage_error(const char *cmd, const char *what, const char *arg)
{
    if (arg)
        cli_error(cmd, "%s '%s'", what, arg);
    else
        cli_error(cmd, "%s", what);
    fprintf(stderr, "Run 'asiarch %s --help' for usage.\n", cmd);
    return EXIT_USAGE;
}

/* Parse options; positional arguments stay in argv[optind..argc). Returns -1
 * when parsed, or the exit status to return now (help, error). */
static int parse_args(int argc, char **argv, const char *cmd, const char *help, int takes_seed,
                      int takes_motivation, genome_args *a)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"motivation", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (genome_args){.seed = 1};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = 1; break;
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 's': {
            if (!takes_seed) return usage_error(cmd, "unknown option", "--seed");
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return usage_error(cmd, "--seed expects a non-negative integer, not", optarg);
            a->seed = v;
            break;
        }
        case 'm':
            if (!takes_motivation) return usage_error(cmd, "unknown option", "--motivation");
            a->motivation = optarg;
            break;
        case ':': return usage_error(cmd, "missing value for option", argv[optind - 1]);
        default: return usage_error(cmd, "unknown option", argv[optind - 1]);
        }
    }
    return -1;
}

/* The whole of FILE ('-': stdin), NUL-terminated; NULL with a message. */
static char *read_all(const char *cmd, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error(cmd, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_GENOME_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_GENOME_FILE + 1, f) : 0;
    int bad = !buf || ferror(f) || n > MAX_GENOME_FILE;
    if (f != stdin) fclose(f);
    if (bad) {
        cli_error(cmd, "%s: %s", path, !buf ? "out of memory" : n > MAX_GENOME_FILE ? "larger than 1 MiB" : "read error");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The genome in FILE: a rendered candidate (its genome line) or JSON.
 * Returns EXIT_OK or the exit status. */
static int load_genome(const char *cmd, const char *path, og_genome *g)
{
    char *text = read_all(cmd, path), err[512];
    if (!text) return EXIT_USAGE;
    int rendered = strstr(text, "/* " OG_SOURCE_MARKER) != NULL;
    int rc = rendered ? og_from_source(text, g, err, sizeof err) : og_from_json_string(text, g, err, sizeof err);
    free(text);
    if (rc < 0) {
        cli_error(cmd, "%s: %s", path, err);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* Print g as a candidate file, or as JSON with what (may be NULL). */
static int emit(const char *cmd, const og_genome *g, const char *motivation, const char *what, int json)
{
    char *source = NULL;
    if (og_render(g, motivation, &source) < 0) {
        cli_error(cmd, "out of memory rendering the genome");
        return EXIT_FAILED;
    }
    if (!json) {
        fputs(source, stdout);
        free(source);
        return EXIT_OK;
    }
    char name[OG_NAME_MAX], description[1024];
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "name", og_name(g, name, sizeof name));
        cJSON_AddStringToObject(o, "description", og_describe(g, description, sizeof description));
        if (what) cJSON_AddStringToObject(o, "what", what);
        cJSON *genome = og_to_json(g);
        if (genome) cJSON_AddItemToObject(o, "genome", genome);
        cJSON_AddStringToObject(o, "source", source);
    }
    free(source);
    return cli_print_json(cmd, o);
}

static int genome_random(int argc, char **argv)
{
    genome_args a;
    int rc = parse_args(argc, argv, "genome random", random_usage, 1, 0, &a);
    if (rc >= 0) return rc;
    if (optind < argc) return usage_error("genome random", "unexpected argument", argv[optind]);
    og_genome g;
    og_random(&g, &a.seed);
    return emit("genome random", &g, NULL, NULL, a.json);
}

static int genome_render(int argc, char **argv)
{
    genome_args a;
    int rc = parse_args(argc, argv, "genome render", render_usage, 0, 1, &a);
    if (rc >= 0) return rc;
    if (optind != argc - 1) return usage_error("genome render", "expects one FILE (a genome as JSON, or '-')", NULL);
    og_genome g;
    if ((rc = load_genome("genome render", argv[optind], &g)) != EXIT_OK) return rc;
    return emit("genome render", &g, a.motivation, NULL, a.json);
}

static int genome_mutate(int argc, char **argv)
{
    genome_args a;
    int rc = parse_args(argc, argv, "genome mutate", mutate_usage, 1, 0, &a);
    if (rc >= 0) return rc;
    if (optind != argc - 1) return usage_error("genome mutate", "expects one FILE (a genome or a rendered candidate)", NULL);
    og_genome parent, child;
    if ((rc = load_genome("genome mutate", argv[optind], &parent)) != EXIT_OK) return rc;
    char what[512], parent_name[OG_NAME_MAX], motivation[768];
    og_mutate(&parent, &child, &a.seed, what, sizeof what);
    snprintf(motivation, sizeof motivation, "A mutation of %s: %s.", og_name(&parent, parent_name, sizeof parent_name),
             what);
    return emit("genome mutate", &child, motivation, what, a.json);
}

int cmd_genome(int argc, char **argv)
{
    if (argc < 2) {
        fputs(genome_usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(genome_usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "random")) return genome_random(argc - 1, argv + 1);
    if (!strcmp(sub, "render")) return genome_render(argc - 1, argv + 1);
    if (!strcmp(sub, "mutate")) return genome_mutate(argc - 1, argv + 1);
    return usage_error("genome", "unknown command", sub);
}
