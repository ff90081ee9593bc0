/*
 * nvrtc.c — CUDA C source to device code with NVRTC, loaded at run time.
 *
 * NVRTC is the CUDA toolkit's compiler as a library. asiarch never links it:
 * it is found with dlopen (ASIARCH_LIBNVRTC, then the usual sonames, then
 * $CUDA_HOME/lib64 and /usr/local/cuda/lib64), so one binary runs where there
 * is no toolkit and says so only when device code is asked for. NVRTC needs
 * no GPU: CI compiles every kernel for sm_80 and sm_90 on a CPU machine.
 *
 * Output is PTX (compute_XX, which the driver JIT-compiles for any newer GPU)
 * or a cubin (sm_XX, exactly that architecture). It is cached on disk like
 * the bitcode: <cache>/nvrtc/<key>.{ptx,cubin} with a .sum beside it, key =
 * SHA-256 of the source, every header, every option and NVRTC's version, so
 * a new toolkit or a new GPU architecture never reuses stale code.
 *
 * NVRTC's log ("file(LINE): error: MESSAGE", then the line and a caret)
 * becomes stage-"compile" reports with rule "nvrtc/error" at file:line:col,
 * like clang's diagnostics, for the repair loop.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "jit_internal.h"

/* ---- the library -------------------------------------------------------------------- */

/* NVRTC's C API, as nvrtc.h declares it (enough of it; declared here so that
 * building needs no toolkit). nvrtcResult 0 is NVRTC_SUCCESS. */
typedef struct _nvrtcProgram *nvrtcProgram;
static struct {
    int (*version)(int *, int *);
    const char *(*error_string)(int);
    int (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *, const char *const *);
    int (*destroy)(nvrtcProgram *);
    int (*compile)(nvrtcProgram, int, const char *const *);
    int (*log_size)(nvrtcProgram, size_t *);
    int (*log)(nvrtcProgram, char *);
    int (*ptx_size)(nvrtcProgram, size_t *);
    int (*ptx)(nvrtcProgram, char *);
    int (*cubin_size)(nvrtcProgram, size_t *);
    int (*cubin)(nvrtcProgram, char *);
    int (*num_archs)(int *);
    int (*archs)(int *);
} nv;
static char nv_path[PATH_MAX], nv_version[32], nv_error[PATH_MAX + 4096];
static int nv_state;   /* 0 not tried, 1 loaded, -1 failed (nv_error says why) */
static pthread_mutex_t nv_lock = PTHREAD_MUTEX_INITIALIZER;

static void *open_first(const char *const *names, int n, char *tried, size_t len)
{
    tried[0] = 0;
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) continue;
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            snprintf(nv_path, sizeof nv_path, "%s", names[i]);
            return h;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, len - used, "%s%s", used ? ", " : "", names[i]);
    }
    return NULL;
}

static int resolve(void *h, void *slot, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        snprintf(nv_error, sizeof nv_error,
                 "%s has no %s: it is not NVRTC, or one older than CUDA 11.2; set ASIARCH_LIBNVRTC to a newer "
                 "libnvrtc.so", nv_path, name);
        return -1;
    }
    memcpy(slot, &f, sizeof f);
    return 0;
}

