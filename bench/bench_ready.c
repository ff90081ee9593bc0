/*
 * bench_ready.c — source-to-ready latency: how long from a candidate's C
 * file to a model graph the trainer can run.
 *
 *   bench_ready [-n RUNS] [FILE.c ...]      (default: every arch/NAME.c, 10 runs)
 *
 * Stages, timed one by one: read the source, check (libclang rules),
 * compile (clang -> bitcode), load (ORC LLJIT), build (the model graph at
 * scale tiny), verify (causality, batch independence, complexity, budget). Two modes: cold (use_cache = 0: clang runs every time) and
 * warm (the bitcode cache is on and already holds the file). Prints medians
 * in milliseconds per stage and in total, against the targets below, and
 * beside them the time of `$PYTHON -c "import torch"` (PYTHON defaults to
 * python3; point it at a virtual environment with torch) measured in the same
 * run: what a PyTorch-based loop pays before it can even define a model.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "runtime.h"
#include "kernels.h"

#ifndef ASIARCH_SOURCE_DIR
#define ASIARCH_SOURCE_DIR "."
#endif

#define TARGET_COLD_MS 100.0
#define TARGET_WARM_MS 20.0
#define MAX_FILES 64

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the stages ---------------------------------------------------------------- */

/* Everything one pass from source to ready needs and produces. */
typedef struct pass {
    const char *path;
    jit_compile_opts opts;
    ir_dims dims;
    jit_source src;
    jit_bitcode bc;
    jit_module *m;
    ir_graph *g;
    aa_reports reps;
    char err[512];
} pass;

static int stage_read(pass *p) { return jit_source_read(p->path, &p->src, &p->reps); }

static int stage_check(pass *p) { return jit_check(&p->src, &p->reps) == 0 ? 0 : -1; }

static int stage_compile(pass *p) { return jit_compile(&p->src, &p->opts, &p->bc, &p->reps); }

static int stage_load(pass *p) { return (p->m = jit_load(&p->bc, &p->src, &p->reps)) ? 0 : -1; }


static int stage_build(pass *p)
{
    rt_arch arch = {.name = jit_name(p->m), .source_file = p->src.path, .mixer = jit_mixer(p->m),
                    .resolve = jit_resolve_scalar, .resolve_ctx = p->m};
    p->g = rt_build_arch(&p->dims, &arch, p->err, sizeof p->err);
    return p->g ? 0 : -1;
}

static int stage_verify(pass *p)
{
    rt_arch arch = {.name = jit_name(p->m), .source_file = p->src.path, .mixer = jit_mixer(p->m),
                    .resolve = jit_resolve_scalar, .resolve_ctx = p->m};
    rt_config cfg;
    rt_config_scale("tiny", &cfg, p->err, sizeof p->err);
    rt_verify_opts o;
    rt_verify_defaults(&o);
    rt_verify_info info;
    return rt_verify(&cfg, &arch, &o, &p->reps, &info) == 0 ? 0 : -1;
}

static const struct stage {
    const char *name;
    int (*run)(pass *p);
} stages[] = {
    {"read", stage_read},
    {"check", stage_check},
    {"compile", stage_compile},
    {"load", stage_load},
    {"build", stage_build},
    {"verify", stage_verify},
};
#define N_STAGES (int)(sizeof stages / sizeof stages[0])

static void pass_free(pass *p)
{
    if (p->g) ir_graph_free(p->g);
    jit_unload(p->m);
    jit_bitcode_free(&p->bc);
    jit_source_free(&p->src);
    aa_reports_free(&p->reps);
}

/* One pass; stage times into ms[]. Returns 0, or -1 after printing why. */
static int run_pass(const char *path, const jit_compile_opts *opts, const ir_dims *dims, double *ms)
{
    pass p = {.path = path, .opts = *opts, .dims = *dims};
    int rc = 0;
    for (int s = 0; s < N_STAGES && rc == 0; s++) {
        double t0 = now_ms();
        rc = stages[s].run(&p);
        ms[s] = now_ms() - t0;
        if (rc < 0) {
            fprintf(stderr, "bench_ready: %s failed at stage %s\n", path, stages[s].name);
            for (int i = 0; i < p.reps.n; i++) aa_report_print(&p.reps.items[i], stderr);
            if (p.err[0]) fprintf(stderr, "%s\n", p.err);
        }
    }
    pass_free(&p);
    return rc;
}

/* ---- the table --------------------------------------------------------------------- */

typedef struct result { double stage[N_STAGES], total; } result;

/* Medians of `runs` passes over path. */
static int measure(const char *path, const jit_compile_opts *opts, const ir_dims *dims, int runs, result *out)
{
    double (*ms)[N_STAGES + 1] = calloc((size_t)runs, sizeof *ms);
    if (!ms) return -1;
    int rc = 0;
    for (int i = 0; i < runs && rc == 0; i++) {
        rc = run_pass(path, opts, dims, ms[i]);
        ms[i][N_STAGES] = 0;
        for (int s = 0; s < N_STAGES; s++) ms[i][N_STAGES] += ms[i][s];
    }
    double *col = malloc(sizeof *col * (size_t)runs);
    for (int s = 0; s <= N_STAGES && rc == 0 && col; s++) {
        for (int i = 0; i < runs; i++) col[i] = ms[i][s];
        double m = median(col, runs);
        if (s < N_STAGES) out->stage[s] = m;
        else out->total = m;
    }
    free(col);
    free(ms);
    return rc;
}

