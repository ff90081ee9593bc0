/*
 * cmd_jit.c — `asiarch jit`: the pipeline's JIT and sandbox for prototyping
 * one kernel in C or CUDA, without a host program or a build file.
 *
 *   jit check FILE      the declaration and the kernel rules
 *   jit ir FILE         LLVM IR, assembly (C); PTX, SASS (CUDA)
 *   jit run FILE        run on generated inputs in the sandbox, compare with
 *                       a reference, time
 *   jit sweep FILE      the same over sizes (jit_sweep.c)
 *
 * A C file goes through the mixer's own front end with the kernel rules
 * (jit_check_kernel), clang with the kernel header, and an LLJIT that
 * links only asiarch_kernel.h's functions; a CUDA file through its rules
 * (kp_check_cuda) and NVRTC. Either runs only in the sandboxed runner.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gpu.h"
#include "jit_cmd.h"

static void jit_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch jit check FILE [--json]\n"
            "       asiarch jit ir FILE [--llvm | --asm | --ptx | --sass] [--arch N]\n"
            "       asiarch jit run FILE [--set NAME=VALUE ...] [--ref REF] [--tol T] [--bench] [--json]\n"
            "       asiarch jit sweep FILE --set NAME=V1,V2,... [--ref REF] [--csv F] [--svg F] [--json]\n\n"
            "Prototype one kernel, in C (FILE.c: clang, then the JIT) or CUDA (FILE.cu: NVRTC), declared in a\n"
            "comment of the file (@kernel, @param, @in, @out, @inout, @bytes, @flops, @tol, @ref; CUDA:\n"
            "@grid, @block, @shared; see the README). It runs only in the sandboxed runner.\n\n"
            "options (run, sweep):\n"
            "  --set NAME=V    a @param's value (an expression of the others); sweep: V1,V2,... for one NAME\n"
            "  --ref REF       the reference kernel file (default: the file's @ref); its outputs of the same\n"
            "                  names are compared, element by element, |x - r| <= tol (1 + |r|)\n"
            "  --tol T         the tolerance (default: @tol, else 1e-4 f32, 1e-2 f16, 2e-2 bf16, exact i32)\n"
            "  --bench         time it (run; sweep always does): warm-up, then repetitions; median, min,\n"
            "                  spread, and GB/s and GFLOP/s where @bytes and @flops are declared\n"
            "  --warmup MS     warm-up time (default 25)      --rep MS   timed time (default 100)\n"
            "  --seed S        seed of the generated inputs (default 1)\n"
            "  --unchecked     no guard pages around the buffers (default: checked, for C kernels)\n"
            "  --no-cache      compile without the bitcode cache\n"
            "  --json          one JSON object on stdout\n"
            "  --csv F, --svg F  (sweep) the table as CSV, the plot of time against size as SVG\n"
            "  --llvm --asm    (ir, C) the LLVM IR; the machine code for this CPU\n"
            "  --ptx --sass    (ir, CUDA) NVRTC's PTX; SASS through cuobjdump; --arch N (default 80)\n"
            "Exit status: 0 ok; 1 rejected, failed or an output outside its tolerance; 2 usage.\n"
            "Sandbox options (run, sweep):\n" CLI_SANDBOX_OPTIONS_HELP);
}

/* ---- the front end ---------------------------------------------------------------------------- */

void jit_close_kernel(kernel_file *k)
{
    jit_source_free(&k->src);
    jit_bitcode_free(&k->bitcode);
}

static int compile_c(kernel_file *k, int no_cache, aa_reports *reps)
{
    char *text = kp_c_source(&k->spec, &k->src);
    jit_source aug;
    if (!text || jit_source_from_string(k->src.path, text, &aug) < 0) {
        free(text);
        aa_report_add(reps, "compile", k->src.path, 0, 0, "compile/io", "out of memory");
        return -1;
    }
    free(text);
    jit_compile_opts co;
    jit_compile_defaults(&co);
    co.kernel = 1;
    co.use_cache = !no_cache;
    int rc = jit_compile(&aug, &co, &k->bitcode, reps);
    jit_source_free(&aug);
    return rc;
}

