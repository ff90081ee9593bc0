/*
 * test_linattn.c — the generalised linear-attention kernel (kernels/linattn.c).
 *
 *  1. The recurrent form (and a chunked run) against a double-precision step
 *     loop written here, gradients against central finite differences on it,
 *     for every delta x gate x lambda combination.
 *  2. The chunkwise form against the recurrent form: outputs, final state and
 *     every gradient, T not a multiple of the chunk, T < chunk, strongly
 *     negative gates (where 1/b would overflow).
 *  3. Same bits with 1 and 2 OpenMP threads.
 *  4. Backward accumulates; NULL gradients, s0, s_final and ds_final allowed.
 *
 * saved and scratch are allocated at exactly the reported sizes, so running
 * this under AddressSanitizer also checks those sizes.
 */
#include "kernels.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic inputs ------------------------------------------------------ */

typedef struct rng { uint64_t s; } rng;

static double rng_uniform(rng *r) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static double rng_range(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

enum gate_strength { GATES_MILD, GATES_STRONG };

typedef struct problem {
    k_linattn_cfg cfg;
    float *lambda; /* [H], pointed to by cfg.lambda when used */
    float *q, *k, *v, *beta, *g, *s0, *d_o, *ds_final;
} problem;

static size_t n_qk(const k_linattn_cfg *c) { return (size_t)c->B * c->H * c->T * c->Dk; }
static size_t n_v(const k_linattn_cfg *c) { return (size_t)c->B * c->H * c->T * c->Dv; }
static size_t n_pos(const k_linattn_cfg *c) { return (size_t)c->B * c->H * c->T; }
static size_t n_g(const k_linattn_cfg *c)
{
    return c->gate == K_GATE_CHANNEL ? n_qk(c) : c->gate == K_GATE_SCALAR ? n_pos(c) : 0;
}
static size_t n_state(const k_linattn_cfg *c) { return (size_t)c->B * c->H * c->Dk * c->Dv; }

static float *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Rows of length D with unit l2 norm. */
static void fill_unit_rows(rng *r, float *x, size_t rows, int D)
{
    for (size_t i = 0; i < rows; i++) {
        double ss = 0;
        for (int j = 0; j < D; j++) {
            x[i * D + j] = (float)rng_range(r, -1, 1);
            ss += (double)x[i * D + j] * x[i * D + j];
        }
        for (int j = 0; j < D; j++) x[i * D + j] = (float)(x[i * D + j] / sqrt(ss));
    }
}

static void fill(rng *r, float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(r, lo, hi);
}

/* Log gates: mild ones in [-3, 0); strong ones mix long-memory steps with
 * steps that decay by up to e^-20, so products over a chunk underflow. */
static void fill_gates(rng *r, float *g, size_t n, enum gate_strength strength)
{
    for (size_t i = 0; i < n; i++)
        g[i] = strength == GATES_MILD      ? (float)rng_range(r, -3, -0.01)
               : rng_uniform(r) < 0.3      ? (float)rng_range(r, -20, -5)
                                           : (float)rng_range(r, -1, -0.001);
}

static problem problem_new(int B, int H, int T, int Dk, int Dv, int delta, int gate,
                           int use_lambda, enum gate_strength strength, uint64_t seed)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.cfg = (k_linattn_cfg){B, H, T, Dk, Dv, delta, gate, NULL, 0};
    rng r = {seed};
    p.lambda = alloc_floats(H);
    for (int h = 0; h < H; h++) p.lambda[h] = (float)rng_range(&r, 0.8, 1.0);
    if (use_lambda) p.cfg.lambda = p.lambda;
    const k_linattn_cfg *c = &p.cfg;
    p.q = alloc_floats(n_qk(c));
    p.k = alloc_floats(n_qk(c));
    p.v = alloc_floats(n_v(c));
    p.d_o = alloc_floats(n_v(c));
    p.s0 = alloc_floats(n_state(c));
    p.ds_final = alloc_floats(n_state(c));
    fill_unit_rows(&r, p.q, n_pos(c), Dk);
    fill_unit_rows(&r, p.k, n_pos(c), Dk);
    fill(&r, p.v, n_v(c), -1, 1);
    fill(&r, p.d_o, n_v(c), -1, 1);
    fill(&r, p.s0, n_state(c), -0.5, 0.5);
    fill(&r, p.ds_final, n_state(c), -1, 1);
    if (delta) {
        p.beta = alloc_floats(n_pos(c));
        fill(&r, p.beta, n_pos(c), 0.05, 0.95);
    }
    if (gate != K_GATE_NONE) {
        p.g = alloc_floats(n_g(c));
        fill_gates(&r, p.g, n_g(c), strength);
    }
    return p;
}

