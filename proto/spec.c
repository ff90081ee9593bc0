/*
 * spec.c — a kernel file's declaration: the @ lines of its comments, and the
 * entry's parameter list read from its definition.
 *
 * The grammar is line-based and small on purpose (README, "Prototyping
 * kernels"): one directive per comment line, integer expressions of the
 * declared parameters. Every problem is a report at the file:line:col of
 * what is wrong, with what was expected, like every other stage: the
 * person (or model) fixing the file reads it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *const type_names[] = {"f32", "f16", "bf16", "i32"};
static const size_t type_sizes[] = {4, 2, 2, 4};
static const char *const role_names[] = {"in", "out", "inout"};

const char *kp_type_name(kp_type t) { return (unsigned)t < 4 ? type_names[t] : "?"; }
size_t kp_type_size(kp_type t) { return (unsigned)t < 4 ? type_sizes[t] : 0; }
const char *kp_role_name(kp_role r) { return (unsigned)r < 3 ? role_names[r] : "?"; }

kp_lang kp_lang_of(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 3 && !strcmp(path + n - 3, ".cu") ? KP_CUDA : KP_C;
}

int kp_find_buffer(const kp_spec *s, const char *name)
{
    for (int i = 0; i < s->n_bufs; i++)
        if (!strcmp(s->bufs[i].name, name)) return i;
    return -1;
}

int kp_find_param(const kp_spec *s, const char *name)
{
    for (int i = 0; i < s->n_params; i++)
        if (!strcmp(s->params[i].name, name)) return i;
    return -1;
}

double kp_tolerance(const kp_spec *s, kp_type t)
{
    if (s->tol > 0) return s->tol;
    switch (t) {
    case KP_F32: return 1e-4;
    case KP_F16: return 1e-2;
    case KP_BF16: return 2e-2;
    default: return 0;
    }
}

/* ---- integer expressions ------------------------------------------------------------ */

typedef struct ev {
    const kp_spec *s;
    const char *p;
    char *err;
    size_t errlen;
    int failed, depth;
} ev;

static long long ev_fail(ev *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long ev_fail(ev *e, const char *fmt, ...)
{
    if (!e->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->errlen, fmt, ap);
        va_end(ap);
    }
    e->failed = 1;
    return 0;
}

static void ev_space(ev *e)
{
    while (isspace((unsigned char)*e->p)) e->p++;
}

static int ev_eat(ev *e, char ch)
{
    ev_space(e);
    if (*e->p != ch) return 0;
    e->p++;
    return 1;
}

static long long ev_sum(ev *e);

static long long ev_checked(ev *e, char op, long long a, long long b)
{
    long long r = 0;
    int bad = 0;
    switch (op) {
    case '+': bad = __builtin_add_overflow(a, b, &r); break;
    case '-': bad = __builtin_sub_overflow(a, b, &r); break;
    case '*': bad = __builtin_mul_overflow(a, b, &r); break;
    case '/':
    case '%':
        if (b == 0) return ev_fail(e, "division by zero");
        if (a == INT64_MIN && b == -1) bad = 1;
        else r = op == '/' ? a / b : a % b;
        break;
    }
    return bad ? ev_fail(e, "the value overflows 64 bits") : r;
}

/* name(args) for min, max, cdiv (ceiling division). */
static long long ev_call(ev *e, const char *name)
{
    long long a = ev_sum(e);
    if (!ev_eat(e, ',')) return ev_fail(e, "%s takes two arguments: %s(a, b)", name, name);
    long long b = ev_sum(e);
    if (!ev_eat(e, ')')) return ev_fail(e, "expected ')' after the arguments of %s", name);
    if (!strcmp(name, "min")) return a < b ? a : b;
    if (!strcmp(name, "max")) return a > b ? a : b;
    if (b <= 0) return ev_fail(e, "cdiv(a, b) needs b > 0");
    return a <= 0 ? a / b : ev_checked(e, '+', a - 1, 0) / b + 1;
}

static long long ev_atom(ev *e)
{
    if (++e->depth > 64) return ev_fail(e, "the expression nests too deeply");
    ev_space(e);
    long long v = 0;
    if (ev_eat(e, '(')) {
        v = ev_sum(e);
        if (!ev_eat(e, ')')) ev_fail(e, "expected ')'");
    } else if (ev_eat(e, '-')) {
        v = ev_checked(e, '-', 0, ev_atom(e));
    } else if (isdigit((unsigned char)*e->p)) {
        errno = 0;
        char *end;
        v = strtoll(e->p, &end, 10);
        if (errno) ev_fail(e, "the number %.20s does not fit 64 bits", e->p);
        e->p = end;
        if (isalnum((unsigned char)*e->p) || *e->p == '.') ev_fail(e, "expected an integer, found '%.12s'", e->p - 1);
    } else if (isalpha((unsigned char)*e->p) || *e->p == '_') {
        char name[KP_NAME_MAX + 1];
        size_t n = 0;
        while ((isalnum((unsigned char)*e->p) || *e->p == '_') && n < KP_NAME_MAX) name[n++] = *e->p++;
        name[n] = 0;
        if (ev_eat(e, '(')) {
            if (strcmp(name, "min") && strcmp(name, "max") && strcmp(name, "cdiv"))
                ev_fail(e, "unknown function %s: expressions have min(a, b), max(a, b) and cdiv(a, b)", name);
            else
                v = ev_call(e, name);
        } else {
            int i = kp_find_param(e->s, name);
            if (i < 0) ev_fail(e, "'%s' is not a declared @param", name);
            else v = e->s->params[i].value;
        }
    } else {
        if (*e->p) ev_fail(e, "unexpected '%c'", *e->p);
        else ev_fail(e, "the expression ends too early");
    }
    e->depth--;
    return v;
}

