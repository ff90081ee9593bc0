/*
 * compile.c — a candidate's source to LLVM bitcode.
 *
 * clang runs as a separate process (process.c) so that nothing it does
 * (crash, loop, memory blow-up, a flood of diagnostics) can take asiarch
 * down: no shell, its own process group killed on a wall-clock timeout,
 * 2 GiB of address space, 64 MiB files, no core, and a fixed environment,
 * so CPATH or CCC_OVERRIDE_OPTIONS cannot change what is compiled behind
 * the cache's back.
 *
 * Only the embedded DSL header is visible (-nostdinc, -I a directory holding
 * just asiarch.h), -fno-builtin keeps every libm call a plain call to the
 * function the source names (instead of letting LLVM rewrite powf(2, x) into
 * exp2f, a symbol the loader does not provide), and array-bounds checks
 * trap. Line tables (-gline-tables-only) let the loader point undefined
 * symbols at the calling line.
 *
 * The result is cached as <cache>/bitcode/<key>.bc, key = SHA-256 of the
 * source, the flags, `clang --version` and the header (OpenSSL libcrypto),
 * with <key>.sum beside it to detect damaged entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

#ifndef ASIARCH_CLANG
#define ASIARCH_CLANG "clang-14"
#endif

#define DEFAULT_TIMEOUT_S 20.0
#define DEFAULT_MAX_OUTPUT ((size_t)64 << 10)
#define CLANG_ADDRESS_SPACE ((rlim_t)2 << 30)
#define CLANG_FILE_SIZE ((rlim_t)64 << 20)
#define SOURCE_NAME "candidate.c"   /* inside the temporary directory */
#define OUTPUT_NAME "candidate.bc"

/* Every flag that changes the bitcode. They are part of the cache key; the
 * include directory and file names, which vary per run, are not. */
static const char *const clang_flags[] = {
    "-x", "c", "-std=c17",
    "-nostdinc",                 /* only the embedded header (-I below) */
    "-fno-builtin",              /* libm calls stay calls to the named function */
    /* Out-of-bounds indexing and out-of-range float->int casts trap
     * instead of reading or computing garbage; -fwrapv keeps the optimiser
     * from reasoning a bounds check away through signed overflow. */
    "-fsanitize=array-bounds,float-cast-overflow", "-fsanitize-trap=array-bounds,float-cast-overflow",
    "-fwrapv",
    "-fno-stack-protector",      /* no __stack_chk_fail to link */
    "-fstack-clash-protection",  /* a big frame probes each page: it hits the guard page, never jumps it */
    "-fno-exceptions", "-fno-asynchronous-unwind-tables",
    "-gline-tables-only",        /* line:col of calls, for link errors */
    "-fdebug-compilation-dir=.", /* no temporary path in the bitcode (and see */
                                 /* -fdebug-prefix-map in run_clang) */
    "-fno-crash-diagnostics",    /* no reproducer files in /tmp on a crash */
    "-fno-color-diagnostics", "-fno-caret-diagnostics",
    /* Warnings are the checker's business; these few are real errors. */
    "-Wno-everything", "-Werror=implicit-function-declaration", "-Werror=implicit-int",
    "-Werror=return-type", "-Werror=int-conversion",
    "-emit-llvm", "-c",
};
#define N_FLAGS (sizeof clang_flags / sizeof clang_flags[0])

/* What differs between a DSL candidate and a kernel file (asiarch jit):
 * the header, and how hard the optimiser works. A kernel is compiled for
 * this CPU (-march=native), so its cache key names the CPU too. */
typedef struct mode {
    const char *header_name;
    const char *header;
    const size_t *header_len;
    const char *const *extra;   /* NULL-terminated */
} mode;

static const char *const dsl_extra[] = {"-O2", NULL};
static const char *const kernel_extra[] = {"-O3", "-march=native", "-include", "asiarch_kernel.h", NULL};
static const mode modes[2] = {
    {"asiarch.h", jit_dsl_header, &jit_dsl_header_len, dsl_extra},
    {"asiarch_kernel.h", jit_kernel_header, &jit_kernel_header_len, kernel_extra},
};
#define MAX_EXTRA 4

void jit_compile_defaults(jit_compile_opts *o)
{
    memset(o, 0, sizeof *o);
    o->use_cache = 1;
    o->timeout_s = DEFAULT_TIMEOUT_S;
    o->max_output = DEFAULT_MAX_OUTPUT;
}

