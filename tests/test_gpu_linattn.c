/*
 * test_gpu_linattn.c — the linear-attention kernels of kernels/cuda/linattn.cu
 * against the CPU's k_linattn_fwd / k_linattn_bwd, on the emulated device
 * (gpu_emu.h), through the launchers of gpu/ops_linattn.c.
 *
 *  1. Every delta x gate x lambda combination, chunkwise (chunk 16, T not a
 *     multiple of it) and recurrent (chunk 0, two segments of 64, the last
 *     ragged): o, s_final, the saved states, and every gradient, the
 *     gradients pre-filled with random values (backward accumulates).
 *  2. Shapes: Dv over two column tiles (the last partial), Dk != Dv, T
 *     shorter than the chunk, T = 0, chunk 64, strongly negative gates.
 *  3. NULL gradients (each alone, none at all), NULL s0 / s_final / ds_final.
 *  4. Rejected configurations say why.
 *
 * Tolerance. Both devices evaluate the same formulas in float, in different
 * orders (GEMMs vs. loops, substitution vs. an explicit triangular inverse,
 * libm's expf vs. the CPU's polynomial). The outputs are nested sums: per
 * chunk a Dk-sum (Kh S0), a C-sum through the triangular inverse, and the
 * C- and Dk-sums of O and of the next state, and the state carries this
 * through every chunk. A dot product of length n in float has a relative
 * error up to gamma_n = n u / (1 - n u) (u = 2^-24) of the sum of its terms'
 * magnitudes, and the errors of nested sums add, so the depth of the whole
 * computation is about n_eff = chunks * (2 Dk + 3 C + Dv) + Dv (the backward
 * is as deep). With unit-norm q and k, |v| <= 1 and beta < 1, the terms' magnitudes
 * stay within a small factor (kappa = 8: states grow to a few units, and
 * the inverse's entries stay below a few units for beta < 1 and unit keys)
 * of 1 + |result|, which is what gpu_emu_max_err divides by. Both sides
 * contribute, hence tol = 2 * kappa * gamma(n_eff): 2.9e-4 for the
 * chunkwise cases here (3 chunks of 16 at Dk = Dv = 16), 4.7e-4 for the
 * recurrent ones (2 segments of 64). A worst-case bound: the errors seen
 * are about 1e-6 (the test prints the largest error / tolerance).
 */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_emu.h"
#include "kernels.h"
#include "test.h"

static gpu_dev *dev;

/* ---- inputs ------------------------------------------------------------------------- */

static uint64_t rng_state;

static float uniform(float lo, float hi)
{
    rng_state ^= rng_state << 13;   /* xorshift64 */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((rng_state >> 40) / 16777216.0);
}

static float *randoms(size_t n, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = uniform(lo, hi);
    return x;
}

/* rows x D floats, each row of unit l2 norm (as l2-normalised q and k). */
static float *unit_rows(size_t rows, int D)
{
    float *x = randoms(rows * D, -1, 1);
    for (size_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)x[r * D + j] * x[r * D + j];
        for (int j = 0; j < D; j++) x[r * D + j] = (float)(x[r * D + j] / sqrt(ss));
    }
    return x;
}

enum strength { MILD, STRONG };

/* Log gates: mild ones keep a long memory; strong ones mix that with steps
 * that decay by up to e^-20, so that the products over a chunk underflow. */
static float *gates(size_t n, enum strength s)
{
    float *g = randoms(n, -0.5f, -0.001f);
    if (s == STRONG)
        for (size_t i = 0; i < n; i++)
            if (uniform(0, 1) < 0.3f) g[i] = uniform(-20, -5);
    return g;
}

/* ---- one case ---------------------------------------------------------------------------- */

/* Which optional buffers a case passes (the others are NULL / 0). */
enum {
    W_DQ = 1, W_DK = 2, W_DV = 4, W_DBETA = 8, W_DG = 16, W_DS0 = 32,
    W_GRADS = 63,
    W_S0 = 64, W_SFINAL = 128, W_DSFINAL = 256,
    W_ALL = 511
};

typedef struct la_case {
    int B, H, T, Dk, Dv, delta, gate, lambda, chunk;
    enum strength strength;
    unsigned want;
} la_case;

