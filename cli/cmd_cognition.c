/*
 * cmd_cognition.c — `asiarch cognition`: browse and search the cognition
 * base (design insights from the linear-attention literature, ARCHITECTURE §6).
 *
 *   asiarch cognition list [--json] [--dir DIR] [--no-builtin]
 *   asiarch cognition show ID [--json] [--dir DIR] [--no-builtin]
 *   asiarch cognition search QUERY... [-k N] [--full] [--json] [--dir DIR] [--no-builtin]
 *
 * Parsing and printing only; loading and BM25 ranking are in cognition/.
 * Exit codes follow cli.h: 2 for a bad command line or a directory that
 * cannot be read, 1 when an entry is malformed or an id is unknown.
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cognition.h"

#define DEFAULT_HITS 5
#define MAX_HITS 1000
#define MAX_QUERY_BYTES (1 << 20)

static const char cognition_usage[] =
    "usage: asiarch cognition <command> [options]\n"
    "\n"
    "The cognition base: design insights from the linear-attention literature\n"
    "(DeltaNet, Gated DeltaNet, GLA, RetNet, Mamba, RWKV, Based, Hyena, routers,\n"
    "normalisation, initialisation, stability, ...), one JSON entry each with the\n"
    "problem, the insight and how to write it in the DSL. The analyst's text is\n"
    "the query; BM25 ranks the entries.\n"
    "\n"
    "Commands:\n"
    "  list      every entry: id and title\n"
    "  show      one entry in full, as a prompt shows it\n"
    "  search    the entries that best match a text\n"
    "\n"
    "Run 'asiarch cognition <command> --help' for the options of a command.\n";

static const char list_usage[] =
    "usage: asiarch cognition list [--json] [--dir DIR] [--no-builtin]\n"
    "\n"
    "Lists the entries of the base: the built-in ones (compiled into asiarch from\n"
    "cognition/entries) plus, with --dir, the *.json files in DIR.\n"
    "\n"
    "Options:\n"
    "  --json         print an array of entries {id, title, source, topics, problem,\n"
    "                 insight, dsl, pitfalls} on stdout\n"
    "  --dir DIR      also load every DIR/*.json (one entry per file; ids must be unique)\n"
    "  --no-builtin   leave out the built-in entries (with --dir: only DIR's)\n"
    "  -h, --help     show this help\n";

static const char show_usage[] =
    "usage: asiarch cognition show ID [--json] [--dir DIR] [--no-builtin]\n"
    "\n"
    "Prints one entry in full, in the text form a proposal prompt receives.\n"
    "\n"
    "Options:\n"
    "  --json         print the entry as one JSON object\n"
    "  --dir DIR      also load every DIR/*.json\n"
    "  --no-builtin   leave out the built-in entries\n"
    "  -h, --help     show this help\n";

static const char search_usage[] =
    "usage: asiarch cognition search QUERY... [-k N] [--full] [--json] [--dir DIR] [--no-builtin]\n"
    "\n"
    "Ranks the entries against QUERY (the words are joined; '-' reads the query from\n"
    "stdin) with BM25 over title, topics, problem, insight and dsl, and prints the\n"
    "best N: score, id and title, or whole entries with --full. Equal scores are\n"
    "ordered by id, so the answer is deterministic.\n"
    "\n"
    "Options:\n"
    "  -k N           how many entries at most, 1-1000 (default 5)\n"
    "  --full         print each entry in full, as a proposal prompt receives it\n"
    "  --json         print an array of {rank, score, id, title, source, topics,\n"
    "                 problem, insight, dsl, pitfalls} on stdout\n"
    "  --dir DIR      also load every DIR/*.json\n"
    "  --no-builtin   leave out the built-in entries\n"
    "  -h, --help     show this help\n"
    "\n"
    "Example:\n"
    "  asiarch cognition search \"recall is poor on long sequences; forgets too slowly\" -k 3\n";

/* Report a command-line mistake the same way everywhere: exit status 2. */
static int usage_error(const char *cmd, const char *what, const char *arg)
{
    if (arg)
        cli_error(cmd, "%s '%s'", what, arg);
    else
        cli_error(cmd, "%s", what);
    fprintf(stderr, "Run 'asiarch %s --help' for usage.\n", cmd);
    return EXIT_USAGE;
}

/* ---- options shared by the subcommands ----------------------------------------------- */

typedef struct cognition_args {
    const char *dir;        /* NULL: built-in entries only */
    int no_builtin;
    int json;
    int full;
    int k;
} cognition_args;

/* getopt_long returned '?' or ':': name the offending option. With opterr = 0
 * it prints nothing itself. A long option is argv[optind-1] as typed; an
 * unknown short option (perhaps inside a cluster such as -hx) is optopt. */