static void problem_free(problem *p)
{
    free(p->lambda); free(p->q); free(p->k); free(p->v); free(p->beta); free(p->g);
    free(p->s0); free(p->d_o); free(p->ds_final);
}

/* ---- running the kernel -------------------------------------------------------------- */

typedef struct result {
    float *o, *s_final, *dq, *dk, *dv, *dbeta, *dg, *ds0;
} result;

static void result_free(result *r)
{
    free(r->o); free(r->s_final); free(r->dq); free(r->dk); free(r->dv);
    free(r->dbeta); free(r->dg); free(r->ds0);
}

/* Forward and backward at chunk length `chunk` (0: recurrent) into zeroed
 * buffers; saved and scratch are allocated at exactly the reported sizes. */
static result run_kernel(const problem *p, int chunk)
{
    k_linattn_cfg c = p->cfg;
    c.chunk = chunk;
    result r = {alloc_floats(n_v(&c)), alloc_floats(n_state(&c)), alloc_floats(n_qk(&c)),
                alloc_floats(n_qk(&c)), alloc_floats(n_v(&c)),
                c.delta ? alloc_floats(n_pos(&c)) : NULL,
                c.gate != K_GATE_NONE ? alloc_floats(n_g(&c)) : NULL, alloc_floats(n_state(&c))};
    float *saved = alloc_floats(k_linattn_saved_floats(&c));
    float *scratch = alloc_floats(k_linattn_scratch_floats(&c, omp_get_max_threads()));
    k_linattn_fwd(&c, p->q, p->k, p->v, p->beta, p->g, p->s0, r.o, r.s_final, saved, scratch);
    k_linattn_bwd(&c, p->q, p->k, p->v, p->beta, p->g, p->s0, saved, p->d_o, p->ds_final, r.dq,
                  r.dk, r.dv, r.dbeta, r.dg, r.ds0, scratch);
    free(saved);
    free(scratch);
    return r;
}

/* ---- comparing ---------------------------------------------------------------------------- */

/* max |a - b| / max |b|: error relative to the scale of the reference. */
static double rel_err(const float *a, const double *b, size_t n)
{
    double diff = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= diff)) diff = d; /* NaN sticks */
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return diff / scale;
}

static double rel_err_f(const float *a, const float *b, size_t n)
{
    double *bd = malloc((n ? n : 1) * sizeof *bd);
    for (size_t i = 0; i < n; i++) bd[i] = b[i];
    double e = rel_err(a, bd, n);
    free(bd);
    return e;
}

static const char *gate_name(int gate)
{
    return gate == K_GATE_CHANNEL ? "channel" : gate == K_GATE_SCALAR ? "scalar" : "none";
}

static void describe(char *buf, size_t n, const k_linattn_cfg *c)
{
    snprintf(buf, n, "T=%d chunk=%d delta=%d gate=%s lambda=%s", c->T, c->chunk, c->delta,
             gate_name(c->gate), c->lambda ? "yes" : "no");
}

static double worst_seen[2]; /* [0]: vs finite differences, [1]: chunk vs recurrent */

