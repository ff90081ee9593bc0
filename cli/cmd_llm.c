/*
 * cmd_llm.c — `asiarch llm`: try a language-model endpoint by hand, and
 * read the prompts the binary ships.
 *
 *   asiarch llm chat --llm URL --model M [options] PROMPT|-
 *   asiarch llm prompt [NAME]
 *
 * `chat` is one call of the same client the discovery loop uses (llm/llm.h),
 * so what works here works there. Exit codes follow cli.h: 0 answered, 1 the
 * call failed (endpoint dead, refused, malformed answer), 2 usage.
 */
#include <cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "llm.h"

#define DEFAULT_TIMEOUT_S 120
#define DEFAULT_RETRIES 2      /* a person waiting at a terminal: fail within seconds on a dead endpoint */
#define MAX_STDIN_PROMPT ((size_t)16 << 20)

static const char llm_usage[] =
    "usage: asiarch llm <command> [options]\n"
    "\n"
    "Commands:\n"
    "  chat      send one prompt to an OpenAI-compatible endpoint and print the answer\n"
    "  prompt    list the prompt templates shipped in the binary, or print one\n"
    "\n"
    "Run 'asiarch llm <command> --help' for the options of a command.\n";

static const char chat_usage[] =
    "usage: asiarch llm chat --llm URL --model M [options] PROMPT|-\n"
    "\n"
    "Send PROMPT (or standard input, for -) as one user message to an OpenAI-compatible\n"
    "chat-completions endpoint (OpenAI, vLLM, llama.cpp's server, Ollama) and print the answer\n"
    "on stdout; model, tokens, cost, latency and attempts go to stderr. Use it to check an\n"
    "endpoint before `asiarch discover` spends hours on it.\n"
    "\n"
    "The API key is read from ASIARCH_API_KEY, else OPENAI_API_KEY; with neither set no\n"
    "Authorization header is sent (llama.cpp and Ollama need none).\n"
    "\n"
    "Options:\n"
    "  --llm URL           endpoint, with or without /v1, e.g. http://127.0.0.1:8080,\n"
    "                      http://localhost:11434 (Ollama), https://api.openai.com\n"
    "                      (default: $ASIARCH_LLM_URL)\n"
    "  --model M           model name (default: $ASIARCH_LLM_MODEL)\n"
    "  --system TEXT       a system message sent before the prompt\n"
    "  --timeout S         seconds allowed per attempt (default 120)\n"
    "  --retries N         retries after connection errors, timeouts, 429 and 5xx (default 2)\n"
    "  --temperature T     sampling temperature (default: the server's)\n"
    "  --max-tokens N      answer length limit (default: the server's)\n"
    "  --price-in USD      price per 1M prompt tokens, for the cost (default 0)\n"
    "  --price-out USD     price per 1M completion tokens (default 0)\n"
    "  --log-dir DIR       write the exchange to DIR/llm-NNNNNN.json (the key is never written)\n"
    "  --json              print one JSON object on stdout: {status, content, model, prompt_tokens,\n"
    "                      completion_tokens, usage_reported, cost_usd, latency_s, attempts, ...}\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit code 0 answered, 1 the call failed, 2 usage error.\n";

static const char prompt_usage[] =
    "usage: asiarch llm prompt [NAME]\n"
    "\n"
    "Without NAME, list the prompt templates shipped in the binary; with NAME, print that\n"
    "template as it is, {{placeholders}} included.\n";

enum { OPT_LLM = 256, OPT_MODEL, OPT_SYSTEM, OPT_TIMEOUT, OPT_RETRIES, OPT_TEMPERATURE, OPT_MAX_TOKENS,
       OPT_PRICE_IN, OPT_PRICE_OUT, OPT_LOG_DIR, OPT_JSON };

typedef struct chat_opts {
    llm_config cfg;
    const char *system, *prompt;
    int json;
} chat_opts;

