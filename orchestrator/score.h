/*
 * score.h — how the orchestrator judges candidates without a language model
 * (ARCHITECTURE §6): fitness against the baselines, parent and reference
 * selection, early stopping during training, novelty (exact and near
 * duplicates), and the rule-based judge, novelty check and analyst that the
 * built-in proposer uses in place of the LLM's (their answers have the shapes
 * llm.h parses, so the loop stores and uses either the same way).
 *
 * Everything here is a pure function of its arguments: no I/O, no globals,
 * no clock, no randomness but the seed passed in. No result is NaN: every
 * pathological input (NaN, Inf, zero or negative where a positive value is
 * needed, a missing value) has a documented outcome, usually the worst value
 * of the quantity it feeds.
 *
 *   os_fitness            mean of the sigmoid-scored loss and recall ratios
 *                         against the reference baseline and the judge's score
 *   os_select             parent from the top 10, four references from 11-50
 *   os_early_stop_check   diverged / behind the baseline / 3x slower
 *   os_suspicious         beats the baseline by too much: re-verify causality
 *   os_structure_text,    op-structure and motivation shingles, Jaccard
 *   os_shingles, ...      similarity, near-duplicate search
 *   os_rule_judge         performance / innovation / complexity, 1..10
 *   os_rule_novelty       the novelty judge's answer from a similarity
 *   os_rule_analysis      summary / strengths / weaknesses / next idea
 *   os_retrieve_cognition the cognition entries an analysis retrieves
 */
#ifndef ASIARCH_SCORE_H
#define ASIARCH_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "cognition.h"
#include "llm.h"
#include "runtime.h"

typedef struct cJSON cJSON;

/* ---- baselines ------------------------------------------------------------------ */

/* A baseline trained in the same run with the same budget and seed (DeltaNet,
 * Gated DeltaNet). Strings and the curve belong to the caller. */
typedef struct os_baseline {
    const char *name;
    double val_loss;          /* nats per token */
    double mqar_acc;          /* in [0,1]; -1 (any negative): the probe was not run */
    double tokens_per_s;      /* training throughput */
    double train_seconds;     /* wall time of the training steps */
    long params;
    double flops_per_token;   /* forward + backward; 0: unknown */
    double step_cpu_s;        /* CPU seconds per training step after the warm-up, measured
                                 by the supervisor as for candidates; 0: unknown (no speed verdict) */
    const float *loss_curve;  /* training loss after each step: loss_curve[s-1] after step s */
    int curve_len;
} os_baseline;

/* The fields above from a baseline's metrics; name points into m->name, so m
 * must outlive b. The curve is the caller's record of per-step losses. */
void os_baseline_from_metrics(os_baseline *b, const rt_metrics *m, const float *curve, int curve_len);

/* The reference for scoring: the stronger baseline, i.e. the one with the
 * lowest finite, positive validation loss (ties: the earlier one). Every
 * candidate is scored against the same reference, for loss and recall alike,
 * so beating "the baselines" means beating the best of them. Returns its
 * index, or -1 when n <= 0 or none has a usable loss. */
int os_reference_baseline(const os_baseline *b, int n);
/* The reference each fitness term is scored against: the baseline with the
 * lowest loss (its loss, curve, speed and cost), with the best MQAR accuracy
 * of any baseline in place of its own, so that a strong memory is the bar
 * for recall even when another baseline wins on loss. *mqar_index receives
 * the baseline whose recall it is (-1: none measured). Requires
 * os_reference_baseline(b, n) >= 0. */
os_baseline os_reference_composite(const os_baseline *b, int n, int *mqar_index);

/* ---- fitness ----------------------------------------------------------------------- */

/* The fitness formula (ASI-Arch), per component c with candidate value x and
 * baseline value x_b:
 *
 *   loss:  r = (L_b - L) / (0.1 * L_b)             lower loss is better
 *   MQAR:  r = (A - A_b) / (0.1 * max(A_b, 0.01))  higher accuracy is better
 *   value = sigmoid(6 * clip(r, -1, 1))            in [sigmoid(-6), sigmoid(6)]
 *   judge: value = the judge's normalised score    in [0, 1]
 *
 *   fitness = mean of the values of the present components.
 *
 * So equal to the baseline scores 0.5, 10% better scores sigmoid(6) = 0.9975
 * (and stays there), 10% worse sigmoid(-6) = 0.0025. The 1% accuracy floor
 * keeps the MQAR ratio finite when the baseline recalls nothing. */
