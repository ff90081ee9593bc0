/*
 * cmd_ir.c — `asiarch ir NAME|FILE [--graph] [--llvm] [--all]`: what a mixer
 * really is, for auditing: the graph IR it builds (every op with inputs,
 * shape, source line and FLOPs, plus parameter count and structural hash)
 * and, for a candidate file, the LLVM IR that was loaded into the JIT, and
 * the GPU code NVRTC makes of its AA_SCALAR functions (PTX, or SASS through
 * cuobjdump where the toolkit has it).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "gpu.h"
#include "jit.h"
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
            "  --ptx         print the PTX NVRTC makes of the candidate's AA_SCALAR functions and\n"
            "                their pointwise kernels (FILE only; needs NVRTC, not a GPU)\n"
            "  --sass        the same as SASS, through cuobjdump (CUDA toolkit)\n"
            "  --arch N      GPU architecture for --ptx/--sass: 80 (default), 90, ...\n"
            "  --all         graph and LLVM IR\n"
            "  --no-cache    compile FILE without the bitcode cache\n"
            "  --summary     only parameter count, FLOPs and structural hash\n"
            "  --scale S     tiny | small | 20m (default tiny)\n"
            "  --batch B     build for batch size B (default: the scale's)\n"
            "  --time T      build for sequence length T (default: the scale's)\n"
            "The graph is built by calling the mixer, so it is built in a sandboxed runner:\n"
            CLI_SANDBOX_OPTIONS_HELP);
}

/* The candidate's pointwise ops, as the GPU would run them: every function
 * NAME of float(float x n) that has a derivative NAME_d0. */
static int device_ops(const cli_candidate *c, gpu_pointwise_op *ops, int max)
{
    int n = 0;
    for (int i = 0; jit_function_name(c->module, i) && n < max; i++) {
        const char *name = jit_function_name(c->module, i);
        char deriv[160];
        snprintf(deriv, sizeof deriv, "%s_d0", name);
        if (!jit_lookup(c->module, deriv)) continue;
        for (int nargs = 1; nargs <= AA_MAX_POINTWISE_ARGS; nargs++)
            if (jit_lookup_scalar(c->module, name, nargs)) {
                ops[n++] = (gpu_pointwise_op){name, nargs};
                break;
            }
    }
    return n;
}

/* The first of the toolkit's disassemblers found ($CUDA_HOME/bin,
 * /usr/local/cuda/bin, PATH): cuobjdump -sass, else nvdisasm. */
static int find_disassembler(char *tool, size_t len, const char **args)
{
    static const char *const names[] = {"cuobjdump", "nvdisasm"};
    static const char *const flags[] = {"-sass", ""};
    const char *home = getenv("CUDA_HOME"), *path = getenv("PATH");
    for (int i = 0; i < 2; i++) {
        char dirs[4096];
        snprintf(dirs, sizeof dirs, "%s:/usr/local/cuda/bin:%s", home && *home ? home : "/nonexistent",
                 path ? path : "/usr/bin");
        for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            snprintf(tool, len, "%s%s/%s", dir, dir == dirs && home && *home ? "/bin" : "", names[i]);
            if (access(tool, X_OK) == 0) {
                *args = flags[i];
                return 0;
            }
        }
    }
    return -1;
}

