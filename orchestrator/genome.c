/*
 * genome.c — the built-in proposer's genome (genome.h): the rules of the
 * grammar, canonical order, random genomes, mutation, crossover, distance,
 * names and JSON. Rendering to DSL source is in render.c.
 */
#include "genome.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names of the enum values (JSON, names, descriptions) ------------------------------ */

static const char *const kind_json[OG_PATH_KINDS] = {"delta", "gated_delta", "gla", "fir", "identity"};
static const char *const feature_json[OG_FEAT_KINDS] = {"silu", "elu1", "relu", "identity"};
static const char *const beta_json[OG_BETA_KINDS] = {"none", "sigmoid", "sigmoid2"};
static const char *const fir_init_json[OG_FIR_INIT_KINDS] = {"none", "dirac", "random"};
static const char *const router_json[OG_ROUTER_KINDS] = {"sigmoid", "softmax", "mlp"};
static const char *const stats_json[OG_STATS_KINDS] = {"none", "mean_std", "rms"};
static const char *const out_norm_json[OG_NORM_KINDS] = {"none", "rms", "gated_rms"};
static const char *const out_gate_json[OG_GATE_KINDS] = {"none", "silu", "sigmoid"};

/* The values mutation and og_random move between; JSON may hold any value in range. */
static const double temp_grid[] = {0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0};
static const double floor_grid[] = {0.0, 0.01, 0.02, 0.05};
static const double entropy_grid[] = {0.0, 0.001, 0.003, 0.01, 0.03};
#define GRID_LEN(a) ((int)(sizeof(a) / sizeof(a)[0]))

/* ---- randomness: splitmix64 over the caller's word -------------------------------------- */

static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n >= 1); the modulo bias is below 2^-58 for these n. */
static int below(uint64_t *rng, int n) { return (int)(next_u64(rng) % (uint64_t)n); }

static int coin(uint64_t *rng, double p) { return (double)(next_u64(rng) >> 11) * 0x1.0p-53 < p; }

/* An index drawn with the given integer weights. */
static int weighted_pick(uint64_t *rng, const int *weights, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    int r = below(rng, total);
    for (int i = 0; i < n; i++) {
        if (r < weights[i]) return i;
        r -= weights[i];
    }
    return n - 1;
}

/* ---- small text helper ------------------------------------------------------------------ */

/* Append to a NUL-terminated buffer of size len, truncating. */
static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* ---- what applies to which kind ----------------------------------------------------------- */

static int is_memory(og_path_kind k) { return k == OG_PATH_DELTA || k == OG_PATH_GATED_DELTA || k == OG_PATH_GLA; }
static int is_delta(og_path_kind k) { return k == OG_PATH_DELTA || k == OG_PATH_GATED_DELTA; }
static int has_feature(og_path_kind k) { return k != OG_PATH_IDENTITY; }

/* The short name of a path: delta, gdn, gla, fir7, id. */
static void path_short(const og_path *p, char *buf, size_t len)
{
    static const char *const shorts[OG_PATH_KINDS] = {"delta", "gdn", "gla", "fir", "id"};
    if (p->kind == OG_PATH_FIR)
        snprintf(buf, len, "fir%d", p->fir_len);
    else
        snprintf(buf, len, "%s", shorts[p->kind]);
}

/* Put the fields that do not apply to a path's kind at their canonical values. */
static void path_fix(og_path *p)
{
    if (!has_feature(p->kind)) p->feature = OG_FEAT_IDENTITY;
    if (is_delta(p->kind)) p->qk_l2 = 1;
    else if (!is_memory(p->kind)) p->qk_l2 = 0;
    if (!is_delta(p->kind)) p->beta = OG_BETA_NONE;
    else if (p->beta == OG_BETA_NONE) p->beta = OG_BETA_SIGMOID;
    if (p->kind != OG_PATH_FIR) {
        p->fir_len = 0;
        p->fir_init = OG_FIR_INIT_NONE;
    } else {
        if (p->fir_len < OG_FIR_MIN) p->fir_len = OG_FIR_MIN;
        if (p->fir_len > OG_FIR_MAX) p->fir_len = OG_FIR_MAX;
        if (p->fir_init == OG_FIR_INIT_NONE) p->fir_init = OG_FIR_INIT_DIRAC;
    }
    p->norm = p->norm ? 1 : 0;
}

/* Router fields that depend on the path count and the router kind. */
static void router_fix(og_genome *g)
{
    og_router *r = &g->router;
    if (g->n_paths == 1) {          /* a softmax over one path is the constant 1: gate it instead */
        r->kind = OG_ROUTER_SIGMOID;
        r->entropy_weight = 0.0;
    }
    if (r->kind != OG_ROUTER_MLP) {
        r->stats = OG_STATS_NONE;
        r->stats_detach = 0;
    } else if (r->stats == OG_STATS_NONE) {
        r->stats = OG_STATS_MEAN_STD;
    }
    r->stats_detach = r->stats_detach ? 1 : 0;
}

/* ---- canonical order ---------------------------------------------------------------------- */

static int cmp_int(int a, int b) { return (a > b) - (a < b); }

static int path_cmp(const og_path *a, const og_path *b)
{
    int c;
    if ((c = cmp_int(a->kind, b->kind))) return c;
    if ((c = cmp_int(a->fir_len, b->fir_len))) return c;
    if ((c = cmp_int(a->feature, b->feature))) return c;
    if ((c = cmp_int(a->qk_l2, b->qk_l2))) return c;
    if ((c = cmp_int(a->norm, b->norm))) return c;
    if ((c = cmp_int(a->beta, b->beta))) return c;
    return cmp_int(a->fir_init, b->fir_init);
}

void og_canonicalize(og_genome *g)
{
    for (int i = 1; i < g->n_paths; i++)        /* insertion sort: at most four paths */
        for (int j = i; j > 0 && path_cmp(&g->paths[j - 1], &g->paths[j]) > 0; j--) {
            og_path t = g->paths[j];
            g->paths[j] = g->paths[j - 1];
            g->paths[j - 1] = t;
        }
    for (int i = g->n_paths; i < OG_MAX_PATHS; i++) memset(&g->paths[i], 0, sizeof g->paths[i]);
}