void jit_bitcode_free(jit_bitcode *bc)
{
    if (!bc) return;
    free(bc->data);
    memset(bc, 0, sizeof *bc);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

/* ---- running clang ------------------------------------------------------------------ */

/* The compiler to run: $ASIARCH_CLANG, else the one CMake found. A bare
 * name is looked up in PATH here, in the parent: execvp is not safe
 * between fork and exec in a threaded program. */
static const char *clang_path(char *buf, size_t len)
{
    const char *name = getenv("ASIARCH_CLANG");
    if (!name || !*name) name = ASIARCH_CLANG;
    if (strchr(name, '/')) return name;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        if (n && (size_t)snprintf(buf, len, "%.*s/%s", (int)n, p, name) < len && access(buf, X_OK) == 0)
            return buf;
        p += n + (p[n] == ':');
    }
    return name;   /* not found: exec reports ENOENT, with this name */
}

/* clang's limits: 2 GiB of address space, 64 MiB files, no stdin. */
static proc_opts clang_limits(const char *cwd, double timeout_s, size_t max_output)
{
    return (proc_opts){.cwd = cwd, .timeout_s = timeout_s, .max_output = max_output,
                       .address_space = CLANG_ADDRESS_SPACE, .file_size = CLANG_FILE_SIZE, .stdin_fd = -1};
}

static void first_line(const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s", text ? text : "");
    buf[strcspn(buf, "\n")] = 0;
}

static void no_clang_report(aa_reports *reps, const char *file, const char *clang, int err)
{
    aa_report_add(reps, "compile", file, 0, 0, "compile/no-clang",
                  "cannot run the C compiler '%s': %s; install clang-14 (apt-get install clang-14, "
                  "or ./bootstrap.sh) or set ASIARCH_CLANG to the path of a clang 14 binary",
                  clang, strerror(err));
}

/* `clang --version`, run once per compiler path and process (it is part of
 * every cache key). NULL with a report when clang cannot be run. */
static const char *clang_version(const char *clang, const char *file, aa_reports *reps)
{
    /* One entry per compiler path ever used; never freed, since callers
     * keep the text. */
    typedef struct version { struct version *next; char *text; char path[]; } version;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static version *known;

    pthread_mutex_lock(&lock);
    for (version *v = known; v; v = v->next)
        if (strcmp(v->path, clang) == 0) {
            pthread_mutex_unlock(&lock);
            return v->text;
        }
    char *argv[] = {(char *)clang, "--version", NULL};
    proc_result res;
    proc_opts po = clang_limits(NULL, 10.0, 4096);
    jit_run_process(argv, &po, &res);
    const char *text = NULL;
    if (res.how == PROC_NOEXEC) {
        no_clang_report(reps, file, clang, res.code);
    } else if (res.how == PROC_ERROR) {
        aa_report_add(reps, "compile", file, 0, 0, "compile/io", "cannot start '%s --version': %s", clang,
                      strerror(res.code));
    } else if (res.how != PROC_EXITED || res.code != 0 || !strstr(res.out ? res.out : "", "clang")) {
        char head[200];
        first_line(res.out && res.len ? res.out : "no output", head, sizeof head);
        aa_report_add(reps, "compile", file, 0, 0, "compile/no-clang",
                      "'%s --version' did not identify a clang compiler (it printed: %s); set ASIARCH_CLANG "
                      "to the path of a clang 14 binary (Debian package clang-14)", clang, head);
    } else {
        version *v = malloc(sizeof *v + strlen(clang) + 1);
        if (v) {
            strcpy(v->path, clang);
            v->text = res.out;
            v->next = known;
            known = v;
            text = res.out;
            res.out = NULL;
        }
    }
    free(res.out);
    pthread_mutex_unlock(&lock);
    return text;
}

/* ---- the cache ------------------------------------------------------------------------ */

/* A cache entry is <key>.bc (the bitcode, as clang wrote it) and <key>.sum
 * (the hex SHA-256 of that file, written after it). An entry whose sum is
 * missing or does not match is ignored and replaced: whatever truncated or
 * overwrote it. (Parsing would not do as a check: LLVM 14's bitcode reader
 * ends the process on some malformed input.) */
static int bitcode_sum(const unsigned char *data, size_t len, char out[65])
{
    const char *field[] = {(const char *)data};
    return jit_sha256_hex(field, &len, 1, 0, out);
}