#define CHECK_REL(what, err, tol, cfgp, slot)                                          \
    do {                                                                               \
        double e_ = (err);                                                             \
        char d_[128];                                                                  \
        describe(d_, sizeof d_, (cfgp));                                              \
        if (e_ > worst_seen[slot] || e_ != e_) worst_seen[slot] = e_;                  \
        CHECK_MSG(e_ <= (tol), "%s: %s rel err %.3g > %.3g", d_, what, e_, (double)(tol)); \
    } while (0)

/* ======================================================================================
 * 1. Double-precision reference and finite differences
 * ====================================================================================== */

enum { IN_Q, IN_K, IN_V, IN_BETA, IN_G, IN_S0, N_INPUTS };

typedef struct ref_inputs { double *x[N_INPUTS]; size_t n[N_INPUTS]; } ref_inputs;

static double *to_double(const float *x, size_t n)
{
    double *d = calloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x ? x[i] : 0;
    return d;
}

static ref_inputs ref_inputs_of(const problem *p)
{
    const k_linattn_cfg *c = &p->cfg;
    ref_inputs in;
    in.n[IN_Q] = in.n[IN_K] = n_qk(c);
    in.n[IN_V] = n_v(c);
    in.n[IN_BETA] = c->delta ? n_pos(c) : 0;
    in.n[IN_G] = n_g(c);
    in.n[IN_S0] = n_state(c);
    const float *src[N_INPUTS] = {p->q, p->k, p->v, p->beta, p->g, p->s0};
    for (int i = 0; i < N_INPUTS; i++) in.x[i] = to_double(src[i], in.n[i]);
    return in;
}

/* The recurrence, written as plainly as possible, in double: outputs o and
 * final states sf. */
static void ref_forward(const problem *p, const ref_inputs *in, double *o, double *sf)
{
    const k_linattn_cfg *c = &p->cfg;
    const int T = c->T, Dk = c->Dk, Dv = c->Dv;
    double S[64 * 64], u[64];
    for (int bh = 0; bh < c->B * c->H; bh++) {
        const double lam = c->lambda ? c->lambda[bh % c->H] : 1.0;
        for (int e = 0; e < Dk * Dv; e++) S[e] = in->x[IN_S0][(size_t)bh * Dk * Dv + e];
        for (int t = 0; t < T; t++) {
            const size_t pos = (size_t)bh * T + t;
            const double *q = in->x[IN_Q] + pos * Dk, *k = in->x[IN_K] + pos * Dk;
            const double *v = in->x[IN_V] + pos * Dv;
            for (int i = 0; i < Dk; i++) {
                double a = lam;
                if (c->gate == K_GATE_SCALAR) a *= exp(in->x[IN_G][pos]);
                if (c->gate == K_GATE_CHANNEL) a *= exp(in->x[IN_G][pos * Dk + i]);
                for (int j = 0; j < Dv; j++) S[i * Dv + j] *= a;
            }
            for (int j = 0; j < Dv; j++) {
                double stk = 0;
                for (int i = 0; i < Dk; i++) stk += S[i * Dv + j] * k[i];
                u[j] = c->delta ? in->x[IN_BETA][pos] * (v[j] - stk) : v[j];
            }
            for (int i = 0; i < Dk; i++)
                for (int j = 0; j < Dv; j++) S[i * Dv + j] += k[i] * u[j];
            for (int j = 0; j < Dv; j++) {
                double acc = 0;
                for (int i = 0; i < Dk; i++) acc += S[i * Dv + j] * q[i];
                o[pos * Dv + j] = acc;
            }
        }
        for (int e = 0; e < Dk * Dv; e++) sf[(size_t)bh * Dk * Dv + e] = S[e];
    }
}

/* The scalar whose gradient the kernel's backward computes: <o, d_o> + <sf, ds_final>. */
static double ref_loss(const problem *p, const ref_inputs *in, double *o, double *sf)
{
    const k_linattn_cfg *c = &p->cfg;
    ref_forward(p, in, o, sf);
    double L = 0;
    for (size_t i = 0; i < n_v(c); i++) L += o[i] * p->d_o[i];
    for (size_t i = 0; i < n_state(c); i++) L += sf[i] * p->ds_final[i];
    return L;
}

