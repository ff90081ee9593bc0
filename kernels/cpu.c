/* cpu.c — the CPU as the GEMM and thread settings need it.
 *
 * OpenBLAS (built with DYNAMIC_ARCH, as Debian's is) picks its kernel family
 * from the CPU model in a constructor that runs when the library loads; on a
 * model newer than its table (Debian 12's 0.3.21 on a Sapphire Rapids Xeon) it
 * falls back to its SSE3 "Prescott" kernels, a fifth of the speed. It reads
 * OPENBLAS_CORETYPE only then, and glibc resets the environment after even
 * .preinit_array functions run, so a process cannot fix its own choice: the
 * CLI re-executes itself once with the right OPENBLAS_CORETYPE when OpenBLAS
 * chose weaker kernels than the CPU's features (cpuid, and what the OS saves
 * in XCR0) call for, and the supervisor gives each runner the same choice in
 * its environment. On CPUs OpenBLAS knows, nothing is re-executed.
 *
 * Threads: the CPUs this process may use (sched_getaffinity), and a bounded
 * spin before an idle OpenMP thread sleeps (GOMP_SPINCOUNT) for the runners,
 * where the computing happens, so that two processes on the same cores do not
 * burn each other's time spinning (bench/concurrent_train.sh). A user's own
 * OPENBLAS_CORETYPE, OMP_NUM_THREADS, OMP_WAIT_POLICY or GOMP_SPINCOUNT wins. */
#include "kernels.h"

#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

/* Spins before an idle libgomp thread sleeps, for runners. libgomp's default
 * (300,000) makes two trainings on the same 2 cores 12x slower each; passive
 * (0) makes one alone 50% slower. 1,000: two at once 1.7-1.9x, alone 8%
 * slower at scale tiny, no difference measured at small
 * (bench/concurrent_train.sh, 2-core AMD EPYC, 2026-12-05). */
#define BOUNDED_SPINCOUNT "1000"

/* Set in the environment of the re-executed CLI, so that it reports the
 * choice as its own rather than the user's. */
#define CHOSEN_MARK "ASIARCH_BLAS_CORE_CHOSEN"

static k_cpu_info g_cpu;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#ifdef HAVE_CPUID
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void read_brand(char *out, size_t len)
{
    unsigned r[12] = {0}, a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u)
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char raw[49];
    memcpy(raw, r, 48);
    raw[48] = 0;
    const char *s = raw;
    while (*s == ' ') s++;
    snprintf(out, len, "%s", *s ? s : "unknown x86-64");
}

/* Features that decide the GEMM kernels, each only when the OS saves the
 * registers it needs (XCR0), as a CPU's flag alone can mislead in a VM. */
static void read_features(k_cpu_info *ci)
{
    unsigned a, b, c, d;
    char vendor[13] = {0};
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    ci->amd = !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_saved = (xcr0 & 0x6) == 0x6, zmm_saved = (xcr0 & 0xE6) == 0xE6;
    ci->avx = avx && ymm_saved;
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    ci->avx2 = ci->avx && fma && ((b >> 5) & 1);
    ci->avx512 = ci->avx2 && zmm_saved && ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) &&
                 ((b >> 31) & 1);   /* F, DQ, BW, VL: what OpenBLAS's SkylakeX kernels use */
    __cpuid_count(7, 1, a, b, c, d);
    ci->avx512_bf16 = ci->avx512 && ((a >> 5) & 1);
}
#endif

/* The OpenBLAS family for these features; NULL leaves the choice to OpenBLAS
 * (a CPU without AVX, where its own table is as good as ours). */
static const char *core_for(const k_cpu_info *ci)
{
    if (ci->avx512_bf16) return "Cooperlake";
    if (ci->avx512) return "SkylakeX";
    if (ci->avx2) return ci->amd ? "Zen" : "Haswell";
    if (ci->avx) return "Sandybridge";
    return NULL;
}

/* How wide the SGEMM kernels of an OpenBLAS family are: 4 AVX-512, 3 AVX2+FMA,
 * 2 AVX, 1 SSE or unknown. */
static int core_rank(const char *name)
{
    static const struct { const char *name; int rank; } table[] = {
        {"Cooperlake", 4}, {"SkylakeX", 4}, {"SapphireRapids", 4}, {"Haswell", 3}, {"Zen", 3},
        {"Excavator", 3}, {"Sandybridge", 2}, {"Bulldozer", 2}, {"Piledriver", 2}, {"Steamroller", 2}};
    for (size_t i = 0; name && i < sizeof table / sizeof *table; i++)
        if (!strcasecmp(name, table[i].name)) return table[i].rank;
    return 1;
}

static int affinity_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

static void read_cpu(void)
{
#ifdef HAVE_CPUID
    read_brand(g_cpu.model, sizeof g_cpu.model);
    read_features(&g_cpu);
#else
    snprintf(g_cpu.model, sizeof g_cpu.model, "unknown");
#endif
    g_cpu.best_core = core_for(&g_cpu);
    g_cpu.affinity_cpus = affinity_cpus();
    const char *user = getenv("OPENBLAS_CORETYPE"), *mark = getenv(CHOSEN_MARK);
    if (user && *user) g_cpu.core_source = mark && !strcmp(mark, user) ? "cpuid" : "user";
    else g_cpu.core_source = "openblas";
}

const k_cpu_info *k_cpu(void)
{
    pthread_once(&g_once, read_cpu);
    return &g_cpu;
}

const char *k_blas_corename(void) { return openblas_get_corename(); }

const char *k_cpu_child_core(void)
{
    const k_cpu_info *ci = k_cpu();
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && *user) return user;
    if (ci->best_core && core_rank(k_blas_corename()) < core_rank(ci->best_core)) return ci->best_core;
    return NULL;
}

const char *k_cpu_child_spincount(void)
{
    const char *user = getenv("GOMP_SPINCOUNT");
    if (user) return user;
    return getenv("OMP_WAIT_POLICY") ? NULL : BOUNDED_SPINCOUNT;
}

void k_cpu_adopt(char **argv)
{
    const k_cpu_info *ci = k_cpu();
    if (!getenv("OMP_NUM_THREADS") && ci->affinity_cpus > 0) omp_set_num_threads(ci->affinity_cpus);
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *core = k_cpu_child_core();
    if ((user && *user) || !core || !argv) return;
    /* OpenBLAS chose weaker kernels than this CPU runs: start again with the
     * better family named, before OpenBLAS initialises. */
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv(CHOSEN_MARK, core, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "asiarch: warning: cannot re-execute to use OpenBLAS's %s kernels (%s); going on with its %s "
            "kernels, which are slower (set OPENBLAS_CORETYPE=%s to choose them yourself)\n", core, strerror(errno),
            k_blas_corename(), core);
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(CHOSEN_MARK);
}

void k_cpu_describe(char *out, size_t len)
{
    const k_cpu_info *ci = k_cpu();
    const char *isa = ci->avx512_bf16 ? "AVX-512+BF16" : ci->avx512 ? "AVX-512" : ci->avx2 ? "AVX2+FMA"
                    : ci->avx ? "AVX" : "SSE";
    snprintf(out, len, "%s (%s, %d CPUs usable); OpenBLAS %s kernels (chosen by %s)", ci->model, isa,
             ci->affinity_cpus, k_blas_corename(), ci->core_source);
}
