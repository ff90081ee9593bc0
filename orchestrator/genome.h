/*
 * genome.h — the built-in proposer's grammar of multi-path token mixers
 * (ARCHITECTURE §6, "builtin"): a small genome, the variation operators that
 * regularised evolution needs (random, mutate, crossover), a structural
 * distance for novelty, JSON, and rendering to a DSL candidate file.
 *
 * A genome describes one mixer of the shape ASI-Arch's best discoveries share:
 *
 *   x ─► shared q, k, v projections (+ 4-tap causal conv; v through SiLU)
 *     ├─► path 0 ─┐
 *     ├─► ...     ├─► router weights per head and token ─► Σ w_i · path_i
 *     └─► path n ─┘      (sigmoid / softmax / MLP over path statistics,
 *                         temperature, floor, entropy bonus)
 *   ─► output norm (none / RMSNorm / gated RMSNorm) ─► output gate
 *      (none / SiLU / sigmoid) ─► o_proj
 *
 * Paths: the delta rule, the gated delta rule (Mamba2-style scalar decay),
 * GLA (per-key-channel decay from a low-rank code), a causal FIR over the
 * values of 2-16 taps, and the values themselves (identity). Each path
 * carries its own options (feature map of q/k, L2 norm of q/k, beta
 * parameterisation, per-path RMSNorm, FIR length and initialisation). The
 * number of heads is the backbone's (aa_dim(l, AA_HEADS)), not a gene.
 *
 * Every genome these functions produce satisfies og_validate, and every valid
 * genome renders to a file that passes the DSL checker, compiles, and
 * verifies (causal, sub-quadratic, within 1.5x DeltaNet's parameters at the
 * `tiny` and `small` scales): widths are fixed at modest values (GLA rank 16,
 * router MLP width d/4) so that even four GLA paths with every gate fit.
 *
 * Paths are kept in a canonical order (kind, then FIR length, then options),
 * so two genomes that differ only by a permutation of their paths are one
 * genome: og_equal and the graph hash agree on what counts as a duplicate.
 * No two paths of a genome are the same: a copy adds parameters, and
 * nothing the router could not do with one.
 *
 * Randomness comes from a caller-owned uint64_t (any value, 0 included, is a
 * valid seed), so a run is reproduced by its seed.
 */
#ifndef ASIARCH_GENOME_H
#define ASIARCH_GENOME_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#define OG_MAX_PATHS 4
#define OG_FIR_MIN 2
#define OG_FIR_MAX 16
#define OG_TEMP_MIN 0.25
#define OG_TEMP_MAX 4.0
#define OG_FLOOR_MAX 0.05
#define OG_ENTROPY_MAX 0.05
#define OG_GLA_RANK 16      /* rank of the low-rank code behind a GLA path's decay */
#define OG_NAME_MAX 64      /* og_name never writes more, NUL included (fits rt_metrics.name) */

typedef enum og_path_kind {
    OG_PATH_DELTA = 0,      /* delta rule, no decay: S = S - beta k (k^T S - v^T) */
    OG_PATH_GATED_DELTA,    /* delta rule under a scalar decay per head and step (Gated DeltaNet) */
    OG_PATH_GLA,            /* additive linear attention, decay per key channel (GLA) */
    OG_PATH_FIR,            /* causal depthwise FIR over the values, OG_FIR_MIN..OG_FIR_MAX taps */
    OG_PATH_IDENTITY,       /* the values themselves */
    OG_PATH_KINDS
} og_path_kind;

/* Feature map of q and k on memory paths; on a FIR path, the activation of
 * its output. Identity paths have OG_FEAT_IDENTITY. */
typedef enum og_feature {
    OG_FEAT_SILU = 0,
    OG_FEAT_ELU1,           /* elu(x) + 1: positive, as in linear transformers */
    OG_FEAT_RELU,
    OG_FEAT_IDENTITY,
    OG_FEAT_KINDS
} og_feature;