static long long ev_product(ev *e)
{
    long long v = ev_atom(e);
    for (;;) {
        ev_space(e);
        char op = *e->p;
        if (op != '*' && op != '/' && op != '%') return v;
        e->p++;
        v = ev_checked(e, op, v, ev_atom(e));
    }
}

static long long ev_sum(ev *e)
{
    long long v = ev_product(e);
    for (;;) {
        ev_space(e);
        char op = *e->p;
        if (op != '+' && op != '-') return v;
        e->p++;
        v = ev_checked(e, op, v, ev_product(e));
    }
}

int kp_eval(const kp_spec *s, const kp_expr *x, long long *out, char *err, size_t errlen)
{
    ev e = {.s = s, .p = x->text, .err = err, .errlen = errlen};
    long long v = ev_sum(&e);
    ev_space(&e);
    if (!e.failed && *e.p) ev_fail(&e, "unexpected '%.16s' after the expression", e.p);
    if (e.failed) return -1;
    *out = v;
    return 0;
}

int kp_spec_set(kp_spec *s, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    char name[KP_NAME_MAX + 1];
    size_t n = eq ? (size_t)(eq - assignment) : 0;
    while (n && isspace((unsigned char)assignment[n - 1])) n--;
    if (!eq || n == 0 || n > KP_NAME_MAX) {
        snprintf(err, errlen, "--set %s: write NAME=VALUE, e.g. --set n=4096", assignment);
        return -1;
    }
    memcpy(name, assignment, n);
    name[n] = 0;
    int i = kp_find_param(s, name);
    if (i < 0) {
        char known[256] = "";
        for (int j = 0; j < s->n_params; j++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", j ? ", " : "", s->params[j].name);
        snprintf(err, errlen, "--set %s: the kernel declares no @param %s (it declares: %s)", assignment, name,
                 known[0] ? known : "none");
        return -1;
    }
    kp_expr x = {.line = 0};
    snprintf(x.text, sizeof x.text, "%s", eq + 1);
    long long v;
    char why[160];
    if (kp_eval(s, &x, &v, why, sizeof why) < 0) {
        snprintf(err, errlen, "--set %s: %s", assignment, why);
        return -1;
    }
    s->params[i].value = v;
    return 0;
}

static int eval_dim(const kp_spec *s, const kp_expr *x, long long dflt, long long lo, long long hi, const char *what,
                    long long *out, char *err, size_t errlen)
{
    if (!x->text[0]) { *out = dflt; return 0; }
    char why[160];
    if (kp_eval(s, x, out, why, sizeof why) < 0) {
        snprintf(err, errlen, "line %d: %s = %s: %s", x->line, what, x->text, why);
        return -1;
    }
    if (*out < lo || *out > hi) {
        snprintf(err, errlen, "line %d: %s = %s is %lld at these sizes; it must be %lld..%lld", x->line, what, x->text,
                 *out, lo, hi);
        return -1;
    }
    return 0;
}

int kp_spec_sizes(const kp_spec *s, kp_sizes *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < s->n_bufs; i++) {
        char what[64];
        snprintf(what, sizeof what, "the size of %s", s->bufs[i].name);
        if (eval_dim(s, &s->bufs[i].size, 1, 1, (long long)1 << 34, what, &out->elems[i], err, errlen) < 0) return -1;
        out->total_bytes += out->elems[i] * (long long)kp_type_size(s->bufs[i].type);
    }
    if (out->total_bytes > KP_MAX_BYTES) {
        snprintf(err, errlen, "the buffers take %.1f GiB together at these sizes; the limit is %lld GiB",
                 (double)out->total_bytes / (1 << 30), KP_MAX_BYTES >> 30);
        return -1;
    }
    long long v;
    out->bytes = out->flops = -1;
    if (s->bytes.text[0]) {
        if (eval_dim(s, &s->bytes, 0, 0, INT64_MAX, "@bytes", &v, err, errlen) < 0) return -1;
        out->bytes = (double)v;
    }
    if (s->flops.text[0]) {
        if (eval_dim(s, &s->flops, 0, 0, INT64_MAX, "@flops", &v, err, errlen) < 0) return -1;
        out->flops = (double)v;
    }
    static const long long grid_max[3] = {2147483647LL, 65535, 65535}, block_max[3] = {1024, 1024, 64};
    for (int d = 0; d < 3; d++) {
        if (eval_dim(s, &s->grid[d], 1, 1, grid_max[d], "@grid", &v, err, errlen) < 0) return -1;
        out->grid[d] = (unsigned)v;
        if (eval_dim(s, &s->block[d], 1, 1, block_max[d], "@block", &v, err, errlen) < 0) return -1;
        out->block[d] = (unsigned)v;
    }
    if ((long long)out->block[0] * out->block[1] * out->block[2] > 1024) {
        snprintf(err, errlen, "@block is %u x %u x %u threads; a block holds at most 1024", out->block[0],
                 out->block[1], out->block[2]);
        return -1;
    }
    if (eval_dim(s, &s->shared, 0, 0, 227 << 10, "@shared", &v, err, errlen) < 0) return -1;
    out->shared = (unsigned)v;
    return 0;
}

