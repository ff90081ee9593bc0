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

/* ir_resolver over a loaded module: custom pointwise functions by name. */
static void *lookup_symbol(void *ctx, const char *name) { return jit_lookup(ctx, name); }

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
                        .resolve = lookup_symbol, .resolve_ctx = c->module};
    return EXIT_OK;
}

void cli_close_candidate(cli_candidate *c)
{
    if (c->module) jit_unload(c->module);
    jit_bitcode_free(&c->bitcode);
    jit_source_free(&c->src);
    memset(c, 0, sizeof *c);
}

int cli_verify_candidate(const rt_config *cfg, const cli_candidate *c, const rt_verify_opts *o, int json,
                         rt_verify_info *info)
{
    aa_reports reps = {0};
    int bad = rt_verify(cfg, &c->arch, o, &reps, info);
    for (int i = 0; i < reps.n; i++) aa_report_snippet(&reps.items[i], c->src.text, c->src.len);
    if (bad) cli_print_reports(&reps, json, reps.n ? reps.items[0].stage : "verify");
    aa_reports_free(&reps);
    return bad;
}