int jit_open_kernel(const char *cmd, const char *path, int json, int no_cache, kernel_file *k)
{
    memset(k, 0, sizeof *k);
    aa_reports reps = {0};
    if (jit_source_read(path, &k->src, &reps) < 0) {
        cli_print_reports(&reps, json, "check");
        aa_reports_free(&reps);
        return EXIT_USAGE;
    }
    kp_lang lang = kp_lang_of(path);
    int bad = kp_spec_parse(&k->src, lang, &k->spec, &reps);
    bad += lang == KP_CUDA ? kp_check_cuda(&k->src, &reps) : jit_check_kernel(&k->src, &reps);
    const char *stage = "check";
    if (!bad && lang == KP_C) {
        stage = "compile";
        bad = compile_c(k, no_cache, &reps) < 0;
    } else if (!bad && jit_nvrtc_load(NULL, 0) == 0) {
        /* NVRTC's errors now, at the file's lines (the GPU compiles it again, from the cache) */
        stage = "compile";
        jit_device_code code;
        bad = kp_cuda_compile(&k->src, 80, 0, &code, &reps) < 0;
        if (!bad) jit_device_code_free(&code);
    }
    if (bad) {
        cli_print_reports(&reps, json, stage);
        aa_reports_free(&reps);
        jit_close_kernel(k);
        return EXIT_FAILED;
    }
    aa_reports_free(&reps);
    (void)cmd;
    return EXIT_OK;
}

/* ---- jit check ---------------------------------------------------------------------------------- */

static void print_spec(const kp_spec *s)
{
    printf("%s: %s kernel, %d parameter%s:", s->entry, s->lang == KP_CUDA ? "CUDA" : "C", s->n_args,
           s->n_args == 1 ? "" : "s");
    for (int i = 0; i < s->n_args; i++) {
        const kp_arg *a = &s->args[i];
        if (a->buffer)
            printf(" %s%s %s[%s]", kp_role_name(s->bufs[a->index].role), "", s->bufs[a->index].name,
                   s->bufs[a->index].size.text);
        else
            printf(" %s=%lld", s->params[a->index].name, s->params[a->index].value);
    }
    printf("\n");
}

static int jit_check_cmd(int argc, char **argv)
{
    int json = 0, c;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'h') { jit_usage(stdout); return EXIT_OK; }
        else { cli_error("jit check", "unknown option '%s' (see `asiarch jit --help`)", argv[optind - 1]); return EXIT_USAGE; }
    }
    if (optind != argc - 1) { cli_error("jit check", "expected one kernel FILE"); return EXIT_USAGE; }
    kernel_file k;
    int rc = jit_open_kernel("jit check", argv[optind], json, 0, &k);
    if (rc != EXIT_OK) return rc;
    if (json) printf("{\"status\":\"ok\",\"file\":\"%s\",\"kernel\":\"%s\"}\n", k.src.path, k.spec.entry);
    else print_spec(&k.spec);
    jit_close_kernel(&k);
    return EXIT_OK;
}

/* ---- jit ir ------------------------------------------------------------------------------------- */

static int print_cuda_code(const kernel_file *k, int arch, int sass)
{
    jit_device_code code;
    aa_reports reps = {0};
    if (kp_cuda_compile(&k->src, arch, sass, &code, &reps) < 0) {
        cli_print_reports(&reps, 0, "compile");
        aa_reports_free(&reps);
        return EXIT_FAILED;
    }
    aa_reports_free(&reps);
    int rc = EXIT_OK;
    if (sass) rc = cli_print_sass("jit ir", &code);
    else fputs(code.data, stdout);
    jit_device_code_free(&code);
    return rc;
}