/* ---- the declaration ----------------------------------------------------------------- */

typedef struct parser {
    const jit_source *src;
    kp_spec *s;
    aa_reports *reps;
    int problems;
    int line;            /* of the directive being read */
    const char *line_start;
    int code_only;       /* scan without reading directives (kp_check_cuda) */
} parser;

static void problem(parser *p, const char *at, const char *rule, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(parser *p, const char *at, const char *rule, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int col = at && p->line_start ? (int)(at - p->line_start) + 1 : 0;
    aa_report *r = aa_report_add(p->reps, "check", p->src->path, p->line, col, rule, "%s", msg);
    if (r && p->line > 0) aa_report_snippet(r, p->src->text, p->src->len);
    p->problems++;
}

static const char *skip_space(const char *q, const char *end)
{
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    return q;
}

/* An identifier at q: its length (0 if none), copied into name. */
static size_t read_name(const char *q, const char *end, char *name, size_t cap)
{
    size_t n = 0;
    if (q >= end || !(isalpha((unsigned char)*q) || *q == '_')) return 0;
    while (q + n < end && (isalnum((unsigned char)q[n]) || q[n] == '_')) n++;
    if (n >= cap) return 0;
    memcpy(name, q, n);
    name[n] = 0;
    return n;
}

/* An expression must name only parameters declared above it, and be
 * computable at their defaults. */
static int validate_expr(parser *p, const kp_expr *x, const char *at)
{
    long long v;
    char why[160];
    if (kp_eval(p->s, x, &v, why, sizeof why) == 0) return 0;
    problem(p, at, "kernel/spec", "%s", why);
    return -1;
}

static int read_expr(parser *p, const char *q, const char *end, kp_expr *x)
{
    q = skip_space(q, end);
    while (end > q && isspace((unsigned char)end[-1])) end--;
    if (end == q) { problem(p, q, "kernel/spec", "an integer expression of the @params is missing here"); return -1; }
    if ((size_t)(end - q) >= sizeof x->text) { problem(p, q, "kernel/spec", "the expression is longer than %zu characters", sizeof x->text - 1); return -1; }
    memcpy(x->text, q, (size_t)(end - q));
    x->text[end - q] = 0;
    x->line = p->line;
    x->col = (int)(q - p->line_start) + 1;
    return validate_expr(p, x, q);
}

/* Split "a, b, c" (no nesting at top level: expressions may hold parens). */
static int read_expr_list(parser *p, const char *q, const char *end, kp_expr *out, int max, const char *what)
{
    int n = 0, depth = 0;
    const char *start = q;
    for (const char *c = q; c <= end; c++) {
        if (c < end && *c == '(') depth++;
        if (c < end && *c == ')') depth--;
        if (c == end || (*c == ',' && depth == 0)) {
            if (n == max) { problem(p, start, "kernel/spec", "%s takes at most %d expressions (x, y, z)", what, max); return -1; }
            if (read_expr(p, start, c, &out[n++]) < 0) return -1;
            start = c + 1;
        }
    }
    return 0;
}

static int parse_number(parser *p, const char **q, const char *end, double *out)
{
    const char *at = skip_space(*q, end);
    char buf[64];
    size_t n = (size_t)(end - at) < sizeof buf - 1 ? (size_t)(end - at) : sizeof buf - 1;
    memcpy(buf, at, n);
    buf[n] = 0;
    char *stop;
    errno = 0;
    *out = strtod(buf, &stop);
    if (stop == buf || errno || !isfinite(*out)) { problem(p, at, "kernel/spec", "expected a number"); return -1; }
    *q = at + (stop - buf);
    return 0;
}

/* uniform(a, b) | normal(mean, std) | arange[(start[, step])] | constant(v) | zero */
static int parse_init(parser *p, const char *q, const char *end, kp_buffer *b)
{
    static const struct { const char *name; kp_init init; int nmin, nmax; double a, b; } inits[] = {
        {"uniform", KP_INIT_UNIFORM, 2, 2, -1, 1}, {"normal", KP_INIT_NORMAL, 2, 2, 0, 1},
        {"arange", KP_INIT_ARANGE, 0, 2, 0, 1},    {"constant", KP_INIT_CONSTANT, 1, 1, 0, 0},
        {"zero", KP_INIT_ZERO, 0, 0, 0, 0},         {"zeros", KP_INIT_ZERO, 0, 0, 0, 0},
    };
    q = skip_space(q, end);
    char name[16];
    size_t n = read_name(q, end, name, sizeof name);
    for (size_t i = 0; n && i < sizeof inits / sizeof *inits; i++) {
        if (strcmp(name, inits[i].name)) continue;
        b->init = inits[i].init;
        b->a = inits[i].a;
        b->b = inits[i].b;
        const char *c = skip_space(q + n, end);
        double v[2];
        int got = 0;
        if (c < end && *c == '(') {
            c++;
            while (got < 2) {
                c = skip_space(c, end);
                if (c < end && *c == ')' && got == 0) break;
                if (parse_number(p, &c, end, &v[got]) < 0) return -1;
                got++;
                c = skip_space(c, end);
                if (c < end && *c == ',') { c++; continue; }
                break;
            }
            c = skip_space(c, end);
            if (c >= end || *c != ')') { problem(p, c, "kernel/spec", "expected ')' closing %s(...)", name); return -1; }
            c = skip_space(c + 1, end);
        }
        if (got < inits[i].nmin || got > inits[i].nmax) {
            problem(p, q, "kernel/spec", "%s takes %d to %d numbers, here %d", name, inits[i].nmin, inits[i].nmax, got);
            return -1;
        }
        if (c < end) { problem(p, c, "kernel/spec", "unexpected text after the initialiser"); return -1; }
        if (got > 0) b->a = v[0];
        if (got > 1) b->b = v[1];
        if (b->init == KP_INIT_NORMAL && !(b->b >= 0)) { problem(p, q, "kernel/spec", "normal(mean, std) needs std >= 0"); return -1; }
        return 0;
    }
    problem(p, q, "kernel/spec",
            "unknown initialiser; write uniform(lo, hi), normal(mean, std), arange(start, step), constant(v) or zero");
    return -1;
}

static int new_name_ok(parser *p, const char *at, const char *name)
{
    if (kp_find_buffer(p->s, name) >= 0 || kp_find_param(p->s, name) >= 0) {
        problem(p, at, "kernel/spec", "'%s' is declared twice", name);
        return 0;
    }
    if (!strcmp(name, "min") || !strcmp(name, "max") || !strcmp(name, "cdiv")) {
        problem(p, at, "kernel/spec", "'%s' names a function of the expressions; choose another name", name);
        return 0;
    }
    return 1;
}

/* @param NAME = EXPR */
static void directive_param(parser *p, const char *q, const char *end)
{
    kp_spec *s = p->s;
    q = skip_space(q, end);
    char name[KP_NAME_MAX];
    size_t n = read_name(q, end, name, sizeof name);
    if (!n) { problem(p, q, "kernel/spec", "expected @param NAME = VALUE"); return; }
    if (!new_name_ok(p, q, name)) return;
    const char *eq = skip_space(q + n, end);
    if (eq >= end || *eq != '=') { problem(p, eq, "kernel/spec", "expected '= VALUE' after @param %s (its default)", name); return; }
    if (s->n_params == KP_MAX_PARAMS) { problem(p, q, "kernel/spec", "at most %d @params", KP_MAX_PARAMS); return; }
    kp_expr x;
    if (read_expr(p, eq + 1, end, &x) < 0) return;
    char why[160];
    long long v;
    if (kp_eval(s, &x, &v, why, sizeof why) < 0) return;
    kp_param *pr = &s->params[s->n_params++];
    snprintf(pr->name, sizeof pr->name, "%s", name);
    pr->value = v;
    pr->line = p->line;
}

/* @in|@out|@inout NAME: TYPE[EXPR] [= INIT] */
static void directive_buffer(parser *p, kp_role role, const char *q, const char *end)
{
    kp_spec *s = p->s;
    q = skip_space(q, end);
    char name[KP_NAME_MAX], type[8];
    size_t n = read_name(q, end, name, sizeof name);
    if (!n) { problem(p, q, "kernel/spec", "expected @%s NAME: TYPE[SIZE]", kp_role_name(role)); return; }
    if (!new_name_ok(p, q, name)) return;
    const char *c = skip_space(q + n, end);
    if (c >= end || *c != ':') { problem(p, c, "kernel/spec", "expected ':' and the element type after %s (e.g. %s: f32[n])", name, name); return; }
    c = skip_space(c + 1, end);
    size_t tn = read_name(c, end, type, sizeof type);
    int t = -1;
    for (int i = 0; tn && i < 4; i++)
        if (!strcmp(type, type_names[i])) t = i;
    if (t < 0) { problem(p, c, "kernel/spec", "the element type is one of f32, f16, bf16, i32"); return; }
    const char *open = skip_space(c + tn, end), *close = NULL;
    int depth = 0;
    for (const char *k = open; k < end && open < end && *open == '['; k++) {
        if (*k == '[') depth++;
        if (*k == ']' && --depth == 0) { close = k; break; }
    }
    if (!close) { problem(p, open, "kernel/spec", "expected [SIZE] after the type: the number of elements, e.g. f32[n * d]"); return; }
    if (s->n_bufs == KP_MAX_BUFFERS) { problem(p, q, "kernel/spec", "at most %d buffers", KP_MAX_BUFFERS); return; }
    kp_buffer b = {.type = (kp_type)t, .role = role, .line = p->line,
                   .init = role == KP_OUT ? KP_INIT_ZERO : KP_INIT_UNIFORM, .a = -1, .b = 1};
    snprintf(b.name, sizeof b.name, "%s", name);
    if (read_expr(p, open + 1, close, &b.size) < 0) return;
    const char *rest = skip_space(close + 1, end);
    if (rest < end) {
        if (*rest != '=') { problem(p, rest, "kernel/spec", "expected '= INITIALISER' or the end of the line"); return; }
        if (role == KP_OUT) { problem(p, rest, "kernel/spec", "an @out buffer starts at zero; declare it @inout to give it an initialiser"); return; }
        if (parse_init(p, rest + 1, end, &b) < 0) return;
    }
    if (b.type == KP_I32 && (b.init == KP_INIT_NORMAL)) { problem(p, rest, "kernel/spec", "an i32 buffer takes uniform(lo, hi) (integers), arange, constant or zero"); return; }
    s->bufs[s->n_bufs++] = b;
}

static void directive_single_expr(parser *p, const char *q, const char *end, kp_expr *x, const char *what)
{
    if (x->text[0]) { problem(p, q, "kernel/spec", "%s is declared twice", what); return; }
    read_expr(p, q, end, x);
}

static void directive(parser *p, const char *at, const char *end)
{
    kp_spec *s = p->s;
    char word[16];
    size_t n = read_name(at + 1, end, word, sizeof word);
    const char *q = at + 1 + n;
    if (!n) return;   /* "@" alone, an e-mail address in prose... */
    if (!strcmp(word, "kernel")) {
        q = skip_space(q, end);
        size_t k = read_name(q, end, s->entry, sizeof s->entry);
        if (!k || skip_space(q + k, end) != end) problem(p, q, "kernel/spec", "expected @kernel ENTRY: the name of the function to call");
        s->entry_line = p->line;
    } else if (!strcmp(word, "param")) {
        directive_param(p, q, end);
    } else if (!strcmp(word, "in") || !strcmp(word, "out") || !strcmp(word, "inout")) {
        directive_buffer(p, word[0] == 'i' && word[2] ? KP_INOUT : word[0] == 'i' ? KP_IN : KP_OUT, q, end);
    } else if (!strcmp(word, "bytes")) {
        directive_single_expr(p, q, end, &s->bytes, "@bytes");
    } else if (!strcmp(word, "flops")) {
        directive_single_expr(p, q, end, &s->flops, "@flops");
    } else if (!strcmp(word, "grid") || !strcmp(word, "block")) {
        read_expr_list(p, q, end, word[0] == 'g' ? s->grid : s->block, 3, word[0] == 'g' ? "@grid" : "@block");
    } else if (!strcmp(word, "shared")) {
        directive_single_expr(p, q, end, &s->shared, "@shared");
    } else if (!strcmp(word, "tol")) {
        double v;
        if (parse_number(p, &q, end, &v) == 0 && !(v > 0 && v < 1)) problem(p, q, "kernel/spec", "@tol is a number in (0, 1)");
        else s->tol = v;
    } else if (!strcmp(word, "ref")) {
        q = skip_space(q, end);
        while (end > q && isspace((unsigned char)end[-1])) end--;
        if (q == end || (size_t)(end - q) >= sizeof s->ref) problem(p, q, "kernel/spec", "expected @ref FILE (a kernel file beside this one)");
        else snprintf(s->ref, sizeof s->ref, "%.*s", (int)(end - q), q);
    } else {
        problem(p, at, "kernel/spec",
                "unknown directive @%s; a kernel file declares @kernel, @param, @in, @out, @inout, @bytes, @flops, "
                "@tol, @ref, and for CUDA @grid, @block, @shared", word);
    }
}

/* One comment line [b, e): a directive when, after blanks and a leading
 * '*', it starts with '@'. */
static void comment_line(parser *p, const char *b, const char *e)
{
    const char *q = b;
    if (p->code_only) return;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '*' || *q == '/' || *q == '!')) q++;
    if (q < e && *q == '@') directive(p, q, e);
}

