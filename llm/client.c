/*
 * client.c — one chat completion against an OpenAI-compatible endpoint.
 *
 * OpenAI, vLLM, llama.cpp's server and Ollama all serve POST
 * /v1/chat/completions with the same request and answer shapes; they differ
 * in what they put in "usage" and in their error bodies, which is why usage
 * is optional here and error bodies are read in four shapes.
 *
 * One call = up to 1 + max_retries HTTP attempts on a fresh libcurl easy
 * handle each (so calls from several threads never share a connection),
 * then one log file with the request, every attempt and the final answer.
 * The API key goes into the Authorization header and nowhere else: it is
 * blanked out of every message and log this file writes, in case a server
 * echoes it back.
 */
#include <cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_BODY ((size_t)16 << 20)     /* a chat completion is kilobytes; 16 MiB is a broken server */
#define BODY_SHOWN 200                  /* characters of a body quoted in an error */
#define LOGGED_BODY_MAX ((size_t)1 << 20)  /* a non-JSON body is logged up to 1 MiB */
#define MAX_TIMEOUT_S 86400.0           /* a day: anything longer is a typo */
#define MAX_TOKENS_COUNTED 1e15         /* usage beyond this is garbage, not a count */
#define MIN_REDACTED_KEY 6              /* shorter "keys" are placeholders; blanking them would garble text */

struct llm_client {
    llm_config cfg;          /* strings below are the client's own copies */
    char *base_url, *model, *api_key, *log_dir;
    char *url;               /* .../v1/chat/completions */
    pthread_mutex_t lock;    /* guards rng, next_log, totals */
    int lock_ready;
    uint64_t rng;
    long next_log;
    llm_totals totals;
    llm_replay *replay;      /* "replay:DIR": answers from a recording, no endpoint */
};

/* ---- small helpers ------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), from the client's seeded generator. */
static double jitter_uniform(llm_client *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t r = splitmix64(&c->rng);
    pthread_mutex_unlock(&c->lock);
    return (double)(r >> 11) * 0x1.0p-53;
}

/* Replace every occurrence of the API key in s (malloc'd) by "[redacted]". */
static char *redact(const llm_client *c, char *s)
{
    if (!s || !c->api_key || strlen(c->api_key) < MIN_REDACTED_KEY || !strstr(s, c->api_key)) return s;
    llm_buf b = {0};
    size_t klen = strlen(c->api_key);
    const char *p = s, *hit;
    while ((hit = strstr(p, c->api_key)) != NULL) {
        llm_buf_add(&b, p, (size_t)(hit - p));
        llm_buf_str(&b, "[redacted]");
        p = hit + klen;
    }
    llm_buf_str(&b, p);
    if (b.oom) {            /* cannot rebuild it: blank the whole text rather than leak */
        llm_buf_free(&b);
        s[0] = 0;
        return s;
    }
    free(s);
    return b.p;
}

static void redact_message(const llm_client *c, llm_error *err)
{
    char *m = strdup(err->message);
    if (!m) return;
    m = redact(c, m);
    snprintf(err->message, sizeof err->message, "%s", m);
    free(m);
}

/* ---- configuration -------------------------------------------------------------- */

void llm_config_defaults(llm_config *c)
{
    memset(c, 0, sizeof *c);
    c->timeout_s = 300;
    c->connect_timeout_s = 10;
    c->max_retries = 4;
    c->backoff_base_ms = 1000;
    c->backoff_max_ms = 30000;
    c->retry_after_max_s = 120;
    c->temperature = -1;
}

/* base_url with or without /v1 (or the whole endpoint) -> the endpoint. */
static char *chat_url(const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    static const char endpoint[] = "/chat/completions";
    const char *suffix = "/v1/chat/completions";
    if (n >= sizeof endpoint - 1 && !memcmp(base + n - (sizeof endpoint - 1), endpoint, sizeof endpoint - 1)) suffix = "";
    else if (n >= 3 && !memcmp(base + n - 3, "/v1", 3)) suffix = endpoint;
    char *url = malloc(n + strlen(suffix) + 1);
    if (url) sprintf(url, "%.*s%s", (int)n, base, suffix);
    return url;
}