/* Write strength of the delta-rule paths (OG_BETA_NONE on the others). */
typedef enum og_beta {
    OG_BETA_NONE = 0,
    OG_BETA_SIGMOID,        /* beta = sigmoid(W x) in (0, 1) */
    OG_BETA_SIGMOID2,       /* beta = 2 sigmoid(W x) in (0, 2): negative eigenvalues, state tracking */
    OG_BETA_KINDS
} og_beta;

typedef enum og_fir_init {
    OG_FIR_INIT_NONE = 0,   /* not a FIR path */
    OG_FIR_INIT_DIRAC,      /* starts as the identity (last tap 1) */
    OG_FIR_INIT_RANDOM,     /* U(-1/sqrt(taps), 1/sqrt(taps)) */
    OG_FIR_INIT_KINDS
} og_fir_init;

typedef struct og_path {
    og_path_kind kind;
    og_feature feature;
    int qk_l2;              /* memory paths: L2-normalise q and k (always 1 on delta-rule paths, which
                             * diverge without it); 0 elsewhere */
    int norm;               /* RMSNorm of the path's output per head before routing */
    og_beta beta;
    int fir_len;            /* FIR paths: taps; 0 elsewhere */
    og_fir_init fir_init;
} og_path;

typedef enum og_router_kind {
    OG_ROUTER_SIGMOID = 0,  /* an independent gate per path, head and token, from the hidden state */
    OG_ROUTER_SOFTMAX,      /* a softmax over the paths per head and token, from the hidden state */
    OG_ROUTER_MLP,          /* a softmax from an MLP over the hidden state and per-path statistics */
    OG_ROUTER_KINDS
} og_router_kind;

/* The statistics an MLP router reads from each path, per head, over the
 * channels of the current token only (never over time: the router stays
 * causal). OG_STATS_NONE for the other routers. */
typedef enum og_stats {
    OG_STATS_NONE = 0,
    OG_STATS_MEAN_STD,      /* mean and standard deviation */
    OG_STATS_RMS,           /* root mean square (the norm per channel) */
    OG_STATS_KINDS
} og_stats;

typedef struct og_router {
    og_router_kind kind;    /* a single path always has OG_ROUTER_SIGMOID: a softmax over one path is 1 */
    double temperature;     /* logits are divided by it; OG_TEMP_MIN..OG_TEMP_MAX */
    double floor;           /* minimum weight of every path, 0..OG_FLOOR_MAX */
    double entropy_weight;  /* aux loss -weight * H(router): rewards using every path; 0 with one path */
    og_stats stats;         /* MLP router only */
    int stats_detach;       /* MLP router: no gradient from the router into the paths through their statistics */
} og_router;

typedef enum og_out_norm {
    OG_NORM_NONE = 0,
    OG_NORM_RMS,            /* RMSNorm per head of the mixed output */
    OG_NORM_GATED,          /* gated RMSNorm: rmsnorm(o) * w * silu(W_g x) */
    OG_NORM_KINDS
} og_out_norm;

typedef enum og_out_gate {
    OG_GATE_NONE = 0,
    OG_GATE_SILU,           /* o * silu(W x) before o_proj */
    OG_GATE_SIGMOID,        /* o * sigmoid(W x) before o_proj */
    OG_GATE_KINDS
} og_out_gate;

typedef struct og_genome {
    int n_paths;            /* 1..OG_MAX_PATHS */
    og_path paths[OG_MAX_PATHS];   /* canonical order; entries past n_paths are zero */
    og_router router;
    og_out_norm out_norm;
    og_out_gate out_gate;
} og_genome;

/* ---- variation ------------------------------------------------------------------------ */

/* A random valid genome: 2-3 paths usually, 1 or 4 sometimes. */
void og_random(og_genome *g, uint64_t *rng);

/* child = parent with one to three small changes (add, remove or replace a
 * path; change a FIR length, a feature map, a norm, beta; change the router,
 * its temperature (x or / sqrt 2), floor or entropy weight; change the output
 * norm or gate). child always differs from parent. `what` receives the
 * changes in words ("replaced path 2 (fir7) with gla; temperature 0.7 ->
 * 1.0"), for the candidate's motivation; it may be NULL. parent and child
 * may be the same object. */
void og_mutate(const og_genome *parent, og_genome *child, uint64_t *rng, char *what, size_t len);