static int option_error(const char *cmd, int c, char **argv)
{
    const char *last = argv[optind - 1];
    char shortopt[3] = {'-', (char)optopt, '\0'};
    const char *name = strncmp(last, "--", 2) == 0 || !optopt ? last : shortopt;
    if (c == ':')
        return usage_error(cmd, "missing value for option", name);
    return usage_error(cmd, "unknown option", name);
}

static int parse_hits(const char *s, int *k)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > MAX_HITS) return -1;
    *k = (int)v;
    return 0;
}

/* Parse argv; positional arguments stay in argv[optind..argc). Returns -1
 * when parsed, or the exit status to return now (help, error). */
static int parse_args(int argc, char **argv, const char *cmd, const char *help, int allow_search_flags,
                      cognition_args *a)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"dir", required_argument, NULL, 'd'},
        {"no-builtin", no_argument, NULL, 'n'},
        {"full", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (cognition_args){.k = DEFAULT_HITS};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hk:", opts, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = 1; break;
        case 'd': a->dir = optarg; break;
        case 'n': a->no_builtin = 1; break;
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 'f':
            if (!allow_search_flags) return usage_error(cmd, "unknown option", "--full");
            a->full = 1;
            break;
        case 'k':
            if (!allow_search_flags) return usage_error(cmd, "unknown option", "-k");
            if (parse_hits(optarg, &a->k) != 0)
                return usage_error(cmd, "-k expects an integer from 1 to 1000, not", optarg);
            break;
        default: return option_error(cmd, c, argv);
        }
    }
    if (a->no_builtin && !a->dir) return usage_error(cmd, "--no-builtin needs --dir: there would be no entries", NULL);
    return -1;
}

/* The base the options ask for; an exit status, EXIT_OK when loaded. */
static int load_base(const char *cmd, const cognition_args *a, cog_base *base)
{
    char err[1024];
    *base = (cog_base){0};
    if (!a->no_builtin && cog_base_load_embedded(base, err, sizeof err) < 0) {
        cli_error(cmd, "built-in entries: %s", err);
        return EXIT_FAILED;
    }
    if (!a->dir) return EXIT_OK;
    struct stat st;
    if (stat(a->dir, &st) != 0) {
        cli_error(cmd, "%s: cannot open: %s", a->dir, strerror(errno));
        cog_base_free(base);
        return EXIT_USAGE;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_error(cmd, "%s: not a directory (--dir wants a directory of *.json entries)", a->dir);
        cog_base_free(base);
        return EXIT_USAGE;
    }
    int added = cog_base_load_dir(base, a->dir, err, sizeof err);
    if (added < 0) {
        cli_error(cmd, "%s", err);
        cog_base_free(base);
        return EXIT_FAILED;
    }
    if (added == 0) fprintf(stderr, "asiarch %s: note: no *.json entries in %s\n", cmd, a->dir);
    return EXIT_OK;
}

/* An entry as a JSON object; a search hit (rank > 0) leads with its rank
 * and score, which is what a reader of the array looks for first. */
static cJSON *entry_json(const cog_entry *e, int rank, double score)
{
    cJSON *o = cJSON_CreateObject(), *topics = cJSON_CreateArray();
    if (!o || !topics) {
        cJSON_Delete(o);
        cJSON_Delete(topics);
        return NULL;
    }
    if (rank > 0) {
        cJSON_AddNumberToObject(o, "rank", rank);
        cJSON_AddNumberToObject(o, "score", score);
    }
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "title", e->title);
    cJSON_AddStringToObject(o, "source", e->source);
    for (int i = 0; i < e->n_topics; i++) cJSON_AddItemToArray(topics, cJSON_CreateString(e->topics[i]));
    cJSON_AddItemToObject(o, "topics", topics);
    cJSON_AddStringToObject(o, "problem", e->problem);
    cJSON_AddStringToObject(o, "insight", e->insight);
    cJSON_AddStringToObject(o, "dsl", e->dsl);
    if (e->pitfalls) cJSON_AddStringToObject(o, "pitfalls", e->pitfalls);
    return o;
}

static void print_entry(const cog_entry *e)
{
    size_t need = cog_format_entry(e, NULL, 0) + 1;
    char *text = malloc(need);
    if (!text) return;
    cog_format_entry(e, text, need);
    fputs(text, stdout);
    free(text);
}

/* ---- cognition list ----------------------------------------------------------------------- */

static int cmd_list(int argc, char **argv)
{
    const char *cmd = "cognition list";
    cognition_args a;
    int rc = parse_args(argc, argv, cmd, list_usage, 0, &a);
    if (rc >= 0) return rc;
    if (optind < argc) return usage_error(cmd, "unexpected argument", argv[optind]);
    cog_base base;
    if ((rc = load_base(cmd, &a, &base)) != EXIT_OK) return rc;

    if (a.json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; arr && i < base.n; i++) cJSON_AddItemToArray(arr, entry_json(&base.entries[i], 0, 0));
        cog_base_free(&base);
        return cli_print_json(cmd, arr);
    }
    int width = 0;
    for (int i = 0; i < base.n; i++) {
        int n = (int)strlen(base.entries[i].id);
        if (n > width) width = n;
    }
    for (int i = 0; i < base.n; i++) printf("%-*s  %s\n", width, base.entries[i].id, base.entries[i].title);
    fprintf(stderr, "%d entries\n", base.n);
    cog_base_free(&base);
    return EXIT_OK;
}