/* The text with comments and literals blanked (newlines kept), for the
 * signature; comments are fed to comment_line on the way. */
static char *scan(parser *p)
{
    const char *t = p->src->text;
    size_t len = p->src->len;
    char *code = malloc(len + 1);
    if (!code) return NULL;
    memcpy(code, t, len + 1);
    p->line = 1;
    const char *ls = t;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\n') { p->line++; ls = t + i + 1; continue; }
        if (t[i] == '"' || t[i] == '\'') {
            char q = t[i];
            for (i++; i < len && t[i] != q && t[i] != '\n'; i++) {
                if (t[i] == '\\' && i + 1 < len) code[i++] = ' ';
                code[i] = ' ';
            }
            if (i < len && t[i] == '\n') i--;
            continue;
        }
        int block = t[i] == '/' && i + 1 < len && t[i + 1] == '*';
        int line = t[i] == '/' && i + 1 < len && t[i + 1] == '/';
        if (!block && !line) continue;
        size_t start = i;
        i += 2;
        const char *seg = t + i;
        for (; i < len; i++) {
            if (block && t[i] == '*' && i + 1 < len && t[i + 1] == '/') break;
            if (t[i] == '\n') {
                p->line_start = ls;
                comment_line(p, seg, t + i);
                if (line) break;
                p->line++;
                ls = seg = t + i + 1;
            }
        }
        p->line_start = ls;
        comment_line(p, seg, t + (i < len ? i : len));
        if (block && i < len) i++;          /* the closing slash */
        for (size_t k = start; k <= i && k < len; k++)
            if (code[k] != '\n') code[k] = ' ';
        if (line && i < len) i--;           /* the newline is handled by the loop */
    }
    return code;
}