static int cache_read(const char *entry, const char *sum_path, jit_bitcode *out)
{
    size_t len = 0, sum_len = 0;
    unsigned char *data = jit_read_file(entry, &len);
    unsigned char *want = data ? jit_read_file(sum_path, &sum_len) : NULL;
    char have[65];
    int ok = want && sum_len >= 64 && bitcode_sum(data, len, have) == 0 && memcmp(have, want, 64) == 0 &&
             len >= 4 && memcmp(data, "BC\xC0\xDE", 4) == 0;
    free(want);
    if (!ok) {
        free(data);
        return -1;
    }
    out->data = data;
    out->len = len;
    out->from_cache = 1;
    return 0;
}

static void cache_write(const char *entry, const char *sum_path, const jit_bitcode *bc)
{
    char sum[66];
    if (bitcode_sum(bc->data, bc->len, sum) < 0) return;
    sum[64] = '\n';
    if (jit_write_file_atomic(entry, bc->data, bc->len) == 0) jit_write_file_atomic(sum_path, sum, 65);
}

/* Put a mode's embedded header at <root>/include/<hash of its text>/NAME:
 * one directory per header version, so two asiarch builds sharing a cache
 * never see each other's header. Writes that directory into dir. */
static int ensure_header(const char *root, const mode *md, char *dir, size_t dirlen)
{
    char tag[65];
    const char *field[] = {md->header};
    size_t len = *md->header_len;
    if (jit_sha256_hex(field, &len, 1, 0, tag) < 0) return -1;
    if (snprintf(dir, dirlen, "%s/include/%.16s", root, tag) >= (int)dirlen) return -1;
    char file[PATH_MAX];
    if (snprintf(file, sizeof file, "%s/%s", dir, md->header_name) >= (int)sizeof file) return -1;
    size_t have_len = 0;
    unsigned char *have = jit_read_file(file, &have_len);
    int same = have && have_len == len && memcmp(have, md->header, len) == 0;
    free(have);
    if (same) return 0;
    if (jit_mkdir_p(dir) < 0) return -1;
    return jit_write_file_atomic(file, md->header, len);
}

/* key = SHA-256(format tag, source, flags, clang --version, header[, CPU]). */
static int cache_key(const jit_source *src, const mode *md, int kernel, const char *version, char key[65])
{
    const char *field[N_FLAGS + MAX_EXTRA + 6];
    size_t len[N_FLAGS + MAX_EXTRA + 6];
    int n = 0;
    field[n] = "asiarch-bitcode-v1"; len[n] = strlen(field[n]); n++;
    field[n] = src->text; len[n] = src->len; n++;
    for (size_t i = 0; i < N_FLAGS; i++, n++) { field[n] = clang_flags[i]; len[n] = strlen(clang_flags[i]); }
    for (int i = 0; md->extra[i]; i++, n++) { field[n] = md->extra[i]; len[n] = strlen(md->extra[i]); }
    field[n] = version; len[n] = strlen(version); n++;
    field[n] = md->header; len[n] = *md->header_len; n++;
    if (kernel) { field[n] = jit_host_cpu_text(); len[n] = strlen(field[n]); n++; }
    return jit_sha256_hex(field, len, n, 1, key);
}

/* ---- clang's diagnostics -> reports ------------------------------------------------------ */

/* Parse "FILE:LINE:COL: error: MESSAGE" (LINE and COL optional). Returns 1
 * for an error line, filling the location and *msg. */
static int parse_error_line(char *line, const char **file, int *lno, int *col, const char **msg)
{
    static const char *const kinds[] = {": fatal error: ", ": error: "};
    char *at = NULL;
    size_t skip = 0;
    for (int k = 0; k < 2 && !at; k++)
        if ((at = strstr(line, kinds[k]))) skip = strlen(kinds[k]);
    if (!at) {
        /* "error: ..." or "clang: error: ..." with no location */
        if (strncmp(line, "error: ", 7) == 0) { *file = NULL; *lno = *col = 0; *msg = line + 7; return 1; }
        return 0;
    }
    *at = 0;
    *msg = at + skip;
    *lno = *col = 0;
    /* Peel ":COL" and ":LINE" off the end of the location. */
    for (int part = 0; part < 2; part++) {
        char *c = strrchr(line, ':');
        if (!c || !c[1] || strspn(c + 1, "0123456789") != strlen(c + 1)) break;
        *col = *lno;
        *lno = atoi(c + 1);
        *c = 0;
    }
    *file = line;
    return 1;
}

