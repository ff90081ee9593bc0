/*
 * cuda.c — the CUDA backend: the driver API and cuBLAS, loaded with dlopen.
 *
 * Only what this file calls is declared below (the types are opaque
 * handles and ints), so building needs neither a GPU nor the toolkit. The
 * libraries are found as ASIARCH_LIBCUDA / ASIARCH_LIBCUBLAS when set (only
 * there: a typo must not fall back to another install), else by their
 * sonames, then in $CUDA_HOME/lib64 and /usr/local/cuda/lib64.
 *
 * One primary context and one non-blocking stream per device. Kernel
 * modules are compiled per source file on first launch: a cubin for the
 * device's exact architecture where NVRTC knows it, else PTX for the
 * newest architecture NVRTC knows, which the driver compiles further.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "gpu_internal.h"
#include "jit.h"

/* ---- the driver API (cuda.h), declared ---------------------------------------------- */

typedef int CUresult;                /* 0 = CUDA_SUCCESS */
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef unsigned long long CUdeviceptr;
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_STREAM_NON_BLOCKING 1
#define CU_LAUNCH_PARAM_END ((void *)0x00)            /* cuda.h */
#define CU_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define CU_LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)

static struct {
    CUresult (*init)(unsigned);
    CUresult (*driver_version)(int *);
    CUresult (*device_count)(int *);
    CUresult (*device_get)(CUdevice *, int);
    CUresult (*device_name)(char *, int, CUdevice);
    CUresult (*device_attribute)(int *, int, CUdevice);
    CUresult (*primary_retain)(CUcontext *, CUdevice);
    CUresult (*primary_release)(CUdevice);
    CUresult (*ctx_set_current)(CUcontext);
    CUresult (*stream_create)(CUstream *, unsigned);
    CUresult (*stream_destroy)(CUstream);
    CUresult (*stream_sync)(CUstream);
    CUresult (*mem_alloc)(CUdeviceptr *, size_t);
    CUresult (*mem_free)(CUdeviceptr);
    CUresult (*h2d)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*d2h)(void *, CUdeviceptr, size_t, CUstream);
    CUresult (*d2d)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*memset32)(CUdeviceptr, unsigned, size_t, CUstream);
    CUresult (*module_load)(CUmodule *, const void *);
    CUresult (*module_unload)(CUmodule);
    CUresult (*module_function)(CUfunction *, CUmodule, const char *);
    CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                       void **, void **);
    CUresult (*error_name)(CUresult, const char **);
    CUresult (*error_string)(CUresult, const char **);
} cu;

/* ---- cuBLAS (cublas_api.h), declared ----------------------------------------------------- */

typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;          /* 0 = CUBLAS_STATUS_SUCCESS */
#define CUBLAS_OP_N 0
#define CUBLAS_OP_T 1
#define CUBLAS_DEFAULT_MATH 0
#define CUBLAS_PEDANTIC_MATH 2
#define CUBLAS_COMPUTE_32F 68
#define CUBLAS_COMPUTE_32F_FAST_16BF 75
#define CUBLAS_COMPUTE_32F_FAST_TF32 77
#define CUDA_R_32F 0
#define CUBLAS_GEMM_DEFAULT (-1)

static struct {
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, CUstream);
    cublasStatus_t (*set_math_mode)(cublasHandle_t, int);
    cublasStatus_t (*gemm)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, long long,
                           int, const void *, int, long long, int, const void *, void *, int, long long, int, int,
                           int, int);
    const char *(*status_string)(cublasStatus_t);
} blas;

/* ---- loading ------------------------------------------------------------------------------ */

typedef struct sym { void *slot; const char *name; } sym;

/* dlopen the first of names that loads (only $env_var's value when set);
 * then every symbol. -1 with why. */
