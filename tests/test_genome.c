/*
 * test_genome.c — the built-in proposer's genome (orchestrator/genome.h):
 * every rendered genome is a valid candidate (DSL checker, compiler), the
 * genome comes back from its source, names are deterministic, mutation
 * always changes something and says what, crossover stays in the grammar,
 * the distance is a distance; then a dozen diverse genomes verify in the
 * sandboxed runner at `tiny` (the worst-case one at `small` too) and three
 * of them train; `asiarch genome` draws, renders and mutates from the shell.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "genome.h"
#include "jit.h"
#include "sandbox.h"
#include "test.h"
#include "test_corpus.h"

#define N_RANDOM 300
#define N_CHAINS 30
#define CHAIN_LEN 10        /* 30 chains x 10 mutations = 300 mutated genomes */
#define N_SAMPLE 12

static char corpus[] = "/tmp/asiarch-test-genome-XXXXXX";
static char train_path[256], val_path[256];

/* A seed word for stream s (the same s gives the same genomes). */
static uint64_t seed_of(int s) { return 0x5eed0000ULL + (uint64_t)s * 0x9E3779B97F4A7C15ULL; }

static const char *first_message(const aa_reports *r) { return r->n ? r->items[0].message : "(no report)"; }

/* ---- the source of a genome ------------------------------------------------------------------ */

/* Render g and check the source with the DSL checker and the compiler (no
 * cache: this is about the compiler, not the cache). Returns the source
 * (caller frees) or NULL after recording the failure. */
static char *render_and_build(const og_genome *g, const char *motivation, jit_bitcode *bc_out)
{
    char *src = NULL, name[OG_NAME_MAX];
    og_name(g, name, sizeof name);
    CHECK_MSG(og_render(g, motivation, &src) == 0 && src, "%s: render failed", name);
    if (!src) return NULL;

    jit_source js;
    char path[96];
    snprintf(path, sizeof path, "%s.c", name);
    jit_source_from_string(path, src, &js);
    aa_reports reps = {0};
    int violations = jit_check(&js, &reps);
    CHECK_MSG(violations == 0, "%s: %d violations, first: %s:%d: %s: %s\n%s", name, violations,
              reps.n ? reps.items[0].file : "", reps.n ? reps.items[0].line : 0, reps.n ? reps.items[0].rule : "",
              first_message(&reps), src);
    aa_reports_free(&reps);

    jit_compile_opts o;
    jit_compile_defaults(&o);
    o.use_cache = 0;
    jit_bitcode bc = {0};
    int rc = jit_compile(&js, &o, &bc, &reps);
    CHECK_MSG(rc == 0, "%s: compile failed: %s", name, first_message(&reps));
    aa_reports_free(&reps);
    if (bc_out && rc == 0) *bc_out = bc;
    else jit_bitcode_free(&bc);
    jit_source_free(&js);
    return src;
}

