/*
 * test_attacks.c — hostile candidates through the whole pipeline, as
 * `asiarch train FILE --json` takes them: check, compile, link, verify in
 * the strict sandbox, train, the trained model's checks.
 *
 *   tests/attacks/NAME.c   first line  / * expect: RULE * /   or  / * expect: honest * /
 *                          optional second line  / * args: --no-mqar ... * /
 *
 * A RULE file must end with exit status 1 or 2 (never a signal), a
 * {"status":"failed"} object whose reports include RULE, and no score. An
 * honest file must train (exit 0) and report an honest loss: it tries to
 * make the numbers lie, not to break the rules. Each one is a class of
 * attack found by a red team (see the README's "Trustworthy scores").
 */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "data.h"
#include "test.h"

static char dir[] = "/tmp/asiarch-test-attacks-XXXXXX";

/* The header lines of an attack file: what it must end with, extra flags. */
static int read_header(const char *path, char *expect, size_t elen, char *args, size_t alen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char head[512] = "";
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = 0;
    for (char *p = head; *p; p++)
        if (*p == '\r') *p = '\n';   /* one file uses lone CRs */
    expect[0] = args[0] = 0;
    if (sscanf(head, "/* expect: %127s */", expect) != 1) return -1;
    const char *a = strstr(head, "\n/* args: ");
    if (a && strchr(a + 1, '\n') && strstr(a, " */")) {
        a += strlen("\n/* args: ");
        size_t k = (size_t)(strstr(a, " */") - a);
        snprintf(args, alen, "%.*s", (int)(k < alen ? k : alen - 1), a);
    }
    (void)elen;
    return 0;
}

static int run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + len, 1, cap - len - 1, p)) > 0) len += k;
    buf[len] = 0;
    *out = buf;
    return pclose(p);
}

static int has_rule(const cJSON *reports, const char *rule)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, reports) {
        const cJSON *v = cJSON_GetObjectItem(r, "rule");
        if (cJSON_IsString(v) && !strcmp(v->valuestring, rule)) return 1;
    }
    return 0;
}

static void attack(const char *file)
{
    char path[600], expect[128], args[256], cmd[2048], *out = NULL;
    snprintf(path, sizeof path, "%s/tests/attacks/%s", ASIARCH_SOURCE_DIR, file);
    if (read_header(path, expect, sizeof expect, args, sizeof args) < 0) {
        CHECK_MSG(0, "%s: no `expect:` header", file);
        return;
    }
    snprintf(cmd, sizeof cmd, "cd %s && %s train %s --scale tiny --steps 40 --json --data %s/corpus %s 2>/dev/null", dir,
             ASIARCH_BINARY, path, dir, args);
    int status = run(cmd, &out);
    CHECK_MSG(WIFEXITED(status), "%s: ended by a signal", file);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p < 32 && *p != '\n' && *p != '\t') {
            CHECK_MSG(0, "%s: a raw control character on stdout", file);
            break;
        }
    cJSON *o = cJSON_Parse(out);
    CHECK_MSG(o != NULL, "%s: stdout is not one JSON object: %.200s", file, out);
    if (!strcmp(expect, "honest")) {
        double val = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "val_loss"));
        double train = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "train_loss"));
        CHECK_MSG(code == 0 && val > 1.0 && train > 1.0, "%s: exit %d, val loss %g, train loss %g", file, code, val,
                  train);
    } else {
        const cJSON *reports = cJSON_GetObjectItem(o, "reports");
        CHECK_MSG(code == 1 || code == 2, "%s: exit %d", file, code);
        CHECK_MSG(!cJSON_GetObjectItem(o, "val_loss"), "%s: a score came back", file);
        CHECK_MSG(has_rule(reports, expect), "%s: no %s report in %.300s", file, expect, out);
    }
    cJSON_Delete(o);
    free(out);
}

TEST(every_attack_ends_in_a_clear_report)
{
    char path[600];
    snprintf(path, sizeof path, "%s/tests/attacks", ASIARCH_SOURCE_DIR);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c")) continue;
        attack(e->d_name);
        n++;
    }
    if (d) closedir(d);
    printf("%d attacks\n", n);
    CHECK(n >= 20);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    char corpus[300], err[512];
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    dt_prepare_info info;
    if (dt_prepare_bytes(NULL, corpus, 0.05, &info, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(every_attack_ends_in_a_clear_report);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