/* Central differences of ref_loss wrt every element of input `which`. */
static double *finite_diff(const problem *p, ref_inputs *in, int which)
{
    const double h = 1e-5;
    double *o = calloc(n_v(&p->cfg), sizeof *o), *sf = calloc(n_state(&p->cfg), sizeof *sf);
    double *grad = calloc(in->n[which] ? in->n[which] : 1, sizeof *grad);
    for (size_t e = 0; e < in->n[which]; e++) {
        double *x = &in->x[which][e], x0 = *x;
        *x = x0 + h;
        double lp = ref_loss(p, in, o, sf);
        *x = x0 - h;
        double lm = ref_loss(p, in, o, sf);
        *x = x0;
        grad[e] = (lp - lm) / (2 * h);
    }
    free(o);
    free(sf);
    return grad;
}

static void check_against_reference(const problem *p, int chunk)
{
    const k_linattn_cfg *c0 = &p->cfg;
    k_linattn_cfg c = *c0;
    c.chunk = chunk;
    ref_inputs in = ref_inputs_of(p);
    double *o = calloc(n_v(c0), sizeof *o), *sf = calloc(n_state(c0), sizeof *sf);
    ref_forward(p, &in, o, sf);
    result r = run_kernel(p, chunk);
    CHECK_REL("o", rel_err(r.o, o, n_v(c0)), 2e-5, &c, 0);
    CHECK_REL("s_final", rel_err(r.s_final, sf, n_state(c0)), 2e-5, &c, 0);
    const char *names[N_INPUTS] = {"dq", "dk", "dv", "dbeta", "dg", "ds0"};
    const float *grads[N_INPUTS] = {r.dq, r.dk, r.dv, r.dbeta, r.dg, r.ds0};
    for (int i = 0; i < N_INPUTS; i++) {
        if (!in.n[i]) continue;
        double *fd = finite_diff(p, &in, i);
        CHECK_REL(names[i], rel_err(grads[i], fd, in.n[i]), 1e-4, &c, 0);
        free(fd);
    }
    result_free(&r);
    free(o);
    free(sf);
    for (int i = 0; i < N_INPUTS; i++) free(in.x[i]);
}

/* T = 70 crosses the recurrent form's checkpoint interval (64); Dk = 5 is
 * not a multiple of the chunk form's 4-channel blocks. */
TEST(recurrent_matches_double_reference_and_finite_differences)
{
    for (int delta = 0; delta <= 1; delta++)
        for (int gate = K_GATE_NONE; gate <= K_GATE_CHANNEL; gate++)
            for (int lam = 0; lam <= 1; lam++) {
                problem p = problem_new(1, 2, 70, 5, 3, delta, gate, lam, GATES_MILD,
                                        100 + delta * 10 + gate * 2 + lam);
                check_against_reference(&p, 0);
                check_against_reference(&p, 16);
                problem_free(&p);
            }
}

/* ======================================================================================
 * 2. Chunkwise vs recurrent
 * ====================================================================================== */

static void check_chunk_vs_recurrent(const problem *p, int chunk, double tol)
{
    const k_linattn_cfg *c0 = &p->cfg;
    k_linattn_cfg c = *c0;
    c.chunk = chunk;
    result rec = run_kernel(p, 0), chk = run_kernel(p, chunk);
    CHECK_REL("o", rel_err_f(chk.o, rec.o, n_v(c0)), tol, &c, 1);
    CHECK_REL("s_final", rel_err_f(chk.s_final, rec.s_final, n_state(c0)), tol, &c, 1);
    CHECK_REL("dq", rel_err_f(chk.dq, rec.dq, n_qk(c0)), tol, &c, 1);
    CHECK_REL("dk", rel_err_f(chk.dk, rec.dk, n_qk(c0)), tol, &c, 1);
    CHECK_REL("dv", rel_err_f(chk.dv, rec.dv, n_v(c0)), tol, &c, 1);
    CHECK_REL("ds0", rel_err_f(chk.ds0, rec.ds0, n_state(c0)), tol, &c, 1);
    if (c0->delta) CHECK_REL("dbeta", rel_err_f(chk.dbeta, rec.dbeta, n_pos(c0)), tol, &c, 1);
    if (c0->gate != K_GATE_NONE) CHECK_REL("dg", rel_err_f(chk.dg, rec.dg, n_g(c0)), tol, &c, 1);
    result_free(&rec);
    result_free(&chk);
}