/* The properties every genome has, whoever made it. */
static void check_genome(const og_genome *g, const char *src)
{
    char err[256] = "", a[OG_NAME_MAX], b[OG_NAME_MAX];
    CHECK_MSG(og_validate(g, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(!strcmp(og_name(g, a, sizeof a), og_name(g, b, sizeof b)) && strlen(a) > 0 && strlen(a) < OG_NAME_MAX - 1,
              "name '%s' vs '%s'", a, b);

    og_genome back;
    CHECK_MSG(og_from_source(src, &back, err, sizeof err) == 0, "%s: %s", a, err);
    CHECK_MSG(og_equal(g, &back), "%s: the genome read back from its source differs", a);

    char *json = og_to_json_string(g);
    og_genome parsed;
    CHECK(json && og_from_json_string(json, &parsed, err, sizeof err) == 0 && og_equal(g, &parsed));
    free(json);

    CHECK(og_distance(g, g) == 0.0);
    CHECK(og_distance(g, &back) == 0.0);
}

/* ---- random genomes ---------------------------------------------------------------------------- */

TEST(random_genomes_render_valid_candidates)
{
    int kinds[OG_PATH_KINDS] = {0}, routers[OG_ROUTER_KINDS] = {0}, counts[OG_MAX_PATHS + 1] = {0};
    for (int s = 0; s < N_RANDOM; s++) {
        uint64_t rng = seed_of(s), again = seed_of(s);
        og_genome g, h;
        og_random(&g, &rng);
        og_random(&h, &again);
        CHECK_MSG(og_equal(&g, &h), "seed %d: og_random is not deterministic", s);
        char *src = render_and_build(&g, NULL, NULL), *src2 = NULL;
        if (!src) continue;
        check_genome(&g, src);
        CHECK(og_render(&h, NULL, &src2) == 0 && src2 && !strcmp(src, src2));   /* same genome, same file */
        free(src2);
        free(src);
        for (int i = 0; i < g.n_paths; i++) kinds[g.paths[i].kind]++;
        routers[g.router.kind]++;
        counts[g.n_paths]++;
    }
    for (int k = 0; k < OG_PATH_KINDS; k++) CHECK_MSG(kinds[k] > 0, "path kind %d never drawn", k);
    for (int k = 0; k < OG_ROUTER_KINDS; k++) CHECK_MSG(routers[k] > 0, "router kind %d never drawn", k);
    for (int n = 1; n <= OG_MAX_PATHS; n++) CHECK_MSG(counts[n] > 0, "no genome with %d paths", n);
}

/* ---- mutation and crossover --------------------------------------------------------------------- */

TEST(mutation_chains_change_something_and_stay_valid)
{
    for (int c = 0; c < N_CHAINS; c++) {
        uint64_t rng = seed_of(10000 + c);
        og_genome g;
        og_random(&g, &rng);
        for (int step = 0; step < CHAIN_LEN; step++) {
            og_genome child;
            char what[512] = "";
            og_mutate(&g, &child, &rng, what, sizeof what);
            char pn[OG_NAME_MAX], cn[OG_NAME_MAX];
            og_name(&g, pn, sizeof pn);
            og_name(&child, cn, sizeof cn);
            CHECK_MSG(!og_equal(&g, &child), "chain %d step %d: %s did not change (%s)", c, step, pn, what);
            CHECK_MSG(strlen(what) > 0, "chain %d step %d: no description of the change", c, step);
            double d = og_distance(&g, &child);
            CHECK_MSG(d > 0.0 && d <= 1.0 && d == og_distance(&child, &g), "%s -> %s: distance %g", pn, cn, d);
            char *src = render_and_build(&child, what, NULL);
            if (src) check_genome(&child, src);
            free(src);
            g = child;
        }
    }
}

TEST(mutate_in_place_and_what_may_be_null)
{
    uint64_t rng = seed_of(77);
    og_genome g, before;
    og_random(&g, &rng);
    for (int i = 0; i < 200; i++) {
        before = g;
        og_mutate(&g, &g, &rng, NULL, 0);
        CHECK(!og_equal(&g, &before));
        CHECK(og_validate(&g, NULL, 0) == 0);
    }
}

TEST(crossover_children_are_valid_and_take_from_their_parents)
{
    uint64_t rng = seed_of(20000);
    for (int i = 0; i < 200; i++) {
        og_genome a, b, c;
        og_random(&a, &rng);
        og_random(&b, &rng);
        og_crossover(&a, &b, &c, &rng);
        char err[256] = "";
        CHECK_MSG(og_validate(&c, err, sizeof err) == 0, "%s", err);
        CHECK(c.n_paths <= (a.n_paths > b.n_paths ? a.n_paths : b.n_paths));   /* less paths both gave */
        CHECK(c.out_norm == a.out_norm || c.out_norm == b.out_norm);
        CHECK(c.out_gate == a.out_gate || c.out_gate == b.out_gate);
        CHECK(c.router.temperature == a.router.temperature || c.router.temperature == b.router.temperature);
        og_crossover(&a, &a, &c, &rng);
        CHECK(og_equal(&a, &c));                /* a genome crossed with itself is itself */
        if (i % 20 == 0) {                      /* a sample of children through the checker and compiler */
            char *src = render_and_build(&c, NULL, NULL);
            if (src) check_genome(&c, src);
            free(src);
        }
    }
}

/* ---- distance ------------------------------------------------------------------------------------- */

TEST(distance_is_symmetric_bounded_and_zero_only_for_equal_genomes)
{
    enum { N = 60 };
    og_genome g[N];
    uint64_t rng = seed_of(30000);
    for (int i = 0; i < N; i++) og_random(&g[i], &rng);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double d = og_distance(&g[i], &g[j]);
            CHECK_MSG(d >= 0.0 && d <= 1.0, "distance %g", d);
            CHECK_MSG(d == og_distance(&g[j], &g[i]), "distance(%d,%d) is not symmetric", i, j);
            CHECK_MSG((d == 0.0) == og_equal(&g[i], &g[j]), "distance(%d,%d) = %g", i, j, d);
        }

    /* A permutation of the same paths is the same genome once canonical. */
    og_genome a = g[0], b;
    if (a.n_paths < 2) og_mutate(&g[0], &a, &rng, NULL, 0);
    b = a;
    for (int i = 0; i < b.n_paths / 2; i++) {
        og_path t = b.paths[i];
        b.paths[i] = b.paths[b.n_paths - 1 - i];
        b.paths[b.n_paths - 1 - i] = t;
    }
    CHECK(og_distance(&a, &b) == 0.0);
    og_canonicalize(&b);
    CHECK(og_equal(&a, &b));

    /* Structure weighs more than tuning. */
    char err[256];
    og_genome x, y, z;
    CHECK(og_from_json_string("{\"paths\":[{\"kind\":\"delta\"},{\"kind\":\"fir\",\"length\":4}],"
                              "\"router\":{\"kind\":\"softmax\"}}", &x, err, sizeof err) == 0);
    CHECK(og_from_json_string("{\"paths\":[{\"kind\":\"delta\"},{\"kind\":\"fir\",\"length\":5}],"
                              "\"router\":{\"kind\":\"softmax\"}}", &y, err, sizeof err) == 0);
    CHECK(og_from_json_string("{\"paths\":[{\"kind\":\"gla\"},{\"kind\":\"identity\"}],"
                              "\"router\":{\"kind\":\"sigmoid\"}}", &z, err, sizeof err) == 0);
    CHECK(og_distance(&x, &y) < og_distance(&x, &z));
}

/* ---- names, JSON and source --------------------------------------------------------------------- */

TEST(names_read_as_the_design)
{
    og_genome g;
    char err[256], name[OG_NAME_MAX];
    CHECK(og_from_json_string("{\"paths\":[{\"kind\":\"fir\",\"length\":7},{\"kind\":\"delta\"},"
                              "{\"kind\":\"gated_delta\"}],\"router\":{\"kind\":\"softmax\",\"temperature\":0.7},"
                              "\"output_norm\":\"none\"}", &g, err, sizeof err) == 0);
    CHECK_MSG(!strcmp(og_name(&g, name, sizeof name), "delta_gdn_fir7_softmax_t0p7"), "%s", name);
    char tiny[8];
    og_name(&g, tiny, sizeof tiny);                 /* truncates, stays terminated */
    CHECK(!strcmp(tiny, "delta_g"));
}

TEST(json_errors_say_where_and_why)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"[1]", "expected a JSON object"},
        {"{\"paths\":[{\"kind\":\"delta\"}]", "ends too early"},
        {"{\"router\":{\"kind\":\"sigmoid\"}}", "paths: missing"},
        {"{\"paths\":[],\"router\":{\"kind\":\"sigmoid\"}}", "0 paths"},
        {"{\"paths\":[{\"kind\":\"dleta\"}],\"router\":{\"kind\":\"sigmoid\"}}", "paths[0].kind: 'dleta' is not one of"},
        {"{\"paths\":[{\"kind\":\"fir\"}],\"router\":{\"kind\":\"sigmoid\"}}", "paths[0].length: missing"},
        {"{\"paths\":[{\"kind\":\"fir\",\"length\":17}],\"router\":{\"kind\":\"sigmoid\"}}", "17 is outside 2..16"},
        {"{\"paths\":[{\"kind\":\"fir\",\"length\":7.5}],\"router\":{\"kind\":\"sigmoid\"}}", "not a whole number"},
        {"{\"paths\":[{\"kind\":\"gla\",\"length\":3}],\"router\":{\"kind\":\"sigmoid\"}}",
         "'length' is not a field of a gla path"},
        {"{\"paths\":[{\"kind\":\"delta\",\"qk_l2\":false}],\"router\":{\"kind\":\"sigmoid\"}}",
         "needs L2-normalised q and k"},
        {"{\"paths\":[{\"kind\":\"delta\",\"norm\":1}],\"router\":{\"kind\":\"sigmoid\"}}", "expected true or false"},
        {"{\"paths\":[{\"kind\":\"gla\"}],\"router\":{\"kind\":\"softmax\"}}", "a single path takes the sigmoid"},
        {"{\"paths\":[{\"kind\":\"identity\"},{\"kind\":\"identity\"}],\"router\":{\"kind\":\"softmax\"}}",
         "paths 0 and 1 are the same identity path"},
        {"{\"paths\":[{\"kind\":\"gla\"},{\"kind\":\"gla\"}],\"router\":{\"kind\":\"softmax\",\"stats\":\"rms\"}}",
         "'stats' is not a field of a sigmoid or softmax router"},
        {"{\"paths\":[{\"kind\":\"gla\"}],\"router\":{\"kind\":\"sigmoid\",\"temperature\":9}}",
         "router.temperature: 9 is outside"},
        {"{\"paths\":[{\"kind\":\"gla\"}],\"router\":{\"kind\":\"sigmoid\"},\"output_gate\":\"tanh\"}",
         "output_gate: 'tanh' is not one of none, silu, sigmoid"},
        {"{\"paths\":[{\"kind\":\"gla\"}],\"router\":{\"kind\":\"sigmoid\"},\"extra\":1}", "'extra' is not a field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        og_genome g;
        char err[256] = "";
        CHECK_MSG(og_from_json_string(cases[i].json, &g, err, sizeof err) == -1, "accepted %s", cases[i].json);
        CHECK_STR_CONTAINS(err, cases[i].needle);
    }
    og_genome g;
    char err[256] = "";
    CHECK(og_from_source("#include <asiarch.h>\n", &g, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "no 'asiarch-genome:' line");
}

