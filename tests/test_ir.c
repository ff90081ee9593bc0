/*
 * test_ir.c — the graph IR: building, line-accurate errors, verifier,
 * parameter and FLOP counts, structural hash, the printer, and the memory
 * planner's reuse.
 */
#include <stdlib.h>

#include "arch.h"
#include "runtime.h"
#include "test.h"

static ir_dims tiny_dims(void)
{
    return (ir_dims){.vocab = 256, .model = 32, .heads = 2, .layers = 2, .batch = 2, .time = 24, .chunk = 64,
                     .mlp_hidden = rt_mlp_hidden(32)};
}

/* Two spellings of one structure: other variable and parameter names, and
 * independent statements in another order. */
static aa_t mixer_a(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_l2norm(aa_split_heads(aa_linear(l, "q", x, d), h));
    aa_t k = aa_l2norm(aa_split_heads(aa_linear(l, "k", x, d), h));
    aa_t v = aa_split_heads(aa_silu(aa_linear(l, "v", x, d)), h);
    return aa_linear(l, "o", aa_merge_heads(aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, 0)), d);
}

static aa_t mixer_b(aa_layer *l, aa_t input)
{
    int width = aa_dim(l, AA_MODEL), heads = aa_dim(l, AA_HEADS);
    aa_t values = aa_split_heads(aa_silu(aa_linear(l, "value", input, width)), heads);
    aa_t keys = aa_l2norm(aa_split_heads(aa_linear(l, "key", input, width), heads));
    aa_t queries = aa_l2norm(aa_split_heads(aa_linear(l, "query", input, width), heads));
    aa_t mixed = aa_linattn(queries, keys, values, AA_NONE, AA_NONE, 0.0f, 0);
    return aa_linear(l, "out", aa_merge_heads(mixed), width);
}

/* Same as mixer_a but v skips the SiLU: a different structure. */
static aa_t mixer_c(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_l2norm(aa_split_heads(aa_linear(l, "q", x, d), h));
    aa_t k = aa_l2norm(aa_split_heads(aa_linear(l, "k", x, d), h));
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    return aa_linear(l, "o", aa_merge_heads(aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, 0)), d);
}

static int bad_line;
static aa_t mixer_shape_error(aa_layer *l, aa_t x)
{
    aa_t y = aa_linear(l, "p", x, 48);
    bad_line = __LINE__ + 1;
    return aa_add(x, y);
}

static aa_t mixer_duplicate(aa_layer *l, aa_t x)
{
    aa_t y = aa_linear(l, "p", x, aa_dim(l, AA_MODEL));
    bad_line = __LINE__ + 1;
    return aa_linear(l, "p", y, aa_dim(l, AA_MODEL));
}

static aa_t mixer_bad_init(aa_layer *l, aa_t x)
{
    aa_t w = aa_param1(l, "w", aa_dim(l, AA_MODEL), AA_INIT_UNIFORM(1.0f, -1.0f));
    return aa_mul(x, w);
}

static aa_t mixer_wrong_output(aa_layer *l, aa_t x) { return aa_linear(l, "p", x, 7); }
static aa_t mixer_none(aa_layer *l, aa_t x) { (void)l; (void)x; return AA_NONE; }

static aa_t mixer_delta_without_beta(aa_layer *l, aa_t x)
{
    aa_t q = aa_split_heads(x, aa_dim(l, AA_HEADS));
    bad_line = __LINE__ + 1;
    return aa_merge_heads(aa_delta_rule(q, q, q, AA_NONE, AA_NONE));
}

static uint64_t hash_of(rt_mixer_fn f)
{
    char err[256];
    ir_dims d = tiny_dims();
    ir_graph *g = rt_build(&d, f, "t.c", err, sizeof err);
    if (!g) { fprintf(stderr, "%s\n", err); return 0; }
    uint64_t h = ir_structural_hash(g);
    ir_graph_free(g);
    return h;
}