/* One stage-"compile" report per error clang printed, located in the
 * user's file (clang saw it as candidate.c) or in asiarch.h. */
static int diagnostics_to_reports(const jit_source *src, char *out, aa_reports *reps)
{
    int n = 0;
    for (char *line = out; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        const char *file, *msg;
        int lno, col;
        if (parse_error_line(line, &file, &lno, &col, &msg)) {
            int mine = file && strcmp(file, SOURCE_NAME) == 0;
            const char *shown = mine ? src->path : file && strstr(file, "asiarch.h") ? "asiarch.h" : src->path;
            if (!file) lno = col = 0;
            aa_report *r = aa_report_add(reps, "compile", shown, lno, col, "compile/error", "%s", msg);
            if (r && mine) aa_report_snippet(r, src->text, src->len);
            n++;
        }
        line = next;
    }
    return n;
}

/* Turn a finished clang run into reports. Returns 0 when it succeeded. */
static int judge_run(const jit_source *src, const char *clang, const proc_result *res, double timeout_s,
                     size_t max_output, aa_reports *reps)
{
    char head[256];
    const char *path = src->path;
    switch (res->how) {
    case PROC_EXITED:
        if (res->code == 0) return 0;
        if (res->out && (strstr(res->out, "PLEASE submit a bug report") ||
                         strstr(res->out, "frontend command failed due to signal"))) {
            first_line(res->out, head, sizeof head);
            aa_report_add(reps, "compile", path, 0, 0, "compile/crash",
                          "clang crashed while compiling this file (%s); simplify the code around the "
                          "construct it last reported", head);
            return -1;
        }
        if (diagnostics_to_reports(src, res->out, reps) == 0) {
            first_line(res->out, head, sizeof head);
            aa_report_add(reps, "compile", path, 0, 0, "compile/error",
                          "clang failed with exit status %d and no error message we could place: %s",
                          res->code, head[0] ? head : "(no output)");
        }
        return -1;
    case PROC_SIGNALED:
        aa_report_add(reps, "compile", path, 0, 0, "compile/crash",
                      "clang was killed by signal %d (%s) while compiling this file; the source is probably "
                      "too large or too deeply nested: simplify it",
                      res->code, strsignal(res->code));
        return -1;
    case PROC_TIMEOUT:
        aa_report_add(reps, "compile", path, 0, 0, "compile/timeout",
                      "clang did not finish within %.3g s; the source is too large or too complex to "
                      "compile: simplify it", timeout_s);
        return -1;
    case PROC_FLOOD: {
        /* The complete lines captured so far are still worth reporting. */
        char *end = res->out ? strrchr(res->out, '\n') : NULL;
        if (end) end[1] = 0;
        if (end) diagnostics_to_reports(src, res->out, reps);
        aa_report_add(reps, "compile", path, 0, 0, "compile/output-limit",
                      "clang wrote more than %zu bytes of diagnostics and was stopped; fix the first "
                      "errors above and compile again", max_output);
        return -1;
    }
    case PROC_NOEXEC:
        no_clang_report(reps, path, clang, res->code);
        return -1;
    case PROC_ERROR:
        aa_report_add(reps, "compile", path, 0, 0, "compile/io", "cannot run clang: %s", strerror(res->code));
        return -1;
    }
    return -1;
}

/* ---- jit_compile ---------------------------------------------------------------------------- */

static int io_fail(aa_reports *reps, const char *path, const char *what, const char *where)
{
    aa_report_add(reps, "compile", path, 0, 0, "compile/io", "cannot %s %s: %s; check the disk and TMPDIR",
                  what, where, strerror(errno));
    return -1;
}