/* The motivation reaches the module byte for byte, whatever it holds. */
TEST(motivation_is_escaped_exactly)
{
    const char *motivation = "Quotes \"like this\", a backslash \\, trigraph ?\?= and ?\?/, a comment end */, "
                             "UTF-8 caf\xc3\xa9, and a line that is long enough to be broken across several string "
                             "literals by the renderer without splitting a word or an escape sequence anywhere.";
    og_genome g;
    uint64_t rng = seed_of(40000);
    og_random(&g, &rng);
    jit_bitcode bc = {0};
    char *src = render_and_build(&g, motivation, &bc);
    if (!src) return;
    jit_source js;
    jit_source_from_string("motivation.c", src, &js);
    aa_reports reps = {0};
    jit_module *m = bc.data ? jit_load(&bc, &js, &reps) : NULL;   /* linking only: no candidate code runs */
    CHECK_MSG(m != NULL, "%s", first_message(&reps));
    if (m) {
        CHECK_MSG(!strcmp(jit_motivation(m), motivation), "got: %s", jit_motivation(m));
        char name[OG_NAME_MAX];
        CHECK(!strcmp(jit_name(m), og_name(&g, name, sizeof name)));
        jit_unload(m);
    }
    aa_reports_free(&reps);
    jit_source_free(&js);
    jit_bitcode_free(&bc);
    free(src);
}