static void expect_error(rt_mixer_fn f, const char *want)
{
    char err[512] = "";
    ir_dims d = tiny_dims();
    ir_graph *g = rt_build(&d, f, "cand.c", err, sizeof err);
    CHECK(g == NULL);
    CHECK_STR_CONTAINS(err, want);
    ir_graph_free(g);
}

/* q and k from one projection (tied), and from two of the same shape. */
static aa_t mixer_tied(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t qk = aa_linear(l, "qk", x, d);
    aa_t q = aa_l2norm(aa_split_heads(qk, h)), k = aa_l2norm(aa_split_heads(qk, h));
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    return aa_linear(l, "o", aa_merge_heads(aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, 0)), d);
}

static aa_t mixer_untied(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_l2norm(aa_split_heads(aa_linear(l, "q", x, d), h));
    aa_t k = aa_l2norm(aa_split_heads(aa_linear(l, "k", x, d), h));
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    return aa_linear(l, "o", aa_merge_heads(aa_linattn(q, k, v, AA_NONE, AA_NONE, 0.0f, 0)), d);
}

/* A per-channel scale applied twice with the same weight, and with two
 * weights of the same shape: y = w*x + w*x versus y = w*x + v*x. */
static aa_t mixer_shared_twice(aa_layer *l, aa_t x)
{
    aa_t w = aa_param1(l, "w", aa_dim(l, AA_MODEL), AA_INIT_DEFAULT);
    return aa_add(aa_mul(x, w), aa_mul(x, w));
}

static aa_t mixer_two_weights(aa_layer *l, aa_t x)
{
    aa_t w = aa_param1(l, "w", aa_dim(l, AA_MODEL), AA_INIT_DEFAULT);
    aa_t v = aa_param1(l, "v", aa_dim(l, AA_MODEL), AA_INIT_DEFAULT);
    return aa_add(aa_mul(x, w), aa_mul(x, v));
}

/* Parameters count as what they are: shared or separate weights of the
 * same shape give different hashes (the designs have different sizes). */
TEST(structural_hash_tells_shared_parameters)
{
    CHECK(hash_of(mixer_tied) != hash_of(mixer_untied));
    CHECK(hash_of(mixer_shared_twice) != hash_of(mixer_two_weights));
}

/* Sizes out of range are build errors at the candidate's line, computed
 * without overflow: a window past INT_MAX, padding that wraps, a reshape
 * whose dimensions multiply to the right count only modulo 2^64. */
static aa_t mixer_slice_overflow(aa_layer *l, aa_t x) { bad_line = __LINE__; return aa_slice(x, 2, 2147483647, 1); }
static aa_t mixer_pad_overflow(aa_layer *l, aa_t x) { bad_line = __LINE__; return aa_pad(x, 2, 2147483647, 2147483647); }
static aa_t mixer_reshape_wrap(aa_layer *l, aa_t x)
{
    /* 1229673 * 3935371 * 7623851 = 2 * 2^64 + 1 */
    bad_line = __LINE__ + 1;
    aa_t y = aa_reshape4(x, 1229673, 3935371, 7623851, 2 * 24 * 32);
    return aa_reshape3(y, 2, 24, 32);
}
static aa_t mixer_huge_param(aa_layer *l, aa_t x)
{
    bad_line = __LINE__ + 1;
    aa_t p = aa_param3(l, "p", 1 << 24, 1 << 24, 1 << 24, AA_INIT_DEFAULT);
    return aa_add(x, aa_slice(aa_slice(aa_slice(p, 0, 0, 1), 1, 0, 24), 2, 0, 32));
}
static aa_t mixer_concat_overflow(aa_layer *l, aa_t x)
{
    aa_t y = x;
    for (int i = 0; i < 40; i++) y = aa_concat(y, y, 1);   /* 24 * 2^40 positions */
    return aa_slice(y, 1, 0, 24);
}