/* ---- cognition show ------------------------------------------------------------------------ */

static int cmd_show(int argc, char **argv)
{
    const char *cmd = "cognition show";
    cognition_args a;
    int rc = parse_args(argc, argv, cmd, show_usage, 0, &a);
    if (rc >= 0) return rc;
    if (optind >= argc) return usage_error(cmd, "missing ID: which entry? (see `asiarch cognition list`)", NULL);
    if (optind + 1 < argc) return usage_error(cmd, "expects one ID; unexpected argument", argv[optind + 1]);
    cog_base base;
    if ((rc = load_base(cmd, &a, &base)) != EXIT_OK) return rc;

    const cog_entry *e = cog_base_find(&base, argv[optind]);
    if (!e) {
        cli_error(cmd, "no entry with id '%s' (see `asiarch cognition list`)", argv[optind]);
        rc = EXIT_FAILED;
    } else if (a.json) {
        rc = cli_print_json(cmd, entry_json(e, 0, 0));
    } else {
        print_entry(e);
        rc = EXIT_OK;
    }
    cog_base_free(&base);
    return rc;
}

/* ---- cognition search ----------------------------------------------------------------------- */

/* The query: the positional words joined by spaces, or stdin for "-". */
static char *read_query(int argc, char **argv, int first)
{
    if (first == argc - 1 && strcmp(argv[first], "-") == 0) {
        char *buf = malloc(MAX_QUERY_BYTES + 1);
        size_t n = buf ? fread(buf, 1, MAX_QUERY_BYTES, stdin) : 0;
        if (buf) buf[n] = '\0';
        return buf;
    }
    size_t len = 1;
    for (int i = first; i < argc; i++) len += strlen(argv[i]) + 1;
    char *query = malloc(len), *at = query;
    if (!query) return NULL;
    *at = '\0';
    for (int i = first; i < argc; i++) at += sprintf(at, "%s%s", i > first ? " " : "", argv[i]);
    return query;
}

static int print_hits_json(const char *cmd, const cog_hit *hits, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, entry_json(hits[i].entry, i + 1, hits[i].score));
    return cli_print_json(cmd, arr);
}

static void print_hits_text(const cog_hit *hits, int n, int full)
{
    int width = 0;
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(hits[i].entry->id);
        if (len > width) width = len;
    }
    for (int i = 0; i < n; i++) {
        const cog_entry *e = hits[i].entry;
        if (!full) {
            printf("%2d. %7.3f  %-*s  %s\n", i + 1, hits[i].score, width, e->id, e->title);
            continue;
        }
        printf("%s#%d  score %.3f\n", i ? "\n" : "", i + 1, hits[i].score);
        print_entry(e);
    }
}

static int cmd_search(int argc, char **argv)
{
    const char *cmd = "cognition search";
    cognition_args a;
    int rc = parse_args(argc, argv, cmd, search_usage, 1, &a);
    if (rc >= 0) return rc;
    if (optind >= argc) return usage_error(cmd, "missing QUERY: what should the entries be about?", NULL);
    char *query = read_query(argc, argv, optind);
    if (!query) {
        cli_error(cmd, "out of memory while reading the query");
        return EXIT_FAILED;
    }
    cog_base base;
    if ((rc = load_base(cmd, &a, &base)) != EXIT_OK) {
        free(query);
        return rc;
    }
    cog_hit *hits = malloc((size_t)a.k * sizeof *hits);
    int n = hits ? cog_search(&base, query, a.k, hits) : -1;
    free(query);
    if (n < 0) {
        cli_error(cmd, "out of memory while searching");
        rc = EXIT_FAILED;
    } else if (a.json) {
        rc = print_hits_json(cmd, hits, n);
    } else {
        if (n == 0) fprintf(stderr, "asiarch %s: no entry shares a word with the query\n", cmd);
        print_hits_text(hits, n, a.full);
        rc = EXIT_OK;
    }
    free(hits);
    cog_base_free(&base);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

int cmd_cognition(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("cognition", "missing command: list, show or search");
        fputs(cognition_usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(cognition_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(sub, "list") == 0) return cmd_list(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0) return cmd_show(argc - 1, argv + 1);
    if (strcmp(sub, "search") == 0) return cmd_search(argc - 1, argv + 1);
    return usage_error("cognition", "unknown command", sub);
}
