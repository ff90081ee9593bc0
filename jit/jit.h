/*
 * jit.h — from a candidate's C source to callable code.
 *
 *   jit_check    libclang: enforce the DSL rules (ARCHITECTURE §3) before anything
 *                is compiled; every violation is a report with a stable rule id
 *   jit_compile  clang (a separate, limited process) -> LLVM bitcode, with
 *                -nostdinc, only the DSL header, array-bounds traps; cached
 *                on disk by a hash of source, options and compiler version
 *   jit_load     ORC LLJIT (LLVM C API) with no access to the host process:
 *                only the DSL API, libm and memcpy/memset are defined, so any
 *                other reference fails to link with link/undefined-symbol
 *
 * The DSL header is embedded in the binary (jit_dsl_header), so a checked,
 * compiled and loaded candidate depends on nothing installed beside asiarch
 * except clang.
 *
 * Failures are aa_report values (report/report.h) with stage "check",
 * "compile" or "link".
 */
#ifndef ASIARCH_JIT_H
#define ASIARCH_JIT_H

#include <stddef.h>

#include "asiarch.h"
#include "report.h"

/* The text of include/asiarch.h, compiled into the binary. */
extern const char jit_dsl_header[];
extern const size_t jit_dsl_header_len;

/* A candidate's source, read once and shared by every stage. */
typedef struct jit_source {
    char path[1024];        /* as given by the user: appears in every report */
    char *text;             /* NUL-terminated */
    size_t len;
} jit_source;

/* Read a file (at most 1 MiB: a candidate is one file). CRLF and lone CR
 * become LF here, so every stage counts lines in the same text. Returns 0,
 * or -1 with a report of stage "check", rule "io/read". */
int jit_source_read(const char *path, jit_source *src, aa_reports *out);
/* Wrap a string that is already in memory (tests, the LLM loop). */
int jit_source_from_string(const char *path, const char *text, jit_source *src);
void jit_source_free(jit_source *src);

/* ---- helper programs -------------------------------------------------------- */

/* Where a helper program of asiarch is (asiarch-check, asiarch-runner):
 * $env_var when set, else `name` beside the running program, else
 * build_path (where this build made it). 0 when it is executable there
 * (out holds the path either way), -1 otherwise. */
int jit_find_program(const char *name, const char *env_var, const char *build_path, char *out, size_t len);

/* ---- names ------------------------------------------------------------------ */

/* A candidate's name (AA_NAME, or the file's stem) is 1-64 characters from
 * [a-z0-9_]: it is printed in terminals and used in file names, so it can
 * carry no escape sequence, slash or space. */
#define JIT_NAME_MAX 64
int jit_name_valid(const char *name);
/* The nearest valid name: lower case, anything else as '_', at most
 * JIT_NAME_MAX characters, "unnamed" when nothing is left. */
void jit_name_sanitise(const char *in, char *out, size_t len);

/* ---- check ------------------------------------------------------------------ */

/* Enforce the DSL rules. Appends one report per violation (and per compiler
 * error) to out, in source order. Returns the number of violations (0 =
 * accepted), or -1 when the checker itself could not run (report in out).
 *
 * libclang runs in a child process (asiarch-check) with rlimits and a
 * deadline, never in the caller: an input that crashes or stalls it is one
 * violation, check/crash or check/timeout (line 0), and the caller goes on. */
int jit_check(const jit_source *src, aa_reports *out);
/* The same for a C kernel file of `asiarch jit` (proto.h): its @kernel
 * declaration, and the kernel rules: pointers into its buffers and loops
 * bounded by its parameters are allowed; asm, attributes, calls outside
 * asiarch_kernel.h and its own functions, mutable globals, recursion,
 * includes and macros are not. Rule ids read kernel/... */
int jit_check_kernel(const jit_source *src, aa_reports *out);

/* ---- compile ---------------------------------------------------------------- */

typedef struct jit_compile_opts {
    int use_cache;          /* 1: reuse and store bitcode on disk */
    const char *cache_dir;  /* NULL: $XDG_CACHE_HOME/asiarch or ~/.cache/asiarch */
    double timeout_s;       /* wall-clock limit for clang (default 20) */
    size_t max_output;      /* cap on clang's diagnostics captured (default 64 KiB) */
    int kernel;             /* a kernel file of `asiarch jit`: asiarch_kernel.h, -O3 -march=native */
} jit_compile_opts;

typedef struct jit_bitcode {
    unsigned char *data;    /* malloc'd */
    size_t len;
    int from_cache;
    char key[65];           /* hex SHA-256 of source + options + compiler version */
} jit_bitcode;

void jit_compile_defaults(jit_compile_opts *o);
/* Returns 0, or -1 with stage-"compile" reports (compiler errors with their
 * file:line:col, or "compile/timeout", "compile/crash", "compile/output-limit",
 * "compile/no-clang"). */
int jit_compile(const jit_source *src, const jit_compile_opts *o, jit_bitcode *out, aa_reports *reps);
void jit_bitcode_free(jit_bitcode *bc);

/* ---- load -------------------------------------------------------------------- */

typedef struct jit_module jit_module;