static int print_c_code(const kernel_file *k, int asm_text)
{
    aa_reports reps = {0};
    char *text = NULL;
    if (asm_text) {
        text = jit_bitcode_asm(&k->bitcode, &k->src, &reps);
    } else {
        int n;
        const jit_symbol *syms = kp_symbols(&n);
        jit_module *m = jit_load_kernel(&k->bitcode, &k->src, syms, n, KP_TRAMPOLINE, &reps);
        text = m ? jit_llvm_ir(m) : NULL;
        if (m) jit_unload(m);
    }
    if (!text) {
        cli_print_reports(&reps, 0, "link");
        aa_reports_free(&reps);
        return EXIT_FAILED;
    }
    aa_reports_free(&reps);
    fputs(text, stdout);
    free(text);
    return EXIT_OK;
}

static int jit_ir_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"llvm", no_argument, 0, 'l'}, {"asm", no_argument, 0, 'a'},
                                         {"ptx", no_argument, 0, 'p'},  {"sass", no_argument, 0, 's'},
                                         {"arch", required_argument, 0, 'A'}, {"no-cache", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int what = 0, no_cache = 0, c;
    long long arch = 80;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': case 'a': case 'p': case 's': what = c; break;
        case 'A': if (cli_parse_int("jit ir", "--arch", optarg, 50, 200, &arch) < 0) return EXIT_USAGE; break;
        case 'n': no_cache = 1; break;
        case 'h': jit_usage(stdout); return EXIT_OK;
        default: cli_error("jit ir", "unknown option '%s' (see `asiarch jit --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) { cli_error("jit ir", "expected one kernel FILE"); return EXIT_USAGE; }
    kp_lang lang = kp_lang_of(argv[optind]);
    if (!what) what = lang == KP_CUDA ? 'p' : 'l';
    if ((what == 'p' || what == 's') != (lang == KP_CUDA)) {
        cli_error("jit ir", "%s", lang == KP_CUDA ? "a CUDA file (.cu) has --ptx and --sass"
                                                   : "a C file has --llvm and --asm; --ptx and --sass are for .cu files");
        return EXIT_USAGE;
    }
    kernel_file k;
    int rc = jit_open_kernel("jit ir", argv[optind], 0, no_cache, &k);
    if (rc != EXIT_OK) return rc;
    rc = lang == KP_CUDA ? print_cuda_code(&k, (int)arch, what == 's') : print_c_code(&k, what == 'a');
    jit_close_kernel(&k);
    return rc;
}

/* ---- running ------------------------------------------------------------------------------------ */

void jit_cpu_name(char *out, size_t len)
{
    char line[512], model[256] = "an x86-64 CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(out, len, "cpu: %s (%ld thread%s)", model, n, n == 1 ? "" : "s");
}

const char *jit_ref_path(const kernel_file *k, const jit_run_opts *o, char *buf, size_t len)
{
    if (o->ref) return o->ref;
    if (!k->spec.ref[0]) return NULL;
    if (k->spec.ref[0] == '/') return k->spec.ref;
    const char *slash = strrchr(k->src.path, '/');
    snprintf(buf, len, "%.*s%s", slash ? (int)(slash - k->src.path + 1) : 0, k->src.path, k->spec.ref);
    return buf;
}

int jit_run_once(const char *cmd, const kernel_file *k, const kernel_file *ref, const jit_run_opts *o, sb_result *res)
{
    kp_job kj = {.lang = k->spec.lang, .ref_lang = ref ? ref->spec.lang : 0, .n_values = k->spec.n_params,
                 .tol = o->tol, .opts = o->run};
    for (int i = 0; i < k->spec.n_params; i++) kj.values[i] = k->spec.params[i].value;
    sb_job job;
    sb_job_init(&job, SB_JOB_KERNEL);
    job.profile = o->so.profile;
    job.cuda = o->so.cuda || k->spec.lang == KP_CUDA || (ref && ref->spec.lang == KP_CUDA);
    job.limits.wall_s = o->so.time_limit_s > 0 ? o->so.time_limit_s : 120;
    if (o->so.memory_gib > 0) job.limits.address_space = (size_t)(o->so.memory_gib * (double)(1ull << 30));
    job.source = &k->src;
    job.bitcode = k->bitcode.data ? &k->bitcode : NULL;
    job.kernel = &kj;
    if (ref) {
        job.ref_source = &ref->src;
        job.ref_bitcode = ref->bitcode.data ? &ref->bitcode : NULL;
    }
    cli_candidate shown = {.src = k->src};   /* for the reports' source lines */
    int rc = cli_run_job(cmd, &job, &shown, o->json, res);
    if (rc == EXIT_OK && !res->have_kernel) {
        cli_error(cmd, "the runner ended without a result");
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_OK && !job.cuda) jit_cpu_name(res->kernel.device, sizeof res->kernel.device);
    return rc;
}

static double rate(double amount, double seconds) { return amount >= 0 && seconds > 0 ? amount / seconds : -1; }

static cJSON *timing_json(const kp_timing *t, const kp_sizes *z)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "reps", t->reps);
    cJSON_AddNumberToObject(o, "median_s", t->median_s);
    cJSON_AddNumberToObject(o, "min_s", t->min_s);
    cJSON_AddNumberToObject(o, "p20_s", t->p20_s);
    cJSON_AddNumberToObject(o, "p80_s", t->p80_s);
    cJSON_AddNumberToObject(o, "mean_s", t->mean_s);
    if (z->bytes >= 0) cJSON_AddNumberToObject(o, "gb_per_s", rate(z->bytes, t->median_s) * 1e-9);
    if (z->flops >= 0) cJSON_AddNumberToObject(o, "gflop_per_s", rate(z->flops, t->median_s) * 1e-9);
    return o;
}

