/*
 * test_check.c — the DSL checker (jit/check.c) against its corpus.
 *
 *   tests/check/reject/NNN_name.c   one violation each; the first line says
 *                                   which: / * expect: RULE LINE * /
 *   tests/check/accept/NAME.c       must produce no report at all
 *   arch/NAME.c                     every reference mixer must be accepted
 *
 * A reject file passes when ANY of its reports has the expected rule and
 * line: a violation often implies others (a system() prototype is also an
 * extern declaration with a pointer parameter), and the corpus pins down the
 * report that names the problem, not the whole list. Every report is also
 * checked for shape (stage "check", a dsl/ rule, line and column > 0, a
 * message and the snippet of its line), and the reports must come in source
 * order.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "jit.h"
#include "test.h"

#define MAX_FILES 512

/* Sorted paths of the .c files in dir (relative to the source tree). */
static int list_c_files(const char *dir, char names[][512], int max)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ASIARCH_SOURCE_DIR, dir);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0) continue;
        snprintf(names[n++], 512, "%s/%s/%s", ASIARCH_SOURCE_DIR, dir, e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void print_reports(const aa_reports *r)
{
    for (int i = 0; i < r->n; i++) aa_report_print(&r->items[i], stderr);
}

/* The shape every checker report must have. */
static void check_report_shape(const aa_report *r, const char *path)
{
    CHECK_MSG(!strcmp(r->stage, "check"), "%s: stage '%s'", path, r->stage);
    CHECK_MSG(!strncmp(r->rule, "dsl/", 4), "%s: rule '%s'", path, r->rule);
    CHECK_MSG(!strcmp(r->file, path), "%s: file '%s'", path, r->file);
    CHECK_MSG(r->line > 0 && r->col > 0, "%s: %s at %d:%d", path, r->rule, r->line, r->col);
    CHECK_MSG(strlen(r->message) > 20, "%s: %s: message '%s'", path, r->rule, r->message);
    CHECK_MSG(r->snippet[0] != 0 || r->line == 1, "%s: %s at line %d has no snippet", path, r->rule, r->line);
}

/* Runs the checker on one file; returns its result, reports in *reps. */
static int check_file(const char *path, aa_reports *reps)
{
    jit_source src;
    memset(reps, 0, sizeof *reps);
    if (jit_source_read(path, &src, reps) < 0) return -2;
    int n = jit_check(&src, reps);
    jit_source_free(&src);
    return n;
}

static void check_order(const aa_reports *r, const char *path)
{
    for (int i = 1; i < r->n; i++) {
        const aa_report *a = &r->items[i - 1], *b = &r->items[i];
        if (!strcmp(b->rule, "dsl/too-many-violations")) continue;
        CHECK_MSG(a->line < b->line || (a->line == b->line && a->col <= b->col),
                  "%s: reports out of order: %d:%d before %d:%d", path, a->line, a->col, b->line, b->col);
        CHECK_MSG(!(a->line == b->line && a->col == b->col && !strcmp(a->rule, b->rule)),
                  "%s: duplicate %s at %d:%d", path, a->rule, a->line, a->col);
    }
}

/* The rules the corpus must exercise: every rule of the checker but
 * dsl/source-too-large and dsl/too-many-violations, which test limits
 * covers. */
static const char *const all_rules[] = {
    "dsl/include", "dsl/preprocessor", "dsl/trigraph", "dsl/compiler-error", "dsl/pointer",
    "dsl/address-of", "dsl/dereference", "dsl/pointer-arith", "dsl/cast-pointer", "dsl/function-pointer",
    "dsl/string", "dsl/asm", "dsl/asm-label", "dsl/goto", "dsl/setjmp", "dsl/variadic", "dsl/vla",
    "dsl/array-too-large", "dsl/volatile", "dsl/attribute", "dsl/builtin", "dsl/statement-expression",
    "dsl/thread-local", "dsl/atomic", "dsl/generic", "dsl/typeof", "dsl/type", "dsl/extern", "dsl/prototype",
    "dsl/inline", "dsl/reserved-name", "dsl/mutable-global", "dsl/handle", "dsl/switch", "dsl/pointwise",
    "dsl/call-not-allowed", "dsl/call-indirect", "dsl/recursion", "dsl/loop-unbounded", "dsl/no-mixer",
    "dsl/too-complex",
};

TEST(reject_corpus)
{
    static char files[MAX_FILES][512];
    int n = list_c_files("tests/check/reject", files, MAX_FILES);
    CHECK_MSG(n >= 80, "only %d reject files", n);
    int covered[sizeof all_rules / sizeof *all_rules] = {0};
    for (int f = 0; f < n; f++) {
        const char *path = files[f];
        FILE *fp = fopen(path, "r");
        char first[256] = "", rule[64] = "";
        int line = 0;
        if (fp) {
            if (!fgets(first, sizeof first, fp)) first[0] = 0;
            fclose(fp);
        }
        CHECK_MSG(sscanf(first, "/* expect: %63s %d */", rule, &line) == 2, "%s: no expect line", path);
        for (size_t k = 0; k < sizeof all_rules / sizeof *all_rules; k++)
            if (!strcmp(rule, all_rules[k])) covered[k]++;
        aa_reports reps;
        int nv = check_file(path, &reps);
        CHECK_MSG(nv > 0, "%s: expected a violation, jit_check returned %d", path, nv);
        CHECK_MSG(nv == reps.n, "%s: returned %d but made %d reports", path, nv, reps.n);
        int found = 0;
        for (int i = 0; i < reps.n; i++) {
            check_report_shape(&reps.items[i], path);
            if (!strcmp(reps.items[i].rule, rule) && reps.items[i].line == line) found = 1;
        }
        check_order(&reps, path);
        if (!found) {
            fprintf(stderr, "%s: expected %s at line %d; got:\n", path, rule, line);
            print_reports(&reps);
        }
        CHECK(found);
        aa_reports_free(&reps);
    }
    for (size_t k = 0; k < sizeof all_rules / sizeof *all_rules; k++)
        CHECK_MSG(covered[k] > 0, "no reject file expects %s", all_rules[k]);
}

static void expect_accepted(const char *dir, const char *skip, int min)
{
    static char files[MAX_FILES][512];
    int n = list_c_files(dir, files, MAX_FILES), checked = 0;
    for (int f = 0; f < n; f++) {
        if (skip && strstr(files[f], skip)) continue;
        aa_reports reps;
        int nv = check_file(files[f], &reps);
        if (nv != 0 || reps.n != 0) {
            fprintf(stderr, "%s: expected no report, got %d:\n", files[f], nv);
            print_reports(&reps);
        }
        CHECK(nv == 0 && reps.n == 0);
        aa_reports_free(&reps);
        checked++;
    }
    CHECK_MSG(checked >= min, "%s: only %d files", dir, checked);
}

TEST(accept_corpus) { expect_accepted("tests/check/accept", NULL, 10); }

/* Every op macro of the header (#define aa_...) is used somewhere in the
 * accept corpus, so the checker is known to accept each one's expansion. A
 * new op in include/asiarch.h fails here until an accept file uses it. */
TEST(accept_corpus_uses_every_op)
{
    static char files[MAX_FILES][512];
    int n = list_c_files("tests/check/accept", files, MAX_FILES);
    size_t cap = 1 << 20, len = 0;
    char *all = calloc(1, cap);
    for (int f = 0; f < n && all; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) continue;
        len += fread(all + len, 1, cap - 1 - len, fp);
        fclose(fp);
    }
    const char *h = jit_dsl_header;
    int ops = 0;
    while (all && (h = strstr(h, "\n#define aa_"))) {
        h += 9;
        char name[64], use[66];
        size_t k = 0;
        while (k < sizeof name - 1 && (h[k] == '_' || (h[k] >= 'a' && h[k] <= 'z') || (h[k] >= '0' && h[k] <= '9')))
            k++;
        snprintf(name, sizeof name, "%.*s", (int)k, h);
        snprintf(use, sizeof use, "%s(", name);
        CHECK_MSG(strstr(all, use) != NULL, "no file in tests/check/accept uses %s", name);
        ops++;
    }
    CHECK(ops > 40);
    free(all);
}