/* ---- in the sandbox --------------------------------------------------------------------------------- */

/* What a genome shows of the grammar, as bits: path kinds, router kinds,
 * statistics, output norms and gates, beta, feature maps. */
static uint64_t features_of(const og_genome *g)
{
    uint64_t f = 0;
    for (int i = 0; i < g->n_paths; i++) {
        const og_path *p = &g->paths[i];
        f |= 1ULL << p->kind;
        f |= 1ULL << (5 + p->feature);
        if (p->beta == OG_BETA_SIGMOID2) f |= 1ULL << 9;
        if (p->kind == OG_PATH_GLA && !p->qk_l2) f |= 1ULL << 10;
        if (p->fir_init == OG_FIR_INIT_RANDOM) f |= 1ULL << 11;
    }
    f |= 1ULL << (12 + g->router.kind);
    if (g->router.stats) f |= 1ULL << (15 + g->router.stats);
    f |= 1ULL << (18 + g->out_norm);
    f |= 1ULL << (21 + g->out_gate);
    if (g->router.floor > 0) f |= 1ULL << 24;
    if (g->router.entropy_weight > 0) f |= 1ULL << 25;
    f |= 1ULL << (26 + g->n_paths);
    return f;
}

static int popcount64(uint64_t x) { return __builtin_popcountll(x); }