static int load_nvrtc(void)
{
    char home_lib[PATH_MAX] = "", tried[2048];
    const char *cuda_home = getenv("CUDA_HOME");
    if (cuda_home && *cuda_home) snprintf(home_lib, sizeof home_lib, "%s/lib64/libnvrtc.so", cuda_home);
    const char *env = getenv("ASIARCH_LIBNVRTC");
    const char *names[] = {env, "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", home_lib,
                           "/usr/local/cuda/lib64/libnvrtc.so"};
    /* A path the user named is the only one tried: a typo must not quietly
     * fall back to another toolkit. */
    void *h = open_first(names, env && *env ? 1 : (int)(sizeof names / sizeof *names), tried, sizeof tried);
    if (!h) {
        snprintf(nv_error, sizeof nv_error,
                 env && *env ? "cannot load NVRTC from ASIARCH_LIBNVRTC=%s: %s"
                             : "NVRTC (the CUDA toolkit's run-time compiler) is not installed: tried %s; install "
                               "it (the cuda-nvrtc package of the CUDA toolkit) or set ASIARCH_LIBNVRTC to its "
                               "libnvrtc.so",
                 env && *env ? env : tried, env && *env ? dlerror() : "");
        return -1;
    }
    struct { void *slot; const char *name; } syms[] = {
        {&nv.version, "nvrtcVersion"}, {&nv.error_string, "nvrtcGetErrorString"},
        {&nv.create, "nvrtcCreateProgram"}, {&nv.destroy, "nvrtcDestroyProgram"},
        {&nv.compile, "nvrtcCompileProgram"}, {&nv.log_size, "nvrtcGetProgramLogSize"},
        {&nv.log, "nvrtcGetProgramLog"}, {&nv.ptx_size, "nvrtcGetPTXSize"}, {&nv.ptx, "nvrtcGetPTX"},
        {&nv.cubin_size, "nvrtcGetCUBINSize"}, {&nv.cubin, "nvrtcGetCUBIN"},
        {&nv.num_archs, "nvrtcGetNumSupportedArchs"}, {&nv.archs, "nvrtcGetSupportedArchs"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++)
        if (resolve(h, syms[i].slot, syms[i].name) < 0) {
            dlclose(h);
            return -1;
        }
    int major = 0, minor = 0;
    nv.version(&major, &minor);
    snprintf(nv_version, sizeof nv_version, "%d.%d", major, minor);
    return 0;
}

int jit_nvrtc_load(char *why, size_t len)
{
    pthread_mutex_lock(&nv_lock);
    if (nv_state == 0) nv_state = load_nvrtc() == 0 ? 1 : -1;
    int state = nv_state;
    pthread_mutex_unlock(&nv_lock);
    if (state < 0 && why) snprintf(why, len, "%s", nv_error);
    return state > 0 ? 0 : -1;
}

const char *jit_nvrtc_version(void) { return jit_nvrtc_load(NULL, 0) == 0 ? nv_version : NULL; }
const char *jit_nvrtc_path(void) { return jit_nvrtc_load(NULL, 0) == 0 ? nv_path : NULL; }

int jit_nvrtc_supports(int arch)
{
    int n = 0, found = 0;
    if (jit_nvrtc_load(NULL, 0) < 0 || nv.num_archs(&n) != 0 || n <= 0 || n > 256) return 0;
    int list[256];
    if (nv.archs(list) != 0) return 0;
    for (int i = 0; i < n; i++) found |= list[i] == arch;
    return found;
}

/* ---- options and the cache key ----------------------------------------------------------- */

void jit_nvrtc_defaults(jit_nvrtc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch = 80;
    o->use_cache = 1;
}

#define MAX_OPTS 48

/* Every option NVRTC gets; all of them are part of the cache key. */
static int build_options(const jit_nvrtc_opts *o, const char **opt, char arch_opt[48])
{
    int n = 0;
    snprintf(arch_opt, 48, "--gpu-architecture=%s_%d", o->cubin ? "sm" : "compute", o->arch);
    opt[n++] = arch_opt;
    opt[n++] = "--std=c++17";
    /* IEEE division, square root and denormals, as on the CPU, so that the
     * two devices agree to rounding (no --use_fast_math). */
    opt[n++] = "--fmad=true";
    opt[n++] = "--generate-line-info";   /* line numbers in PTX, for audits and profilers */
    opt[n++] = "--device-as-default-execution-space";
    for (int i = 0; i < o->n_extra && n < MAX_OPTS; i++) opt[n++] = o->extra[i];
    return n;
}

static int cache_key(const char *file, const char *source, const jit_nvrtc_headers *h, const char *const *opt,
                     int n_opt, char key[65])
{
    const char *field[2 * JIT_NVRTC_MAX_HEADERS + MAX_OPTS + 4];
    size_t len[2 * JIT_NVRTC_MAX_HEADERS + MAX_OPTS + 4];
    int n = 0;
#define ADD(s) (field[n] = (s), len[n] = strlen(field[n]), n++)
    ADD("asiarch-nvrtc-v1");
    ADD(nv_version);
    ADD(file);
    ADD(source);
    for (int i = 0; h && i < h->n; i++) { ADD(h->names[i]); ADD(h->texts[i]); }
    for (int i = 0; i < n_opt; i++) ADD(opt[i]);
#undef ADD
    return jit_sha256_hex(field, len, n, 1, key);
}

static int code_sum(const char *data, size_t len, char out[65])
{
    const char *field[] = {data};
    return jit_sha256_hex(field, &len, 1, 0, out);
}

static int cache_paths(const jit_nvrtc_opts *o, const char *key, char *entry, char *sum, size_t len)
{
    char root[PATH_MAX];
    if (o->cache_dir && *o->cache_dir) snprintf(root, sizeof root, "%s", o->cache_dir);
    else if (jit_cache_root(root, sizeof root) < 0) return -1;
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/nvrtc", root);
    if (jit_mkdir_p(dir) < 0) return -1;
    const char *ext = o->cubin ? "cubin" : "ptx";
    if (snprintf(entry, len, "%s/%s.%s", dir, key, ext) >= (int)len) return -1;
    if (snprintf(sum, len, "%s/%s.sum", dir, key) >= (int)len) return -1;
    return 0;
}

/* An entry counts only with its checksum beside it and the right start: PTX
 * is text that opens with a comment, a cubin is an ELF file. */
static int cache_read(const char *entry, const char *sum_path, int cubin, jit_device_code *out)
{
    size_t len = 0, sum_len = 0;
    unsigned char *data = jit_read_file(entry, &len);
    unsigned char *want = data ? jit_read_file(sum_path, &sum_len) : NULL;
    char have[65];
    int shape_ok = cubin ? len > 4 && memcmp(data, "\177ELF", 4) == 0 : len > 2 && data[0] == '/' && data[1] == '/';
    int ok = want && sum_len >= 64 && shape_ok && code_sum((const char *)data, len, have) == 0 &&
             memcmp(have, want, 64) == 0;
    free(want);
    if (!ok) {
        free(data);
        return -1;
    }
    out->data = (char *)data;
    out->len = len;
    out->from_cache = 1;
    return 0;
}

static void cache_write(const char *entry, const char *sum_path, const jit_device_code *c)
{
    char sum[66];
    if (code_sum(c->data, c->len, sum) < 0) return;
    sum[64] = '\n';
    if (jit_write_file_atomic(entry, c->data, c->len) == 0) jit_write_file_atomic(sum_path, sum, 65);
}

/* ---- the log -> reports --------------------------------------------------------------------- */

/* The text of line `line` (1-based) of the file the log names: the main
 * source or one of the headers. NULL when neither. */
static const char *text_of(const char *name, const char *file, const char *source, const jit_nvrtc_headers *h)
{
    if (strcmp(name, file) == 0) return source;
    for (int i = 0; h && i < h->n; i++)
        if (strcmp(name, h->names[i]) == 0) return h->texts[i];
    return NULL;
}

static void copy_line(const char *text, int line, char *out, size_t len)
{
    out[0] = 0;
    for (int l = 1; text && *text && l < line; text++)
        if (*text == '\n') l++;
    if (!text) return;
    size_t n = strcspn(text, "\n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), text);
}

/* NVRTC echoes the offending line indented and puts a caret under the
 * column: the caret's offset past the echo's start is the column. */
static int caret_column(const char *echo, const char *caret, const char *src_line)
{
    const char *hat = strchr(caret, '^');
    if (!hat || strspn(caret, " ") != (size_t)(hat - caret)) return 0;
    const char *at = *src_line ? strstr(echo, src_line) : NULL;
    size_t indent = at ? (size_t)(at - echo) : strspn(echo, " ");
    size_t off = (size_t)(hat - caret);
    return off >= indent ? (int)(off - indent) + 1 : 0;
}

/* Lines "NAME(LINE): error: MESSAGE" (and "catastrophic error"); returns the
 * number of reports added. */
static int log_to_reports(char *log, const char *file, const char *source, const jit_nvrtc_headers *h,
                          aa_reports *reps)
{
    int added = 0;
    char *lines[4096];
    int nl = 0;
    for (char *save = NULL, *l = strtok_r(log, "\n", &save); l && nl < 4096; l = strtok_r(NULL, "\n", &save))
        lines[nl++] = l;
    for (int i = 0; i < nl; i++) {
        char *open = strchr(lines[i], '('), *close = open ? strstr(open, "): ") : NULL;
        if (!open || !close) continue;
        const char *kind = close + 3, *msg = NULL;
        if (strncmp(kind, "error: ", 7) == 0) msg = kind + 7;
        else if (strncmp(kind, "catastrophic error: ", 20) == 0) msg = kind + 20;
        if (!msg) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(open - lines[i]), lines[i]);
        int line = atoi(open + 1);
        const char *text = text_of(name, file, source, h);
        char src_line[256];
        copy_line(text, line, src_line, sizeof src_line);
        int col = i + 2 < nl ? caret_column(lines[i + 1], lines[i + 2], src_line) : 0;
        aa_report *r = aa_report_add(reps, "compile", name, line, col, "nvrtc/error", "%s", msg);
        if (r && text) aa_report_snippet(r, text, strlen(text));
        added++;
    }
    return added;
}

/* ---- compile ---------------------------------------------------------------------------- */

static char *program_log(nvrtcProgram p)
{
    size_t n = 0;
    if (nv.log_size(p, &n) != 0 || n == 0) return NULL;
    char *log = malloc(n + 1);
    if (log && nv.log(p, log) != 0) { free(log); return NULL; }
    if (log) log[n] = 0;
    return log;
}

static int fetch_code(nvrtcProgram p, int cubin, jit_device_code *out)
{
    size_t n = 0;
    if ((cubin ? nv.cubin_size(p, &n) : nv.ptx_size(p, &n)) != 0 || n == 0) return -1;
    out->data = malloc(n);
    if (!out->data) return -1;
    if ((cubin ? nv.cubin(p, out->data) : nv.ptx(p, out->data)) != 0) return -1;
    out->len = cubin ? n : strlen(out->data);   /* PTX's size counts its NUL */
    return 0;
}

static int run_nvrtc(const char *file, const char *source, const jit_nvrtc_headers *h, const jit_nvrtc_opts *o,
                     const char *const *opt, int n_opt, jit_device_code *out, aa_reports *reps)
{
    nvrtcProgram p = NULL;
    int rc = nv.create(&p, source, file, h ? h->n : 0, h ? h->texts : NULL, h ? h->names : NULL);
    if (rc != 0) {
        aa_report_add(reps, "compile", file, 0, 0, "nvrtc/internal", "nvrtcCreateProgram failed: %s",
                      nv.error_string(rc));
        return -1;
    }
    rc = nv.compile(p, n_opt, opt);
    char *log = program_log(p);
    if (rc != 0) {
        int n = log ? log_to_reports(log, file, source, h, reps) : 0;
        if (n == 0)
            aa_report_add(reps, "compile", file, 0, 0, "nvrtc/error", "NVRTC %s failed: %s", nv_version,
                          nv.error_string(rc));
        free(log);
        nv.destroy(&p);
        return -1;
    }
    out->log = log;
    int got = fetch_code(p, o->cubin, out);
    nv.destroy(&p);
    if (got < 0) {
        aa_report_add(reps, "compile", file, 0, 0, "nvrtc/internal", "NVRTC compiled %s but returned no %s", file,
                      o->cubin ? "cubin" : "PTX");
        return -1;
    }
    return 0;
}

int jit_nvrtc_compile(const char *file, const char *source, const jit_nvrtc_headers *h,
                      const jit_nvrtc_opts *opts, jit_device_code *out, aa_reports *reps)
{
    memset(out, 0, sizeof *out);
    jit_nvrtc_opts o;
    if (opts) o = *opts; else jit_nvrtc_defaults(&o);
    char why[512];
    if (jit_nvrtc_load(why, sizeof why) < 0) {
        aa_report_add(reps, "compile", file, 0, 0, "nvrtc/unavailable", "%s", why);
        return -1;
    }
    if (h && (h->n < 0 || h->n > JIT_NVRTC_MAX_HEADERS)) {
        aa_report_add(reps, "compile", file, 0, 0, "nvrtc/internal", "%d headers; at most %d", h->n,
                      JIT_NVRTC_MAX_HEADERS);
        return -1;
    }
    const char *opt[MAX_OPTS];
    char arch_opt[48];
    int n_opt = build_options(&o, opt, arch_opt);
    out->cubin = o.cubin;
    if (cache_key(file, source, h, opt, n_opt, out->key) < 0) {
        aa_report_add(reps, "compile", file, 0, 0, "nvrtc/internal", "cannot hash the source (libcrypto)");
        return -1;
    }
    char entry[PATH_MAX + 128], sum[PATH_MAX + 128];
    int cached = o.use_cache && cache_paths(&o, out->key, entry, sum, sizeof entry) == 0;
    if (cached && cache_read(entry, sum, o.cubin, out) == 0) return 0;
    if (run_nvrtc(file, source, h, &o, opt, n_opt, out, reps) < 0) {
        jit_device_code_free(out);
        return -1;
    }
    if (cached) cache_write(entry, sum, out);
    return 0;
}

int jit_nvrtc_warm(char *why, size_t len)
{
    jit_nvrtc_opts o;
    jit_nvrtc_defaults(&o);
    o.use_cache = 0;
    jit_device_code code;
    aa_reports reps = {0};
    int rc = jit_nvrtc_compile("warm.cu", "extern \"C\" __global__ void warm(float *x) { x[0] = expf(x[0]); }\n",
                               NULL, &o, &code, &reps);
    if (rc < 0) snprintf(why, len, "NVRTC cannot compile: %s", reps.n ? reps.items[0].message : "unknown error");
    jit_device_code_free(&code);
    aa_reports_free(&reps);
    return rc;
}

void jit_device_code_free(jit_device_code *c)
{
    free(c->data);
    free(c->log);
    c->data = c->log = NULL;
    c->len = 0;
}