/* Whether two paths of g are the same. A copy of a path adds parameters
 * but nothing the router could not do with one, so the grammar has none. */
static int has_duplicate(const og_genome *g)
{
    for (int i = 0; i < g->n_paths; i++)
        for (int j = i + 1; j < g->n_paths; j++)
            if (!path_cmp(&g->paths[i], &g->paths[j])) return 1;
    return 0;
}

/* Drop every path that repeats an earlier one. */
static void drop_duplicates(og_genome *g)
{
    int n = 0;
    for (int i = 0; i < g->n_paths; i++) {
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = !path_cmp(&g->paths[j], &g->paths[i]);
        if (!seen) g->paths[n++] = g->paths[i];
    }
    g->n_paths = n;
}

/* Everything a generator does last: every field canonical, no duplicate
 * path, the paths in order. */
static void finish(og_genome *g)
{
    for (int i = 0; i < g->n_paths; i++) path_fix(&g->paths[i]);
    drop_duplicates(g);
    router_fix(g);
    og_canonicalize(g);
}

/* ---- validity ------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }   /* false for NaN */

static int path_validate(const og_path *p, int i, char *err, size_t errlen)
{
    if ((unsigned)p->kind >= OG_PATH_KINDS) return fail(err, errlen, "path %d: unknown kind %d", i, (int)p->kind);
    const char *k = kind_json[p->kind];
    if ((unsigned)p->feature >= OG_FEAT_KINDS) return fail(err, errlen, "path %d (%s): unknown feature map", i, k);
    if (!has_feature(p->kind) && p->feature != OG_FEAT_IDENTITY)
        return fail(err, errlen, "path %d (%s): an identity path has no feature map", i, k);
    if (p->norm != 0 && p->norm != 1) return fail(err, errlen, "path %d (%s): norm must be 0 or 1", i, k);
    if (is_delta(p->kind) && p->qk_l2 != 1)
        return fail(err, errlen, "path %d (%s): the delta rule needs L2-normalised q and k", i, k);
    if (!is_memory(p->kind) && p->qk_l2 != 0)
        return fail(err, errlen, "path %d (%s): qk_l2 applies only to memory paths", i, k);
    if (p->qk_l2 != 0 && p->qk_l2 != 1) return fail(err, errlen, "path %d (%s): qk_l2 must be 0 or 1", i, k);
    if (is_delta(p->kind) ? (p->beta != OG_BETA_SIGMOID && p->beta != OG_BETA_SIGMOID2) : p->beta != OG_BETA_NONE)
        return fail(err, errlen, "path %d (%s): beta %s", i, k,
                    is_delta(p->kind) ? "must be sigmoid or sigmoid2" : "applies only to delta-rule paths");
    if (p->kind == OG_PATH_FIR) {
        if (p->fir_len < OG_FIR_MIN || p->fir_len > OG_FIR_MAX)
            return fail(err, errlen, "path %d (fir): length %d is outside %d..%d", i, p->fir_len, OG_FIR_MIN,
                        OG_FIR_MAX);
        if (p->fir_init != OG_FIR_INIT_DIRAC && p->fir_init != OG_FIR_INIT_RANDOM)
            return fail(err, errlen, "path %d (fir): init must be dirac or random", i);
    } else if (p->fir_len != 0 || p->fir_init != OG_FIR_INIT_NONE) {
        return fail(err, errlen, "path %d (%s): length and init apply only to fir paths", i, k);
    }
    return 0;
}

static int router_validate(const og_genome *g, char *err, size_t errlen)
{
    const og_router *r = &g->router;
    if ((unsigned)r->kind >= OG_ROUTER_KINDS) return fail(err, errlen, "router: unknown kind %d", (int)r->kind);
    if (g->n_paths == 1 && r->kind != OG_ROUTER_SIGMOID)
        return fail(err, errlen, "router: a single path takes the sigmoid router (a softmax over one path is 1)");
    if (g->n_paths == 1 && r->entropy_weight != 0.0)
        return fail(err, errlen, "router: a single path has no routing entropy; entropy_weight must be 0");
    if (!in_range(r->temperature, OG_TEMP_MIN, OG_TEMP_MAX))
        return fail(err, errlen, "router: temperature %g is outside %g..%g", r->temperature, OG_TEMP_MIN, OG_TEMP_MAX);
    if (!in_range(r->floor, 0.0, OG_FLOOR_MAX))
        return fail(err, errlen, "router: floor %g is outside 0..%g", r->floor, OG_FLOOR_MAX);
    if (!in_range(r->entropy_weight, 0.0, OG_ENTROPY_MAX))
        return fail(err, errlen, "router: entropy_weight %g is outside 0..%g", r->entropy_weight, OG_ENTROPY_MAX);
    if (r->kind == OG_ROUTER_MLP ? (r->stats != OG_STATS_MEAN_STD && r->stats != OG_STATS_RMS)
                                 : (r->stats != OG_STATS_NONE || r->stats_detach != 0))
        return fail(err, errlen, "router: stats %s", r->kind == OG_ROUTER_MLP ? "must be mean_std or rms"
                                                                              : "apply only to the mlp router");
    if (r->stats_detach != 0 && r->stats_detach != 1) return fail(err, errlen, "router: stats_detach must be 0 or 1");
    return 0;
}

int og_validate(const og_genome *g, char *err, size_t errlen)
{
    if (g->n_paths < 1 || g->n_paths > OG_MAX_PATHS)
        return fail(err, errlen, "%d paths: a genome has 1 to %d", g->n_paths, OG_MAX_PATHS);
    for (int i = 0; i < g->n_paths; i++)
        if (path_validate(&g->paths[i], i, err, errlen) < 0) return -1;
    for (int i = 0; i < g->n_paths; i++)
        for (int j = i + 1; j < g->n_paths; j++)
            if (!path_cmp(&g->paths[i], &g->paths[j]))
                return fail(err, errlen, "paths %d and %d are the same %s path: a copy adds parameters, not a "
                            "new view", i, j, kind_json[g->paths[i].kind]);
    if (router_validate(g, err, errlen) < 0) return -1;
    if ((unsigned)g->out_norm >= OG_NORM_KINDS) return fail(err, errlen, "unknown output norm %d", (int)g->out_norm);
    if ((unsigned)g->out_gate >= OG_GATE_KINDS) return fail(err, errlen, "unknown output gate %d", (int)g->out_gate);
    return 0;
}