/* A child whose path count comes from one parent and whose every path slot,
 * router and output stage come from either (uniform crossover), made valid
 * again (a path that came from both parents is kept once). child may alias
 * a or b. */
void og_crossover(const og_genome *a, const og_genome *b, og_genome *child, uint64_t *rng);

/* ---- comparison -------------------------------------------------------------------------- */

int og_equal(const og_genome *a, const og_genome *b);

/* Structural distance in [0, 1]: 0 for equal genomes, symmetric. Paths are
 * matched to each other at the least cost (a permutation), so it measures
 * what differs, not where. Weights: paths 0.5, router 0.3, output 0.2. */
double og_distance(const og_genome *a, const og_genome *b);

/* Fix the order of the paths (see above). og_random/og_mutate/og_crossover
 * and og_from_json already return canonical genomes. */
void og_canonicalize(og_genome *g);

/* 0 if g obeys every rule of the grammar; else -1 and why in err
 * ("path 1 (delta): the delta rule needs L2-normalised q and k"). */
int og_validate(const og_genome *g, char *err, size_t errlen);

/* ---- names and text ----------------------------------------------------------------------- */

/* A short, readable, deterministic name, e.g. "delta_gla_fir7_mlp_t0p7_f0p02"
 * (paths, router, temperature, then floor, entropy weight, output norm and
 * gate when present). Writes at most min(len, OG_NAME_MAX) bytes; returns buf. */
char *og_name(const og_genome *g, char *buf, size_t len);

/* One or two sentences describing the design, used as the motivation when
 * a caller has none. Returns buf. */
char *og_describe(const og_genome *g, char *buf, size_t len);

/* ---- JSON --------------------------------------------------------------------------------- */

/* {"paths": [{"kind": "delta", "feature": "silu", "qk_l2": true, "norm": true, "beta": "sigmoid"},
 *            {"kind": "fir", "length": 7, "init": "dirac", "feature": "identity", "norm": false}],
 *  "router": {"kind": "softmax", "temperature": 0.7, "floor": 0.02, "entropy_weight": 0.01},
 *  "output_norm": "rms", "output_gate": "silu"}
 * Fields that do not apply to a path's or the router's kind are left out.
 * Returns a new cJSON object (NULL when out of memory). */
cJSON *og_to_json(const og_genome *g);
/* Compact JSON text (malloc'd; NULL when out of memory). */
char *og_to_json_string(const og_genome *g);

/* Read a genome. "kind" is required in every path and in the router, and
 * "length" in a fir path; other fields take the defaults of their kind
 * (feature silu on memory paths and identity on fir paths, qk_l2 true, norm
 * true but false on identity paths, beta sigmoid, init dirac, temperature
 * 1, floor and entropy 0, stats mean_std, stats_detach true, output norm
 * rms, gate none); unknown keys, wrong types, out-of-range values and fields that
 * do not apply to a kind are errors, written to err with their place
 * ("paths[1].length: 20 is outside 2..16"). The result is canonical and
 * valid. Returns 0 or -1. */
int og_from_json(const cJSON *json, og_genome *g, char *err, size_t errlen);
int og_from_json_string(const char *text, og_genome *g, char *err, size_t errlen);

/* ---- rendering (render.c) ----------------------------------------------------------------- */

/* The marker of the first line of a rendered file: "/" "* asiarch-genome: {JSON} *" "/". */
#define OG_SOURCE_MARKER "asiarch-genome:"

/* Render g to a complete DSL candidate file (malloc'd into *source): the
 * genome line, #include <asiarch.h>, AA_NAME(og_name), AA_MOTIVATION
 * (motivation, or og_describe when NULL or empty; escaped for a C string),
 * one commented helper per path, the router, and mixer(). Returns 0, or -1
 * when g is invalid or memory runs out (*source NULL). */
int og_render(const og_genome *g, const char *motivation, char **source);

/* Recover the genome from a rendered file's first genome line. Returns 0, or
 * -1 with err ("no 'asiarch-genome:' line", or the JSON error). */
int og_from_source(const char *source, og_genome *g, char *err, size_t errlen);

#endif /* ASIARCH_GENOME_H */