#define OS_FITNESS_GAIN 6.0
#define OS_FITNESS_REL 0.1
#define OS_MQAR_ACC_FLOOR 0.01

typedef struct os_component {
    int present;      /* counted in the mean */
    int invalid;      /* an input was pathological: value is the component's worst */
    double ratio;     /* r before clipping; 0 when absent or invalid */
    double clipped;   /* clip(r, -1, 1); -1 when invalid */
    double value;     /* what enters the mean */
} os_component;

typedef struct os_fitness_parts {
    os_component loss, mqar, judge;
    int n_present;     /* 1..3: the loss is always present */
    double fitness;
    char note[256];    /* the pathological inputs, "" when none: "candidate val_loss is nan; ..." */
} os_fitness_parts;

/* Fitness in [0,1], never NaN (parts may be NULL). Components:
 *
 *   loss   always present. Its worst value sigmoid(-6) is taken when the
 *          candidate diverged (m->diverged), when m is NULL, or when its
 *          val_loss is NaN, infinite, zero or negative (a cross-entropy on
 *          real text is positive; zero is an unfilled measurement), and
 *          also when the baseline's val_loss is unusable (base NULL or the
 *          same pathologies): no candidate can then be credited for loss,
 *          and the note says why.
 *   MQAR   present when the baseline ran the probe (mqar_acc finite, >= 0;
 *          values above 1 are read as 1). The candidate's accuracy must then
 *          be finite and in [0,1]; a NaN, an infinity, a probe it did not
 *          run (negative, e.g. because it diverged) or a value above 1 takes
 *          the worst value sigmoid(-6). Requiring only the baseline's probe
 *          means a candidate cannot raise its mean by skipping its own. A
 *          NaN or infinite baseline accuracy makes the component absent.
 *   judge  present unless judge_norm is NaN (no judge); a value outside
 *          [0,1] (infinities included) is invalid and scores 0, its worst.
 */
double os_fitness(const rt_metrics *m, const os_baseline *base, double judge_norm, os_fitness_parts *parts);

/* The parts as a JSON object for the database's scores_json:
 * {"fitness", "components": n, "loss": {"present", "invalid", "ratio",
 * "clipped", "value"}, "mqar": {...}, "judge": {...}, "note"}. NULL when out
 * of memory. */
cJSON *os_fitness_parts_json(const os_fitness_parts *p);

/* ---- selection ------------------------------------------------------------------------- */

#define OS_PARENT_POOL 10   /* parent: ranks 1..10 */
#define OS_REF_FIRST 10     /* references: ranks 11..50 (0-based 10..49) */
#define OS_REF_LAST 50
#define OS_N_REFS 4

/* A splitmix64 generator (Steele, Lea & Flood 2014): state += 0x9e3779b97f4a7c15,
 * output the state's mix. Small, fast, and every seed (0 included) is good. */
typedef struct os_rng { uint64_t state; } os_rng;
void os_rng_seed(os_rng *r, uint64_t seed);
uint64_t os_rng_next(os_rng *r);
/* Uniform in [0, bound) without modulo bias (rejection of the top partial
 * range); 0 when bound <= 1. */
uint64_t os_rng_below(os_rng *r, uint64_t bound);

/* Choose the parent and references among n ranked candidates (0-based ranks,
 * scores_sorted_desc[0] the best), deterministically for a seed:
 *
 *   parent      uniform over ranks [0, min(10, n))
 *   references  up to 4 distinct ranks drawn uniformly from [10, min(50, n));
 *               when that pool holds fewer than 4 (n < 14, in particular
 *               n <= 10 where it is empty) the rest are drawn uniformly from
 *               the top ranks [0, min(10, n)) other than the parent, so a
 *               young run still shows the proposer what else works.
 *               refs[0..*n_refs) are sorted ascending; *n_refs =
 *               min(4, n - 1).
 *
 * Returns 0, or -1 (outputs untouched) when n <= 0, an output is NULL, or the
 * scores are not sorted descending or hold a NaN (the caller's ranking is
 * wrong: better to stop than to select from it). */
