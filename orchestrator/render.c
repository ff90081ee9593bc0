/*
 * render.c — a genome (genome.h) written out as a DSL candidate file.
 *
 * The file is what a researcher would write by hand: the genome as JSON on
 * the first line (so a stored source gives its genome back), AA_NAME and
 * AA_MOTIVATION, one commented helper per path, the router, and mixer(). It
 * goes through the same check, compile, verify, sandbox and train stages as
 * a language model's proposal; nothing here is trusted more than that.
 *
 * Parameter names are literals at each aa_* call (a DSL rule), so every path
 * helper is rendered with its own prefix ("p0_", "p1_", ...).
 */
#include "genome.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing text buffer ------------------------------------------------------------ */

typedef struct text {
    char *s;
    size_t len, cap;
    int failed;     /* out of memory: everything after is dropped */
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->s && t->len + (size_t)n < t->cap) { t->len += (size_t)n; return; }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap <= t->len + (size_t)n) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) { t->failed = 1; return; }
        t->s = s;
        t->cap = cap;
    }
}

/* A C float literal for v: "0.7f", "1.0f", "1e-05f". */
static const char *flit(double v, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%.6g", v);
    if (n > 0 && (size_t)n + 4 <= len) strcpy(buf + n, strpbrk(buf, ".e") ? "f" : ".0f");
    return buf;
}

/* ---- the motivation as a C string literal ------------------------------------------------ */

/* Adjacent literals of about 80-100 characters, broken at spaces. Backslash and
 * quote are escaped, '?' too (no trigraphs), control characters become
 * spaces; UTF-8 passes through, and is never split because breaks fall only
 * on spaces. */
static void put_c_string(text *t, const char *s, const char *indent)
{
    size_t col = 0;
    put(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p < 0x20 || *p == 0x7f ? ' ' : *p;
        if (ch == ' ' && col >= 80 && p[1]) {
            put(t, " \"\n%s\"", indent);
            col = 0;
            continue;
        }
        if (ch == '\\' || ch == '"' || ch == '?') put(t, "\\%c", ch);
        else put(t, "%c", ch);
        col++;
    }
    put(t, "\"");
}

/* ---- paths ------------------------------------------------------------------------------- */

static const char *const path_title[OG_PATH_KINDS] = {"delta", "gdn", "gla", "fir", "identity"};

static int is_memory(og_path_kind k) { return k == OG_PATH_DELTA || k == OG_PATH_GATED_DELTA || k == OG_PATH_GLA; }

/* "path1_fir7", "path0_delta": the helper's name. */
static void helper_name(const og_path *p, int i, char *buf, size_t len)
{
    if (p->kind == OG_PATH_FIR) snprintf(buf, len, "path%d_fir%d", i, p->fir_len);
    else snprintf(buf, len, "path%d_%s", i, path_title[p->kind]);
}

/* "aa_silu(x)" for a feature map or activation; the identity leaves x. */
static void feature_call(og_feature f, const char *x, char *buf, size_t len)
{
    static const char *const op[OG_FEAT_KINDS] = {"aa_silu", "aa_elu1", "aa_relu", ""};
    if (f == OG_FEAT_IDENTITY) snprintf(buf, len, "%s", x);
    else snprintf(buf, len, "%s(%s)", op[f], x);
}

static const char *feature_words(og_feature f)
{
    static const char *const words[OG_FEAT_KINDS] = {"SiLU", "ELU+1", "ReLU", "identity (linear)"};
    return words[f];
}

/* Feature maps of q and k, L2 norm and the 1/sqrt(dk) query scale, shared by the memory paths. */
static void put_qk(text *t, const og_path *p)
{
    char fq[64], fk[64];
    feature_call(p->feature, "q", fq, sizeof fq);
    feature_call(p->feature, "k", fk, sizeof fk);
    if (p->qk_l2) {
        put(t, "    aa_t qf = aa_scale(aa_l2norm(%s), 1.0f / sqrtf((float)dk));\n", fq);
        put(t, "    aa_t kf = aa_l2norm(%s);\n", fk);
    } else {
        put(t, "    aa_t qf = aa_scale(%s, 1.0f / sqrtf((float)dk));\n", fq);
        put(t, "    aa_t kf = %s;\n", fk);
    }
}

static void put_path_norm(text *t, const og_path *p, int i)
{
    if (p->norm)
        put(t, "    return aa_rmsnorm(l, \"p%d_norm\", o);   /* per head, so paths meet the router at one scale */\n", i);
    else
        put(t, "    return o;\n");
}

