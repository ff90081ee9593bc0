/*
 * runner_main.c — asiarch-runner: the only process that calls candidate code.
 *
 * Started by the supervisor (supervisor.c) with the fd layout of
 * sb_internal.h. In order: read the job; isolate (single-threaded: drop
 * root, namespaces); read the data; load the candidate into LLJIT and
 * resolve every symbol; start the thread pool; lock down (chroot, empty
 * environment, reporters, no_new_privs, seccomp on all threads); tell the
 * supervisor; only then run the job. Everything after lock-down reaches the
 * supervisor as messages on fd 3; a violation or fault as one record on
 * fd 4. Exit is _exit: no atexit handlers run after lock-down.
 */
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "gpu.h"
#include "sb_internal.h"

typedef struct runner {
    sb_wire_job *job;
    const char *source_text, *bitcode, *syscalls;
    jit_source src;
    jit_module *module;
    rt_arch arch;
    dt_tokens train, val;
    FILE *save;
    aa_reports reports;
    sb_attack_result attack;
    sb_attack_ctx attack_ctx;
    gpu_dev *gpu;
    /* KERNEL: the kernel file and its reference */
    struct kernel_side {
        const char *text, *bitcode;
        size_t text_len, bitcode_len;
        jit_source src;
        kp_spec spec;
        jit_module *module;
        char *cuda_source;
        kp_program prog;
    } kern, ref;
} runner;

static void send_reports(runner *r)
{
    for (int i = 0; i < r->reports.n; i++)
        if (r->src.text && r->reports.items[i].line > 0 && !r->reports.items[i].snippet[0])
            aa_report_snippet(&r->reports.items[i], r->src.text, r->src.len);
    int n = r->reports.n < SB_MAX_REPORTS ? r->reports.n : SB_MAX_REPORTS;
    sb_send(SB_FD_CHANNEL, SB_MSG_REPORTS, r->reports.items, sizeof(aa_report) * (size_t)n);
}