static const char *gate_name(int gate) { return gate == K_GATE_CHANNEL ? "channel" : gate ? "scalar" : "none"; }

static void describe(char *buf, size_t n, const la_case *k)
{
    snprintf(buf, n, "B=%d H=%d T=%d Dk=%d Dv=%d chunk=%d delta=%d gate=%s lambda=%d %s want=%#x", k->B, k->H, k->T,
             k->Dk, k->Dv, k->chunk, k->delta, gate_name(k->gate), k->lambda, k->strength == STRONG ? "strong" : "mild",
             k->want);
}

/* The tolerance of the header's comment for this shape. */
static double tolerance(const la_case *k)
{
    const int C = k->chunk > 0 ? k->chunk : 64, chunks = (k->T + C - 1) / C;
    const double u = 0x1p-24, n = (double)(chunks > 0 ? chunks : 1) * (2 * k->Dk + 3 * C + k->Dv) + k->Dv;
    const double kappa = 8;
    return 2 * kappa * n * u / (1 - n * u);
}

static double worst_ratio;   /* largest error / tolerance seen, for the log */

/* The device's n floats at p within tol of ref (both may be absent). */
static void check_close(const char *what, const la_case *k, gpu_ptr p, const float *ref, size_t n, double tol)
{
    if (!p || !ref || !n) return;
    size_t at = 0;
    double e = gpu_emu_max_err(dev, p, ref, n, &at);
    if (e / tol > worst_ratio) worst_ratio = e / tol;
    char d[256];
    describe(d, sizeof d, k);
    CHECK_MSG(e <= tol, "%s: %s: error %.3g at %zu > %.3g", d, what, e, at, tol);
}

/* A host buffer and its device copy, or NULL and 0 when not wanted. */
typedef struct pair { float *host; gpu_ptr dev; size_t n; } pair;

static pair pair_of(float *host, size_t n, int wanted)
{
    pair p = {NULL, 0, n};
    if (!wanted) { free(host); return p; }
    p.host = host;
    p.dev = gpu_emu_put(dev, host, n);
    return p;
}

static void pair_free(pair *p)
{
    free(p->host);
    gpu_free(dev, p->dev);
}