static void put_delta_path(text *t, const og_path *p, int i, const char *name)
{
    int gated = p->kind == OG_PATH_GATED_DELTA;
    put(t, "/* Path %d: %s.\n"
           " * Each write replaces what the state held for its key, S = S - beta k (k^T S - v^T),\n"
           " * instead of piling up, so recall stays exact.\n",
        i, gated ? "gated delta rule (Gated DeltaNet)" : "delta rule (DeltaNet)");
    if (gated)
        put(t, " * A scalar decay per head and step, exp(-exp(A_log) softplus(a + dt_bias)), can clear\n"
               " * the state when the context changes.\n");
    put(t, " * q, k: %s feature map, L2-normalised (the update is stable only for unit keys);\n"
           " * beta per head and token = %s. */\n",
        feature_words(p->feature),
        p->beta == OG_BETA_SIGMOID2 ? "2 sigmoid(W x) in (0, 2), which allows negative eigenvalues"
                                    : "sigmoid(W x) in (0, 1)");
    put(t, "static aa_t %s(aa_layer *l, aa_t x, aa_t q, aa_t k, aa_t v)\n{\n", name);
    put(t, "    int h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);\n");
    put_qk(t, p);
    if (p->beta == OG_BETA_SIGMOID2)
        put(t, "    aa_t beta = aa_split_heads(aa_scale(aa_sigmoid(aa_linear(l, \"p%d_beta\", x, h)), 2.0f), h);\n", i);
    else
        put(t, "    aa_t beta = aa_split_heads(aa_sigmoid(aa_linear(l, \"p%d_beta\", x, h)), h);\n", i);
    if (gated) {
        put(t, "    aa_t dt = aa_softplus(aa_add(aa_linear(l, \"p%d_a_proj\", x, h),\n"
               "                                 aa_param1(l, \"p%d_dt_bias\", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f))));\n",
            i, i);
        put(t, "    aa_t decay = aa_exp(aa_param1(l, \"p%d_A_log\", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f)));\n", i);
        put(t, "    aa_t gate = aa_split_heads(aa_neg(aa_mul(dt, decay)), h);   /* log space, <= 0 */\n");
        put(t, "    aa_t o = aa_delta_rule(qf, kf, v, beta, gate);\n");
    } else {
        put(t, "    aa_t o = aa_delta_rule(qf, kf, v, beta, AA_NONE);\n");
    }
    put_path_norm(t, p, i);
    put(t, "}\n\n");
}

static void put_gla_path(text *t, const og_path *p, int i, const char *name)
{
    put(t, "/* Path %d: gated linear attention (GLA). The state adds k v^T and decays per key\n"
           " * channel by exp(logsigmoid(.) / 16) from a rank-%d code of the token, so most channels\n"
           " * keep a long, lossy summary and a few forget fast.\n"
           " * q, k: %s feature map%s. */\n",
        i, OG_GLA_RANK, feature_words(p->feature), p->qk_l2 ? ", L2-normalised" : "");
    put(t, "static aa_t %s(aa_layer *l, aa_t x, aa_t q, aa_t k, aa_t v)\n{\n", name);
    put(t, "    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);\n");
    put_qk(t, p);
    put(t, "    aa_t code = aa_linear(l, \"p%d_gk_down\", x, %d);\n", i, OG_GLA_RANK);
    put(t, "    aa_t gk = aa_scale(aa_logsigmoid(aa_linear_bias(l, \"p%d_gk_up\", code, d)), 1.0f / 16.0f);\n", i);
    put(t, "    aa_t o = aa_linattn(qf, kf, v, AA_NONE, aa_split_heads(gk, h), 0.0f, 0);\n");
    put_path_norm(t, p, i);
    put(t, "}\n\n");
}

static void put_fir_path(text *t, const og_path *p, int i, const char *name)
{
    put(t, "/* Path %d: a %d-tap causal FIR over the values, one filter per channel,\n"
           " * %s: position-exact local context that no recurrent state gives. */\n",
        i, p->fir_len, p->fir_init == OG_FIR_INIT_DIRAC ? "starting as the identity" : "from random taps");
    put(t, "static aa_t %s(aa_layer *l, aa_t v)\n{\n", name);
    put(t, "    int h = aa_dim(l, AA_HEADS);\n");
    if (p->fir_init == OG_FIR_INIT_DIRAC)
        put(t, "    aa_t f = aa_short_conv_ex(l, \"p%d_fir\", v, %d, AA_INIT_DIRAC);\n", i, p->fir_len);
    else
        put(t, "    aa_t f = aa_short_conv(l, \"p%d_fir\", v, %d);\n", i, p->fir_len);
    char act[64];
    feature_call(p->feature, "f", act, sizeof act);
    put(t, "    aa_t o = aa_split_heads(%s, h);\n", act);
    put_path_norm(t, p, i);
    put(t, "}\n\n");
}