static int check_config(const llm_config *c, llm_error *err)
{
    if (!c->base_url || !*c->base_url)
        return llm_fail(err, LLM_ERR_CONFIG, "no endpoint URL (e.g. http://127.0.0.1:8080 or https://api.openai.com/v1)");
    int replay = !strncmp(c->base_url, LLM_REPLAY_PREFIX, strlen(LLM_REPLAY_PREFIX));
    if (strncmp(c->base_url, "http://", 7) && strncmp(c->base_url, "https://", 8) && !replay)
        return llm_fail(err, LLM_ERR_CONFIG,
                        "endpoint URL '%.200s' must start with http:// or https:// (or be replay:DIR, a recorded run)",
                        c->base_url);
    if (!replay && (!c->model || !*c->model))
        return llm_fail(err, LLM_ERR_CONFIG, "no model name (e.g. gpt-4o-mini, qwen2.5-coder:7b)");
    if (!(c->timeout_s > 0 && c->timeout_s <= MAX_TIMEOUT_S) || !(c->connect_timeout_s > 0 && c->connect_timeout_s <= MAX_TIMEOUT_S))
        return llm_fail(err, LLM_ERR_CONFIG, "timeouts must be in (0, %g] s (timeout %g s, connect timeout %g s)",
                        MAX_TIMEOUT_S, c->timeout_s, c->connect_timeout_s);
    if (c->max_retries < 0 || c->backoff_base_ms < 0 || c->backoff_max_ms < 0 || c->retry_after_max_s < 0)
        return llm_fail(err, LLM_ERR_CONFIG, "retry settings must not be negative");
    return 0;
}

/* The number after "llm-" in the existing log files, so a resumed run keeps
 * counting instead of overwriting. */
