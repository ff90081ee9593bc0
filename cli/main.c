/*
 * main.c — `asiarch`: dispatch to a subcommand. Every stage of the pipeline
 * is usable on its own from here (ARCHITECTURE §1).
 */
#include <string.h>

#include "cli.h"
#include "kernels.h"

#ifndef ASIARCH_VERSION
#define ASIARCH_VERSION "dev"
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"discover", cmd_discover, "run the discovery loop: propose, check, train, score, keep the lineage"},
    {"train", cmd_train, "train a mixer (a reference NAME) and print its metrics"},
    {"eval", cmd_eval, "evaluate a saved checkpoint on validation data"},
    {"data", cmd_data, "prepare training data (KJV Bible or a text file), inspect shards"},
    {"check", cmd_check, "check a candidate file against the DSL rules"},
    {"verify", cmd_verify, "check, compile, link, build and verify a candidate without training"},
    {"ir", cmd_ir, "print the graph IR (and LLVM IR) of a mixer, for auditing"},
    {"sandbox", cmd_sandbox, "run the sandbox's adversarial self-test on this kernel"},
    {"db", cmd_db, "read the lineage database: list, show, best, tree, export"},
    {"llm", cmd_llm, "try a language-model endpoint (llm chat); show the shipped prompts"},
    {"cognition", cmd_cognition, "search the design insights of the cognition base (BM25)"},
    {"report", cmd_report, "write the discovery database as one self-contained HTML page"},
    {"jit", cmd_jit, "prototype a kernel in C or CUDA: check, ir, run against a reference, time, sweep"},
    {"genome", cmd_genome, "the built-in proposer's grammar: random, render and mutate genomes"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: asiarch <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`asiarch <command> --help` describes each command. `asiarch --version` prints the version.\n");
}

int main(int argc, char **argv)
{
    k_cpu_adopt(argv);   /* the BLAS kernels and threads this CPU calls for; may re-execute once */
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("asiarch %s\n", ASIARCH_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    cli_error(argv[1], "unknown command (try `asiarch --help`)");
    return EXIT_USAGE;
}
