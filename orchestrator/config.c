/*
 * config.c — `discover --config FILE.json`: the settings without a flag of
 * their own, with the same names as the long options. Unknown keys are an
 * error (a misspelt key that is silently ignored costs a night of compute).
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static int number(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) return -1;
    *out = v->valuedouble;
    return 0;
}

/* One key; 0, or -1 with err naming it and what it expects. */
static int apply(const cJSON *item, or_config *c, char *err, size_t errlen)
{
    const char *k = item->string;
    double v;
    const char *s = cJSON_IsString(item) ? item->valuestring : NULL;
#define NUM(key, lo, hi, dst)                                                                     \
    if (!strcmp(k, key)) {                                                                          \
        if (number(item, lo, hi, &v) < 0) goto bad_number;                                          \
        dst;                                                                                        \
        return 0;                                                                                   \
    }
    NUM("budget", 0, 1e6, c->budget = (int)v)
    NUM("workers", 1, 16, c->workers = (int)v)
    NUM("steps", 0, 1e8, c->steps = (int)v)
    NUM("seed", 0, 9.2e18, c->seed = (uint64_t)v)
    NUM("max_repairs", 0, 100, c->max_repairs = (int)v)
    NUM("confirm", 0, 100, c->confirm_top = (int)v)
    NUM("seeds", 1, 64, c->seeds = (int)v)
    NUM("hours", 0, 1e4, c->hours = v)
    NUM("time_limit", 0, 1e6, c->time_limit_s = v)
#undef NUM
    if (!strcmp(k, "mqar")) {
        if (!cJSON_IsBool(item)) goto bad_type;
        c->mqar = cJSON_IsTrue(item);
        return 0;
    }
    if (!s) goto bad_type;
    if (!strcmp(k, "scale")) snprintf(c->scale, sizeof c->scale, "%s", s);
    else if (!strcmp(k, "sandbox")) {
        if (sb_profile_parse(s, &c->sandbox) < 0) {
            snprintf(err, errlen, "config key \"sandbox\": expected strict, permissive or off, got \"%s\"", s);
            return -1;
        }
    } else if (!strcmp(k, "llm")) c->llm_url = s;
    else if (!strcmp(k, "model")) c->model = s;
    else if (!strcmp(k, "data")) c->data_dir = s;
    else if (!strcmp(k, "db")) c->db_path = s;
    else if (!strcmp(k, "run_dir")) c->run_dir = s;
    else {
        snprintf(err, errlen,
                 "unknown config key \"%s\" (known: budget, workers, scale, steps, seed, max_repairs, confirm, seeds, "
                 "hours, time_limit, mqar, sandbox, llm, model, data, db, run_dir)", k);
        return -1;
    }
    return 0;
bad_number:
    snprintf(err, errlen, "config key \"%s\": expected a number in range", k);
    return -1;
bad_type:
    snprintf(err, errlen, "config key \"%s\": wrong type", k);
    return -1;
}

int or_config_load_json(const char *path, or_config *c, void **keep, char *err, size_t errlen)
{
    *keep = NULL;
    char *text = read_file(path, err, errlen);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    for (const cJSON *item = root->child; item; item = item->next) {
        char e[400];
        if (apply(item, c, e, sizeof e) < 0) {
            snprintf(err, errlen, "%s: %s", path, e);
            cJSON_Delete(root);
            return -1;
        }
    }
    *keep = root;   /* the strings point into it */
    return 0;
}

void or_config_free_json(void *keep) { cJSON_Delete(keep); }
