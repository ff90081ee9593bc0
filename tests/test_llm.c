/*
 * test_llm.c — the chat client (llm/client.c) against the scripted server
 * tests/mock_llm/server.py on loopback: success with usage and cost, every
 * retry path (429 with Retry-After in seconds and as a date, 5xx, a dropped
 * connection, a hang past the timeout, a dead port), the errors that are not retried (401,
 * malformed bodies after one retry), servers without usage, the log files
 * and the API key (sent only when set, never written down), seeded jitter,
 * and concurrent calls on one client.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "llm.h"
#include "mock_llm.h"
#include "test.h"

static char tmpdir[] = "/tmp/asiarch-test-llm-XXXXXX";
static const char KEY[] = "sk-test-SECRET-0123456789";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The JSON of a log file the client wrote (NULL, with a failed check, when
 * it cannot be read). */
static cJSON *read_log(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[1 << 16] = "";
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
    }
    cJSON *log = cJSON_Parse(buf);
    CHECK_MSG(log != NULL, "cannot read the log '%s'", path);
    return log;
}

/* A client for the mock with fast test settings; log_dir may be NULL. */
static llm_client *client_for(const mock_llm *m, const char *key, const char *log_dir, void (*tweak)(llm_config *))
{
    llm_config c;
    llm_config_defaults(&c);
    c.base_url = m->url;
    c.model = "test-model";
    c.api_key = key;
    c.timeout_s = 10;
    c.connect_timeout_s = 2;
    c.max_retries = 3;
    c.backoff_base_ms = 20;
    c.backoff_max_ms = 100;
    c.log_dir = log_dir;
    c.seed = 7;
    if (tweak) tweak(&c);
    llm_error err;
    llm_client *client = llm_client_new(&c, &err);
    CHECK_MSG(client != NULL, "%s", err.message);
    return client;
}

/* One user message through a fresh client on a fresh server with SCRIPT.
 * Fills reply and err; returns llm_chat's result and the requests the
 * server received (caller frees). */
static int chat_once(const char *script, void (*tweak)(llm_config *), const char *key, const char *log_dir,
                     llm_reply *reply, llm_error *err, cJSON **requests)
{
    mock_llm m;
    if (mock_llm_start(&m, tmpdir, script) != 0) {
        CHECK(!"mock server started");
        memset(reply, 0, sizeof *reply);
        if (requests) *requests = cJSON_CreateArray();
        return -2;
    }
    llm_client *c = client_for(&m, key, log_dir, tweak);
    llm_message msg = {"user", "Propose a mixer."};
    int rc = c ? llm_chat(c, &msg, 1, reply, err) : -2;
    llm_client_free(c);
    if (requests) *requests = mock_llm_requests(&m);
    CHECK(mock_llm_stop(&m) == 0);
    return rc;
}

static void price(llm_config *c)
{
    c->price_in = 2.5;
    c->price_out = 10.0;
    c->temperature = 0.25;
    c->max_tokens = 777;
}

TEST(success_with_usage_and_cost)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    int rc = chat_once("[{\"content\": \"Here is my mixer.\", \"usage\": {\"prompt_tokens\": 1000, "
                       "\"completion_tokens\": 500}}]",
                       price, NULL, NULL, &r, &err, &reqs);
    CHECK_MSG(rc == 0, "%s", err.message);
    CHECK(r.content && !strcmp(r.content, "Here is my mixer."));
    CHECK(r.usage_reported == 1 && r.prompt_tokens == 1000 && r.completion_tokens == 500);
    CHECK_NEAR(r.cost_usd, (1000 * 2.5 + 500 * 10.0) / 1e6, 1e-12);
    CHECK(r.attempts == 1 && r.http_status == 200);
    CHECK(!strcmp(r.model, "test-model") && !strcmp(r.finish_reason, "stop"));
    CHECK(r.latency_s > 0 && r.latency_s < 5);
    CHECK(err.cls == LLM_OK && r.log_path[0] == 0);
    /* What was sent: an OpenAI chat request with our settings. */
    CHECK(cJSON_GetArraySize(reqs) == 1);
    const cJSON *req = cJSON_GetArrayItem(reqs, 0), *body = cJSON_GetObjectItem(req, "body");
    CHECK(!strcmp(cJSON_GetObjectItem(req, "path")->valuestring, "/v1/chat/completions"));
    CHECK(!strcmp(cJSON_GetObjectItem(body, "model")->valuestring, "test-model"));
    CHECK_NEAR(cJSON_GetObjectItem(body, "temperature")->valuedouble, 0.25, 1e-12);
    CHECK(cJSON_GetObjectItem(body, "max_tokens")->valueint == 777);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(body, "stream")));
    const cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
    CHECK(!strcmp(cJSON_GetObjectItem(msg, "role")->valuestring, "user"));
    CHECK(!strcmp(cJSON_GetObjectItem(msg, "content")->valuestring, "Propose a mixer."));
    CHECK_STR_CONTAINS(mock_llm_header(req, "content-type"), "application/json");
    cJSON_Delete(reqs);
    llm_reply_free(&r);
}

