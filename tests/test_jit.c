/*
 * test_jit.c — compile (clang -> bitcode, cache), load (ORC LLJIT with the
 * symbol allow-list) and build, without the checker in front: the link layer
 * must hold on its own.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "arch.h"
#include "jit.h"
#include "runtime.h"
#include "test.h"

static char cache_dir[256];   /* a private cache, removed at exit */

static jit_compile_opts opts(int use_cache)
{
    jit_compile_opts o;
    jit_compile_defaults(&o);
    o.use_cache = use_cache;
    o.cache_dir = cache_dir;
    return o;
}

/* The first report with this rule, or NULL. */
static const aa_report *find_rule(const aa_reports *r, const char *rule)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->items[i].rule, rule) == 0) return &r->items[i];
    return NULL;
}

static void print_reports(const aa_reports *r)
{
    if (r->n && getenv("TEST_JIT_VERBOSE")) fputs("(reports)\n", stderr);
    for (int i = 0; i < r->n; i++) aa_report_print(&r->items[i], stderr);
}

/* Compile text as path with no checker; load it. NULL on failure, reports in reps. */
static jit_module *compile_load(const char *path, const char *text, aa_reports *reps)
{
    jit_source src;
    if (jit_source_from_string(path, text, &src) < 0) return NULL;
    jit_compile_opts o = opts(0);
    jit_bitcode bc;
    jit_module *m = NULL;
    if (jit_compile(&src, &o, &bc, reps) == 0) m = jit_load(&bc, &src, reps);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    return m;
}

static ir_dims tiny_dims(void)
{
    rt_config cfg;
    char err[256];
    rt_config_scale("tiny", &cfg, err, sizeof err);
    return cfg.dims;
}


/* ---- the allow-list is the header ------------------------------------------------------ */

static int allow_listed(const char *name)
{
    for (const char *const *s = jit_allowed_symbols(); *s; s++)
        if (strcmp(*s, name) == 0) return 1;
    return 0;
}

TEST(allowed_symbols_are_the_header)
{
    /* Every aa__ function the header declares is allowed, and no aa__ name
     * is allowed that the header does not declare. */
    int declared = 0;
    const char *h = jit_dsl_header;
    CHECK(strlen(h) == jit_dsl_header_len);
    for (const char *p = h; (p = strstr(p, "aa__")); p += 4) {
        char name[64];
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
        if (n >= sizeof name || p[n] != '(') continue;
        /* declarations start a line ("aa_t aa__x(", "int aa__x(", "void aa__x(") */
        const char *bol = p;
        while (bol > h && bol[-1] != '\n') bol--;
        if (strncmp(bol, "#define", 7) == 0) continue;
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        CHECK_MSG(allow_listed(name), "%s is declared in asiarch.h but not in jit/symbols.c", name);
        declared++;
    }
    CHECK(declared >= 27);
    int listed = 0;
    for (const char *const *s = jit_allowed_symbols(); *s; s++) {
        if (strncmp(*s, "aa__", 4) == 0) {
            char decl[80];
            snprintf(decl, sizeof decl, " %s(", *s);
            CHECK_MSG(strstr(h, decl) != NULL, "%s is allowed but not declared in asiarch.h", *s);
            listed++;
        } else if (strncmp(*s, "mem", 3) != 0) {
            char decl[80];
            snprintf(decl, sizeof decl, "float %s(float", *s);
            CHECK_MSG(strstr(h, decl) != NULL, "%s is allowed but asiarch.h does not declare it", *s);
        }
    }
    CHECK(listed == declared);
    CHECK(allow_listed("memcpy") && allow_listed("memset") && allow_listed("memmove"));
    CHECK(!allow_listed("system") && !allow_listed("malloc") && !allow_listed("atexit"));
}

/* ---- sources --------------------------------------------------------------------------- */

TEST(source_read_errors)
{
    aa_reports r = {0};
    jit_source src;
    CHECK(jit_source_read("/nonexistent/cand.c", &src, &r) == -1);
    CHECK(r.n == 1 && strcmp(r.items[0].rule, "io/read") == 0 && strcmp(r.items[0].stage, "check") == 0);
    CHECK(r.n == 1 && strcmp(r.items[0].file, "/nonexistent/cand.c") == 0);
    if (r.n) CHECK_STR_CONTAINS(r.items[0].message, "No such file or directory");
    aa_reports_free(&r);

    CHECK(jit_source_read("/tmp", &src, &r) == -1);
    if (r.n) CHECK_STR_CONTAINS(r.items[0].message, "directory");
    aa_reports_free(&r);

    char big[300];
    snprintf(big, sizeof big, "%s/big.c", cache_dir);
    FILE *f = fopen(big, "w");
    for (int i = 0; f && i < (1 << 20) / 16 + 1; i++) fputs("/* padding.. */\n", f);
    if (f) fclose(f);
    CHECK(jit_source_read(big, &src, &r) == -1);
    if (r.n) CHECK_STR_CONTAINS(r.items[0].message, "1 MiB");
    aa_reports_free(&r);
    unlink(big);

    CHECK(jit_source_read(ASIARCH_SOURCE_DIR "/arch/delta_net.c", &src, &r) == 0);
    CHECK(r.n == 0 && src.len > 100 && src.text[src.len] == 0 && strstr(src.text, "AA_NAME"));
    jit_source_free(&src);
}