TEST(size_overflow_is_a_build_error)
{
    char want[160];
    mixer_slice_overflow(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_slice: window [2147483647, 2147483648) is outside axis 2", bad_line);
    expect_error(mixer_slice_overflow, want);
    mixer_pad_overflow(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_pad: padding (2147483647, 2147483647) must be", bad_line);
    expect_error(mixer_pad_overflow, want);
    mixer_reshape_wrap(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_reshape: cannot reshape [2,24,32] (1536 elements) into more than",
             bad_line);
    expect_error(mixer_reshape_wrap, want);
    mixer_huge_param(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_param: the result [16777216,16777216,16777216] would have more than",
             bad_line);
    expect_error(mixer_huge_param, want);
    expect_error(mixer_concat_overflow, "aa_concat: the result");
}

TEST(structural_hash_ignores_names_and_order)
{
    uint64_t a = hash_of(mixer_a), b = hash_of(mixer_b), c = hash_of(mixer_c);
    CHECK(a != 0);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a == hash_of(mixer_a));   /* deterministic */
}

TEST(shape_error_names_the_line)
{
    char want[128];
    mixer_shape_error(NULL, AA_NONE);   /* sets bad_line; no graph current: records nothing */
    snprintf(want, sizeof want, "cand.c:%d: aa_add: cannot broadcast [2,24,32] with [2,24,48]", bad_line);
    expect_error(mixer_shape_error, want);
}

TEST(duplicate_parameter_is_rejected)
{
    char want[160];
    mixer_duplicate(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_linear: parameter 'layers.0.mixer.p.weight' is already defined",
             bad_line);
    expect_error(mixer_duplicate, want);
}

TEST(mixer_output_must_match_input)
{
    expect_error(mixer_wrong_output, "mixer() returned [2,24,7]; expected the input shape [2,24,32]");
    expect_error(mixer_none, "returned AA_NONE");
    expect_error(mixer_bad_init, "aa_param: invalid initialiser (kind 2, 1, -1)");
    char want[128];
    mixer_delta_without_beta(NULL, AA_NONE);
    snprintf(want, sizeof want, "cand.c:%d: aa_delta_rule: the delta rule (AA_DELTA) needs beta", bad_line);
    expect_error(mixer_delta_without_beta, want);
}

TEST(references_build_and_verify)
{
    int n;
    const arch_ref *refs = arch_all(&n);
    CHECK(n >= 6);
    for (int i = 0; i < n; i++) {
        char err[512];
        ir_dims d = tiny_dims();
        ir_graph *g = rt_build(&d, refs[i].mixer, refs[i].file, err, sizeof err);
        CHECK_MSG(g != NULL, "%s: %s", refs[i].name, err);
        if (!g) continue;
        CHECK_MSG(ir_verify(g, err, sizeof err) == 0, "%s: %s", refs[i].name, err);
        CHECK(ir_param_count(g) > 0);
        /* Sub-quadratic: doubling T at most ~doubles the FLOPs. */
        double f1 = ir_flops_forward(g);
        ir_graph_free(g);
        d.time *= 2;
        g = rt_build(&d, refs[i].mixer, refs[i].file, err, sizeof err);
        CHECK(g && ir_flops_forward(g) <= 2.1 * f1);
        ir_graph_free(g);
    }
}

TEST(deltanet_parameter_count)
{
    char err[256];
    ir_dims d = tiny_dims();
    const arch_ref *ref = arch_find("delta_net");
    ir_graph *g = rt_build(&d, ref->mixer, ref->file, err, sizeof err);
    CHECK(g != NULL);
    if (!g) return;
    long D = d.model, H = d.heads, F = d.mlp_hidden;
    long mixer = 4 * D * D + 3 * D * 4 + H * D + D / H;   /* q,k,v,o; convs; beta; o_norm */
    long block = mixer + 2 * D + 3 * D * F;                /* norms; SwiGLU */
    long want = d.vocab * D + d.layers * block + D;        /* embedding (tied); final norm */
    CHECK(ir_param_count(g) == want);
    ir_graph_free(g);
}

TEST(verifier_catches_corruption)
{
    char err[256];
    ir_dims d = tiny_dims();
    ir_graph *g = rt_build(&d, mixer_a, "t.c", err, sizeof err);
    CHECK(g != NULL);
    if (!g) return;
    CHECK(ir_verify(g, err, sizeof err) == 0);
    int victim = g->n_nodes - 3;
    int saved = g->nodes[victim].shape[0];
    g->nodes[victim].shape[0] += 1;
    CHECK(ir_verify(g, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "recorded shape");
    g->nodes[victim].shape[0] = saved;
    g->nodes[victim].in[0] = victim;   /* a cycle */
    CHECK(ir_verify(g, err, sizeof err) < 0);
    CHECK_STR_CONTAINS(err, "not an earlier node");
    ir_graph_free(g);
}

TEST(printer_shows_ops_lines_and_hash)
{
    char err[256];
    ir_dims d = tiny_dims();
    const arch_ref *ref = arch_find("delta_net");
    ir_graph *g = rt_build(&d, ref->mixer, ref->file, err, sizeof err);
    CHECK(g != NULL);
    if (!g) return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(g, f);
    fclose(f);
    CHECK_STR_CONTAINS(buf, "linattn(");
    CHECK_STR_CONTAINS(buf, "delta=1 gate=none form=chunk chunk=64");
    CHECK_STR_CONTAINS(buf, "param \"layers.1.mixer.q_conv.weight\"");
    CHECK_STR_CONTAINS(buf, "structural hash");
    CHECK_STR_CONTAINS(buf, "line ");
    free(buf);
    ir_graph_free(g);
}

TEST(planner_reuses_memory_by_liveness)
{
    char err[256];
    ir_dims d = tiny_dims();
    const arch_ref *ref = arch_find("delta_net");
    ir_graph *g1 = rt_build(&d, ref->mixer, ref->file, err, sizeof err);
    ir_graph *g2 = rt_build(&d, ref->mixer, ref->file, err, sizeof err);
    rt_model *train = rt_model_new(g1, 1, err, sizeof err), *infer = rt_model_new(g2, 0, err, sizeof err);
    CHECK(train && infer);
    if (!train || !infer) return;
    rt_memory mt = rt_model_memory(train), mi = rt_model_memory(infer);
    size_t all_acts = 0;
    for (int i = 1; i < g1->n_nodes; i++)
        if (g1->nodes[i].op != IR_PARAM) all_acts += ir_numel(&g1->nodes[i]) * sizeof(float);
    /* Forward-only activations reuse buffers; gradients are reused too. */
    CHECK(mi.activations < mt.activations / 2);
    CHECK(mt.gradients < all_acts / 2);
    /* Same results either way. */
    rt_model_init_params(train, 3);
    rt_model_copy_params(infer, train);
    int32_t tok[2 * 24], tgt[2 * 24];
    for (int i = 0; i < 48; i++) { tok[i] = (i * 37) % 256; tgt[i] = (i * 11) % 256; }
    CHECK(rt_forward(train, tok, tgt) == rt_forward(infer, tok, tgt));
    rt_model_free(train);
    rt_model_free(infer);
}

int main(void)
{
    RUN(structural_hash_ignores_names_and_order);
    RUN(structural_hash_tells_shared_parameters);
    RUN(size_overflow_is_a_build_error);
    RUN(shape_error_names_the_line);
    RUN(duplicate_parameter_is_rejected);
    RUN(mixer_output_must_match_input);
    RUN(references_build_and_verify);
    RUN(deltanet_parameter_count);
    RUN(verifier_catches_corruption);
    RUN(printer_shows_ops_lines_and_hash);
    RUN(planner_reuses_memory_by_liveness);
    return test_summary();
}
