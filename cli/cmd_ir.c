/*
 * cmd_ir.c — `asiarch ir NAME [--graph] [--scale S]`: build the model around
 * a mixer and print its architecture graph for auditing: every op with its
 * inputs, shape, source line and FLOPs, plus parameter count and the
 * structural hash.
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
            "usage: asiarch ir NAME [--graph] [--scale S] [--batch B] [--time T]\n\n"
            "Build the model around the mixer NAME and print its graph IR: one line per op with\n"
            "inputs, attributes, shape, layer, source line and FLOPs; then parameters and hash.\n\n"
            "options:\n"
            "  --graph       print the graph (the default; --summary prints only the header)\n"
            "  --summary     only parameter count, FLOPs and structural hash\n"
            "  --scale S     tiny | small | 20m (default tiny)\n"
            "  --batch B     build for batch size B (default: the scale's)\n"
            "  --time T      build for sequence length T (default: the scale's)\n");
}

int cmd_ir(int argc, char **argv)
{
    static const struct option opts[] = {{"graph", no_argument, 0, 'g'}, {"summary", no_argument, 0, 's'},
                                         {"scale", required_argument, 0, 'S'}, {"batch", required_argument, 0, 'b'},
                                         {"time", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *scale = "tiny";
    int summary = 0, batch = 0, time = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g': summary = 0; break;
        case 's': summary = 1; break;
        case 'S': scale = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': time = atoi(optarg); break;
        case 'h': ir_usage(stdout); return EXIT_OK;
        default: cli_error("ir", "unknown or incomplete option '%s' (see `asiarch ir --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("ir", "missing NAME (one of `asiarch train --list`)");
        return EXIT_USAGE;
    }
    const arch_ref *ref = arch_find(argv[optind]);
    if (!ref) {
        cli_error("ir", "unknown mixer '%s' (see `asiarch train --list`)", argv[optind]);
        return EXIT_USAGE;
    }
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
    ir_graph *g = rt_build(&cfg.dims, ref->mixer, ref->file, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAILED;
    }
    if (summary)
        printf("%s: %ld parameters, %.4g FLOP forward, structural hash %016llx\n", ref->name, ir_param_count(g),
               ir_flops_forward(g), (unsigned long long)ir_structural_hash(g));
    else
        ir_print(g, stdout);
    ir_graph_free(g);
    return EXIT_OK;
}