static void put_identity_path(text *t, const og_path *p, int i, const char *name)
{
    put(t, "/* Path %d: the values themselves, a direct route for the current token. */\n", i);
    if (p->norm) {
        put(t, "static aa_t %s(aa_layer *l, aa_t v)\n{\n", name);
        put(t, "    return aa_rmsnorm(l, \"p%d_norm\", v);   /* per head, so paths meet the router at one scale */\n", i);
    } else {
        put(t, "static aa_t %s(aa_t v)\n{\n", name);
        put(t, "    return v;\n");
    }
    put(t, "}\n\n");
}

static void put_path(text *t, const og_path *p, int i)
{
    char name[32];
    helper_name(p, i, name, sizeof name);
    switch (p->kind) {
    case OG_PATH_DELTA:
    case OG_PATH_GATED_DELTA: put_delta_path(t, p, i, name); break;
    case OG_PATH_GLA: put_gla_path(t, p, i, name); break;
    case OG_PATH_FIR: put_fir_path(t, p, i, name); break;
    default: put_identity_path(t, p, i, name); break;
    }
}

/* The call of path i's helper in mixer(). */
static void put_path_call(text *t, const og_path *p, int i)
{
    char name[32];
    helper_name(p, i, name, sizeof name);
    if (is_memory(p->kind)) put(t, "    aa_t p%d = %s(l, x, q, k, vh);\n", i, name);
    else if (p->kind == OG_PATH_FIR) put(t, "    aa_t p%d = %s(l, v);\n", i, name);
    else if (p->norm) put(t, "    aa_t p%d = %s(l, vh);\n", i, name);
    else put(t, "    aa_t p%d = %s(vh);\n", i, name);
}

/* ---- router -------------------------------------------------------------------------------- */

static void put_stats_helper(text *t, const og_router *r)
{
    const char *src = r->stats_detach ? "aa_stop_gradient(p)" : "p";
    if (r->stats == OG_STATS_MEAN_STD) {
        put(t, "/* Mean and standard deviation of one path per head, over the channels of the current\n"
               " * token only (never over time, so the router stays causal): [B,H,T,2].%s */\n"
               "static aa_t path_stats(aa_t p)\n{\n"
               "    aa_t s = %s;\n"
               "    return aa_concat(aa_mean(s, -1), aa_sqrt(aa_add_scalar(aa_var(s, -1), 1e-5f)), -1);\n}\n\n",
            r->stats_detach ? "\n * No gradient flows back: the paths are not trained to please the router." : "",
            src);
    } else {
        put(t, "/* Root mean square of one path per head, over the channels of the current token only\n"
               " * (never over time, so the router stays causal): [B,H,T,1].%s */\n"
               "static aa_t path_stats(aa_t p)\n{\n"
               "    aa_t s = %s;\n"
               "    return aa_sqrt(aa_add_scalar(aa_mean(aa_square(s), -1), 1e-5f));\n}\n\n",
            r->stats_detach ? "\n * No gradient flows back: the paths are not trained to please the router." : "",
            src);
    }
}

static void put_router_comment(text *t, const og_genome *g)
{
    const og_router *r = &g->router;
    if (g->n_paths == 1)
        put(t, "/* Router: a sigmoid gate per head and token from the hidden state (it starts mostly\n"
               " * open, sigmoid(1) = 0.73)");
    else if (r->kind == OG_ROUTER_SIGMOID)
        put(t, "/* Router: an independent sigmoid gate per path, head and token from the hidden state\n"
               " * (paths do not compete; gates start mostly open, sigmoid(1) = 0.73)");
    else if (r->kind == OG_ROUTER_SOFTMAX)
        put(t, "/* Router: a softmax over the paths per head and token from the hidden state\n"
               " * (paths compete for one unit of weight)");
    else
        put(t, "/* Router: a softmax over the paths per head and token from an MLP that reads the hidden\n"
               " * state and each path's statistics, so it sees which path carries signal now");
    put(t, ".\n * Temperature %g divides the logits", r->temperature);
    if (r->floor > 0) put(t, "; every weight stays at least %g, so no path\n * starves of gradient", r->floor);
    if (r->entropy_weight > 0) put(t, "; an entropy bonus keeps the weights spread early on");
    put(t, ".\n * Returns the weights [B,H,T,P]. */\n");
}

