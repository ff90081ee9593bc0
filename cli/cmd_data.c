/*
 * cmd_data.c — `asiarch data`: build a byte-level corpus, inspect a shard.
 *
 *   asiarch data prepare [--text FILE] [--out DIR] [--val-frac F] [--json]
 *   asiarch data info FILE [--json]
 *
 * Parsing only; the work is in data/ (dt_prepare_bytes, dt_shard_read).
 * Exit codes follow cli.h: 2 for a bad command line or a file that cannot be
 * read at all, 1 when the data itself is rejected or preparing it fails.
 */
#include "cli.h"
#include "data.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_VAL_FRAC 0.05

static const char data_usage[] =
    "usage: asiarch data <command> [options]\n"
    "\n"
    "Commands:\n"
    "  prepare   build train.bin and val.bin (one token per byte) from a text\n"
    "  info      show the token count and vocabulary of a token shard\n"
    "\n"
    "Run 'asiarch data <command> --help' for the options of a command.\n";

static const char prepare_usage[] =
    "usage: asiarch data prepare [--text FILE] [--out DIR] [--val-frac F] [--json]\n"
    "\n"
    "Writes DIR/train.bin and DIR/val.bin: llm.c token shards, one token per byte.\n"
    "The text is FILE, byte for byte, or by default the King James Bible printed by\n"
    "`bible` (Debian package bible-kjv), cleaned to one verse per line with chapter\n"
    "headings kept and verse numbers and blank lines dropped. The last F of the\n"
    "text is the validation split.\n"
    "\n"
    "Options:\n"
    "  --text FILE    use this text instead of the Bible\n"
    "  --out DIR      output directory, created if needed (default: $ASIARCH_DATA,\n"
    "                 else $XDG_DATA_HOME/asiarch/kjv, else ~/.local/share/asiarch/kjv)\n"
    "  --val-frac F   fraction kept for validation, 0 < F < 1 (default 0.05)\n"
    "  --json         print {source, out_dir, train_tokens, val_tokens} on stdout\n"
    "  -h, --help     show this help\n";

static const char info_usage[] =
    "usage: asiarch data info FILE [--json]\n"
    "\n"
    "Checks an llm.c token shard (header, size) and prints its token count and\n"
    "vocabulary (largest token + 1).\n"
    "\n"
    "Options:\n"
    "  --json         print {path, tokens, vocab} on stdout\n"
    "  -h, --help     show this help\n";

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

/* ---- data prepare ------------------------------------------------------------ */

typedef struct prepare_args {
    const char *text;       /* NULL: the KJV Bible */
    const char *out;        /* NULL: dt_default_dir() */
    double val_frac;
    int json;
} prepare_args;

static int parse_val_frac(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0 && v < 1))
        return -1;
    *out = v;
    return 0;
}

/* Returns -1 when parsed, or the exit status to return now (help, error). */
static int parse_prepare(int argc, char **argv, prepare_args *a)
{
    static const struct option opts[] = {
        {"text", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"val-frac", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "data prepare";
    *a = (prepare_args){.val_frac = DEFAULT_VAL_FRAC};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 't': a->text = optarg; break;
        case 'o': a->out = optarg; break;
        case 'j': a->json = 1; break;
        case 'h': fputs(prepare_usage, stdout); return EXIT_OK;
        case 'v':
            if (parse_val_frac(optarg, &a->val_frac) != 0)
                return usage_error(cmd, "--val-frac wants a number between 0 and 1, not", optarg);
            break;
        default: return option_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return usage_error(cmd, "unexpected argument", argv[optind]);
    return -1;
}

static int cmd_prepare(int argc, char **argv)
{
    const char *cmd = "data prepare";
    prepare_args a;
    int rc = parse_prepare(argc, argv, &a);
    if (rc >= 0)
        return rc;

    /* A text we cannot even open is an I/O error (2), not rejected data (1). */
    if (a.text && access(a.text, R_OK) != 0) {
        cli_error(cmd, "%s: cannot read: %s", a.text, strerror(errno));
        return EXIT_USAGE;
    }
    char out_dir[PATH_MAX];
    if (a.out)
        snprintf(out_dir, sizeof out_dir, "%s", a.out);
    else
        dt_default_dir(out_dir, sizeof out_dir);

    dt_prepare_info info;
    char err[1024];
    if (dt_prepare_bytes(a.text, out_dir, a.val_frac, &info, err, sizeof err) != 0) {
        cli_error(cmd, "%s", err);
        return EXIT_FAILED;
    }
    fprintf(stderr, "%s: %zu train + %zu validation tokens (bytes) -> %s/train.bin, val.bin\n",
            info.source, info.train_tokens, info.val_tokens, out_dir);
    if (!a.json)
        return EXIT_OK;

    cJSON *obj = cJSON_CreateObject();
    if (obj) {
        cJSON_AddStringToObject(obj, "source", info.source);
        cJSON_AddStringToObject(obj, "out_dir", out_dir);
        cJSON_AddNumberToObject(obj, "train_tokens", (double)info.train_tokens);
        cJSON_AddNumberToObject(obj, "val_tokens", (double)info.val_tokens);
    }
    return cli_print_json(cmd, obj);
}

/* ---- data info ---------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "data info";
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': fputs(info_usage, stdout); return EXIT_OK;
        default: return option_error(cmd, c, argv);
        }
    }
    if (optind >= argc)
        return usage_error(cmd, "missing FILE: which shard?", NULL);
    if (optind + 1 < argc)
        return usage_error(cmd, "expects one FILE; unexpected argument", argv[optind + 1]);
    const char *path = argv[optind];

    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error(cmd, "%s: cannot open: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    dt_tokens t;
    char err[1024];
    if (dt_shard_read(path, &t, err, sizeof err) != 0) {
        cli_error(cmd, "%s", err);
        return EXIT_FAILED;
    }
    size_t n = t.n;
    int vocab = t.vocab;
    dt_tokens_free(&t);

    if (!json) {
        printf("%s: %zu tokens, vocab %d%s\n", path, n, vocab,
               vocab <= 256 ? " (fits bytes)" : "");
        return EXIT_OK;
    }
    cJSON *obj = cJSON_CreateObject();
    if (obj) {
        cJSON_AddStringToObject(obj, "path", path);
        cJSON_AddNumberToObject(obj, "tokens", (double)n);
        cJSON_AddNumberToObject(obj, "vocab", vocab);
    }
    return cli_print_json(cmd, obj);
}

/* ---- dispatch ------------------------------------------------------------------- */

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("data", "missing command: prepare or info");
        fputs(data_usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(data_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(sub, "prepare") == 0)
        return cmd_prepare(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    return usage_error("data", "unknown command", sub);
}
