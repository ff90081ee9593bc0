/*
 * model.c — the fixed backbone around an evolving mixer (ARCHITECTURE §3):
 *
 *   h = embed(tokens)
 *   for each layer: h += mixer(rmsnorm(h)); h += swiglu(rmsnorm(h))
 *   logits = rmsnorm(h) @ embed^T;  loss = cross_entropy + sum(aux losses)
 *
 * The backbone is built through the same DSL entry points as the mixer, so
 * the one set of shape checks covers both. Parameter names follow the
 * PyTorch reference (tests/golden/make_golden.py) so weights load by name.
 */
#include <string.h>

#include "rt_internal.h"

int rt_mlp_hidden(int model)
{
    /* 8/3 * d rounded up to a multiple of 32: ((8d + 95) / 96) * 32. */
    return ((8 * model + 95) / 96) * 32;
}

static int add_leaf(ir_graph *g, ir_op op)
{
    ir_node n = {.op = op, .rank = 2, .shape = {g->dims.batch, g->dims.time}, .layer = -1};
    return ir_add_node(g, &n, op == IR_TOKENS ? "tokens" : "targets", 0);
}

static aa_t swiglu(aa_layer *l, aa_t x, int hidden)
{
    aa_t gate = aa__linear(l, "mlp.w_gate", x, hidden, 0, AA_INIT_DEFAULT, 0);
    aa_t up = aa__linear(l, "mlp.w_up", x, hidden, 0, AA_INIT_DEFAULT, 0);
    aa_t act = aa__binary(AA_OP_MUL, aa__unary(AA_OP_SILU, gate, 0, 0, 0), up, 0);
    return aa__linear(l, "mlp.w_down", act, aa__dim(l, AA_MODEL), 0, AA_INIT_DEFAULT, 0);
}

/* The mixer must return a tensor shaped like its input. */
static int check_mixer_output(ir_graph *g, aa_t x, aa_t y, int layer)
{
    if (g->has_error) return -1;
    if (ir_id(y) <= 0 || ir_id(y) >= g->n_nodes) {
        ir_fail(g, 0, "mixer", "layer %d: mixer() returned %s; expected a tensor [batch, time, model]", layer,
                ir_id(y) == 0 ? "AA_NONE" : "an invalid handle");
        return -1;
    }
    const ir_node *a = &g->nodes[ir_id(x)], *b = &g->nodes[ir_id(y)];
    if (a->rank != b->rank || memcmp(a->shape, b->shape, sizeof a->shape) != 0) {
        char sa[64], sb[64];
        snprintf(sa, sizeof sa, "[%d,%d,%d]", a->shape[0], a->shape[1], a->shape[2]);
        if (b->rank == 3) snprintf(sb, sizeof sb, "[%d,%d,%d]", b->shape[0], b->shape[1], b->shape[2]);
        else snprintf(sb, sizeof sb, "a rank-%d tensor", b->rank);
        ir_fail(g, b->line, "mixer", "mixer() returned %s; expected the input shape %s", sb, sa);
        return -1;
    }
    return 0;
}

/* Sum the cross-entropy and any auxiliary losses (IR_LOSS_SUM takes at most
 * IR_MAX_IN terms, so long lists are chained). */
static int sum_losses(ir_graph *g, int xent)
{
    int acc = xent;
    for (int i = 0; i < g->n_aux && acc > 0; i += IR_MAX_IN - 1) {
        ir_node n = {.op = IR_LOSS_SUM, .layer = -1};
        n.in[n.n_in++] = acc;
        for (int j = i; j < g->n_aux && n.n_in < IR_MAX_IN; j++) n.in[n.n_in++] = g->aux[j];
        acc = ir_add_node(g, &n, "loss", 0);
    }
    return acc;
}

static void build_layers(ir_graph *g, rt_mixer_fn mixer, aa_t *h)
{
    const ir_dims *d = &g->dims;
    for (int i = 0; i < d->layers && !g->has_error; i++) {
        aa_layer block = {.g = g, .index = i}, mix = {.g = g, .index = i};
        snprintf(block.prefix, sizeof block.prefix, "layers.%d.", i);
        snprintf(mix.prefix, sizeof mix.prefix, "layers.%d.mixer.", i);
        g->cur_layer = i;
        aa_t x = aa__rmsnorm(&block, "norm1", *h, 0);
        int before = g->n_nodes;
        aa_t y = mixer(&mix, x);
        /* Nodes the mixer made without a layer handle belong to it too. */
        for (int k = before; k < g->n_nodes; k++) g->nodes[k].layer = i;
        if (check_mixer_output(g, x, y, i) < 0) return;
        *h = aa__binary(AA_OP_ADD, *h, y, 0);
        aa_t m = swiglu(&block, aa__rmsnorm(&block, "norm2", *h, 0), d->mlp_hidden);
        *h = aa__binary(AA_OP_ADD, *h, m, 0);
    }
    g->cur_layer = -1;
}

ir_graph *rt_build(const ir_dims *dims, rt_mixer_fn mixer, const char *source_file, char *err,
                   size_t errlen)
{
    rt_arch arch = {.name = source_file, .source_file = source_file, .mixer = mixer};
    return rt_build_arch(dims, &arch, err, errlen);
}

ir_graph *rt_build_arch(const ir_dims *dims, const rt_arch *arch, char *err, size_t errlen)
{
    return rt_build_detailed(dims, arch, NULL, err, errlen);
}

ir_graph *rt_build_detailed(const ir_dims *dims, const rt_arch *arch, ir_error *error, char *err, size_t errlen)
{
    ir_graph *g = ir_graph_new(dims, arch->source_file);
    if (!g) {
        snprintf(err, errlen, "out of memory creating the graph");
        return NULL;
    }
    g->resolve = arch->resolve;
    g->resolve_ctx = arch->resolve_ctx;
    g->source_text = arch->source_text;
    ir_graph *saved = ir_current();
    ir_set_current(g);
    aa_layer root = {.g = g, .index = -1};
    g->tokens = add_leaf(g, IR_TOKENS);
    g->targets = add_leaf(g, IR_TARGETS);
    aa_t table = aa__param(&root, "embed.weight", 2, dims->vocab, dims->model, 1, AA_INIT_NORMAL(0.02f), 0);
    ir_node emb = {.op = IR_EMBED, .n_in = 2, .in = {g->tokens, ir_id(table)}, .layer = -1};
    aa_t h = ir_handle(ir_add_node(g, &emb, "embed", 0));
    rt_note_building(g);
    build_layers(g, arch->mixer, &h);
    rt_note_building(NULL);
    aa_t hf = aa__rmsnorm(&root, "norm_f", h, 0);
    ir_node lg = {.op = IR_LOGITS, .n_in = 2, .in = {ir_id(hf), ir_id(table)}, .layer = -1};
    g->logits = ir_add_node(g, &lg, "lm_head", 0);
    ir_node xe = {.op = IR_XENT, .n_in = 2, .in = {g->logits, g->targets}, .layer = -1};
    int xent = ir_add_node(g, &xe, "loss", 0);
    g->xent = xent > 0 ? xent : 0;
    g->loss = sum_losses(g, xent);
    ir_set_current(saved);
    if (g->has_error || ir_verify(g, err, errlen) < 0) {
        if (g->has_error) ir_format_error(g, err, errlen);
        if (error) {
            *error = g->error;
            if (!g->has_error) snprintf(error->message, sizeof error->message, "%s", err);
        }
        ir_graph_free(g);
        return NULL;
    }
    return g;
}