static long next_log_number(const char *dir)
{
    long max = 0;
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, "llm-", 4)) continue;
        long k = strtol(e->d_name + 4, &end, 10);
        if (!strcmp(end, ".json") && k > max) max = k;
    }
    closedir(d);
    return max + 1;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static void curl_init(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

llm_client *llm_client_new(const llm_config *cfg, llm_error *err)
{
    llm_error_clear(err);
    if (check_config(cfg, err)) return NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK) {
        llm_fail(err, LLM_ERR_CONFIG, "libcurl could not start: %s", curl_easy_strerror(curl_init_result));
        return NULL;
    }
    llm_client *c = calloc(1, sizeof *c);
    if (!c) { llm_fail(err, LLM_ERR_NOMEM, "out of memory"); return NULL; }
    if (!strncmp(cfg->base_url, LLM_REPLAY_PREFIX, strlen(LLM_REPLAY_PREFIX)) &&
        !(c->replay = llm_replay_open(cfg->base_url + strlen(LLM_REPLAY_PREFIX), err))) {
        free(c);
        return NULL;
    }
    c->cfg = *cfg;
    c->base_url = strdup(cfg->base_url);
    c->model = strdup(cfg->model && *cfg->model ? cfg->model : c->replay ? llm_replay_model(c->replay) : "");
    c->api_key = cfg->api_key && *cfg->api_key ? strdup(cfg->api_key) : NULL;
    c->log_dir = cfg->log_dir ? strdup(cfg->log_dir) : NULL;
    c->url = chat_url(cfg->base_url);
    if (!c->base_url || !c->model || !c->url || (cfg->api_key && *cfg->api_key && !c->api_key) ||
        (cfg->log_dir && !c->log_dir)) {
        llm_client_free(c);
        llm_fail(err, LLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->cfg.base_url = c->base_url;
    c->cfg.model = c->model;
    c->cfg.api_key = c->api_key;
    c->cfg.log_dir = c->log_dir;
    c->rng = cfg->seed ? cfg->seed : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    pthread_mutex_init(&c->lock, NULL);
    c->lock_ready = 1;
    if (c->log_dir) {
        if (mkdir(c->log_dir, 0755) != 0 && errno != EEXIST) {
            llm_fail(err, LLM_ERR_CONFIG, "cannot create the log directory %.300s: %s", c->log_dir, strerror(errno));
            llm_client_free(c);
            return NULL;
        }
        c->next_log = next_log_number(c->log_dir);
    }
    return c;
}

void llm_client_free(llm_client *c)
{
    if (!c) return;
    if (c->lock_ready) pthread_mutex_destroy(&c->lock);
    llm_replay_free(c->replay);
    free(c->base_url);
    free(c->model);
    free(c->api_key);
    free(c->log_dir);
    free(c->url);
    free(c);
}

const char *llm_client_url(const llm_client *c) { return c->url; }

int llm_client_set_log_dir(llm_client *c, const char *dir)
{
    char *copy = dir ? strdup(dir) : NULL;
    if (dir && !copy) return -1;
    if (dir && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        free(copy);
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    free(c->log_dir);
    c->log_dir = copy;
    c->cfg.log_dir = copy;
    c->next_log = copy ? next_log_number(copy) : 1;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void llm_client_totals(llm_client *c, llm_totals *t)
{
    pthread_mutex_lock(&c->lock);
    *t = c->totals;
    pthread_mutex_unlock(&c->lock);
}

/* ---- one HTTP attempt ---------------------------------------------------------- */

typedef struct attempt {
    CURLcode curl;
    char curl_error[CURL_ERROR_SIZE];
    long status;                /* 0: no HTTP answer */
    llm_buf body;
    int body_too_big;
    double retry_after_s;       /* < 0: not given */
    char location[512];         /* of a redirect */
    double elapsed_s;
} attempt;

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    attempt *a = user;
    size_t len = size * n;
    if (a->body.n + len > MAX_BODY) { a->body_too_big = 1; return 0; }
    return llm_buf_add(&a->body, data, len) ? 0 : len;
}

/* Retry-After: delta-seconds or an HTTP date; retry-after-ms (OpenAI) wins. */
static void parse_retry_after(attempt *a, const char *name, const char *value)
{
    char *end;
    double v = strtod(value, &end);
    int number = end != value && (*end == 0 || *end == '\r' || *end == '\n' || *end == ' ');
    if (!strcasecmp(name, "retry-after-ms")) {
        if (number && v >= 0) a->retry_after_s = v / 1000.0;
    } else if (a->retry_after_s < 0) {
        if (number && v >= 0) a->retry_after_s = v;
        else {
            time_t when = curl_getdate(value, NULL);
            if (when != (time_t)-1) a->retry_after_s = fmax(0.0, difftime(when, time(NULL)));
        }
    }
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    attempt *a = user;
    size_t len = size * n;
    char line[600];
    if (len >= sizeof line) return len;
    memcpy(line, data, len);
    line[len] = 0;
    line[strcspn(line, "\r\n")] = 0;
    char *colon = strchr(line, ':');
    if (!colon) {
        /* A new status line (a redirect or 100 Continue came first): forget
         * headers of the response before. */
        if (!strncmp(line, "HTTP/", 5)) { a->retry_after_s = -1; a->location[0] = 0; }
        return len;
    }
    *colon = 0;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    if (!strcasecmp(line, "retry-after") || !strcasecmp(line, "retry-after-ms")) parse_retry_after(a, line, value);
    else if (!strcasecmp(line, "location")) snprintf(a->location, sizeof a->location, "%s", value);
    return len;
}

static struct curl_slist *request_headers(const llm_client *c)
{
    struct curl_slist *h = NULL, *t;
    const char *fixed[] = {"Content-Type: application/json", "Accept: application/json",
                           "Expect:" /* no 100-continue round trip before the body */};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!(t = curl_slist_append(h, fixed[i]))) { curl_slist_free_all(h); return NULL; }
        h = t;
    }
    if (c->api_key) {
        size_t n = strlen(c->api_key) + 32;
        char *auth = malloc(n);
        if (!auth) { curl_slist_free_all(h); return NULL; }
        snprintf(auth, n, "Authorization: Bearer %s", c->api_key);
        t = curl_slist_append(h, auth);
        memset(auth, 0, n);
        free(auth);
        if (!t) { curl_slist_free_all(h); return NULL; }
        h = t;
    }
    return h;
}

static void perform_attempt(const llm_client *c, const char *body, attempt *a)
{
    memset(a, 0, sizeof *a);
    a->retry_after_s = -1;
    double t0 = now_s();
    CURL *h = curl_easy_init();
    struct curl_slist *headers = request_headers(c);
    if (!h || !headers) {
        a->curl = CURLE_OUT_OF_MEMORY;
        snprintf(a->curl_error, sizeof a->curl_error, "out of memory");
    } else {
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->cfg.timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->curl_error);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "asiarch-llm/1");
        a->curl = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
        if (a->curl != CURLE_OK && !a->curl_error[0])
            snprintf(a->curl_error, sizeof a->curl_error, "%s", curl_easy_strerror(a->curl));
        a->curl_error[strcspn(a->curl_error, "\r\n")] = 0;
    }
    curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
    a->elapsed_s = now_s() - t0;
    /* Blank an echoed key here, before any message quotes (and cuts) the body. */
    char *clean = redact(c, a->body.p);
    if (clean) {
        if (clean != a->body.p) a->body.cap = strlen(clean) + 1;
        a->body.p = clean;
        a->body.n = strlen(clean);
    }
}