static void *load_library(const char *what, const char *env_var, const char *const *names, int n, const sym *syms,
                          int n_syms, const char *install, char *why, size_t len)
{
    const char *env = getenv(env_var);
    char tried[1536] = "", used[PATH_MAX] = "";
    void *h = NULL;
    if (env && *env) {
        h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(why, len, "cannot load %s from %s=%s: %s", what, env_var, env, dlerror());
            return NULL;
        }
        snprintf(used, sizeof used, "%s", env);
    }
    for (int i = 0; !h && i < n; i++) {
        if (!names[i] || !*names[i]) continue;
        if ((h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL))) snprintf(used, sizeof used, "%s", names[i]);
        else snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", *tried ? ", " : "", names[i]);
    }
    if (!h) {
        snprintf(why, len, "%s is not installed (tried %s): %s, or set %s to the library's path", what, tried,
                 install, env_var);
        return NULL;
    }
    for (int i = 0; i < n_syms; i++) {
        void *f = dlsym(h, syms[i].name);
        if (!f) {
            snprintf(why, len, "%s (%s) has no %s: it is not %s, or too old a version", used, what, syms[i].name,
                     what);
            dlclose(h);
            return NULL;
        }
        memcpy(syms[i].slot, &f, sizeof f);
    }
    return h;
}

static void *driver_handle, *cublas_handle;

static int load_driver(char *why, size_t len)
{
    if (driver_handle) return 0;
    static const char *const names[] = {"libcuda.so.1", "libcuda.so"};
    const sym syms[] = {
        {&cu.init, "cuInit"}, {&cu.driver_version, "cuDriverGetVersion"}, {&cu.device_count, "cuDeviceGetCount"},
        {&cu.device_get, "cuDeviceGet"}, {&cu.device_name, "cuDeviceGetName"},
        {&cu.device_attribute, "cuDeviceGetAttribute"}, {&cu.primary_retain, "cuDevicePrimaryCtxRetain"},
        {&cu.primary_release, "cuDevicePrimaryCtxRelease_v2"}, {&cu.ctx_set_current, "cuCtxSetCurrent"},
        {&cu.stream_create, "cuStreamCreate"}, {&cu.stream_destroy, "cuStreamDestroy_v2"},
        {&cu.stream_sync, "cuStreamSynchronize"}, {&cu.mem_alloc, "cuMemAlloc_v2"}, {&cu.mem_free, "cuMemFree_v2"},
        {&cu.h2d, "cuMemcpyHtoDAsync_v2"}, {&cu.d2h, "cuMemcpyDtoHAsync_v2"}, {&cu.d2d, "cuMemcpyDtoDAsync_v2"},
        {&cu.memset32, "cuMemsetD32Async"}, {&cu.module_load, "cuModuleLoadData"},
        {&cu.module_unload, "cuModuleUnload"}, {&cu.module_function, "cuModuleGetFunction"},
        {&cu.launch, "cuLaunchKernel"}, {&cu.error_name, "cuGetErrorName"}, {&cu.error_string, "cuGetErrorString"},
    };
    driver_handle = load_library("the NVIDIA driver (libcuda)", "ASIARCH_LIBCUDA", names, 2, syms,
                                 (int)(sizeof syms / sizeof *syms),
                                 "install the NVIDIA driver to use --device cuda; without it asiarch trains on the "
                                 "CPU (--device cpu)", why, len);
    return driver_handle ? 0 : -1;
}

static int load_cublas(char *why, size_t len)
{
    if (cublas_handle) return 0;
    char home[PATH_MAX] = "";
    const char *cuda_home = getenv("CUDA_HOME");
    if (cuda_home && *cuda_home) snprintf(home, sizeof home, "%s/lib64/libcublas.so", cuda_home);
    const char *names[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", home,
                           "/usr/local/cuda/lib64/libcublas.so"};
    const sym syms[] = {
        {&blas.create, "cublasCreate_v2"}, {&blas.destroy, "cublasDestroy_v2"},
        {&blas.set_stream, "cublasSetStream_v2"}, {&blas.set_math_mode, "cublasSetMathMode"},
        {&blas.gemm, "cublasGemmStridedBatchedEx"}, {&blas.status_string, "cublasGetStatusString"},
    };
    cublas_handle = load_library("cuBLAS", "ASIARCH_LIBCUBLAS", names, (int)(sizeof names / sizeof *names), syms,
                                 (int)(sizeof syms / sizeof *syms),
                                 "install the CUDA toolkit's cuBLAS (libcublas 11.4 or newer)", why, len);
    return cublas_handle ? 0 : -1;
}