static int parse_integer(const char *flag, const char *s, long lo, long hi, int *out)
{
    long long v;
    if (cli_parse_int("llm chat", flag, s, lo, hi, &v) < 0) return -1;
    *out = (int)v;
    return 0;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Returns 0, 1 (help printed) or -1 (usage error reported). */
static int parse_chat(int argc, char **argv, chat_opts *o)
{
    static const struct option opts[] = {
        {"llm", required_argument, 0, OPT_LLM},         {"model", required_argument, 0, OPT_MODEL},
        {"system", required_argument, 0, OPT_SYSTEM},   {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"retries", required_argument, 0, OPT_RETRIES}, {"temperature", required_argument, 0, OPT_TEMPERATURE},
        {"max-tokens", required_argument, 0, OPT_MAX_TOKENS}, {"price-in", required_argument, 0, OPT_PRICE_IN},
        {"price-out", required_argument, 0, OPT_PRICE_OUT}, {"log-dir", required_argument, 0, OPT_LOG_DIR},
        {"json", no_argument, 0, OPT_JSON},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    llm_config_defaults(&o->cfg);
    o->cfg.base_url = env_or_null("ASIARCH_LLM_URL");
    o->cfg.model = env_or_null("ASIARCH_LLM_MODEL");
    o->cfg.api_key = env_or_null("ASIARCH_API_KEY") ? env_or_null("ASIARCH_API_KEY") : env_or_null("OPENAI_API_KEY");
    o->cfg.timeout_s = DEFAULT_TIMEOUT_S;
    o->cfg.max_retries = DEFAULT_RETRIES;
    optind = 1;
    opterr = 0;
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_LLM: o->cfg.base_url = optarg; break;
        case OPT_MODEL: o->cfg.model = optarg; break;
        case OPT_SYSTEM: o->system = optarg; break;
        case OPT_TIMEOUT: bad = cli_parse_double("llm chat", "--timeout", optarg, 0.001, 86400, &o->cfg.timeout_s); break;
        case OPT_RETRIES: bad = parse_integer("--retries", optarg, 0, 100, &o->cfg.max_retries); break;
        case OPT_TEMPERATURE: bad = cli_parse_double("llm chat", "--temperature", optarg, 0, 10, &o->cfg.temperature); break;
        case OPT_MAX_TOKENS: bad = parse_integer("--max-tokens", optarg, 1, 100000000, &o->cfg.max_tokens); break;
        case OPT_PRICE_IN: bad = cli_parse_double("llm chat", "--price-in", optarg, 0, 1e6, &o->cfg.price_in); break;
        case OPT_PRICE_OUT: bad = cli_parse_double("llm chat", "--price-out", optarg, 0, 1e6, &o->cfg.price_out); break;
        case OPT_LOG_DIR: o->cfg.log_dir = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case 'h': fputs(chat_usage, stdout); return 1;
        default:
            cli_error("llm chat", "unknown option or missing value '%s' (see `asiarch llm chat --help`)",
                      argv[optind - 1]);
            return -1;
        }
    }
    if (bad) return -1;
    if (!o->cfg.base_url) { cli_error("llm chat", "no endpoint: give --llm URL (or set ASIARCH_LLM_URL)"); return -1; }
    if (!o->cfg.model) { cli_error("llm chat", "no model: give --model M (or set ASIARCH_LLM_MODEL)"); return -1; }
    if (optind != argc - 1) { cli_error("llm chat", "expected exactly one PROMPT (or - for standard input)"); return -1; }
    o->prompt = argv[optind];
    return 0;
}

/* All of standard input (up to 16 MiB), or NULL. */
static char *read_stdin(void)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n - 1, stdin);
        n += k;
        if (k == 0) break;
        if (n + 1 == cap) {
            char *p = cap > MAX_STDIN_PROMPT ? NULL : realloc(buf, cap * 2);
            if (!p) { free(buf); return NULL; }
            buf = p;
            cap *= 2;
        }
    }
    if (buf) buf[n] = 0;
    return buf;
}

/* One more line after the error: what a person should try next. */
static const char *hint_for(const llm_error *err)
{
    switch (err->cls) {
    case LLM_ERR_CONNECT: return "is the server running, and is --llm its address?";
    case LLM_ERR_TIMEOUT: return "the server is slow or stuck; a larger --timeout may help";
    case LLM_ERR_RATE_LIMIT: return "the endpoint is rate limiting this key; wait or use --retries";
    case LLM_ERR_PROTOCOL: return "is --llm an OpenAI-compatible endpoint (POST /v1/chat/completions)?";
    default: return NULL;
    }
}