/* ---- the entry's parameter list -------------------------------------------------------- */

static const struct { const char *spelling; int width, is_signed; } int_types[] = {
    {"int", 4, 1}, {"signed", 4, 1}, {"signed int", 4, 1}, {"unsigned", 4, 0}, {"unsigned int", 4, 0},
    {"int32_t", 4, 1}, {"uint32_t", 4, 0}, {"long", 8, 1}, {"long int", 8, 1}, {"long long", 8, 1},
    {"long long int", 8, 1}, {"unsigned long", 8, 0}, {"unsigned long long", 8, 0}, {"int64_t", 8, 1},
    {"uint64_t", 8, 0}, {"size_t", 8, 0}, {"ptrdiff_t", 8, 1},
};

/* What a buffer's pointer may point to, per element type. */
static int element_spelling_ok(kp_type t, const char *s)
{
    static const char *const f32[] = {"float", NULL}, *const i32[] = {"int", "int32_t", "signed", "signed int", NULL},
                             *const f16[] = {"uint16_t", "unsigned short", "ak_f16", NULL},
                             *const bf16[] = {"uint16_t", "unsigned short", "ak_bf16", NULL};
    const char *const *ok = t == KP_F32 ? f32 : t == KP_I32 ? i32 : t == KP_F16 ? f16 : bf16;
    for (; *ok; ok++)
        if (!strcmp(*ok, s)) return 1;
    return 0;
}

