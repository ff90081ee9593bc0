/*
 * llm.h — talking to a language model: the chat client, the prompt
 * templates and the parser of its answers (ARCHITECTURE §6, proposer "llm").
 *
 *   llm_chat            one chat completion against any OpenAI-compatible
 *                       endpoint (OpenAI, vLLM, llama.cpp's server, Ollama)
 *                       over libcurl, with timeouts, retries (exponential
 *                       backoff with full jitter; Retry-After honoured),
 *                       token and cost accounting, and one log file per call
 *   llm_prompt_render   the prompts shipped inside the binary (prompts/NAME.md)
 *                       with their {{named}} placeholders filled in
 *   llm_extract_*       the code or JSON in an answer, however it is wrapped;
 *   llm_parse_*         the analyst's, judge's and novelty judge's answers
 *
 * Every failure is an llm_error: a class the orchestrator can act on (an
 * endpoint that is dead, a request that was refused, an answer that was
 * malformed) and a message for a person and for the model that repairs.
 * Nothing here prints, exits or aborts on bad input.
 *
 * Thread safety: an llm_client may be shared by threads (each call uses its
 * own connection; counters, the log sequence and the jitter RNG are locked).
 */
#ifndef ASIARCH_LLM_H
#define ASIARCH_LLM_H

#include <stdint.h>

typedef struct cJSON cJSON;

/* ---- errors ------------------------------------------------------------------ */

typedef enum llm_error_class {
    LLM_OK = 0,
    LLM_ERR_CONFIG,     /* bad configuration or arguments (no URL/model, malformed URL) */
    LLM_ERR_CONNECT,    /* no connection: refused, DNS, reset, TLS: the endpoint is dead or unreachable */
    LLM_ERR_TIMEOUT,    /* no complete answer within timeout_s */
    LLM_ERR_RATE_LIMIT, /* HTTP 429 on every attempt */
    LLM_ERR_SERVER,     /* HTTP 5xx (or 408) on every attempt */
    LLM_ERR_HTTP,       /* any other non-2xx status (401, 404, 400...): refused, not retried */
    LLM_ERR_PROTOCOL,   /* 2xx whose body is not a chat completion (not JSON, no content) */
    LLM_ERR_ANSWER,     /* the model answered, but not in the format the prompt asked for */
    LLM_ERR_TEMPLATE,   /* unknown prompt template, missing or unused placeholder value */
    LLM_ERR_NOMEM
} llm_error_class;

typedef struct llm_error {
    llm_error_class cls;
    int http_status;        /* the last HTTP status seen, 0 when none */
    char message[1024];     /* one line; never contains the API key */
} llm_error;

/* "ok", "config", "connect", "timeout", "rate-limit", "server", "http",
 * "protocol", "answer", "template", "nomem". */
const char *llm_error_class_name(llm_error_class c);
/* 1 for the classes that say the endpoint, not the model's answer, is at
 * fault (connect, timeout, rate-limit, server, http, protocol, config): the
 * orchestrator pauses or stops instead of counting a failed candidate. */
int llm_error_is_endpoint(llm_error_class c);

/* ---- the chat client ------------------------------------------------------- */

typedef struct llm_config {
    const char *base_url;     /* "http://127.0.0.1:8080", "https://api.openai.com/v1", ...: /v1 optional */
    const char *model;
    const char *api_key;      /* NULL or "": no Authorization header (llama.cpp, Ollama) */
    double timeout_s;         /* whole request, per attempt (default 300) */
    double connect_timeout_s; /* TCP + TLS set-up, per attempt (default 10) */
    int max_retries;          /* attempts after the first (default 4) */
    int backoff_base_ms;      /* first backoff ceiling; doubles per retry (default 1000) */
    int backoff_max_ms;       /* ceiling of any backoff (default 30000) */
    int retry_after_max_s;    /* a longer Retry-After is cut to this (default 120) */
    double temperature;       /* < 0: not sent, the server's default (default -1) */
    int max_tokens;           /* <= 0: not sent (default 0) */
    double price_in;          /* USD per 1M prompt tokens (default 0) */
    double price_out;         /* USD per 1M completion tokens (default 0) */
    const char *log_dir;      /* NULL: no logs; else one llm-NNNNNN.json per call (created if missing) */
    uint64_t seed;            /* jitter RNG seed; 0: from the clock and pid */
} llm_config;

typedef struct llm_message {
    const char *role;         /* "system", "user", "assistant" */
    const char *content;
} llm_message;

/* One call's outcome and accounting; filled by llm_chat whether it succeeds
 * or not (a failed call still took time and attempts). */
typedef struct llm_reply {
    char *content;            /* the assistant's text (malloc'd); NULL on failure */
    char model[128];          /* the model the server says answered ("" if not said) */
    char finish_reason[32];   /* "stop", "length" (truncated by max_tokens), ... or "" */
    long prompt_tokens, completion_tokens;
    int usage_reported;       /* 0: the server sent no usage; tokens and cost are 0 */
    double cost_usd;          /* prompt_tokens * price_in + completion_tokens * price_out, per 1M */
    double latency_s;         /* wall time of the whole call, retries and waits included */
    int attempts;             /* HTTP requests made (1 + retries used) */
    int http_status;          /* of the last attempt; 0 when none got an answer */
    char log_path[1024];      /* the log written for this call, "" when none */
} llm_reply;

