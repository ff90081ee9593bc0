/*
 * novelty.c — is a proposal new? (ARCHITECTURE §6.) Exact duplicates by canonical
 * graph hash; near duplicates by the Jaccard similarity of shingles of the
 * mixer's op structure (from its graph IR, names and sizes removed) and of
 * its motivation (score.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "text.h"

/* ---- shingles ------------------------------------------------------------------------- */

typedef struct span {
    const char *s;
    size_t n;
} span;

static int is_sentence_punct(char c)
{
    return strchr(".,;:!?\"'`", c) != NULL && c != '\0';
}

/* The words of text (see os_shingles); -1 when out of memory. */
static int split_words(const char *text, span **out, int *n_out)
{
    span *w = NULL;
    int n = 0, cap = 0;
    const char *p = text;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        const char *end = p;
        while (start < end && is_sentence_punct(*start)) start++;
        while (end > start && is_sentence_punct(end[-1])) end--;
        if (start == end) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            span *grown = realloc(w, (size_t)cap * sizeof *w);
            if (!grown) { free(w); return -1; }
            w = grown;
        }
        w[n++] = (span){start, (size_t)(end - start)};
    }
    *out = w;
    *n_out = n;
    return 0;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

/* FNV-1a of words[0..k) lowercased, joined by 0x1f (a byte no word holds, so
 * "a b" + "c" and "a" + "b c" differ). */
static uint64_t hash_words(const span *words, int k)
{
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < k; i++) {
        if (i) h = fnv_byte(h, 0x1f);
        for (size_t j = 0; j < words[i].n; j++) h = fnv_byte(h, (unsigned char)tolower((unsigned char)words[i].s[j]));
    }
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int sort_unique(uint64_t *h, int n)
{
    qsort(h, (size_t)n, sizeof *h, cmp_u64);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || h[i] != h[u - 1]) h[u++] = h[i];
    return u;
}

int os_shingles(const char *text, int k, os_shingle_set *out)
{
    out->h = NULL;
    out->n = 0;
    if (!text) return 0;
    if (k < 1) k = 1;
    span *words;
    int nw;
    if (split_words(text, &words, &nw) < 0) return -1;
    if (nw == 0) { free(words); return 0; }
    int width = nw < k ? nw : k;
    int count = nw - width + 1;
    uint64_t *h = malloc((size_t)count * sizeof *h);
    if (!h) { free(words); return -1; }
    for (int i = 0; i < count; i++) h[i] = hash_words(words + i, width);
    free(words);
    out->h = h;
    out->n = sort_unique(h, count);
    return 0;
}

void os_shingles_free(os_shingle_set *s)
{
    free(s->h);
    s->h = NULL;
    s->n = 0;
}

double os_jaccard(const os_shingle_set *a, const os_shingle_set *b)
{
    if (!a || !b || a->n == 0 || b->n == 0) return 0;
    int i = 0, j = 0, both = 0;
    while (i < a->n && j < b->n) {
        if (a->h[i] == b->h[j]) { both++; i++; j++; }
        else if (a->h[i] < b->h[j]) i++;
        else j++;
    }
    return (double)both / (double)(a->n + b->n - both);
}

/* ---- structure text ------------------------------------------------------------------ */

#define OP_NAME_MAX 32
#define ATTRS_MAX 160
#define MAX_NODE_ID (1 << 24)   /* a larger id is not from ir_print */

/* One printed node: "%36 = linattn(%28, none) delta=1 gate=none ... [8,2,128,32]  layer 0  line 17 ..." */
typedef struct ir_line {
    int id;
    char op[OP_NAME_MAX];
    char attrs[ATTRS_MAX];      /* kept attributes, comma-separated */
    int in[IR_MAX_IN + 3];      /* producer ids; 0 = none */
    int n_in;
    int layer, line;            /* -1 / 0 when not printed */
} ir_line;