static cJSON *outcome_json(const kernel_file *k, const char *ref_path, const kp_outcome *r, const kp_sizes *z)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", r->mismatch ? "mismatch" : "ok");
    cJSON_AddStringToObject(o, "file", k->src.path);
    cJSON_AddStringToObject(o, "kernel", k->spec.entry);
    cJSON_AddStringToObject(o, "device", r->device);
    if (ref_path) cJSON_AddStringToObject(o, "reference", ref_path);
    cJSON *params = cJSON_AddObjectToObject(o, "params");
    for (int i = 0; i < k->spec.n_params; i++) cJSON_AddNumberToObject(params, k->spec.params[i].name, (double)k->spec.params[i].value);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; i < r->n_outputs; i++) {
        const kp_compare *c = &r->outputs[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c->name);
        cJSON_AddBoolToObject(e, "compared", c->compared);
        if (c->compared) {
            cJSON_AddNumberToObject(e, "max_abs", c->max_abs);
            cJSON_AddNumberToObject(e, "max_rel", c->max_rel);
            cJSON_AddNumberToObject(e, "tol", c->tol);
            cJSON_AddNumberToObject(e, "bad", (double)c->bad);
            cJSON_AddNumberToObject(e, "nonfinite", (double)c->nonfinite);
            if (c->worst >= 0) {
                cJSON_AddNumberToObject(e, "worst_index", (double)c->worst);
                cJSON_AddNumberToObject(e, "worst_got", c->got);
                cJSON_AddNumberToObject(e, "worst_want", c->want);
            }
        }
        cJSON_AddItemToArray(outs, e);
    }
    cJSON_AddNumberToObject(o, "first_call_s", r->first_call_s);
    if (r->kernel.reps) cJSON_AddItemToObject(o, "timing", timing_json(&r->kernel, z));
    if (r->ref.reps) {
        cJSON_AddItemToObject(o, "reference_timing", timing_json(&r->ref, z));
        cJSON_AddNumberToObject(o, "speedup", r->ref.median_s / r->kernel.median_s);
    }
    return o;
}

static void print_time(double s, char *buf, size_t len)
{
    if (s < 1e-6) snprintf(buf, len, "%.1f ns", s * 1e9);
    else if (s < 1e-3) snprintf(buf, len, "%.2f us", s * 1e6);
    else if (s < 1) snprintf(buf, len, "%.3f ms", s * 1e3);
    else snprintf(buf, len, "%.3f s", s);
}