/* N_SAMPLE genomes that together show as much of the grammar as possible:
 * greedily the one adding most features, ties broken by distance from
 * those already chosen. */
static int diverse_sample(og_genome *out)
{
    enum { POOL = 400 };
    static og_genome pool[POOL];
    uint64_t rng = seed_of(50000), seen = 0;
    for (int i = 0; i < POOL; i++) og_random(&pool[i], &rng);
    for (int n = 0; n < N_SAMPLE; n++) {
        int best = -1;
        double best_score = -1;
        for (int i = 0; i < POOL; i++) {
            double nearest = 1.0;
            for (int j = 0; j < n; j++) {
                double d = og_distance(&pool[i], &out[j]);
                if (d < nearest) nearest = d;
            }
            if (nearest == 0.0) continue;
            double score = popcount64(features_of(&pool[i]) & ~seen) + nearest;
            if (score > best_score) { best_score = score; best = i; }
        }
        out[n] = pool[best];
        seen |= features_of(&pool[best]);
    }
    return N_SAMPLE;
}

static rt_config tiny_config(int steps)
{
    rt_config cfg;
    char err[256];
    rt_config_scale("tiny", &cfg, err, sizeof err);
    cfg.steps = steps;
    cfg.mqar_steps = 0;
    cfg.eval_batches = 2;
    cfg.seed = 11;
    return cfg;
}

/* Compile g's source and run one job of kind on it in a strict runner. */
static int run_genome(const og_genome *g, sb_job_kind kind, const rt_config *cfg, sb_result *res)
{
    memset(res, 0, sizeof *res);
    jit_bitcode bc = {0};
    char *src = render_and_build(g, NULL, &bc);
    if (!src || !bc.data) {
        free(src);
        return -1;
    }
    char name[OG_NAME_MAX], path[96];
    snprintf(path, sizeof path, "%s.c", og_name(g, name, sizeof name));
    jit_source js;
    jit_source_from_string(path, src, &js);
    sb_job job;
    sb_job_init(&job, kind);
    job.source = &js;
    job.bitcode = &bc;
    job.cfg = *cfg;
    job.verify = 0;
    job.train_path = train_path;
    job.val_path = val_path;
    job.limits.wall_s = 120;
    /* One thread: these models are too small to gain from two, and OpenMP
     * threads that spin at barriers slow to a crawl on a box shared with
     * other work (ctest -j, other builds). */
    job.limits.threads = 1;
    int rc = sb_run(&job, res);
    jit_bitcode_free(&bc);
    jit_source_free(&js);
    free(src);
    return rc;
}