/* ---- every reference architecture, through the JIT --------------------------------------- */

/* Bitcode of path compiled with the given cache setting. */
static int compile_file(const jit_source *src, int use_cache, jit_bitcode *bc)
{
    aa_reports r = {0};
    jit_compile_opts o = opts(use_cache);
    int rc = jit_compile(src, &o, bc, &r);
    if (rc < 0) print_reports(&r);
    aa_reports_free(&r);
    return rc;
}

static void check_arch_file(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/arch/%s", ASIARCH_SOURCE_DIR, file);
    aa_reports r = {0};
    jit_source src;
    if (jit_source_read(path, &src, &r) < 0) { print_reports(&r); CHECK(0); return; }

    /* cache off, then on twice: the second is a hit with the same bytes */
    jit_bitcode cold, first, hit;
    CHECK_MSG(compile_file(&src, 0, &cold) == 0, "%s does not compile", file);
    CHECK(compile_file(&src, 1, &first) == 0);
    CHECK(compile_file(&src, 1, &hit) == 0);
    CHECK_MSG(!cold.from_cache && !first.from_cache && hit.from_cache, "%s: from_cache %d %d %d", file,
              cold.from_cache, first.from_cache, hit.from_cache);
    CHECK(strlen(cold.key) == 64 && strcmp(cold.key, hit.key) == 0 && strcmp(first.key, hit.key) == 0);
    CHECK_MSG(first.len == hit.len && hit.data && memcmp(first.data, hit.data, hit.len) == 0,
              "%s: cached bitcode differs", file);
    /* clang is deterministic and no temporary path leaks into the bitcode */
    CHECK_MSG(cold.len == first.len && cold.data && memcmp(cold.data, first.data, cold.len) == 0,
              "%s: two compiles of the same source differ", file);

    jit_module *m = jit_load(&hit, &src, &r);
    if (!m) { print_reports(&r); CHECK_MSG(0, "%s does not load", file); goto out; }
    const arch_ref *ref = arch_find(jit_name(m));
    CHECK_MSG(ref != NULL, "%s: AA_NAME \"%s\" is not a registered reference", file, jit_name(m));
    if (!ref) goto out;
    CHECK_STR_CONTAINS(ref->file, file);
    CHECK(strcmp(jit_motivation(m), ref->motivation) == 0);

    ir_dims dims = tiny_dims();
    char err[512] = "";
    rt_arch arch = {.name = jit_name(m), .source_file = src.path, .mixer = jit_mixer(m),
                    .resolve = jit_resolve_scalar, .resolve_ctx = m};
    ir_graph *g = rt_build_arch(&dims, &arch, err, sizeof err);
    CHECK_MSG(g != NULL, "%s: %s", file, err);
    ir_graph *native = rt_build(&dims, ref->mixer, ref->file, err, sizeof err);
    CHECK_MSG(native != NULL, "%s (native): %s", file, err);
    if (g && native)
        CHECK_MSG(ir_structural_hash(g) == ir_structural_hash(native), "%s: the JIT-built graph differs from the "
                  "natively compiled reference's", file);
    if (g) ir_graph_free(g);
    if (native) ir_graph_free(native);
out:
    jit_unload(m);
    jit_bitcode_free(&cold);
    jit_bitcode_free(&first);
    jit_bitcode_free(&hit);
    jit_source_free(&src);
    aa_reports_free(&r);
}

TEST(arch_files_compile_load_and_build)
{
    DIR *d = opendir(ASIARCH_SOURCE_DIR "/arch");
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0 || strcmp(e->d_name, "registry.c") == 0) continue;
        check_arch_file(e->d_name);
        n++;
    }
    closedir(d);
    int refs;
    arch_all(&refs);
    CHECK_MSG(n == refs, "%d files in arch/, %d registered references", n, refs);
}