static const char *cu_error(CUresult rc)
{
    const char *name = NULL, *text = NULL;
    static _Thread_local char buf[256];
    if (cu.error_name) cu.error_name(rc, &name);
    if (cu.error_string) cu.error_string(rc, &text);
    snprintf(buf, sizeof buf, "%s (%s)", name ? name : "CUDA error", text ? text : "no description");
    return buf;
}

/* The device's count and the first problem with `ordinal`, as a sentence. */
static int find_device(int ordinal, CUdevice *dev, char *why, size_t len)
{
    if (load_driver(why, len) < 0) return -1;
    CUresult rc = cu.init(0);
    if (rc != 0) {
        snprintf(why, len, "the NVIDIA driver is installed but cannot start: cuInit: %s", cu_error(rc));
        return -1;
    }
    int count = 0;
    if ((rc = cu.device_count(&count)) != 0 || count == 0) {
        snprintf(why, len, "no CUDA GPU is visible%s%s (CUDA_VISIBLE_DEVICES=%s)", rc ? ": " : "",
                 rc ? cu_error(rc) : "", getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
        return -1;
    }
    if (ordinal < 0 || ordinal >= count) {
        snprintf(why, len, "GPU %d asked for, but %d visible (0..%d)", ordinal, count, count - 1);
        return -1;
    }
    if ((rc = cu.device_get(dev, ordinal)) != 0) {
        snprintf(why, len, "cuDeviceGet(%d): %s", ordinal, cu_error(rc));
        return -1;
    }
    return 0;
}

int gpu_probe(char *why, size_t len)
{
    CUdevice dev;
    return find_device(0, &dev, why, len);
}

/* ---- the backend ------------------------------------------------------------------------------ */

#define MAX_MODULES 32
#define MAX_FUNCTIONS 256

typedef struct cuda_impl {
    CUdevice dev;
    CUcontext ctx;
    CUstream stream;
    cublasHandle_t blas;
    int arch;
    gpu_open_opts opts;
    struct { char source[128]; CUmodule mod; } modules[MAX_MODULES];
    int n_modules;
    struct { char source[128], name[64]; CUfunction fn; } functions[MAX_FUNCTIONS];
    int n_functions;
    char error[GPU_ERROR_LEN];
} cuda_impl;

static int cu_check(cuda_impl *c, CUresult rc, const char *what)
{
    if (rc == 0) return 0;
    snprintf(c->error, sizeof c->error, "%s: %s", what, cu_error(rc));
    return -1;
}

static int cuda_alloc(void *impl, size_t bytes, gpu_ptr *out)
{
    CUdeviceptr p = 0;
    if (cu_check(impl, cu.mem_alloc(&p, bytes), "cuMemAlloc") < 0) return -1;
    *out = p;
    return 0;
}
static void cuda_release(void *impl, gpu_ptr p) { (void)impl; cu.mem_free(p); }
static int cuda_upload(void *impl, gpu_ptr dst, const void *src, size_t bytes)
{
    cuda_impl *c = impl;
    /* The source may be a stack buffer the caller reuses: wait. */
    if (cu_check(c, cu.h2d(dst, src, bytes, c->stream), "cuMemcpyHtoDAsync") < 0) return -1;
    return cu_check(c, cu.stream_sync(c->stream), "copy to the GPU");
}
static int cuda_download(void *impl, void *dst, gpu_ptr src, size_t bytes)
{
    cuda_impl *c = impl;
    if (cu_check(c, cu.d2h(dst, src, bytes, c->stream), "cuMemcpyDtoHAsync") < 0) return -1;
    return cu_check(c, cu.stream_sync(c->stream), "copy from the GPU");
}
static int cuda_copy(void *impl, gpu_ptr dst, gpu_ptr src, size_t bytes)
{
    cuda_impl *c = impl;
    return cu_check(c, cu.d2d(dst, src, bytes, c->stream), "cuMemcpyDtoDAsync");
}
static int cuda_fill32(void *impl, gpu_ptr dst, uint32_t word, size_t count)
{
    cuda_impl *c = impl;
    return cu_check(c, cu.memset32(dst, word, count, c->stream), "cuMemsetD32Async");
}
static int cuda_sync(void *impl)
{
    cuda_impl *c = impl;
    return cu_check(c, cu.stream_sync(c->stream), "a kernel on the GPU failed");
}

/* NVRTC's target for this device: its exact sm where NVRTC knows it (a
 * cubin), else PTX for the newest compute capability it knows below. */
static int pick_target(int arch, int *cubin)
{
    if (jit_nvrtc_supports(arch)) {
        *cubin = 1;
        return arch;
    }
    *cubin = 0;
    for (int a = arch; a >= 50; a--)
        if (jit_nvrtc_supports(a)) return a;
    return 0;
}

static CUmodule module_for(cuda_impl *c, const gpu_kernel *k)
{
    const char *source = k->source;
    for (int i = 0; i < c->n_modules; i++)
        if (strcmp(c->modules[i].source, source) == 0) return c->modules[i].mod;
    const char *text = k->text ? k->text : gpu_source_text(source);
    if (!text || c->n_modules == MAX_MODULES) {
        snprintf(c->error, sizeof c->error, "no kernel source %s in this build", source);
        return NULL;
    }
    jit_nvrtc_opts o;
    jit_nvrtc_defaults(&o);
    o.cache_dir = c->opts.cache_dir;
    o.arch = pick_target(c->arch, &o.cubin);
    if (!o.arch) {
        snprintf(c->error, sizeof c->error, "NVRTC %s cannot target this GPU (sm_%d)",
                 jit_nvrtc_version() ? jit_nvrtc_version() : "(not loaded)", c->arch);
        return NULL;
    }
    const char *det = "-DAAK_DETERMINISTIC=1";
    if (c->opts.deterministic) { o.extra = &det; o.n_extra = 1; }
    jit_nvrtc_headers h;
    gpu_kernel_headers(&h);
    jit_device_code code;
    aa_reports reps = {0};
    if (jit_nvrtc_compile(source, text, &h, &o, &code, &reps) < 0) {
        const aa_report *r = reps.n ? &reps.items[0] : NULL;
        snprintf(c->error, sizeof c->error, "compiling %.64s: %.64s:%d:%d: %.32s: %.300s", source,
                 r ? r->file : source, r ? r->line : 0, r ? r->col : 0, r ? r->rule : "nvrtc/error",
                 r ? r->message : "failed");
        aa_reports_free(&reps);
        return NULL;
    }
    CUmodule mod = NULL;
    CUresult rc = cu.module_load(&mod, code.data);
    jit_device_code_free(&code);
    if (cu_check(c, rc, "cuModuleLoadData") < 0) return NULL;
    snprintf(c->modules[c->n_modules].source, sizeof c->modules[0].source, "%s", source);
    c->modules[c->n_modules].mod = mod;
    c->n_modules++;
    return mod;
}

static CUfunction function_for(cuda_impl *c, const gpu_kernel *k)
{
    /* By name, not by address: a generated kernel's struct may be freed and
     * its address reused by another model's (the source name holds a hash
     * of the text). */
    for (int i = 0; i < c->n_functions; i++)
        if (strcmp(c->functions[i].name, k->name) == 0 && strcmp(c->functions[i].source, k->source) == 0)
            return c->functions[i].fn;
    CUmodule mod = module_for(c, k);
    if (!mod) return NULL;
    CUfunction fn = NULL;
    char what[160];
    snprintf(what, sizeof what, "cuModuleGetFunction(%s in %s)", k->name, k->source);
    if (cu_check(c, cu.module_function(&fn, mod, k->name), what) < 0) return NULL;
    if (c->n_functions < MAX_FUNCTIONS) {
        snprintf(c->functions[c->n_functions].source, sizeof c->functions[0].source, "%s", k->source);
        snprintf(c->functions[c->n_functions].name, sizeof c->functions[0].name, "%s", k->name);
        c->functions[c->n_functions].fn = fn;
        c->n_functions++;
    }
    return fn;
}

static int cuda_prepare(void *impl, const char *source)
{
    gpu_kernel k = {source, "", NULL};
    return module_for(impl, &k) ? 0 : -1;
}

static int cuda_launch(void *impl, const gpu_kernel *k, gpu_grid grid, const void *args, size_t args_size)
{
    cuda_impl *c = impl;
    CUfunction fn = function_for(c, k);
    if (!fn) return -1;
    /* The parameter buffer form: args is every parameter, packed at its
     * natural alignment (one struct for the built-in kernels, the packed
     * parameters of a kernel file), which the driver copies as it is. */
    size_t size = args_size;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, (void *)args, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                     CU_LAUNCH_PARAM_END};
    char what[160];
    snprintf(what, sizeof what, "launching %s", k->name);
    return cu_check(c, cu.launch(fn, grid.blocks_x, grid.blocks_y, grid.blocks_z, grid.threads, grid.threads_y,
                                 grid.threads_z, grid.shared_bytes, c->stream, NULL, extra),
                    what);
}

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS
 * gets B first, and n and m swapped. */
