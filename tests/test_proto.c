/*
 * test_proto.c — kernel files of `asiarch jit` (proto/), in process: the
 * declaration parser and its errors at file:line:col, the expressions,
 * --set, the size limits, the C trampoline, the half-precision
 * conversions of asiarch_kernel.h, naming a fault from its address, and
 * kp_run with host functions as programs (comparison, tolerances, timing).
 * The sandboxed runs of real files are in test_jit_cli.c.
 */
#include <stdlib.h>
#include <string.h>

#include "asiarch_kernel.h"
#include "proto.h"
#include "test.h"

static int parse(const char *text, kp_spec *s, aa_reports *r)
{
    jit_source src;
    jit_source_from_string("k.c", text, &src);
    int n = kp_spec_parse(&src, KP_C, s, r);
    jit_source_free(&src);
    return n;
}

static const aa_report *find_rule(const aa_reports *r, const char *rule, int line)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->items[i].rule, rule) && (line == 0 || r->items[i].line == line)) return &r->items[i];
    return NULL;
}

static const char *SCALE =
    "/*\n"
    " * @kernel scale\n"
    " * @param n = 64\n"
    " * @param m = 2 * n + 1\n"
    " * @in x: f32[n] = normal(0, 2)\n"
    " * @inout acc: f32[m] = constant(0.5)\n"
    " * @in idx: i32[cdiv(n, 3)] = arange(1, 2)\n"
    " * @out y: bf16[n]\n"
    " * @bytes 4 * (n + m)\n"
    " * @flops n\n"
    " */\n"
    "// a comment with @ in prose: user@example.com\n"
    "void scale(const float *restrict x, float *acc, const int *idx, uint16_t *y, int n, long long m)\n"
    "{\n"
    "    y[0] = (uint16_t)(x[0] + acc[0] + (float)idx[0] + (float)n + (float)m);\n"
    "}\n";

TEST(a_declaration_parses)
{
    kp_spec s;
    aa_reports r = {0};
    CHECK(parse(SCALE, &s, &r) == 0);
    for (int i = 0; i < r.n; i++) aa_report_print(&r.items[i], stderr);
    CHECK(!strcmp(s.entry, "scale") && s.entry_line == 2);
    CHECK(s.n_params == 2 && s.params[1].value == 129);
    CHECK(s.n_bufs == 4);
    CHECK(s.bufs[0].init == KP_INIT_NORMAL && s.bufs[0].a == 0 && s.bufs[0].b == 2);
    CHECK(s.bufs[1].role == KP_INOUT && s.bufs[1].init == KP_INIT_CONSTANT && s.bufs[1].a == 0.5);
    CHECK(s.bufs[2].type == KP_I32 && s.bufs[2].init == KP_INIT_ARANGE && s.bufs[2].b == 2);
    CHECK(s.bufs[3].type == KP_BF16 && s.bufs[3].role == KP_OUT && s.bufs[3].init == KP_INIT_ZERO);
    /* the entry's order, not the declaration's */
    CHECK(s.n_args == 6);
    CHECK(s.args[3].buffer && s.args[3].index == 3);
    CHECK(!s.args[4].buffer && s.args[4].width == 4 && s.args[4].is_signed);
    CHECK(!s.args[5].buffer && s.args[5].width == 8 && s.args[5].index == 1);
    kp_sizes z;
    char err[200];
    CHECK(kp_spec_sizes(&s, &z, err, sizeof err) == 0);
    CHECK(z.elems[2] == 22 && z.bytes == 4 * (64 + 129) && z.flops == 64);
    CHECK(z.total_bytes == 64 * 4 + 129 * 4 + 22 * 4 + 64 * 2);
    aa_reports_free(&r);
}

