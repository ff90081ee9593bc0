/*
 * fuzz_graph.c — libFuzzer harness for the graph builder and the runtime
 * behind it (ir/, runtime/, kernels/).
 *
 * The input is a program of DSL calls: each step picks an op of asiarch.h
 * and its arguments (tensors made so far, AA_NONE, a handle that does not
 * exist, and integers and floats drawn from the extremes: 0, -1, INT_MAX,
 * INT_MIN, NaN, infinities, ...). A mixer that runs the program is built
 * into the model; then one training step runs, in-process, under
 * AddressSanitizer and UndefinedBehaviorSanitizer. The only acceptable
 * endings are a build error (a message naming the op) or a clean step:
 * a shape that overflows, a kernel reading out of bounds, an integer that
 * wraps, all crash here.
 *
 *   fuzz/run_fuzz.sh graph 60
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define MAX_HANDLES 64
#define MAX_STEPS 48
#define MAX_ELEMENTS ((size_t)1 << 22)   /* graphs bigger than this are skipped: slow, not wrong */

typedef struct program {
    const uint8_t *data;
    size_t len, pos;
} program;

static program prog;

static uint8_t byte(void) { return prog.pos < prog.len ? prog.data[prog.pos++] : 0; }

/* An integer argument: mostly small and plausible, sometimes extreme. */
static int int_arg(void)
{
    static const int extremes[] = {0, -1, 1, 2, 3, 4, 8, 16, 64, 65, 127, 1 << 20, 1 << 30, INT_MAX, INT_MIN,
                                   -2, -3, -4, INT_MAX - 1, 1 << 24, 46341, 65536};
    uint8_t b = byte();
    if (b < 128) return b % 20 - 4;
    return extremes[b % (sizeof extremes / sizeof *extremes)];
}

static float float_arg(void)
{
    static const float extremes[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-30f, 1e30f, -1e30f, 100.0f,
                                     3.4e38f, INFINITY, -INFINITY, NAN};
    uint8_t b = byte();
    if (b < 160) return (float)(b % 40) / 10.0f - 2.0f;
    return extremes[b % (sizeof extremes / sizeof *extremes)];
}

typedef struct state {
    aa_t h[MAX_HANDLES];
    int n;
    int names;
} state;

/* A tensor argument: one made so far, or AA_NONE, or a handle that does not exist. */
static aa_t tensor_arg(state *s)
{
    uint8_t b = byte();
    if (b == 255) return AA_NONE;
    if (b == 254) return ir_handle(1 << 20);
    if (b == 253) return ir_handle(-7);
    return s->h[b % s->n];
}

static void keep(state *s, aa_t t)
{
    if (s->n < MAX_HANDLES) s->h[s->n++] = t;
    else s->h[1 + byte() % (MAX_HANDLES - 1)] = t;
}

static const char *fresh_name(state *s, char *buf, size_t len)
{
    snprintf(buf, len, "p%d", s->names++);
    return buf;
}

static aa_init init_arg(void)
{
    aa_init in = {byte() % 9, float_arg(), float_arg()};
    return in;
}

static aa_t step(aa_layer *l, state *s, int op)
{
    char name[16];
    switch (op) {
    case 0: return aa__reshape(tensor_arg(s), 1 + byte() % 5, int_arg(), int_arg(), int_arg(), int_arg(), 1);
    case 1: return aa__permute(tensor_arg(s), int_arg(), int_arg(), int_arg(), int_arg(), 2);
    case 2: return aa__transpose(tensor_arg(s), int_arg(), int_arg(), 3);
    case 3: return aa__split_heads(tensor_arg(s), int_arg(), 4);
    case 4: return aa__merge_heads(tensor_arg(s), 5);
    case 5: return aa__slice(tensor_arg(s), int_arg(), int_arg(), int_arg(), 6);
    case 6: { aa_t a = tensor_arg(s); return aa__concat(a, tensor_arg(s), int_arg(), 7); }
    case 7: return aa__pad(tensor_arg(s), int_arg(), int_arg(), int_arg(), 8);
    case 8: { aa_t a = tensor_arg(s); return aa__expand_as(a, tensor_arg(s), 9); }
    case 9: { int o = byte() % 6; aa_t a = tensor_arg(s); return aa__binary(o, a, tensor_arg(s), 10); }
    case 10: { int o = byte() % (AA_OP_UNARY_END + 1); aa_t a = tensor_arg(s); return aa__unary(o, a, float_arg(), float_arg(), 11); }
    case 11: { int o = byte() % 8; return aa__reduce(o, tensor_arg(s), int_arg(), 12); }
    case 12: { int u = byte() & 1; return aa__mask(u, tensor_arg(s), int_arg(), 13); }
    case 13: { aa_t a = tensor_arg(s); return aa__linear(l, fresh_name(s, name, sizeof name), a, int_arg(), byte() & 1, init_arg(), 14); }
    case 14: { aa_t a = tensor_arg(s), b = tensor_arg(s); return aa__matmul(a, b, byte() & 1, byte() & 1, 15); }
    case 15: { aa_t a = tensor_arg(s); return aa__trisolve(a, tensor_arg(s), 16); }
    case 16: return aa__rmsnorm(l, fresh_name(s, name, sizeof name), tensor_arg(s), 17);
    case 17: return aa__layernorm(l, fresh_name(s, name, sizeof name), tensor_arg(s), 18);
    case 18: return aa__l2norm(tensor_arg(s), 19);
    case 19: { aa_t a = tensor_arg(s), g = tensor_arg(s); return aa__gated_rmsnorm(l, fresh_name(s, name, sizeof name), a, g, byte() & 1, 20); }
    case 20: { aa_t a = tensor_arg(s); return aa__short_conv(l, fresh_name(s, name, sizeof name), a, int_arg(), init_arg(), 21); }
    case 21: {
        aa_t q = tensor_arg(s), k = tensor_arg(s), v = tensor_arg(s), b = tensor_arg(s), g = tensor_arg(s);
        return aa__linattn(q, k, v, b, g, float_arg(), byte() % 9, 22);
    }
    case 22: aa__aux_loss(l, tensor_arg(s), float_arg(), 23); return AA_NONE;
    case 23: return aa__stop_gradient(tensor_arg(s), 24);
    case 24: {
        int n = int_arg();
        aa_t a = tensor_arg(s), b = tensor_arg(s), c = tensor_arg(s), d = tensor_arg(s);
        static const char *const names[] = {"f1", "f2", "nosuch", "mixer", ""};
        return aa__pointwise(names[byte() % 5], n, a, b, c, d, 25);
    }
    case 25: return aa__param(l, fresh_name(s, name, sizeof name), int_arg(), int_arg(), int_arg(), int_arg(), init_arg(), 26);
    case 26: {   /* sizes the mixer reads, fed back as arguments */
        aa_t a = tensor_arg(s);
        int d = aa__dim(l, int_arg()) + aa__size(a, int_arg()) + aa__rank(a);
        return aa__reshape(a, 1, d, 1, 1, 1, 27);
    }
    default: return AA_NONE;
    }
}