/* ---- reading answers --------------------------------------------------------- */

/* What a server said went wrong: OpenAI's {"error":{"message"}}, Ollama's
 * {"error":"..."}, vLLM's {"message"}, FastAPI's {"detail"}; else the body. */
static void server_message(const llm_buf *body, char *out, size_t cap)
{
    cJSON *j = body->p ? cJSON_ParseWithLength(body->p, body->n) : NULL;
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItem(e, "message") : e;
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItem(j, "message");
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItem(j, "detail");
    if (cJSON_IsString(m)) llm_quote(out, cap, m->valuestring, 400);
    else if (body->n) llm_quote(out, cap, body->p, BODY_SHOWN);
    else snprintf(out, cap, "(empty body)");
    cJSON_Delete(j);
}

/* message.content: a string, or (some servers) a list of {"type":"text","text"} parts. */
static char *message_text(const cJSON *content)
{
    if (cJSON_IsString(content)) return strdup(content->valuestring);
    if (!cJSON_IsArray(content)) return NULL;
    llm_buf b = {0};
    llm_buf_str(&b, "");
    for (const cJSON *part = content->child; part; part = part->next) {
        const cJSON *text = cJSON_GetObjectItem(part, "text");
        if (cJSON_IsString(text)) llm_buf_str(&b, text->valuestring);
    }
    if (b.oom) { llm_buf_free(&b); return NULL; }
    return b.p;
}

static void read_usage(const llm_client *c, const cJSON *root, llm_reply *r)
{
    const cJSON *usage = cJSON_GetObjectItem(root, "usage");
    const cJSON *in = cJSON_GetObjectItem(usage, "prompt_tokens"), *out = cJSON_GetObjectItem(usage, "completion_tokens");
    r->usage_reported = cJSON_IsNumber(in) && cJSON_IsNumber(out) && in->valuedouble >= 0 &&
                        in->valuedouble <= MAX_TOKENS_COUNTED && out->valuedouble >= 0 &&
                        out->valuedouble <= MAX_TOKENS_COUNTED;
    if (!r->usage_reported) return;
    r->prompt_tokens = (long)in->valuedouble;
    r->completion_tokens = (long)out->valuedouble;
    r->cost_usd = (r->prompt_tokens * c->cfg.price_in + r->completion_tokens * c->cfg.price_out) / 1e6;
}

/* A 2xx body -> reply. Returns 0, or -1 with a protocol error. */
static int read_completion(const llm_client *c, const attempt *a, llm_reply *r, llm_error *err)
{
    char shown[3 * BODY_SHOWN];
    llm_quote(shown, sizeof shown, a->body.p ? a->body.p : "", BODY_SHOWN);
    cJSON *root = a->body.p ? cJSON_ParseWithLength(a->body.p, a->body.n) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return llm_fail(err, LLM_ERR_PROTOCOL, "HTTP %ld from %s is not a JSON chat completion: %s", a->status, c->url,
                        shown);
    }
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItem(choice, "message");
    const cJSON *refusal = cJSON_GetObjectItem(message, "refusal");
    char *text = message_text(cJSON_GetObjectItem(message, "content"));
    if (!text) {
        char why[512];
        if (cJSON_IsString(refusal)) llm_quote(why, sizeof why, refusal->valuestring, 300);
        cJSON_Delete(root);
        if (cJSON_IsString(refusal)) return llm_fail(err, LLM_ERR_PROTOCOL, "the model refused to answer: %s", why);
        return llm_fail(err, LLM_ERR_PROTOCOL, "the answer from %s has no choices[0].message.content: %s", c->url, shown);
    }
    free(r->content);
    r->content = text;
    const cJSON *model = cJSON_GetObjectItem(root, "model"), *finish = cJSON_GetObjectItem(choice, "finish_reason");
    snprintf(r->model, sizeof r->model, "%s", cJSON_IsString(model) ? model->valuestring : "");
    snprintf(r->finish_reason, sizeof r->finish_reason, "%s", cJSON_IsString(finish) ? finish->valuestring : "");
    read_usage(c, root, r);
    cJSON_Delete(root);
    return 0;
}