TEST(defaults_leave_temperature_and_max_tokens_to_the_server)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    CHECK(chat_once("[{\"content\": \"ok\"}]", NULL, NULL, NULL, &r, &err, &reqs) == 0);
    const cJSON *body = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
    CHECK(!cJSON_GetObjectItem(body, "temperature") && !cJSON_GetObjectItem(body, "max_tokens"));
    cJSON_Delete(reqs);
    llm_reply_free(&r);
}

TEST(url_with_or_without_v1)
{
    const char *bases[] = {"http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/", "http://h:1/v1/chat/completions"};
    for (int i = 0; i < 5; i++) {
        llm_config c;
        llm_config_defaults(&c);
        c.base_url = bases[i];
        c.model = "m";
        llm_error err;
        llm_client *client = llm_client_new(&c, &err);
        CHECK(client && !strcmp(llm_client_url(client), "http://h:1/v1/chat/completions"));
        llm_client_free(client);
    }
}

TEST(bad_configuration_is_refused)
{
    llm_config c;
    llm_error err;
    llm_config_defaults(&c);
    c.model = "m";
    CHECK(!llm_client_new(&c, &err) && err.cls == LLM_ERR_CONFIG);
    CHECK_STR_CONTAINS(err.message, "no endpoint URL");
    c.base_url = "ftp://example.org";
    CHECK(!llm_client_new(&c, &err) && err.cls == LLM_ERR_CONFIG);
    CHECK_STR_CONTAINS(err.message, "must start with http:// or https://");
    c.base_url = "http://127.0.0.1:1";
    c.model = "";
    CHECK(!llm_client_new(&c, &err) && err.cls == LLM_ERR_CONFIG);
    CHECK_STR_CONTAINS(err.message, "no model name");
    c.model = "m";
    c.timeout_s = 0;
    CHECK(!llm_client_new(&c, &err) && err.cls == LLM_ERR_CONFIG);
}

TEST(rate_limit_honours_retry_after_seconds)
{
    llm_reply r;
    llm_error err;
    double t0 = now_s();
    int rc = chat_once("[{\"status\": 429, \"headers\": {\"Retry-After\": \"1\"}, \"body\": {\"error\": {\"message\": "
                       "\"Rate limit reached\"}}}, {\"content\": \"after the wait\"}]",
                       NULL, NULL, tmpdir, &r, &err, NULL);
    double elapsed = now_s() - t0;
    CHECK_MSG(rc == 0, "%s", err.message);
    CHECK(r.attempts == 2 && r.content && !strcmp(r.content, "after the wait"));
    CHECK_MSG(elapsed >= 1.0 && r.latency_s >= 1.0, "elapsed %.3f s, latency %.3f s", elapsed, r.latency_s);
    CHECK_MSG(elapsed < 4.0, "elapsed %.3f s", elapsed);
    /* The log records the 429, its Retry-After and the wait. */
    cJSON *log = read_log(r.log_path);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(log, "attempts"), 0);
    CHECK(cJSON_GetObjectItem(first, "http_status")->valueint == 429);
    CHECK_NEAR(cJSON_GetObjectItem(first, "retry_after_s")->valuedouble, 1.0, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(first, "wait_s")->valuedouble, 1.0, 1e-9);
    cJSON_Delete(log);
    llm_reply_free(&r);
}

static void cap_1s(llm_config *c) { c->retry_after_max_s = 1; }