/* registry.c is the C table that links the references into the binary, not
 * a DSL file. */
TEST(reference_mixers_accepted) { expect_accepted("arch", "/registry.c", 6); }

/* A report prints as FILE:LINE:COL: RULE: message, then the source line and
 * a caret under the column. */
TEST(report_format)
{
    jit_source src;
    const char *text = "#include <asiarch.h>\n"
                       "aa_t mixer(aa_layer *l, aa_t x)\n"
                       "{\n"
                       "    int *p = 0;\n"
                       "    return x;\n"
                       "}\n";
    CHECK(jit_source_from_string("cand.c", text, &src) == 0);
    aa_reports reps = {0};
    int n = jit_check(&src, &reps);
    CHECK(n == 1 && reps.n == 1);
    if (reps.n >= 1) {
        const aa_report *r = &reps.items[0];
        CHECK(!strcmp(r->rule, "dsl/pointer") && r->line == 4 && r->col == 10);
        CHECK(!strcmp(r->snippet, "    int *p = 0;"));
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        aa_report_print(r, out);
        fclose(out);
        char head[1024];
        snprintf(head, sizeof head, "cand.c:4:10: dsl/pointer: %s\n", r->message);
        CHECK_MSG(!strncmp(buf, head, strlen(head)), "printed: %s", buf);
        const char *rest = buf + strlen(head);
        CHECK_STR_CONTAINS(rest, "    int *p = 0;\n");
        CHECK_STR_CONTAINS(rest, "\n             ^\n");   /* 4 + 9 spaces: column 10 */
        CHECK_STR_CONTAINS(r->message, "aa_layer *");         /* says what to do instead */
        free(buf);
    }
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* Reports come in source order even when the passes find them out of
 * order, and the count returned is the number of reports. */
TEST(source_order)
{
    jit_source src;
    const char *text = "#include <asiarch.h>\n"
                       "static int f(int n);\n"
                       "static int g(int n) { return f(n); }\n"
                       "static int f(int n) { while (n) n--; return g(n); }\n"
                       "#define X 1\n"
                       "aa_t mixer(aa_layer *l, aa_t x) { volatile int v = 0; goto out; out: return x; }\n";
    CHECK(jit_source_from_string("order.c", text, &src) == 0);
    aa_reports reps = {0};
    int n = jit_check(&src, &reps);
    CHECK(n == reps.n && n >= 6);
    check_order(&reps, "order.c");
    static const char *const want[] = {"dsl/recursion", "dsl/loop-unbounded", "dsl/preprocessor",
                                       "dsl/volatile", "dsl/goto"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        int seen = 0;
        for (int i = 0; i < reps.n; i++) seen |= !strcmp(reps.items[i].rule, want[k]);
        CHECK_MSG(seen, "no %s", want[k]);
    }
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* Sheer size: more than 1 MiB is refused before parsing; thousands of
 * violations are capped with a summary; deep nesting does not crash. */
TEST(limits)
{
    aa_reports reps = {0};
    jit_source src = {.path = "huge.c"};
    src.len = ((size_t)1 << 20) + 1;
    src.text = malloc(src.len + 1);
    memset(src.text, ' ', src.len);
    src.text[src.len] = 0;
    CHECK(jit_check(&src, &reps) == 1 && reps.n == 1 && !strcmp(reps.items[0].rule, "dsl/source-too-large"));
    aa_reports_free(&reps);
    free(src.text);

    /* 3000 mutable globals */
    size_t cap = 64 * 3000 + 256, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "#include <asiarch.h>\n");
    for (int i = 0; i < 3000; i++) len += (size_t)snprintf(text + len, cap - len, "int g%d;\n", i);
    len += (size_t)snprintf(text + len, cap - len, "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n");
    CHECK(jit_source_from_string("many.c", text, &src) == 0);
    int n = jit_check(&src, &reps);
    CHECK(n == 3000);
    CHECK(reps.n > 0 && reps.n <= 201 && !strcmp(reps.items[reps.n - 1].rule, "dsl/too-many-violations"));
    aa_reports_free(&reps);
    jit_source_free(&src);

    /* a 20000-deep expression, 1+1+..., is refused before clang sees it
     * (it would overflow the parser's stack) */
    len = 0;
    cap = 3 * 20000 + 4096;
    text = realloc(text, cap);
    len += (size_t)snprintf(text + len, cap - len, "#include <asiarch.h>\nstatic const int k = 1");
    for (int i = 0; i < 20000; i++) len += (size_t)snprintf(text + len, cap - len, "+1");
    len += (size_t)snprintf(text + len, cap - len, ";\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n");
    CHECK(jit_source_from_string("deep.c", text, &src) == 0);
    n = jit_check(&src, &reps);
    CHECK(n == 1 && reps.n == 1 && !strcmp(reps.items[0].rule, "dsl/too-complex"));
    aa_reports_free(&reps);
    jit_source_free(&src);

    /* 300 nested parentheses: clang's own bracket limit (256) stops it */
    len = 0;
    len += (size_t)snprintf(text + len, cap - len, "#include <asiarch.h>\nstatic const int m = ");
    for (int i = 0; i < 300; i++) text[len++] = '(';
    text[len++] = '1';
    for (int i = 0; i < 300; i++) text[len++] = ')';
    len += (size_t)snprintf(text + len, cap - len, ";\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n");
    CHECK(jit_source_from_string("brackets.c", text, &src) == 0);
    n = jit_check(&src, &reps);
    int bracket_error = 0;
    for (int i = 0; i < reps.n; i++)
        bracket_error |= !strcmp(reps.items[i].rule, "dsl/compiler-error") && strstr(reps.items[i].message, "bracket");
    CHECK(n >= 1 && bracket_error);
    aa_reports_free(&reps);
    jit_source_free(&src);
    free(text);

    /* empty input */
    CHECK(jit_source_from_string("empty.c", "", &src) == 0);
    n = jit_check(&src, &reps);
    CHECK(n == 2 && reps.n == 2);   /* no include, no mixer */
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* The checker never reads the file system: an include of a real file is
 * only a dsl/include report, never its content. */
TEST(no_file_access)
{
    jit_source src;
    const char *text = "#include <asiarch.h>\n#include \"" ASIARCH_SOURCE_DIR "/tests/test_check.c\"\n"
                       "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n";
    CHECK(jit_source_from_string("inc.c", text, &src) == 0);
    aa_reports reps = {0};
    int n = jit_check(&src, &reps);
    CHECK(n == 1 && reps.n == 1 && !strcmp(reps.items[0].rule, "dsl/include") && reps.items[0].line == 2);
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* Run jit_check with a stand-in helper program (a shell script) that
 * misbehaves the way libclang can; returns jit_check's result. */
static int check_with_helper(const char *script, const char *timeout, aa_reports *reps)
{
    char dir[] = "/tmp/asiarch-test-check-XXXXXX", path[256];
    if (!mkdtemp(dir)) return -99;
    snprintf(path, sizeof path, "%s/asiarch-check", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -99;
    fprintf(f, "#!/bin/sh\n%s\n", script);
    fclose(f);
    chmod(path, 0755);
    setenv("ASIARCH_CHECKER", path, 1);
    if (timeout) setenv("ASIARCH_CHECK_TIMEOUT", timeout, 1);
    jit_source src;
    jit_source_from_string("cand.c", "#include <asiarch.h>\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &src);
    int n = jit_check(&src, reps);
    jit_source_free(&src);
    unsetenv("ASIARCH_CHECKER");
    unsetenv("ASIARCH_CHECK_TIMEOUT");
    unlink(path);
    rmdir(dir);
    return n;
}

/* libclang runs in a child: whatever it does to that process (crash, hang,
 * garbage, nothing), the caller gets one report and carries on. */
TEST(checker_failures_are_contained)
{
    static const struct { const char *script, *timeout, *rule, *needle; } cases[] = {
        {"kill -SEGV $$", NULL, "check/crash", "signal 11"},
        {"kill -ABRT $$", NULL, "check/crash", "signal 6"},
        {"echo 'LIBCLANG FATAL ERROR: something'; exit 1", NULL, "check/crash", "LIBCLANG FATAL ERROR"},
        {"echo 'asiarch-check-verdict: 2 [not json'", NULL, "check/crash", "without a verdict"},
        {"exit 0", NULL, "check/crash", "without a verdict"},
        {"exec sleep 30", "1", "check/timeout", "more than 1 seconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aa_reports reps = {0};
        int n = check_with_helper(cases[i].script, cases[i].timeout, &reps);
        CHECK_MSG(n == 1 && reps.n == 1, "%s: returned %d with %d reports", cases[i].script, n, reps.n);
        if (reps.n >= 1) {
            CHECK_MSG(!strcmp(reps.items[0].rule, cases[i].rule), "%s: %s", cases[i].script, reps.items[0].rule);
            CHECK_STR_CONTAINS(reps.items[0].message, cases[i].needle);
            CHECK(!strcmp(reps.items[0].stage, "check") && !strcmp(reps.items[0].file, "cand.c"));
        }
        aa_reports_free(&reps);
    }
    /* a helper that is not there: the checker cannot run (-1), said plainly */
    setenv("ASIARCH_CHECKER", "/nonexistent/asiarch-check", 1);
    jit_source src;
    jit_source_from_string("cand.c", "int x;", &src);
    aa_reports reps = {0};
    CHECK(jit_check(&src, &reps) == -1 && reps.n == 1 && !strcmp(reps.items[0].rule, "check/internal"));
    unsetenv("ASIARCH_CHECKER");
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* Inputs that crash libclang itself (found by fuzz_check) end as one
 * check/crash report in the real helper; CR and CRLF line ends are read as
 * LF everywhere, so a directive behind a lone CR is seen and line numbers
 * count what the snippet shows. */
TEST(hostile_text)
{
    const char *crash = "/* expect: dsl/address-of 6 */\n#include <asiarch.h>\n\nAA_NAME(\"reject\");\n"
                        "struct s { int a, j; };\nenum { OFF = (int)(long)&((struct s *)0)$>b };\n\n"
                        "aa_t mixer(aa_layer *l, aa_t x)\n{\n    return aa_\xd4inear(l, \"o_proj\", x"
                        "#include <asiarch.h>\n\nAA_NAME(\"reject\");\nstruct s { int a, j; };\n"
                        "enum {, aa_dim(l, AA_MODEL));\n}\n";
    jit_source src;
    aa_reports reps = {0};
    CHECK(jit_source_from_string("crash.c", crash, &src) == 0);
    int n = jit_check(&src, &reps);
    int contained = 0;
    for (int i = 0; i < reps.n; i++) contained |= !strcmp(reps.items[i].rule, "check/crash");
    CHECK_MSG(n >= 1 && contained, "returned %d, %d reports", n, reps.n);
    aa_reports_free(&reps);
    jit_source_free(&src);

    CHECK(jit_source_from_string("cr.c", "#include <asiarch.h>\r\naa_t mixer(aa_layer *l, aa_t x)\r{\r"
                                 "    int *p = 0;\r\n    return x;\r}\r", &src) == 0);
    CHECK(!strchr(src.text, '\r'));
    n = jit_check(&src, &reps);
    CHECK(n == 1 && reps.n == 1 && !strcmp(reps.items[0].rule, "dsl/pointer") && reps.items[0].line == 4);
    CHECK(reps.n == 1 && !strcmp(reps.items[0].snippet, "    int *p = 0;"));
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* How long one check takes (printed; the test has no threshold). */
TEST(timing)
{
    char path[512];
    snprintf(path, sizeof path, "%s/arch/delta_net.c", ASIARCH_SOURCE_DIR);
    jit_source src;
    aa_reports reps = {0};
    CHECK(jit_source_read(path, &src, &reps) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int runs = 20;
    for (int i = 0; i < runs; i++) CHECK(jit_check(&src, &reps) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / runs;
    printf("jit_check(arch/delta_net.c): %.2f ms\n", ms);
    aa_reports_free(&reps);
    jit_source_free(&src);
}

/* Kernel mode (asiarch jit): what a C kernel may do that a candidate may
 * not, and the rules that stay. */
static int kernel_rules(const char *body, aa_reports *reps)
{
    jit_source src;
    jit_source_from_string("k.c", body, &src);
    int n = jit_check_kernel(&src, reps);
    jit_source_free(&src);
    return n;
}

TEST(kernel_mode)
{
    static const char *ok[] = {
        "void k(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = expf(x[i]); }\n",
        "#include <asiarch_kernel.h>\nvoid k(float *y, long n) { float *p = y + n - 1; while (p >= y) *p-- = 0; }\n",
        "static float twice(float v) { return 2 * v; }\n"
        "void k(const float *x, uint16_t *y, int n) { const unsigned char *b = (const unsigned char *)x;\n"
        "  for (int i = 0; i < n; i++) y[i] = ak_f32_to_f16(twice(x[i]) + b[0]); }\n",
        "enum { TILE = 64 };\nvoid k(const float *a, float *c, int n) { float t[TILE]; for (int i = 0; i < TILE; i++) t[i] = a[i];\n"
        "  ak_sgemm(0, 0, n, n, n, 1, a, n, t, n, 0, c, n); }\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        aa_reports reps = {0};
        int n = kernel_rules(ok[i], &reps);
        CHECK_MSG(n == 0, "kernel %zu: %s", i, reps.n ? reps.items[0].message : "");
        aa_reports_free(&reps);
    }
    static const struct { const char *body, *rule; } bad[] = {
        {"#include <stdio.h>\nvoid k(float *y) { y[0] = 0; }\n", "kernel/include"},
        {"#define N 4\nvoid k(float *y) { y[0] = N; }\n", "kernel/preprocessor"},
        {"void k(float *y) { float *p = (float *)4096; y[0] = p[0]; }\n", "kernel/cast-pointer"},
        {"void k(float *y) { long a = (long)y; y[0] = (float)a; }\n", "kernel/cast-pointer"},
        {"int system(const char *c);\nvoid k(float *y) { y[0] = (float)system(0); }\n", "kernel/call-not-allowed"},
        {"float acc;\nvoid k(float *y) { acc += 1; y[0] = acc; }\n", "kernel/mutable-global"},
        {"void k(float *y) { __asm__(\"nop\"); y[0] = 0; }\n", "kernel/asm"},
        {"void k(float *y, int n) { if (n) k(y, n - 1); y[0] = 0; }\n", "kernel/recursion"},
        {"void k(float *y) { void (*f)(float *) = k; f(y); }\n", "kernel/function-pointer"},
        {"__attribute__((constructor)) void k(float *y) { y[0] = 0; }\n", "kernel/attribute"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        aa_reports reps = {0};
        int n = kernel_rules(bad[i].body, &reps);
        int found = 0;
        for (int r = 0; r < reps.n; r++) found |= !strcmp(reps.items[r].rule, bad[i].rule);
        CHECK_MSG(n > 0 && found, "%s: wanted %s, got %s", bad[i].body, bad[i].rule, reps.n ? reps.items[0].rule : "(nothing)");
        for (int r = 0; r < reps.n; r++) {   /* said to a kernel, not to a DSL candidate */
            CHECK_MSG(!strstr(reps.items[r].message, "aa_*") && !strstr(reps.items[r].message, "<asiarch.h>"), "%s",
                      reps.items[r].message);
        }
        aa_reports_free(&reps);
    }
    /* and a DSL candidate still may not do what a kernel may */
    jit_source src;
    jit_source_from_string("c.c", ok[0], &src);
    aa_reports reps = {0};
    CHECK(jit_check(&src, &reps) > 0);
    jit_source_free(&src);
    aa_reports_free(&reps);
}

int main(void)
{
    RUN(kernel_mode);
    RUN(reject_corpus);
    RUN(accept_corpus);
    RUN(accept_corpus_uses_every_op);
    RUN(reference_mixers_accepted);
    RUN(report_format);
    RUN(source_order);
    RUN(limits);
    RUN(no_file_access);
    RUN(checker_failures_are_contained);
    RUN(hostile_text);
    RUN(timing);
    return test_summary();
}