TEST(set_and_expressions)
{
    kp_spec s;
    aa_reports r = {0};
    CHECK(parse(SCALE, &s, &r) == 0);
    char err[300];
    CHECK(kp_spec_set(&s, "n=1000", err, sizeof err) == 0 && s.params[0].value == 1000);
    CHECK(kp_spec_set(&s, "m = n * 3 - max(1, min(4, 2)) + 10 % 4", err, sizeof err) == 0);
    CHECK(s.params[1].value == 3000 - 2 + 2);
    CHECK(kp_spec_set(&s, "k=4", err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "declares no @param k (it declares: n, m)");
    CHECK(kp_spec_set(&s, "n=4/0", err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "division by zero");
    CHECK(kp_spec_set(&s, "n=9223372036854775807 * 2", err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "overflows");
    CHECK(kp_spec_set(&s, "n=1.5", err, sizeof err) < 0);
    CHECK(kp_spec_set(&s, "n", err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "NAME=VALUE");
    /* sizes out of range are refused before anything is allocated */
    CHECK(kp_spec_set(&s, "n=0", err, sizeof err) == 0);
    kp_sizes z;
    CHECK(kp_spec_sizes(&s, &z, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "the size of x = n is 0");
    CHECK(kp_spec_set(&s, "n=8000000000", err, sizeof err) == 0);
    CHECK(kp_spec_sizes(&s, &z, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "GiB together");
    aa_reports_free(&r);
}

TEST(declaration_errors_point_at_what_is_wrong)
{
    static const char *bad =
        "/*\n"
        " * @kernel f\n"
        " * @param n = 10\n"
        " * @in x: f64[n]\n"               /* 4: type */
        " * @in z: f32[q]\n"               /* 5: unknown name */
        " * @out y: f32[n] = zero\n"       /* 6: init on @out */
        " * @in w: f32 n\n"                /* 7: no [size] */
        " * @param n = 3\n"                /* 8: twice */
        " * @in u: f32[n] = uniform(1)\n"  /* 9: arity */
        " * @frob 1\n"                     /* 10: unknown directive */
        " */\n"
        "void f(float *x, int n) { x[0] = (float)n; }\n";
    kp_spec s;
    aa_reports r = {0};
    CHECK(parse(bad, &s, &r) >= 8);
    const aa_report *e;
    CHECK((e = find_rule(&r, "kernel/spec", 4)) && e->col == 11 && strstr(e->message, "f32, f16, bf16, i32"));
    CHECK((e = find_rule(&r, "kernel/spec", 5)) && e->col == 15 && strstr(e->message, "'q' is not a declared @param"));
    CHECK((e = find_rule(&r, "kernel/spec", 6)) && strstr(e->message, "@inout"));
    CHECK((e = find_rule(&r, "kernel/spec", 7)) && strstr(e->message, "[SIZE]"));
    CHECK((e = find_rule(&r, "kernel/spec", 8)) && strstr(e->message, "declared twice"));
    CHECK((e = find_rule(&r, "kernel/spec", 9)) && strstr(e->message, "uniform takes 2 to 2 numbers"));
    CHECK((e = find_rule(&r, "kernel/spec", 10)) && e->col == 4 && strstr(e->message, "unknown directive @frob"));
    CHECK(find_rule(&r, "kernel/spec", 6) && find_rule(&r, "kernel/spec", 6)->snippet[0]);
    aa_reports_free(&r);

    CHECK(parse("void f(float *x) { x[0] = 1; }\n", &s, &r) == 1);
    CHECK((e = find_rule(&r, "kernel/spec", 0)) && strstr(e->message, "no @kernel declaration"));
    aa_reports_free(&r);
}

TEST(the_signature_must_match_the_declaration)
{
    static const char *head = "/* @kernel f\n * @param n = 4\n * @in x: f32[n]\n * @out y: i32[n]\n */\n";
    static const struct { const char *def, *want; } cases[] = {
        {"void f(const int *x, int *y, int n) {}", "must be a pointer to float, not 'int *'"},
        {"void f(const float *x, int *y, float n) {}", "@param n is an integer"},
        {"void f(const float *x, int *y, int n, int k) {}", "parameter k of f is neither"},
        {"void f(const float *x, int n) {}", "buffer y is declared but f takes no parameter"},
        {"void f(const float *x, int *y, int n, int *y2, int n2) {}", "neither"},
        {"void f(const float **x, int *y, int n) {}", "must be a pointer to float"},
        {"void g(const float *x, int *y, int n) {}", "defines no function of that name"},
        {"void f(const float *x, int *y, int n);\n", "defines no function of that name"},
        {"void f(const float *x, int *y, int n) {}\nvoid f(const float *x, int *y, int n) {}", "more than once"},
        {"void f(const float *x, int *y, int n, const float *x) {}", "passed twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s\n", head, cases[i].def);
        kp_spec s;
        aa_reports r = {0};
        CHECK_MSG(parse(text, &s, &r) > 0, "%s", cases[i].def);
        const aa_report *e = find_rule(&r, "kernel/signature", 0);
        CHECK_MSG(e && strstr(e->message, cases[i].want), "%s: %s", cases[i].def, e ? e->message : "(no report)");
        aa_reports_free(&r);
    }
    /* comments, strings and line breaks inside the list do not confuse it */
    kp_spec s;
    aa_reports r = {0};
    char text[1024];
    snprintf(text, sizeof text, "%svoid f(const float *x /* in, (a), b */,\n       int32_t *y, // out\n       int n)\n{\n}\n", head);
    CHECK(parse(text, &s, &r) == 0 && s.n_args == 3 && s.args[2].index == 0 && !s.args[2].buffer);
    aa_reports_free(&r);
}

TEST(the_trampoline_calls_in_the_entrys_order)
{
    kp_spec s;
    aa_reports r = {0};
    CHECK(parse(SCALE, &s, &r) == 0);
    jit_source src;
    jit_source_from_string("k.c", SCALE, &src);
    char *text = kp_c_source(&s, &src);
    CHECK(text && !strncmp(text, SCALE, strlen(SCALE)));   /* the file's lines do not move */
    CHECK_STR_CONTAINS(text, "void " KP_TRAMPOLINE "(void *const *b, const long long *p) { scale(b[0], b[1], b[2], b[3], p[0], p[1]); }");
    free(text);
    jit_source_free(&src);
    aa_reports_free(&r);
}

TEST(cuda_rules)
{
    static const char *text =
        "/* @kernel k\n * @param n = 4\n * @out y: f32[n]\n * @grid 1\n * @block n\n */\n"
        "#include <asiarch_kernel.h>\n"
        "#include <stdio.h>\n"
        "AK_KERNEL void k(float *y, int n) {\n"
        "    asm(\"trap;\"); printf(\"x\"); float *p = (float *)malloc(4);\n"
        "    const char *s = \"printf in a string is fine\"; // so is malloc in a comment\n"
        "    y[0] = p[0]; my_printf_helper(); }\n";
    jit_source src;
    jit_source_from_string("k.cu", text, &src);
    aa_reports r = {0};
    CHECK(kp_check_cuda(&src, &r) == 4);
    CHECK(find_rule(&r, "kernel/preprocessor", 8) && !find_rule(&r, "kernel/preprocessor", 7));
    const aa_report *e = find_rule(&r, "kernel/cuda-forbidden", 10);
    CHECK(e && e->col == 5 && strstr(e->message, "inline PTX"));
    int on_10 = 0;
    for (int i = 0; i < r.n; i++) on_10 += r.items[i].line == 10;
    CHECK(on_10 == 3);
    kp_spec s;
    aa_reports r2 = {0};
    CHECK(kp_spec_parse(&src, KP_CUDA, &s, &r2) == 0);
    kp_sizes z;
    char err[200];
    CHECK(kp_spec_sizes(&s, &z, err, sizeof err) == 0 && z.block[0] == 4 && z.grid[0] == 1 && z.block[2] == 1);
    CHECK(kp_spec_set(&s, "n=2000", err, sizeof err) == 0);
    CHECK(kp_spec_sizes(&s, &z, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "@block = n is 2000");
    jit_source_free(&src);
    aa_reports_free(&r);
    aa_reports_free(&r2);
}

TEST(half_precision_round_trips)
{
    /* exact values, rounding to nearest even, overflow, subnormals, NaN */
    CHECK(ak_f32_to_f16(1.0f) == 0x3c00 && ak_f16_to_f32(0x3c00) == 1.0f);
    CHECK(ak_f32_to_f16(-2.5f) == 0xc100);
    CHECK(ak_f32_to_f16(65504.0f) == 0x7bff && ak_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(ak_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);          /* a tie: to even */
    CHECK(ak_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);          /* a tie: to even, upwards */
    CHECK(ak_f32_to_f16(5.9604644775390625e-8f) == 0x0001);      /* the smallest subnormal */
    CHECK(ak_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    CHECK(ak_f16_to_f32(0x0400) == 6.103515625e-5f);             /* the smallest normal */
    CHECK(ak_f16_to_f32(ak_f32_to_f16(NAN)) != ak_f16_to_f32(ak_f32_to_f16(NAN)));
    CHECK(ak_f32_to_bf16(1.0f) == 0x3f80 && ak_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(ak_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80);           /* a tie: to even */
    CHECK(isnan(ak_bf16_to_f32(ak_f32_to_bf16(NAN))));
    /* every f16 value survives f16 -> f32 -> f16 */
    int bad = 0;
    for (unsigned h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;   /* NaNs */
        bad += ak_f32_to_f16(ak_f16_to_f32((ak_f16)h)) != h;
    }
    CHECK(bad == 0);
}

TEST(a_fault_is_named_by_its_buffer_and_element)
{
    kp_region r[2] = {
        {.name = "x", .lo = 0x10000, .hi = 0x10000 + 4000, .guard_lo = 0x0, .guard_hi = 0x20000, .elem_size = 4, .role = KP_IN, .kernel = "kernel"},
        {.name = "y", .lo = 0x40000, .hi = 0x40000 + 4000, .guard_lo = 0x30000, .guard_hi = 0x50000, .elem_size = 4, .role = KP_OUT, .kernel = "reference"},
    };
    char msg[300];
    CHECK(kp_describe_fault(r, 2, 0x40000 + 4000, msg, sizeof msg));
    CHECK_STR_CONTAINS(msg, "y[1000] in the reference: 1 element past the end of y (1000 elements)");
    CHECK(kp_describe_fault(r, 2, 0x10000 - 12, msg, sizeof msg));
    CHECK_STR_CONTAINS(msg, "x[-3] in the kernel: 3 elements before the start of x");
    CHECK(kp_describe_fault(r, 2, 0x10000 + 8, msg, sizeof msg));
    CHECK_STR_CONTAINS(msg, "a write to an input");
    CHECK(!kp_describe_fault(r, 2, 0x60000, msg, sizeof msg));
}

/* ---- kp_run with host functions as the programs ---------------------------------------------- */

static void twice(void *const *b, const long long *p)
{
    const float *x = b[0];
    float *y = b[1];
    for (long long i = 0; i < p[0]; i++) y[i] = 2 * x[i];
}

static void twice_off(void *const *b, const long long *p)
{
    twice(b, p);
    ((float *)b[1])[7] += 1e-3f;
}

static void twice_nan(void *const *b, const long long *p)
{
    twice(b, p);
    ((float *)b[1])[3] = NAN;
}

static const char *TWICE = "/* @kernel t\n * @param n = 1000\n * @in x: f32[n]\n * @out y: f32[n]\n */\n"
                           "void t(const float *x, float *y, int n) {}\n";

TEST(run_compares_with_the_reference)
{
    kp_spec ks, rs;
    aa_reports r = {0};
    CHECK(parse(TWICE, &ks, &r) == 0 && parse(TWICE, &rs, &r) == 0);
    kp_program k = {.spec = &ks, .call = twice}, ref = {.spec = &rs, .call = twice};
    kp_run_opts o;
    kp_run_opts_default(&o);
    kp_outcome out;
    char err[300];
    CHECK(kp_run(&k, &ref, &o, NULL, NULL, &out, err, sizeof err) == 0);
    CHECK(out.have_ref && !out.mismatch && out.n_outputs == 1 && out.outputs[0].compared);
    CHECK(out.outputs[0].max_abs == 0 && out.outputs[0].worst == -1);
    CHECK(out.kernel.reps == 0);   /* not timed unless asked */

    k.call = twice_off;
    CHECK(kp_run(&k, &ref, &o, NULL, NULL, &out, err, sizeof err) == 0);
    CHECK(out.mismatch && out.outputs[0].bad == 1 && out.outputs[0].worst == 7);
    CHECK_NEAR(out.outputs[0].max_abs, 1e-3, 1e-6);
    CHECK_NEAR(out.outputs[0].got - out.outputs[0].want, 1e-3, 1e-6);
    ks.tol = 0.01;   /* within a looser tolerance */
    CHECK(kp_run(&k, &ref, &o, NULL, NULL, &out, err, sizeof err) == 0 && !out.mismatch);

    k.call = twice_nan;
    CHECK(kp_run(&k, &ref, &o, NULL, NULL, &out, err, sizeof err) == 0);
    CHECK(out.mismatch && out.outputs[0].nonfinite == 1 && out.outputs[0].worst == 3);

    /* without a reference nothing is compared, and nothing fails */
    CHECK(kp_run(&k, NULL, &o, NULL, NULL, &out, err, sizeof err) == 0);
    CHECK(!out.have_ref && !out.mismatch && !out.outputs[0].compared);
    aa_reports_free(&r);
}

static int announced;
static void count_regions(void *ctx, const kp_region *r, int n)
{
    (void)ctx;
    announced += n == 2 && r[0].hi - r[0].lo == 4000 && r[1].guard_hi > r[1].hi;
}

TEST(run_times_and_announces_the_guarded_buffers)
{
    kp_spec ks;
    aa_reports r = {0};
    CHECK(parse(TWICE, &ks, &r) == 0);
    kp_program k = {.spec = &ks, .call = twice};
    kp_run_opts o;
    kp_run_opts_default(&o);
    o.bench = 1;
    o.warmup_ms = 1;
    o.rep_ms = 5;
    o.min_reps = 20;
    kp_outcome out;
    char err[300];
    announced = 0;
    CHECK(kp_run(&k, NULL, &o, count_regions, NULL, &out, err, sizeof err) == 0);
    CHECK(announced == 2);   /* the buffers at their upper guards, then at their lower ones */
    const kp_timing *t = &out.kernel;
    CHECK(t->reps >= 20 && t->reps <= o.max_reps);
    CHECK(t->min_s > 0 && t->min_s <= t->p20_s && t->p20_s <= t->median_s && t->median_s <= t->p80_s);
    o.checked = 0;
    announced = 0;
    CHECK(kp_run(&k, NULL, &o, count_regions, NULL, &out, err, sizeof err) == 0 && announced == 0);
    aa_reports_free(&r);
}

TEST(the_reference_must_agree_on_shapes)
{
    kp_spec ks, rs;
    aa_reports r = {0};
    CHECK(parse(TWICE, &ks, &r) == 0);
    CHECK(parse("/* @kernel t\n * @param n = 10\n * @param pad = 1\n * @in x: f32[n + pad]\n * @out y: f32[n]\n */\n"
                "void t(const float *x, float *y, int n) {}\n", &rs, &r) == 0);
    kp_program k = {.spec = &ks, .call = twice}, ref = {.spec = &rs, .call = twice};
    kp_run_opts o;
    kp_run_opts_default(&o);
    kp_outcome out;
    char err[300];
    CHECK(kp_run(&k, &ref, &o, NULL, NULL, &out, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "buffer x is f32[1000] in the kernel but f32[1001] in the reference");
    CHECK(rs.params[0].value == 1000);   /* took the kernel's n by name */
    aa_reports_free(&r);
}

int main(void)
{
    RUN(a_declaration_parses);
    RUN(set_and_expressions);
    RUN(declaration_errors_point_at_what_is_wrong);
    RUN(the_signature_must_match_the_declaration);
    RUN(the_trampoline_calls_in_the_entrys_order);
    RUN(cuda_rules);
    RUN(half_precision_round_trips);
    RUN(a_fault_is_named_by_its_buffer_and_element);
    RUN(run_compares_with_the_reference);
    RUN(run_times_and_announces_the_guarded_buffers);
    RUN(the_reference_must_agree_on_shapes);
    return test_summary();
}