/* ---- random genomes --------------------------------------------------------------------------- */

static void random_path(og_path *p, uint64_t *rng)
{
    static const int kind_weights[OG_PATH_KINDS] = {3, 3, 2, 3, 1};
    memset(p, 0, sizeof *p);
    p->kind = (og_path_kind)weighted_pick(rng, kind_weights, OG_PATH_KINDS);
    if (is_memory(p->kind)) {
        static const int feature_weights[OG_FEAT_KINDS] = {6, 2, 1, 2};   /* SiLU is the usual choice */
        p->feature = (og_feature)weighted_pick(rng, feature_weights, OG_FEAT_KINDS);
        p->qk_l2 = is_delta(p->kind) ? 1 : coin(rng, 0.5);
        p->norm = coin(rng, 0.7);
        p->beta = is_delta(p->kind) ? (coin(rng, 0.75) ? OG_BETA_SIGMOID : OG_BETA_SIGMOID2) : OG_BETA_NONE;
    } else if (p->kind == OG_PATH_FIR) {
        static const int feature_weights[OG_FEAT_KINDS] = {2, 1, 1, 6};   /* usually a plain filter */
        p->feature = (og_feature)weighted_pick(rng, feature_weights, OG_FEAT_KINDS);
        p->fir_len = OG_FIR_MIN + below(rng, OG_FIR_MAX - OG_FIR_MIN + 1);
        p->fir_init = coin(rng, 0.6) ? OG_FIR_INIT_DIRAC : OG_FIR_INIT_RANDOM;
        p->norm = coin(rng, 0.5);
    } else {
        p->feature = OG_FEAT_IDENTITY;
        p->norm = coin(rng, 0.3);
    }
}

static void random_router(og_genome *g, uint64_t *rng)
{
    static const int temp_weights[] = {1, 1, 2, 3, 4, 3, 2, 1, 1};   /* centred on 1 */
    og_router *r = &g->router;
    r->kind = (og_router_kind)below(rng, OG_ROUTER_KINDS);
    r->temperature = temp_grid[weighted_pick(rng, temp_weights, GRID_LEN(temp_grid))];
    r->floor = coin(rng, 0.5) ? 0.0 : floor_grid[1 + below(rng, GRID_LEN(floor_grid) - 1)];
    r->entropy_weight = coin(rng, 0.5) ? 0.0 : entropy_grid[1 + below(rng, GRID_LEN(entropy_grid) - 1)];
    r->stats = coin(rng, 0.6) ? OG_STATS_MEAN_STD : OG_STATS_RMS;
    r->stats_detach = coin(rng, 0.5);
}

void og_random(og_genome *g, uint64_t *rng)
{
    static const int count_weights[OG_MAX_PATHS] = {1, 4, 4, 2};   /* 1, 2, 3, 4 paths */
    memset(g, 0, sizeof *g);
    int want = 1 + weighted_pick(rng, count_weights, OG_MAX_PATHS);
    for (int tries = 0; g->n_paths < want && tries < 64; tries++) {
        og_path *p = &g->paths[g->n_paths++];
        random_path(p, rng);
        path_fix(p);
        if (has_duplicate(g)) g->n_paths--;     /* draw again */
    }
    random_router(g, rng);
    static const int norm_weights[OG_NORM_KINDS] = {2, 5, 3};
    static const int gate_weights[OG_GATE_KINDS] = {5, 3, 2};
    g->out_norm = (og_out_norm)weighted_pick(rng, norm_weights, OG_NORM_KINDS);
    g->out_gate = (og_out_gate)weighted_pick(rng, gate_weights, OG_GATE_KINDS);
    finish(g);
}

/* ---- mutation --------------------------------------------------------------------------------- */

/* One mutation operator: changes g (or returns 0 when it does not apply) and
 * says what it did in what (a short clause). */
typedef int (*mutation_fn)(og_genome *g, uint64_t *rng, char *what, size_t len);

/* A random index of a path for which want() holds, or -1. */
static int pick_path(const og_genome *g, uint64_t *rng, int (*want)(const og_path *))
{
    int idx[OG_MAX_PATHS], n = 0;
    for (int i = 0; i < g->n_paths; i++)
        if (want(&g->paths[i])) idx[n++] = i;
    return n ? idx[below(rng, n)] : -1;
}

static int any_path(const og_path *p) { (void)p; return 1; }
static int fir_path(const og_path *p) { return p->kind == OG_PATH_FIR; }
static int featured_path(const og_path *p) { return has_feature(p->kind); }
static int gla_path(const og_path *p) { return p->kind == OG_PATH_GLA; }
static int delta_path(const og_path *p) { return is_delta(p->kind); }

static int mut_add_path(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    if (g->n_paths >= OG_MAX_PATHS) return 0;
    og_path *p = &g->paths[g->n_paths++];
    random_path(p, rng);
    char s[16];
    path_short(p, s, sizeof s);
    snprintf(what, len, "added a %s path", s);
    return 1;
}

static int mut_remove_path(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    if (g->n_paths <= 1) return 0;
    int i = below(rng, g->n_paths);
    char s[16];
    path_short(&g->paths[i], s, sizeof s);
    memmove(&g->paths[i], &g->paths[i + 1], (size_t)(g->n_paths - i - 1) * sizeof g->paths[0]);
    g->n_paths--;
    snprintf(what, len, "removed the %s path%s", s,
             g->n_paths == 1 ? " (one path left: it is gated by a sigmoid, without an entropy term)" : "");
    return 1;
}

static int mut_replace_path(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = below(rng, g->n_paths);
    og_path p;
    do random_path(&p, rng);
    while (p.kind == g->paths[i].kind);
    char before[16], after[16];
    path_short(&g->paths[i], before, sizeof before);
    path_short(&p, after, sizeof after);
    g->paths[i] = p;
    snprintf(what, len, "replaced the %s path with %s", before, after);
    return 1;
}