static _Noreturn void finish(runner *r, int code)
{
    if (r->reports.n) send_reports(r);
    sb_send(SB_FD_CHANNEL, SB_MSG_DONE, NULL, 0);
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

static _Noreturn void fail_setup(runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fail_setup(runner *r, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    aa_report_add(&r->reports, "sandbox", "asiarch-runner", 0, 0, "sandbox/setup", "%s", msg);
    finish(r, 3);
}

/* ---- before lock-down ------------------------------------------------------------ */

static void read_job(runner *r)
{
    uint32_t type;
    void *body;
    size_t len;
    if (sb_recv(SB_FD_CHANNEL, &type, &body, &len, SB_MAX_MESSAGE) < 0 || type != SB_MSG_JOB)
        fail_setup(r, "no job from the supervisor (%s)", strerror(errno));
    sb_wire_job *j = body;
    if (len < sizeof *j || j->magic != SB_WIRE_MAGIC || j->job_size != sizeof *j ||
        j->config_size != sizeof(rt_config) || j->report_size != sizeof(aa_report) ||
        len != sizeof *j + j->source_len + j->bitcode_len + j->syscalls_len + j->ref_source_len + j->ref_bitcode_len)
        fail_setup(r, "the job does not match this runner (a runner from another build of asiarch?)");
    r->job = j;
    r->source_text = (const char *)body + sizeof *j;
    r->bitcode = r->source_text + j->source_len;
    r->syscalls = r->bitcode + j->bitcode_len;
    r->kern = (struct kernel_side){.text = r->source_text, .text_len = j->source_len, .bitcode = r->bitcode,
                                   .bitcode_len = j->bitcode_len};
    r->ref.text = r->syscalls + j->syscalls_len;
    r->ref.text_len = j->ref_source_len;
    r->ref.bitcode = r->ref.text + j->ref_source_len;
    r->ref.bitcode_len = j->ref_bitcode_len;
}

static void read_data(runner *r)
{
    if (!r->job->has_train) return;
    char err[512];
    if (dt_shard_read_fd(SB_FD_TRAIN, "train.bin", &r->train, err, sizeof err) < 0 ||
        dt_shard_read_fd(SB_FD_VAL, "val.bin", &r->val, err, sizeof err) < 0)
        fail_setup(r, "%s", err);
    close(SB_FD_TRAIN);
    close(SB_FD_VAL);
}

static void open_save(runner *r)
{
    if (!r->job->has_save && !r->job->has_checkpoint) return;
    r->save = fdopen(SB_FD_SAVE, r->job->has_save ? "wb" : "rb");
    /* A buffer of our own now: stdio would otherwise allocate one, and ask
     * fstat for its size, on the first write after lock-down. */
    static char buf[1 << 20];
    if (!r->save || setvbuf(r->save, buf, _IOFBF, sizeof buf) != 0)
        fail_setup(r, "cannot use the checkpoint file: %s", strerror(errno));
}

/* The mixer: a reference, or the candidate's bitcode loaded and linked now,
 * which maps all of its executable memory. */
/* One side of a kernel job: its declaration read again (the same parser
 * as the supervisor's), and a C module loaded and linked now. */
static void load_kernel_side(runner *r, struct kernel_side *k, const char *path, kp_lang lang)
{
    char *text = strndup(k->text, k->text_len);
    if (!text || jit_source_from_string(path, text, &k->src) < 0) fail_setup(r, "out of memory");
    free(text);
    if (kp_spec_parse(&k->src, lang, &k->spec, &r->reports) != 0) finish(r, 0);
    k->prog.spec = &k->spec;
    if (lang == KP_CUDA) {
        k->cuda_source = kp_cuda_source(k->src.path, k->src.text);
        if (!k->cuda_source) fail_setup(r, "out of memory");
        k->prog.file = k->src.path;
        k->prog.source = k->cuda_source;
        return;
    }
    int n;
    const jit_symbol *syms = kp_symbols(&n);
    jit_bitcode bc = {.data = (unsigned char *)k->bitcode, .len = k->bitcode_len};
    k->module = jit_load_kernel(&bc, &k->src, syms, n, KP_TRAMPOLINE, &r->reports);
    if (!k->module) finish(r, 0);
    for (int i = 0; jit_function_name(k->module, i); i++) {
        const char *name = jit_function_name(k->module, i);
        if (strcmp(name, KP_TRAMPOLINE)) sb_note_candidate_function(name, jit_lookup(k->module, name));
    }
    k->prog.call = (void (*)(void *const *, const long long *))(uintptr_t)jit_entry(k->module);
}

static void load_kernels(runner *r)
{
    const sb_wire_job *j = r->job;
    load_kernel_side(r, &r->kern, j->source_path, (kp_lang)j->kernel.lang);
    if (j->kernel.n_values != r->kern.spec.n_params) fail_setup(r, "the kernel's parameters changed under the job");
    for (int i = 0; i < j->kernel.n_values; i++) r->kern.spec.params[i].value = j->kernel.values[i];
    if (j->kernel.tol > 0) r->kern.spec.tol = j->kernel.tol;
    if (j->ref_source_len) load_kernel_side(r, &r->ref, r->kern.spec.ref[0] ? r->kern.spec.ref : "reference", (kp_lang)j->kernel.ref_lang);
}

static void load_mixer(runner *r)
{
    const sb_wire_job *j = r->job;
    if (j->kind == SB_JOB_ATTACK || j->kind == SB_JOB_SYSCALLS) return;
    if (j->kind == SB_JOB_KERNEL) {
        load_kernels(r);
        return;
    }
    if (!j->bitcode_len) {
        const arch_ref *ref = arch_find(j->reference);
        if (!ref) fail_setup(r, "unknown reference mixer '%.64s'", j->reference);
        r->arch = (rt_arch){.name = ref->name, .source_file = ref->file, .mixer = ref->mixer};
        return;
    }
    char *text = strndup(r->source_text, j->source_len);   /* the payload is not NUL-terminated */
    if (!text || jit_source_from_string(j->source_path, text, &r->src) < 0) fail_setup(r, "out of memory");
    free(text);
    jit_bitcode bc = {.data = (unsigned char *)r->bitcode, .len = j->bitcode_len};
    r->module = jit_load(&bc, &r->src, &r->reports);
    if (!r->module) finish(r, 0);
    for (int i = 0; jit_function_name(r->module, i); i++) {
        const char *name = jit_function_name(r->module, i);
        sb_note_candidate_function(name, jit_lookup(r->module, name));
    }
    r->arch = (rt_arch){.name = jit_name(r->module), .source_file = r->src.path, .mixer = jit_mixer(r->module),
                        .resolve = jit_resolve_scalar, .resolve_ctx = r->module, .source_text = r->src.text};
}

/* --device cuda: the driver opens /dev/nvidia* and maps its memory now,
 * before lock-down, and every built-in kernel module is loaded; the CUDA
 * variant of the filter then allows only what the driver does on those
 * fds. Models made from here on train on the GPU. */
static void open_gpu(runner *r)
{
    if (!r->job->cuda) return;
    tzset();   /* TZ (SB_RUNNER_TZ, from the supervisor) is read now, and stays: see sb_lockdown */
    char why[600];
    gpu_open_opts o = {.precision = (gpu_precision)r->job->gpu_precision,
                       .deterministic = r->job->gpu_deterministic};
    r->gpu = gpu_open(&o, why, sizeof why);
    if (!r->gpu) fail_setup(r, "--device cuda: %s", why);
    if (gpu_preload(r->gpu) < 0) fail_setup(r, "--device cuda: preparing the kernels: %s", gpu_error(r->gpu));
    rt_set_device(r->gpu);
}

static void start_threads(const sb_wire_job *j)
{
    if (j->threads > 0) omp_set_num_threads(j->threads);
    volatile int sink = 0;
#pragma omp parallel
    {
        sink += omp_get_thread_num();
    }
    (void)sink;
}

/* ---- after lock-down: the jobs ---------------------------------------------------------- */

static void progress(void *ctx, int step, int steps, float loss, double tps, double eta)
{
    (void)ctx;
    sb_wire_progress p = {step, steps, loss, tps, eta};
    sb_send(SB_FD_CHANNEL, SB_MSG_PROGRESS, &p, sizeof p);
}

static void send_graph(runner *r, ir_graph *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    if (r->job->ir_summary)
        fprintf(f, "%s: %ld parameters, %.4g FLOP forward, structural hash %016llx\n", r->arch.name,
                ir_param_count(g), ir_flops_forward(g), (unsigned long long)ir_structural_hash(g));
    else
        ir_print(g, f);
    fclose(f);
    sb_send(SB_FD_CHANNEL, SB_MSG_TEXT, text, len);
    free(text);
}

static int verify(runner *r)
{
    rt_verify_info info;
    int bad = rt_verify(&r->job->cfg, &r->arch, &r->job->verify_opts, &r->reports, &info);
    sb_send(SB_FD_CHANNEL, SB_MSG_VERIFY_INFO, &info, sizeof info);
    return bad;
}

/* A verify job also returns the graph IR: novelty compares op structures. */
static void run_verify(runner *r)
{
    if (verify(r)) return;
    ir_graph *g = rt_build_reporting(&r->job->cfg.dims, &r->arch, &r->reports);
    if (!g) return;
    send_graph(r, g);
    ir_graph_free(g);
}

/* How hard a trained (or loaded) model is checked: the job's options, with
 * at least RT_FLOW_ROUNDS_AFTER causality passes. */
static rt_verify_opts trained_checks(const sb_wire_job *j)
{
    rt_verify_opts o = j->verify_opts;
    if (o.flow_rounds < RT_FLOW_ROUNDS_AFTER) o.flow_rounds = RT_FLOW_ROUNDS_AFTER;
    return o;
}

/* A failed run: the verification reports it made, else err as stage/rule. */
static void run_failed(runner *r, int reports_before, const char *stage, const char *rule, const char *err)
{
    if (r->reports.n == reports_before) aa_report_add(&r->reports, stage, r->arch.source_file, 0, 0, rule, "%s", err);
}

static void run_train(runner *r)
{
    const sb_wire_job *j = r->job;
    if (j->verify && r->module && verify(r)) return;
    rt_verify_opts checks = trained_checks(j);
    rt_train_io io = {.train = &r->train, .val = &r->val, .progress = progress, .save_file = j->has_save ? r->save : NULL,
                      .profile = j->profile_ops ? stderr : NULL, .verify = &checks, .reports = &r->reports};
    rt_metrics m;
    char err[512];
    int before = r->reports.n;
    if (rt_train(&j->cfg, &r->arch, &io, &m, err, sizeof err) < 0) {
        run_failed(r, before, "train", "train/error", err);
        return;
    }
    sb_send(SB_FD_CHANNEL, SB_MSG_METRICS, &m, sizeof m);
    if (m.diverged)
        aa_report_add(&r->reports, "train", r->arch.source_file, 0, 0, "train/nan",
                      "the training loss became NaN or infinite at step %d of %d (learning rate %g); training "
                      "stopped. Look for exp or division of unbounded values, missing normalisation, or gates "
                      "outside log space",
                      m.steps + 1, j->cfg.steps, (double)j->cfg.lr);
}

static void run_eval(runner *r)
{
    rt_metrics m;
    char err[512];
    rt_verify_opts checks = trained_checks(r->job);
    rt_train_io io = {.val = &r->val, .verify = &checks, .reports = &r->reports};
    int before = r->reports.n;
    if (rt_evaluate_stream(&r->job->cfg, &r->arch, r->save, r->job->checkpoint_name, &io, &m, err, sizeof err) < 0) {
        run_failed(r, before, "train", "eval/error", err);
        return;
    }
    sb_send(SB_FD_CHANNEL, SB_MSG_METRICS, &m, sizeof m);
}

static void run_ir(runner *r)
{
    ir_graph *g = rt_build_reporting(&r->job->cfg.dims, &r->arch, &r->reports);
    if (!g) return;
    send_graph(r, g);
    ir_graph_free(g);
}

static void send_regions(void *ctx, const kp_region *regions, int n)
{
    (void)ctx;
    sb_send(SB_FD_CHANNEL, SB_MSG_REGIONS, regions, sizeof *regions * (size_t)n);
}

static void run_kernel(runner *r)
{
    r->kern.prog.gpu = r->ref.prog.gpu = r->gpu;
    kp_outcome out;
    char err[600];
    kp_program *ref = r->job->ref_source_len ? &r->ref.prog : NULL;
    int rc = kp_run(&r->kern.prog, ref, &r->job->kernel.opts, send_regions, NULL, &out, err, sizeof err);
    if (rc < 0) {
        aa_report_add(&r->reports, "run", r->kern.src.path, 0, 0, rc == KP_OUT_OF_BOUNDS ? "jit/out-of-bounds" : "jit/run",
                      "%s", err);
        return;
    }
    if (r->gpu) snprintf(out.device, sizeof out.device, "%s", gpu_name(r->gpu));
    sb_send(SB_FD_CHANNEL, SB_MSG_KERNEL, &out, sizeof out);
}

static void run_attack(runner *r, int index)
{
    sb_attack_run(index)(&r->attack_ctx);
    sb_send(SB_FD_CHANNEL, SB_MSG_ATTACK, &r->attack, sizeof r->attack);
}

int main(void)
{
    static runner r;
    read_job(&r);
    sb_isolation iso;
    sb_isolate_early(r.job, &iso);
    read_data(&r);
    open_save(&r);
    load_mixer(&r);
    int attack = -1;
    if (r.job->kind == SB_JOB_ATTACK) {
        attack = sb_attack_index(r.job->attack);
        if (attack < 0) fail_setup(&r, "unknown adversarial program '%.64s'", r.job->attack);
        r.attack_ctx = (sb_attack_ctx){.supervisor_pid = r.job->supervisor_pid, .canary_dir = r.job->canary_dir,
                                       .result = &r.attack};
        if (sb_attack_prepare(attack)) sb_attack_prepare(attack)(&r.attack_ctx);
    }
    start_threads(r.job);
    open_gpu(&r);
    char err[600];
    if (sb_lockdown(r.job, &iso, err, sizeof err) < 0) fail_setup(&r, "lock-down failed: %s", err);
    sb_wire_locked locked;
    snprintf(locked.applied, sizeof locked.applied, "%s", iso.applied);
    sb_send(SB_FD_CHANNEL, SB_MSG_LOCKED, &locked, sizeof locked);

    switch (r.job->kind) {
    case SB_JOB_TRAIN: run_train(&r); break;
    case SB_JOB_VERIFY: run_verify(&r); break;
    case SB_JOB_IR: run_ir(&r); break;
    case SB_JOB_EVAL: run_eval(&r); break;
    case SB_JOB_ATTACK: run_attack(&r, attack); break;
    case SB_JOB_KERNEL: run_kernel(&r); break;
    case SB_JOB_SYSCALLS: sb_run_syscalls((const unsigned char *)r.syscalls, r.job->syscalls_len); break;
    default: fail_setup(&r, "unknown job kind %d", r.job->kind);
    }
    finish(&r, 0);
}