static void put_router(text *t, const og_genome *g)
{
    const og_router *r = &g->router;
    int n = g->n_paths, stat_width = r->stats == OG_STATS_MEAN_STD ? 2 : 1;
    char temp[32], fl[32], ent[32];
    flit(r->temperature, temp, sizeof temp);
    flit(r->floor, fl, sizeof fl);
    flit(r->entropy_weight, ent, sizeof ent);

    if (r->kind == OG_ROUTER_MLP) put_stats_helper(t, r);
    put_router_comment(t, g);
    put(t, "static aa_t router(aa_layer *l, aa_t x");
    if (r->kind == OG_ROUTER_MLP)
        for (int i = 0; i < n; i++) put(t, ", aa_t p%d", i);
    put(t, ")\n{\n");
    put(t, "    int %sh = aa_dim(l, AA_HEADS), b = aa_size(x, 0), t = aa_size(x, 1);\n",
        r->kind == OG_ROUTER_MLP ? "d = aa_dim(l, AA_MODEL), " : "");
    put(t, "    const int n_paths = %d;\n", n);
    if (r->kind == OG_ROUTER_MLP) {
        put(t, "    aa_t stats = path_stats(p0);\n");
        for (int i = 1; i < n; i++) put(t, "    stats = aa_concat(stats, path_stats(p%d), -1);\n", i);
        put(t, "    aa_t stats_bt = aa_reshape3(aa_permute(stats, 0, 2, 1, 3), b, t, h * %d * n_paths);   /* [B,T,H*S] */\n",
            stat_width);
        put(t, "    aa_t hid = aa_gelu(aa_linear_bias(l, \"router_fc1\", aa_concat(x, stats_bt, -1), d / 4));\n");
        put(t, "    aa_t logits = aa_linear_bias(l, \"router_fc2\", hid, h * n_paths);   /* [B,T,H*P] */\n");
    } else {
        put(t, "    aa_t logits = aa_linear_bias(l, \"router\", x, h * n_paths);   /* [B,T,H*P] */\n");
    }
    put(t, "    logits = aa_permute(aa_reshape4(logits, b, t, h, n_paths), 0, 2, 1, 3);   /* [B,H,T,P] */\n");
    if (r->kind == OG_ROUTER_SIGMOID) {
        put(t, "    aa_t gates = aa_sigmoid(aa_scale(aa_add_scalar(logits, 1.0f), 1.0f / %s));\n", temp);
        if (r->entropy_weight > 0) {
            put(t, "    /* How evenly the gates spread over the paths; the loss rewards spreading. */\n");
            put(t, "    aa_aux_loss(l, aa_neg(aa_entropy(aa_div(gates, aa_sum(gates, -1)), -1)), %s);\n", ent);
        }
        if (r->floor > 0)
            put(t, "    return aa_add_scalar(aa_scale(gates, 1.0f - %s), %s);\n", fl, fl);
        else
            put(t, "    return gates;\n");
    } else {
        put(t, "    aa_t soft = aa_softmax(aa_scale(logits, 1.0f / %s), -1);\n", temp);
        if (r->entropy_weight > 0) {
            put(t, "    /* Reward routing entropy a little (the aux loss adds weight * mean(-H)). */\n");
            put(t, "    aa_aux_loss(l, aa_neg(aa_entropy(soft, -1)), %s);\n", ent);
        }
        if (r->floor > 0)
            put(t, "    return aa_add_scalar(aa_scale(soft, 1.0f - (float)n_paths * %s), %s);\n", fl, fl);
        else
            put(t, "    return soft;\n");
    }
    put(t, "}\n\n");
}

/* ---- mixer ---------------------------------------------------------------------------------- */