static aa_t fuzz_mixer(aa_layer *l, aa_t x)
{
    state s = {.h = {x}, .n = 1};
    prog.pos = 0;
    int steps = 1 + byte() % MAX_STEPS;
    for (int i = 0; i < steps && prog.pos < prog.len; i++) {
        aa_t t = step(l, &s, byte() % 27);
        if (ir_id(t) > 0) keep(&s, t);
    }
    return byte() & 1 ? s.h[s.n - 1] : s.h[byte() % s.n];
}

/* Custom pointwise functions of one and two arguments, with derivatives. */
static float f1(float a) { return a * a; }
static float f1_d0(float a) { return 2.0f * a; }
static float f2(float a, float b) { return a * b; }
static float f2_d0(float a, float b) { (void)a; return b; }
static float f2_d1(float a, float b) { (void)b; return a; }

static void *resolve(void *ctx, const char *name, int nargs)
{
    (void)ctx;
    if (nargs == 1 && !strcmp(name, "f1")) return (void *)f1;
    if (nargs == 1 && !strcmp(name, "f1_d0")) return (void *)f1_d0;
    if (nargs == 2 && !strcmp(name, "f2")) return (void *)f2;
    if (nargs == 2 && !strcmp(name, "f2_d0")) return (void *)f2_d0;
    if (nargs == 2 && !strcmp(name, "f2_d1")) return (void *)f2_d1;
    return NULL;
}

static size_t elements(const ir_graph *g)
{
    size_t total = 0;
    for (int i = 1; i < g->n_nodes; i++) total += ir_numel(&g->nodes[i]);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prog = (program){data, size, 0};
    ir_dims d = {.vocab = 32, .model = 8, .heads = 2, .layers = 1, .batch = 2, .time = 6, .chunk = 4,
                 .mlp_hidden = rt_mlp_hidden(8)};
    rt_arch arch = {.name = "fuzz", .source_file = "fuzz.c", .mixer = fuzz_mixer, .resolve = resolve};
    char err[512] = "";
    ir_graph *g = rt_build_arch(&d, &arch, err, sizeof err);
    if (!g) {
        if (!err[0] || !strstr(err, "fuzz.c")) {
            fprintf(stderr, "fuzz_graph: a build failure without a message naming the file: '%s'\n", err);
            abort();
        }
        return 0;
    }
    if (elements(g) > MAX_ELEMENTS) {   /* valid but too slow to run here */
        ir_graph_free(g);
        return 0;
    }
    rt_model *m = rt_model_new(g, 1, err, sizeof err);
    if (!m) {
        ir_graph_free(g);
        return 0;
    }
    rt_model_init_params(m, 1);
    int32_t tok[12], tgt[12];
    for (int i = 0; i < 12; i++) {
        tok[i] = (int32_t)((i * 7 + (size > 0 ? data[0] : 0)) % 32);
        tgt[i] = i % 5 == 0 ? -1 : (int32_t)((i * 3) % 32);
    }
    rt_config cfg;
    rt_config_scale("tiny", &cfg, err, sizeof err);
    rt_forward(m, tok, tgt);
    rt_backward(m);
    rt_adamw_step(m, &cfg, 1e-3f, 1);
    rt_forward(m, tok, tgt);
    rt_model_free(m);
    return 0;
}
