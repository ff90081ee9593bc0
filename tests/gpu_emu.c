/*
 * gpu_emu.c — the emulated device of gpu_emu.h: host memory, fibers for a
 * block's threads, OpenBLAS for GEMMs.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "gpu_emu.h"

aak_dim3 threadIdx, blockIdx, blockDim, gridDim;

/* ---- the kernel registry ---------------------------------------------------------- */

#define MAX_KERNELS 1024
typedef struct emu_kernel { const char *name; void (*entry)(const void *); size_t size; } emu_kernel;
static emu_kernel kernels[MAX_KERNELS];
static int n_kernels;
static long launches;

/* Set while a generated module loads: its kernels register as "source:name". */
static const char *emu_module_prefix;

void aak_emu_register(const char *name, void (*entry)(const void *), size_t args_size)
{
    if (n_kernels == MAX_KERNELS) return;
    if (emu_module_prefix) {
        char *full = malloc(strlen(emu_module_prefix) + strlen(name) + 2);
        if (!full) return;
        sprintf(full, "%s:%s", emu_module_prefix, name);
        name = full;   /* kept for the life of the process */
    }
    kernels[n_kernels++] = (emu_kernel){name, entry, args_size};
}

long gpu_emu_launches(void) { return launches; }

/* ---- fibers ------------------------------------------------------------------------- */

#define STACK_BYTES ((size_t)256 << 10)
enum { RUNNABLE, AT_BARRIER, DONE };
typedef struct fiber { ucontext_t ctx; int state; char *stack; } fiber;

static fiber threads[1024];
static ucontext_t scheduler;
static int current;
static void (*running_entry)(const void *);
static const void *running_args;

void aak_emu_sync(void)
{
    threads[current].state = AT_BARRIER;
    swapcontext(&threads[current].ctx, &scheduler);
}

static void fiber_main(void)
{
    running_entry(running_args);
    threads[current].state = DONE;   /* uc_link returns to the scheduler */
}

static void set_thread_index(int t)
{
    threadIdx.x = (unsigned)t % blockDim.x;
    threadIdx.y = (unsigned)t / blockDim.x;
    threadIdx.z = 0;
}

/* Run one block: every thread to its next barrier, then all on. Threads
 * that have returned count as arrived (as on Volta and later). */
/* A fresh context at fiber_main on f's stack (its own frame: getcontext
 * returns twice in principle, and the caller's loop must not care). */
static int prepare_fiber(fiber *f, char *err)
{
    if (!f->stack) {
        f->stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (f->stack == MAP_FAILED) {
            f->stack = NULL;
            snprintf(err, 256, "no memory for fiber stacks");
            return -1;
        }
    }
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = STACK_BYTES;
    f->ctx.uc_link = &scheduler;
    makecontext(&f->ctx, fiber_main, 0);
    f->state = RUNNABLE;
    return 0;
}

static int run_block(int n, char *err)
{
    for (int t = 0; t < n; t++)
        if (prepare_fiber(&threads[t], err) < 0) return -1;
    for (;;) {
        int waiting = 0;
        for (int t = 0; t < n; t++) {
            if (threads[t].state != RUNNABLE) continue;
            current = t;
            set_thread_index(t);
            swapcontext(&scheduler, &threads[t].ctx);
        }
        for (int t = 0; t < n; t++)
            if (threads[t].state == AT_BARRIER) {
                threads[t].state = RUNNABLE;
                waiting++;
            }
        if (!waiting) return 0;
    }
}

/* ---- the backend ---------------------------------------------------------------------- */

typedef struct emu_impl { char error[512]; } emu_impl;