static void put_mixer(text *t, const og_genome *g)
{
    int memory = 0, uses_vh = 0;
    for (int i = 0; i < g->n_paths; i++) {
        memory |= is_memory(g->paths[i].kind);
        uses_vh |= g->paths[i].kind != OG_PATH_FIR;
    }
    put(t, "/* Path i scaled by its router weight [B,H,T,1], broadcast over the head's channels. */\n"
           "static aa_t weighted(aa_t w, aa_t path, int i)\n{\n"
           "    return aa_mul(aa_slice(w, -1, i, 1), path);\n}\n\n");
    put(t, "aa_t mixer(aa_layer *l, aa_t x)   /* x: [batch, time, model] */\n{\n");
    put(t, "    int d = aa_dim(l, AA_MODEL)%s;\n", uses_vh || memory || g->out_norm == OG_NORM_GATED ? ", h = aa_dim(l, AA_HEADS)" : "");
    put(t, "\n    /* Shared projections with a 4-tap causal convolution each for local context.%s */\n",
        memory ? " q and k\n     * stay before any activation: each memory path applies its own feature map." : "");
    if (memory) {
        put(t, "    aa_t q = aa_split_heads(aa_short_conv(l, \"q_conv\", aa_linear(l, \"q_proj\", x, d), 4), h);\n");
        put(t, "    aa_t k = aa_split_heads(aa_short_conv(l, \"k_conv\", aa_linear(l, \"k_proj\", x, d), 4), h);\n");
    }
    put(t, "    aa_t v = aa_silu(aa_short_conv(l, \"v_conv\", aa_linear(l, \"v_proj\", x, d), 4));\n");
    if (uses_vh) put(t, "    aa_t vh = aa_split_heads(v, h);\n");

    put(t, "\n    /* The paths, each [B,H,T,Dh]. */\n");
    for (int i = 0; i < g->n_paths; i++) put_path_call(t, &g->paths[i], i);

    put(t, "\n    aa_t w = router(l, x");
    if (g->router.kind == OG_ROUTER_MLP)
        for (int i = 0; i < g->n_paths; i++) put(t, ", p%d", i);
    put(t, ");\n");
    put(t, "    aa_t o = weighted(w, p0, 0);\n");
    for (int i = 1; i < g->n_paths; i++) put(t, "    o = aa_add(o, weighted(w, p%d, %d));\n", i, i);

    if (g->out_norm == OG_NORM_RMS) {
        put(t, "\n    o = aa_rmsnorm(l, \"o_norm\", o);\n");
    } else if (g->out_norm == OG_NORM_GATED) {
        put(t, "\n    /* Gated RMSNorm: rmsnorm(o) * w * silu(W_g x), per head. */\n");
        put(t, "    o = aa_gated_rmsnorm(l, \"o_norm\", o, aa_split_heads(aa_linear(l, \"g_proj\", x, d), h), "
               "AA_NORM_THEN_GATE);\n");
    }
    put(t, "%s    o = aa_merge_heads(o);\n", g->out_norm == OG_NORM_NONE ? "\n" : "");
    if (g->out_gate != OG_GATE_NONE)
        put(t, "    o = aa_mul(o, %s(aa_linear(l, \"gate_proj\", x, d)));   /* output gate */\n",
            g->out_gate == OG_GATE_SILU ? "aa_silu" : "aa_sigmoid");
    put(t, "    return aa_linear(l, \"o_proj\", o, d);\n}\n");
}

/* ---- the file ------------------------------------------------------------------------------ */

int og_render(const og_genome *g, const char *motivation, char **source)
{
    *source = NULL;
    char err[256];
    if (og_validate(g, err, sizeof err) < 0) return -1;
    char *json = og_to_json_string(g);
    if (!json) return -1;

    text t = {0};
    char name[OG_NAME_MAX], described[1024];
    put(&t, "/* " OG_SOURCE_MARKER " %s */\n", json);
    free(json);
    put(&t, "#include <asiarch.h>\n\n");
    put(&t, "AA_NAME(\"%s\");\n", og_name(g, name, sizeof name));
    put(&t, "AA_MOTIVATION(");
    if (!motivation || !*motivation) motivation = og_describe(g, described, sizeof described);
    put_c_string(&t, motivation, "              ");
    put(&t, ");\n\n");
    put(&t, "/*\n * Written by asiarch's built-in proposer from the genome on the first line, from\n"
            " * which it can be read back. Paths and router are helpers below; mixer() is at the end.\n */\n\n");

    for (int i = 0; i < g->n_paths; i++) put_path(&t, &g->paths[i], i);
    put_router(&t, g);
    put_mixer(&t, g);

    if (t.failed) {
        free(t.s);
        return -1;
    }
    *source = t.s;
    return 0;
}

int og_from_source(const char *source, og_genome *g, char *err, size_t errlen)
{
    static const char marker[] = "/* " OG_SOURCE_MARKER;
    for (const char *line = source; line && *line;) {
        if (!strncmp(line, marker, sizeof marker - 1)) {
            const char *json = line + sizeof marker - 1, *eol = strchr(json, '\n');
            size_t len = eol ? (size_t)(eol - json) : strlen(json);
            char *copy = strndup(json, len);
            if (!copy) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            char *end = strstr(copy, "*/");
            if (!end) {
                free(copy);
                snprintf(err, errlen, "the '" OG_SOURCE_MARKER "' line does not end with */");
                return -1;
            }
            *end = '\0';
            int rc = og_from_json_string(copy, g, err, errlen);
            free(copy);
            return rc;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    snprintf(err, errlen, "no '" OG_SOURCE_MARKER "' line: the source was not rendered from a genome");
    return -1;
}