int os_select(const double *scores_sorted_desc, int n, uint64_t seed, int *parent_rank, int refs[OS_N_REFS],
              int *n_refs);

/* ---- early stop and suspicion ---------------------------------------------------------- */

typedef struct os_stop_opts {
    double warmup_frac;     /* no "behind" verdict before this fraction of the steps (0.3) */
    double behind_margin;   /* stop when the smoothed loss exceeds the baseline's by this fraction (0.10) */
    int ema_window;         /* the smoothing: EMA with alpha = 2 / (window + 1) (20 steps) */
    double slow_factor;     /* stop when CPU seconds per step exceed the baseline's, scaled by the
                               FLOPs-per-token ratio where the candidate costs more, by this factor (3.0) */
    int slow_warmup_steps;  /* steps excluded from the timing: allocation, first touches (5) */
    int slow_min_steps;     /* a timing window is at least this many steps (10) ... */
    double slow_min_cpu_s;  /* ... and this many CPU seconds (1.0) */
    int slow_windows;       /* consecutive slow windows before a stop: never one timing (2) */
    double suspicious_frac; /* flag (once) a smoothed loss this fraction below the baseline's (0.30) */
} os_stop_opts;

void os_stop_defaults(os_stop_opts *o);

/* What a run has seen so far. Zero it ({0}) before the first step. */
typedef struct os_stop_state {
    int steps_seen;      /* candidate losses folded into ema */
    int last_step;       /* the step of the last loss folded in */
    double ema;          /* the candidate's smoothed training loss */
    int base_upto;       /* baseline curve points folded into base_ema */
    double base_ema;     /* the baseline's curve smoothed the same way, up to the same step */
    int flagged;         /* OS_SUSPECT was returned already */
    double flops_per_token;  /* the candidate's (set by the caller before step 1; 0: unknown) */
    int window_step;     /* the speed window started after this step (0: warm-up not over) */
    double window_cpu_s; /* ... at this CPU time */
    int slow_run;        /* consecutive windows above the limit */
} os_stop_state;

typedef enum os_stop_verdict {
    OS_CONTINUE = 0,
    OS_STOP_DIVERGED,    /* the loss is NaN or infinite */
    OS_STOP_BEHIND,      /* the smoothed loss is behind the baseline's curve beyond the margin */
    OS_STOP_SLOW,        /* more than slow_factor times the baseline's seconds per step */
    OS_SUSPECT           /* not a stop: far ahead of the baseline; re-verify causality, then go on */
} os_stop_verdict;

/* st (required) is the run's state. Call after each training step (or after some of them: a loss after a gap
 * of g steps is weighed as g steps' worth, so the smoothing keeps pace with
 * the baseline's). step = steps done so far (1-based, as
 * rt_progress_fn reports it), loss = the training loss of that step,
 * cpu_s = the runner's CPU seconds so far (all threads; negative: unknown).
 * Checks, in order:
 *
 *   diverged  loss NaN or infinite: "diverged: training loss is nan at step 57"
 *   slow      timed in CPU seconds, which another process on the same cores
 *             does not inflate, after slow_warmup_steps, over windows of at
 *             least slow_min_steps steps and slow_min_cpu_s: slow_windows
 *             windows in a row each above slow_factor * the baseline's
 *             step_cpu_s * max(1, FLOPs per token / the baseline's). A
 *             candidate of the baseline's cost must be slow_factor times
 *             slower twice running; one costing more is allowed its FLOPs.
 *             No baseline timing: no speed verdict.
 *             "3.4x slower than gated_delta_net: 0.52 CPU s/step vs 0.15
 *             over steps 16-26, 2 windows in a row, at 1.00x its FLOPs per token"
 *   behind    step >= warmup_frac * steps, the baseline's curve reaches step
 *             and its smoothed value there is finite and positive, and the
 *             candidate's smoothed loss > (1 + margin) * that:
 *             "behind the baseline: smoothed loss 2.41 is 14.2% above ..."
 *   suspect   (once per run) after the warm-up, smoothed loss <
 *             (1 - suspicious_frac) * the baseline's: the caller re-verifies
 *             causality (a leak of future tokens makes loss fall this fast).
 *
 * Both curves are smoothed by the same EMA up to the same step, so the
 * comparison has no lag bias. o NULL: defaults; b NULL: only divergence is
 * checked. reason gets a one-line explanation for anything but
 * OS_CONTINUE ("" then). */