static int emu_alloc(void *impl, size_t bytes, gpu_ptr *out)
{
    /* Garbage, not zeros, as cuMemAlloc gives: a kernel that reads what it
     * never wrote must not pass by luck. */
    unsigned char *p = malloc(bytes);
    if (!p) { snprintf(((emu_impl *)impl)->error, 512, "emulated device: out of memory"); return -1; }
    memset(p, 0xA5, bytes);
    *out = (gpu_ptr)(uintptr_t)p;
    return 0;
}
static void emu_release(void *impl, gpu_ptr p) { (void)impl; free((void *)(uintptr_t)p); }
static int emu_upload(void *impl, gpu_ptr dst, const void *src, size_t bytes)
{
    (void)impl;
    memcpy((void *)(uintptr_t)dst, src, bytes);
    return 0;
}
static int emu_download(void *impl, void *dst, gpu_ptr src, size_t bytes)
{
    (void)impl;
    memcpy(dst, (const void *)(uintptr_t)src, bytes);
    return 0;
}
static int emu_copy(void *impl, gpu_ptr dst, gpu_ptr src, size_t bytes)
{
    (void)impl;
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
    return 0;
}
static int emu_fill32(void *impl, gpu_ptr dst, uint32_t word, size_t count)
{
    (void)impl;
    uint32_t *p = (uint32_t *)(uintptr_t)dst;
    for (size_t i = 0; i < count; i++) p[i] = word;
    return 0;
}

/* A generated module (a candidate's pointwise kernels) is compiled by the
 * system's C compiler as C17 against this emulation and loaded: its
 * constructors register its kernels here (the test exports its symbols). */
static int load_generated(emu_impl *e, const gpu_kernel *k)
{
    char dir[] = "/tmp/asiarch-emu-XXXXXX";
    if (!mkdtemp(dir)) { snprintf(e->error, sizeof e->error, "mkdtemp: %s", strerror(errno)); return -1; }
    char src[64], lib[64], cmd[4096];
    snprintf(src, sizeof src, "%s/module.c", dir);
    snprintf(lib, sizeof lib, "%s/module.so", dir);
    FILE *f = fopen(src, "w");
    if (!f) { snprintf(e->error, sizeof e->error, "%s: %s", src, strerror(errno)); return -1; }
    fprintf(f, "#define GPU_EMU_KERNEL_SOURCE 1\n#include \"gpu_emu.h\"\n%s", k->text);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c17 -O1 -shared -fPIC -Wno-unused-function -I%s -I%s -I%s -o %s %s 2>%s/log",
             GPU_EMU_TESTS_DIR, GPU_EMU_KERNELS_DIR, GPU_EMU_INCLUDE_DIR, lib, src, dir);
    int rc = system(cmd);
    void *h = rc == 0 ? dlopen(lib, RTLD_NOW | RTLD_GLOBAL) : NULL;
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    if (!h) {
        FILE *lf = fopen(logpath, "r");
        char first[300] = "";
        if (lf) { if (!fgets(first, sizeof first, lf)) first[0] = 0; fclose(lf); }
        snprintf(e->error, sizeof e->error, "emulated compile of %s failed: %s%s", k->source, first,
                 rc == 0 ? dlerror() : "");
    }
    /* A loaded library stays mapped after its file is gone. */
    unlink(src);
    unlink(lib);
    unlink(logpath);
    rmdir(dir);
    return h ? 0 : -1;
}

static int find_kernel(const char *name)
{
    int i = 0;
    while (i < n_kernels && strcmp(kernels[i].name, name) != 0) i++;
    return i;
}