int cli_print_sass(const char *cmd, const jit_device_code *code)
{
    char tool[1024];
    const char *args = "";
    if (find_disassembler(tool, sizeof tool, &args) < 0) {
        cli_error(cmd, "--sass needs cuobjdump or nvdisasm from the CUDA toolkit (looked in $CUDA_HOME/bin, "
                        "/usr/local/cuda/bin and PATH); --ptx needs only NVRTC");
        return EXIT_FAILED;
    }
    char path[] = "/tmp/asiarch-sass-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, code->data, code->len) != (ssize_t)code->len) {
        if (fd >= 0) close(fd);
        cli_error(cmd, "cannot write a temporary cubin");
        return EXIT_FAILED;
    }
    close(fd);
    char line[2200];
    snprintf(line, sizeof line, "'%s' %s '%s'", tool, args, path);
    int rc = system(line);
    unlink(path);
    if (rc != 0) {
        cli_error(cmd, "%s could not disassemble the cubin (exit status %d)", tool, rc);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int print_device_code(const cli_candidate *c, int arch, int sass)
{
    gpu_pointwise_op ops[IR_MAX_POINTWISE];
    int n = device_ops(c, ops, IR_MAX_POINTWISE);
    if (n == 0) {
        printf("// %s has no device code of its own: no AA_SCALAR function with derivatives. On a GPU it runs\n"
               "// on the built-in kernels of kernels/cuda.\n", c->src.path);
        return EXIT_OK;
    }
    char err[512];
    char *text = gpu_pointwise_source(c->src.path, c->src.text, ops, n, err, sizeof err);
    if (!text) {
        cli_error("ir", "%s", err);
        return EXIT_FAILED;
    }
    jit_nvrtc_opts o;
    jit_nvrtc_defaults(&o);
    o.arch = arch;
    o.cubin = sass;
    jit_nvrtc_headers h;
    gpu_kernel_headers(&h);
    jit_device_code code;
    aa_reports reps = {0};
    int rc = jit_nvrtc_compile("pointwise.cu", text, &h, &o, &code, &reps);
    free(text);
    if (rc < 0) {
        cli_print_reports(&reps, 0, "compile");
        aa_reports_free(&reps);
        return EXIT_FAILED;
    }
    aa_reports_free(&reps);
    if (sass) rc = cli_print_sass("ir", &code);
    else {
        fputs(code.data, stdout);
        rc = EXIT_OK;
    }
    jit_device_code_free(&code);
    return rc;
}

int cmd_ir(int argc, char **argv)
{
    static const struct option opts[] = {{"graph", no_argument, 0, 'g'}, {"summary", no_argument, 0, 's'},
                                         {"llvm", no_argument, 0, 'l'}, {"all", no_argument, 0, 'a'},
                                         {"no-cache", no_argument, 0, 'n'}, {"ptx", no_argument, 0, 'p'},
                                         {"sass", no_argument, 0, 'x'}, {"arch", required_argument, 0, 'A'},
                                         {"scale", required_argument, 0, 'S'}, {"batch", required_argument, 0, 'b'},
                                         {"time", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                         CLI_SANDBOX_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_sandbox_opts so;
    cli_sandbox_defaults(&so);
    const char *scale = "tiny";
    int summary = 0, batch = 0, time = 0, graph = 0, llvm = 0, ptx = 0, sass = 0, arch = 80, c;
    cli_front_opts fo = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g': graph = 1; break;
        case 'l': llvm = 1; break;
        case 'a': graph = llvm = 1; break;
        case 'n': fo.no_cache = 1; break;
        case 'p': ptx = 1; break;
        case 'x': sass = 1; break;
        case 'A': arch = atoi(optarg); break;
        case 's': summary = 1; break;
        case 'S': scale = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': time = atoi(optarg); break;
        case 'h': ir_usage(stdout); return EXIT_OK;
        case CLI_OPT_SANDBOX: case CLI_OPT_TIME_LIMIT: case CLI_OPT_MEMORY_LIMIT: case CLI_OPT_DEVICE:
        case CLI_OPT_PRECISION: case CLI_OPT_DETERMINISTIC:
            if (cli_sandbox_option("ir", c, optarg, &so) < 0) return EXIT_USAGE;
            break;
        default: cli_error("ir", "unknown or incomplete option '%s' (see `asiarch ir --help`)", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("ir", "missing NAME or FILE (a reference from `asiarch train --list`, or a candidate file)");
        return EXIT_USAGE;
    }
    if (arch < 50 || arch > 200) {
        cli_error("ir", "--arch expects a compute capability times ten (80, 90), got %d", arch);
        return EXIT_USAGE;
    }
    if (!graph && !llvm && !ptx && !sass) graph = 1;
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
    fo.load = llvm || ptx || sass;   /* loading only compiles: no candidate code runs here */
    int rc = cli_open_candidate("ir", argv[optind], &fo, &cand);
    if (rc != EXIT_OK) return rc;
    if ((llvm || ptx || sass) && !cand.bitcode.data) {
        cli_error("ir", "--llvm, --ptx and --sass need a candidate FILE: a reference is compiled into asiarch "
                        "itself and runs on the built-in kernels of kernels/cuda");
        cli_close_candidate(&cand);
        return EXIT_USAGE;
    }
    if ((ptx || sass) && print_device_code(&cand, arch, sass) != EXIT_OK) {
        cli_close_candidate(&cand);
        return EXIT_FAILED;
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