/* Totals over a client's life. */
typedef struct llm_totals {
    long calls, failed_calls, attempts;
    long prompt_tokens, completion_tokens;
    double cost_usd, latency_s;
    long log_failures;        /* calls whose log file could not be written */
} llm_totals;

typedef struct llm_client llm_client;

void llm_config_defaults(llm_config *c);
/* Copies the configuration (strings included). NULL with err on a missing
 * URL or model, a URL that is not http(s), or no memory. */
llm_client *llm_client_new(const llm_config *c, llm_error *err);
void llm_client_free(llm_client *client);
/* Record the calls from now on in dir (created if missing), one
 * llm-NNNNNN.json each: what `replay:DIR` serves again. 0, or -1 (no memory). */
int llm_client_set_log_dir(llm_client *client, const char *dir);
/* The chat-completions URL the client posts to. */
const char *llm_client_url(const llm_client *client);

/* Send the conversation, wait for the answer (retrying as configured).
 * Returns 0 with out->content set, or -1 with err filled. *out is always
 * filled (free it with llm_reply_free).
 *
 * Retry policy: a connection error or timeout, HTTP 429, 408 or 5xx is
 * retried up to max_retries times, waiting a random time in
 * [0, min(backoff_max, backoff_base * 2^retry)] ms ("full jitter"), or for
 * 429/503 with Retry-After (seconds or HTTP date; retry-after-ms too)
 * exactly that long, capped at retry_after_max_s. Any other non-2xx status
 * fails at once (LLM_ERR_HTTP) with the server's error message. A 2xx body
 * that is not a chat completion is retried once only (truncated bodies
 * from proxies and overloaded servers are transient; a server that always
 * answers in another shape is not), then LLM_ERR_PROTOCOL. */
int llm_chat(llm_client *client, const llm_message *msgs, int n, llm_reply *out, llm_error *err);
void llm_reply_free(llm_reply *r);
void llm_client_totals(llm_client *client, llm_totals *t);

/* ---- prompt templates ------------------------------------------------------ */

/* A value for a {{name}} placeholder. Values are inserted verbatim: a "{{x}}"
 * inside a value is not expanded. */
typedef struct llm_var {
    const char *name;
    const char *value;
} llm_var;

/* The templates shipped in the binary: "researcher", "repair", "analyst",
 * "judge", "novelty". */
int llm_prompt_count(void);
const char *llm_prompt_name(int i);
/* The raw template text, or NULL for an unknown name. */
const char *llm_prompt_text(const char *name);

/* Render a shipped template. Every placeholder must have a value and every
 * value must be used (a misspelt name is an error, not a silent gap).
 * Returns 0 with *out malloc'd, or -1 (LLM_ERR_TEMPLATE naming the template
 * and the placeholder). */
int llm_prompt_render(const char *template_name, const llm_var *vars, int n, char **out, llm_error *err);
/* The same for any template text; label names it in errors. */
int llm_template_render(const char *text, const char *label, const llm_var *vars, int n, char **out,
                        llm_error *err);

/* ---- answers ------------------------------------------------------------------- */

/* The candidate's C file in a researcher or repair answer: the fenced block
 * (```c, ```C, ``` or ~~~) that contains "mixer(", else the longest C or
 * unlabelled block; without one, an unfenced text that is a whole DSL file
 * (#include <asiarch.h> and mixer(). CRLF become LF. An unterminated fence
 * (a truncated answer) is an error. Returns 0 with *code malloc'd, or -1
 * (LLM_ERR_ANSWER saying what was expected and what was found). */
int llm_extract_code(const char *answer, char **code, llm_error *err);

/* The JSON object in an answer: a ```json block, else the first balanced
 * {...} that parses, prose around it ignored. Returns 0 with *obj (free with
 * cJSON_Delete), or -1. */
int llm_extract_json(const char *answer, cJSON **obj, llm_error *err);

/* Analyst: {"summary", "strengths", "weaknesses", "next_idea"}; a list of
 * strings is accepted for any field and joined with newlines. */
typedef struct llm_analysis {
    char *summary, *strengths, *weaknesses, *next_idea;
} llm_analysis;
int llm_parse_analysis(const char *answer, llm_analysis *out, llm_error *err);
void llm_analysis_free(llm_analysis *a);

/* Judge: {"performance", "innovation", "complexity": integers 1..10 (a
 * string of digits such as "7" is accepted), "rationale"}. */
typedef struct llm_judgement {
    int performance, innovation, complexity;
    char *rationale;
} llm_judgement;
int llm_parse_judgement(const char *answer, llm_judgement *out, llm_error *err);
void llm_judgement_free(llm_judgement *j);

/* Novelty judge: {"novel": true|false, "closest": "...", "reason": "..."}. */
typedef struct llm_novelty {
    int novel;
    char *closest, *reason;
} llm_novelty;
int llm_parse_novelty(const char *answer, llm_novelty *out, llm_error *err);
void llm_novelty_free(llm_novelty *v);

#endif /* ASIARCH_LLM_H */
