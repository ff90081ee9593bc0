/*
 * cmd_ir.c — `asiarch ir NAME|FILE [--graph] [--llvm] [--all]`: what a mixer
 * really is, for auditing: the graph IR it builds (every op with inputs,
 * shape, source line and FLOPs, plus parameter count and structural hash)
 * and, for a candidate file, the LLVM IR that was loaded into the JIT.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cli.h"
#include "runtime.h"

static void ir_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch ir NAME|FILE [--graph] [--llvm] [--all] [--scale S] [--batch B] [--time T]\n\n"
            "Build the model around a mixer (a reference NAME or a candidate FILE, which is checked,\n"
            "compiled and linked first) and print its graph IR: one line per op with inputs,\n"
            "attributes, shape, layer, source line and FLOPs; then parameters and hash.\n\n"
            "options:\n"
            "  --graph       print the graph (the default)\n"
            "  --llvm        print the LLVM IR loaded into the JIT (FILE only)\n"
            "  --all         both\n"
            "  --no-cache    compile FILE without the bitcode cache\n"
            "  --summary     only parameter count, FLOPs and structural hash\n"
            "  --scale S     tiny | small | 20m (default tiny)\n"
            "  --batch B     build for batch size B (default: the scale's)\n"
            "  --time T      build for sequence length T (default: the scale's)\n"
            "The graph is built by calling the mixer, so it is built in a sandboxed runner:\n"
            CLI_SANDBOX_OPTIONS_HELP);
}

int cmd_ir(int argc, char **argv)
{
    static const struct option opts[] = {{"graph", no_argument, 0, 'g'}, {"summary", no_argument, 0, 's'},
                                         {"llvm", no_argument, 0, 'l'}, {"all", no_argument, 0, 'a'},
                                         {"no-cache", no_argument, 0, 'n'},
                                         {"scale", required_argument, 0, 'S'}, {"batch", required_argument, 0, 'b'},
                                         {"time", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                         CLI_SANDBOX_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_sandbox_opts so;
    cli_sandbox_defaults(&so);
    const char *scale = "tiny";
    int summary = 0, batch = 0, time = 0, graph = 0, llvm = 0, c;
    cli_front_opts fo = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g': graph = 1; break;
        case 'l': llvm = 1; break;
        case 'a': graph = llvm = 1; break;
        case 'n': fo.no_cache = 1; break;
        case 's': summary = 1; break;
        case 'S': scale = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': time = atoi(optarg); break;
        case 'h': ir_usage(stdout); return EXIT_OK;
        case CLI_OPT_SANDBOX: case CLI_OPT_TIME_LIMIT: case CLI_OPT_MEMORY_LIMIT:
            if (cli_sandbox_option("ir", c, optarg, &so) < 0) return EXIT_USAGE;
            break;
        default: cli_error("ir", "unknown or incomplete option '%s' (see `asiarch ir --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("ir", "missing NAME or FILE (a reference from `asiarch train --list`, or a candidate file)");
        return EXIT_USAGE;
    }
    if (!graph && !llvm) graph = 1;
    rt_config cfg;
    char err[512];
    if (rt_config_scale(scale, &cfg, err, sizeof err) < 0) {
        cli_error("ir", "%s", err);
        return EXIT_USAGE;
    }
    if (batch < 0 || time < 0 || batch > 4096 || time > 1 << 20) {
        cli_error("ir", "--batch and --time must be positive and reasonable");
        return EXIT_USAGE;
    }
    if (batch) cfg.dims.batch = batch;
    if (time) cfg.dims.time = time;
    cli_candidate cand;
    fo.load = llvm;   /* loading only compiles: no candidate code runs here */
    int rc = cli_open_candidate("ir", argv[optind], &fo, &cand);
    if (rc != EXIT_OK) return rc;
    if (llvm && !cand.bitcode.data) {
        cli_error("ir", "--llvm needs a candidate FILE: references are compiled into asiarch itself");
        cli_close_candidate(&cand);
        return EXIT_USAGE;
    }
    if (llvm) {
        char *text = jit_llvm_ir(cand.module);
        fputs(text ? text : "", stdout);
        free(text);
    }
    if (graph || summary) {
        sb_job job;
        cli_sandbox_job(&cand, &so, SB_JOB_IR, &job);
        job.cfg = cfg;
        job.ir_summary = summary;
        sb_result res;
        rc = cli_run_job("ir", &job, &cand, 0, &res);
        if (rc == EXIT_OK) fputs(res.text ? res.text : "", stdout);
        sb_result_free(&res);
    }
    cli_close_candidate(&cand);
    return rc;
}