static int emu_launch(void *impl, const gpu_kernel *k, gpu_grid grid, const void *args, size_t args_size)
{
    emu_impl *e = impl;
    /* Generated kernels' names repeat across modules: look them up by
     * module (source) too. */
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", k->text ? k->source : "", k->text ? ":" : "", k->name);
    int i = find_kernel(full);
    if (i == n_kernels && k->text) {
        emu_module_prefix = k->source;
        int rc = load_generated(e, k);
        emu_module_prefix = NULL;
        if (rc < 0) return -1;
        i = find_kernel(full);
    }
    if (i == n_kernels) { snprintf(e->error, sizeof e->error, "no kernel %s in %s", k->name, k->source); return -1; }
    if (kernels[i].size != args_size) {
        snprintf(e->error, sizeof e->error, "%s: the launcher passes %zu bytes of arguments, the kernel takes %zu",
                 k->name, args_size, kernels[i].size);
        return -1;
    }
    launches++;
    running_entry = kernels[i].entry;
    running_args = args;
    gridDim = (aak_dim3){grid.blocks_x, grid.blocks_y, 1};
    blockDim = (aak_dim3){grid.threads, 1, 1};
    for (unsigned by = 0; by < grid.blocks_y; by++)
        for (unsigned bx = 0; bx < grid.blocks_x; bx++) {
            blockIdx = (aak_dim3){bx, by, 0};
            if (run_block((int)grid.threads, e->error) < 0) return -1;
        }
    return 0;
}

static int emu_gemm(void *impl, const gpu_gemm *g)
{
    (void)impl;
    for (int b = 0; b < g->batch; b++)
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->m, g->n,
                    g->k, g->alpha, (const float *)(uintptr_t)g->A + b * g->sa, g->lda,
                    (const float *)(uintptr_t)g->B + b * g->sb, g->ldb, g->beta, (float *)(uintptr_t)g->C + b * g->sc,
                    g->ldc);
    return 0;
}

static int emu_sync(void *impl) { (void)impl; return 0; }
static void emu_close(void *impl) { free(impl); }

static const gpu_backend emu_backend = {
    .name = "emulated GPU (CPU fibers)", .alloc = emu_alloc, .release = emu_release, .upload = emu_upload,
    .download = emu_download, .copy = emu_copy, .fill32 = emu_fill32, .launch = emu_launch, .gemm = emu_gemm,
    .sync = emu_sync, .close = emu_close,
};

gpu_dev *gpu_emu_open(const gpu_open_opts *o)
{
    emu_impl *e = calloc(1, sizeof *e);
    return e ? gpu_open_backend(&emu_backend, e, e->error, o) : NULL;
}

static int test_real;

gpu_dev *gpu_test_open(void)
{
    const char *want = getenv("ASIARCH_TEST_DEVICE");
    if (!want || strncmp(want, "cuda", 4) != 0) return gpu_emu_open(NULL);
    char why[600];
    gpu_open_opts o = {.deterministic = 1};
    gpu_dev *d = gpu_open(&o, why, sizeof why);
    if (!d) {
        printf("no GPU: %s\n", why);
        exit(strcmp(want, "cuda-required") == 0 ? 1 : 77);
    }
    printf("device: %s (sm_%d)\n", gpu_name(d), gpu_arch(d));
    test_real = 1;
    return d;
}

int gpu_test_is_real(void) { return test_real; }

/* ---- test helpers ----------------------------------------------------------------------- */

float *gpu_test_randoms(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; x && i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) / 16777216.0);
    }
    return x;
}

gpu_ptr gpu_emu_put(gpu_dev *d, const float *host, size_t n)
{
    gpu_ptr p = gpu_alloc(d, n * sizeof(float));
    if (p && gpu_upload(d, p, host, n * sizeof(float)) < 0) return 0;
    return p;
}

double gpu_emu_max_err(gpu_dev *d, gpu_ptr dev, const float *ref, size_t n, size_t *where)
{
    float *got = malloc(n * sizeof *got);
    double worst = 0;
    if (!got || gpu_download(d, got, dev, n * sizeof *got) < 0) { free(got); return INFINITY; }
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]) / (1.0 + fabs((double)ref[i]));
        if (e != e && ref[i] != ref[i] && got[i] != got[i]) e = 0;   /* NaN where NaN is expected */
        else if (e != e) e = INFINITY;
        if (e > worst) { worst = e; if (where) *where = i; }
    }
    free(got);
    return worst;
}