TEST(rate_limit_honours_retry_after_date_and_its_cap)
{
    char script[512], date[64];
    time_t later = time(NULL) + 2;
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&later, &tm));
    snprintf(script, sizeof script, "[{\"status\": 429, \"headers\": {\"Retry-After\": \"%s\"}}, {\"content\": \"ok\"}]",
             date);
    llm_reply r;
    llm_error err;
    double t0 = now_s();
    CHECK(chat_once(script, NULL, NULL, NULL, &r, &err, NULL) == 0);
    double elapsed = now_s() - t0;
    /* 2 s ahead at one-second resolution: a wait of more than 1 s, at most 2. */
    CHECK_MSG(elapsed > 1.0 && elapsed < 4.0, "elapsed %.3f s for Retry-After: %s", elapsed, date);
    llm_reply_free(&r);

    /* An hour is cut to retry_after_max_s. */
    t0 = now_s();
    CHECK(chat_once("[{\"status\": 429, \"headers\": {\"Retry-After\": \"3600\"}}, {\"content\": \"ok\"}]", cap_1s, NULL,
                    NULL, &r, &err, NULL) == 0);
    elapsed = now_s() - t0;
    CHECK_MSG(elapsed >= 1.0 && elapsed < 4.0, "elapsed %.3f s", elapsed);
    llm_reply_free(&r);
}

TEST(server_errors_are_retried)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    int rc = chat_once("[{\"status\": 500}, {\"status\": 503}, {\"content\": \"third time\"}]", NULL, NULL, NULL, &r,
                       &err, &reqs);
    CHECK_MSG(rc == 0, "%s", err.message);
    CHECK(r.attempts == 3 && cJSON_GetArraySize(reqs) == 3);
    CHECK(r.content && !strcmp(r.content, "third time"));
    cJSON_Delete(reqs);
    llm_reply_free(&r);

    /* Retries run out: the last server error is reported. */
    rc = chat_once("[{\"status\": 502}, {\"status\": 502}, {\"status\": 502}, {\"status\": 502}]", NULL, NULL, NULL, &r,
                   &err, NULL);
    CHECK(rc == -1 && err.cls == LLM_ERR_SERVER && err.http_status == 502 && r.attempts == 4);
    CHECK_STR_CONTAINS(err.message, "HTTP 502");
    CHECK_STR_CONTAINS(err.message, "mock_llm: scripted HTTP 502");
    CHECK_STR_CONTAINS(err.message, "after 4 attempts");
    CHECK(llm_error_is_endpoint(err.cls));
}

static void no_retries(llm_config *c) { c->max_retries = 0; }

TEST(a_dropped_connection_is_retried)
{
    llm_reply r;
    llm_error err;
    /* hang 0: the server closes the connection without a word. */
    int rc = chat_once("[{\"hang\": 0}, {\"content\": \"second try\"}]", NULL, NULL, NULL, &r, &err, NULL);
    CHECK_MSG(rc == 0, "%s", err.message);
    CHECK(r.attempts == 2 && r.content && !strcmp(r.content, "second try"));
    llm_reply_free(&r);
    rc = chat_once("[{\"hang\": 0}]", no_retries, NULL, NULL, &r, &err, NULL);
    CHECK(rc == -1 && err.cls == LLM_ERR_CONNECT);
    CHECK_STR_CONTAINS(err.message, "the connection to");
}

static void fast_timeout(llm_config *c)
{
    c->timeout_s = 1;
    c->max_retries = 1;
}

TEST(a_hang_times_out_after_the_retries)
{
    llm_reply r;
    llm_error err;
    double t0 = now_s();
    int rc = chat_once("[{\"hang\": 20}, {\"hang\": 20}, {\"content\": \"too late\"}]", fast_timeout, NULL, NULL, &r,
                       &err, NULL);
    double elapsed = now_s() - t0;
    CHECK(rc == -1 && err.cls == LLM_ERR_TIMEOUT && r.attempts == 2 && !r.content);
    CHECK_STR_CONTAINS(err.message, "within 1 s");
    CHECK_MSG(elapsed >= 2.0 && elapsed < 6.0, "elapsed %.3f s", elapsed);
}