static void chunk_vs_recurrent_dims(int T, int Dk, int Dv, int chunk, enum gate_strength strength)
{
    for (int delta = 0; delta <= 1; delta++)
        for (int gate = K_GATE_NONE; gate <= K_GATE_CHANNEL; gate++)
            for (int lam = 0; lam <= 1; lam++) {
                problem p = problem_new(2, 3, T, Dk, Dv, delta, gate, lam, strength,
                                        1000 + T + delta * 10 + gate * 2 + lam);
                check_chunk_vs_recurrent(&p, chunk, 2e-4);
                problem_free(&p);
            }
}

static void chunk_vs_recurrent_all_modes(int T, int chunk, enum gate_strength strength)
{
    chunk_vs_recurrent_dims(T, 16, 24, chunk, strength);
}

TEST(chunk_matches_recurrent_T_not_multiple_of_chunk)
{
    chunk_vs_recurrent_all_modes(150, 64, GATES_MILD);
    chunk_vs_recurrent_all_modes(150, 32, GATES_MILD);
}

TEST(chunk_matches_recurrent_T_shorter_than_chunk)
{
    chunk_vs_recurrent_all_modes(40, 64, GATES_MILD);
    chunk_vs_recurrent_all_modes(1, 64, GATES_MILD);
}

TEST(chunk_matches_recurrent_strongly_negative_gates)
{
    chunk_vs_recurrent_all_modes(150, 64, GATES_STRONG);
}

/* Head sizes and a chunk that are not multiples of the kernel's blocking
 * (4 channels, 16-float vectors). */
TEST(chunk_matches_recurrent_odd_sizes)
{
    chunk_vs_recurrent_dims(100, 7, 5, 24, GATES_MILD);
    chunk_vs_recurrent_dims(100, 7, 5, 24, GATES_STRONG);
}

/* The typical head size, a full chunk and a ragged tail. */
TEST(chunk_matches_recurrent_head_dim_32)
{
    for (int gate = K_GATE_NONE; gate <= K_GATE_CHANNEL; gate++) {
        problem p = problem_new(1, 2, 200, 32, 32, 1, gate, 1, GATES_MILD, 77 + gate);
        check_chunk_vs_recurrent(&p, 64, 2e-4);
        problem_free(&p);
    }
}

/* ======================================================================================
 * 3. Thread-count independence
 * ====================================================================================== */

static int same_bits(const float *a, const float *b, size_t n)
{
    return (!a && !b) || (a && b && memcmp(a, b, n * sizeof(float)) == 0);
}

static int results_identical(const k_linattn_cfg *c, const result *x, const result *y)
{
    return same_bits(x->o, y->o, n_v(c)) && same_bits(x->s_final, y->s_final, n_state(c)) &&
           same_bits(x->dq, y->dq, n_qk(c)) && same_bits(x->dk, y->dk, n_qk(c)) &&
           same_bits(x->dv, y->dv, n_v(c)) &&
           same_bits(x->dbeta, y->dbeta, c->delta ? n_pos(c) : 0) &&
           same_bits(x->dg, y->dg, n_g(c)) && same_bits(x->ds0, y->ds0, n_state(c));
}