os_stop_verdict os_early_stop_check(os_stop_state *st, const os_baseline *b, int step, int steps, float loss,
                                    double cpu_s, const os_stop_opts *o, char *reason, size_t len);

/* Suspiciously good final metrics (ARCHITECTURE §6: possible leakage): */
#define OS_SUSPICIOUS_LOSS_FRAC 0.30       /* val loss more than 30% below the baseline's, or */
#define OS_SUSPICIOUS_MQAR_GAIN 0.5        /* MQAR more than 0.5 above the baseline's ... */
#define OS_SUSPICIOUS_MQAR_LOSS_FRAC 0.10  /* ... with val loss also more than 10% below */
/* 1 when the candidate beats the baseline by the margins above: the caller
 * then re-verifies causality before trusting the score. Unusable inputs
 * (NULL, NaN, non-positive loss) give 0: they are failures, not wins.
 * reason (may be NULL) says which margin was crossed. */
int os_suspicious(const rt_metrics *m, const os_baseline *base, char *reason, size_t len);

/* ---- novelty ------------------------------------------------------------------------ */

/* A set of hashed shingles, sorted ascending, without repeats. {0} is empty. */
typedef struct os_shingle_set {
    uint64_t *h;
    int n;
} os_shingle_set;

#define OS_STRUCTURE_K 3   /* shingle length (ops) of structure texts */
#define OS_TEXT_K 2        /* shingle length (words) of motivations */

/* The k-word shingles of text, hashed to 64 bits (FNV-1a over the words
 * joined by 0x1f). Words are maximal runs of non-space characters, ASCII
 * lowercased, with sentence punctuation (. , ; : ! ? quotes) trimmed from
 * both ends; words that are only punctuation are dropped. A text with fewer
 * than k (>= 1) words gives one shingle of all its words; an empty text gives
 * an empty set. k < 1 is read as 1. Returns 0, or -1 when out of memory (out
 * is then empty). Free with os_shingles_free. */
int os_shingles(const char *text, int k, os_shingle_set *out);
void os_shingles_free(os_shingle_set *s);

/* |a ∩ b| / |a ∪ b| in [0,1]; 0 when either set is empty (nothing to compare:
 * two blank motivations are no evidence of a copy). */
double os_jaccard(const os_shingle_set *a, const os_shingle_set *b);

/* The op structure of a mixer from its graph IR as `asiarch ir` prints it
 * (ir_print), with everything a rename, a moved line or a changed size
 * alters taken out, so identical structures give identical texts:
 *
 *   - only the mixer's nodes (those with a source "line"; the backbone around
 *     it is the same for every candidate), or every node when none has one;
 *   - one word per op: its name, the attributes that change what it computes
 *     (perm, axis, diagonal, mode, delta, gate, ta, tb, lambda=multiscale) and
 *     the ops that produce its inputs: "linattn[delta=1,gate=none](scale,l2norm,permute,permute,none)".
 *     Parameter nodes are not words (they appear as the input "param"), an
 *     input from outside the mixer is "x";
 *   - dropped: node numbers, parameter names, shapes, sizes and constants
 *     (c, lo, hi, start, len, before, after, chunk, weight, a numeric lambda),
 *     the chunked/recurrent form (the same function), custom function names,
 *     line numbers and FLOPs;
 *   - "|" between layers.
 *
 * Returns a malloc'd string ("" for a text without nodes), NULL when out of
 * memory or ir_text is NULL. */
char *os_structure_text(const char *ir_text);