static int mut_fir_length(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = pick_path(g, rng, fir_path);
    if (i < 0) return 0;
    og_path *p = &g->paths[i];
    int old = p->fir_len, step = 1 + below(rng, 3);
    int to = coin(rng, 0.5) ? old + step : old - step;
    if (to < OG_FIR_MIN || to > OG_FIR_MAX) to = old + (to < OG_FIR_MIN ? step : -step);
    p->fir_len = to;
    snprintf(what, len, "FIR length %d -> %d", old, to);
    return 1;
}

static int mut_fir_init(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = pick_path(g, rng, fir_path);
    if (i < 0) return 0;
    og_path *p = &g->paths[i];
    p->fir_init = p->fir_init == OG_FIR_INIT_DIRAC ? OG_FIR_INIT_RANDOM : OG_FIR_INIT_DIRAC;
    snprintf(what, len, "fir%d now starts %s", p->fir_len,
             p->fir_init == OG_FIR_INIT_DIRAC ? "as the identity" : "from random taps");
    return 1;
}

static int mut_feature(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = pick_path(g, rng, featured_path);
    if (i < 0) return 0;
    og_path *p = &g->paths[i];
    og_feature old = p->feature;
    p->feature = (og_feature)((old + 1 + below(rng, OG_FEAT_KINDS - 1)) % OG_FEAT_KINDS);
    char s[16];
    path_short(p, s, sizeof s);
    snprintf(what, len, "%s %s %s -> %s", s, is_memory(p->kind) ? "q/k feature map" : "activation",
             feature_json[old], feature_json[p->feature]);
    return 1;
}

static int mut_path_norm(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    og_path *p = &g->paths[pick_path(g, rng, any_path)];
    p->norm = !p->norm;
    char s[16];
    path_short(p, s, sizeof s);
    snprintf(what, len, "%s the %s path's RMSNorm", p->norm ? "added" : "removed", s);
    return 1;
}

static int mut_qk_l2(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = pick_path(g, rng, gla_path);
    if (i < 0) return 0;
    og_path *p = &g->paths[i];
    p->qk_l2 = !p->qk_l2;
    snprintf(what, len, "gla q/k L2 norm %s", p->qk_l2 ? "on" : "off");
    return 1;
}

static int mut_beta(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int i = pick_path(g, rng, delta_path);
    if (i < 0) return 0;
    og_path *p = &g->paths[i];
    p->beta = p->beta == OG_BETA_SIGMOID ? OG_BETA_SIGMOID2 : OG_BETA_SIGMOID;
    char s[16];
    path_short(p, s, sizeof s);
    snprintf(what, len, "%s beta in %s", s, p->beta == OG_BETA_SIGMOID2 ? "(0,2) (negative eigenvalues)" : "(0,1)");
    return 1;
}

static int mut_router_kind(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    if (g->n_paths < 2) return 0;
    og_router *r = &g->router;
    og_router_kind old = r->kind;
    r->kind = (og_router_kind)((old + 1 + below(rng, OG_ROUTER_KINDS - 1)) % OG_ROUTER_KINDS);
    if (r->kind == OG_ROUTER_MLP) {
        r->stats = coin(rng, 0.6) ? OG_STATS_MEAN_STD : OG_STATS_RMS;
        r->stats_detach = coin(rng, 0.5);
    }
    snprintf(what, len, "router %s -> %s", router_json[old], router_json[r->kind]);
    return 1;
}

static int mut_stats(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    og_router *r = &g->router;
    if (r->kind != OG_ROUTER_MLP) return 0;
    if (coin(rng, 0.5)) {
        r->stats = r->stats == OG_STATS_MEAN_STD ? OG_STATS_RMS : OG_STATS_MEAN_STD;
        snprintf(what, len, "router statistics now %s", r->stats == OG_STATS_RMS ? "RMS" : "mean and std");
    } else {
        r->stats_detach = !r->stats_detach;
        snprintf(what, len, "gradient %s through the router's path statistics", r->stats_detach ? "stopped" : "flows");
    }
    return 1;
}

/* The grid index nearest to v. */
static int nearest(const double *grid, int n, double v)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (fabs(grid[i] - v) < fabs(grid[best] - v)) best = i;
    return best;
}

/* A different grid value: a neighbour (step) or any other (jump). */
static double grid_move(const double *grid, int n, double v, uint64_t *rng, int step)
{
    int i = nearest(grid, n, v), j;
    if (grid[i] != v) return grid[i];           /* off the grid (from JSON): snap to it */
    if (step) j = (i == 0) ? 1 : (i == n - 1) ? n - 2 : (coin(rng, 0.5) ? i + 1 : i - 1);
    else j = (i + 1 + below(rng, n - 1)) % n;
    return grid[j];
}

static int mut_temperature(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    double old = g->router.temperature;
    g->router.temperature = grid_move(temp_grid, GRID_LEN(temp_grid), old, rng, 1);
    snprintf(what, len, "router temperature %g -> %g", old, g->router.temperature);
    return 1;
}

static int mut_floor(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    double old = g->router.floor;
    g->router.floor = grid_move(floor_grid, GRID_LEN(floor_grid), old, rng, 0);
    snprintf(what, len, "router floor %g -> %g", old, g->router.floor);
    return 1;
}

static int mut_entropy(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    if (g->n_paths < 2) return 0;
    double old = g->router.entropy_weight;
    g->router.entropy_weight = grid_move(entropy_grid, GRID_LEN(entropy_grid), old, rng, 0);
    snprintf(what, len, "entropy bonus %g -> %g", old, g->router.entropy_weight);
    return 1;
}

static int mut_out_norm(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    og_out_norm old = g->out_norm;
    g->out_norm = (og_out_norm)((old + 1 + below(rng, OG_NORM_KINDS - 1)) % OG_NORM_KINDS);
    snprintf(what, len, "output norm %s -> %s", out_norm_json[old], out_norm_json[g->out_norm]);
    return 1;
}

static int mut_out_gate(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    og_out_gate old = g->out_gate;
    g->out_gate = (og_out_gate)((old + 1 + below(rng, OG_GATE_KINDS - 1)) % OG_GATE_KINDS);
    snprintf(what, len, "output gate %s -> %s", out_gate_json[old], out_gate_json[g->out_gate]);
    return 1;
}