static void print_timing(const char *label, const kp_timing *t, const kp_sizes *z)
{
    char med[32], mn[32];
    print_time(t->median_s, med, sizeof med);
    print_time(t->min_s, mn, sizeof mn);
    printf("  %s: median %s, min %s, spread %.1f%% (p20..p80) over %d reps", label, med, mn,
           t->median_s > 0 ? 100 * (t->p80_s - t->p20_s) / t->median_s : 0, t->reps);
    if (z->bytes >= 0) printf("; %.2f GB/s", rate(z->bytes, t->median_s) * 1e-9);
    if (z->flops >= 0) printf("; %.2f GFLOP/s", rate(z->flops, t->median_s) * 1e-9);
    printf("\n");
}

static void print_outcome(const kernel_file *k, const char *ref_path, const kp_outcome *r, const kp_sizes *z)
{
    cli_out("%s (%s) on %s;", k->spec.entry, k->src.path, r->device);
    for (int i = 0; i < k->spec.n_params; i++) cli_out(" %s=%lld", k->spec.params[i].name, k->spec.params[i].value);
    cli_out("\n");
    for (int i = 0; i < r->n_outputs; i++) {
        const kp_compare *c = &r->outputs[i];
        if (!c->compared) {
            cli_out("  %s: %s\n", c->name, ref_path ? "not in the reference: not compared" : "no reference (--ref): not compared");
            continue;
        }
        cli_out("  %s: max abs err %.3g, max rel err %.3g (tol %g): %s", c->name, c->max_abs, c->max_rel, c->tol,
                c->bad || c->nonfinite ? "MISMATCH" : "ok");
        if (c->bad || c->nonfinite)
            cli_out(", %lld element%s outside the tolerance%s; worst %s[%lld] = %.9g, reference %.9g", c->bad,
                    c->bad == 1 ? "" : "s", c->nonfinite ? " (some NaN/Inf)" : "", c->name, c->worst, c->got, c->want);
        cli_out("\n");
    }
    if (r->kernel.reps) print_timing("time", &r->kernel, z);
    if (r->ref.reps) {
        print_timing("reference", &r->ref, z);
        printf("  speedup over the reference: %.2fx\n", r->ref.median_s / r->kernel.median_s);
    }
}

/* Options shared by run and sweep; 1 taken, 0 not ours, -1 bad. */
int jit_run_option(const char *cmd, int c, const char *arg, jit_run_opts *o)
{
    switch (c) {
    case 'S':
        if (o->n_sets == KP_MAX_PARAMS) { cli_error(cmd, "too many --set"); return -1; }
        o->sets[o->n_sets++] = arg;
        return 1;
    case 'r': o->ref = arg; return 1;
    case 't': return cli_parse_double(cmd, "--tol", arg, 0, 1, &o->tol) < 0 ? -1 : 1;
    case 'b': o->run.bench = 1; return 1;
    case 'j': o->json = 1; return 1;
    case 'u': o->run.checked = 0; return 1;
    case 'n': o->no_cache = 1; return 1;
    case 'w': return cli_parse_double(cmd, "--warmup", arg, 0, 60000, &o->run.warmup_ms) < 0 ? -1 : 1;
    case 'R': return cli_parse_double(cmd, "--rep", arg, 1, 600000, &o->run.rep_ms) < 0 ? -1 : 1;
    case 'e': {
        long long v;
        if (cli_parse_int(cmd, "--seed", arg, 0, INT64_MAX, &v) < 0) return -1;
        o->run.seed = (uint64_t)v;
        return 1;
    }
    default:
        return cli_sandbox_option(cmd, c, arg, &o->so);
    }
}

const struct option jit_run_long_options[] = {
    {"set", required_argument, 0, 'S'}, {"ref", required_argument, 0, 'r'}, {"tol", required_argument, 0, 't'},
    {"bench", no_argument, 0, 'b'}, {"json", no_argument, 0, 'j'}, {"unchecked", no_argument, 0, 'u'},
    {"no-cache", no_argument, 0, 'n'}, {"warmup", required_argument, 0, 'w'}, {"rep", required_argument, 0, 'R'},
    {"seed", required_argument, 0, 'e'}, {"csv", required_argument, 0, 'C'}, {"svg", required_argument, 0, 'G'},
    {"help", no_argument, 0, 'h'}, CLI_SANDBOX_LONG_OPTIONS, {0, 0, 0, 0}};