static int print_result(const chat_opts *o, int rc, const llm_reply *r, const llm_error *err)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "status", rc == 0 ? "ok" : "failed");
        if (rc == 0) {
            cJSON_AddStringToObject(j, "content", r->content);
            cJSON_AddStringToObject(j, "model", r->model);
            cJSON_AddStringToObject(j, "finish_reason", r->finish_reason);
        } else {
            cJSON_AddStringToObject(j, "error_class", llm_error_class_name(err->cls));
            cJSON_AddStringToObject(j, "message", err->message);
        }
        cJSON_AddNumberToObject(j, "http_status", r->http_status);
        cJSON_AddNumberToObject(j, "prompt_tokens", (double)r->prompt_tokens);
        cJSON_AddNumberToObject(j, "completion_tokens", (double)r->completion_tokens);
        cJSON_AddBoolToObject(j, "usage_reported", r->usage_reported);
        cJSON_AddNumberToObject(j, "cost_usd", r->cost_usd);
        cJSON_AddNumberToObject(j, "latency_s", r->latency_s);
        cJSON_AddNumberToObject(j, "attempts", r->attempts);
        if (r->log_path[0]) cJSON_AddStringToObject(j, "log", r->log_path);
        return cli_print_json("llm chat", j) == EXIT_OK && rc == 0 ? EXIT_OK : EXIT_FAILED;
    }
    if (rc != 0) {
        cli_error("llm chat", "%s", err->message);
        const char *hint = hint_for(err);
        if (hint) fprintf(stderr, "  (%s)\n", hint);
        return EXIT_FAILED;
    }
    size_t n = strlen(r->content);
    aa_fputs_escaped(r->content, stdout);
    if (n == 0 || r->content[n - 1] != '\n') fputc('\n', stdout);
    char usage[128];
    if (r->usage_reported)
        snprintf(usage, sizeof usage, "%ld prompt + %ld completion tokens, $%.6f", r->prompt_tokens,
                 r->completion_tokens, r->cost_usd);
    else
        snprintf(usage, sizeof usage, "usage not reported by the server");
    fprintf(stderr, "[%s: %s; %.2f s, %d attempt%s%s%s]\n", r->model[0] ? r->model : o->cfg.model, usage, r->latency_s,
            r->attempts, r->attempts == 1 ? "" : "s", !strcmp(r->finish_reason, "length") ? "; cut at --max-tokens" : "",
            r->log_path[0] ? "; logged" : "");
    return EXIT_OK;
}

static int cmd_chat(int argc, char **argv)
{
    chat_opts o;
    int p = parse_chat(argc, argv, &o);
    if (p) return p > 0 ? EXIT_OK : EXIT_USAGE;
    char *from_stdin = NULL;
    if (!strcmp(o.prompt, "-")) {
        if (!(from_stdin = read_stdin())) {
            cli_error("llm chat", "cannot read the prompt from standard input (at most 16 MiB)");
            return EXIT_USAGE;
        }
        o.prompt = from_stdin;
    }
    llm_error err;
    llm_client *client = llm_client_new(&o.cfg, &err);
    if (!client) {
        cli_error("llm chat", "%s", err.message);
        free(from_stdin);
        return err.cls == LLM_ERR_CONFIG ? EXIT_USAGE : EXIT_FAILED;
    }
    llm_message msgs[2];
    int n = 0;
    if (o.system) msgs[n++] = (llm_message){"system", o.system};
    msgs[n++] = (llm_message){"user", o.prompt};
    llm_reply r;
    int rc = llm_chat(client, msgs, n, &r, &err);
    int exit_code = print_result(&o, rc, &r, &err);
    llm_reply_free(&r);
    llm_client_free(client);
    free(from_stdin);
    return exit_code;
}

static int cmd_prompt(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(prompt_usage, stdout);
        return EXIT_OK;
    }
    if (argc > 2) {
        cli_error("llm prompt", "expected at most one NAME");
        return EXIT_USAGE;
    }
    if (argc == 1) {
        for (int i = 0; i < llm_prompt_count(); i++) puts(llm_prompt_name(i));
        return EXIT_OK;
    }
    const char *text = llm_prompt_text(argv[1]);
    if (!text) {
        cli_error("llm prompt", "no template '%s' (`asiarch llm prompt` lists them)", argv[1]);
        return EXIT_USAGE;
    }
    aa_fputs_escaped(text, stdout);
    return EXIT_OK;
}

int cmd_llm(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("llm", "missing command: chat or prompt");
        fputs(llm_usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(llm_usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "chat")) return cmd_chat(argc - 1, argv + 1);
    if (!strcmp(sub, "prompt")) return cmd_prompt(argc - 1, argv + 1);
    cli_error("llm", "unknown command '%s' (try `asiarch llm --help`)", sub);
    return EXIT_USAGE;
}