TEST(unauthorised_is_not_retried_and_quotes_the_server)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    int rc = chat_once("[{\"status\": 401, \"body\": {\"error\": {\"message\": \"Incorrect API key provided: sk-wr***ng\", "
                       "\"type\": \"invalid_request_error\"}}}, {\"content\": \"never sent\"}]",
                       NULL, "sk-wrong-key-123", NULL, &r, &err, &reqs);
    CHECK(rc == -1 && err.cls == LLM_ERR_HTTP && err.http_status == 401 && r.attempts == 1);
    CHECK(cJSON_GetArraySize(reqs) == 1);
    CHECK_STR_CONTAINS(err.message, "HTTP 401");
    CHECK_STR_CONTAINS(err.message, "Incorrect API key provided");
    CHECK_STR_CONTAINS(err.message, "check the API key");
    cJSON_Delete(reqs);

    /* Ollama's shape of error body. */
    rc = chat_once("[{\"status\": 404, \"body\": {\"error\": \"model 'nope' not found\"}}]", NULL, NULL, NULL, &r, &err,
                   NULL);
    CHECK(rc == -1 && err.cls == LLM_ERR_HTTP && err.http_status == 404);
    CHECK_STR_CONTAINS(err.message, "model 'nope' not found");
}

TEST(malformed_bodies_are_retried_once_then_fail_clearly)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    int rc = chat_once("[{\"raw\": \"not json\"}, {\"raw\": \"<html>Bad gateway</html>\"}, {\"content\": \"unreached\"}]",
                       NULL, NULL, NULL, &r, &err, &reqs);
    CHECK(rc == -1 && err.cls == LLM_ERR_PROTOCOL && r.attempts == 2 && cJSON_GetArraySize(reqs) == 2);
    CHECK_STR_CONTAINS(err.message, "is not a JSON chat completion");
    CHECK_STR_CONTAINS(err.message, "<html>Bad gateway</html>");
    cJSON_Delete(reqs);

    /* One bad body, then a good one: the retry recovers. */
    rc = chat_once("[{\"raw\": \"{\\\"choi\"}, {\"content\": \"fine\"}]", NULL, NULL, NULL, &r, &err, NULL);
    CHECK(rc == 0 && r.attempts == 2);
    llm_reply_free(&r);

    rc = chat_once("[{\"raw\": \"{\\\"choices\\\": []}\"}, {\"raw\": \"{\\\"choices\\\": []}\"}]", NULL, NULL, NULL, &r,
                   &err, NULL);
    CHECK(rc == -1 && err.cls == LLM_ERR_PROTOCOL);
    CHECK_STR_CONTAINS(err.message, "no choices[0].message.content");
}

TEST(missing_usage_is_accepted_and_flagged)
{
    llm_reply r;
    llm_error err;
    CHECK(chat_once("[{\"content\": \"no usage here\", \"no_usage\": true}]", price, NULL, NULL, &r, &err, NULL) == 0);
    CHECK(r.content && !strcmp(r.content, "no usage here"));
    CHECK(r.usage_reported == 0 && r.prompt_tokens == 0 && r.completion_tokens == 0 && r.cost_usd == 0);
    llm_reply_free(&r);
}

TEST(authorization_only_with_a_key)
{
    llm_reply r;
    llm_error err;
    cJSON *reqs;
    CHECK(chat_once("[{\"content\": \"a\"}]", NULL, KEY, NULL, &r, &err, &reqs) == 0);
    const char *auth = mock_llm_header(cJSON_GetArrayItem(reqs, 0), "authorization");
    CHECK(auth && !strcmp(auth, "Bearer sk-test-SECRET-0123456789"));
    cJSON_Delete(reqs);
    llm_reply_free(&r);
    CHECK(chat_once("[{\"content\": \"b\"}]", NULL, "", NULL, &r, &err, &reqs) == 0);
    CHECK(mock_llm_header(cJSON_GetArrayItem(reqs, 0), "authorization") == NULL);
    cJSON_Delete(reqs);
    llm_reply_free(&r);
}

static int count_files_containing(const char *dir, const char *needle, int *files)
{
    DIR *d = opendir(dir);
    int hits = 0;
    *files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "llm-", 4)) continue;
        char path[1024], buf[1 << 16];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
        (*files)++;
        hits += strstr(buf, needle) != NULL;
    }
    if (d) closedir(d);
    return hits;
}