/* The words of a declaration without qualifiers, stars and the name. */
static void base_type(const char *decl, size_t len, size_t name_at, char *out, size_t cap, int *stars)
{
    static const char *const drop[] = {"const", "restrict", "__restrict__", "__restrict", "volatile", NULL};
    size_t n = 0;
    *stars = 0;
    out[0] = 0;
    for (size_t i = 0; i < name_at;) {
        if (decl[i] == '*') { (*stars)++; i++; continue; }
        if (!(isalnum((unsigned char)decl[i]) || decl[i] == '_')) { i++; continue; }
        size_t w = i;
        while (w < len && (isalnum((unsigned char)decl[w]) || decl[w] == '_')) w++;
        int skip = 0;
        for (int k = 0; drop[k]; k++)
            if (w - i == strlen(drop[k]) && !memcmp(decl + i, drop[k], w - i)) skip = 1;
        if (!skip && n + (w - i) + 2 < cap) {
            if (n) out[n++] = ' ';
            memcpy(out + n, decl + i, w - i);
            n += w - i;
            out[n] = 0;
        }
        i = w;
    }
}

static void signature_param(parser *p, const char *code, const char *b, const char *e)
{
    kp_spec *s = p->s;
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    const char *n_end = e, *n_start = e;
    while (n_start > b && (isalnum((unsigned char)n_start[-1]) || n_start[-1] == '_')) n_start--;
    p->line = 1;
    p->line_start = p->src->text;
    for (const char *k = code; k < b; k++)
        if (*k == '\n') { p->line++; p->line_start = p->src->text + (k + 1 - code); }
    const char *at = p->src->text + (b - code);
    char name[KP_NAME_MAX];
    if (n_start == n_end || n_start == b || (size_t)(n_end - n_start) >= sizeof name) {
        problem(p, at, "kernel/signature", "each parameter of %s needs a type and a name", s->entry);
        return;
    }
    memcpy(name, n_start, (size_t)(n_end - n_start));
    name[n_end - n_start] = 0;
    char type[64];
    int stars;
    base_type(b, (size_t)(e - b), (size_t)(n_start - b), type, sizeof type, &stars);
    if (s->n_args == KP_MAX_ARGS) { problem(p, at, "kernel/signature", "at most %d parameters", KP_MAX_ARGS); return; }
    kp_arg *a = &s->args[s->n_args];
    int bi = kp_find_buffer(s, name), pi = kp_find_param(s, name);
    if (bi >= 0) {
        const kp_buffer *buf = &s->bufs[bi];
        if (stars != 1 || !element_spelling_ok(buf->type, type)) {
            problem(p, at, "kernel/signature", "%s is declared %s[...]: its parameter must be a pointer to %s, not '%s%s'",
                    name, kp_type_name(buf->type),
                    buf->type == KP_F32 ? "float" : buf->type == KP_I32 ? "int" : buf->type == KP_F16 ? "uint16_t (or ak_f16)" : "uint16_t (or ak_bf16)",
                    type, stars == 1 ? " *" : stars ? " **" : "");
            return;
        }
        *a = (kp_arg){.buffer = 1, .index = bi, .width = 8};
    } else if (pi >= 0) {
        int ok = -1;
        for (size_t k = 0; k < sizeof int_types / sizeof *int_types; k++)
            if (!strcmp(int_types[k].spelling, type)) ok = (int)k;
        if (stars || ok < 0) {
            problem(p, at, "kernel/signature",
                    "@param %s is an integer: its parameter is int, unsigned, long, long long, int32_t, uint32_t, "
                    "int64_t, uint64_t, size_t or ptrdiff_t, not '%s%s'", name, type, stars ? " *" : "");
            return;
        }
        *a = (kp_arg){.buffer = 0, .index = pi, .width = int_types[ok].width, .is_signed = int_types[ok].is_signed};
    } else {
        problem(p, n_start - code + p->src->text, "kernel/signature",
                "parameter %s of %s is neither a declared buffer (@in/@out/@inout) nor a @param", name, s->entry);
        return;
    }
    for (int k = 0; k < s->n_args; k++)
        if (s->args[k].buffer == a->buffer && s->args[k].index == a->index) {
            problem(p, at, "kernel/signature", "%s is passed twice", name);
            return;
        }
    s->n_args++;
}

