/*
 * bench_linattn.c — forward+backward time of the generalised linear-attention
 * kernel, chunkwise (chunk 64 and 32) against recurrent, on the shapes
 * training uses.
 *
 *   bench_linattn [tiny|small|20m ...]     (default: all three)
 *
 * Prints, per shape and mode, milliseconds per forward and per backward,
 * tokens/s of forward+backward (tokens = B*T, all heads), the saved and
 * scratch buffers, and how many times faster the chunk form is.
 * Threads: OMP_NUM_THREADS. The GEMMs are OpenBLAS's: check which kernels it
 * picked for this CPU (OPENBLAS_VERBOSE=2) before reading the figures.
 */
#include "kernels.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape { const char *name; int B, H, T, Dk, Dv; } shape;

static const shape SHAPES[] = {
    {"tiny", 8, 2, 128, 32, 32},
    {"small", 16, 4, 256, 32, 32},
    {"20m", 8, 8, 2048, 32, 32},
};

typedef struct mode { const char *name; int delta, gate; } mode;

static const mode MODES[] = {
    {"delta", 1, K_GATE_NONE},
    {"delta+scalar", 1, K_GATE_SCALAR},
    {"delta+channel", 1, K_GATE_CHANNEL},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static uint64_t rng_state = 42;
static float uniform(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((rng_state >> 40) * 0x1.0p-24);
}

static float *random_floats(size_t n, float lo, float hi)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = uniform(lo, hi);
    return x;
}

/* l2-normalised rows, as the architectures feed q and k. */
static float *unit_rows(size_t rows, int D)
{
    float *x = random_floats(rows * D, -1, 1);
    for (size_t r = 0; r < rows; r++) {
        float ss = 0;
        for (int j = 0; j < D; j++) ss += x[r * D + j] * x[r * D + j];
        for (int j = 0; j < D; j++) x[r * D + j] /= sqrtf(ss);
    }
    return x;
}

typedef struct inputs {
    float *q, *k, *v, *beta, *g, *s0, *d_o, *ds_final;
    float *o, *s_final, *dq, *dk, *dv, *dbeta, *dg, *ds0;
} inputs;

static inputs make_inputs(const shape *s)
{
    const size_t pos = (size_t)s->B * s->H * s->T, st = (size_t)s->B * s->H * s->Dk * s->Dv;
    inputs in = {
        unit_rows(pos, s->Dk), unit_rows(pos, s->Dk), random_floats(pos * s->Dv, -1, 1),
        random_floats(pos, 0.05f, 0.95f), random_floats(pos * s->Dk, -3, -0.01f),
        random_floats(st, -0.5f, 0.5f), random_floats(pos * s->Dv, -1, 1),
        random_floats(st, -1, 1),
        calloc(pos * s->Dv, sizeof(float)), calloc(st, sizeof(float)),
        calloc(pos * s->Dk, sizeof(float)), calloc(pos * s->Dk, sizeof(float)),
        calloc(pos * s->Dv, sizeof(float)), calloc(pos, sizeof(float)),
        calloc(pos * s->Dk, sizeof(float)), calloc(st, sizeof(float)),
    };
    return in;
}

static void free_inputs(inputs *in)
{
    float *all[] = {in->q, in->k, in->v, in->beta, in->g, in->s0, in->d_o, in->ds_final,
                    in->o, in->s_final, in->dq, in->dk, in->dv, in->dbeta, in->dg, in->ds0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

typedef struct timing { double fwd_s, bwd_s; size_t saved_floats, scratch_floats; } timing;

/* Mean forward and backward time over enough repetitions to fill ~min_s. */
static timing time_form(const shape *s, const mode *m, int chunk, const inputs *in, double min_s)
{
    k_linattn_cfg c = {s->B, s->H, s->T, s->Dk, s->Dv, m->delta, m->gate, NULL, chunk};
    timing tm = {0, 0, k_linattn_saved_floats(&c),
                 k_linattn_scratch_floats(&c, omp_get_max_threads())};
    float *saved = malloc(tm.saved_floats * sizeof(float));
    float *scratch = malloc(tm.scratch_floats * sizeof(float));
    int reps = 0;
    for (double start = now_s(); reps < 2 || now_s() - start < min_s; reps++) {
        double t0 = now_s();
        k_linattn_fwd(&c, in->q, in->k, in->v, in->beta, in->g, in->s0, in->o, in->s_final,
                      saved, scratch);
        double t1 = now_s();
        k_linattn_bwd(&c, in->q, in->k, in->v, in->beta, in->g, in->s0, saved, in->d_o,
                      in->ds_final, in->dq, in->dk, in->dv, in->dbeta, in->dg, in->ds0, scratch);
        double t2 = now_s();
        if (reps > 0) { /* the first run warms caches and thread pools */
            tm.fwd_s += t1 - t0;
            tm.bwd_s += t2 - t1;
        }
    }
    tm.fwd_s /= reps - 1;
    tm.bwd_s /= reps - 1;
    free(saved);
    free(scratch);
    return tm;
}

static void bench_shape(const shape *s)
{
    inputs in = make_inputs(s);
    const double tokens = (double)s->B * s->T;
    printf("\n%s: B=%d H=%d T=%d Dk=%d Dv=%d  (%d threads)\n", s->name, s->B, s->H, s->T, s->Dk,
           s->Dv, omp_get_max_threads());
    printf("  %-14s %-9s %9s %9s %12s %10s %10s\n", "mode", "form", "fwd ms", "bwd ms",
           "tok/s f+b", "saved MB", "scratch MB");
    static const int forms[] = {64, 32, 0}; /* chunk length; 0: recurrent */
    for (size_t m = 0; m < sizeof MODES / sizeof MODES[0]; m++) {
        timing t[3];
        for (int f = 0; f < 3; f++) {
            char form[16];
            snprintf(form, sizeof form, forms[f] ? "chunk%d" : "recurrent", forms[f]);
            t[f] = time_form(s, &MODES[m], forms[f], &in, 0.5);
            printf("  %-14s %-9s %9.2f %9.2f %12.0f %10.2f %10.2f\n", MODES[m].name, form,
                   1e3 * t[f].fwd_s, 1e3 * t[f].bwd_s, tokens / (t[f].fwd_s + t[f].bwd_s),
                   t[f].saved_floats * 4e-6, t[f].scratch_floats * 4e-6);
        }
        printf("  %-14s speed-up over recurrent: chunk64 %.1fx, chunk32 %.1fx\n", MODES[m].name,
               (t[2].fwd_s + t[2].bwd_s) / (t[0].fwd_s + t[0].bwd_s),
               (t[2].fwd_s + t[2].bwd_s) / (t[1].fwd_s + t[1].bwd_s));
    }
    free_inputs(&in);
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);   /* the kernels and threads asiarch itself would use */
    const size_t n = sizeof SHAPES / sizeof SHAPES[0];
    for (size_t i = 0; i < n; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], SHAPES[i].name) == 0;
        if (wanted) bench_shape(&SHAPES[i]);
    }
    return 0;
}