TEST(one_log_per_call_and_never_the_key)
{
    char logs[600];
    snprintf(logs, sizeof logs, "%s/logs", tmpdir);
    mock_llm m;
    /* The third answer echoes the key, as a careless server might: twice,
     * the second time where the 400 characters quoted of a server's
     * message end, so cutting first and blanking after would leak half. */
    CHECK(mock_llm_start(&m, tmpdir,
                         "[{\"content\": \"one\"}, {\"content\": \"two\"}, {\"status\": 401, \"body\": {\"error\": "
                         "{\"message\": \"key sk-test-SECRET-0123456789 revoked ... padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding and again: sk-test-SECRET-0123456789\"}}}]") == 0);
    llm_client *c = client_for(&m, KEY, logs, NULL);
    llm_message msg[2] = {{"system", "You design mixers."}, {"user", "Go."}};
    llm_reply r;
    llm_error err;
    for (int i = 0; i < 3; i++) {
        int rc = llm_chat(c, msg, 2, &r, &err);
        CHECK(rc == (i < 2 ? 0 : -1));
        CHECK_STR_CONTAINS(r.log_path, logs);
        llm_reply_free(&r);
    }
    CHECK(err.cls == LLM_ERR_HTTP);
    CHECK(!strstr(err.message, "SECRET"));
    CHECK_STR_CONTAINS(err.message, "key [redacted] revoked");
    CHECK_STR_CONTAINS(err.message, "and again: [redacted]");
    llm_totals t;
    llm_client_totals(c, &t);
    CHECK(t.calls == 3 && t.failed_calls == 1 && t.attempts == 3 && t.log_failures == 0);
    llm_client_free(c);
    CHECK(mock_llm_stop(&m) == 0);

    int files;
    CHECK(count_files_containing(logs, "SECRET", &files) == 0);
    CHECK(files == 3);
    CHECK(count_files_containing(logs, "You design mixers.", &files) == 3);   /* the request is there */
    char first[700];
    snprintf(first, sizeof first, "%s/llm-000001.json", logs);
    cJSON *log = read_log(first);
    CHECK(log && !strcmp(cJSON_GetObjectItem(log, "status")->valuestring, "ok"));
    CHECK(log && cJSON_GetObjectItem(log, "attempt_count")->valueint == 1);
    CHECK(log && !strcmp(cJSON_GetObjectItem(log, "auth")->valuestring, "bearer (key not logged)"));
    const cJSON *resp = cJSON_GetObjectItem(log, "response");
    CHECK(resp && cJSON_GetObjectItem(resp, "choices") != NULL);
    cJSON_Delete(log);

    /* A second client on the same directory continues the numbering. */
    CHECK(mock_llm_start(&m, tmpdir, "[{\"content\": \"four\"}]") == 0);
    c = client_for(&m, NULL, logs, NULL);
    CHECK(llm_chat(c, msg, 2, &r, &err) == 0);
    CHECK_STR_CONTAINS(r.log_path, "llm-000004.json");
    llm_reply_free(&r);
    llm_client_free(c);
    CHECK(mock_llm_stop(&m) == 0);
}

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &n) != 0)
        return 1;
    close(s);   /* nothing listens there now */
    return ntohs(a.sin_port);
}

TEST(a_dead_endpoint_is_a_connection_error_quickly)
{
    llm_config c;
    llm_config_defaults(&c);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    c.base_url = url;
    c.model = "m";
    c.max_retries = 2;
    c.backoff_base_ms = 10;
    c.seed = 1;
    llm_error err;
    llm_client *client = llm_client_new(&c, &err);
    llm_message msg = {"user", "hello?"};
    llm_reply r;
    double t0 = now_s();
    CHECK(llm_chat(client, &msg, 1, &r, &err) == -1);
    double elapsed = now_s() - t0;
    CHECK(err.cls == LLM_ERR_CONNECT && r.attempts == 3 && r.http_status == 0);
    CHECK_STR_CONTAINS(err.message, "cannot reach");
    CHECK_STR_CONTAINS(err.message, url);
    CHECK(llm_error_is_endpoint(err.cls) && !llm_error_is_endpoint(LLM_ERR_ANSWER));
    CHECK_MSG(elapsed < 2.0, "elapsed %.3f s", elapsed);
    llm_client_free(client);
}

static void slow_jitter(llm_config *c)
{
    c->backoff_base_ms = 50;
    c->backoff_max_ms = 80;
    c->seed = 12345;
}

/* The wait_s of each attempt in the log of a 500, 500, 500, ok call. */
static void jitter_waits(double waits[3])
{
    char logs[600];
    static int run;
    snprintf(logs, sizeof logs, "%s/jitter-%d", tmpdir, ++run);
    llm_reply r;
    llm_error err;
    CHECK(chat_once("[{\"status\": 500}, {\"status\": 500}, {\"status\": 500}, {\"content\": \"ok\"}]", slow_jitter,
                    NULL, logs, &r, &err, NULL) == 0);
    cJSON *log = read_log(r.log_path);
    for (int i = 0; i < 3; i++) {
        const cJSON *w = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(log, "attempts"), i), "wait_s");
        waits[i] = w ? w->valuedouble : -1;
    }
    cJSON_Delete(log);
    llm_reply_free(&r);
}