/* What a node is, for the inputs of later ones. */
typedef struct node_kind {
    char op[OP_NAME_MAX];
    char in_scope;              /* part of what is being described */
    char known;
} node_kind;

/* Attributes that change what an op computes, as opposed to its sizes and
 * constants. */
static int keep_attr(const char *key, size_t key_len, const char *value)
{
    static const char *const kept[] = {"perm", "axis", "diagonal", "mode", "delta", "gate", "ta", "tb"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (strlen(kept[i]) == key_len && strncmp(kept[i], key, key_len) == 0) return 1;
    return key_len == 6 && strncmp(key, "lambda", 6) == 0 && strcmp(value, "multiscale") == 0;
}

static void append_attr(ir_line *n, const char *tok)
{
    const char *eq = strchr(tok, '=');
    if (!eq || !keep_attr(tok, (size_t)(eq - tok), eq + 1)) return;
    size_t used = strlen(n->attrs);
    if (used + strlen(tok) + 2 > sizeof n->attrs) return;
    if (used) n->attrs[used++] = ',';
    strcpy(n->attrs + used, tok);
}

/* "(%28, %31, none)" starting at p (on the '('); returns past the ')', or
 * NULL when the list is not closed. */
static char *parse_inputs(char *p, ir_line *n)
{
    char *close = strchr(p, ')');
    if (!close) return NULL;
    *close = '\0';
    for (char *arg = p + 1; arg && *arg;) {
        while (*arg == ' ') arg++;
        char *comma = strchr(arg, ',');
        if (comma) *comma = '\0';
        if (n->n_in < (int)(sizeof n->in / sizeof n->in[0])) n->in[n->n_in++] = arg[0] == '%' ? atoi(arg + 1) : 0;
        arg = comma ? comma + 1 : NULL;
    }
    return close + 1;
}

/* The words after the op: attributes, the shape, "layer N", "line N",
 * "flops X", "i32". */
static void parse_tail(char *p, ir_line *n)
{
    char *save = NULL;
    for (char *tok = strtok_r(p, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strcmp(tok, "layer") == 0 || strcmp(tok, "line") == 0) {
            char *num = strtok_r(NULL, " \t", &save);
            if (!num) break;
            if (tok[1] == 'a') n->layer = atoi(num);
            else n->line = atoi(num);
        } else if (strcmp(tok, "flops") == 0) {
            if (!strtok_r(NULL, " \t", &save)) break;
        } else if (tok[0] != '[') {
            append_attr(n, tok);
        }
    }
}

/* Parse one line of ir_print output in place; 0 when it is not a node. */
static int parse_ir_line(char *s, ir_line *n)
{
    memset(n, 0, sizeof *n);
    n->layer = -1;
    while (*s == ' ' || *s == '\t') s++;
    if (*s != '%') return 0;
    char *end;
    long id = strtol(s + 1, &end, 10);
    if (end == s + 1 || id <= 0 || id >= MAX_NODE_ID) return 0;
    n->id = (int)id;
    while (*end == ' ') end++;
    if (*end != '=') return 0;
    char *p = end + 1;
    while (*p == ' ') p++;
    size_t len = strcspn(p, "( \t");
    if (len == 0 || len >= OP_NAME_MAX) return 0;
    memcpy(n->op, p, len);
    p += len;
    if (*p == '(') {
        p = parse_inputs(p, n);
        if (!p) return 0;
    } else if (strcmp(n->op, "param") == 0) {
        while (*p == ' ') p++;
        if (*p == '"') {           /* the name may hold anything but a quote */
            char *close = strchr(p + 1, '"');
            p = close ? close + 1 : p + strlen(p);
        }
    }
    parse_tail(p, n);
    return 1;
}

typedef struct node_table {
    node_kind *k;
    int cap;
} node_table;

static node_kind *table_at(node_table *t, int id)
{
    if (id >= t->cap) {
        int cap = t->cap ? t->cap : 256;
        while (cap <= id) cap *= 2;
        node_kind *k = realloc(t->k, (size_t)cap * sizeof *k);
        if (!k) return NULL;
        memset(k + t->cap, 0, (size_t)(cap - t->cap) * sizeof *k);
        t->k = k;
        t->cap = cap;
    }
    return &t->k[id];
}

/* How an input appears in a word: its producer's op, "param", "x" (from
 * outside what is described) or "none". */
static const char *input_word(const node_table *t, int id)
{
    if (id <= 0) return "none";
    if (id >= t->cap || !t->k[id].known || !t->k[id].in_scope) return "x";
    return t->k[id].op;
}

static void emit_node(os_text *out, const node_table *t, const ir_line *n, int *last_layer)
{
    if (out->len > 0) os_text_puts(out, n->layer != *last_layer ? " | " : " ");
    *last_layer = n->layer;
    os_text_puts(out, n->op);
    if (n->attrs[0]) os_text_printf(out, "[%s]", n->attrs);
    os_text_puts(out, "(");
    for (int i = 0; i < n->n_in; i++) os_text_printf(out, "%s%s", i ? "," : "", input_word(t, n->in[i]));
    os_text_puts(out, ")");
}

/* One pass over a private copy of the text: mixer_only selects the nodes
 * with a source line; *any_line reports whether there was one. */
static char *describe(const char *ir_text, int mixer_only, int *any_line)
{
    char *copy = strdup(ir_text);
    node_table table = {0};
    os_text out = {0};
    int last_layer = -2, failed = !copy;
    *any_line = 0;
    for (char *line = copy, *next; !failed && line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        ir_line n;
        if (!parse_ir_line(line, &n)) continue;
        node_kind *k = table_at(&table, n.id);
        if (!k) { failed = 1; break; }
        snprintf(k->op, sizeof k->op, "%s", n.op);
        k->known = 1;
        k->in_scope = !mixer_only || n.line > 0;
        if (n.line > 0) *any_line = 1;
        if (k->in_scope && strcmp(n.op, "param") != 0) emit_node(&out, &table, &n, &last_layer);
    }
    free(copy);
    free(table.k);
    if (failed) {
        os_text_free(&out);
        return NULL;
    }
    return os_text_take(&out);
}

char *os_structure_text(const char *ir_text)
{
    if (!ir_text) return NULL;
    int any_line;
    char *mixer = describe(ir_text, 1, &any_line);
    if (!mixer || any_line) return mixer;
    free(mixer);
    return describe(ir_text, 0, &any_line);
}

/* ---- near and exact duplicates ------------------------------------------------------------ */

static double similarity_to(const os_shingle_set *structure, const os_shingle_set *motivation,
                            const os_candidate_sig *other)
{
    double s = os_jaccard(structure, &other->structure);
    if (!motivation || motivation->n == 0 || other->motivation.n == 0) return s;
    return OS_NEAR_DUP_W_STRUCTURE * s + OS_NEAR_DUP_W_MOTIVATION * os_jaccard(motivation, &other->motivation);
}

int os_near_duplicate(const os_shingle_set *structure, const os_shingle_set *motivation,
                      const os_candidate_sig *others, int n, double threshold, int *closest, double *similarity)
{
    int best = -1;
    double best_s = 0;
    for (int i = 0; others && i < n; i++) {
        double s = similarity_to(structure, motivation, &others[i]);
        if (best < 0 || s > best_s) {
            best = i;
            best_s = s;
        }
    }
    if (closest) *closest = best;
    if (similarity) *similarity = best_s;
    if (isnan(threshold)) threshold = OS_NEAR_DUP_THRESHOLD;
    return best >= 0 && best_s >= threshold;
}

int os_exact_duplicate(uint64_t hash, const uint64_t *known, int n)
{
    for (int i = 0; known && i < n; i++)
        if (known[i] == hash) return i;
    return -1;
}