static const struct {
    mutation_fn fn;
    int weight;     /* structural changes more often than fine tuning */
} mutations[] = {
    {mut_add_path, 4},   {mut_remove_path, 3}, {mut_replace_path, 4}, {mut_fir_length, 3}, {mut_fir_init, 1},
    {mut_feature, 2},    {mut_path_norm, 2},   {mut_qk_l2, 1},        {mut_beta, 1},       {mut_router_kind, 3},
    {mut_stats, 1},      {mut_temperature, 2}, {mut_floor, 1},        {mut_entropy, 1},    {mut_out_norm, 2},
    {mut_out_gate, 2},
};
#define N_MUTATIONS ((int)(sizeof mutations / sizeof mutations[0]))

/* Apply one randomly chosen operator that changes g and leaves no
 * duplicate path (an operator gets a few draws at that); its clause goes
 * to what. */
static void mutate_once(og_genome *g, uint64_t *rng, char *what, size_t len)
{
    int weights[N_MUTATIONS], total = 0;
    for (int i = 0; i < N_MUTATIONS; i++) total += weights[i] = mutations[i].weight;
    while (total > 0) {     /* temperature, floor, out_norm and out_gate always apply, so this ends */
        int m = weighted_pick(rng, weights, N_MUTATIONS);
        for (int attempt = 0; attempt < 4; attempt++) {
            og_genome trial = *g;
            if (!mutations[m].fn(&trial, rng, what, len)) break;   /* does not apply to g */
            for (int i = 0; i < trial.n_paths; i++) path_fix(&trial.paths[i]);
            if (has_duplicate(&trial)) continue;
            *g = trial;
            finish(g);
            return;
        }
        total -= weights[m];
        weights[m] = 0;
    }
}

void og_mutate(const og_genome *parent, og_genome *child, uint64_t *rng, char *what, size_t len)
{
    og_genome start = *parent, g = *parent;
    char clauses[3][160];
    int n = 0, target = 1 + (coin(rng, 0.5) ? 0 : coin(rng, 0.6) ? 1 : 2);
    while (n < target || og_equal(&g, &start)) {
        og_genome before = g;
        char clause[160] = "";
        mutate_once(&g, rng, clause, sizeof clause);
        if (og_equal(&g, &start)) {         /* undid the earlier changes: take it back, try again */
            g = before;
            continue;
        }
        snprintf(clauses[n++], sizeof clauses[0], "%s", clause);
    }
    if (what && len) {
        what[0] = '\0';
        for (int i = 0; i < n; i++) append(what, len, "%s%s", i ? "; " : "", clauses[i]);
    }
    *child = g;
}

/* ---- crossover -------------------------------------------------------------------------------- */

void og_crossover(const og_genome *a, const og_genome *b, og_genome *child, uint64_t *rng)
{
    og_genome pa = *a, pb = *b, c;
    memset(&c, 0, sizeof c);
    c.n_paths = coin(rng, 0.5) ? pa.n_paths : pb.n_paths;
    for (int i = 0; i < c.n_paths; i++) {
        int from_a = i < pa.n_paths, from_b = i < pb.n_paths;
        c.paths[i] = (from_a && (!from_b || coin(rng, 0.5))) ? pa.paths[i] : pb.paths[i];
    }
    c.router = coin(rng, 0.5) ? pa.router : pb.router;
    c.out_norm = coin(rng, 0.5) ? pa.out_norm : pb.out_norm;
    c.out_gate = coin(rng, 0.5) ? pa.out_gate : pb.out_gate;
    finish(&c);
    *child = c;
}

/* ---- comparison and distance ------------------------------------------------------------------ */

int og_equal(const og_genome *a, const og_genome *b)
{
    if (a->n_paths != b->n_paths) return 0;
    for (int i = 0; i < a->n_paths; i++)
        if (path_cmp(&a->paths[i], &b->paths[i])) return 0;
    const og_router *r = &a->router, *s = &b->router;
    return r->kind == s->kind && r->temperature == s->temperature && r->floor == s->floor &&
           r->entropy_weight == s->entropy_weight && r->stats == s->stats && r->stats_detach == s->stats_detach &&
           a->out_norm == b->out_norm && a->out_gate == b->out_gate;
}

/* 1 between kinds; within a kind, up to 0.5 by the share of options that differ. */
static double path_cost(const og_path *a, const og_path *b)
{
    if (a->kind != b->kind) return 1.0;
    double diff = (a->feature != b->feature) + (a->qk_l2 != b->qk_l2) + (a->norm != b->norm) +
                  (a->beta != b->beta) + (a->fir_init != b->fir_init) +
                  fabs((double)(a->fir_len - b->fir_len)) / (OG_FIR_MAX - OG_FIR_MIN);
    return 0.5 * diff / 6.0;
}

/* The cheapest matching of a's paths to distinct paths of b (a->n_paths <=
 * b->n_paths), each unmatched path of b costing 1, over the larger count. */
static double paths_distance(const og_genome *a, const og_genome *b)
{
    int perm[OG_MAX_PATHS] = {0, 1, 2, 3}, nb = b->n_paths;
    double best = 1e9;
    for (;;) {
        double cost = nb - a->n_paths;
        for (int i = 0; i < a->n_paths; i++) cost += path_cost(&a->paths[i], &b->paths[perm[i]]);
        if (cost < best) best = cost;
        /* next permutation of perm[0..nb-1] (lexicographic) */
        int i = nb - 2;
        while (i >= 0 && perm[i] > perm[i + 1]) i--;
        if (i < 0) break;
        int j = nb - 1;
        while (perm[j] < perm[i]) j--;
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        for (int l = i + 1, r = nb - 1; l < r; l++, r--) { t = perm[l]; perm[l] = perm[r]; perm[r] = t; }
    }
    return best / nb;
}

static double router_distance(const og_router *a, const og_router *b)
{
    if (a->kind != b->kind) return 1.0;
    double d = fabs(log(a->temperature) - log(b->temperature)) / log(OG_TEMP_MAX / OG_TEMP_MIN) +
               fabs(a->floor - b->floor) / OG_FLOOR_MAX + fabs(a->entropy_weight - b->entropy_weight) / OG_ENTROPY_MAX +
               (a->stats != b->stats) + (a->stats_detach != b->stats_detach);
    return d / 5.0;
}

