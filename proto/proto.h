/*
 * proto.h — kernel prototyping (`asiarch jit`): one C or CUDA file that
 * declares its entry point and arguments, run on generated inputs in the
 * sandbox, compared with a reference, and timed.
 *
 * A kernel file carries its declaration in a comment (docs: README,
 * "Prototyping kernels"):
 *
 *   / *
 *    * @kernel  softmax_rows
 *    * @param   rows = 256
 *    * @param   cols = 1024
 *    * @in      x: f32[rows * cols] = normal(0, 1)
 *    * @out     y: f32[rows * cols]
 *    * @bytes   8 * rows * cols
 *    * @flops   5 * rows * cols
 *    * /
 *   void softmax_rows(const float *x, float *y, int rows, int cols) { ... }
 *
 * The entry's parameters are the declared buffers (pointers) and integer
 * parameters, named alike, in any order. Sizes, bytes, FLOPs and a CUDA
 * launch's @grid/@block/@shared are integer expressions of the parameters
 * (+ - * / % parentheses, min, max, cdiv). The parser (spec.c) is shared by
 * the checker, the CLI and the runner, so all three read the same contract.
 *
 * The runner side (exec.c) allocates the buffers (each in its own mapping
 * between PROT_NONE guards in checked mode, so an access outside a buffer
 * traps and is named), fills the inputs from a seed, calls the kernel and
 * its reference on identical inputs, compares every output, and times
 * repetitions after a warm-up.
 */
#ifndef ASIARCH_PROTO_H
#define ASIARCH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "jit.h"
#include "report.h"

#define KP_MAX_PARAMS 16
#define KP_MAX_BUFFERS 16
#define KP_MAX_ARGS (KP_MAX_PARAMS + KP_MAX_BUFFERS)
#define KP_NAME_MAX 32
#define KP_EXPR_MAX 192
#define KP_MAX_BYTES ((long long)16 << 30)   /* all buffers together */

typedef enum kp_lang { KP_C = 0, KP_CUDA = 1 } kp_lang;
typedef enum kp_type { KP_F32 = 0, KP_F16, KP_BF16, KP_I32 } kp_type;
typedef enum kp_role { KP_IN = 0, KP_OUT, KP_INOUT } kp_role;
typedef enum kp_init { KP_INIT_ZERO = 0, KP_INIT_UNIFORM, KP_INIT_NORMAL, KP_INIT_ARANGE, KP_INIT_CONSTANT } kp_init;

const char *kp_type_name(kp_type t);     /* "f32" */
size_t kp_type_size(kp_type t);
const char *kp_role_name(kp_role r);     /* "in", "out", "inout" */

typedef struct kp_expr {
    char text[KP_EXPR_MAX];
    int line, col;               /* where it is written (reports) */
} kp_expr;

typedef struct kp_param {
    char name[KP_NAME_MAX];
    long long value;             /* the declared default, then --set */
    int line;
} kp_param;

typedef struct kp_buffer {
    char name[KP_NAME_MAX];
    kp_type type;
    kp_role role;
    kp_expr size;                /* elements */
    kp_init init;
    double a, b;                 /* uniform(a, b), normal(mean a, std b), arange(start a, step b), constant(a) */
    int line;
} kp_buffer;

/* One parameter of the entry, in its order: a buffer or an integer. */
typedef struct kp_arg {
    int buffer;                  /* 1: bufs[index]; 0: params[index] */
    int index;
    int width;                   /* integers: 4 or 8 bytes (from the C type) */
    int is_signed;
} kp_arg;

typedef struct kp_spec {
    kp_lang lang;
    char entry[64];
    int entry_line;              /* the @kernel line */
    kp_param params[KP_MAX_PARAMS];
    int n_params;
    kp_buffer bufs[KP_MAX_BUFFERS];
    int n_bufs;
    kp_arg args[KP_MAX_ARGS];    /* filled by kp_spec_parse from the entry's definition */
    int n_args;
    kp_expr bytes, flops;        /* "" when not declared */
    kp_expr grid[3], block[3], shared;   /* CUDA launch; "" = 1 (shared: 0) */
    double tol;                  /* @tol; 0: the default for the output types */
    char ref[256];               /* @ref FILE, relative to the kernel file; "" = none */
} kp_spec;