/* Find `entry ( ... ) {` at file scope in the blanked code. */
static void read_signature(parser *p, const char *code)
{
    kp_spec *s = p->s;
    size_t elen = strlen(s->entry);
    const char *def = NULL, *close = NULL;
    int depth = 0, found = 0;
    for (const char *k = code; *k; k++) {
        if (*k == '{') depth++;
        if (*k == '}') depth--;
        if (depth != 0 || strncmp(k, s->entry, elen) || (k > code && (isalnum((unsigned char)k[-1]) || k[-1] == '_')) ||
            isalnum((unsigned char)k[elen]) || k[elen] == '_')
            continue;
        const char *open = k + elen;
        while (isspace((unsigned char)*open)) open++;
        if (*open != '(') continue;
        int pd = 0;
        const char *c = open;
        for (; *c; c++) {
            if (*c == '(') pd++;
            if (*c == ')' && --pd == 0) break;
        }
        if (!*c) break;
        const char *after = c + 1;
        while (isspace((unsigned char)*after)) after++;
        if (*after != '{') continue;
        found++;
        def = open;
        close = c;
    }
    p->line = s->entry_line;
    p->line_start = NULL;
    if (found != 1) {
        problem(p, NULL, "kernel/signature", found ? "%s is defined more than once" :
                "@kernel names %s, but this file defines no function of that name (a definition with a body at file scope)",
                s->entry);
        return;
    }
    const char *b = def + 1;
    int pd = 0;
    const char *k = b;
    for (; k <= close; k++) {
        if (*k == '(') pd++;
        if (*k == ')') pd--;
        if ((*k == ',' && pd == 0) || k == close) {
            const char *e = k;
            const char *t = b;
            while (t < e && isspace((unsigned char)*t)) t++;
            if (!(e - t == 4 && !memcmp(t, "void", 4) && k == close && s->n_args == 0) && t < e)
                signature_param(p, code, b, e);
            b = k + 1;
        }
    }
    for (int i = 0; i < s->n_bufs; i++) {
        int used = 0;
        for (int a = 0; a < s->n_args; a++) used |= s->args[a].buffer && s->args[a].index == i;
        if (!used) {
            p->line = s->bufs[i].line;
            p->line_start = NULL;
            problem(p, NULL, "kernel/signature", "buffer %s is declared but %s takes no parameter of that name",
                    s->bufs[i].name, s->entry);
        }
    }
}