TEST(same_bits_with_one_and_two_threads)
{
    const int before = omp_get_max_threads();
    const int modes[][2] = {{1, K_GATE_CHANNEL}, {1, K_GATE_SCALAR}, {0, K_GATE_CHANNEL},
                            {0, K_GATE_NONE}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        problem p = problem_new(2, 3, 150, 16, 24, modes[m][0], modes[m][1], 1, GATES_MILD, 5 + m);
        for (int chunk = 0; chunk <= 64; chunk += 64) {
            omp_set_num_threads(1);
            result one = run_kernel(&p, chunk);
            omp_set_num_threads(2);
            result two = run_kernel(&p, chunk);
            CHECK_MSG(results_identical(&p.cfg, &one, &two), "delta=%d gate=%s chunk=%d",
                      modes[m][0], gate_name(modes[m][1]), chunk);
            result_free(&one);
            result_free(&two);
        }
        problem_free(&p);
    }
    omp_set_num_threads(before);
}

/* ======================================================================================
 * 4. Accumulation and optional pointers
 * ====================================================================================== */

/* Forward into `saved`, then backward with the given gradient buffers. */
static void fwd_into(const problem *p, const k_linattn_cfg *c, float *o, float *s_final,
                     float *saved, float *scratch)
{
    k_linattn_fwd(c, p->q, p->k, p->v, p->beta, p->g, p->s0, o, s_final, saved, scratch);
}

static void bwd_into(const problem *p, const k_linattn_cfg *c, const float *saved, result *r,
                     float *scratch)
{
    k_linattn_bwd(c, p->q, p->k, p->v, p->beta, p->g, p->s0, saved, p->d_o, p->ds_final, r->dq,
                  r->dk, r->dv, r->dbeta, r->dg, r->ds0, scratch);
}

static result zero_grads(const k_linattn_cfg *c)
{
    result r = {NULL, NULL, alloc_floats(n_qk(c)), alloc_floats(n_qk(c)), alloc_floats(n_v(c)),
                alloc_floats(n_pos(c)), alloc_floats(n_g(c)), alloc_floats(n_state(c))};
    return r;
}

/* The i-th gradient buffer of r: dq, dk, dv, dbeta, dg, ds0. */
static float **grad_slot(result *r, int i)
{
    float **slots[6] = {&r->dq, &r->dk, &r->dv, &r->dbeta, &r->dg, &r->ds0};
    return slots[i];
}

static void check_accumulation(int chunk)
{
    problem p = problem_new(2, 2, 100, 8, 8, 1, K_GATE_CHANNEL, 1, GATES_MILD, 9);
    k_linattn_cfg c = p.cfg;
    c.chunk = chunk;
    float *o = alloc_floats(n_v(&c)), *sf = alloc_floats(n_state(&c));
    float *saved = alloc_floats(k_linattn_saved_floats(&c));
    float *scratch = alloc_floats(k_linattn_scratch_floats(&c, omp_get_max_threads()));
    fwd_into(&p, &c, o, sf, saved, scratch);

    result once = zero_grads(&c), twice = zero_grads(&c);
    bwd_into(&p, &c, saved, &once, scratch);
    bwd_into(&p, &c, saved, &twice, scratch);
    bwd_into(&p, &c, saved, &twice, scratch);
    const size_t n[6] = {n_qk(&c), n_qk(&c), n_v(&c), n_pos(&c), n_g(&c), n_state(&c)};
    for (int i = 0; i < 6; i++) {
        float *a = *grad_slot(&once, i), *b = *grad_slot(&twice, i);
        for (size_t e = 0; e < n[i]; e++) a[e] *= 2;
        CHECK_MSG(same_bits(a, b, n[i]), "chunk=%d: gradient %d not doubled", chunk, i);
    }
    /* Each gradient alone, the others NULL: the same values. */
    for (int i = 0; i < 6; i++) {
        result only = {0};
        float *alone = *grad_slot(&only, i) = alloc_floats(n[i]);
        bwd_into(&p, &c, saved, &only, scratch);
        for (size_t e = 0; e < n[i]; e++) alone[e] *= 2;
        CHECK_MSG(same_bits(alone, *grad_slot(&once, i), n[i]),
                  "chunk=%d: gradient %d alone differs", chunk, i);
        free(alone);
    }
    /* No gradient at all must not crash. */
    result none = {0};
    bwd_into(&p, &c, saved, &none, scratch);
    result_free(&once);
    result_free(&twice);
    free(o); free(sf); free(saved); free(scratch);
    problem_free(&p);
}