void jit_run_defaults(jit_run_opts *o)
{
    memset(o, 0, sizeof *o);
    kp_run_opts_default(&o->run);
    cli_sandbox_defaults(&o->so);
}

/* The kernel and its reference, opened; --tol applied. */
int jit_open_pair(const char *cmd, const char *path, const jit_run_opts *o, kernel_file *k, kernel_file *ref,
                  const char **ref_path, char *buf, size_t len)
{
    int rc = jit_open_kernel(cmd, path, o->json, o->no_cache, k);
    if (rc != EXIT_OK) return rc;
    if (o->tol > 0) k->spec.tol = o->tol;
    *ref_path = jit_ref_path(k, o, buf, len);
    if (*ref_path && (rc = jit_open_kernel(cmd, *ref_path, o->json, o->no_cache, ref)) != EXIT_OK) {
        jit_close_kernel(k);
        return rc;
    }
    if (o->so.cuda == 0 && (k->spec.lang == KP_CUDA || (*ref_path && ref->spec.lang == KP_CUDA))) {
        cli_sandbox_opts so = o->so;
        so.cuda = 1;
        if ((rc = cli_check_device(cmd, &so)) != EXIT_OK) {
            jit_close_kernel(k);
            if (*ref_path) jit_close_kernel(ref);
            return rc;
        }
    }
    return EXIT_OK;
}

static int jit_run_cmd(int argc, char **argv)
{
    jit_run_opts o;
    jit_run_defaults(&o);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", jit_run_long_options, NULL)) != -1) {
        if (c == 'h') { jit_usage(stdout); return EXIT_OK; }
        int taken = c == 'C' || c == 'G' ? 0 : jit_run_option("jit run", c, optarg, &o);
        if (taken < 0) return EXIT_USAGE;
        if (!taken) { cli_error("jit run", "unknown or incomplete option '%s' (see `asiarch jit --help`)", argv[optind - 1]); return EXIT_USAGE; }
    }
    if (optind != argc - 1) { cli_error("jit run", "expected one kernel FILE"); return EXIT_USAGE; }
    if (cli_check_device("jit run", &o.so) != EXIT_OK) return EXIT_USAGE;
    kernel_file k, ref;
    const char *ref_path;
    char buf[1024];
    int rc = jit_open_pair("jit run", argv[optind], &o, &k, &ref, &ref_path, buf, sizeof buf);
    if (rc != EXIT_OK) return rc;
    char err[300];
    kp_sizes z;
    for (int i = 0; i < o.n_sets && rc == EXIT_OK; i++)
        if (kp_spec_set(&k.spec, o.sets[i], err, sizeof err) < 0) { cli_error("jit run", "%s", err); rc = EXIT_USAGE; }
    if (rc == EXIT_OK && kp_spec_sizes(&k.spec, &z, err, sizeof err) < 0) { cli_error("jit run", "%s", err); rc = EXIT_USAGE; }
    if (rc == EXIT_OK) {
        sb_result res;
        rc = jit_run_once("jit run", &k, ref_path ? &ref : NULL, &o, &res);
        if (rc == EXIT_OK) {
            if (o.json) cli_print_json("jit run", outcome_json(&k, ref_path, &res.kernel, &z));
            else print_outcome(&k, ref_path, &res.kernel, &z);
            rc = res.kernel.mismatch ? EXIT_FAILED : EXIT_OK;
        }
        sb_result_free(&res);
    }
    jit_close_kernel(&k);
    if (ref_path) jit_close_kernel(&ref);
    return rc;
}

int cmd_jit(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        jit_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "check")) return jit_check_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ir")) return jit_ir_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run")) return jit_run_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sweep")) return jit_sweep(argc - 1, argv + 1);
    cli_error("jit", "unknown subcommand '%s': check, ir, run or sweep (see `asiarch jit --help`)", argv[1]);
    return EXIT_USAGE;
}