/* ---- what to do after an attempt ------------------------------------------------- */

typedef enum verdict { DONE, RETRY, GIVE_UP } verdict;

static int retryable_curl_error(CURLcode e)
{
    switch (e) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:   /* a TLS certificate will not fix itself */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:                /* our body cap */
        return 0;
    default:
        return 1;
    }
}

/* Classify the attempt; on anything but success fill err (the message of
 * the last attempt is the one the caller reports). */
static verdict judge_attempt(const llm_client *c, const attempt *a, int protocol_retries_left, llm_reply *r,
                             llm_error *err)
{
    char said[600];
    err->http_status = (int)a->status;
    if (a->curl != CURLE_OK) {
        if (a->body_too_big) {
            llm_fail(err, LLM_ERR_PROTOCOL, "the answer from %s is larger than %zu MiB", c->url, MAX_BODY >> 20);
            return GIVE_UP;
        }
        if (a->curl == CURLE_OPERATION_TIMEDOUT)
            llm_fail(err, LLM_ERR_TIMEOUT, "no complete answer from %s within %g s (%s)", c->url, c->cfg.timeout_s,
                     a->curl_error);
        else if (a->curl == CURLE_UNSUPPORTED_PROTOCOL || a->curl == CURLE_URL_MALFORMAT)
            llm_fail(err, LLM_ERR_CONFIG, "bad endpoint URL %s: %s", c->url, a->curl_error);
        else if (a->curl == CURLE_COULDNT_CONNECT || a->curl == CURLE_COULDNT_RESOLVE_HOST ||
                 a->curl == CURLE_COULDNT_RESOLVE_PROXY)
            llm_fail(err, LLM_ERR_CONNECT, "cannot reach %s: %s", c->url, a->curl_error);
        else
            llm_fail(err, LLM_ERR_CONNECT, "the connection to %s failed: %s", c->url, a->curl_error);
        return retryable_curl_error(a->curl) ? RETRY : GIVE_UP;
    }
    if (a->status >= 200 && a->status < 300) {
        if (read_completion(c, a, r, err) == 0) return DONE;
        return protocol_retries_left > 0 ? RETRY : GIVE_UP;
    }
    server_message(&a->body, said, sizeof said);
    if (a->status == 429) {
        llm_fail(err, LLM_ERR_RATE_LIMIT, "rate limited by %s (HTTP 429): %s", c->url, said);
        return RETRY;
    }
    if (a->status >= 500 || a->status == 408) {
        llm_fail(err, LLM_ERR_SERVER, "server error from %s: HTTP %ld: %s", c->url, a->status, said);
        return RETRY;
    }
    const char *hint = a->status == 401 || a->status == 403 ? " (check the API key)"
                       : a->status == 404                   ? " (check the URL and the model name)"
                                                            : "";
    if (a->status >= 300 && a->status < 400 && a->location[0])
        llm_fail(err, LLM_ERR_HTTP, "HTTP %ld from %s: redirected to %s (use that URL)", a->status, c->url, a->location);
    else
        llm_fail(err, LLM_ERR_HTTP, "HTTP %ld from %s: %s%s", a->status, c->url, said, hint);
    return GIVE_UP;
}

/* Seconds to wait before retry number `retry` (0 = the first retry). */
static double wait_before_retry(llm_client *c, const attempt *a, int retry)
{
    if ((a->status == 429 || a->status == 503) && a->retry_after_s >= 0)
        return fmin(a->retry_after_s, (double)c->cfg.retry_after_max_s);
    double ceiling_ms = fmin((double)c->cfg.backoff_max_ms, c->cfg.backoff_base_ms * ldexp(1.0, retry < 60 ? retry : 60));
    return jitter_uniform(c) * ceiling_ms / 1000.0;
}

/* ---- the log ------------------------------------------------------------------ */

static cJSON *attempt_json(const attempt *a, int number, double wait_s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "attempt", number);
    cJSON_AddNumberToObject(j, "http_status", (double)a->status);
    if (a->curl != CURLE_OK) cJSON_AddStringToObject(j, "transport_error", a->curl_error);
    cJSON_AddNumberToObject(j, "elapsed_s", a->elapsed_s);
    if (a->retry_after_s >= 0) cJSON_AddNumberToObject(j, "retry_after_s", a->retry_after_s);
    if (wait_s >= 0) cJSON_AddNumberToObject(j, "wait_s", wait_s);
    return j;
}

