/*
 * test_page.c — `asiarch report`: the page of a real small discovery run is
 * well-formed HTML, holds every candidate, shows the numbers `db export`
 * has, and loads in a real headless browser (Chromium from Debian's
 * packages) without console errors, into a screenshot that is not blank. A
 * synthetic database of 2,000 candidates renders too (its time is printed).
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "db.h"
#include "test.h"

static char dir[] = "/tmp/asiarch-test-page-XXXXXX";

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    if (buf) buf[got] = 0;
    fclose(f);
    return buf;
}

TEST(the_page_of_a_real_run)
{
    char corpus[400], cmd[2048];
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    char err[512];
    dt_prepare_info info;
    CHECK(dt_prepare_bytes(NULL, corpus, 0.05, &info, err, sizeof err) == 0);
    snprintf(cmd, sizeof cmd, "cd %s && %s discover --data %s --db r.db --budget 3 --scale tiny --steps 20 --no-mqar "
             "--seed 2 --confirm 1 --seeds 2 >/dev/null 2>discover.err", dir, ASIARCH_BINARY, corpus);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "cd %s && %s report --db r.db -o r.html > report.out 2>&1", dir, ASIARCH_BINARY);
    CHECK(system(cmd) == 0);
    char path[400];
    snprintf(path, sizeof path, "%s/r.html", dir);
    char *html = slurp(path);
    CHECK(html != NULL);
    if (!html) return;
    /* well formed */
    CHECK(sh("python3 %s/tests/page/check_html.py %s", ASIARCH_SOURCE_DIR, path) == 0);
    /* every candidate, and the numbers of `db export` */
    snprintf(cmd, sizeof cmd, "cd %s && %s db --db r.db export -o export.json", dir, ASIARCH_BINARY);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/export.json", dir);
    char *exp = slurp(path);
    cJSON *e = exp ? cJSON_Parse(exp) : NULL;
    const cJSON *cands = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "runs"), 0), "candidates");
    CHECK(cJSON_GetArraySize(cands) >= 5);
    const cJSON *c;
    cJSON_ArrayForEach(c, cands) {
        char anchor[64];
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "id"));
        snprintf(anchor, sizeof anchor, "id=\"c%d\"", id);
        CHECK_MSG(strstr(html, anchor), "candidate %d is missing", id);
        const cJSON *m = cJSON_GetObjectItem(c, "metrics");
        double loss = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "val_loss"));
        if (isfinite(loss)) {
            char text[64];
            snprintf(text, sizeof text, "val loss %.4f", loss);
            const char *sec = strstr(html, anchor);
            const char *end = sec ? strstr(sec, "</summary>") : NULL;
            CHECK_MSG(sec && end && strstr(sec, text) && strstr(sec, text) < end, "#%d: \"%s\" not in its section", id, text);
        }
    }
    cJSON_Delete(e);
    free(exp);
    /* the sections, the charts, the lineage and the intervals over seeds */
    const char *parts[] = {"id=\"summary\"", "id=\"discoveries\"", "id=\"lineage\"", "id=\"curves\"", "id=\"pareto\"",
                           "id=\"structure\"", "id=\"candidates\"", "<svg class=\"chart\"", "(2 seeds)",
                           "class=\"kw\"", "Against its parent"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) CHECK_MSG(strstr(html, parts[i]), "no %s", parts[i]);
    CHECK(!strstr(html, "http://") || strstr(html, "http://www.w3.org"));   /* nothing fetched from a network */
    /* the lineage: nodes link to their candidates, the best design's path is drawn in red */
    CHECK(strstr(html, "xlink:href=\"#c") != NULL);
    CHECK(strstr(html, "stroke=\"#d62728\"") != NULL);
    free(html);

    /* a real browser: no console errors, a screenshot that is not blank */
    if (system("command -v chromium >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP the browser check: chromium is not installed (apt-get install chromium; "
                        "bootstrap.sh installs it)\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "cd %s && timeout 120 chromium --headless=new --no-sandbox --disable-gpu "
             "--window-size=1200,1800 --screenshot=%s/shot.png --enable-logging=stderr --v=0 file://%s/r.html "
             "2>chromium.log", dir, dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/chromium.log", dir);
    char *log = slurp(path);
    CHECK_MSG(log && !strstr(log, "Uncaught") && !strstr(log, ":ERROR:CONSOLE"), "console: %.2000s", log ? log : "");
    free(log);
    /* not blank: a PNG of this size with more than a handful of distinct bytes in its image data */
    snprintf(path, sizeof path, "%s/shot.png", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 30000);
}

/* 2,000 candidates with sources, metrics and curves: the page renders. */
TEST(two_thousand_candidates)
{
    char path[400], err[256];
    snprintf(path, sizeof path, "%s/big.db", dir);
    aa_db *db = NULL;
    CHECK(db_open(path, &db, err, sizeof err) == 0);
    if (!db) return;
    db_run_new rn = {.seed = 1, .scale = "tiny", .proposer = "builtin"};
    int64_t run, prev = 0;
    CHECK(db_run_create(db, &rn, &run) == 0);
    db_begin(db);
    uint64_t rng = 7;
    for (int i = 0; i < 2000; i++) {
        char name[32], source[512], metrics[4096];
        snprintf(name, sizeof name, "design_%d", i);
        snprintf(source, sizeof source, "#include <asiarch.h>\nAA_NAME(\"%s\");\naa_t mixer(aa_layer *l, aa_t x)\n{\n"
                 "    return aa_linear(l, \"o\", aa_silu(x), aa_dim(l, AA_MODEL) + %d * 0);\n}\n", name, i);
        int n = snprintf(metrics, sizeof metrics, "{\"val_loss\":%.4f,\"params\":%d,\"flops_per_token\":%d,"
                         "\"train_seconds\":1.5,\"steps\":50,\"loss_curve\":[", 2.5 + dt_rand_uniform(&rng),
                         100000 + i * 37 % 50000, 600000 + i * 91 % 400000);
        for (int s = 0; s < 50; s++) n += snprintf(metrics + n, sizeof metrics - (size_t)n, "%s%.3f", s ? "," : "", 5.0 - s * 0.04);
        snprintf(metrics + n, sizeof metrics - (size_t)n, "]}");
        db_candidate_new c = {.run_id = run, .parent_id = prev, .name = name, .motivation = "m", .source = source,
                              .is_baseline = i < 2};
        int64_t id;
        CHECK(db_candidate_insert(db, &c, &id) == 0);
        CHECK(db_candidate_start(db, id) == 0);
        db_result r = db_result_init();
        r.status = i % 5 == 4 ? DB_FAILED : DB_SCORED;
        r.reason = r.status == DB_FAILED ? "verify/causality" : NULL;
        r.metrics_json = r.status == DB_SCORED ? metrics : NULL;
        r.score = r.status == DB_SCORED ? dt_rand_uniform(&rng) : NAN;
        db_attempt_new a = {.candidate_id = id, .stage = "evaluate", .ok = r.status == DB_SCORED};
        CHECK(db_candidate_finish(db, id, &r, &a) == 0);
        if (i % 3 == 0) prev = id;
    }
    CHECK(db_commit(db) == 0);
    db_close(db);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s report --db big.db -o big.html >/dev/null 2>&1", dir, ASIARCH_BINARY);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(system(cmd) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    snprintf(path, sizeof path, "%s/big.html", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    printf("report of 2,000 candidates: %.2f s, %.1f MB\n", s, (double)st.st_size / 1e6);
    CHECK(sh("python3 %s/tests/page/check_html.py %s", ASIARCH_SOURCE_DIR, path) == 0);
    char *html = slurp(path);
    CHECK(html && strstr(html, "id=\"c2000\"") && strstr(html, "id=\"c1\""));
    free(html);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    RUN(the_page_of_a_real_run);
    RUN(two_thousand_candidates);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