/* A total order of genomes by their paths, so that distance is computed in
 * one orientation and is exactly symmetric in floating point. */
static int paths_order(const og_genome *a, const og_genome *b)
{
    int c = cmp_int(a->n_paths, b->n_paths);
    for (int i = 0; !c && i < a->n_paths; i++) c = path_cmp(&a->paths[i], &b->paths[i]);
    return c;
}

double og_distance(const og_genome *a, const og_genome *b)
{
    const og_genome *x = a, *y = b;
    if (paths_order(a, b) > 0) { x = b; y = a; }        /* x has no more paths than y */
    double p = paths_distance(x, y);
    double r = router_distance(&a->router, &b->router);
    double o = 0.5 * (a->out_norm != b->out_norm) + 0.5 * (a->out_gate != b->out_gate);
    double d = 0.5 * p + 0.3 * r + 0.2 * o;
    return d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d;
}

/* ---- names and descriptions ---------------------------------------------------------------------- */

char *og_name(const og_genome *g, char *buf, size_t len)
{
    char name[OG_NAME_MAX * 2] = "";
    for (int i = 0; i < g->n_paths; i++) {
        char s[16];
        path_short(&g->paths[i], s, sizeof s);
        append(name, sizeof name, "%s%s", i ? "+" : "", s);
    }
    const og_router *r = &g->router;
    append(name, sizeof name, "_%s", router_json[r->kind]);
    if (r->kind == OG_ROUTER_MLP && r->stats == OG_STATS_RMS) append(name, sizeof name, "-rms");
    append(name, sizeof name, "_t%.2g", r->temperature);
    if (r->floor > 0) append(name, sizeof name, "_f%.2g", r->floor);
    if (r->entropy_weight > 0) append(name, sizeof name, "_e%.2g", r->entropy_weight);
    static const char *const norms[OG_NORM_KINDS] = {"", "_rms", "_grms"};
    static const char *const gates[OG_GATE_KINDS] = {"", "_silugate", "_siggate"};
    append(name, sizeof name, "%s%s", norms[g->out_norm], gates[g->out_gate]);
    /* a candidate name is [a-z0-9_] (jit_name_valid): 0.7 reads 0p7 */
    for (char *p = name; *p; p++) *p = *p == '.' ? 'p' : *p == '+' || *p == '-' ? '_' : *p;
    size_t cap = len < OG_NAME_MAX ? len : OG_NAME_MAX, n = strlen(name);
    if (!cap) return buf;
    if (n >= cap) n = cap - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return buf;
}

static void describe_path(const og_path *p, char *buf, size_t len)
{
    static const char *const what[OG_PATH_KINDS] = {
        "a delta-rule memory", "a gated delta-rule memory (scalar decay per head)",
        "a GLA memory (decay per key channel)", "", "the values themselves"};
    static const char *const feature_words[OG_FEAT_KINDS] = {"SiLU", "ELU+1", "ReLU", "linear"};
    if (p->kind == OG_PATH_FIR)
        snprintf(buf, len, "%s %d-tap causal FIR over the values%s%s%s", p->fir_len == 8 || p->fir_len == 11 ? "an" : "a",
                 p->fir_len, p->fir_init == OG_FIR_INIT_DIRAC ? " starting as the identity" : "",
                 p->feature != OG_FEAT_IDENTITY ? " through " : "",
                 p->feature != OG_FEAT_IDENTITY ? feature_words[p->feature] : "");
    else
        snprintf(buf, len, "%s", what[p->kind]);
    int other_feature = is_memory(p->kind) && p->feature != OG_FEAT_SILU, wide_beta = p->beta == OG_BETA_SIGMOID2;
    if (other_feature) append(buf, len, " with %s q/k", feature_words[p->feature]);
    if (wide_beta) append(buf, len, " %s beta in (0,2)", other_feature ? "and" : "with");
}

char *og_describe(const og_genome *g, char *buf, size_t len)
{
    static const char *const counts[] = {"", "One path", "Two paths", "Three paths", "Four paths"};
    if (!len) return buf;
    buf[0] = '\0';
    append(buf, len, "%s over shared q, k, v projections: ", counts[g->n_paths]);
    for (int i = 0; i < g->n_paths; i++) {
        char p[160];
        describe_path(&g->paths[i], p, sizeof p);
        append(buf, len, "%s%s", i == 0 ? "" : i == g->n_paths - 1 ? " and " : ", ", p);
    }
    const og_router *r = &g->router;
    if (g->n_paths == 1)
        append(buf, len, ". A sigmoid gate scales it per head and token");
    else if (r->kind == OG_ROUTER_SIGMOID)
        append(buf, len, ". Independent sigmoid gates weigh them per head and token");
    else if (r->kind == OG_ROUTER_SOFTMAX)
        append(buf, len, ". A softmax router weighs them per head and token");
    else
        append(buf, len, ". An MLP router over the hidden state and each path's %s%s weighs them per head and token",
               r->stats == OG_STATS_RMS ? "RMS" : "mean and standard deviation",
               r->stats_detach ? " (no gradient through the statistics)" : "");
    append(buf, len, " (temperature %g", r->temperature);
    if (r->floor > 0) append(buf, len, ", every weight at least %g", r->floor);
    if (r->entropy_weight > 0) append(buf, len, ", entropy bonus %g", r->entropy_weight);
    static const char *const norms[OG_NORM_KINDS] = {"", "an RMSNorm", "a gated RMSNorm"};
    static const char *const gates[OG_GATE_KINDS] = {"", "a SiLU output gate", "a sigmoid output gate"};
    append(buf, len, ")");
    if (g->out_norm != OG_NORM_NONE || g->out_gate != OG_GATE_NONE)
        append(buf, len, ", then %s%s%s", norms[g->out_norm],
               g->out_norm != OG_NORM_NONE && g->out_gate != OG_GATE_NONE ? " and " : "", gates[g->out_gate]);
    append(buf, len, ".");
    return buf;
}

/* ---- JSON ------------------------------------------------------------------------------------------ */