int kp_spec_parse(const jit_source *src, kp_lang lang, kp_spec *out, aa_reports *reps)
{
    memset(out, 0, sizeof *out);
    out->lang = lang;
    parser p = {.src = src, .s = out, .reps = reps};
    char *code = scan(&p);
    if (!code) {
        aa_report_add(reps, "check", src->path, 0, 0, "kernel/spec", "out of memory reading the declaration");
        return 1;
    }
    p.line = 0;
    p.line_start = NULL;
    if (!out->entry[0]) {
        problem(&p, NULL, "kernel/spec",
                "no @kernel declaration: a kernel file declares its entry point and buffers in a comment, e.g. "
                "/* @kernel scale  @param n = 1024  @in x: f32[n]  @out y: f32[n] */ (one directive per line)");
    } else {
        int outs = 0;
        for (int i = 0; i < out->n_bufs; i++) outs += out->bufs[i].role != KP_IN;
        if (!outs) { p.line = out->entry_line; problem(&p, NULL, "kernel/spec", "the kernel declares no @out or @inout buffer: nothing to compare or keep"); }
        if (!p.problems) read_signature(&p, code);
    }
    free(code);
    return p.problems;
}

/* ---- CUDA kernel files ----------------------------------------------------------------------- */

/* What a CUDA kernel file may not name (NVRTC compiles the rest, and
 * device code reaches nothing of the host but through these): inline PTX,
 * the device runtime's printf, heap and launches, and C++'s heap. */
static const struct { const char *word, *why; } cuda_forbidden[] = {
    {"asm", "inline PTX"}, {"__asm__", "inline PTX"}, {"__asm", "inline PTX"},
    {"printf", "device printf"}, {"vprintf", "device printf"}, {"assert", "device assert (it prints)"},
    {"malloc", "the device heap"}, {"free", "the device heap"}, {"new", "the device heap"},
    {"delete", "the device heap"}, {"cudaMalloc", "the device runtime"}, {"cudaFree", "the device runtime"},
    {"cudaLaunchDevice", "dynamic parallelism"}, {"cudaGetParameterBuffer", "dynamic parallelism"},
    {"__nanosleep", "sleeping"},
};

int kp_check_cuda(const jit_source *src, aa_reports *reps)
{
    kp_spec dummy;
    memset(&dummy, 0, sizeof dummy);
    parser p = {.src = src, .s = &dummy, .reps = reps, .code_only = 1};
    char *code = scan(&p);
    if (!code) return 1;
    int line = 1;
    const char *ls = code;
    for (const char *k = code; *k; k++) {
        if (*k == '\n') { line++; ls = k + 1; continue; }
        if (*k == '#') {   /* directives: only the kernel header */
            const char *d = k + 1;
            while (*d == ' ' || *d == '\t') d++;
            size_t n = strcspn(d, " \t\n<\"");
            int include = n == 7 && !strncmp(d, "include", 7);
            const char *arg = d + n;
            while (*arg == ' ' || *arg == '\t') arg++;
            const char *spelled = src->text + (arg - code);
            if (!include || (strncmp(spelled, "<asiarch_kernel.h>", 18) && strncmp(spelled, "\"asiarch_kernel.h\"", 18))) {
                p.line = line;
                p.line_start = src->text + (ls - code);
                problem(&p, src->text + (k - code), "kernel/preprocessor",
                        "no directives in a CUDA kernel file but `#include <asiarch_kernel.h>` (which the "
                        "harness includes anyway): no other headers, no macros; use enum or const for constants");
            }
            while (*k && *k != '\n') k++;
            k--;
            continue;
        }
        if (!(isalpha((unsigned char)*k) || *k == '_') || (k > code && (isalnum((unsigned char)k[-1]) || k[-1] == '_')))
            continue;
        size_t n = 1;
        while (isalnum((unsigned char)k[n]) || k[n] == '_') n++;
        for (size_t i = 0; i < sizeof cuda_forbidden / sizeof *cuda_forbidden; i++)
            if (strlen(cuda_forbidden[i].word) == n && !strncmp(k, cuda_forbidden[i].word, n)) {
                p.line = line;
                p.line_start = src->text + (ls - code);
                problem(&p, src->text + (k - code), "kernel/cuda-forbidden",
                        "'%s' (%s) is not allowed in a kernel file: a kernel computes on its buffers only", cuda_forbidden[i].word,
                        cuda_forbidden[i].why);
            }
        k += n - 1;
    }
    free(code);
    return p.problems;
}

/* ---- the C trampoline ------------------------------------------------------------------ */

char *kp_c_source(const kp_spec *s, const jit_source *src)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fwrite(src->text, 1, src->len, f);
    /* On the last line of the file, so no line of the kernel moves. */
    fprintf(f, "%s\nvoid " KP_TRAMPOLINE "(void *const *b, const long long *p) { %s(", src->len && src->text[src->len - 1] != '\n' ? "" : "", s->entry);
    for (int i = 0; i < s->n_args; i++)
        fprintf(f, "%s%c[%d]", i ? ", " : "", s->args[i].buffer ? 'b' : 'p', s->args[i].index);
    fprintf(f, "); }\n");
    if (fclose(f) != 0) { free(text); return NULL; }
    return text;
}