/* Runs the case on both devices and compares every output. */
static void run_case(const la_case *k)
{
    const size_t pos = (size_t)k->B * k->H * k->T, nqk = pos * k->Dk, nv = pos * k->Dv;
    const size_t nstate = (size_t)k->B * k->H * k->Dk * k->Dv;
    const size_t ng = k->gate == K_GATE_CHANNEL ? nqk : k->gate == K_GATE_SCALAR ? pos : 0;
    const unsigned w = k->want;
    float *lambda_h = randoms(k->H, 0.8f, 1.0f);
    k_linattn_cfg c = {k->B, k->H, k->T, k->Dk, k->Dv, k->delta, k->gate, k->lambda ? lambda_h : NULL, k->chunk};
    const double tol = tolerance(k);

    pair lambda = pair_of(lambda_h, k->H, k->lambda);
    pair q = pair_of(unit_rows(pos, k->Dk), nqk, 1), kk = pair_of(unit_rows(pos, k->Dk), nqk, 1);
    pair v = pair_of(randoms(nv, -1, 1), nv, 1);
    pair beta = pair_of(randoms(pos, 0.05f, 0.95f), pos, k->delta);
    pair g = pair_of(gates(ng, k->strength), ng, k->gate != K_GATE_NONE);
    pair s0 = pair_of(randoms(nstate, -0.5f, 0.5f), nstate, w & W_S0);

    /* forward */
    const size_t nsaved = k_linattn_saved_floats(&c);
    CHECK(gpu_linattn_saved_floats(&c) == nsaved);
    float *o = malloc((nv ? nv : 1) * sizeof *o), *s_final = randoms(nstate, -1, 1);
    float *saved = malloc((nsaved ? nsaved : 1) * sizeof *saved);
    float *scratch = malloc((k_linattn_scratch_floats(&c, omp_get_max_threads()) + 1) * sizeof *scratch);
    k_linattn_fwd(&c, q.host, kk.host, v.host, beta.host, g.host, s0.host, o, w & W_SFINAL ? s_final : NULL, saved,
                  scratch);
    gpu_ptr go = gpu_alloc(dev, (nv ? nv : 1) * sizeof(float)), gsaved = gpu_alloc(dev, (nsaved ? nsaved : 1) * sizeof(float));
    gpu_ptr gs_final = w & W_SFINAL ? gpu_alloc(dev, nstate * sizeof(float)) : 0;
    CHECK(gpu_linattn_fwd(dev, &c, lambda.dev, q.dev, kk.dev, v.dev, beta.dev, g.dev, s0.dev, go, gs_final, gsaved) == 0);
    check_close("o", k, go, o, nv, tol);
    check_close("s_final", k, gs_final, s_final, nstate, tol);
    check_close("saved states", k, gsaved, saved, nsaved, tol);

    /* backward, into gradients that already hold something */
    pair d_o = pair_of(randoms(nv, -1, 1), nv, 1);
    pair ds_final = pair_of(randoms(nstate, -1, 1), nstate, w & W_DSFINAL);
    pair dq = pair_of(randoms(nqk, -1, 1), nqk, w & W_DQ), dk = pair_of(randoms(nqk, -1, 1), nqk, w & W_DK);
    pair dv = pair_of(randoms(nv, -1, 1), nv, w & W_DV);
    pair dbeta = pair_of(randoms(pos, -1, 1), pos, k->delta && (w & W_DBETA));
    pair dg = pair_of(randoms(ng, -1, 1), ng, k->gate != K_GATE_NONE && (w & W_DG));
    pair ds0 = pair_of(randoms(nstate, -1, 1), nstate, w & W_DS0);
    const long launches = gpu_emu_launches();
    k_linattn_bwd(&c, q.host, kk.host, v.host, beta.host, g.host, s0.host, saved, d_o.host, ds_final.host, dq.host,
                  dk.host, dv.host, dbeta.host, dg.host, ds0.host, scratch);
    CHECK(gpu_linattn_bwd(dev, &c, lambda.dev, q.dev, kk.dev, v.dev, beta.dev, g.dev, s0.dev, gsaved, d_o.dev,
                          ds_final.dev, dq.dev, dk.dev, dv.dev, dbeta.dev, dg.dev, ds0.dev) == 0);
    if (!(dq.dev || dk.dev || dv.dev || dbeta.dev || dg.dev || ds0.dev)) CHECK(gpu_emu_launches() == launches);
    check_close("dq", k, dq.dev, dq.host, nqk, tol);
    check_close("dk", k, dk.dev, dk.host, nqk, tol);
    check_close("dv", k, dv.dev, dv.host, nv, tol);
    check_close("dbeta", k, dbeta.dev, dbeta.host, pos, tol);
    check_close("dg", k, dg.dev, dg.host, ng, tol);
    check_close("ds0", k, ds0.dev, ds0.host, nstate, tol);

    pair *all[] = {&lambda, &q, &kk, &v, &beta, &g, &s0, &d_o, &ds_final, &dq, &dk, &dv, &dbeta, &dg, &ds0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) pair_free(all[i]);
    gpu_free(dev, go);
    gpu_free(dev, gsaved);
    gpu_free(dev, gs_final);
    free(o);
    free(s_final);
    free(saved);
    free(scratch);
}

/* ---- the cases ---------------------------------------------------------------------------- */

/* Every delta x gate x lambda combination at one shape. */
static void all_modes(int T, int Dk, int Dv, int chunk, enum strength strength)
{
    for (int delta = 0; delta <= 1; delta++)
        for (int gate = K_GATE_NONE; gate <= K_GATE_CHANNEL; gate++)
            for (int lambda = 0; lambda <= 1; lambda++) {
                la_case k = {2, 2, T, Dk, Dv, delta, gate, lambda, chunk, strength, W_ALL};
                run_case(&k);
            }
}

TEST(chunkwise_matches_the_cpu_in_every_mode)
{
    all_modes(37, 16, 16, 16, MILD);   /* three chunks, the last of 5 */
}

TEST(recurrent_matches_the_cpu_in_every_mode)
{
    all_modes(70, 16, 16, 0, MILD);   /* two segments of 64, the last of 6 */
}