static cJSON *path_to_json(const og_path *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "kind", kind_json[p->kind]);
    if (p->kind == OG_PATH_FIR) {
        cJSON_AddNumberToObject(o, "length", p->fir_len);
        cJSON_AddStringToObject(o, "init", fir_init_json[p->fir_init]);
    }
    if (has_feature(p->kind)) cJSON_AddStringToObject(o, "feature", feature_json[p->feature]);
    if (is_memory(p->kind)) cJSON_AddBoolToObject(o, "qk_l2", p->qk_l2);
    cJSON_AddBoolToObject(o, "norm", p->norm);
    if (is_delta(p->kind)) cJSON_AddStringToObject(o, "beta", beta_json[p->beta]);
    return o;
}

static cJSON *router_to_json(const og_router *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "kind", router_json[r->kind]);
    cJSON_AddNumberToObject(o, "temperature", r->temperature);
    cJSON_AddNumberToObject(o, "floor", r->floor);
    cJSON_AddNumberToObject(o, "entropy_weight", r->entropy_weight);
    if (r->kind == OG_ROUTER_MLP) {
        cJSON_AddStringToObject(o, "stats", stats_json[r->stats]);
        cJSON_AddBoolToObject(o, "stats_detach", r->stats_detach);
    }
    return o;
}

cJSON *og_to_json(const og_genome *g)
{
    cJSON *o = cJSON_CreateObject(), *paths = cJSON_CreateArray();
    if (!o || !paths) {
        cJSON_Delete(o);
        cJSON_Delete(paths);
        return NULL;
    }
    cJSON_AddItemToObject(o, "paths", paths);
    for (int i = 0; i < g->n_paths; i++) cJSON_AddItemToArray(paths, path_to_json(&g->paths[i]));
    cJSON_AddItemToObject(o, "router", router_to_json(&g->router));
    cJSON_AddStringToObject(o, "output_norm", out_norm_json[g->out_norm]);
    cJSON_AddStringToObject(o, "output_gate", out_gate_json[g->out_gate]);
    /* cJSON drops items it could not allocate; a short object is an out-of-memory. */
    if (cJSON_GetArraySize(paths) != g->n_paths || cJSON_GetArraySize(o) != 4) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *og_to_json_string(const og_genome *g)
{
    cJSON *o = og_to_json(g);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* Reading: every object is checked against the keys its kind allows. */
typedef struct json_ctx {
    char *err;
    size_t errlen;
} json_ctx;

/* Index of s in names[0..n-1], or -1 with an error naming the choices. */
static int enum_value(json_ctx *c, const char *where, const cJSON *item, const char *const *names, int first, int n)
{
    if (!cJSON_IsString(item)) return fail(c->err, c->errlen, "%s: expected a string", where);
    for (int i = first; i < n; i++)
        if (!strcmp(item->valuestring, names[i])) return i;
    char choices[160] = "";
    for (int i = first; i < n; i++) append(choices, sizeof choices, "%s%s", i > first ? ", " : "", names[i]);
    return fail(c->err, c->errlen, "%s: '%s' is not one of %s", where, item->valuestring, choices);
}

static int bool_value(json_ctx *c, const char *where, const cJSON *item)
{
    if (!cJSON_IsBool(item)) return fail(c->err, c->errlen, "%s: expected true or false", where);
    return cJSON_IsTrue(item) ? 1 : 0;
}

static int number_value(json_ctx *c, const char *where, const cJSON *item, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(item)) return fail(c->err, c->errlen, "%s: expected a number", where);
    if (!in_range(item->valuedouble, lo, hi))
        return fail(c->err, c->errlen, "%s: %g is outside %g..%g", where, item->valuedouble, lo, hi);
    *out = item->valuedouble + 0.0;     /* -0 becomes 0 */
    return 0;
}

/* Whether word is one of the space-separated words of list. */
static int word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *w = list; *w;) {
        size_t len = strcspn(w, " ");
        if (len == n && n && !strncmp(w, word, n)) return 1;
        w += len;
        while (*w == ' ') w++;
    }
    return 0;
}

/* Refuse keys not in the space-separated list `allowed` (`why` says for
 * what) and keys given twice (cJSON would silently read the first). */
static int only_keys(json_ctx *c, const char *where, const cJSON *obj, const char *allowed, const char *why)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string || !word_in(allowed, it->string))
            return fail(c->err, c->errlen, "%s: '%s' is not a field of %s (fields: %s)", where,
                        it->string ? it->string : "", why, allowed);
        for (const cJSON *before = obj->child; before != it; before = before->next)
            if (!strcmp(before->string, it->string))
                return fail(c->err, c->errlen, "%s: '%s' is given twice", where, it->string);
    }
    return 0;
}