/* The language of a kernel file from its name: .cu -> CUDA, else C. */
kp_lang kp_lang_of(const char *path);

/* Read the declaration and the entry's parameter list from src. Returns 0,
 * or the number of problems, each a report of stage "check", rule
 * "kernel/spec" or "kernel/signature", at its file:line:col. */
int kp_spec_parse(const jit_source *src, kp_lang lang, kp_spec *out, aa_reports *reps);

/* `name=value` (a --set): value is an integer expression of the other
 * parameters' current values. 0, or -1 with err. */
int kp_spec_set(kp_spec *s, const char *assignment, char *err, size_t errlen);
/* Evaluate an expression of the parameters. 0, or -1 with err. */
int kp_eval(const kp_spec *s, const kp_expr *e, long long *out, char *err, size_t errlen);
/* Every size, the launch and bytes/FLOPs at the current values: sizes must
 * be 1..2^34 elements and fit KP_MAX_BYTES together. 0, or -1 with err. */
typedef struct kp_sizes {
    long long elems[KP_MAX_BUFFERS];
    long long total_bytes;
    double bytes, flops;         /* < 0: not declared */
    unsigned grid[3], block[3];
    unsigned shared;
} kp_sizes;
int kp_spec_sizes(const kp_spec *s, kp_sizes *out, char *err, size_t errlen);
/* The buffer or parameter of that name: index, or -1. */
int kp_find_buffer(const kp_spec *s, const char *name);
int kp_find_param(const kp_spec *s, const char *name);
/* The tolerance an output of type t is compared with: s->tol, or the
 * default (f32 1e-4, f16 1e-2, bf16 2e-2, i32 0 = exact). */
double kp_tolerance(const kp_spec *s, kp_type t);

/* A CUDA kernel file's own rules (NVRTC compiles the rest): no inline
 * PTX, no device printf/assert/heap/launches, no directive but the kernel
 * header. Returns the number of kernel/cuda-forbidden and
 * kernel/preprocessor reports appended. */
int kp_check_cuda(const jit_source *src, aa_reports *reps);

/* The C source the C compiler sees: src with a trampoline appended,
 *   void asiarch_kernel_call(void *const *b, const long long *p)
 * that calls the entry with the buffers and parameters in its order.
 * malloc'd, or NULL. */
#define KP_TRAMPOLINE "asiarch_kernel_call"
char *kp_c_source(const kp_spec *s, const jit_source *src);

/* ---- the run (runner side: exec.c) --------------------------------------------------- */

/* A kernel ready to call: a C module's trampoline, or a CUDA source that
 * is compiled (NVRTC) and launched on gpu. */
struct gpu_dev;
typedef struct kp_program {
    const kp_spec *spec;
    void (*call)(void *const *bufs, const long long *params);   /* C: KP_TRAMPOLINE */
    struct gpu_dev *gpu;                                        /* CUDA */
    const char *file, *source;                                  /* CUDA: the file's name and text */
} kp_program;

/* The symbols a C kernel links against: asiarch_kernel.h's math, ak_sgemm,
 * and what the code generator emits (memcpy, memset, memmove). */
const jit_symbol *kp_symbols(int *n);

/* The text the GPU layer compiles in the runner (its modules take no
 * options): asiarch_kernel.h included, then the file under a #line naming
 * it. malloc'd, or NULL. */
char *kp_cuda_source(const char *file, const char *text);
/* The NVRTC options of a CUDA kernel file compiled on its own (check, ir):
 * the header pre-included, so NVRTC's lines are the file's. */