TEST(a_diverse_sample_verifies_in_the_sandbox_and_three_train)
{
    og_genome sample[N_SAMPLE];
    diverse_sample(sample);
    int kinds = 0, routers = 0;
    for (int i = 0; i < N_SAMPLE; i++) {
        for (int p = 0; p < sample[i].n_paths; p++) kinds |= 1 << sample[i].paths[p].kind;
        routers |= 1 << sample[i].router.kind;
    }
    CHECK_MSG(kinds == (1 << OG_PATH_KINDS) - 1 && routers == (1 << OG_ROUTER_KINDS) - 1,
              "the sample misses a path kind (%x) or a router kind (%x)", kinds, routers);

    rt_config verify_cfg = tiny_config(1);
    for (int i = 0; i < N_SAMPLE; i++) {
        char name[OG_NAME_MAX];
        og_name(&sample[i], name, sizeof name);
        sb_result res;
        run_genome(&sample[i], SB_JOB_VERIFY, &verify_cfg, &res);
        CHECK_MSG(res.outcome == SB_DONE && res.have_verify_info, "%s: %s: %s", name, sb_outcome_name(res.outcome),
                  first_message(&res.reports));
        if (res.have_verify_info) {
            CHECK_MSG(res.verify_info.param_ratio <= 1.5, "%s: %.3f x DeltaNet's parameters", name,
                      res.verify_info.param_ratio);
            CHECK(res.verify_info.causality_probes > 0);
            printf("  verified %-52s %.3f x DeltaNet's parameters\n", name, res.verify_info.param_ratio);
        }
        sb_result_free(&res);
    }

    for (int i = 0; i < 3; i++) {
        char name[OG_NAME_MAX];
        og_name(&sample[i], name, sizeof name);
        rt_config cfg = tiny_config(20);
        sb_result res;
        run_genome(&sample[i], SB_JOB_TRAIN, &cfg, &res);
        CHECK_MSG(res.outcome == SB_DONE && res.have_metrics, "%s: %s: %s", name, sb_outcome_name(res.outcome),
                  first_message(&res.reports));
        if (res.have_metrics) {
            CHECK_MSG(isfinite(res.metrics.train_loss) && isfinite(res.metrics.val_loss) && !res.metrics.diverged,
                      "%s: train loss %g, val loss %g", name, res.metrics.train_loss, res.metrics.val_loss);
            printf("  trained  %-52s 20 steps: train loss %.3f, val loss %.3f\n", name, res.metrics.train_loss,
                   res.metrics.val_loss);
        }
        sb_result_free(&res);
    }
}

/* The largest genome of the grammar (four GLA paths, an MLP router, gated
 * RMSNorm and an output gate) stays within the budget at `small` as well. */
TEST(the_largest_genome_fits_the_budget_at_small)
{
    og_genome g;
    char err[256];
    CHECK(og_from_json_string("{\"paths\":[{\"kind\":\"gla\"},{\"kind\":\"gla\",\"feature\":\"elu1\"},"
                              "{\"kind\":\"gla\",\"feature\":\"relu\"},{\"kind\":\"gla\",\"feature\":\"identity\"}],"
                              "\"router\":{\"kind\":\"mlp\"},\"output_norm\":\"gated_rms\",\"output_gate\":\"silu\"}",
                              &g, err, sizeof err) == 0);
    rt_config cfg;
    rt_config_scale("small", &cfg, err, sizeof err);
    cfg.steps = 1;
    cfg.mqar_steps = 0;
    sb_result res;
    run_genome(&g, SB_JOB_VERIFY, &cfg, &res);
    CHECK_MSG(res.outcome == SB_DONE && res.have_verify_info, "%s: %s", sb_outcome_name(res.outcome),
              first_message(&res.reports));
    if (res.have_verify_info) {
        CHECK_MSG(res.verify_info.param_ratio <= 1.5, "%.3f x DeltaNet's parameters", res.verify_info.param_ratio);
        printf("  largest genome at small: %.3f x DeltaNet's parameters (%.2f s, %s)\n", res.verify_info.param_ratio, res.wall_s, res.applied);
    }
    sb_result_free(&res);
}

/* ---- asiarch genome ----------------------------------------------------------------------------- */

/* Run `asiarch ARGS` in the shell; stdout into *out (malloc'd), stderr into
 * *err (malloc'd, may be NULL); returns the exit status. */
