/*
 * test_jit_cli.c — `asiarch jit` end to end, as a kernel author drives it:
 * the examples of examples/kernels check, run against their references and
 * time in the strict sandbox; the CUDA examples compile to PTX (NVRTC needs
 * no GPU) and run where a GPU is present; sweeps write their table, CSV,
 * JSON and SVG; and every hostile file of tests/kernels ends with its exit
 * code and its rule: syscalls, unlisted symbols, pointer forging, inline
 * assembly, out-of-bounds accesses caught by the guard pages, writes to
 * inputs, a kernel that never returns, wrong results.
 */
#include <cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu.h"
#include "jit.h"
#include "test.h"

static char tmpdir[] = "/tmp/asiarch-test-jit-XXXXXX";

/* Run `asiarch ARGS` in the source tree; stdout into *out, stderr into *err. */
static int run(const char *args, char **out, char **err)
{
    char cmd[4096], errpath[256];
    snprintf(errpath, sizeof errpath, "%s/stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>'%s'", ASIARCH_SOURCE_DIR, ASIARCH_BINARY, args, errpath);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    if (err) {
        FILE *f = fopen(errpath, "r");
        char *e = calloc(1, 1 << 16);
        if (f) {
            size_t n = fread(e, 1, (1 << 16) - 1, f);
            e[n] = 0;
            fclose(f);
        }
        *err = e;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int has_gpu(void)
{
    char why[512];
    return gpu_probe(why, sizeof why) == 0;
}

TEST(usage)
{
    char *out, *err;
    CHECK(run("jit --help", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "asiarch jit run FILE");
    free(out);
    CHECK(run("jit", NULL, &err) == 2);
    free(err);
    CHECK(run("jit frobnicate x.c", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "unknown subcommand 'frobnicate'");
    free(err);
    CHECK(run("jit run", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "expected one kernel FILE");
    free(err);
    CHECK(run("jit run examples/kernels/softmax.c --set depth=3", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "declares no @param depth (it declares: rows, cols)");
    free(err);
    CHECK(run("jit run examples/kernels/softmax.c --set rows=3000000", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "GiB together");
    free(err);
    CHECK(run("jit run no/such/file.c", NULL, &err) == 2);
    free(err);
    CHECK(run("jit ir examples/kernels/softmax.c --ptx", NULL, &err) == 2);
    CHECK_STR_CONTAINS(err, "--ptx and --sass are for .cu files");
    free(err);
}

TEST(every_example_checks)
{
    static const char *files[] = {"softmax.c", "softmax_ref.c", "gemm_tiled.c", "gemm_blas.c", "reduce.cu",
                                  "reduce_ref.c", "linattn.cu", "linattn_ref.c"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char args[256], *out, *err;
        snprintf(args, sizeof args, "jit check examples/kernels/%s", files[i]);
        CHECK_MSG(run(args, &out, &err) == 0, "%s: %s", files[i], err);
        CHECK_STR_CONTAINS(out, "kernel,");
        free(out);
        free(err);
    }
}

static cJSON *run_json(const char *args, int want_rc)
{
    char *out, *err;
    int rc = run(args, &out, &err);
    CHECK_MSG(rc == want_rc, "%s: exit %d, stderr: %s", args, rc, err);
    cJSON *j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "%s: not JSON: %s", args, out);
    free(out);
    free(err);
    return j;
}

static double num(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *at = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && at; k = strtok_r(NULL, ".", &save))
        at = isdigit((unsigned char)k[0]) ? cJSON_GetArrayItem(at, atoi(k)) : cJSON_GetObjectItem(at, k);
    return cJSON_IsNumber(at) ? at->valuedouble : NAN;
}

TEST(softmax_runs_against_its_reference_and_is_timed)
{
    cJSON *j = run_json("jit run examples/kernels/softmax.c --set rows=32 --bench --warmup 2 --rep 20 --json", 0);
    if (!j) return;
    CHECK(!strcmp(cJSON_GetObjectItem(j, "status")->valuestring, "ok"));
    CHECK_STR_CONTAINS(cJSON_GetObjectItem(j, "device")->valuestring, "cpu: ");
    CHECK_STR_CONTAINS(cJSON_GetObjectItem(j, "reference")->valuestring, "softmax_ref.c");
    CHECK(num(j, "params.rows") == 32 && num(j, "params.cols") == 1024);
    const cJSON *y = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(y, "compared")));
    /* float exp and a float sum of 1024 terms against double: the rounding bound of the
     * sum, 1024 eps ~ 6.1e-5 relative, on values at most 1 */
    CHECK(num(y, "max_abs") < 1024 * 6e-8 && num(y, "bad") == 0);
    CHECK(num(j, "timing.reps") >= 10 && num(j, "timing.min_s") > 0);
    CHECK(num(j, "timing.min_s") <= num(j, "timing.median_s"));
    CHECK(num(j, "timing.gb_per_s") > 0 && num(j, "timing.gflop_per_s") > 0);
    CHECK(num(j, "reference_timing.median_s") > 0 && num(j, "speedup") > 0);
    cJSON_Delete(j);

    char *out;
    CHECK(run("jit run examples/kernels/softmax.c --set rows=8 --set cols=100 --bench --rep 10", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "softmax_rows (examples/kernels/softmax.c) on cpu: ");
    CHECK_STR_CONTAINS(out, "y: max abs err ");
    CHECK_STR_CONTAINS(out, "GFLOP/s");
    CHECK_STR_CONTAINS(out, "speedup over the reference: ");
    free(out);
}

TEST(tiled_gemm_against_the_blas)
{
    cJSON *j = run_json("jit run examples/kernels/gemm_tiled.c --set M=70 --set N=300 --set K=130 --bench --rep 20 "
                        "--warmup 2 --json", 0);
    if (!j) return;
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    CHECK(num(c, "bad") == 0 && num(c, "max_abs") < 1e-3);
    CHECK(num(j, "timing.gflop_per_s") > 0 && num(j, "speedup") > 0);
    cJSON_Delete(j);
}

TEST(c_references_of_the_cuda_examples_run)
{
    cJSON *j = run_json("jit run examples/kernels/linattn_ref.c --set heads=2 --set T=16 --set D=8 --json", 0);
    cJSON_Delete(j);
    j = run_json("jit run examples/kernels/reduce_ref.c --set n=5000 --set blocks=3 --set threads=64 --json", 0);
    cJSON_Delete(j);
}

TEST(cuda_examples_compile_to_ptx_and_run_on_a_gpu)
{
    char why[512];
    if (jit_nvrtc_load(why, sizeof why) < 0) {
        fprintf(stderr, "SKIP cuda_examples_compile_to_ptx: %s\n", why);
        return;
    }
    char *out, *err;
    CHECK(run("jit ir examples/kernels/reduce.cu --ptx", &out, &err) == 0);
    CHECK_STR_CONTAINS(out, ".entry block_sum(");
    free(out);
    free(err);
    CHECK(run("jit ir examples/kernels/linattn.cu --arch 90", &out, &err) == 0);
    CHECK_STR_CONTAINS(out, ".entry linattn_recurrent(");
    CHECK_STR_CONTAINS(out, ".target sm_90");
    free(out);
    free(err);
    /* an NVRTC error at the file's line and column */
    CHECK(run("jit check tests/kernels/cuda_syntax.cu", NULL, &err) == 1);
    CHECK_STR_CONTAINS(err, "cuda_syntax.cu:14:39: nvrtc/error: identifier \"undeclared_scale\" is undefined");
    free(err);
    if (!has_gpu()) {
        CHECK(run("jit run examples/kernels/reduce.cu", NULL, &err) == 2);
        CHECK_STR_CONTAINS(err, "cannot run here");
        free(err);
        fprintf(stderr, "SKIP cuda kernels on a GPU: no GPU here\n");
        return;
    }
    cJSON *j = run_json("jit run examples/kernels/reduce.cu --bench --json", 0);
    CHECK(j && num(j, "outputs.0.bad") == 0 && num(j, "timing.gb_per_s") > 0);
    cJSON_Delete(j);
    j = run_json("jit run examples/kernels/linattn.cu --bench --json", 0);
    CHECK(j && num(j, "outputs.0.bad") == 0 && num(j, "speedup") > 0);
    cJSON_Delete(j);
}

TEST(sweep_writes_table_csv_json_and_svg)
{
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "jit sweep examples/kernels/softmax.c --set cols=64,256,1024 --set rows=4 --rep 5 "
             "--warmup 1 --csv %s/s.csv --svg %s/s.svg", tmpdir, tmpdir);
    CHECK_MSG(run(args, &out, &err) == 0, "%s", err);
    CHECK_STR_CONTAINS(out, "cols");
    CHECK_STR_CONTAINS(out, "speedup");
    CHECK(strstr(out, "\n          64 ") && strstr(out, "\n        1024 "));
    free(out);
    free(err);
    char path[300], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/s.csv", tmpdir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int lines = 0;
    char line[1024];
    while (f && fgets(line, sizeof line, f)) lines++;
    if (f) fclose(f);
    CHECK(lines == 4);
    snprintf(path, sizeof path, "%s/s.svg", tmpdir);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        text = calloc(1, 1 << 16);
        n = fread(text, 1, (1 << 16) - 1, f);
        fclose(f);
    }
    CHECK(n > 0 && !strncmp(text, "<svg ", 5) && strstr(text, "</svg>\n"));
    int circles = 0;
    for (const char *p = text; p && (p = strstr(p, "<circle")); p++) circles++;
    CHECK(circles == 6);   /* three sizes, kernel and reference */
    free(text);
    cJSON *j = run_json("jit sweep examples/kernels/softmax.c --set cols=32,64 --set rows=2 --rep 5 --warmup 1 --json", 0);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")) == 2);
    CHECK(j && num(j, "rows.1.value") == 64 && num(j, "rows.1.median_s") > 0);
    cJSON_Delete(j);
}

TEST(ir_shows_llvm_and_assembly)
{
    char *out;
    CHECK(run("jit ir examples/kernels/softmax.c --llvm", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "define ");
    CHECK_STR_CONTAINS(out, "@softmax_rows(");
    free(out);
    CHECK(run("jit ir examples/kernels/softmax.c --asm", &out, NULL) == 0);
    CHECK_STR_CONTAINS(out, "softmax_rows:");
    free(out);
}

/* Each hostile or wrong file: exit code, and what stderr/stdout must say. */
TEST(hostile_kernels_are_contained_with_clear_reports)
{
    static const struct { const char *args; int rc; const char *want; } cases[] = {
        {"run tests/kernels/oob_write.c", 1, "jit/out-of-bounds: out-of-bounds access to y[1000] in the kernel: 1 element past the end of y"},
        {"run tests/kernels/underrun_read.c", 1, "x[-3] in the kernel: 3 elements before the start of x"},
        {"run tests/kernels/write_input.c", 1, "a write to an input"},
        {"run tests/kernels/syscall_write.c", 1, "syscall_write.c:13:5: kernel/call-not-allowed: 'write' is not available to a kernel"},
        {"run tests/kernels/forge_pointer.c", 1, "forge_pointer.c:11:22: kernel/cast-pointer"},
        {"run tests/kernels/inline_asm.c", 1, "inline_asm.c:11:5: kernel/asm"},
        {"run tests/kernels/recurse.c", 1, "kernel/recursion"},
        {"run tests/kernels/spin_forever.c --time-limit 2", 1, "sandbox/timeout"},
        {"run tests/kernels/twice.c", 1, "MISMATCH, 1 element outside the tolerance; worst y[7]"},
        {"run tests/kernels/twice.c --tol 0.01", 0, "ok"},
        {"run tests/kernels/half_types.c", 0, "k: max abs err 0, max rel err 0 (tol 0): ok"},
        {"check tests/kernels/bad_spec.c", 1, "bad_spec.c:6:15: kernel/spec: division by zero"},
        {"check tests/kernels/bad_signature.c", 1, "bad_signature.c:7:20: kernel/signature: x is declared f32[...]"},
        {"check tests/kernels/cuda_forbidden.cu", 1, "cuda_forbidden.cu:14:5: kernel/cuda-forbidden: 'asm' (inline PTX)"},
        {"run tests/kernels/oob_write.c --unchecked", -2, NULL},   /* unchecked: contained either way */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[512], *out, *err;
        snprintf(args, sizeof args, "jit %s", cases[i].args);
        int rc = run(args, &out, &err);
        if (cases[i].rc == -2) {
            CHECK_MSG(rc == 0 || rc == 1, "%s: exit %d", args, rc);
        } else {
            CHECK_MSG(rc == cases[i].rc, "%s: exit %d, stderr: %s", args, rc, err);
            CHECK_MSG(strstr(out, cases[i].want) || strstr(err, cases[i].want), "%s: wanted \"%s\"; stdout: %s; stderr: %s",
                      args, cases[i].want, out, err);
        }
        free(out);
        free(err);
    }
    /* the same reports as JSON, for a program reading them */
    cJSON *j = run_json("jit check tests/kernels/inline_asm.c --json", 1);
    const cJSON *r0 = j ? cJSON_GetArrayItem(cJSON_GetObjectItem(j, "reports"), 0) : NULL;
    CHECK(r0 && !strcmp(cJSON_GetObjectItem(r0, "rule")->valuestring, "kernel/asm"));
    CHECK(r0 && num(r0, "line") == 11);
    cJSON_Delete(j);
    j = run_json("jit run tests/kernels/twice.c --json", 1);
    CHECK(j && !strcmp(cJSON_GetObjectItem(j, "status")->valuestring, "mismatch"));
    CHECK(j && num(j, "outputs.0.worst_index") == 7);
    cJSON_Delete(j);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(usage);
    RUN(every_example_checks);
    RUN(softmax_runs_against_its_reference_and_is_timed);
    RUN(tiled_gemm_against_the_blas);
    RUN(c_references_of_the_cuda_examples_run);
    RUN(cuda_examples_compile_to_ptx_and_run_on_a_gpu);
    RUN(sweep_writes_table_csv_json_and_svg);
    RUN(ir_shows_llvm_and_assembly);
    RUN(hostile_kernels_are_contained_with_clear_reports);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