const char *const *kp_cuda_options(int *n);
/* Compile a CUDA kernel file with NVRTC: PTX for compute_<arch>, or a
 * cubin for sm_<arch>. 0, or -1 with nvrtc/error reports at the file's
 * line:col (or nvrtc/unavailable). */
int kp_cuda_compile(const jit_source *src, int arch, int cubin, jit_device_code *out, aa_reports *reps);

typedef struct kp_run_opts {
    int checked;                 /* guard pages around every buffer, inputs read-only */
    int bench;                   /* time repetitions after the correctness run */
    double warmup_ms, rep_ms;    /* do_bench's defaults: 25 and 100 */
    int min_reps, max_reps;
    uint64_t seed;
} kp_run_opts;
void kp_run_opts_default(kp_run_opts *o);

/* What one output of the kernel looked like against the reference. */
typedef struct kp_compare {
    char name[KP_NAME_MAX];
    int compared;                /* 0: no reference for it */
    double max_abs, max_rel;     /* over all elements; rel = |x-r| / max(|r|, tiny) */
    long long worst;             /* index of the element furthest outside the tolerance */
    double got, want;            /* the values there */
    long long bad;               /* elements outside atol + rtol |r| */
    long long nonfinite;         /* NaN or Inf in the kernel's output where the reference is finite */
    double tol;
} kp_compare;

typedef struct kp_timing {
    int reps;
    double median_s, min_s, p20_s, p80_s, mean_s;
} kp_timing;

/* What the supervisor sends the runner for a kernel job (beside the
 * sources and bitcode): the parameters after --set, and how to run. */
typedef struct kp_job {
    int32_t lang, ref_lang;     /* kp_lang of the kernel and of the reference */
    int32_t n_values;
    int64_t values[KP_MAX_PARAMS];   /* the kernel's @params, in declaration order */
    double tol;                      /* --tol; 0: the file's @tol or the default */
    kp_run_opts opts;
} kp_job;

typedef struct kp_outcome {
    int n_outputs;
    kp_compare outputs[KP_MAX_BUFFERS];
    int have_ref;
    int mismatch;                /* any output outside its tolerance */
    kp_timing kernel, ref;       /* reps 0: not timed */
    double first_call_s;         /* the correctness run's call */
    char device[96];             /* "cpu: AMD EPYC ..." / the GPU's name */
} kp_outcome;

/* Where each buffer lies, for naming an out-of-bounds access that trapped:
 * the supervisor receives these before the kernel runs. */
typedef struct kp_region {
    char name[KP_NAME_MAX];
    uint64_t lo, hi;             /* the buffer's bytes [lo, hi) */
    uint64_t guard_lo, guard_hi; /* the guards around it [guard_lo, lo) and [hi, guard_hi) */
    int32_t elem_size, role;
    char kernel[16];             /* "kernel" or "reference" */
} kp_region;

/* "x[1024] (1 element past the end of x, 1024 f32)" for a fault at addr,
 * or 0 when addr is in no guard. */
int kp_describe_fault(const kp_region *r, int n, uint64_t addr, char *out, size_t len);

/* Called before each call of a program in checked mode with its regions. */
typedef void (*kp_announce_fn)(void *ctx, const kp_region *r, int n);

/* The correctness run (against ref when given, whose parameters take the
 * kernel's values by name), then the timing when o->bench. 0 with out
 * filled, KP_OUT_OF_BOUNDS with err when a CUDA kernel wrote outside a
 * buffer (checked mode: canaries), or -1 with err (a failure of the harness
 * or the GPU, not a mismatch: that is out->mismatch). A C kernel's
 * out-of-bounds access faults instead (see kp_region). */
#define KP_OUT_OF_BOUNDS (-2)
int kp_run(const kp_program *k, kp_program *ref, const kp_run_opts *o, kp_announce_fn fn, void *ctx,
           kp_outcome *out, char *err, size_t errlen);

#endif /* ASIARCH_PROTO_H */