static void print_row(const char *name, const char *mode, const result *r, double target)
{
    printf("%-20s %-5s", name, mode);
    for (int s = 0; s < N_STAGES; s++) printf(" %8.2f", r->stage[s]);
    printf(" %8.2f   <= %3.0f %s\n", r->total, target, r->total <= target ? "ok" : "MISSED");
}

/* ---- the peer: importing PyTorch ----------------------------------------------------- */

/* Wall time of `python3 -c "import torch"` in ms, or -1 when it fails. */
static double time_torch_import(void)
{
    const char *python = getenv("PYTHON") && *getenv("PYTHON") ? getenv("PYTHON") : "python3";
    char *argv[] = {(char *)python, "-c", "import torch", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    double t0 = now_ms();
    pid_t pid;
    int status = -1;
    if (posix_spawnp(&pid, python, &fa, NULL, argv, environ) == 0)
        while (waitpid(pid, &status, 0) < 0) {}
    double t = now_ms() - t0;
    posix_spawn_file_actions_destroy(&fa);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

/* ---- main ------------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int cmp_path(const void *a, const void *b) { return strcmp(a, b); }

static int list_arch(char files[][512], int max)
{
    DIR *d = opendir(ASIARCH_SOURCE_DIR "/arch");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0 || strcmp(e->d_name, "registry.c") == 0) continue;
        snprintf(files[n++], 512, "%s/arch/%s", ASIARCH_SOURCE_DIR, e->d_name);
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof files[0], cmp_path);
    return n;
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);   /* the kernels and threads asiarch itself would use */
    int runs = 10, nfiles = 0;
    static char files[MAX_FILES][512];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [-n RUNS] [FILE.c ...]\n", argv[0]);
            return 2;
        } else if (nfiles < MAX_FILES) snprintf(files[nfiles++], sizeof files[0], "%s", argv[i]);
    }
    if (runs < 1) runs = 1;
    if (nfiles == 0) nfiles = list_arch(files, MAX_FILES);
    if (nfiles == 0) {
        fprintf(stderr, "bench_ready: no candidate files (looked in %s/arch)\n", ASIARCH_SOURCE_DIR);
        return 1;
    }

    rt_config cfg;
    char err[256];
    if (rt_config_scale("tiny", &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "bench_ready: %s\n", err);
        return 1;
    }
    /* A private cache: warm means "this file was compiled before", not
     * whatever an earlier session left in ~/.cache. */
    char cache[] = "/tmp/asiarch-bench-ready-XXXXXX";
    if (!mkdtemp(cache)) {
        perror("bench_ready: mkdtemp");
        return 1;
    }
    jit_compile_opts cold, warm;
    jit_compile_defaults(&cold);
    cold.use_cache = 0;
    cold.cache_dir = cache;
    warm = cold;
    warm.use_cache = 1;

    printf("source-to-ready latency, median of %d runs, ms (build at scale tiny)\n", runs);
    printf("%-20s %-5s", "candidate", "mode");
    for (int s = 0; s < N_STAGES; s++) printf(" %8s", stages[s].name);
    printf(" %8s   target\n", "total");

    int failed = 0;
    double cold_totals[MAX_FILES], warm_totals[MAX_FILES];
    int measured = 0;
    for (int f = 0; f < nfiles; f++) {
        const char *base = strrchr(files[f], '/') ? strrchr(files[f], '/') + 1 : files[f];
        result rcold, rw;
        double untimed[N_STAGES];
        /* One untimed pass first: it pays the once-per-process costs
         * (clang --version, LLVM's target set-up) that a running asiarch
         * has long paid, and fills the cache for the warm runs. */
        if (run_pass(files[f], &warm, &cfg.dims, untimed) < 0 || measure(files[f], &cold, &cfg.dims, runs, &rcold) < 0 ||
            measure(files[f], &warm, &cfg.dims, runs, &rw) < 0) {
            failed++;
            continue;
        }
        print_row(base, "cold", &rcold, TARGET_COLD_MS);
        print_row(base, "warm", &rw, TARGET_WARM_MS);
        cold_totals[measured] = rcold.total;
        warm_totals[measured] = rw.total;
        measured++;
    }
    nftw(cache, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (measured) {
        double mc = median(cold_totals, measured), mw = median(warm_totals, measured);
        printf("\nmedian over %d candidates: cold %.1f ms (target <= %.0f: %s), warm %.1f ms (target <= %.0f: %s)\n",
               measured, mc, TARGET_COLD_MS, mc <= TARGET_COLD_MS ? "met" : "MISSED", mw, TARGET_WARM_MS,
               mw <= TARGET_WARM_MS ? "met" : "MISSED");
    }

    /* The peer, in the same run. The first import is often slower (page
     * cache); report the median of three and the first. */
    double t[3];
    t[0] = time_torch_import();
    if (t[0] < 0) {
        printf("python3 -c \"import torch\": skipped (python3 or torch is not importable here)\n");
    } else {
        double first = t[0];
        t[1] = time_torch_import();
        t[2] = time_torch_import();
        double m = median(t, 3);
        printf("python3 -c \"import torch\": %.0f ms (median of 3; first %.0f ms)", m, first);
        if (measured) printf(" = %.1fx asiarch's median cold source-to-ready", m / median(cold_totals, measured));
        printf("\n");
    }
    return failed ? 1 : 0;
}