TEST(backoff_is_full_jitter_and_seeded)
{
    double a[3], b[3];
    jitter_waits(a);
    jitter_waits(b);
    const double ceiling[3] = {0.050, 0.080, 0.080};   /* 50 ms doubling, capped at 80 ms */
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(a[i] >= 0 && a[i] <= ceiling[i], "wait %d = %g s", i, a[i]);
        CHECK_NEAR(a[i], b[i], 1e-12);
    }
    CHECK(a[0] != a[1] || a[1] != a[2]);
}

TEST(scripted_answers_follow_the_last_user_message)
{
    mock_llm m;
    CHECK(mock_llm_start(&m, tmpdir, "[{\"match\": \"failure report\", \"content\": \"the repair\"}, "
                                     "{\"content\": \"the proposal\"}]") == 0);
    llm_client *c = client_for(&m, NULL, NULL, NULL);
    llm_message propose = {"user", "Propose a mixer."}, repair = {"user", "Here is the failure report: ..."};
    llm_reply r;
    llm_error err;
    CHECK(llm_chat(c, &propose, 1, &r, &err) == 0 && !strcmp(r.content, "the proposal"));
    llm_reply_free(&r);
    CHECK(llm_chat(c, &repair, 1, &r, &err) == 0 && !strcmp(r.content, "the repair"));
    llm_reply_free(&r);
    CHECK(llm_chat(c, &propose, 1, &r, &err) == -1 && err.cls == LLM_ERR_HTTP);
    CHECK_STR_CONTAINS(err.message, "script exhausted");
    llm_client_free(c);
    CHECK(mock_llm_stop(&m) == 0);
}

typedef struct worker {
    llm_client *client;
    int rc;
} worker;

static void *chat_thread(void *arg)
{
    worker *w = arg;
    llm_message msg = {"user", "in parallel"};
    llm_reply r;
    llm_error err;
    w->rc = 0;
    for (int i = 0; i < 4; i++) {
        w->rc |= llm_chat(w->client, &msg, 1, &r, &err);
        llm_reply_free(&r);
    }
    return NULL;
}

TEST(one_client_shared_by_threads)
{
    char logs[600];
    snprintf(logs, sizeof logs, "%s/threads", tmpdir);
    mock_llm m;
    CHECK(mock_llm_start(&m, tmpdir, "[{\"content\": \"same\", \"repeat\": true, \"delay\": 0.02, "
                                     "\"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 2}}]") == 0);
    llm_client *c = client_for(&m, NULL, logs, NULL);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i].client = c;
        pthread_create(&t[i], NULL, chat_thread, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].rc == 0);
    }
    llm_totals tot;
    llm_client_totals(c, &tot);
    CHECK(tot.calls == 16 && tot.failed_calls == 0 && tot.prompt_tokens == 48 && tot.completion_tokens == 32);
    llm_client_free(c);
    CHECK(mock_llm_stop(&m) == 0);
    int files;
    count_files_containing(logs, "same", &files);
    CHECK(files == 16);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    setenv("no_proxy", "127.0.0.1,localhost", 1);   /* loopback never goes through a proxy */
    RUN(success_with_usage_and_cost);
    RUN(defaults_leave_temperature_and_max_tokens_to_the_server);
    RUN(url_with_or_without_v1);
    RUN(bad_configuration_is_refused);
    RUN(rate_limit_honours_retry_after_seconds);
    RUN(rate_limit_honours_retry_after_date_and_its_cap);
    RUN(server_errors_are_retried);
    RUN(a_dropped_connection_is_retried);
    RUN(a_hang_times_out_after_the_retries);
    RUN(unauthorised_is_not_retried_and_quotes_the_server);
    RUN(malformed_bodies_are_retried_once_then_fail_clearly);
    RUN(missing_usage_is_accepted_and_flagged);
    RUN(authorization_only_with_a_key);
    RUN(one_log_per_call_and_never_the_key);
    RUN(a_dead_endpoint_is_a_connection_error_quickly);
    RUN(backoff_is_full_jitter_and_seeded);
    RUN(scripted_answers_follow_the_last_user_message);
    RUN(one_client_shared_by_threads);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
