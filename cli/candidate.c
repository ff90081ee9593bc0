/*
 * candidate.c — turn a command's NAME-or-FILE argument into a mixer.
 *
 * A name from `asiarch train --list` is a reference linked into the binary.
 * Anything else is a candidate source file, taken through the front end:
 * check (DSL rules) -> compile (clang, cached) -> link (LLJIT with the DSL
 * allow-list). A failure at any stage is printed in the one report format
 * (or as JSON) and the command exits 1.
 */
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cli.h"
#include "gpu.h"
#include "jit.h"

void cli_print_reports(const aa_reports *reps, int json, const char *stage)
{
    if (json) {
        char *arr = aa_reports_json(reps);
        printf("{\"status\":\"failed\",\"stage\":\"%s\",\"reports\":%s}\n", stage, arr ? arr : "[]");
        free(arr);
        return;
    }
    for (int i = 0; i < reps->n; i++) aa_report_print(&reps->items[i], stderr);
}

static int is_reference(const char *arg) { return arch_find(arg) != NULL; }

int cli_open_candidate(const char *cmd, const char *arg, const cli_front_opts *o, cli_candidate *c)
{
    memset(c, 0, sizeof *c);
    if (is_reference(arg)) {
        const arch_ref *ref = arch_find(arg);
        c->arch = (rt_arch){.name = ref->name, .source_file = ref->file, .mixer = ref->mixer};
        return EXIT_OK;
    }
    aa_reports reps = {0};
    const char *stage = "check";
    if (jit_source_read(arg, &c->src, &reps) < 0) {
        cli_print_reports(&reps, o->json, stage);
        aa_reports_free(&reps);
        if (!strchr(arg, '/') && !strstr(arg, ".c"))
            cli_error(cmd, "'%s' is neither a reference mixer (see `asiarch train --list`) nor a readable file", arg);
        return EXIT_USAGE;
    }
    int rc = jit_check(&c->src, &reps);
    if (rc == 0) {
        stage = "compile";
        jit_compile_opts co;
        jit_compile_defaults(&co);
        co.use_cache = !o->no_cache;
        rc = jit_compile(&c->src, &co, &c->bitcode, &reps) < 0 ? 1 : 0;
    }
    if (rc == 0 && !o->load) {
        aa_reports_free(&reps);
        c->arch = (rt_arch){.name = c->src.path, .source_file = c->src.path};
        return EXIT_OK;
    }
    if (rc == 0) {
        stage = "link";
        c->module = jit_load(&c->bitcode, &c->src, &reps);
        rc = c->module ? 0 : 1;
    }
    if (rc != 0) {
        cli_print_reports(&reps, o->json, stage);
        aa_reports_free(&reps);
        cli_close_candidate(c);
        return EXIT_FAILED;
    }
    aa_reports_free(&reps);
    c->arch = (rt_arch){.name = jit_name(c->module), .source_file = c->src.path, .mixer = jit_mixer(c->module),
                        .resolve = jit_resolve_scalar, .resolve_ctx = c->module, .source_text = c->src.text};
    return EXIT_OK;
}

void cli_close_candidate(cli_candidate *c)
{
    if (c->module) jit_unload(c->module);
    jit_bitcode_free(&c->bitcode);
    jit_source_free(&c->src);
    memset(c, 0, sizeof *c);
}

void cli_sandbox_defaults(cli_sandbox_opts *so)
{
    memset(so, 0, sizeof *so);
    so->profile = SB_PROFILE_STRICT;
}

int cli_sandbox_option(const char *cmd, int c, const char *arg, cli_sandbox_opts *so)
{
    char *end;
    switch (c) {
    case CLI_OPT_SANDBOX:
        if (sb_profile_parse(arg, &so->profile) == 0) return 1;
        cli_error(cmd, "--sandbox expects strict, permissive or off, got '%s'", arg);
        return -1;
    case CLI_OPT_TIME_LIMIT:
        so->time_limit_s = strtod(arg, &end);
        if (!*end && so->time_limit_s > 0) return 1;
        cli_error(cmd, "--time-limit expects seconds > 0, got '%s'", arg);
        return -1;
    case CLI_OPT_MEMORY_LIMIT:
        so->memory_gib = strtod(arg, &end);
        if (!*end && so->memory_gib >= 0.25) return 1;
        cli_error(cmd, "--memory-limit expects GiB >= 0.25, got '%s'", arg);
        return -1;
    case CLI_OPT_DEVICE:
        if (strcmp(arg, "cpu") == 0 || strcmp(arg, "cuda") == 0) {
            so->cuda = strcmp(arg, "cuda") == 0;
            return 1;
        }
        cli_error(cmd, "--device expects cpu or cuda, got '%s'", arg);
        return -1;
    case CLI_OPT_PRECISION: {
        gpu_precision p;
        if (gpu_precision_parse(arg, &p) == 0) {
            so->precision = (int)p;
            return 1;
        }
        cli_error(cmd, "--precision expects fp32, tf32 or bf16, got '%s'", arg);
        return -1;
    }
    case CLI_OPT_DETERMINISTIC: so->deterministic = 1; return 1;
    default: return 0;
    }
}

int cli_check_device(const char *cmd, const cli_sandbox_opts *so)
{
    if (!so->cuda) {
        if (so->precision != GPU_FP32 || so->deterministic)
            cli_error(cmd, "note: --precision and --deterministic apply to --device cuda only");
        return EXIT_OK;
    }
    char why[1024];
    if (gpu_probe(why, sizeof why) == 0 && jit_nvrtc_load(why, sizeof why) == 0) return EXIT_OK;
    cli_error(cmd, "--device cuda cannot run here: %s", why);
    return EXIT_USAGE;
}

void cli_sandbox_job(const cli_candidate *c, const cli_sandbox_opts *so, sb_job_kind kind, sb_job *job)
{
    sb_job_init(job, kind);
    job->profile = so->profile;
    job->cuda = so->cuda;
    job->gpu_precision = so->precision;
    job->gpu_deterministic = so->deterministic;
    job->limits.wall_s = so->time_limit_s;
    if (so->memory_gib > 0) job->limits.address_space = (size_t)(so->memory_gib * (double)(1ull << 30));
    if (c->bitcode.data) {
        job->source = &c->src;
        job->bitcode = &c->bitcode;
    } else {
        job->reference = c->arch.name;
    }
}

int cli_run_job(const char *cmd, const sb_job *job, const cli_candidate *c, int json, sb_result *res)
{
    sb_run(job, res);
    if (res->outcome == SB_DONE) return EXIT_OK;
    for (int i = 0; i < res->reports.n; i++)
        if (c->src.text && !res->reports.items[i].snippet[0])
            aa_report_snippet(&res->reports.items[i], c->src.text, c->src.len);
    cli_print_reports(&res->reports, json, res->reports.n ? res->reports.items[0].stage : "sandbox");
    if (res->outcome == SB_SETUP && !json)
        cli_error(cmd, "the sandbox could not be set up; nothing was run");
    return EXIT_FAILED;
}