TEST(name_falls_back_to_the_file_stem)
{
    aa_reports r = {0};
    jit_module *m = compile_load("some/dir/my_mixer.c",
                                 "#include <asiarch.h>\n"
                                 "aa_t mixer(aa_layer *l, aa_t x) { return aa_silu(x); }\n", &r);
    CHECK(m != NULL);
    if (!m) { print_reports(&r); return; }
    CHECK(strcmp(jit_name(m), "my_mixer") == 0);
    CHECK(strcmp(jit_motivation(m), "") == 0);
    CHECK(jit_mixer(m) != NULL);
    char *ir = jit_llvm_ir(m);
    CHECK_STR_CONTAINS(ir, "define");
    CHECK_STR_CONTAINS(ir, "@mixer");
    CHECK_STR_CONTAINS(ir, "@aa__unary");
    free(ir);
    jit_unload(m);
    aa_reports_free(&r);
}

/* ---- the link layer refuses everything outside the DSL ------------------------------------- */

/* Compile (no checker) and load; expect link/undefined-symbol naming name at line:col. */
static void expect_undefined(const char *text, const char *name, int line, int col)
{
    aa_reports r = {0};
    jit_module *m = compile_load("evil.c", text, &r);
    CHECK_MSG(m == NULL, "a candidate using %s was loaded", name);
    jit_unload(m);
    if (getenv("TEST_JIT_VERBOSE")) print_reports(&r);
    const aa_report *rep = find_rule(&r, "link/undefined-symbol");
    CHECK_MSG(rep != NULL, "no link/undefined-symbol report for %s", name);
    if (!rep) { print_reports(&r); aa_reports_free(&r); return; }
    char word[80];
    snprintf(word, sizeof word, "%s is not part of the DSL", name);
    CHECK_STR_CONTAINS(rep->message, word);
    CHECK(strcmp(rep->stage, "link") == 0 && strcmp(rep->file, "evil.c") == 0);
    CHECK_MSG(rep->line == line && (col == 0 || rep->col == col), "%s reported at %d:%d, expected %d:%d", name,
              rep->line, rep->col, line, col);
    CHECK_STR_CONTAINS(rep->snippet, name);
    aa_reports_free(&r);
}

#define HEAD "#include <asiarch.h>\n"

TEST(link_refuses_undeclared_functions)
{
    expect_undefined(HEAD "int system(const char *);\n"
                          "aa_t mixer(aa_layer *l, aa_t x)\n"
                          "{\n"
                          "    system(\"touch /tmp/pwned\");\n"
                          "    return x;\n"
                          "}\n", "system", 5, 5);
    expect_undefined(HEAD "struct FILE;\n"
                          "struct FILE *fopen(const char *, const char *);\n"
                          "aa_t mixer(aa_layer *l, aa_t x)\n"
                          "{\n"
                          "    if (fopen(\"/etc/passwd\", \"r\")) return aa_neg(x);\n"
                          "    return x;\n"
                          "}\n", "fopen", 6, 9);
    expect_undefined(HEAD "void *dlopen(const char *, int);\n"
                          "aa_t mixer(aa_layer *l, aa_t x) {\n"
                          "    return dlopen(\"libc.so.6\", 2) ? x : aa_neg(x);\n"
                          "}\n", "dlopen", 4, 12);
    expect_undefined(HEAD "void *mmap(void *, unsigned long, int, int, int, long);\n"
                          "aa_t mixer(aa_layer *l, aa_t x) {\n"
                          "    mmap(0, 4096, 7, 0x22, -1, 0);\n"
                          "    return x;\n"
                          "}\n", "mmap", 4, 5);
    expect_undefined(HEAD "int __libc_start_main(void);\n"
                          "aa_t mixer(aa_layer *l, aa_t x) { __libc_start_main(); return x; }\n",
                     "__libc_start_main", 3, 35);
    expect_undefined(HEAD "long syscall(long, ...);\n"
                          "static int helper(int n)\n"
                          "{\n"
                          "    return (int)syscall(39 + n);\n"
                          "}\n"
                          "aa_t mixer(aa_layer *l, aa_t x) { return helper(aa_dim(l, AA_LAYER)) ? x : aa_neg(x); }\n",
                     "syscall", 5, 17);
}

TEST(link_refuses_outside_variables)
{
    expect_undefined(HEAD "extern char **environ;\n"
                          "aa_t mixer(aa_layer *l, aa_t x)\n"
                          "{\n"
                          "    return environ[0][0] ? x : aa_neg(x);\n"
                          "}\n", "environ", 5, 12);
}

