/* test_cpu.c — the CPU detection that picks the BLAS kernels and the thread
 * settings (kernels/cpu.c), end to end through the built `asiarch`:
 *   - features read from cpuid agree with what the OS says it saves;
 *   - where OpenBLAS chose weak kernels (a preloaded shim makes it report
 *     Prescott, as on a CPU newer than its table) the CLI re-executes itself
 *     with the family the features call for, and says so in --json;
 *   - a user's OPENBLAS_CORETYPE wins;
 *   - runners get the chosen family and a bounded OpenMP spin. */
#include <cJSON.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kernels.h"
#include "test.h"

/* Run a shell command, return its stdout (caller frees) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    while (p && (k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int st = p ? pclose(p) : -1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

/* `asiarch train` of DeltaNet for two steps under ENV; its --json. */
static cJSON *train_json(const char *env)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u ASIARCH_BLAS_CORE_CHOSEN %s %s train delta_net "
             "--scale tiny --steps 2 --no-mqar --no-verify --json 2>/dev/null", env, ASIARCH_BINARY);
    int status;
    char *out = run(cmd, &status);
    CHECK_MSG(status == 0, "`%s` exited %d: %s", cmd, status, out);
    cJSON *j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "not JSON: %s", out);
    free(out);
    return j;
}

static const char *str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

TEST(features_are_consistent)
{
    const k_cpu_info *ci = k_cpu();
    CHECK(ci->model[0] != 0);
    /* each level implies the one below it */
    CHECK(!ci->avx512_bf16 || ci->avx512);
    CHECK(!ci->avx512 || ci->avx2);
    CHECK(!ci->avx2 || ci->avx);
#ifdef __AVX2__
    CHECK_MSG(ci->avx2, "built with AVX2 code generation, yet cpuid/XCR0 report no AVX2");
#endif
#ifdef __AVX512F__
    CHECK_MSG(ci->avx512, "built with AVX-512 code generation, yet cpuid/XCR0 report no AVX-512");
#endif
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    CHECK(ci->affinity_cpus == CPU_COUNT(&set));
    char line[256];
    k_cpu_describe(line, sizeof line);
    CHECK_STR_CONTAINS(line, k_blas_corename());
}

TEST(weak_kernels_are_replaced)
{
    const k_cpu_info *ci = k_cpu();
    if (!ci->best_core) {
        printf("skipped: this CPU has no AVX, OpenBLAS's own choice stands\n");
        return;
    }
    char env[512];
    snprintf(env, sizeof env, "LD_PRELOAD=%s", CPU_SHIM);
    cJSON *j = train_json(env);
    CHECK_MSG(!strcmp(str(j, "blas_core"), ci->best_core), "kernels %s, expected %s", str(j, "blas_core"),
              ci->best_core);
    CHECK_MSG(!strcmp(str(j, "blas_core_chosen_by"), "cpuid"), "chosen by %s", str(j, "blas_core_chosen_by"));
    cJSON_Delete(j);
}

TEST(the_users_choice_wins)
{
    cJSON *j = train_json("OPENBLAS_CORETYPE=Haswell");
    CHECK_MSG(!strcmp(str(j, "blas_core"), "Haswell"), "kernels %s", str(j, "blas_core"));
    CHECK_MSG(!strcmp(str(j, "blas_core_chosen_by"), "user"), "chosen by %s", str(j, "blas_core_chosen_by"));
    cJSON_Delete(j);
    /* the shim reports Prescott only where nothing is named: the user's name still wins */
    char env[512];
    snprintf(env, sizeof env, "LD_PRELOAD=%s OPENBLAS_CORETYPE=Haswell", CPU_SHIM);
    j = train_json(env);
    CHECK(!strcmp(str(j, "blas_core"), "Haswell"));
    cJSON_Delete(j);
}

TEST(openblas_own_choice_is_kept_when_good)
{
    cJSON *j = train_json("");
    const char *src = str(j, "blas_core_chosen_by");
    /* on a CPU OpenBLAS knows, it keeps its choice; on one it does not, cpuid replaces it */
    CHECK_MSG(!strcmp(src, "openblas") || !strcmp(src, "cpuid"), "chosen by %s", src);
    cJSON_Delete(j);
}

TEST(children_get_the_choice)
{
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    CHECK(k_cpu_child_spincount() != NULL);
    setenv("OMP_WAIT_POLICY", "active", 1);
    CHECK(k_cpu_child_spincount() == NULL);   /* a user's wait policy wins */
    unsetenv("OMP_WAIT_POLICY");
    setenv("GOMP_SPINCOUNT", "42", 1);
    CHECK(k_cpu_child_spincount() && !strcmp(k_cpu_child_spincount(), "42"));   /* and a user's spin count */
    unsetenv("GOMP_SPINCOUNT");
    setenv("OPENBLAS_CORETYPE", "Nehalem", 1);
    CHECK(k_cpu_child_core() && !strcmp(k_cpu_child_core(), "Nehalem"));
    unsetenv("OPENBLAS_CORETYPE");
}

int main(void)
{
    RUN(features_are_consistent);
    RUN(weak_kernels_are_replaced);
    RUN(the_users_choice_wins);
    RUN(openblas_own_choice_is_kept_when_good);
    RUN(children_get_the_choice);
    return test_summary();
}