static int cuda_gemm(void *impl, const gpu_gemm *g)
{
    cuda_impl *c = impl;
    int compute = c->opts.precision == GPU_TF32   ? CUBLAS_COMPUTE_32F_FAST_TF32
                  : c->opts.precision == GPU_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                   : CUBLAS_COMPUTE_32F;
    cublasStatus_t st = blas.gemm(c->blas, g->tb ? CUBLAS_OP_T : CUBLAS_OP_N, g->ta ? CUBLAS_OP_T : CUBLAS_OP_N, g->n,
                                  g->m, g->k, &g->alpha, (const void *)(uintptr_t)g->B, CUDA_R_32F, g->ldb, g->sb,
                                  (const void *)(uintptr_t)g->A, CUDA_R_32F, g->lda, g->sa, &g->beta,
                                  (void *)(uintptr_t)g->C, CUDA_R_32F, g->ldc, g->sc, g->batch, compute,
                                  CUBLAS_GEMM_DEFAULT);
    if (st == 0) return 0;
    snprintf(c->error, sizeof c->error, "cublasGemmStridedBatchedEx (%dx%dx%d, batch %d): %s", g->m, g->n, g->k,
             g->batch, blas.status_string(st));
    return -1;
}

static void cuda_close(void *impl)
{
    cuda_impl *c = impl;
    for (int i = 0; i < c->n_modules; i++) cu.module_unload(c->modules[i].mod);
    if (c->blas) blas.destroy(c->blas);
    if (c->stream) cu.stream_destroy(c->stream);
    if (c->ctx) cu.primary_release(c->dev);
    free(c);
}