/* The last attempt's body: as JSON when it is JSON, else as (capped) text. */
static cJSON *body_json(const attempt *a)
{
    if (!a->body.p) return cJSON_CreateNull();
    cJSON *j = cJSON_ParseWithLength(a->body.p, a->body.n);
    if (j) return j;
    size_t n = a->body.n < LOGGED_BODY_MAX ? a->body.n : LOGGED_BODY_MAX;
    char *text = strndup(a->body.p, n);
    j = cJSON_CreateString(text ? text : "");
    free(text);
    return j;
}

static int open_new_log(llm_client *c, char *path, size_t cap)
{
    for (int tries = 0; tries < 1000; tries++) {
        pthread_mutex_lock(&c->lock);
        long k = c->next_log++;
        pthread_mutex_unlock(&c->lock);
        snprintf(path, cap, "%s/llm-%06ld.json", c->log_dir, k);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

/* What one call did, for its log. */
typedef struct call_record {
    time_t started;         /* wall clock, for the log's reader */
    cJSON *request;         /* the body sent */
    cJSON *attempts;        /* one attempt_json per attempt */
    const attempt *last;
} call_record;

/* Write log_dir/llm-NNNNNN.json into r->log_path. Returns 0, or -1 (the
 * call itself stands; only its record is lost). */
static int write_log(llm_client *c, const call_record *rec, llm_reply *r, const llm_error *err, int ok)
{
    char *path = r->log_path, started[32];
    size_t cap = sizeof r->log_path;
    struct tm tm;
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&rec->started, &tm));
    path[0] = 0;
    cJSON *log = cJSON_CreateObject();
    cJSON_AddStringToObject(log, "started_at", started);
    cJSON_AddStringToObject(log, "url", c->url);
    cJSON_AddStringToObject(log, "auth", c->api_key ? "bearer (key not logged)" : "none");
    cJSON_AddItemReferenceToObject(log, "request", rec->request);
    cJSON_AddStringToObject(log, "status", ok ? "ok" : "failed");
    if (!ok) {
        cJSON_AddStringToObject(log, "error_class", llm_error_class_name(err->cls));
        cJSON_AddStringToObject(log, "error", err->message);
    }
    cJSON_AddNumberToObject(log, "attempt_count", r->attempts);
    cJSON_AddItemReferenceToObject(log, "attempts", rec->attempts);
    cJSON_AddNumberToObject(log, "http_status", r->http_status);
    cJSON_AddItemToObject(log, "response", body_json(rec->last));
    cJSON_AddNumberToObject(log, "latency_s", r->latency_s);
    cJSON *usage = cJSON_AddObjectToObject(log, "usage");
    cJSON_AddBoolToObject(usage, "reported", r->usage_reported);
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)r->prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", (double)r->completion_tokens);
    cJSON_AddNumberToObject(usage, "cost_usd", r->cost_usd);
    char *text = redact(c, cJSON_Print(log));
    cJSON_Delete(log);
    if (!text) return -1;
    int fd = open_new_log(c, path, cap);
    size_t n = strlen(text), done = 0;
    while (fd >= 0 && done < n) {
        ssize_t k = write(fd, text + done, n - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        done += (size_t)k;
    }
    free(text);
    if (fd >= 0 && close(fd) == 0 && done == n) return 0;
    path[0] = 0;
    return -1;
}

/* ---- the call ------------------------------------------------------------------- */

static cJSON *request_json(const llm_client *c, const llm_message *msgs, int n, llm_error *err)
{
    if (n <= 0 || !msgs) {
        llm_fail(err, LLM_ERR_CONFIG, "no messages to send");
        return NULL;
    }
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", c->model);
    cJSON *list = cJSON_AddArrayToObject(req, "messages");
    for (int i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            cJSON_Delete(req);
            llm_fail(err, LLM_ERR_CONFIG, "message %d has no %s", i, msgs[i].role ? "content" : "role");
            return NULL;
        }
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", msgs[i].role);
        cJSON_AddStringToObject(m, "content", msgs[i].content);
        cJSON_AddItemToArray(list, m);
    }
    if (c->cfg.temperature >= 0) cJSON_AddNumberToObject(req, "temperature", c->cfg.temperature);
    if (c->cfg.max_tokens > 0) cJSON_AddNumberToObject(req, "max_tokens", c->cfg.max_tokens);
    cJSON_AddBoolToObject(req, "stream", 0);
    return req;
}