/* An existing design to compare with. */
typedef struct os_candidate_sig {
    const char *name;
    os_shingle_set structure;   /* os_shingles(os_structure_text(ir), OS_STRUCTURE_K) */
    os_shingle_set motivation;  /* os_shingles(motivation, OS_TEXT_K) */
} os_candidate_sig;

#define OS_NEAR_DUP_W_STRUCTURE 0.7
#define OS_NEAR_DUP_W_MOTIVATION 0.3
#define OS_NEAR_DUP_THRESHOLD 0.9

/* Similarity of the query to each of others[0..n):
 *
 *   s = 0.7 * jaccard(structure) + 0.3 * jaccard(motivation)
 *
 * or jaccard(structure) alone when either motivation is empty (a missing
 * text neither helps nor hurts). The structure carries most weight because
 * it is what trains; the motivation separates the same ops put to a
 * different purpose. *closest gets the index of the most similar (the first
 * on ties; -1 when n <= 0) and *similarity its s (0 when n <= 0); either may
 * be NULL. Returns 1 when that s >= threshold (a near duplicate: do not
 * train it), else 0. A NaN threshold is read as OS_NEAR_DUP_THRESHOLD. */
int os_near_duplicate(const os_shingle_set *structure, const os_shingle_set *motivation,
                      const os_candidate_sig *others, int n, double threshold, int *closest, double *similarity);

/* Index of the first of known[0..n) equal to hash, -1 if none: the exact
 * duplicate check by canonical graph hash, before training. */
int os_exact_duplicate(uint64_t hash, const uint64_t *known, int n);

/* ---- rule-based judge, novelty check and analyst ------------------------------------ */

#define OS_JUDGE_PREFIX "rule-based judge (no language model):"
#define OS_NOVELTY_PREFIX "rule-based novelty check (no language model):"
#define OS_ANALYST_PREFIX "rule-based analyst (no language model):"

/* The judge's three scores (integers 1..10, higher is better), anchored on
 * the reference baseline as the LLM judge's prompt (prompts/judge.md) asks:
 *
 *   performance = 5 + round(100 * (L_b - L) / L_b) + recall, clamped to 1..10:
 *                 5 = the baseline's loss, one point per 1% lower loss;
 *                 recall = round((A - A_b) / 0.1) clamped to -2..2 when both
 *                 ran MQAR (a point per 10 accuracy points), else 0.
 *                 1 when the candidate diverged or its loss is unusable;
 *                 5 (no evidence either way) when the baseline's is.
 *   innovation  = 1 + round(9 * novelty), novelty in [0,1] being
 *                 1 - the similarity to the closest existing design
 *                 (os_near_duplicate); NaN or out of range: 1.
 *   complexity  = 10 - round(excess / 0.1) clamped to 1..10, excess being the
 *                 larger of params / baseline_params - 1 and the FLOPs per
 *                 token over the baseline's - 1 (unknown FLOPs: ignored); one
 *                 point per 10% more cost, 10 at no more cost. 1 when params
 *                 or baseline_params is not positive.
 *
 * out->rationale (malloc'd; free with llm_judgement_free) starts with
 * OS_JUDGE_PREFIX and gives the numbers behind each score. Returns 0, or -1
 * when out of memory (out then holds no allocation). */
int os_rule_judge(const rt_metrics *m, const os_baseline *base, double novelty, long params, long baseline_params,
                  llm_judgement *out);

/* The judge's scores as one number in [0,1]: the mean of (score - 1) / 9
 * over the three, each clamped to 1..10 first. */
double os_judge_norm(int performance, int innovation, int complexity);

/* The novelty judge's answer from a near-duplicate search: novel when
 * similarity < threshold (NaN threshold: OS_NEAR_DUP_THRESHOLD; NaN
 * similarity: novel, as nothing was found to compare); closest = its name
 * ("" when NULL); reason starts with OS_NOVELTY_PREFIX. Returns 0 or -1 (out
 * of memory). Free with llm_novelty_free. */
int os_rule_novelty(double similarity, const char *closest, double threshold, llm_novelty *out);

/* A design the analyst compares with. metrics NULL: absent (no grandparent). */
typedef struct os_relative {
    const char *name;
    const rt_metrics *metrics;
} os_relative;

