/*
 * replay.c — `--llm replay:DIR`: a recorded run's exchanges, served again
 * without the endpoint.
 *
 * Every call of a client with a log directory is recorded there as
 * llm-NNNNNN.json (client.c: the request, the status, the response body and
 * the usage). A replay client reads them all and answers each request with
 * the recorded answer to the identical request (the same messages, byte
 * for byte), first unused first, so a run whose workers asked in another
 * order still matches. The prompts also carry measurements that differ
 * between two runs of the same work (tokens/s, CPU seconds per step), so a
 * request that matches nothing exactly matches a recording whose text is
 * the same once those speeds are masked; every other character, losses and
 * step counts included, must agree. A failed call replays as the same failure (its
 * error class and message). A request nobody recorded means the run has
 * diverged from the recording: the call fails as a protocol error that
 * names the exchange and says how far the replay got, and the orchestrator
 * stops, as for a dead endpoint.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"

typedef struct recording {
    char *messages;          /* the request's messages, printed unformatted: the key */
    char *shape;             /* the same with every number masked (see shape_of) */
    cJSON *log;              /* the whole record */
    int used;
} recording;

struct llm_replay {
    recording *items;
    int n;
    int used;
    char dir[1024];
    pthread_mutex_t lock;
};

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int is_log(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return !strncmp(e->d_name, "llm-", 4) && n > 9 && !strcmp(e->d_name + n - 5, ".json");
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += k;
        if (cap - len < 2) {
            char *p = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (!p) { free(buf); buf = NULL; break; }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static char *messages_key(const cJSON *request)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(request, "messages");
    return m ? cJSON_PrintUnformatted(m) : NULL;
}

/* What differs between two runs of the same work: the measured speeds. */
static const char *const measured_units[] = {" tokens/s", " CPU s/step", " s/step", NULL};

/* The text with every measured speed (a number followed by one of
 * measured_units) replaced by '#'; every other number stays. */
static char *shape_of(const char *text)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = text; *p;) {
        const char *e = p;
        while ((*e >= '0' && *e <= '9') || (*e == '.' && e[1] >= '0' && e[1] <= '9')) e++;
        int measured = 0;
        for (int u = 0; e > p && measured_units[u]; u++) measured |= !strncmp(e, measured_units[u], strlen(measured_units[u]));
        if (measured) {
            *o++ = '#';
            p = e;
        } else if (e > p) {
            memcpy(o, p, (size_t)(e - p));
            o += e - p;
            p = e;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

llm_replay *llm_replay_open(const char *dir, llm_error *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_log, by_name);
    if (n < 0) {
        llm_fail(err, LLM_ERR_CONFIG, "replay: cannot read the recording %.300s (the directory `discover` named at the end of the "
                 "recorded run: <run dir>/llm/<db>-run<N>)", dir);
        return NULL;
    }
    llm_replay *r = calloc(1, sizeof *r);
    if (r) r->items = calloc((size_t)(n ? n : 1), sizeof *r->items);
    if (!r || !r->items) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
        free(r);
        llm_fail(err, LLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    pthread_mutex_init(&r->lock, NULL);
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        char *text = read_all(path);
        cJSON *log = text ? cJSON_Parse(text) : NULL;
        char *key = log ? messages_key(cJSON_GetObjectItemCaseSensitive(log, "request")) : NULL;
        free(text);
        if (!key) {
            cJSON_Delete(log);
            llm_fail(err, LLM_ERR_CONFIG, "replay: %.300s is not a recorded exchange (no request messages)", path);
            for (int k = i; k < n; k++) free(names[k]);
            free(names);
            llm_replay_free(r);
            return NULL;
        }
        r->items[r->n++] = (recording){.messages = key, .shape = shape_of(key), .log = log};
        free(names[i]);
    }
    free(names);
    if (r->n == 0) {
        llm_fail(err, LLM_ERR_CONFIG, "replay: %.300s holds no recorded exchanges (llm-NNNNNN.json)", dir);
        llm_replay_free(r);
        return NULL;
    }
    return r;
}

void llm_replay_free(llm_replay *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free(r->items[i].messages);
        free(r->items[i].shape);
        cJSON_Delete(r->items[i].log);
    }
    free(r->items);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The model the recording talked to (for a replay run without --model). */
const char *llm_replay_model(const llm_replay *r)
{
    const cJSON *req = r->n ? cJSON_GetObjectItemCaseSensitive(r->items[0].log, "request") : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
    return cJSON_IsString(m) ? m->valuestring : "replay";
}

static llm_error_class class_named(const char *name)
{
    for (int c = LLM_ERR_CONFIG; c <= LLM_ERR_NOMEM; c++)
        if (name && !strcmp(llm_error_class_name((llm_error_class)c), name)) return (llm_error_class)c;
    return LLM_ERR_PROTOCOL;
}

/* Fill r from the recorded log: the answer's text and accounting. */
static int answer_from(const cJSON *log, llm_reply *r, llm_error *err)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(log, "status");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(log, "usage");
    r->attempts = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(log, "attempt_count")) > 0
                      ? (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(log, "attempt_count"))
                      : 1;
    r->http_status = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(log, "http_status"));
    r->usage_reported = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(usage, "reported"));
    r->prompt_tokens = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens"));
    r->completion_tokens = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens"));
    r->cost_usd = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(usage, "cost_usd"));
    if (!cJSON_IsString(status) || strcmp(status->valuestring, "ok") != 0) {
        const char *cls = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(log, "error_class"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(log, "error"));
        return llm_fail(err, class_named(cls), "%s", msg ? msg : "a recorded failure");
    }
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(log, "response");
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "content"));
    if (!content) return llm_fail(err, LLM_ERR_PROTOCOL, "replay: the recorded answer has no message content");
    r->content = strdup(content);
    if (!r->content) return llm_fail(err, LLM_ERR_NOMEM, "out of memory");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "model"));
    const char *finish = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
    snprintf(r->model, sizeof r->model, "%s", model ? model : "");
    snprintf(r->finish_reason, sizeof r->finish_reason, "%s", finish ? finish : "");
    return 0;
}

int llm_replay_chat(llm_replay *rp, const cJSON *request, llm_reply *r, llm_error *err)
{
    char *key = messages_key(request);
    if (!key) return llm_fail(err, LLM_ERR_NOMEM, "out of memory");
    char *shape = shape_of(key);
    pthread_mutex_lock(&rp->lock);
    int found = -1;
    for (int i = 0; i < rp->n && found < 0; i++)
        if (!rp->items[i].used && !strcmp(rp->items[i].messages, key)) found = i;
    for (int i = 0; i < rp->n && found < 0 && shape; i++)
        if (!rp->items[i].used && rp->items[i].shape && !strcmp(rp->items[i].shape, shape)) found = i;
    if (found >= 0) {
        rp->items[found].used = 1;
        rp->used++;
    }
    int used = rp->used;
    pthread_mutex_unlock(&rp->lock);
    free(key);
    free(shape);
    if (found < 0)
        return llm_fail(err, LLM_ERR_PROTOCOL,
                        "replay: no recorded exchange in %.300s matches this request (the run diverged from the "
                        "recording after %d of its %d exchanges: same seed, budget, scale and options?)",
                        rp->dir, used, rp->n);
    return answer_from(rp->items[found].log, r, err);
}