TEST(link_refuses_jit_internals_and_redefinitions)
{
    /* LLJIT defines atexit for its own use; a candidate still cannot reach it. */
    expect_undefined(HEAD "int atexit(void (*)(void));\n"
                          "static void bye(void) {}\n"
                          "aa_t mixer(aa_layer *l, aa_t x) { atexit(bye); return x; }\n", "atexit", 4, 35);

    aa_reports r = {0};
    jit_module *m = compile_load("dup.c",
                                 HEAD "void *memcpy(void *d, const void *s, unsigned long n) { return d; }\n"
                                      "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &r);
    CHECK(m == NULL && find_rule(&r, "link/duplicate-symbol") != NULL);
    jit_unload(m);
    aa_reports_free(&r);

    m = compile_load("ctor.c", HEAD "static void early(void) {}\n"
                                    "__attribute__((section(\".init_array\"), used)) static void (*run)(void) = early;\n"
                                    "__attribute__((constructor)) static void boot(void) {}\n"
                                    "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &r);
    CHECK(m == NULL && find_rule(&r, "link/constructor") && find_rule(&r, "link/unsupported"));
    jit_unload(m);
    aa_reports_free(&r);

    m = compile_load("asm.c", HEAD "aa_t mixer(aa_layer *l, aa_t x) {\n"
                                   "    __asm__ volatile(\"nop\");\n"
                                   "    return x;\n}\n", &r);
    CHECK(m == NULL);
    const aa_report *rep = find_rule(&r, "link/inline-asm");
    CHECK(rep != NULL && rep->line == 3);
    jit_unload(m);
    aa_reports_free(&r);
}

TEST(no_mixer)
{
    aa_reports r = {0};
    jit_module *m = compile_load("empty.c", HEAD "AA_NAME(\"nothing\");\nfloat f(float x) { return x; }\n", &r);
    CHECK(m == NULL);
    const aa_report *rep = find_rule(&r, "link/no-mixer");
    CHECK(rep != NULL && strcmp(rep->stage, "link") == 0);
    jit_unload(m);
    aa_reports_free(&r);

    m = compile_load("static.c", HEAD "static aa_t mixer(aa_layer *l, aa_t x) { return x; }\n"
                                      "aa_t (*keep)(aa_layer *, aa_t) = mixer;\n", &r);
    CHECK(m == NULL);
    rep = find_rule(&r, "link/no-mixer");
    CHECK(rep != NULL && rep->line == 2);
    if (rep) CHECK_STR_CONTAINS(rep->message, "static");
    jit_unload(m);
    aa_reports_free(&r);
}

/* Bitcode made from textual IR by the LLVM API: the loader alone, no clang. */
static int bitcode_from_ir(const char *ir, jit_bitcode *bc)
{
    memset(bc, 0, sizeof *bc);
    LLVMContextRef ctx = LLVMContextCreate();
    size_t n = strlen(ir);
    LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, n, "hand.ll");
    LLVMModuleRef mod = NULL;
    char *msg = NULL;
    int rc = -1;
    if (LLVMParseIRInContext(ctx, mb, &mod, &msg) == 0) {   /* takes the buffer */
        LLVMMemoryBufferRef out = LLVMWriteBitcodeToMemoryBuffer(mod);
        bc->len = LLVMGetBufferSize(out);
        bc->data = malloc(bc->len);
        memcpy(bc->data, LLVMGetBufferStart(out), bc->len);
        LLVMDisposeMemoryBuffer(out);
        LLVMDisposeModule(mod);
        rc = 0;
    } else {
        fprintf(stderr, "bad test IR: %s\n", msg);
    }
    LLVMDisposeMessage(msg);
    LLVMContextDispose(ctx);
    return rc;
}

static const char hand_ir_system[] =
    "@cmd = private constant [10 x i8] c\"id > /tmp\\00\"\n"
    "declare i32 @system(i8*)\n"
    "define i8* @mixer(i8* %l, i8* %x) {\n"
    "  %p = getelementptr [10 x i8], [10 x i8]* @cmd, i64 0, i64 0\n"
    "  %r = call i32 @system(i8* %p)\n"
    "  ret i8* %x\n"
    "}\n";

/* LLJIT defines these in the main JITDylib for its own platform support. */
static const char hand_ir_platform[] =
    "@__dso_handle = external global i8\n"
    "declare i32 @__cxa_atexit(i8*, i8*, i8*)\n"
    "define i8* @mixer(i8* %l, i8* %x) {\n"
    "  %r = call i32 @__cxa_atexit(i8* null, i8* null, i8* @__dso_handle)\n"
    "  ret i8* %x\n"
    "}\n";

/* llvm.sin is lowered to a call of sinf that no IR declaration shows: the
 * JIT's own link step has to refuse it. */
static const char hand_ir_sinf[] =
    "declare float @llvm.sin.f32(float)\n"
    "define float @wave(float %x) {\n"
    "  %y = call float @llvm.sin.f32(float %x)\n"
    "  ret float %y\n"
    "}\n"
    "define i8* @mixer(i8* %l, i8* %x) {\n"
    "  ret i8* %x\n"
    "}\n";

/* A mixer of another type than the host calls: an int where the handle goes. */
static const char hand_ir_mixer_type[] =
    "define i32 @mixer(i8* %l, i32 %x) {\n"
    "  ret i32 %x\n"
    "}\n";

TEST(loader_refuses_hand_written_bitcode)
{
    jit_source src;
    jit_source_from_string("hand.ll", "system(\"id\")\n", &src);
    jit_bitcode bc;
    CHECK(bitcode_from_ir(hand_ir_system, &bc) == 0);
    aa_reports r = {0};
    jit_module *m = jit_load(&bc, &src, &r);
    CHECK(m == NULL);
    const aa_report *rep = find_rule(&r, "link/undefined-symbol");
    CHECK(rep != NULL);
    if (rep) CHECK_STR_CONTAINS(rep->message, "system is not part of the DSL");
    jit_unload(m);
    jit_bitcode_free(&bc);
    aa_reports_free(&r);

    CHECK(bitcode_from_ir(hand_ir_platform, &bc) == 0);
    m = jit_load(&bc, &src, &r);
    CHECK(m == NULL && r.n == 2);
    for (int i = 0; i < r.n; i++) CHECK(strcmp(r.items[i].rule, "link/undefined-symbol") == 0);
    jit_unload(m);
    jit_bitcode_free(&bc);
    aa_reports_free(&r);

    CHECK(bitcode_from_ir(hand_ir_sinf, &bc) == 0);
    m = jit_load(&bc, &src, &r);
    CHECK(m == NULL);
    rep = find_rule(&r, "link/undefined-symbol");
    CHECK(rep != NULL);
    if (rep) CHECK_STR_CONTAINS(rep->message, "sinf is not part of the DSL");
    else print_reports(&r);
    jit_unload(m);
    jit_bitcode_free(&bc);
    aa_reports_free(&r);

    CHECK(bitcode_from_ir(hand_ir_mixer_type, &bc) == 0);
    m = jit_load(&bc, &src, &r);
    CHECK(m == NULL && find_rule(&r, "link/mixer-type") != NULL);
    jit_unload(m);
    jit_bitcode_free(&bc);
    aa_reports_free(&r);

    /* data that is plainly not bitcode is a report, not a crash (LLVM 14
     * may still end the process on damaged bitcode: jit_load trusts
     * jit_compile, whose cache is checksummed, and runs in the sandbox) */
    unsigned char junk[64] = "#include <asiarch.h> is source, not bitcode...";
    jit_bitcode bad = {.data = junk, .len = sizeof junk};
    m = jit_load(&bad, &src, &r);
    CHECK(m == NULL && find_rule(&r, "link/bitcode") != NULL);
    aa_reports_free(&r);
    jit_source_free(&src);
}

/* ---- custom pointwise functions resolve, host symbols do not --------------------------------- */

TEST(lookup_finds_only_the_candidates_functions)
{
    aa_reports r = {0};
    jit_module *m = compile_load("pw.c",
                                 HEAD "AA_SCALAR float soft_cap(float x) { return 4.0f * tanhf(x / 4.0f); }\n"
                                      "AA_SCALAR float soft_cap_d0(float x) { float t = tanhf(x / 4.0f); "
                                      "return 1.0f - t * t; }\n"
                                      "aa_t mixer(aa_layer *l, aa_t x) { return aa_pointwise1(\"soft_cap\", x); }\n",
                                 &r);
    CHECK(m != NULL);
    if (!m) { print_reports(&r); return; }
    float (*f)(float) = (float (*)(float))(uintptr_t)jit_lookup(m, "soft_cap");
    CHECK(f != NULL);
    if (f) CHECK_NEAR(f(2.0f), 4.0 * tanh(0.5), 1e-6);
    CHECK(jit_lookup(m, "soft_cap_d0") != NULL);
    CHECK(jit_lookup(m, "memcpy") == NULL);
    CHECK(jit_lookup(m, "aa__dim") == NULL);
    CHECK(jit_lookup(m, "system") == NULL);
    CHECK(jit_lookup(m, "nope") == NULL);
    /* as a pointwise function: only float(float x n) of exactly that n */
    CHECK(jit_lookup_scalar(m, "soft_cap", 1) != NULL);
    CHECK(jit_lookup_scalar(m, "soft_cap", 2) == NULL);
    CHECK(jit_lookup_scalar(m, "mixer", 1) == NULL && jit_lookup_scalar(m, "mixer", 2) == NULL);

    ir_dims dims = tiny_dims();
    char err[512] = "";
    rt_arch arch = {.name = jit_name(m), .source_file = "pw.c", .mixer = jit_mixer(m), .resolve = jit_resolve_scalar,
                    .resolve_ctx = m};
    ir_graph *g = rt_build_arch(&dims, &arch, err, sizeof err);
    CHECK_MSG(g != NULL, "%s", err);
    if (g) ir_graph_free(g);
    jit_unload(m);
    aa_reports_free(&r);
}

/* ---- compile failures ------------------------------------------------------------------------ */

TEST(syntax_error_points_at_the_users_file)
{
    aa_reports r = {0};
    jit_module *m = compile_load("cands/broken.c",
                                 HEAD "aa_t mixer(aa_layer *l, aa_t x)\n"
                                      "{\n"
                                      "    aa_t y = aa_silu(x)\n"
                                      "    return y;\n"
                                      "}\n", &r);
    CHECK(m == NULL);
    const aa_report *rep = find_rule(&r, "compile/error");
    CHECK(rep != NULL);
    if (!rep) return;
    CHECK(strcmp(rep->stage, "compile") == 0);
    CHECK(strcmp(rep->file, "cands/broken.c") == 0);
    CHECK_MSG(rep->line == 4 && rep->col == 24, "at %d:%d", rep->line, rep->col);
    CHECK_STR_CONTAINS(rep->message, "expected ';'");
    CHECK_STR_CONTAINS(rep->snippet, "aa_silu(x)");
    aa_reports_free(&r);

    /* an undeclared function is an error before it is a link error */
    m = compile_load("implicit.c", HEAD "aa_t mixer(aa_layer *l, aa_t x) { system(\"x\"); return x; }\n", &r);
    CHECK(m == NULL);
    rep = find_rule(&r, "compile/error");
    CHECK(rep != NULL && rep->line == 2 && rep->col == 35);
    aa_reports_free(&r);
}

/* Sources of about n bytes that keep clang busy: one long sum (deep), or
 * thousands of small functions (wide). */
static char *huge_source(size_t n, int wide)
{
    char *s = malloc(n + 1);
    size_t k = (size_t)snprintf(s, n, HEAD "%s", wide ? "" : "float f(float x) { return x");
    for (int i = 0; k + 64 < n; i++)
        k += wide ? (size_t)snprintf(s + k, n - k, "float f%d(float x) { return x * %d.5f + tanhf(x); }\n", i, i % 97)
                  : (size_t)snprintf(s + k, n - k, " + x * %d.5f", i % 1000);
    snprintf(s + k, n + 1 - k, "%s", wide ? "" : ";}\n");
    return s;
}

static void expect_compile_failure(const char *path, char *text, double timeout_s, size_t max_output,
                                   const char *rule, const char *or_rule)
{
    jit_source src;
    CHECK(jit_source_from_string(path, text, &src) == 0);
    free(text);
    jit_compile_opts o = opts(0);
    o.timeout_s = timeout_s;
    o.max_output = max_output;
    jit_bitcode bc;
    aa_reports r = {0};
    CHECK(jit_compile(&src, &o, &bc, &r) == -1);
    CHECK_MSG(find_rule(&r, rule) || (or_rule && find_rule(&r, or_rule)), "%s: expected %s", path, rule);
    if (r.n) CHECK(strcmp(r.items[r.n - 1].file, path) == 0 && strcmp(r.items[r.n - 1].stage, "compile") == 0);
    jit_source_free(&src);
    aa_reports_free(&r);
}

TEST(compile_limits)
{
    /* about 2 s of work for clang, stopped at 0.3 s */
    expect_compile_failure("wide.c", huge_source((1 << 20) - 64, 1), 0.3, 0, "compile/timeout", NULL);
    /* clang overflows its stack on this one, or runs out of time: never ours */
    expect_compile_failure("deep.c", huge_source((1 << 20) - 64, 0), 0.3, 0, "compile/crash", "compile/timeout");
    /* a flood of diagnostics is cut off */
    expect_compile_failure("noisy.c", strdup(HEAD "aa_t mixer(aa_layer *l, aa_t x) { a; b; c; d; e; f; g; }\n"),
                           10, 100, "compile/output-limit", NULL);
}

TEST(missing_clang)
{
    jit_source src;
    jit_source_from_string("c.c", HEAD "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &src);
    setenv("ASIARCH_CLANG", "/nonexistent/bin/clang-14", 1);
    jit_compile_opts o = opts(0);
    jit_bitcode bc;
    aa_reports r = {0};
    CHECK(jit_compile(&src, &o, &bc, &r) == -1);
    const aa_report *rep = find_rule(&r, "compile/no-clang");
    CHECK(rep != NULL);
    if (rep) {
        CHECK_STR_CONTAINS(rep->message, "clang-14");
        CHECK_STR_CONTAINS(rep->message, "/nonexistent/bin/clang-14");
    }
    /* a bare name is looked up in PATH */
    setenv("ASIARCH_CLANG", "clang-14", 1);
    aa_reports_free(&r);
    CHECK(jit_compile(&src, &o, &bc, &r) == 0);
    jit_bitcode_free(&bc);
    unsetenv("ASIARCH_CLANG");
    CHECK(jit_compile(&src, &o, &bc, &r) == 0);   /* back to the configured clang */
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    aa_reports_free(&r);
}

/* ---- bounds checks trap ------------------------------------------------------------------------ */

TEST(out_of_bounds_index_traps)
{
    aa_reports r = {0};
    jit_module *m = compile_load("oob.c",
                                 HEAD "static const float widths[4] = {1, 2, 3, 4};\n"
                                      "aa_t mixer(aa_layer *l, aa_t x)\n"
                                      "{\n"
                                      "    return aa_scale(x, widths[aa_dim(l, AA_LAYER) + 3]);\n"
                                      "}\n", &r);
    CHECK(m != NULL);
    if (!m) { print_reports(&r); return; }
    char *ir = jit_llvm_ir(m);
    CHECK_MSG(ir && (strstr(ir, "llvm.ubsantrap") || strstr(ir, "llvm.trap")), "no trap in the IR");
    free(ir);
    jit_unload(m);   /* not run: a trap is the sandbox's business */
    aa_reports_free(&r);
}

/* ---- the cache ------------------------------------------------------------------------------- */

/* Defence in depth for the stack: frames are probed page by page
 * (stack-clash protection), and a function whose locals need more than
 * the frame limit is refused at load, at its line. */
TEST(stack_frames_are_bounded)
{
    aa_reports r = {0};
    jit_module *m = compile_load("small.c", HEAD "aa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &r);
    CHECK(m != NULL);
    char *ir = jit_llvm_ir(m);
    CHECK(ir && strstr(ir, "probe-stack"));
    free(ir);
    jit_unload(m);
    aa_reports_free(&r);

    const char *big = HEAD
        "float fill(int k)\n"
        "{\n"
        "    double a[4096], b[4096], c[4096], d[4096], e[4096], f[4096], g[4096], h[4096], u[4096], s = 0;\n"
        "    for (int i = 0; i < 4096; i++) { a[i] = i * k; b[i] = a[i] + 1; c[i] = b[i] * 2; d[i] = c[i] - a[i]; }\n"
        "    for (int i = 0; i < 4096; i++) { e[i] = d[i] * b[i]; f[i] = e[i] + c[i]; g[i] = f[i] - e[i]; h[i] = g[i] * 3; u[i] = h[(i * 13) % 4096]; }\n"
        "    for (int i = 0; i < 4096; i++) s += a[(i * 7 + k) % 4096] + b[(i * 5) % 4096] + c[i] + d[(i * 3) % 4096] + e[i] + f[(i + k) % 4096] + g[i] + h[(i * 11) % 4096] + u[(i * 17) % 4096];\n"
        "    return (float)s;\n"
        "}\n"
        "aa_t mixer(aa_layer *l, aa_t x) { return aa_scale(x, fill(aa_dim(l, AA_LAYER)) * 0.0f + 1.0f); }\n";
    m = compile_load("big.c", big, &r);
    CHECK(m == NULL);
    const aa_report *rep = find_rule(&r, "link/frame");
    CHECK_MSG(rep != NULL, "%s", r.n ? r.items[0].message : "no report");
    if (rep) CHECK(rep->line >= 2 && strstr(rep->message, "bytes of stack"));
    jit_unload(m);
    aa_reports_free(&r);
}

TEST(corrupt_cache_entry_is_replaced)
{
    jit_source src;
    jit_source_from_string("c.c", HEAD "AA_NAME(\"cached\");\naa_t mixer(aa_layer *l, aa_t x) { return aa_neg(x); }\n",
                           &src);
    jit_compile_opts o = opts(1);
    jit_bitcode a, b;
    aa_reports r = {0};
    CHECK(jit_compile(&src, &o, &a, &r) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/bitcode/%s.bc", cache_dir, a.key);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {   /* keep the magic, damage the rest */
        fseek(f, (long)a.len / 2, SEEK_SET);
        for (int i = 0; i < 64; i++) fputc(0xA5, f);
        fclose(f);
    }
    CHECK(jit_compile(&src, &o, &b, &r) == 0);
    CHECK(!b.from_cache && b.len == a.len && memcmp(a.data, b.data, a.len) == 0);
    jit_bitcode_free(&b);
    CHECK(jit_compile(&src, &o, &b, &r) == 0);
    CHECK(b.from_cache);   /* the entry was rewritten */

    /* use_cache = 0 neither reads nor writes */
    unlink(path);
    o.use_cache = 0;
    jit_bitcode_free(&b);
    CHECK(jit_compile(&src, &o, &b, &r) == 0);
    CHECK(!b.from_cache && access(path, F_OK) != 0);
    jit_bitcode_free(&a);
    jit_bitcode_free(&b);
    jit_source_free(&src);
    CHECK(r.n == 0);
    aa_reports_free(&r);
}

TEST(bitcode_does_not_depend_on_the_cache_dir)
{
    /* same source, different header locations (another cache, and none at
     * all: /proc cannot hold one, so the header goes to a temporary dir) */
    jit_source src;
    jit_source_read(ASIARCH_SOURCE_DIR "/arch/delta_net.c", &src, NULL);
    char other[300];
    snprintf(other, sizeof other, "%s/other", cache_dir);
    const char *dirs[] = {cache_dir, other, "/proc/asiarch-cannot-be-here"};
    jit_bitcode bc[3];
    aa_reports r = {0};
    for (int i = 0; i < 3; i++) {
        jit_compile_opts o = opts(i == 1);
        o.cache_dir = dirs[i];
        CHECK(jit_compile(&src, &o, &bc[i], &r) == 0);
    }
    print_reports(&r);
    for (int i = 1; i < 3; i++)
        CHECK_MSG(bc[i].len == bc[0].len && memcmp(bc[i].data, bc[0].data, bc[0].len) == 0 &&
                  strcmp(bc[i].key, bc[0].key) == 0, "compile %d differs", i);
    for (int i = 0; i < 3; i++) jit_bitcode_free(&bc[i]);
    jit_source_free(&src);
    aa_reports_free(&r);
}

TEST(default_cache_dir_follows_xdg)
{
    char xdg[300];
    snprintf(xdg, sizeof xdg, "%s/xdg", cache_dir);
    const char *old = getenv("XDG_CACHE_HOME");
    char *saved = old ? strdup(old) : NULL;
    setenv("XDG_CACHE_HOME", xdg, 1);
    jit_source src;
    jit_source_from_string("c.c", HEAD "aa_t mixer(aa_layer *l, aa_t x) { return aa_exp(x); }\n", &src);
    jit_compile_opts o;
    jit_compile_defaults(&o);   /* cache_dir NULL */
    jit_bitcode bc;
    aa_reports r = {0};
    CHECK(jit_compile(&src, &o, &bc, &r) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/asiarch/bitcode/%s.bc", xdg, bc.key);
    CHECK_MSG(access(path, F_OK) == 0, "%s was not written", path);
    if (saved) setenv("XDG_CACHE_HOME", saved, 1);
    else unsetenv("XDG_CACHE_HOME");
    free(saved);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    aa_reports_free(&r);
}

/* ---- many loads in one process --------------------------------------------------------------- */

TEST(load_unload_many)
{
    /* Run under AddressSanitizer's leak checker (the sanitizer build runs
     * this test): LLVM's per-JIT memory must all come back. */
    jit_source src;
    jit_source_read(ASIARCH_SOURCE_DIR "/arch/gla.c", &src, NULL);
    jit_compile_opts o = opts(1);
    jit_bitcode bc;
    aa_reports r = {0};
    CHECK(jit_compile(&src, &o, &bc, &r) == 0);
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        jit_module *m = jit_load(&bc, &src, &r);
        ok += m && jit_mixer(m) && strcmp(jit_name(m), "gla") == 0;
        jit_unload(m);
    }
    CHECK(ok == 50 && r.n == 0);
    jit_bitcode_free(&bc);
    jit_source_free(&src);
    aa_reports_free(&r);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int main(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/asiarch-test-jit-XXXXXX");
    if (!mkdtemp(cache_dir)) { perror("mkdtemp"); return 1; }
    RUN(allowed_symbols_are_the_header);
    RUN(source_read_errors);
    RUN(arch_files_compile_load_and_build);
    RUN(name_falls_back_to_the_file_stem);
    RUN(link_refuses_undeclared_functions);
    RUN(link_refuses_outside_variables);
    RUN(link_refuses_jit_internals_and_redefinitions);
    RUN(no_mixer);
    RUN(loader_refuses_hand_written_bitcode);
    RUN(lookup_finds_only_the_candidates_functions);
    RUN(syntax_error_points_at_the_users_file);
    RUN(compile_limits);
    RUN(missing_clang);
    RUN(out_of_bounds_index_traps);
    RUN(stack_frames_are_bounded);
    RUN(corrupt_cache_entry_is_replaced);
    RUN(bitcode_does_not_depend_on_the_cache_dir);
    RUN(default_cache_dir_follows_xdg);
    RUN(load_unload_many);
    nftw(cache_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
