/*
 * cmd_sandbox.c — `asiarch sandbox selftest|list`: prove on this kernel that
 * the sandbox holds, before trusting it with a language model's code.
 *
 *   asiarch sandbox selftest [--profile strict|permissive] [--only NAME] [--json]
 *   asiarch sandbox list [--json]
 */
#include <cJSON.h>
#include <getopt.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli.h"
#include "gpu.h"
#include "sandbox.h"

static void sandbox_usage(FILE *out)
{
    fprintf(out,
            "usage: asiarch sandbox selftest [--profile strict|permissive] [--only NAME] [--json]\n"
            "       asiarch sandbox list [--json]\n\n"
            "selftest runs the adversarial suite (opening files, sockets, exec, fork, ptrace, executable\n"
            "memory, other syscall ABIs, kernel attack surface, resource bombs, ...) in locked-down runners\n"
            "on this kernel and prints, per program, how it was contained. Exit status 0 only when every\n"
            "program was contained; a kernel without seccomp is a failure, never a silent fallback.\n\n"
            "options:\n"
            "  --profile P   strict (default) or permissive\n"
            "  --cuda        open the GPU in each runner before lock-down, as --device cuda training\n"
            "                does, and use the CUDA variant of the filter (device ioctls and mmaps)\n"
            "  --only NAME   run one program (see `asiarch sandbox list`)\n"
            "  --json        one JSON object on stdout\n");
}

static int list_attacks(int json)
{
    int n;
    const sb_attack *a = sb_attacks(&n);
    if (!json) {
        for (int i = 0; i < n; i++) printf("%-26s %s\n", a[i].name, a[i].what);
        return EXIT_OK;
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", a[i].name);
        cJSON_AddStringToObject(o, "what", a[i].what);
        cJSON_AddItemToArray(arr, o);
    }
    return cli_print_json("sandbox", arr);
}

static int print_selftest(const sb_selftest_entry *e, int n, sb_profile p, const char *applied, int json)
{
    int contained = 0;
    for (int i = 0; i < n; i++) contained += e[i].contained;
    struct utsname u;
    char kernel[200] = "unknown";
    if (uname(&u) == 0) snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    if (json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "programs");
        cJSON_AddStringToObject(o, "profile", sb_profile_name(p));
        cJSON_AddStringToObject(o, "kernel", kernel);
        cJSON_AddStringToObject(o, "applied", applied);
        cJSON_AddNumberToObject(o, "contained", contained);
        cJSON_AddNumberToObject(o, "total", n);
        for (int i = 0; i < n; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "name", e[i].attack->name);
            cJSON_AddBoolToObject(x, "contained", e[i].contained);
            cJSON_AddStringToObject(x, "outcome", e[i].outcome);
            cJSON_AddNumberToObject(x, "ms", e[i].ms);
            cJSON_AddItemToArray(arr, x);
        }
        if (cli_print_json("sandbox", o) != EXIT_OK) return EXIT_FAILED;
    } else {
        for (int i = 0; i < n; i++)
            printf("%-26s %s  (%.0f ms)\n", e[i].attack->name, e[i].outcome, e[i].ms);
        printf("\n%d of %d programs contained under the %s profile on %s\n", contained, n, sb_profile_name(p), kernel);
        printf("runner: %s\n", applied[0] ? applied : "(no runner reached lock-down)");
    }
    return contained == n ? EXIT_OK : EXIT_FAILED;
}

static int selftest(int argc, char **argv)
{
    static const struct option opts[] = {{"profile", required_argument, 0, 'p'}, {"only", required_argument, 0, 'o'},
                                         {"json", no_argument, 0, 'j'},        {"cuda", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    sb_profile profile = SB_PROFILE_STRICT;
    const char *only = NULL;
    int json = 0, cuda = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (sb_profile_parse(optarg, &profile) < 0) {
                cli_error("sandbox", "--profile expects strict or permissive, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': only = optarg; break;
        case 'j': json = 1; break;
        case 'c': cuda = 1; break;
        case 'h': sandbox_usage(stdout); return EXIT_OK;
        default: cli_error("sandbox", "unknown or incomplete option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    char why[1024];
    if (cuda && gpu_probe(why, sizeof why) < 0) {
        /* Each attack's runner opens the GPU before lock-down, as a training
         * runner does; without one there is nothing to self-test. */
        cli_error("sandbox", "--cuda runs every attack with the GPU opened, and there is none here: %s. (The CUDA "
                             "filter's rules are unit-tested without a GPU by test_sandbox.)", why);
        return EXIT_USAGE;
    }
    int n_attacks;
    sb_attacks(&n_attacks);
    sb_selftest_entry entries[128];
    char applied[512], err[512];
    int n = sb_selftest(profile, cuda, only, entries, n_attacks < 128 ? n_attacks : 128, applied, sizeof applied, err,
                        sizeof err);
    if (n < 0) {
        cli_error("sandbox", "self-test cannot run: %s", err);
        return EXIT_FAILED;
    }
    return print_selftest(entries, n, profile, applied, json);
}

int cmd_sandbox(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sandbox_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "selftest")) return selftest(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return list_attacks(argc > 2 && !strcmp(argv[2], "--json"));
    cli_error("sandbox", "unknown subcommand '%s' (selftest or list)", argv[1]);
    return EXIT_USAGE;
}