static int path_from_json(json_ctx *c, const cJSON *o, int i, og_path *p)
{
    char where[48], field[64];
    snprintf(where, sizeof where, "paths[%d]", i);
    if (!cJSON_IsObject(o)) return fail(c->err, c->errlen, "%s: expected an object", where);
    snprintf(field, sizeof field, "%s.kind", where);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!kind) return fail(c->err, c->errlen, "%s: missing (one of delta, gated_delta, gla, fir, identity)", field);
    int k = enum_value(c, field, kind, kind_json, 0, OG_PATH_KINDS);
    if (k < 0) return -1;
    memset(p, 0, sizeof *p);
    p->kind = (og_path_kind)k;
    static const char *const allowed[OG_PATH_KINDS] = {
        "kind feature qk_l2 norm beta", "kind feature qk_l2 norm beta", "kind feature qk_l2 norm",
        "kind length init feature norm", "kind norm"};
    char why[48];
    snprintf(why, sizeof why, "a %s path", kind_json[k]);
    if (only_keys(c, where, o, allowed[k], why) < 0) return -1;

    /* defaults of the kind */
    p->feature = p->kind == OG_PATH_FIR || p->kind == OG_PATH_IDENTITY ? OG_FEAT_IDENTITY : OG_FEAT_SILU;
    p->qk_l2 = is_memory(p->kind);
    p->norm = p->kind != OG_PATH_IDENTITY;
    p->beta = is_delta(p->kind) ? OG_BETA_SIGMOID : OG_BETA_NONE;
    p->fir_init = p->kind == OG_PATH_FIR ? OG_FIR_INIT_DIRAC : OG_FIR_INIT_NONE;

    const cJSON *it;
    int v;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "feature"))) {
        snprintf(field, sizeof field, "%s.feature", where);
        if ((v = enum_value(c, field, it, feature_json, 0, OG_FEAT_KINDS)) < 0) return -1;
        p->feature = (og_feature)v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "qk_l2"))) {
        snprintf(field, sizeof field, "%s.qk_l2", where);
        if ((v = bool_value(c, field, it)) < 0) return -1;
        if (is_delta(p->kind) && !v)
            return fail(c->err, c->errlen, "%s: the delta rule needs L2-normalised q and k (it diverges without)", field);
        p->qk_l2 = v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "norm"))) {
        snprintf(field, sizeof field, "%s.norm", where);
        if ((v = bool_value(c, field, it)) < 0) return -1;
        p->norm = v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "beta"))) {
        snprintf(field, sizeof field, "%s.beta", where);
        if ((v = enum_value(c, field, it, beta_json, OG_BETA_SIGMOID, OG_BETA_KINDS)) < 0) return -1;
        p->beta = (og_beta)v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "init"))) {
        snprintf(field, sizeof field, "%s.init", where);
        if ((v = enum_value(c, field, it, fir_init_json, OG_FIR_INIT_DIRAC, OG_FIR_INIT_KINDS)) < 0) return -1;
        p->fir_init = (og_fir_init)v;
    }
    if (p->kind == OG_PATH_FIR) {
        snprintf(field, sizeof field, "%s.length", where);
        double len;
        if (!(it = cJSON_GetObjectItemCaseSensitive(o, "length")))
            return fail(c->err, c->errlen, "%s: missing (a fir path needs %d..%d taps)", field, OG_FIR_MIN, OG_FIR_MAX);
        if (number_value(c, field, it, OG_FIR_MIN, OG_FIR_MAX, &len) < 0) return -1;
        if (len != floor(len)) return fail(c->err, c->errlen, "%s: %g is not a whole number of taps", field, len);
        p->fir_len = (int)len;
    }
    return 0;
}

static int router_from_json(json_ctx *c, const cJSON *o, og_router *r)
{
    if (!cJSON_IsObject(o)) return fail(c->err, c->errlen, "router: expected an object");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind"), *it;
    if (!kind) return fail(c->err, c->errlen, "router.kind: missing (one of sigmoid, softmax, mlp)");
    int k = enum_value(c, "router.kind", kind, router_json, 0, OG_ROUTER_KINDS), v;
    if (k < 0) return -1;
    memset(r, 0, sizeof *r);
    r->kind = (og_router_kind)k;
    if (only_keys(c, "router", o,
                  k == OG_ROUTER_MLP ? "kind temperature floor entropy_weight stats stats_detach"
                                     : "kind temperature floor entropy_weight",
                  k == OG_ROUTER_MLP ? "the mlp router" : "a sigmoid or softmax router") < 0)
        return -1;
    r->temperature = 1.0;
    if (k == OG_ROUTER_MLP) {
        r->stats = OG_STATS_MEAN_STD;
        r->stats_detach = 1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "temperature")) &&
        number_value(c, "router.temperature", it, OG_TEMP_MIN, OG_TEMP_MAX, &r->temperature) < 0)
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "floor")) &&
        number_value(c, "router.floor", it, 0.0, OG_FLOOR_MAX, &r->floor) < 0)
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "entropy_weight")) &&
        number_value(c, "router.entropy_weight", it, 0.0, OG_ENTROPY_MAX, &r->entropy_weight) < 0)
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "stats"))) {
        if ((v = enum_value(c, "router.stats", it, stats_json, OG_STATS_MEAN_STD, OG_STATS_KINDS)) < 0) return -1;
        r->stats = (og_stats)v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "stats_detach"))) {
        if ((v = bool_value(c, "router.stats_detach", it)) < 0) return -1;
        r->stats_detach = v;
    }
    return 0;
}

int og_from_json(const cJSON *json, og_genome *out, char *err, size_t errlen)
{
    json_ctx c = {err, errlen};
    og_genome g;
    memset(&g, 0, sizeof g);
    if (!cJSON_IsObject(json)) return fail(err, errlen, "genome: expected a JSON object");
    if (only_keys(&c, "genome", json, "paths router output_norm output_gate", "a genome") < 0) return -1;
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(json, "paths"), *it;
    if (!cJSON_IsArray(paths)) return fail(err, errlen, "paths: missing or not an array");
    int n = cJSON_GetArraySize(paths);
    if (n < 1 || n > OG_MAX_PATHS) return fail(err, errlen, "paths: %d paths; a genome has 1 to %d", n, OG_MAX_PATHS);
    g.n_paths = n;
    for (int i = 0; i < n; i++)
        if (path_from_json(&c, cJSON_GetArrayItem(paths, i), i, &g.paths[i]) < 0) return -1;
    const cJSON *router = cJSON_GetObjectItemCaseSensitive(json, "router");
    if (!router) return fail(err, errlen, "router: missing");
    if (router_from_json(&c, router, &g.router) < 0) return -1;
    int v;
    g.out_norm = OG_NORM_RMS;
    if ((it = cJSON_GetObjectItemCaseSensitive(json, "output_norm"))) {
        if ((v = enum_value(&c, "output_norm", it, out_norm_json, 0, OG_NORM_KINDS)) < 0) return -1;
        g.out_norm = (og_out_norm)v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(json, "output_gate"))) {
        if ((v = enum_value(&c, "output_gate", it, out_gate_json, 0, OG_GATE_KINDS)) < 0) return -1;
        g.out_gate = (og_out_gate)v;
    }
    if (og_validate(&g, err, errlen) < 0) return -1;    /* e.g. one path under a softmax router */
    og_canonicalize(&g);
    *out = g;
    return 0;
}

int og_from_json_string(const char *text, og_genome *g, char *err, size_t errlen)
{
    cJSON *o = cJSON_Parse(text);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();
        if (!at || !*at) return fail(err, errlen, "genome: not valid JSON (it ends too early)");
        return fail(err, errlen, "genome: not valid JSON near '%.24s'", at);
    }
    int rc = og_from_json(o, g, err, errlen);
    cJSON_Delete(o);
    return rc;
}