TEST(backward_accumulates_and_skips_null_gradients)
{
    check_accumulation(0);
    check_accumulation(32);
}

/* s0 == NULL is a zero start, s_final NULL is not written, ds_final NULL is zero. */
static void check_optional_state(int chunk)
{
    problem p = problem_new(1, 2, 90, 8, 8, 1, K_GATE_SCALAR, 0, GATES_MILD, 11);
    k_linattn_cfg c = p.cfg;
    c.chunk = chunk;
    memset(p.s0, 0, n_state(&c) * sizeof(float));
    memset(p.ds_final, 0, n_state(&c) * sizeof(float));
    result with = run_kernel(&p, chunk);

    float *o = alloc_floats(n_v(&c)), *saved = alloc_floats(k_linattn_saved_floats(&c));
    float *scratch = alloc_floats(k_linattn_scratch_floats(&c, omp_get_max_threads()));
    k_linattn_fwd(&c, p.q, p.k, p.v, p.beta, p.g, NULL, o, NULL, saved, scratch);
    result without = zero_grads(&c);
    k_linattn_bwd(&c, p.q, p.k, p.v, p.beta, p.g, NULL, saved, p.d_o, NULL, without.dq,
                  without.dk, without.dv, without.dbeta, without.dg, without.ds0, scratch);
    CHECK(same_bits(o, with.o, n_v(&c)));
    CHECK(same_bits(without.dq, with.dq, n_qk(&c)));
    CHECK(same_bits(without.dk, with.dk, n_qk(&c)));
    CHECK(same_bits(without.dg, with.dg, n_g(&c)));
    CHECK(same_bits(without.ds0, with.ds0, n_state(&c)));
    /* Forward only (inference): no saved buffer. */
    k_linattn_fwd(&c, p.q, p.k, p.v, p.beta, p.g, NULL, o, NULL, NULL, scratch);
    CHECK(same_bits(o, with.o, n_v(&c)));
    result_free(&with);
    result_free(&without);
    free(o); free(saved); free(scratch);
    problem_free(&p);
}

TEST(optional_s0_s_final_ds_final_and_saved)
{
    check_optional_state(0);
    check_optional_state(64);
}

TEST(saved_size_is_one_state_per_chunk)
{
    k_linattn_cfg c = {2, 3, 150, 16, 24, 1, K_GATE_NONE, NULL, 64};
    CHECK(k_linattn_saved_floats(&c) == (size_t)2 * 3 * 3 * 16 * 24);
    c.chunk = 0; /* recurrent: a checkpoint every 64 steps */
    CHECK(k_linattn_saved_floats(&c) == (size_t)2 * 3 * 3 * 16 * 24);
    CHECK(k_linattn_scratch_floats(&c, 2) == 2 * k_linattn_scratch_floats(&c, 1));
}

int main(void)
{
    RUN(recurrent_matches_double_reference_and_finite_differences);
    RUN(chunk_matches_recurrent_T_not_multiple_of_chunk);
    RUN(chunk_matches_recurrent_T_shorter_than_chunk);
    RUN(chunk_matches_recurrent_strongly_negative_gates);
    RUN(chunk_matches_recurrent_odd_sizes);
    RUN(chunk_matches_recurrent_head_dim_32);
    RUN(same_bits_with_one_and_two_threads);
    RUN(backward_accumulates_and_skips_null_gradients);
    RUN(optional_s0_s_final_ds_final_and_saved);
    RUN(saved_size_is_one_state_per_chunk);
    printf("worst relative error: vs finite differences %.2g, chunk vs recurrent %.2g\n",
           worst_seen[0], worst_seen[1]);
    return test_summary();
}