static const gpu_backend cuda_backend = {
    .name = "cuda", .alloc = cuda_alloc, .release = cuda_release, .upload = cuda_upload, .download = cuda_download,
    .copy = cuda_copy, .fill32 = cuda_fill32, .launch = cuda_launch, .gemm = cuda_gemm, .sync = cuda_sync,
    .prepare = cuda_prepare, .close = cuda_close,
};

static int start(cuda_impl *c, char *why, size_t len)
{
    int major = 0, minor = 0;
    cu.device_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, c->dev);
    cu.device_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, c->dev);
    c->arch = major * 10 + minor;
    if (cu_check(c, cu.primary_retain(&c->ctx, c->dev), "cuDevicePrimaryCtxRetain") < 0 ||
        cu_check(c, cu.ctx_set_current(c->ctx), "cuCtxSetCurrent") < 0 ||
        cu_check(c, cu.stream_create(&c->stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate") < 0) {
        snprintf(why, len, "%s", c->error);
        return -1;
    }
    if (load_cublas(why, len) < 0) return -1;
    cublasStatus_t st = blas.create(&c->blas);
    if (st == 0) st = blas.set_stream(c->blas, c->stream);
    if (st == 0) st = blas.set_math_mode(c->blas, c->opts.deterministic ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH);
    if (st != 0) {
        snprintf(why, len, "cuBLAS cannot start on GPU %d: %s", c->opts.ordinal, blas.status_string(st));
        return -1;
    }
    return 0;
}

gpu_dev *gpu_open(const gpu_open_opts *o, char *why, size_t len)
{
    gpu_open_opts opts = {0};
    if (o) opts = *o;
    cuda_impl *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, len, "out of host memory");
        return NULL;
    }
    c->opts = opts;
    if (find_device(opts.ordinal, &c->dev, why, len) < 0 || start(c, why, len) < 0) {
        cuda_close(c);
        return NULL;
    }
    gpu_dev *d = gpu_open_backend(&cuda_backend, c, c->error, &opts);
    if (!d) {
        cuda_close(c);
        snprintf(why, len, "out of host memory");
        return NULL;
    }
    cu.device_name(d->name, (int)sizeof d->name, c->dev);
    d->arch = c->arch;
    return d;
}