TEST(strongly_negative_gates)
{
    for (int delta = 0; delta <= 1; delta++)
        for (int gate = K_GATE_SCALAR; gate <= K_GATE_CHANNEL; gate++) {
            la_case k = {2, 2, 37, 16, 16, delta, gate, 1, 16, STRONG, W_ALL};
            run_case(&k);
        }
}

TEST(shapes)
{
    /* Dv over two column tiles, the second partial; a full chunk of 64 and a ragged one */
    la_case wide = {1, 2, 100, 32, 48, 1, K_GATE_SCALAR, 1, 64, MILD, W_ALL};
    run_case(&wide);
    la_case wide_channel = {1, 2, 100, 32, 48, 1, K_GATE_CHANNEL, 0, 64, MILD, W_ALL};
    run_case(&wide_channel);
    /* Dk != Dv, odd sizes, an odd chunk length */
    la_case odd = {2, 1, 29, 7, 5, 1, K_GATE_CHANNEL, 1, 12, MILD, W_ALL};
    run_case(&odd);
    la_case odd_plain = {2, 1, 29, 24, 9, 0, K_GATE_SCALAR, 1, 12, MILD, W_ALL};
    run_case(&odd_plain);
    /* T shorter than the chunk; a single step; no steps at all (s_final = s0, ds0 += ds_final) */
    la_case short_t = {2, 2, 5, 16, 16, 1, K_GATE_CHANNEL, 1, 16, MILD, W_ALL};
    run_case(&short_t);
    la_case one = {1, 2, 1, 16, 16, 1, K_GATE_SCALAR, 0, 0, MILD, W_ALL};
    run_case(&one);
    la_case none = {1, 2, 0, 16, 16, 1, K_GATE_SCALAR, 1, 16, MILD, W_ALL};
    run_case(&none);
}

TEST(null_gradients_and_states)
{
    static const unsigned wants[] = {
        W_DQ, W_DK, W_DV, W_DBETA, W_DG, W_DS0,           /* each gradient alone */
        W_DV | W_DS0 | W_DSFINAL,                         /* the state walk alone */
        W_GRADS,                                          /* no s0, s_final, ds_final */
        W_S0 | W_SFINAL | W_DSFINAL,                      /* nothing wanted: nothing runs */
    };
    for (size_t i = 0; i < sizeof wants / sizeof *wants; i++)
        for (int gate = K_GATE_SCALAR; gate <= K_GATE_CHANNEL; gate++) {
            la_case k = {2, 1, 21, 8, 8, 1, gate, 1, 8, MILD, wants[i]};
            run_case(&k);
        }
}

TEST(unsupported_configurations_are_refused_with_a_reason)
{
    k_linattn_cfg c = {1, 1, 4, 129, 16, 0, K_GATE_NONE, NULL, 16};
    gpu_ptr x = gpu_alloc(dev, 4096 * sizeof(float));
    CHECK(gpu_linattn_fwd(dev, &c, 0, x, x, x, 0, 0, 0, x, 0, x) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "Dk=129");
    CHECK_STR_CONTAINS(gpu_error(dev), "at most");
    c.Dk = 16;
    c.chunk = 128;
    CHECK(gpu_linattn_bwd(dev, &c, 0, x, x, x, 0, 0, 0, x, x, 0, x, 0, 0, 0, 0, 0) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "chunk length 128");
    c.chunk = 16;
    c.delta = 1;
    CHECK(gpu_linattn_fwd(dev, &c, 0, x, x, x, 0, 0, 0, x, 0, x) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "beta");
    c.delta = 0;
    c.gate = K_GATE_CHANNEL;
    CHECK(gpu_linattn_fwd(dev, &c, 0, x, x, x, 0, 0, 0, x, 0, x) == -1);
    CHECK_STR_CONTAINS(gpu_error(dev), "gate");
    gpu_free(dev, x);
}

int main(void)
{
    rng_state = 0x9E3779B97F4A7C15ull;
    dev = gpu_emu_open(NULL);
    RUN(chunkwise_matches_the_cpu_in_every_mode);
    RUN(recurrent_matches_the_cpu_in_every_mode);
    RUN(strongly_negative_gates);
    RUN(shapes);
    RUN(null_gradients_and_states);
    RUN(unsupported_configurations_are_refused_with_a_reason);
    printf("largest error / tolerance: %.3f\n", worst_ratio);
    gpu_close(dev);
    return test_summary();
}