static int run_cli(const char *args, char **out, char **err)
{
    char cmd[1024], errpath[300];
    snprintf(errpath, sizeof errpath, "%s/stderr", corpus);
    snprintf(cmd, sizeof cmd, "%s %s 2>'%s'", ASIARCH_BINARY, args, errpath);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while (p && buf && (k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 1024) buf = realloc(buf, cap *= 2);
    }
    if (buf) buf[len] = '\0';
    int status = p ? pclose(p) : -1;
    *out = buf;
    if (err) {
        FILE *f = fopen(errpath, "r");
        char *e = calloc(1, 4096);
        if (f && e) e[fread(e, 1, 4095, f)] = '\0';
        if (f) fclose(f);
        *err = e;
    }
    unlink(errpath);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(the_genome_command_draws_renders_and_mutates)
{
    char *a, *b, *err, args[512], path[300];
    CHECK(run_cli("genome random --seed 3", &a, NULL) == 0);
    CHECK(run_cli("genome random --seed 3", &b, NULL) == 0);
    CHECK(a && b && !strcmp(a, b));                     /* a seed is a genome */
    og_genome g, expected;
    uint64_t rng = 3;
    og_random(&expected, &rng);
    char e[256] = "";
    CHECK_MSG(a && og_from_source(a, &g, e, sizeof e) == 0 && og_equal(&g, &expected), "%s", e);
    free(b);

    /* render: the printed candidate, back to the same file through a pipe */
    snprintf(path, sizeof path, "%s/cand.c", corpus);
    FILE *f = fopen(path, "w");
    if (f && a) { fputs(a, f); fclose(f); }
    snprintf(args, sizeof args, "genome render - < '%s'", path);
    CHECK(run_cli(args, &b, NULL) == 0 && b && a && !strcmp(a, b));
    free(a);
    free(b);

    /* mutate --json: a child, what changed, and its source */
    snprintf(args, sizeof args, "genome mutate '%s' --seed 5 --json", path);
    CHECK(run_cli(args, &a, NULL) == 0);
    cJSON *o = a ? cJSON_Parse(a) : NULL;
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(o, "what");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(o, "source");
    og_genome child;
    CHECK(cJSON_IsString(what) && what->valuestring[0]);
    CHECK(og_from_json(cJSON_GetObjectItemCaseSensitive(o, "genome"), &child, e, sizeof e) == 0);
    CHECK(!og_equal(&child, &expected));
    CHECK(cJSON_IsString(source) && strstr(source->valuestring, "AA_MOTIVATION(\"A mutation of "));
    cJSON_Delete(o);
    free(a);
    unlink(path);

    /* a genome outside the grammar: exit 1 and the place of the mistake */
    snprintf(path, sizeof path, "%s/bad.json", corpus);
    if ((f = fopen(path, "w"))) {
        fputs("{\"paths\": [{\"kind\": \"fir\", \"length\": 20}], \"router\": {\"kind\": \"sigmoid\"}}", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "genome render '%s'", path);
    CHECK(run_cli(args, &a, &err) == 1);
    CHECK_STR_CONTAINS(err, "paths[0].length: 20 is outside 2..16");
    free(a);
    free(err);
    unlink(path);
    CHECK(run_cli("genome random --seed -1", &a, NULL) == 2);
    free(a);
}

/* RUN, with the test's wall time (the suite is meant to stay near a minute on 2 cores). */
#define TIMED_RUN(name)                                                                            \
    do {                                                                                           \
        struct timespec t0_, t1_;                                                                  \
        clock_gettime(CLOCK_MONOTONIC, &t0_);                                                      \
        RUN(name);                                                                                 \
        clock_gettime(CLOCK_MONOTONIC, &t1_);                                                      \
        printf("%-64s %6.2f s\n", #name, (double)(t1_.tv_sec - t0_.tv_sec) + 1e-9 * (double)(t1_.tv_nsec - t0_.tv_nsec)); \
    } while (0)

int main(void)
{
    if (test_corpus_prepare(corpus, train_path, sizeof train_path, val_path, sizeof val_path) < 0) return 1;
    TIMED_RUN(random_genomes_render_valid_candidates);
    TIMED_RUN(mutation_chains_change_something_and_stay_valid);
    TIMED_RUN(mutate_in_place_and_what_may_be_null);
    TIMED_RUN(crossover_children_are_valid_and_take_from_their_parents);
    TIMED_RUN(distance_is_symmetric_bounded_and_zero_only_for_equal_genomes);
    TIMED_RUN(names_read_as_the_design);
    TIMED_RUN(json_errors_say_where_and_why);
    TIMED_RUN(motivation_is_escaped_exactly);
    TIMED_RUN(a_diverse_sample_verifies_in_the_sandbox_and_three_train);
    TIMED_RUN(the_largest_genome_fits_the_budget_at_small);
    TIMED_RUN(the_genome_command_draws_renders_and_mutates);
    test_corpus_remove(corpus);
    return test_summary();
}