static void add_to_totals(llm_client *c, const llm_reply *r, int ok, int logged)
{
    pthread_mutex_lock(&c->lock);
    llm_totals *t = &c->totals;
    t->calls++;
    t->failed_calls += !ok;
    t->attempts += r->attempts;
    t->prompt_tokens += r->prompt_tokens;
    t->completion_tokens += r->completion_tokens;
    t->cost_usd += r->cost_usd;
    t->latency_s += r->latency_s;
    t->log_failures += !logged;
    pthread_mutex_unlock(&c->lock);
}

/* A replay client's call: the recorded answer, logged again like a live
 * one (so a replayed run can itself be replayed). */
static int replay_chat(llm_client *c, cJSON *request, char *body, llm_reply *r, llm_error *err)
{
    double t0 = now_s();
    int ok = llm_replay_chat(c->replay, request, r, err) == 0;
    r->latency_s = now_s() - t0;
    int logged = 1;
    if (c->log_dir) {
        attempt a;
        memset(&a, 0, sizeof a);
        cJSON *attempts = cJSON_CreateArray();
        call_record rec = {time(NULL), request, attempts, &a};
        if (ok) {   /* the body a live call would have logged */
            cJSON *resp = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(resp, "choices");
            cJSON *ch = cJSON_CreateObject(), *msg = cJSON_AddObjectToObject(ch, "message");
            cJSON_AddStringToObject(msg, "role", "assistant");
            cJSON_AddStringToObject(msg, "content", r->content);
            cJSON_AddStringToObject(ch, "finish_reason", r->finish_reason);
            cJSON_AddItemToArray(choices, ch);
            cJSON_AddStringToObject(resp, "model", r->model);
            char *text = cJSON_PrintUnformatted(resp);
            cJSON_Delete(resp);
            if (text) llm_buf_str(&a.body, text);
            free(text);
        }
        logged = write_log(c, &rec, r, err, ok) == 0;
        llm_buf_free(&a.body);
        cJSON_Delete(attempts);
    }
    add_to_totals(c, r, ok, logged);
    cJSON_Delete(request);
    free(body);
    return ok ? 0 : -1;
}

int llm_chat(llm_client *c, const llm_message *msgs, int n, llm_reply *r, llm_error *err)
{
    llm_error local;
    if (!err) err = &local;
    llm_error_clear(err);
    memset(r, 0, sizeof *r);
    cJSON *request = request_json(c, msgs, n, err);
    char *body = request ? cJSON_PrintUnformatted(request) : NULL;
    if (!body) {
        cJSON_Delete(request);
        return request ? llm_fail(err, LLM_ERR_NOMEM, "out of memory building the request") : -1;
    }
    double t0 = now_s();
    if (c->replay) return replay_chat(c, request, body, r, err);
    attempt a;
    call_record rec = {time(NULL), request, cJSON_CreateArray(), &a};
    int protocol_retries = 1;
    verdict v = GIVE_UP;
    for (int i = 0; i <= c->cfg.max_retries; i++) {
        if (i > 0) llm_buf_free(&a.body);
        perform_attempt(c, body, &a);
        r->attempts = i + 1;
        r->http_status = (int)a.status;
        v = judge_attempt(c, &a, protocol_retries, r, err);
        int last = v != RETRY || i == c->cfg.max_retries;
        double wait = last ? -1 : wait_before_retry(c, &a, i);
        cJSON_AddItemToArray(rec.attempts, attempt_json(&a, i + 1, wait));
        if (last) break;
        if (err->cls == LLM_ERR_PROTOCOL) protocol_retries--;
        sleep_s(wait);
    }
    int ok = v == DONE;
    r->latency_s = now_s() - t0;
    if (!ok) {
        if (r->attempts > 1)
            snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                     " (after %d attempts)", r->attempts);
        redact_message(c, err);
    } else {
        llm_error_clear(err);
    }
    int logged = !c->log_dir || write_log(c, &rec, r, err, ok) == 0;
    add_to_totals(c, r, ok, logged);
    llm_buf_free(&a.body);
    cJSON_Delete(rec.attempts);
    cJSON_Delete(request);
    free(body);
    return ok ? 0 : -1;
}

void llm_reply_free(llm_reply *r)
{
    free(r->content);
    r->content = NULL;
}