/* Load bitcode into a fresh LLJIT whose only external symbols are the DSL API,
 * libm and memcpy/memset; resolve every entry point (mixer, aa_meta_name,
 * aa_meta_motivation) now. An unresolved reference is a stage-"link" report
 * "link/undefined-symbol: NAME" at the candidate's line where the source
 * shows it. Returns NULL on failure. */
jit_module *jit_load(const jit_bitcode *bc, const jit_source *src, aa_reports *reps);
aa_t (*jit_mixer(const jit_module *m))(aa_layer *, aa_t);
const char *jit_name(const jit_module *m);        /* AA_NAME, or the file's stem */
const char *jit_motivation(const jit_module *m);  /* AA_MOTIVATION, or "" */
/* The functions the candidate defines: names by index, NULL past the end. */
const char *jit_function_name(const jit_module *m, int i);
/* Address of a function the candidate defines, or NULL (fault reports
 * use it to name the function a trap happened in). */
void *jit_lookup(jit_module *m, const char *symbol);
/* The same, only when the function's compiled type is float(float x
 * nargs): the one type a pointwise kernel calls. Anything else (the mixer,
 * a helper taking an int or the layer) is NULL, whatever the source said. */
void *jit_lookup_scalar(jit_module *m, const char *symbol, int nargs);
/* jit_lookup_scalar as an ir_resolver (module = the jit_module). */
void *jit_resolve_scalar(void *module, const char *symbol, int nargs);
/* The LLVM IR that was loaded, as text (malloc'd; for `asiarch ir --llvm`). */
char *jit_llvm_ir(const jit_module *m);
void jit_unload(jit_module *m);

/* ---- kernels (asiarch jit) ----------------------------------------------------- */

/* A symbol a kernel may link against: its name and the host's address. */
typedef struct jit_symbol {
    const char *name;
    void *address;
} jit_symbol;

/* Load a kernel file's bitcode: as jit_load, but the module links only
 * symbols[0..n) and must define `entry` (any type: the caller knows it).
 * No AA_NAME: jit_name is the file's stem. */
jit_module *jit_load_kernel(const jit_bitcode *bc, const jit_source *src, const jit_symbol *symbols, int n,
                            const char *entry, aa_reports *reps);
/* The entry's address (jit_load: the mixer). */
void *jit_entry(const jit_module *m);
/* The machine code of bitcode for this CPU, as assembly text (malloc'd),
 * or NULL with a stage-"link" report. Nothing is linked or run. */
char *jit_bitcode_asm(const jit_bitcode *bc, const jit_source *src, aa_reports *reps);

/* The names a candidate may link against (NULL-terminated; for tests and
 * the auditing docs). */
const char *const *jit_allowed_symbols(void);

/* ---- NVRTC: CUDA C to device code (nvrtc.c) ----------------------------------- */

/* NVRTC is loaded at run time (dlopen): ASIARCH_LIBNVRTC, else the usual
 * sonames, $CUDA_HOME/lib64 and /usr/local/cuda/lib64. No GPU is needed.
 * 0 when it loads, else -1 with why (what was tried, what to install). */
int jit_nvrtc_load(char *why, size_t len);
const char *jit_nvrtc_version(void);   /* "13.0", or NULL when not loaded */
const char *jit_nvrtc_path(void);
int jit_nvrtc_supports(int arch);      /* 1 when NVRTC can target sm_<arch> */

#define JIT_NVRTC_MAX_HEADERS 32
/* Headers a source may #include "by name" (NVRTC reads no files). */
typedef struct jit_nvrtc_headers {
    int n;
    const char *names[JIT_NVRTC_MAX_HEADERS];
    const char *texts[JIT_NVRTC_MAX_HEADERS];
} jit_nvrtc_headers;

typedef struct jit_nvrtc_opts {
    int arch;                   /* compute capability x 10: 80 (A100), 90 (H100) */
    int cubin;                  /* 1: SASS for exactly sm_<arch>; 0: PTX for compute_<arch> */
    const char *const *extra;   /* more NVRTC options ("-DNAME=1"); part of the cache key */
    int n_extra;
    int use_cache;              /* reuse and store device code on disk */
    const char *cache_dir;      /* NULL: as for the bitcode */
} jit_nvrtc_opts;

typedef struct jit_device_code {
    char *data;                 /* PTX text (NUL-terminated) or a cubin (ELF) */
    size_t len;
    int cubin, from_cache;
    char key[65];               /* SHA-256 of source, headers, options, NVRTC version */
    char *log;                  /* NVRTC's warnings, or NULL */
} jit_device_code;

void jit_nvrtc_defaults(jit_nvrtc_opts *o);
/* Compile source (reports name it `file`, which is also the name the log
 * uses). Returns 0, or -1 with stage-"compile" reports: "nvrtc/error" at
 * file:line:col with the offending line for each compiler error,
 * "nvrtc/unavailable" when NVRTC cannot be loaded. */
int jit_nvrtc_compile(const char *file, const char *source, const jit_nvrtc_headers *h,
                      const jit_nvrtc_opts *o, jit_device_code *out, aa_reports *reps);
void jit_device_code_free(jit_device_code *c);
/* Compile a tiny program (no cache) so that NVRTC has loaded everything it
 * loads on first use: a sandboxed process can then compile after lock-down. */
int jit_nvrtc_warm(char *why, size_t len);

#endif /* ASIARCH_JIT_H */