/* Compile src->text in a fresh temporary directory; the bitcode into out. */
static int run_clang(const jit_source *src, const char *clang, const char *cache_root, const jit_compile_opts *o,
                     const mode *md, jit_bitcode *out, aa_reports *reps)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/asiarch-cc-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir)) return io_fail(reps, src->path, "create a temporary directory in", tmp ? tmp : "/tmp");

    int rc = -1;
    char inc[PATH_MAX + 16], file[PATH_MAX + 32];
    /* The header lives in the cache when there is one; otherwise (read-only
     * home, say) in the temporary directory. */
    if (!cache_root || ensure_header(cache_root, md, inc, sizeof inc) < 0) {
        snprintf(inc, sizeof inc, "%s/include", dir);
        snprintf(file, sizeof file, "%s/%s", inc, md->header_name);
        if (mkdir(inc, 0755) < 0 || jit_write_file_atomic(file, md->header, *md->header_len) < 0) {
            io_fail(reps, src->path, "write the DSL header to", inc);
            goto done;
        }
    }
    snprintf(file, sizeof file, "%s/" SOURCE_NAME, dir);
    if (jit_write_file_atomic(file, src->text, src->len) < 0) {
        io_fail(reps, src->path, "write the source to", file);
        goto done;
    }

    /* The header's directory varies (cache or temporary); name it
     * "include" in the debug info so the bitcode does not. */
    char prefix_map[PATH_MAX + 64];
    snprintf(prefix_map, sizeof prefix_map, "-fdebug-prefix-map=%s=include", inc);
    char *argv[N_FLAGS + MAX_EXTRA + 8];
    int n = 0;
    argv[n++] = (char *)clang;
    for (size_t i = 0; i < N_FLAGS; i++) argv[n++] = (char *)clang_flags[i];
    for (int i = 0; md->extra[i]; i++) argv[n++] = (char *)md->extra[i];
    argv[n++] = "-I";
    argv[n++] = inc;
    argv[n++] = prefix_map;
    argv[n++] = "-o";
    argv[n++] = OUTPUT_NAME;
    argv[n++] = SOURCE_NAME;
    argv[n] = NULL;

    proc_result res;
    proc_opts po = clang_limits(dir, o->timeout_s, o->max_output);
    jit_run_process(argv, &po, &res);
    if (judge_run(src, clang, &res, o->timeout_s, o->max_output, reps) == 0) {
        snprintf(file, sizeof file, "%s/" OUTPUT_NAME, dir);
        out->data = jit_read_file(file, &out->len);
        if (!out->data) io_fail(reps, src->path, "read clang's output", file);
        else rc = 0;
    }
    free(res.out);
done:
    rm_tree(dir);
    return rc;
}

int jit_compile(const jit_source *src, const jit_compile_opts *opts, jit_bitcode *out, aa_reports *reps)
{
    memset(out, 0, sizeof *out);
    jit_compile_opts o;
    jit_compile_defaults(&o);
    if (opts) {
        o = *opts;
        if (!(o.timeout_s > 0)) o.timeout_s = DEFAULT_TIMEOUT_S;
        if (o.max_output == 0) o.max_output = DEFAULT_MAX_OUTPUT;
    }
    if (!src || !src->text) {
        aa_report_add(reps, "compile", src ? src->path : "", 0, 0, "compile/io", "no source text to compile");
        return -1;
    }
    char found[PATH_MAX];
    const char *clang = clang_path(found, sizeof found);
    const char *version = clang_version(clang, src->path, reps);
    if (!version) return -1;
    const mode *md = &modes[o.kernel ? 1 : 0];
    if (cache_key(src, md, o.kernel, version, out->key) < 0) {
        aa_report_add(reps, "compile", src->path, 0, 0, "compile/io",
                      "SHA-256 from OpenSSL's libcrypto failed; check the OpenSSL installation");
        return -1;
    }

    char root[PATH_MAX], entry[PATH_MAX + 96], sum_path[PATH_MAX + 96];
    const char *cache_root = NULL;
    if (o.cache_dir && *o.cache_dir) {
        snprintf(root, sizeof root, "%s", o.cache_dir);
        cache_root = root;
    } else if (jit_cache_root(root, sizeof root) == 0) {
        cache_root = root;
    }
    if (cache_root && jit_mkdir_p(cache_root) < 0) cache_root = NULL;   /* work without a cache */
    if (cache_root) {
        snprintf(entry, sizeof entry, "%s/bitcode/%s.bc", cache_root, out->key);
        snprintf(sum_path, sizeof sum_path, "%s/bitcode/%s.sum", cache_root, out->key);
    }

    if (o.use_cache && cache_root && cache_read(entry, sum_path, out) == 0) return 0;
    if (run_clang(src, clang, cache_root, &o, md, out, reps) < 0) {
        jit_bitcode_free(out);
        return -1;
    }
    if (o.use_cache && cache_root) {
        /* A failed store only costs the next run a compile. */
        char bcdir[PATH_MAX + 16];
        snprintf(bcdir, sizeof bcdir, "%s/bitcode", cache_root);
        if (jit_mkdir_p(bcdir) == 0) cache_write(entry, sum_path, out);
    }
    return 0;
}