typedef struct os_analysis_input {
    const char *name, *motivation;
    const rt_metrics *metrics;       /* required */
    const float *loss_curve;         /* per-step training loss, or NULL */
    int curve_len;
    os_relative parent, grandparent; /* metrics NULL when absent */
    os_relative siblings[3];         /* the strongest other children of the parent */
    int n_siblings;
    const os_baseline *baseline;     /* the reference baseline, or NULL */
} os_analysis_input;

/* Relative differences below this are reported as "within noise". */
#define OS_NOISE_FRAC 0.005

/* The analyst's four fields (the shape llm_parse_analysis returns), by rule:
 * the summary compares loss, recall, throughput and parameters with the
 * parent, grandparent, siblings and baseline (signed differences and
 * percentages); strengths and weaknesses list what moved beyond noise;
 * weaknesses and next_idea name concrete levers (forgetting/decay and the
 * delta rule when recall is weak, normalisation when the training loss is
 * noisy or diverged, FIR length when slow or when a FIR design fails to
 * recall, router temperature and floors for routed designs: a design is
 * "routed" or "FIR" when its name or motivation says so) in words the
 * cognition base indexes, so BM25 retrieval with this text finds the entries
 * about those levers. The summary starts with OS_ANALYST_PREFIX. Returns 0,
 * or -1 (missing in->metrics, or out of memory; out then holds nothing).
 * Free with llm_analysis_free. */
int os_rule_analysis_fields(const os_analysis_input *in, llm_analysis *out);

/* The same as one text for the database and the cognition query:
 *
 *   rule-based analyst (no language model):
 *   summary: ...
 *   strengths: ...
 *   weaknesses: ...
 *   next_idea: ...
 *
 * Returns 0 with *text malloc'd, or -1. */
int os_rule_analysis(const os_analysis_input *in, char **text);

/* The same as the JSON object the LLM analyst answers with ({"summary",
 * "strengths", "weaknesses", "next_idea"}, the summary starting with
 * OS_ANALYST_PREFIX), as malloc'd text that llm_parse_analysis accepts.
 * Returns 0 or -1. */
int os_rule_analysis_json(const os_analysis_input *in, char **json);

/* The k best cognition entries for an analysis (cog_search), each formatted
 * by cog_format_entry and separated by a blank line: the text stored with
 * the candidate and put into the researcher's prompt. Returns the number of
 * entries (0: *text is ""), or -1 (out of memory, or a NULL argument). */
int os_retrieve_cognition(const cog_base *base, const char *analysis, int k, char **text);

/* ---- over seeds: wins that hold (seeds.c) -------------------------------------------- */

/* Mean and 95% confidence interval of n values (Student's t with n-1
 * degrees of freedom: the interval is mean +- ci95). n < 2: ci95 is NaN
 * (no interval from one value). */
typedef struct os_seed_stats {
    int n;
    double mean, sd, ci95;
} os_seed_stats;
os_seed_stats os_seed_stats_of(const double *v, int n);

/* How a candidate's mean compares with a baseline's over seeds. */
typedef enum os_seed_verdict {
    OS_SEEDS_UNKNOWN = 0,          /* fewer than 2 seeds on either side */
    OS_SEEDS_BETTER,               /* the intervals do not overlap, the candidate is better */
    OS_SEEDS_INDISTINGUISHABLE,    /* the intervals overlap */
    OS_SEEDS_WORSE                 /* the intervals do not overlap, the candidate is worse */
} os_seed_verdict;
/* lower_is_better: 1 for a loss, 0 for an accuracy. */
os_seed_verdict os_seed_compare(const os_seed_stats *cand, const os_seed_stats *base, int lower_is_better);
const char *os_seed_verdict_name(os_seed_verdict v);   /* "better", "not distinguishable", "worse", "unknown" */

/* The lines of `to` against `from` as a diff ("- " removed, "+ " added,
 * "  ... (N unchanged lines)" elided), from their longest common
 * subsequence; malloc'd, or NULL when either text is over 400 lines or
 * memory runs out. (context.c) */
char *os_diff_text(const char *from, const char *to);

#endif /* ASIARCH_SCORE_H */
