/*
 * check.c — the DSL checker: ARCHITECTURE §3's rules, enforced with libclang
 * before a candidate is compiled.
 *
 * A candidate is untrusted C written by a language model. The rules keep it
 * a pure graph-building program: no pointers but the layer handle, no calls
 * but the DSL, no unbounded loops or recursion, no way to reach the host
 * (asm, symbol renaming, attributes, extern declarations). Every violation
 * becomes a report with a stable rule id, the candidate's line and column,
 * and a message that says what is wrong and what to write instead: it is
 * read by the model that repairs the code.
 *
 * How it works, in passes:
 *
 *   guard    a rough scan of the text, before clang sees it, for what the
 *            parser cannot survive (nesting thousands deep, macro bombs);
 *            see "guard" below;
 *   parse    the candidate and the embedded DSL header as unsaved files at
 *            virtual paths, behind a VFS overlay that hides the real file
 *            system (so `#include "/etc/passwd"` or "/dev/stdin" cannot be
 *            read: it is simply not found);
 *   tokens   the raw tokens of the candidate's own text: preprocessor
 *            directives, and keywords/identifiers that are forbidden however
 *            they are used (asm, __attribute__, volatile, __builtin_*, ...);
 *   cursors  the AST below every declaration the candidate's file contributes,
 *            flattened into an array in pre-order (libclang's own traversal is
 *            iterative, so deep expressions cannot overflow our stack); one
 *            small function per rule family looks at each node;
 *   graph    calls between the file's own functions: cycles are recursion;
 *   clang    compiler errors, with clang's own message.
 *
 * Reports are sorted into source order and deduplicated at the end.
 *
 * Header macros. The op macros (aa_linear, AA_NAME, AA_INIT_*, AA_NONE...)
 * expand to code written in the header; we judge what the candidate wrote.
 * Locations are mapped with clang_getFileLocation, which for a token that
 * came from a macro argument gives where the candidate spelled it, and for a
 * token from a macro body gives where the macro was used. Where a rule
 * depends on who wrote a construct (string literals, operators), `mine()`
 * tokenizes the node's extent: clang_tokenize returns tokens only when the
 * whole extent was spelled in one file, so a node made of header text yields
 * none or the header's.
 *
 * The checker must see exactly what the compiler will compile: jit_compile
 * must parse with the same language mode (-std=c17), and both stages use the
 * same embedded header. Trigraphs, which differ between -std=c17 and
 * -std=gnu17 (and hide inside comments), are rejected outright.
 */
#include <clang-c/Index.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

/* Virtual paths: nothing here exists on disk, and the overlay hides the rest. */
#define MAIN_PATH "/asiarch/src/candidate.c"
#define HEADER_DIR "/asiarch/include"
#define HEADER_PATH HEADER_DIR "/asiarch.h"
#define KERNEL_HEADER_PATH HEADER_DIR "/asiarch_kernel.h"

#define SOURCE_MAX ((size_t)1 << 20)     /* as jit_source_read */
#define MAX_REPORTS 200                  /* shown; the rest are counted */
#define MAX_PENDING 5000                 /* kept before sorting */
#define LOCAL_ARRAY_MAX 4096ull          /* elements in one local array */
#define GLOBAL_ARRAY_MAX 65536ull        /* elements in one const table */
#define LOCAL_BYTES_MAX (64u << 10)      /* bytes in one local variable */
#define GLOBAL_BYTES_MAX (4u << 20)      /* bytes in one const table */
#define LOOP_TRIPS_MAX (1ll << 20)       /* iterations of a loop with constant bounds */

/* ---- the rules ---------------------------------------------------------------- */

enum rule {
    R_INCLUDE, R_PREPROCESSOR, R_TRIGRAPH, R_COMPILER_ERROR, R_POINTER, R_ADDRESS_OF,
    R_DEREFERENCE, R_POINTER_ARITH, R_CAST_POINTER, R_FUNCTION_POINTER, R_STRING, R_ASM,
    R_ASM_LABEL, R_GOTO, R_SETJMP, R_VARIADIC, R_VLA, R_ARRAY_TOO_LARGE, R_VOLATILE,
    R_ATTRIBUTE, R_BUILTIN, R_STMT_EXPR, R_THREAD_LOCAL, R_ATOMIC, R_GENERIC, R_TYPEOF,
    R_TYPE, R_EXTERN, R_PROTOTYPE, R_INLINE, R_RESERVED, R_MUTABLE_GLOBAL, R_HANDLE,
    R_SWITCH, R_POINTWISE, R_NAME, R_CALL_NOT_ALLOWED, R_CALL_INDIRECT, R_RECURSION, R_LOOP, R_NO_MIXER,
    R_TOO_LARGE, R_TOO_COMPLEX, R_TOO_MANY, R_COUNT
};

/* id: stable, printed in every report. per_line: one report per line is
 * enough (the token and the cursor passes both see an attribute or asm). */
static const struct {
    const char *id;
    int per_line;
    const char *what;
} rules[R_COUNT] = {
    [R_INCLUDE] = {"dsl/include", 0, "only #include <asiarch.h>"},
    [R_PREPROCESSOR] = {"dsl/preprocessor", 0, "no other directive (#define, #if, #pragma...) nor _Pragma"},
    [R_TRIGRAPH] = {"dsl/trigraph", 0, "no trigraphs (?\?= ?\?/ ...), which change meaning between C modes"},
    [R_COMPILER_ERROR] = {"dsl/compiler-error", 0, "the file must compile as C17 against <asiarch.h> alone"},
    [R_POINTER] = {"dsl/pointer", 0, "no pointer types except aa_layer *; arrays only indexed"},
    [R_ADDRESS_OF] = {"dsl/address-of", 0, "no unary &"},
    [R_DEREFERENCE] = {"dsl/dereference", 0, "no unary *, ->, or [] on a pointer"},
    [R_POINTER_ARITH] = {"dsl/pointer-arith", 0, "no arithmetic on pointers"},
    [R_CAST_POINTER] = {"dsl/cast-pointer", 0, "no conversion to or from a pointer"},
    [R_FUNCTION_POINTER] = {"dsl/function-pointer", 0, "no function pointers; functions are only called"},
    [R_STRING] = {"dsl/string", 0, "string literals only as names passed to aa_* calls, AA_NAME, AA_MOTIVATION"},
    [R_ASM] = {"dsl/asm", 1, "no inline or file-scope assembly"},
    [R_ASM_LABEL] = {"dsl/asm-label", 1, "no asm labels (symbol renaming)"},
    [R_GOTO] = {"dsl/goto", 0, "no goto, labels or computed goto"},
    [R_SETJMP] = {"dsl/setjmp", 0, "no setjmp/longjmp"},
    [R_VARIADIC] = {"dsl/variadic", 0, "no variadic functions, no va_list"},
    [R_VLA] = {"dsl/vla", 0, "no variable-length arrays, no flexible array members"},
    [R_ARRAY_TOO_LARGE] = {"dsl/array-too-large", 0, "local arrays of at most 4096 elements (tables 65536)"},
    [R_VOLATILE] = {"dsl/volatile", 0, "no volatile"},
    [R_ATTRIBUTE] = {"dsl/attribute", 1, "no __attribute__, __declspec, _Noreturn, _Alignas"},
    [R_BUILTIN] = {"dsl/builtin", 0, "no __builtin_* or other reserved __ names"},
    [R_STMT_EXPR] = {"dsl/statement-expression", 0, "no GNU statement expressions ({ ... })"},
    [R_THREAD_LOCAL] = {"dsl/thread-local", 0, "no thread-local storage"},
    [R_ATOMIC] = {"dsl/atomic", 0, "no _Atomic"},
    [R_GENERIC] = {"dsl/generic", 0, "no _Generic"},
    [R_TYPEOF] = {"dsl/typeof", 0, "no typeof/__typeof__/__auto_type"},
    [R_TYPE] = {"dsl/type", 1, "no _Complex, vectors, __int128, half/quad floats"},
    [R_EXTERN] = {"dsl/extern", 0, "no extern declarations; no functions declared but not defined"},
    [R_PROTOTYPE] = {"dsl/prototype", 0, "functions need prototypes: f(void), not f() or K&R"},
    [R_INLINE] = {"dsl/inline", 0, "inline only together with static"},
    [R_RESERVED] = {"dsl/reserved-name", 0, "no definitions of aa_* names, DSL functions, memcpy/memset/memmove"},
    [R_MUTABLE_GLOBAL] = {"dsl/mutable-global", 0, "file-scope and static variables must be const"},
    [R_HANDLE] = {"dsl/handle", 0, "aa_t is opaque: no field access, no handles made from numbers, not in unions"},
    [R_SWITCH] = {"dsl/switch", 0, "case labels directly in the switch body"},
    [R_POINTWISE] = {"dsl/pointwise", 0, "aa_pointwise names a float function of this file and its derivatives"},
    [R_NAME] = {"dsl/name", 0, "AA_NAME is 1-64 characters from [a-z0-9_]"},
    [R_CALL_NOT_ALLOWED] = {"dsl/call-not-allowed", 0, "calls only to asiarch.h and the file's own functions"},
    [R_CALL_INDIRECT] = {"dsl/call-indirect", 0, "calls only by a function's name"},
    [R_RECURSION] = {"dsl/recursion", 0, "no recursion, direct or through a cycle of calls"},
    [R_LOOP] = {"dsl/loop-unbounded", 0, "only for (int i = A; i < B; i++) style loops"},
    [R_NO_MIXER] = {"dsl/no-mixer", 0, "define aa_t mixer(aa_layer *l, aa_t x)"},
    [R_TOO_LARGE] = {"dsl/source-too-large", 0, "a candidate is at most 1 MiB of text"},
    [R_TOO_COMPLEX] = {"dsl/too-complex", 0, "nesting without brackets at most 800 levels deep"},
    [R_TOO_MANY] = {"dsl/too-many-violations", 0, "more violations than are shown"},
};

static const char LOOP_FORM[] =
    "write `for (int i = A; i < B; i++)` (or <=, >, >=; i--, i += C, i -= C with a constant C > 0) "
    "where the body never assigns i and B is a constant or uses only variables the body does not assign";

/* ---- the checker's state ------------------------------------------------------ */

/* A raw token of the candidate's text (comments dropped). */
typedef struct tok {
    CXTokenKind kind;
    unsigned off, end;          /* byte offsets in the source */
    unsigned line, col, end_line;
    char *name;                 /* identifiers and keywords (splices removed); else NULL */
} tok;

/* One AST node from the candidate's file, in pre-order: the nodes of a
 * subtree are [i, end), its children i+1, end[i+1], ... */
typedef struct node {
    CXCursor cur;
    enum CXCursorKind kind;
    int parent, end;
    unsigned line, col;         /* clang_getFileLocation of the cursor */
    unsigned off, end_off;      /* file-location extent in the source, when in_main */
    unsigned loc_off;           /* offset of the cursor's location (a declaration's name) */
    signed char in_main;        /* the location is in the candidate's file */
    signed char macro;          /* inside a macro expansion */
    signed char mine;           /* -1 not yet known; 1 written by the candidate; 0 header text */
} node;

typedef struct pending {
    int rule, seq;
    unsigned line, col;
    char *msg;
} pending;

/* A set of names (open addressing; values are indices). */
typedef struct nameset {
    char **keys;
    int *vals;
    size_t cap, n;
} nameset;

typedef struct span { unsigned off, end; } span;

typedef struct call_edge { int from, to, at; } call_edge;

typedef struct checker {
    const jit_source *src;
    int kernel;                 /* 0: a DSL candidate; 1: a C kernel file of `asiarch jit` */
    const char *text;           /* what clang parses: the source with #define lines blanked */
    const char *source;         /* the candidate as written (snippets) */
    size_t len;
    unsigned *line_starts;      /* offset of each line's first byte */
    unsigned nlines;
    CXTranslationUnit tu;
    CXFile main_file, header_file;

    node *nodes;
    int n, cap;
    int *stack, sp, stack_cap;

    tok *toks;
    int ntok;

    nameset header_fns;         /* functions asiarch.h declares */
    char math_fns[512];         /* those not named aa_*, for messages: "sqrtf, expf, ..." */
    nameset own_fns;            /* functions this file defines at file scope -> index in fns */
    int *fns, nfns;             /* node index of each own function definition */
    call_edge *edges;
    int nedges, edges_cap;

    span *asm_labels;           /* extents of AsmLabelAttr cursors */
    int nasm_labels, asm_labels_cap;
    unsigned include_line;      /* line of the first #include <asiarch.h>, 0 if none */
    int include_quoted;         /* saw #include "asiarch.h" (reported on its own) */

    pending *reps;
    int nreps, reps_cap, seq;
    long dropped;
    int oom;
} checker;

/* ---- small helpers ------------------------------------------------------------- */

static void *grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return p;
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * elem);
    if (q) *cap = c;
    return q;
}

static void copy_string(CXString s, char *buf, size_t n)
{
    const char *p = clang_getCString(s);
    snprintf(buf, n, "%s", p ? p : "");
    clang_disposeString(s);
}

static void cursor_name(CXCursor c, char *buf, size_t n) { copy_string(clang_getCursorSpelling(c), buf, n); }
static void type_name(CXType t, char *buf, size_t n) { copy_string(clang_getTypeSpelling(t), buf, n); }

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Returns the value stored for name, or -1. */
static int set_get(const nameset *s, const char *name)
{
    if (!s->cap) return -1;
    for (size_t i = hash_str(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->keys[i]) return -1;
        if (strcmp(s->keys[i], name) == 0) return s->vals[i];
    }
}

/* Adds name (first value wins). Returns 0, or -1 out of memory. */
static int set_put(nameset *s, const char *name, int val)
{
    if (set_get(s, name) >= 0) return 0;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **keys = calloc(cap, sizeof *keys);
        int *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) { free(keys); free(vals); return -1; }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i]) continue;
            size_t j = hash_str(s->keys[i]) & (cap - 1);
            while (keys[j]) j = (j + 1) & (cap - 1);
            keys[j] = s->keys[i];
            vals[j] = s->vals[i];
        }
        free(s->keys);
        free(s->vals);
        s->keys = keys;
        s->vals = vals;
        s->cap = cap;
    }
    size_t i = hash_str(name) & (s->cap - 1);
    while (s->keys[i]) i = (i + 1) & (s->cap - 1);
    if (!(s->keys[i] = strdup(name))) return -1;
    s->vals[i] = val;
    s->n++;
    return 0;
}

static void set_free(nameset *s)
{
    for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

/* ---- reporting ------------------------------------------------------------------ */

static void report(checker *c, int rule, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A kernel file (asiarch jit) computes on its buffers through pointers, in
 * loops bounded by its parameters: the rules about the DSL's graph-building
 * subset do not apply to it. Everything that reaches outside the file
 * (asm, attributes, calls, includes, mutable globals, recursion...) does. */
static int kernel_exempt(int rule)
{
    switch (rule) {
    case R_POINTER: case R_ADDRESS_OF: case R_DEREFERENCE: case R_POINTER_ARITH: case R_LOOP: case R_NO_MIXER:
    case R_HANDLE: case R_POINTWISE: case R_NAME:
        return 1;
    default:
        return 0;
    }
}

static void report(checker *c, int rule, unsigned line, unsigned col, const char *fmt, ...)
{
    if (c->kernel && kernel_exempt(rule)) return;
    if (c->nreps >= MAX_PENDING) { c->dropped++; return; }
    pending *p = grow(c->reps, &c->reps_cap, c->nreps + 1, sizeof *p);
    if (!p) { c->oom = 1; return; }
    c->reps = p;
    char msg[sizeof ((aa_report *)0)->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *m = strdup(msg);
    if (!m) { c->oom = 1; return; }
    c->reps[c->nreps++] = (pending){rule, c->seq++, line ? line : 1, col ? col : 1, m};
}

#define report_node(c, rule, i, ...) report((c), (rule), (c)->nodes[i].line, (c)->nodes[i].col, __VA_ARGS__)

static int by_position(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The id printed: "dsl/asm", or for a kernel file "kernel/asm". */
static const char *rule_id(const checker *c, int rule, char *buf, size_t n)
{
    if (!c->kernel || strncmp(rules[rule].id, "dsl/", 4)) return rules[rule].id;
    snprintf(buf, n, "kernel/%s", rules[rule].id + 4);
    return buf;
}

/* The DSL's messages, said to a kernel file: the same rules, its header. */
static void kernel_wording(char *msg, size_t cap)
{
    static const char *const swaps[][2] = {
        {"the aa_* ops, the math functions of <asiarch.h>", "the functions of <asiarch_kernel.h>"},
        {"the aa_* ops, the math functions declared in <asiarch.h>", "the functions declared in <asiarch_kernel.h>"},
        {"use the aa_* ops and the math functions asiarch.h declares", "use the functions asiarch_kernel.h declares"},
        {"with the aa_* ops or plain C arithmetic", "in plain C arithmetic"},
        {"the aa_* ops and ", ""}, {"the aa_* ops or ", ""}, {"the aa_* ops, ", ""}, {"aa_* ops", "functions"},
        {"<asiarch.h>", "<asiarch_kernel.h>"}, {"asiarch.h", "asiarch_kernel.h"},
        {"not part of the DSL", "not available to a kernel"},
        {"not a function of the DSL", "not available to a kernel"}, {"a candidate", "a kernel"},
        {"the DSL", "a kernel file"}, {"calls of the mixer", "calls of the kernel"},
    };
    char buf[sizeof ((aa_report *)0)->message];
    for (size_t k = 0; k < sizeof swaps / sizeof *swaps; k++) {
        char *at;
        while ((at = strstr(msg, swaps[k][0]))) {
            snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - msg), msg, swaps[k][1], at + strlen(swaps[k][0]));
            snprintf(msg, cap, "%s", buf);
        }
    }
}

/* Sort into source order, drop duplicates, append to out. Returns the
 * number of violations. */
static int emit_reports(checker *c, aa_reports *out)
{
    char id[64];
    if (c->nreps) qsort(c->reps, (size_t)c->nreps, sizeof *c->reps, by_position);
    int kept = 0, shown = 0;
    for (int i = 0; i < c->nreps; i++) {
        const pending *p = &c->reps[i];
        int dup = 0;
        for (int j = i - 1; j >= 0 && c->reps[j].line == p->line; j--)
            if (c->reps[j].rule == p->rule && (c->reps[j].col == p->col || rules[p->rule].per_line)) dup = 1;
        if (dup) continue;
        kept++;
        if (shown >= MAX_REPORTS) continue;
        aa_report *r = aa_report_add(out, "check", c->src->path, (int)p->line, (int)p->col, rule_id(c, p->rule, id, sizeof id),
                                     "%s", p->msg);
        if (!r) continue;
        if (c->kernel) kernel_wording(r->message, sizeof r->message);
        aa_report_snippet(r, c->source, c->len);
        shown++;
    }
    long hidden = (long)(kept - shown) + c->dropped;
    if (hidden > 0) {
        aa_report *r = aa_report_add(out, "check", c->src->path, 1, 1, rule_id(c, R_TOO_MANY, id, sizeof id),
                                     "%ld more violations are not shown; fix the ones above first", hidden);
        if (r) aa_report_snippet(r, c->source, c->len);
    }
    return kept + (int)c->dropped;
}

/* ---- locations and nodes --------------------------------------------------------- */

/* The file location (spelled position of a macro argument, or the macro's
 * use for text from a macro body) of loc in the candidate's file. */
/* Files are compared by identity: clang_File_isEqual compares inode
 * numbers, which the two virtual files share. */
static int main_loc(const checker *c, CXSourceLocation loc, unsigned *line, unsigned *col, unsigned *off)
{
    CXFile f = NULL;
    unsigned l = 0, co = 0, o = 0;
    clang_getFileLocation(loc, &f, &l, &co, &o);
    if (line) *line = l;
    if (col) *col = co;
    if (off) *off = o;
    return f && f == c->main_file;
}

static int in_file(CXSourceLocation loc, CXFile file)
{
    CXFile f = NULL;
    clang_getExpansionLocation(loc, &f, NULL, NULL, NULL);
    return f && file && f == file;
}

static int first_child(const checker *c, int i) { return i + 1 < c->nodes[i].end ? i + 1 : -1; }
static int next_sibling(const checker *c, int j)
{
    int p = c->nodes[j].parent, e = c->nodes[j].end;
    return (p >= 0 ? e < c->nodes[p].end : e < c->n) ? e : -1;
}
static int nth_child(const checker *c, int i, int k)
{
    int j = first_child(c, i);
    while (j >= 0 && k-- > 0) j = next_sibling(c, j);
    return j;
}
static int nchildren(const checker *c, int i)
{
    int k = 0;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j)) k++;
    return k;
}

/* Skip parentheses (and, with implicit, implicit conversions). */
static int strip(const checker *c, int i, int implicit)
{
    while (i >= 0) {
        enum CXCursorKind k = c->nodes[i].kind;
        if (k != CXCursor_ParenExpr && !(implicit && k == CXCursor_UnexposedExpr)) break;
        if (nchildren(c, i) != 1) break;
        i = first_child(c, i);
    }
    return i;
}

static CXType node_type(const checker *c, int i) { return clang_getCursorType(c->nodes[i].cur); }

/* The value of an integer constant expression; *ok = 0 when it is not one. */
static long long eval_int(const checker *c, int i, int *ok)
{
    CXEvalResult ev = clang_Cursor_Evaluate(c->nodes[i].cur);
    long long v = 0;
    *ok = 0;
    if (ev && clang_EvalResult_getKind(ev) == CXEval_Int) {
        if (clang_EvalResult_isUnsignedInt(ev)) {
            unsigned long long u = clang_EvalResult_getAsUnsigned(ev);
            *ok = u <= (unsigned long long)LLONG_MAX;
            v = (long long)u;
        } else {
            *ok = 1;
            v = clang_EvalResult_getAsLongLong(ev);
        }
    }
    if (ev) clang_EvalResult_dispose(ev);
    return v;
}

/* ---- tokens ---------------------------------------------------------------------- */

static int tok_is(const checker *c, const tok *t, const char *s)
{
    size_t n = strlen(s);
    if (t->name) return strcmp(t->name, s) == 0;
    return t->end - t->off == n && memcmp(c->text + t->off, s, n) == 0;
}

/* Index of the first token at or after offset off. */
static int tok_at(const checker *c, unsigned off)
{
    int lo = 0, hi = c->ntok;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->toks[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int load_tokens(checker *c)
{
    CXSourceRange all = clang_getRange(clang_getLocationForOffset(c->tu, c->main_file, 0),
                                       clang_getLocationForOffset(c->tu, c->main_file, (unsigned)c->len));
    CXToken *cx = NULL;
    unsigned n = 0;
    clang_tokenize(c->tu, all, &cx, &n);
    c->toks = calloc(n ? n : 1, sizeof *c->toks);
    if (!c->toks) { clang_disposeTokens(c->tu, cx, n); return -1; }
    for (unsigned i = 0; i < n; i++) {
        CXTokenKind k = clang_getTokenKind(cx[i]);
        if (k == CXToken_Comment) continue;
        tok *t = &c->toks[c->ntok];
        CXSourceRange r = clang_getTokenExtent(c->tu, cx[i]);
        t->kind = k;
        main_loc(c, clang_getRangeStart(r), &t->line, &t->col, &t->off);
        main_loc(c, clang_getRangeEnd(r), &t->end_line, NULL, &t->end);
        if (k == CXToken_Identifier || k == CXToken_Keyword) {
            CXString s = clang_getTokenSpelling(c->tu, cx[i]);
            const char *p = clang_getCString(s);
            t->name = strdup(p ? p : "");
            clang_disposeString(s);
            if (!t->name) { clang_disposeTokens(c->tu, cx, n); return -1; }
        }
        c->ntok++;
    }
    clang_disposeTokens(c->tu, cx, n);
    return 0;
}

/* Was node i written by the candidate (rather than expanded from a header
 * macro's body)? See the comment at the top. */
static int mine(checker *c, int i)
{
    node *nd = &c->nodes[i];
    if (nd->mine >= 0) return nd->mine;
    if (!nd->in_main) return nd->mine = 0;
    if (!nd->macro) return nd->mine = 1;
    CXToken *cx = NULL;
    unsigned n = 0;
    clang_tokenize(c->tu, clang_getCursorExtent(nd->cur), &cx, &n);
    int yes = n > 0 && in_file(clang_getTokenLocation(c->tu, cx[0]), c->main_file);
    clang_disposeTokens(c->tu, cx, n);
    return nd->mine = (signed char)yes;
}

/* The operator of a BinaryOperator or CompoundAssignOperator: the token
 * between its operands. Empty when unknown (header text, odd spelling). */
static const char *binary_op(checker *c, int i, char *buf, size_t n)
{
    buf[0] = 0;
    int lhs = first_child(c, i), rhs = lhs >= 0 ? next_sibling(c, lhs) : -1;
    if (rhs < 0) return buf;
    /* The operator is the token just before the right operand, when it lies
     * after the left operand's start in the candidate's text. (The left
     * operand's end is no guide when it is a macro such as aa_dim: it maps
     * into the macro's arguments, onto a comma; a macro operand starts at
     * its name. An operator inside a macro body fails the test: both of its
     * operands start at the macro's name.) */
    const node *a = &c->nodes[lhs], *b = &c->nodes[rhs];
    int k = tok_at(c, b->off) - 1;
    if (a->in_main && b->in_main && k >= 0 && k < c->ntok && c->toks[k].off >= a->off && c->toks[k].end <= b->off &&
        c->toks[k].kind == CXToken_Punctuation) {
        size_t len = c->toks[k].end - c->toks[k].off;
        if (len < n) { memcpy(buf, c->text + c->toks[k].off, len); buf[len] = 0; }
        return buf;
    }
    if (!mine(c, i)) return buf;
    k = tok_at(c, c->nodes[lhs].end_off);
    if (k < c->ntok && c->toks[k].off < c->nodes[rhs].off && c->toks[k].kind == CXToken_Punctuation) {
        size_t len = c->toks[k].end - c->toks[k].off;
        if (len < n) { memcpy(buf, c->text + c->toks[k].off, len); buf[len] = 0; }
    }
    return buf;
}

/* The operator of a UnaryOperator: "&", "*", "-", "+", "!", "~", "++", "--"
 * (prefix) or "post++", "post--". Empty when unknown. */
static const char *unary_op(checker *c, int i, char *buf, size_t n)
{
    static const char *const prefix[] = {"++", "--", "&", "*", "-", "+", "!", "~"};
    buf[0] = 0;
    if (!mine(c, i)) return buf;
    const node *nd = &c->nodes[i];
    int k = tok_at(c, nd->off);
    if (k < c->ntok && c->toks[k].off == nd->off)
        for (size_t p = 0; p < sizeof prefix / sizeof *prefix; p++)
            if (tok_is(c, &c->toks[k], prefix[p])) { snprintf(buf, n, "%s", prefix[p]); return buf; }
    int last = tok_at(c, nd->end_off) - 1;
    if (last >= 0 && last < c->ntok && c->toks[last].end == nd->end_off) {
        if (tok_is(c, &c->toks[last], "++")) snprintf(buf, n, "post++");
        if (tok_is(c, &c->toks[last], "--")) snprintf(buf, n, "post--");
    }
    return buf;
}

/* ---- parsing ---------------------------------------------------------------------- */

/* A VFS overlay that hides the whole real file system: with it, the only
 * files clang can open are the two unsaved buffers. It is read from a
 * memfd through /proc, so nothing is written to disk. */
static int overlay_file(char *path, size_t n)
{
    static const char yaml[] = "{ 'version': 0, 'fallthrough': false, 'roots': [] }\n";
    int fd = memfd_create("asiarch-vfs", MFD_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, yaml, sizeof yaml - 1) == (ssize_t)(sizeof yaml - 1)) {
            snprintf(path, n, "/proc/self/fd/%d", fd);
            if (access(path, R_OK) == 0) return fd;
        }
        close(fd);
    }
    /* No memfd or no /proc: a private temporary file, unlinked after parsing. */
    const char *dir = getenv("TMPDIR");
    snprintf(path, n, "%s/asiarch-vfs-XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) return -1;
    if (write(fd, yaml, sizeof yaml - 1) != (ssize_t)(sizeof yaml - 1)) {
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

static const char *const clang_args[] = {
    "-x", "c", "-std=c17", "-nostdinc", ("-I" HEADER_DIR), "-ferror-limit=50",
    /* warnings that are errors in the DSL: each hides a bug or undefined
     * behaviour the rest of the pipeline should never see */
    "-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=int-conversion",
    "-Werror=incompatible-pointer-types", "-Werror=incompatible-library-redeclaration",
    "-Werror=return-type", "-Werror=uninitialized", "-Werror=array-bounds", "-Werror=division-by-zero",
    "-Werror=shift-count-overflow", "-Werror=shift-count-negative", "-Werror=integer-overflow",
    "-Werror=excess-initializers", "-Werror=unsequenced", "-Werror=trigraphs",
};

static int parse(checker *c, CXIndex index, aa_reports *out)
{
    char vfs[256];
    int fd = overlay_file(vfs, sizeof vfs);
    if (fd < 0) {
        aa_report_add(out, "check", c->src->path, 0, 0, "check/internal",
                      "the checker could not create its file-system overlay; this is a bug or a full /tmp, "
                      "not a problem with the candidate");
        return -1;
    }
    const char *args[sizeof clang_args / sizeof *clang_args + 4];
    int na = 0;
    for (size_t i = 0; i < sizeof clang_args / sizeof *clang_args; i++) args[na++] = clang_args[i];
    args[na++] = "-ivfsoverlay";
    args[na++] = vfs;
    if (c->kernel) {   /* as jit_compile does for kernels: the header comes first, included or not */
        args[na++] = "-include";
        args[na++] = "asiarch_kernel.h";
    }
    const char *header_path = c->kernel ? KERNEL_HEADER_PATH : HEADER_PATH;
    struct CXUnsavedFile files[2] = {
        {MAIN_PATH, c->text, (unsigned long)c->len},
        {header_path, c->kernel ? jit_kernel_header : jit_dsl_header,
         (unsigned long)(c->kernel ? jit_kernel_header_len : jit_dsl_header_len)},
    };
    enum CXErrorCode e = clang_parseTranslationUnit2(
        index, MAIN_PATH, args, na, files, 2,
        CXTranslationUnit_DetailedPreprocessingRecord | CXTranslationUnit_KeepGoing, &c->tu);
    close(fd);
    if (strncmp(vfs, "/proc/", 6) != 0) unlink(vfs);
    if (e == CXError_Crashed) {   /* libclang's crash recovery caught it: the input's doing */
        aa_report_add(out, "check", c->src->path, 0, 0, "check/crash",
                      "the checker (libclang) crashed while parsing this file, so the file is rejected unchecked; "
                      "this is a construct the parser cannot handle (very deep nesting or macro expansion, "
                      "unusual syntax): write it more plainly");
        c->tu = NULL;
        return -2;
    }
    if (e != CXError_Success || !c->tu) {
        aa_report_add(out, "check", c->src->path, 0, 0, "check/internal",
                      "libclang could not parse the file (error %d); this is an internal error of the checker",
                      (int)e);
        c->tu = NULL;
        return -1;
    }
    c->main_file = clang_getFile(c->tu, MAIN_PATH);
    c->header_file = clang_getFile(c->tu, header_path);
    return 0;
}

/* ---- pass: flatten the candidate's AST ---------------------------------------------- */

static enum CXChildVisitResult collect(CXCursor cur, CXCursor parent, CXClientData data)
{
    checker *c = data;
    while (c->sp > 0 && !clang_equalCursors(c->nodes[c->stack[c->sp - 1]].cur, parent)) c->sp--;
    int p = c->sp ? c->stack[c->sp - 1] : -1;
    enum CXCursorKind kind = clang_getCursorKind(cur);
    CXSourceLocation loc = clang_getCursorLocation(cur);
    if (p < 0) {
        /* File scope: the header's declarations only feed the name set. */
        if (!in_file(loc, c->main_file)) {
            if (kind == CXCursor_FunctionDecl && in_file(loc, c->header_file)) {
                char name[256];
                cursor_name(cur, name, sizeof name);
                size_t ml = strlen(c->math_fns);
                if (!starts_with(name, "aa_") && set_get(&c->header_fns, name) < 0 && ml + strlen(name) + 3 < sizeof c->math_fns)
                    snprintf(c->math_fns + ml, sizeof c->math_fns - ml, "%s%s", ml ? ", " : "", name);
                if (set_put(&c->header_fns, name, 1) < 0) { c->oom = 1; return CXChildVisit_Break; }
            }
            return CXChildVisit_Continue;
        }
        /* Directives are judged from the tokens. */
        if (kind == CXCursor_InclusionDirective || kind == CXCursor_MacroDefinition ||
            kind == CXCursor_MacroExpansion)
            return CXChildVisit_Continue;
    }
    node *nodes = grow(c->nodes, &c->cap, c->n + 1, sizeof *c->nodes);
    int *stack = grow(c->stack, &c->stack_cap, c->sp + 1, sizeof *c->stack);
    if (nodes) c->nodes = nodes;
    if (stack) c->stack = stack;
    if (!nodes || !stack) { c->oom = 1; return CXChildVisit_Break; }
    node *nd = &c->nodes[c->n];
    memset(nd, 0, sizeof *nd);
    nd->cur = cur;
    nd->kind = kind;
    nd->parent = p;
    nd->end = c->n + 1;
    nd->mine = -1;
    nd->in_main = (signed char)main_loc(c, loc, &nd->line, &nd->col, &nd->loc_off);
    nd->macro = (signed char)!clang_Location_isFromMainFile(loc);
    CXSourceRange r = clang_getCursorExtent(cur);
    unsigned so = 0, eo = 0;
    if (main_loc(c, clang_getRangeStart(r), NULL, NULL, &so) && main_loc(c, clang_getRangeEnd(r), NULL, NULL, &eo)) {
        nd->off = so;
        nd->end_off = eo < so ? so : eo;
    } else {
        nd->in_main = 0;
    }
    if (kind == CXCursor_AsmLabelAttr) {
        span *s = grow(c->asm_labels, &c->asm_labels_cap, c->nasm_labels + 1, sizeof *s);
        if (!s) { c->oom = 1; return CXChildVisit_Break; }
        c->asm_labels = s;
        c->asm_labels[c->nasm_labels++] = (span){nd->off, nd->end_off};
    }
    c->stack[c->sp++] = c->n++;
    return CXChildVisit_Recurse;
}

static int collect_nodes(checker *c)
{
    clang_visitChildren(clang_getTranslationUnitCursor(c->tu), collect, c);
    if (c->oom) return -1;
    for (int j = c->n - 1; j >= 0; j--) {
        int p = c->nodes[j].parent;
        if (p >= 0 && c->nodes[j].end > c->nodes[p].end) c->nodes[p].end = c->nodes[j].end;
    }
    return 0;
}

/* ---- guard: what the parser cannot survive ------------------------------------
 *
 * libclang parses on a thread with an 8 MiB stack, and clang's parser and
 * semantic analysis recurse once per level of nesting that brackets do not
 * bound: !!!!x, *&*&x, (int)(int)x, a = a = ..., c ? x : c ? ..., if (c)
 * if (c) ..., else-if chains, int ****p. About 1,800 levels of the worst of
 * these overflow the stack, which kills the whole process (libclang's crash
 * recovery cannot catch a stack overflow), and a long run of array
 * declarators takes quadratic time. Brackets themselves are limited by clang
 * (-fbracket-depth=256), and a candidate's own macros, which could expand a
 * few lines into millions of tokens, are never expanded: #define and #undef
 * lines are reported here and blanked in the text clang parses (any such file
 * is rejected, so what is parsed never differs from what is compiled).
 *
 * The scan skips comments and literals and counts "links", every punctuator
 * and control keyword, since the last point where the nesting provably
 * returns to a statement boundary: a ';' (not followed by else), a ',' between
 * initialisers, the '}' of a statement block (not followed by else). The sum
 * of the counts of all open brackets, plus their number, bounds the depth of
 * recursion from above; past GUARD_DEPTH the file is reported as
 * dsl/too-complex and not parsed. The scan decides nothing else: it is not a
 * parser, only an upper bound for one.
 */

#define GUARD_DEPTH 800
#define GUARD_FRAMES 512

typedef struct gframe {
    char open;              /* '(' '[' '{', or 0 for the file */
    unsigned char block;    /* a '{' that starts a statement block */
    unsigned char ctrl;     /* a '(' after if/for/while/switch or a file-scope declarator */
    int count;              /* links since the last statement boundary */
} gframe;

typedef struct gstate {
    checker *c;
    char *buf;              /* the text clang will parse (defines blanked) */
    char *lc;               /* the text with line splices (backslash-newline) removed */
    unsigned *pos;          /* offset in buf of each byte of lc */
    size_t n;
    gframe frames[GUARD_FRAMES];
    int nframes, total, last_paren_ctrl, failed;
    char prev_word[16];     /* the previous token if it was a word, else "" */
    int prev_punct;         /* the previous token if it was a punctuator, else 0 */
} gstate;

static void line_col(const checker *c, unsigned off, unsigned *line, unsigned *col)
{
    unsigned lo = 0, hi = c->nlines;      /* the last line start <= off */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (c->line_starts[mid] <= off) lo = mid;
        else hi = mid;
    }
    *line = lo + 1;
    *col = off - c->line_starts[lo] + 1;
}

static int index_lines(checker *c)
{
    unsigned n = 1;
    for (size_t i = 0; i < c->len; i++) n += c->source[i] == '\n';
    c->line_starts = malloc(sizeof *c->line_starts * n);
    if (!c->line_starts) return -1;
    c->nlines = 0;
    c->line_starts[c->nlines++] = 0;
    for (size_t i = 0; i < c->len; i++)
        if (c->source[i] == '\n') c->line_starts[c->nlines++] = (unsigned)i + 1;
    return 0;
}

static void guard_fail(gstate *g, size_t i)
{
    unsigned line, col;
    line_col(g->c, g->pos[i < g->n ? i : g->n - 1], &line, &col);
    report(g->c, R_TOO_COMPLEX, line, col,
           "the code nests more than %d levels deep without brackets here (long chains like !!!x, a = b = c "
           "= ..., casts of casts, if (...) if (...) or else-if chains), which the checker cannot parse "
           "safely; split it into separate statements, helper functions or bounded loops", GUARD_DEPTH);
    g->failed = 1;
}

static void guard_link(gstate *g, size_t i)
{
    g->frames[g->nframes - 1].count++;
    if (++g->total + g->nframes > GUARD_DEPTH && !g->failed) guard_fail(g, i);
}

static void guard_reset(gstate *g)
{
    g->total -= g->frames[g->nframes - 1].count;
    g->frames[g->nframes - 1].count = 0;
}

static int is_word_start(int ch) { return ch == '_' || ch == '$' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static int is_word_char(int ch) { return is_word_start(ch) || (ch >= '0' && ch <= '9'); }

/* Skip spaces, newlines and comments from i. */
static size_t skip_blank(const gstate *g, size_t i)
{
    for (;;) {
        while (i < g->n && (g->lc[i] == ' ' || g->lc[i] == '\t' || g->lc[i] == '\n' || g->lc[i] == '\r' ||
                            g->lc[i] == '\f' || g->lc[i] == '\v'))
            i++;
        if (i + 1 < g->n && g->lc[i] == '/' && g->lc[i + 1] == '/') {
            while (i < g->n && g->lc[i] != '\n') i++;
        } else if (i + 1 < g->n && g->lc[i] == '/' && g->lc[i + 1] == '*') {
            i += 2;
            while (i + 1 < g->n && !(g->lc[i] == '*' && g->lc[i + 1] == '/')) i++;
            i = i + 2 < g->n ? i + 2 : g->n;
        } else {
            return i;
        }
    }
}

static int next_is_else(const gstate *g, size_t i)
{
    i = skip_blank(g, i);
    return i + 4 <= g->n && !memcmp(g->lc + i, "else", 4) && (i + 4 == g->n || !is_word_char(g->lc[i + 4]));
}

/* A directive at i ('#' or '%:' first on its line): #define and #undef are
 * reported and blanked up to the end of their logical line. Returns the
 * index after the directive name (the rest is scanned as tokens). */
static size_t guard_directive(gstate *g, size_t i)
{
    size_t j = i + (g->lc[i] == '#' ? 1 : 2);
    for (;;) {      /* blanks and block comments (even multi-line ones) may precede the name */
        while (j < g->n && (g->lc[j] == ' ' || g->lc[j] == '\t' || g->lc[j] == '\f' || g->lc[j] == '\v' ||
                            g->lc[j] == '\r'))
            j++;
        if (j + 1 < g->n && g->lc[j] == '/' && g->lc[j + 1] == '*') {
            j += 2;
            while (j + 1 < g->n && !(g->lc[j] == '*' && g->lc[j + 1] == '/')) j++;
            j = j + 2 < g->n ? j + 2 : g->n;
            continue;
        }
        break;
    }
    size_t w = j;
    while (j < g->n && is_word_char(g->lc[j])) j++;
    int def = j - w == 6 && !memcmp(g->lc + w, "define", 6), undef = j - w == 5 && !memcmp(g->lc + w, "undef", 5);
    if (!def && !undef) return i + 1;
    unsigned line, col;
    line_col(g->c, g->pos[i], &line, &col);
    report(g->c, R_PREPROCESSOR, line, col,
           "#%s is not allowed: no macros in a candidate; use a `const` variable or an enum for a constant and "
           "a (static) function for repeated code", def ? "define" : "undef");
    /* the logical line ends at a newline outside comments (a block comment continues it) */
    size_t e = j;
    while (e < g->n && g->lc[e] != '\n') {
        if (e + 1 < g->n && g->lc[e] == '/' && g->lc[e + 1] == '*') {
            e += 2;
            while (e + 1 < g->n && !(g->lc[e] == '*' && g->lc[e + 1] == '/')) e++;
            e = e + 2 < g->n ? e + 2 : g->n;
        } else {
            e++;
        }
    }
    size_t from = g->pos[i], to = e < g->n ? g->pos[e] : g->c->len;
    for (size_t k = from; k < to; k++)
        if (g->buf[k] != '\n') g->buf[k] = ' ';
    return e;
}

/* The keywords that nest statements or expressions. */
static int is_link_word(const char *w)
{
    static const char *const words[] = {"if", "else", "for", "while", "do", "switch", "case", "default",
                                        "return", "sizeof", "_Alignof", "_Generic", "goto"};
    for (size_t k = 0; k < sizeof words / sizeof *words; k++)
        if (!strcmp(w, words[k])) return 1;
    return 0;
}

static void guard_open(gstate *g, size_t i, char open)
{
    guard_link(g, i);
    if (g->nframes == GUARD_FRAMES) { if (!g->failed) guard_fail(g, i); return; }
    gframe f = {open, 0, 0, 0};
    if (open == '(')
        f.ctrl = !strcmp(g->prev_word, "if") || !strcmp(g->prev_word, "for") || !strcmp(g->prev_word, "while") ||
                 !strcmp(g->prev_word, "switch") || (g->nframes == 1 && g->prev_word[0] && !is_link_word(g->prev_word));
    if (open == '{')
        f.block = (!g->prev_word[0] && !g->prev_punct) || g->prev_punct == ';' || g->prev_punct == '{' ||
                  g->prev_punct == '}' || g->prev_punct == ':' || !strcmp(g->prev_word, "else") ||
                  !strcmp(g->prev_word, "do") || (g->prev_punct == ')' && g->last_paren_ctrl);
    g->frames[g->nframes++] = f;
}

static void guard_close(gstate *g, size_t i)
{
    if (g->nframes == 1) return;              /* unbalanced: clang will say so */
    gframe f = g->frames[--g->nframes];
    g->total -= f.count;
    g->last_paren_ctrl = f.open == '(' && f.ctrl;
    if (f.open == '{' && f.block && !next_is_else(g, i + 1)) guard_reset(g);
}

/* Returns 0 when the text can be parsed, -1 when it must not be. */
static int run_guard(checker *c, char *buf)
{
    gstate *g = calloc(1, sizeof *g);
    if (!g) { c->oom = 1; return -1; }
    g->c = c;
    g->buf = buf;
    g->lc = malloc(c->len + 1);
    g->pos = malloc(sizeof *g->pos * (c->len + 1));
    if (!g->lc || !g->pos) { c->oom = 1; free(g->lc); free(g->pos); free(g); return -1; }
    for (size_t i = 0; i < c->len; i++) {       /* translation phase 2: splices */
        if (c->text[i] == '\\' && i + 1 < c->len && c->text[i + 1] == '\n') { i++; continue; }
        if (c->text[i] == '\\' && i + 2 < c->len && c->text[i + 1] == '\r' && c->text[i + 2] == '\n') { i += 2; continue; }
        g->lc[g->n] = c->text[i];
        g->pos[g->n++] = (unsigned)i;
    }
    g->frames[0] = (gframe){0, 1, 0, 0};
    g->nframes = 1;
    int line_start = 1;
    for (size_t i = 0; i < g->n && !g->failed;) {
        char ch = g->lc[i];
        if (ch == '\n') { line_start = 1; i++; continue; }
        size_t k = skip_blank(g, i);
        if (k != i) {
            for (size_t j = i; j < k; j++) if (g->lc[j] == '\n') line_start = 1;
            i = k;
            continue;
        }
        if (line_start && (ch == '#' || (ch == '%' && i + 1 < g->n && g->lc[i + 1] == ':'))) {
            line_start = 0;
            size_t e = guard_directive(g, i);
            if (e != i + 1) { i = e; continue; }
        }
        line_start = 0;
        if (ch == '"' || ch == '\'') {                       /* a literal: skip it */
            for (i++; i < g->n && g->lc[i] != ch && g->lc[i] != '\n'; i++)
                if (g->lc[i] == '\\' && i + 1 < g->n && g->lc[i + 1] != '\n') i++;
            /* An unterminated literal ends at the end of its line, and the
             * newline stays: a directive on the next line must still be seen
             * at the start of a line. */
            if (i < g->n && g->lc[i] == ch) i++;
            g->prev_word[0] = 0;
            g->prev_punct = 0;
            continue;
        }
        if (is_word_start(ch)) {
            size_t w = i;
            while (i < g->n && is_word_char(g->lc[i])) i++;
            snprintf(g->prev_word, sizeof g->prev_word, "%.*s", (int)(i - w < 15 ? i - w : 15), g->lc + w);
            if (i - w >= 15) g->prev_word[0] = '_';      /* long identifiers are no keyword */
            g->prev_punct = 0;
            if (is_link_word(g->prev_word)) guard_link(g, w);
            continue;
        }
        if ((ch >= '0' && ch <= '9') || (ch == '.' && i + 1 < g->n && g->lc[i + 1] >= '0' && g->lc[i + 1] <= '9')) {
            for (i++; i < g->n && (is_word_char(g->lc[i]) || g->lc[i] == '.' ||
                                   ((g->lc[i] == '+' || g->lc[i] == '-') && strchr("eEpP", g->lc[i - 1])));
                 i++)
                ;
            g->prev_word[0] = 0;
            g->prev_punct = 0;
            continue;
        }
        /* punctuators, digraphs <: :> <% %> included */
        char p = ch;
        size_t width = 1;
        if (i + 1 < g->n) {
            char d = g->lc[i + 1];
            if (ch == '<' && d == ':') { p = '['; width = 2; }
            else if (ch == ':' && d == '>') { p = ']'; width = 2; }
            else if (ch == '<' && d == '%') { p = '{'; width = 2; }
            else if (ch == '%' && d == '>') { p = '}'; width = 2; }
        }
        gframe *top = &g->frames[g->nframes - 1];
        switch (p) {
        case '(': case '[': case '{': guard_open(g, i, p); break;
        case ')': case ']': case '}': guard_close(g, i + width - 1); break;
        case ';':
            if (top->open == '(' || top->open == '[') guard_link(g, i);
            else if (!next_is_else(g, i + 1)) guard_reset(g);
            break;
        case ',':
            if (top->open == '{') guard_reset(g);
            else guard_link(g, i);
            break;
        default: guard_link(g, i); break;
        }
        if (p != ')') g->last_paren_ctrl = 0;
        g->prev_word[0] = 0;
        g->prev_punct = p;
        i += width;
    }
    int failed = g->failed;
    free(g->lc);
    free(g->pos);
    free(g);
    return failed ? -1 : 0;
}

/* ---- pass: tokens (directives, trigraphs, forbidden words) -------------------------- */

/* Reports every trigraph; returns how many. */
static int check_trigraphs(checker *c)
{
    unsigned line = 1, col = 1;
    int n = 0;
    for (size_t i = 0; i < c->len; i++, col++) {
        if (c->text[i] == '\n') { line++; col = 0; continue; }
        if (c->text[i] == '?' && i + 2 < c->len && c->text[i + 1] == '?' && strchr("=/'()!<>-", c->text[i + 2]) &&
            c->text[i + 2]) {
            report(c, R_TRIGRAPH, line, col,
                   "trigraph '?\?%c' is not allowed (its meaning depends on the C mode, even inside comments "
                   "and strings); write the character it stands for, or separate the question marks",
                   c->text[i + 2]);
            n++;
            i += 2;
            col += 2;
        }
    }
    return n;
}

/* The directive starting at token k ('#' first on its line); returns the
 * index of the first token after the directive's line. */
static int check_directive(checker *c, int k)
{
    const tok *hash = &c->toks[k];
    int end = k + 1;
    while (end < c->ntok && c->toks[end].line == hash->line) end++;
    if (end == k + 1) {
        report(c, R_PREPROCESSOR, hash->line, hash->col,
               "a stray '#' (null directive) is not allowed; delete it");
        return end;
    }
    const tok *name = &c->toks[k + 1];
    const char *dir = name->name ? name->name : "";
    if (!strcmp(dir, "include")) {
        const char *const want[] = {"<", c->kernel ? "asiarch_kernel" : "asiarch", ".", "h", ">"};
        int ok = end - (k + 2) == 5;
        for (int j = 0; ok && j < 5; j++) {
            const tok *t = &c->toks[k + 2 + j];
            ok = tok_is(c, t, want[j]) && (j == 0 || c->toks[k + 1 + j].end == t->off);
        }
        if (ok) {
            if (!c->include_line) c->include_line = hash->line;
            return end;
        }
        const tok *arg = k + 2 < end ? &c->toks[k + 2] : NULL;
        if (arg && arg->kind == CXToken_Literal && arg->end - arg->off == 11 &&
            !memcmp(c->text + arg->off, "\"asiarch.h\"", 11) && ++c->include_quoted)
            report(c, R_INCLUDE, hash->line, hash->col,
                   "write the DSL header with angle brackets, `#include <asiarch.h>`, not in quotes");
        else
            report(c, R_INCLUDE, hash->line, hash->col,
                   "only `#include <asiarch.h>` is allowed: a candidate has no libc or other headers; use the "
                   "aa_* ops and the math functions asiarch.h declares (sqrtf, expf, logf, ...)");
        return end;
    }
    if (!strcmp(dir, "include_next") || !strcmp(dir, "import")) {
        report(c, R_INCLUDE, hash->line, hash->col,
               "#%s is not allowed; the only inclusion is `#include <asiarch.h>`", dir);
        return end;
    }
    /* the guard normally blanks #define and #undef before clang sees them */
    if (!strcmp(dir, "define") || !strcmp(dir, "undef"))
        report(c, R_PREPROCESSOR, hash->line, hash->col,
               "#%s is not allowed: no macros in a candidate; use a `const` variable or an enum for a constant "
               "and a (static) function for repeated code", dir);
    else if (!strcmp(dir, "if") || !strcmp(dir, "ifdef") || !strcmp(dir, "ifndef") || !strcmp(dir, "elif") ||
             !strcmp(dir, "else") || !strcmp(dir, "endif") || !strcmp(dir, "elifdef") || !strcmp(dir, "elifndef"))
        report(c, R_PREPROCESSOR, hash->line, hash->col,
               "#%s is not allowed: no conditional compilation; delete the directives and keep only the code "
               "you want compiled (use an ordinary `if` for run-time choices)", dir);
    else
        report(c, R_PREPROCESSOR, hash->line, hash->col,
               "the preprocessor directive #%s is not allowed; the only directive a candidate may use is "
               "`#include <asiarch.h>`: delete this line", dir[0] ? dir : "...");
    return end;
}

/* Identifiers and keywords that are forbidden wherever they appear. */
static const struct {
    const char *word;
    int rule;
} forbidden_words[] = {
    {"__attribute__", R_ATTRIBUTE}, {"__attribute", R_ATTRIBUTE}, {"__declspec", R_ATTRIBUTE},
    {"_Noreturn", R_ATTRIBUTE}, {"_Alignas", R_ATTRIBUTE},
    {"asm", R_ASM}, {"__asm__", R_ASM}, {"__asm", R_ASM},
    {"goto", R_GOTO}, {"__label__", R_GOTO},
    {"setjmp", R_SETJMP}, {"longjmp", R_SETJMP}, {"_setjmp", R_SETJMP},
    {"_longjmp", R_SETJMP}, {"sigsetjmp", R_SETJMP}, {"siglongjmp", R_SETJMP},
    {"__sigsetjmp", R_SETJMP}, {"__builtin_setjmp", R_SETJMP}, {"__builtin_longjmp", R_SETJMP},
    {"jmp_buf", R_SETJMP},
    {"va_list", R_VARIADIC}, {"va_start", R_VARIADIC}, {"va_arg", R_VARIADIC},
    {"va_end", R_VARIADIC}, {"va_copy", R_VARIADIC}, {"__builtin_va_list", R_VARIADIC},
    {"__builtin_va_start", R_VARIADIC}, {"__builtin_va_arg", R_VARIADIC},
    {"__builtin_va_end", R_VARIADIC}, {"__builtin_va_copy", R_VARIADIC},
    {"__gnuc_va_list", R_VARIADIC},
    {"volatile", R_VOLATILE}, {"__volatile__", R_VOLATILE}, {"__volatile", R_VOLATILE},
    {"_Atomic", R_ATOMIC},
    {"_Thread_local", R_THREAD_LOCAL}, {"__thread", R_THREAD_LOCAL}, {"thread_local", R_THREAD_LOCAL},
    {"_Generic", R_GENERIC},
    {"typeof", R_TYPEOF}, {"__typeof__", R_TYPEOF}, {"__typeof", R_TYPEOF},
    {"typeof_unqual", R_TYPEOF}, {"__auto_type", R_TYPEOF},
    {"_Pragma", R_PREPROCESSOR}, {"__pragma", R_PREPROCESSOR},
    {"_Complex", R_TYPE}, {"_Imaginary", R_TYPE}, {"__complex__", R_TYPE},
    {"__complex", R_TYPE}, {"__real__", R_TYPE}, {"__imag__", R_TYPE},
    {"__int128", R_TYPE}, {"__int128_t", R_TYPE}, {"__uint128_t", R_TYPE},
    {"_Float16", R_TYPE}, {"__fp16", R_TYPE}, {"__bf16", R_TYPE}, {"__float128", R_TYPE},
    {"_Float128", R_TYPE}, {"__ibm128", R_TYPE}, {"_Decimal32", R_TYPE},
    {"_Decimal64", R_TYPE}, {"_Decimal128", R_TYPE}, {"_BitInt", R_TYPE}, {"_ExtInt", R_TYPE},
};

/* Is the asm keyword at token k a label, `__asm__("name")` after a
 * declarator? libclang's AsmLabelAttr starts at the keyword or at the
 * string after the parenthesis. */
static int is_asm_label(const checker *c, int k)
{
    for (int i = 0; i < c->nasm_labels; i++)
        if (c->asm_labels[i].off == c->toks[k].off || (k + 2 < c->ntok && c->asm_labels[i].off == c->toks[k + 2].off))
            return 1;
    return 0;
}

static void check_word(checker *c, int k)
{
    const tok *t = &c->toks[k];
    const char *w = t->name;
    int rule = -1;
    for (size_t i = 0; i < sizeof forbidden_words / sizeof *forbidden_words; i++)
        if (!strcmp(w, forbidden_words[i].word)) { rule = forbidden_words[i].rule; break; }
    if (rule < 0 && w[0] == '_' && w[1] == '_' && strcmp(w, "__LINE__") != 0) rule = R_BUILTIN;
    if (rule < 0) return;
    if (rule == R_ASM && is_asm_label(c, k)) rule = R_ASM_LABEL;
    switch (rule) {
    case R_ATTRIBUTE:
        report(c, rule, t->line, t->col,
               "'%s' is not allowed: attributes change linkage, sections and code generation (constructor, "
               "section, alias, cleanup, noreturn...); delete it, plain C declarations are all a candidate needs", w);
        break;
    case R_ASM:
        report(c, rule, t->line, t->col,
               "inline or file-scope assembly ('%s') is not allowed; express the computation with the aa_* ops "
               "or plain C arithmetic", w);
        break;
    case R_ASM_LABEL:
        report(c, rule, t->line, t->col,
               "an asm label ('%s(\"name\")' after a declarator) renames the symbol so it links to another "
               "function; delete it, and call only the DSL's functions and your own", w);
        break;
    case R_GOTO:
        report(c, rule, t->line, t->col,
               "'%s' is not allowed; use if/else, bounded for loops with break/continue, or a helper function", w);
        break;
    case R_SETJMP:
        report(c, rule, t->line, t->col, "'%s' (a non-local jump) is not allowed; return normally from functions", w);
        break;
    case R_VARIADIC:
        report(c, rule, t->line, t->col,
               "'%s' (variable arguments) is not allowed; give functions a fixed list of parameters", w);
        break;
    case R_VOLATILE:
        report(c, rule, t->line, t->col, "'%s' is not allowed (a candidate has no memory-mapped state); delete it", w);
        break;
    case R_ATOMIC:
        report(c, rule, t->line, t->col, "'_Atomic' is not allowed (candidate code is single-threaded); use a plain type");
        break;
    case R_THREAD_LOCAL:
        report(c, rule, t->line, t->col, "thread-local storage ('%s') is not allowed; use local variables", w);
        break;
    case R_GENERIC:
        report(c, rule, t->line, t->col, "'_Generic' is not allowed; write the expression for the type you have");
        break;
    case R_TYPEOF:
        report(c, rule, t->line, t->col, "'%s' is not allowed; write the type explicitly (int, float, aa_t, ...)", w);
        break;
    case R_PREPROCESSOR:
        report(c, rule, t->line, t->col, "'%s' is a #pragma directive in disguise and is not allowed; delete it", w);
        break;
    case R_TYPE:
        report(c, rule, t->line, t->col,
               "'%s' is not supported by the DSL (it needs compiler runtime support); use int, long, float or "
               "double", w);
        break;
    default:
        report(c, R_BUILTIN, t->line, t->col,
               "'%s' is a compiler builtin or reserved name (names starting with __ belong to the "
               "implementation); use the aa_* ops, the math functions of <asiarch.h>, or plain C", w);
        break;
    }
}

static void check_tokens(checker *c)
{
    for (int k = 0; k < c->ntok;) {
        const tok *t = &c->toks[k];
        int first_on_line = k == 0 || c->toks[k - 1].end_line < t->line;
        if (first_on_line && t->kind == CXToken_Punctuation &&
            (tok_is(c, t, "#") || tok_is(c, t, "%:") || tok_is(c, t, "?\?="))) {
            k = check_directive(c, k);
            continue;
        }
        if (t->name) check_word(c, k);
        else if (k + 1 < c->ntok && tok_is(c, t, "[") && tok_is(c, &c->toks[k + 1], "[") && t->end == c->toks[k + 1].off)
            report(c, R_ATTRIBUTE, t->line, t->col,
                   "'[[' starts an attribute, which is not allowed (attributes change linkage, sections and code "
                   "generation); delete it");
        k++;
    }
    if (!c->include_line && !c->include_quoted && !c->kernel)
        report(c, R_INCLUDE, 1, 1, "the file must begin with `#include <asiarch.h>`, the DSL's only header");
}

/* ---- types ------------------------------------------------------------------------- */

static int decl_in_header(const checker *c, CXCursor d)
{
    return !clang_Cursor_isNull(d) && in_file(clang_getCursorLocation(d), c->header_file);
}

/* Is t (any sugar) the header's record type `name` (aa_t, aa_layer, aa_init)? */
static int is_dsl_record(const checker *c, CXType t, const char *name)
{
    CXType k = clang_getCanonicalType(t);
    if (k.kind != CXType_Record) return 0;
    CXCursor d = clang_getTypeDeclaration(k);
    char buf[64];
    cursor_name(d, buf, sizeof buf);
    return !strcmp(buf, name) && decl_in_header(c, d);
}

static int is_layer_pointer(const checker *c, CXType t)
{
    CXType k = clang_getCanonicalType(t);
    return k.kind == CXType_Pointer && is_dsl_record(c, clang_getPointeeType(k), "aa_layer");
}

static int is_pointer(CXType t)
{
    enum CXTypeKind k = clang_getCanonicalType(t).kind;
    return k == CXType_Pointer || k == CXType_BlockPointer;
}

static int is_array(CXType t)
{
    enum CXTypeKind k = clang_getCanonicalType(t).kind;
    return k == CXType_ConstantArray || k == CXType_IncompleteArray || k == CXType_VariableArray ||
           k == CXType_DependentSizedArray;
}

static int is_function(CXType t)
{
    enum CXTypeKind k = clang_getCanonicalType(t).kind;
    return k == CXType_FunctionProto || k == CXType_FunctionNoProto;
}

static int is_integer(CXType t)
{
    switch (clang_getCanonicalType(t).kind) {
    case CXType_Bool: case CXType_Char_U: case CXType_UChar: case CXType_UShort: case CXType_UInt:
    case CXType_ULong: case CXType_ULongLong: case CXType_Char_S: case CXType_SChar: case CXType_Short:
    case CXType_Int: case CXType_Long: case CXType_LongLong: case CXType_Enum:
        return 1;
    default:
        return 0;
    }
}

static int is_signed_integer(CXType t)
{
    switch (clang_getCanonicalType(t).kind) {
    case CXType_Char_S: case CXType_SChar: case CXType_Short: case CXType_Int: case CXType_Long:
    case CXType_LongLong:
        return 1;
    default:
        return 0;
    }
}

/* The element type under any number of array levels. */
static CXType innermost(CXType t)
{
    CXType k = clang_getCanonicalType(t);
    for (int level = 0; is_array(k) && level < 100000; level++)
        k = clang_getCanonicalType(clang_getArrayElementType(k));
    return k;
}

/* Is an object of type t const? For arrays libclang reports the element's
 * const only on the canonical array type, not on the element type. */
static int is_const_object(CXType t) { return clang_isConstQualifiedType(clang_getCanonicalType(t)); }

/* Elements of a (multi-dimensional) constant array; 1 for a scalar, 0 if unknown. */
static unsigned long long array_elements(CXType t)
{
    unsigned long long n = 1;
    CXType k = clang_getCanonicalType(t);
    for (int level = 0; is_array(k) && level < 100000; level++) {
        long long d = clang_getArraySize(k);
        if (d < 0) return 0;
        n = d && n > ULLONG_MAX / (unsigned long long)d ? ULLONG_MAX : n * (unsigned long long)d;
        k = clang_getCanonicalType(clang_getArrayElementType(k));
    }
    return n;
}

/* What is wrong with a type written in a declaration, cast or literal:
 * a rule (R_POINTER, R_FUNCTION_POINTER, R_VLA, R_TYPE) or -1. Function
 * types (of a declaration) are judged by their parameters' own nodes. */
static int type_problem(const checker *c, CXType t)
{
    CXType k = clang_getCanonicalType(t);
    int in_array = 0;
    for (int level = 0; is_array(k) && level < 100000; level++, in_array = 1) {
        if (k.kind == CXType_VariableArray) return R_VLA;
        k = clang_getCanonicalType(clang_getArrayElementType(k));
    }
    switch (k.kind) {
    case CXType_Pointer:
        if (is_function(clang_getPointeeType(k))) return R_FUNCTION_POINTER;
        /* the layer handle only as a scalar: -Wuninitialized cannot see
         * array elements, so a garbage handle could reach the runtime */
        return is_layer_pointer(c, k) && !in_array ? -1 : R_POINTER;
    case CXType_BlockPointer:
        return R_FUNCTION_POINTER;
    case CXType_Complex: case CXType_Vector: case CXType_ExtVector: case CXType_Int128: case CXType_UInt128:
    case CXType_Half: case CXType_Float16: case CXType_Float128: case CXType_BFloat16: case CXType_Ibm128:
        return R_TYPE;
    case CXType_Atomic:
        return type_problem(c, clang_Type_getValueType(k));
    default:
        return -1;
    }
}

/* Report type problem `rule` of the declaration/expression at node i. */
static void report_type(checker *c, int rule, int i, CXType t, const char *what, const char *bare)
{
    char ts[256], name[260] = "";
    type_name(t, ts, sizeof ts);
    if (bare[0]) snprintf(name, sizeof name, "'%s'", bare);
    switch (rule) {
    case R_POINTER:
        report_node(c, rule, i,
                    "%s%s%s has pointer type '%s'; the only pointer in the DSL is the layer handle 'aa_layer *': "
                    "use values (aa_t handles, ints, floats, structs) and arrays indexed with [i]",
                    what, name[0] ? " " : "", name, ts);
        break;
    case R_FUNCTION_POINTER:
        report_node(c, rule, i,
                    "%s%s%s has function pointer type '%s'; function pointers are not allowed: call functions "
                    "directly by name (choose with if/switch)", what, name[0] ? " " : "", name, ts);
        break;
    case R_VLA:
        report_node(c, rule, i,
                    "%s%s%s is a variable-length array ('%s'); give arrays a constant size (at most %llu elements "
                    "for a local array) and use a bounded loop over the part you need",
                    what, name[0] ? " " : "", name, ts, LOCAL_ARRAY_MAX);
        break;
    case R_TYPE:
        report_node(c, rule, i,
                    "%s%s%s has type '%s', which the DSL does not support (complex, vector, 128-bit or half/quad "
                    "floating types need compiler runtime support); use int, long, float or double",
                    what, name[0] ? " " : "", name, ts);
        break;
    default:
        break;
    }
}

static void check_written_type(checker *c, int i, CXType t, const char *what, const char *name)
{
    int rule = type_problem(c, t);
    if (rule >= 0) report_type(c, rule, i, t, what, name);
}

/* ---- declarations --------------------------------------------------------------------- */

static int reserved_name(const checker *c, const char *name)
{
    return starts_with(name, "aa_") || set_get(&c->header_fns, name) >= 0 || !strcmp(name, "memcpy") ||
           !strcmp(name, "memset") || !strcmp(name, "memmove");
}

static int is_meta_name(const char *name) { return !strcmp(name, "aa_meta_name") || !strcmp(name, "aa_meta_motivation"); }

/* aa_meta_name / aa_meta_motivation are read by the host as C strings, so
 * they must be what AA_NAME / AA_MOTIVATION produce: a const char array of
 * unspecified size, `[]`, initialised with a string literal, which makes
 * the array exactly long enough for the text and its terminating NUL. */
static void check_meta(checker *c, int i, const char *name)
{
    CXType t = node_type(c, i);
    enum CXTypeKind e = clang_getCanonicalType(clang_getArrayElementType(clang_getCanonicalType(t))).kind;
    int init = -1;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j))
        if (clang_isExpression(c->nodes[j].kind)) init = strip(c, j, 1);
    int ok = clang_getCanonicalType(t).kind == CXType_ConstantArray && is_const_object(t) &&
             (e == CXType_Char_S || e == CXType_Char_U) && init >= 0 &&
             c->nodes[init].kind == CXCursor_StringLiteral;
    if (ok && mine(c, i)) {     /* written out by hand rather than with the macro: `name [ ]` */
        int k = tok_at(c, c->nodes[i].loc_off);
        ok = k + 2 < c->ntok && tok_is(c, &c->toks[k + 1], "[") && tok_is(c, &c->toks[k + 2], "]");
    }
    if (!ok) {
        report_node(c, R_RESERVED, i,
                    "'%s' is the candidate's metadata and must be a string: write %s(\"...\") and nothing else",
                    name, !strcmp(name, "aa_meta_name") ? "AA_NAME" : "AA_MOTIVATION");
        return;
    }
    if (strcmp(name, "aa_meta_name") != 0) return;
    /* The name is shown in terminals, file names and the lineage: plain
     * identifier characters only, written as one plain literal (so no
     * escape can hide anything else). */
    char text[512], value[512];
    cursor_name(c->nodes[init].cur, text, sizeof text);
    size_t len = strlen(text);
    snprintf(value, sizeof value, "%.*s", len >= 2 ? (int)len - 2 : 0, text + 1);
    if (len < 2 || text[0] != '"' || text[len - 1] != '"' || !jit_name_valid(value)) {
        char shown[96];
        jit_name_sanitise(value, shown, sizeof shown);
        report_node(c, R_NAME, init,
                    "the name must be 1 to %d characters from a-z, 0-9 and _ (it names the candidate in reports, "
                    "files and the lineage), e.g. AA_NAME(\"%s\")", JIT_NAME_MAX, shown);
    }
}

static void check_var(checker *c, int i)
{
    node *nd = &c->nodes[i];
    char name[256];
    cursor_name(nd->cur, name, sizeof name);
    CXType t = node_type(c, i);
    enum CX_StorageClass sc = clang_Cursor_getStorageClass(nd->cur);
    int file_scope = nd->parent < 0, is_static = file_scope || sc == CX_SC_Static;

    check_written_type(c, i, t, "variable", name);
    if (sc == CX_SC_Extern)
        report_node(c, R_EXTERN, i,
                    "'extern' declares '%s' without defining it, which would link to host memory; a candidate "
                    "only uses its own variables: remove 'extern' and define it here (const at file scope)", name);
    else if (is_static && !is_const_object(t))
        report_node(c, R_MUTABLE_GLOBAL, i,
                    "'%s' is a %s variable that is not const; state shared between calls of the mixer is not "
                    "allowed: make it `const` (a table), or a local variable inside the function",
                    name, file_scope ? "file-scope" : "static");

    unsigned long long elems = array_elements(t), limit = is_static ? GLOBAL_ARRAY_MAX : LOCAL_ARRAY_MAX;
    if (is_array(t) && elems > limit)
        report_node(c, R_ARRAY_TOO_LARGE, i,
                    "array '%s' has %llu elements; a %s array may have at most %llu: make it smaller, or build "
                    "large tensors with the aa_* ops (aa_param1/2/3, aa_linear)",
                    name, elems, is_static ? "const" : "local", limit);
    else if (clang_Type_getSizeOf(t) > (long long)(is_static ? GLOBAL_BYTES_MAX : LOCAL_BYTES_MAX))
        report_node(c, R_ARRAY_TOO_LARGE, i,
                    "%s variable '%s' takes %lld bytes; at most %u are allowed: make it smaller",
                    is_static ? "the" : "local", name, clang_Type_getSizeOf(t),
                    is_static ? GLOBAL_BYTES_MAX : LOCAL_BYTES_MAX);

    if (file_scope && is_meta_name(name)) check_meta(c, i, name);
    else if (file_scope && starts_with(name, "aa_"))
        report_node(c, R_RESERVED, i,
                    "the name '%s' is reserved for the DSL (aa_*); rename the variable", name);
}

static int function_is_defined_here(const checker *c, const char *name) { return set_get(&c->own_fns, name) >= 0; }

static void check_function(checker *c, int i)
{
    node *nd = &c->nodes[i];
    char name[256];
    cursor_name(nd->cur, name, sizeof name);
    CXType t = node_type(c, i);
    int def = clang_isCursorDefinition(nd->cur);
    enum CX_StorageClass sc = clang_Cursor_getStorageClass(nd->cur);

    /* a K&R definition, f(a) int a; {...}, has a prototype type in clang 14,
     * but its parameters are declared after the parameter list */
    int knr = 0;
    if (def) {
        int k = tok_at(c, nd->loc_off);
        if (k + 1 < c->ntok && tok_is(c, &c->toks[k + 1], "(")) {
            unsigned rparen = 0;
            for (int j = k + 1, depth = 0; j < c->ntok; j++) {
                if (tok_is(c, &c->toks[j], "(")) depth++;
                else if (tok_is(c, &c->toks[j], ")") && --depth == 0) { rparen = c->toks[j].off; break; }
            }
            for (int j = first_child(c, i); j >= 0 && rparen; j = next_sibling(c, j))
                if (c->nodes[j].kind == CXCursor_ParmDecl && c->nodes[j].in_main && c->nodes[j].off > rparen) knr = 1;
        }
    }
    if (knr || clang_getCanonicalType(t).kind == CXType_FunctionNoProto)
        report_node(c, R_PROTOTYPE, i,
                    "function '%s' has no prototype (empty parentheses or a K&R-style definition), so calls are "
                    "not checked; write `(void)` for no parameters, or list the parameter types, e.g. "
                    "`aa_t %s(aa_t x, int n)`", name, name);
    else if (clang_isFunctionTypeVariadic(t))
        report_node(c, R_VARIADIC, i,
                    "function '%s' is variadic ('...'); give it a fixed list of parameters", name);

    CXType res = clang_getResultType(t);
    int rule = type_problem(c, res);
    if (rule >= 0) report_type(c, rule, i, res, "the result of function", name);

    if (clang_Cursor_isFunctionInlined(nd->cur) && sc != CX_SC_Static)
        report_node(c, R_INLINE, i,
                    "'inline' without 'static' emits no definition of '%s' in C, so it fails to link; write "
                    "`static inline` or drop 'inline'", name);
    if (sc == CX_SC_Extern)
        report_node(c, R_EXTERN, i,
                    "'extern' is not allowed; define '%s' in this file without 'extern'", name);
    else if (!def && !function_is_defined_here(c, name) && set_get(&c->header_fns, name) < 0)
        report_node(c, R_EXTERN, i,
                    "'%s' is declared but not defined in this file, and it is not part of the DSL; a candidate "
                    "can call only the aa_* ops, the math functions of <asiarch.h> and functions it defines: "
                    "define '%s' here or remove the declaration", name, name);
    if (def && nd->parent < 0 && reserved_name(c, name))
        report_node(c, R_RESERVED, i,
                    "'%s' is a name of the DSL or of the code generator (aa_*, the functions of <asiarch.h>, "
                    "memcpy/memset/memmove); it cannot be redefined: rename your function", name);
}

/* libclang shows a parameter's type as written: an array or a function
 * there is really a pointer (C adjusts it). */
static void check_param(checker *c, int i)
{
    char name[256];
    cursor_name(c->nodes[i].cur, name, sizeof name);
    CXType t = node_type(c, i);
    if (is_array(t))
        report_node(c, R_POINTER, i,
                    "parameter '%s' is an array, which C passes as a pointer; pass single values or aa_t handles, "
                    "or make the table a const array at file scope that the function reads directly", name);
    else if (is_function(t))
        report_node(c, R_FUNCTION_POINTER, i,
                    "parameter '%s' is a function, which C passes as a function pointer; call the function you "
                    "need directly, choosing it with if/switch", name);
    else if (is_pointer(t) && (clang_getCanonicalType(clang_getPointeeType(clang_getCanonicalType(t))).kind ==
                                   CXType_Char_S ||
                               clang_getCanonicalType(clang_getPointeeType(clang_getCanonicalType(t))).kind ==
                                   CXType_Char_U))
        report_node(c, R_POINTER, i,
                    "parameter '%s' is a string (a pointer), and the DSL has no pointers: a parameter name must be "
                    "a literal written at the aa_* call itself; give the helper an int and choose the name "
                    "there, e.g. `switch (which) { case 0: return aa_linear(l, \"q_proj\", x, d); ... }`", name);
    else
        check_written_type(c, i, t, "parameter", name);
}

/* struct/union/enum tags and typedefs of the DSL's own names. */
static void check_tag(checker *c, int i)
{
    node *nd = &c->nodes[i];
    char name[256];
    cursor_name(nd->cur, name, sizeof name);
    if (nd->kind == CXCursor_TypedefDecl) {
        CXType u = clang_getTypedefDeclUnderlyingType(nd->cur);
        int rule = type_problem(c, u);
        if (rule >= 0) report_type(c, rule, i, u, "typedef", name);
    } else if (!clang_isCursorDefinition(nd->cur)) {
        return;
    }
    if (starts_with(name, "aa_") && nd->parent < 0)
        report_node(c, R_RESERVED, i,
                    "the name '%s' belongs to the DSL (aa_*); use another name for your type", name);
}

static void check_field(checker *c, int i)
{
    char name[256];
    cursor_name(c->nodes[i].cur, name, sizeof name);
    CXType t = node_type(c, i);
    CXType k = clang_getCanonicalType(t);
    if (is_layer_pointer(c, t))
        report_node(c, R_POINTER, i,
                    "field '%s' holds the layer handle; 'aa_layer *' may only be a parameter or a local variable "
                    "(a handle inside a struct can be left uninitialised): pass l to helpers directly", name);
    else
        check_written_type(c, i, t, "field", name);
    /* clang's array-bounds checks skip arrays of 0 or 1 elements and [] at
     * the end of a struct (taken for flexible array members) */
    if (k.kind == CXType_IncompleteArray || (k.kind == CXType_ConstantArray && clang_getArraySize(k) <= 1))
        report_node(c, R_VLA, i,
                    "field '%s' is an array of %s, which C treats as a flexible array member whose accesses are "
                    "not bounds-checked; give it its real size (2 or more), or use a plain field for one value",
                    name, k.kind == CXType_IncompleteArray ? "unspecified size" : "0 or 1 elements");
    int p = c->nodes[i].parent;
    if (p >= 0 && c->nodes[p].kind == CXCursor_UnionDecl && is_dsl_record(c, innermost(t), "aa_t"))
        report_node(c, R_HANDLE, i,
                    "a union member of type aa_t would let code forge tensor handles; aa_t is opaque: keep handles "
                    "in aa_t variables, struct fields or arrays");
}

/* ---- expressions ---------------------------------------------------------------------- */

/* The function a call names directly, or a null cursor. */
static CXCursor direct_callee(const checker *c, int call)
{
    int callee = strip(c, first_child(c, call), 1);
    if (callee >= 0 && c->nodes[callee].kind == CXCursor_DeclRefExpr) {
        CXCursor f = clang_getCursorReferenced(c->nodes[callee].cur);
        if (clang_getCursorKind(f) == CXCursor_FunctionDecl) return f;
    }
    return clang_getNullCursor();
}

/* Walk up from node i through parentheses and implicit conversions. */
static int context(const checker *c, int i, int *child)
{
    int p = c->nodes[i].parent;
    *child = i;
    while (p >= 0 && (c->nodes[p].kind == CXCursor_ParenExpr || c->nodes[p].kind == CXCursor_UnexposedExpr)) {
        *child = p;
        p = c->nodes[p].parent;
    }
    return p;
}

static void check_string(checker *c, int i)
{
    if (!mine(c, i)) return;
    int child, p = context(c, i, &child);
    if (p >= 0 && c->nodes[p].kind == CXCursor_CallExpr && child != first_child(c, p)) {
        char name[256];
        cursor_name(direct_callee(c, p), name, sizeof name);
        if (name[0] && set_get(&c->header_fns, name) >= 0) return;     /* a name passed to the DSL */
    }
    if (p >= 0 && c->nodes[p].kind == CXCursor_VarDecl && c->nodes[p].parent < 0) {
        char name[256];
        cursor_name(c->nodes[p].cur, name, sizeof name);
        if (is_meta_name(name)) return;                                  /* AA_NAME, AA_MOTIVATION */
    }
    if (p >= 0 && c->nodes[p].kind == CXCursor_StaticAssert) return;
    report_node(c, R_STRING, i,
                "a string literal can only be a name passed directly to an aa_* call (e.g. aa_linear(l, "
                "\"q_proj\", x, d)) or the text of AA_NAME/AA_MOTIVATION; strings are not data in the DSL "
                "(helpers cannot take names: choose the name at the call, e.g. with if/switch)");
}

/* Implicit conversions: array and function decay, integer to pointer.
 * (libclang shows every implicit cast as an UnexposedExpr.) */
static void check_conversion(checker *c, int i)
{
    CXType t = node_type(c, i);
    int ch = first_child(c, i);
    if (!is_pointer(t) || ch < 0) return;
    CXType from = node_type(c, ch);
    int inner = strip(c, ch, 0), p = c->nodes[i].parent;
    int rule = -1;
    if (is_array(from)) {
        if (inner >= 0 && c->nodes[inner].kind == CXCursor_StringLiteral) return;   /* check_string */
        if (p >= 0 && c->nodes[p].kind == CXCursor_ArraySubscriptExpr) return;       /* a[i] */
        rule = R_POINTER;
    } else if (is_function(from)) {
        int child, q = context(c, i, &child);
        if (q >= 0 && c->nodes[q].kind == CXCursor_CallExpr && child == first_child(c, q)) return;   /* f(...) */
        rule = R_FUNCTION_POINTER;
    } else if (is_integer(from) && is_layer_pointer(c, t)) {
        /* other pointer types are reported where they are declared */
        if (p >= 0 && c->nodes[p].kind == CXCursor_BinaryOperator) {
            char op[8];
            binary_op(c, p, op, sizeof op);
            if (!strcmp(op, "==") || !strcmp(op, "!=")) return;     /* l == 0 */
        }
        rule = R_CAST_POINTER;
    }
    /* the conversion may wrap a header macro's parentheses, (l): judge and
     * point at what the candidate wrote inside them */
    int at = inner >= 0 ? inner : i;
    if (rule < 0 || !mine(c, at)) return;
    i = at;
    char name[256] = "";
    if (inner >= 0 && c->nodes[inner].kind == CXCursor_DeclRefExpr) cursor_name(c->nodes[inner].cur, name, sizeof name);
    const char *q1 = name[0] ? "'" : "", *q2 = name[0] ? "' " : "";
    if (rule == R_POINTER)
        report_node(c, rule, i,
                    "the array %s%s%sis used as a pointer here (it decays to a pointer to its first element); "
                    "arrays can only be indexed, a[i]: pass single elements or aa_t handles instead", q1, name, q2);
    else if (rule == R_FUNCTION_POINTER)
        report_node(c, rule, i,
                    "function %s%s%sis used as a value (a function pointer); functions can only be called: "
                    "write %s(...) directly, choosing the function with if/switch", q1, name, q2,
                    name[0] ? name : "f");
    else
        report_node(c, rule, i,
                    "an integer is converted to a pointer here; pointers cannot be made from numbers: pass the "
                    "layer handle you were given (l)");
}

static void check_cast(checker *c, int i)
{
    CXType to = node_type(c, i);
    if (clang_getCanonicalType(to).kind == CXType_Void || !mine(c, i)) return;     /* (void)x discards */
    int e = -1;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j))
        if (clang_isExpression(c->nodes[j].kind)) e = j;
    CXType from = e >= 0 ? node_type(c, e) : to;
    if (is_pointer(to) || is_pointer(from)) {
        if (is_layer_pointer(c, to) && is_layer_pointer(c, from)) return;
        /* a kernel may view its buffers as other element types; it may
         * not make a pointer from a number, or a number from a pointer */
        if (c->kernel && is_pointer(to) && is_pointer(from) && !is_function(clang_getPointeeType(to)) &&
            !is_function(clang_getPointeeType(from)))
            return;
        char ts[256], fs[256];
        type_name(to, ts, sizeof ts);
        type_name(from, fs, sizeof fs);
        report_node(c, R_CAST_POINTER, i,
                    "cast from '%s' to '%s': casts to or from pointers are not allowed; convert only between "
                    "number types, e.g. (float)n", fs, ts);
        return;
    }
    check_written_type(c, i, to, "the cast", "");
}

static void check_unary(checker *c, int i)
{
    char op[8];
    unary_op(c, i, op, sizeof op);
    int operand = first_child(c, i);
    if (!strcmp(op, "&"))
        report_node(c, R_ADDRESS_OF, i,
                    "the address-of operator '&' is not allowed (there are no pointers in the DSL); pass and "
                    "return values: a helper can return a struct to give back several results");
    else if (!strcmp(op, "*"))
        report_node(c, R_DEREFERENCE, i,
                    "the dereference operator '*' is not allowed (there are no pointers in the DSL); use the value "
                    "itself, or index an array with a[i]");
    else if ((strstr(op, "++") || strstr(op, "--")) && operand >= 0 && is_pointer(node_type(c, operand)))
        report_node(c, R_POINTER_ARITH, i,
                    "'%s' on a pointer is pointer arithmetic, which is not allowed; index an array with a[i] "
                    "and count with an int", strstr(op, "++") ? "++" : "--");
}

static void check_binary(checker *c, int i)
{
    int lhs = first_child(c, i), rhs = lhs >= 0 ? next_sibling(c, lhs) : -1;
    if (rhs < 0) return;
    if (!is_pointer(node_type(c, lhs)) && !is_pointer(node_type(c, rhs)) && !is_pointer(node_type(c, i))) return;
    char op[8];
    binary_op(c, i, op, sizeof op);
    if (!strcmp(op, "+") || !strcmp(op, "-") || !strcmp(op, "+=") || !strcmp(op, "-="))
        report_node(c, R_POINTER_ARITH, i,
                    "'%s' on a pointer is pointer arithmetic, which is not allowed; index an array with a[i]", op);
}

static void check_subscript(checker *c, int i)
{
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j)) {
        if (!is_pointer(node_type(c, j))) continue;
        int inner = first_child(c, j);
        if (c->nodes[j].kind == CXCursor_UnexposedExpr && inner >= 0 && is_array(node_type(c, inner))) continue;
        if (!mine(c, i)) return;
        report_node(c, R_DEREFERENCE, i,
                    "'[]' on a pointer dereferences it, which is not allowed; only arrays declared in this file "
                    "(locals or const tables) can be indexed");
    }
}

static void check_member(checker *c, int i)
{
    int base = first_child(c, i);
    if (!mine(c, i)) return;
    if (base >= 0 && is_pointer(node_type(c, base))) {
        report_node(c, R_DEREFERENCE, i,
                    "'->' dereferences a pointer, which is not allowed; use struct values and '.'");
        return;
    }
    if (base >= 0 && is_dsl_record(c, node_type(c, base), "aa_t"))
        report_node(c, R_HANDLE, i,
                    "aa_t is an opaque tensor handle: its field must not be read or written; pass the handle "
                    "itself to the aa_* ops (AA_NONE is the absent tensor)");
}

/* aa_t values made from integers ({5}, (aa_t){n}) forge handles; {0} is
 * AA_NONE. (The handle's field is a pointer, so clang refuses the rest too,
 * designated and brace-elided forms included: check_diagnostics.) */
static void check_init_list(checker *c, int i)
{
    if (!is_dsl_record(c, node_type(c, i), "aa_t") || !mine(c, i)) return;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j)) {
        int v = strip(c, j, 1);   /* under the implicit conversion to the handle's pointer */
        enum CXTypeKind k = v >= 0 ? clang_getCanonicalType(node_type(c, v)).kind : CXType_Invalid;
        if (v < 0 || (!is_integer(node_type(c, v)) && k != CXType_Float && k != CXType_Double)) continue;
        CXEvalResult ev = clang_Cursor_Evaluate(c->nodes[v].cur);
        int zero = ev && clang_EvalResult_getKind(ev) == CXEval_Int && clang_EvalResult_getAsLongLong(ev) == 0;
        if (ev) clang_EvalResult_dispose(ev);
        if (!zero) {
            report_node(c, R_HANDLE, i,
                        "an aa_t made from a number forges a tensor handle; aa_t values come only from the aa_* "
                        "ops (use AA_NONE for the absent tensor)");
            return;
        }
    }
}

static void check_sizeof(checker *c, int i)
{
    if (!mine(c, i)) return;
    node *nd = &c->nodes[i];
    int k = tok_at(c, nd->off);
    if (k + 1 >= c->ntok || !c->toks[k].name || !tok_is(c, &c->toks[k + 1], "(")) return;
    unsigned paren = c->toks[k + 1].off;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j))
        if (c->nodes[j].off == paren) return;       /* sizeof(expression) */
    int depth = 0, brackets = 0;
    for (int j = k + 1; j < c->ntok && c->toks[j].off < nd->end_off; j++) {
        const tok *t = &c->toks[j];
        if (tok_is(c, t, "(")) depth++;
        else if (tok_is(c, t, ")") && --depth == 0) break;
        else if (tok_is(c, t, "[")) brackets++;
        else if (tok_is(c, t, "]")) brackets--;
        else if (tok_is(c, t, "*") && brackets == 0) {
            report_node(c, R_POINTER, i,
                        "'%s' of a pointer type is not allowed (there are no pointers in the DSL); take the size of "
                        "a value type or an array instead", c->toks[k].name);
            return;
        }
    }
}

static void check_case(checker *c, int i)
{
    int p = c->nodes[i].parent;
    if (p >= 0 && (c->nodes[p].kind == CXCursor_CaseStmt || c->nodes[p].kind == CXCursor_DefaultStmt ||
                   c->nodes[p].kind == CXCursor_SwitchStmt))
        return;
    if (p >= 0 && c->nodes[p].kind == CXCursor_CompoundStmt && c->nodes[p].parent >= 0 &&
        c->nodes[c->nodes[p].parent].kind == CXCursor_SwitchStmt)
        return;
    report_node(c, R_SWITCH, i,
                "a %s label nested inside another statement (a loop, if or block) jumps into the middle of it; "
                "put every case label directly in the switch's braces",
                c->nodes[i].kind == CXCursor_CaseStmt ? "case" : "default");
}

/* ---- calls and recursion ---------------------------------------------------------------- */

static int enclosing_function(const checker *c, int i)
{
    int p = c->nodes[i].parent;
    while (p >= 0 && c->nodes[p].kind != CXCursor_FunctionDecl) p = c->nodes[p].parent;
    return p;
}

/* Is the definition at node f written `AA_SCALAR float name(...)`? The
 * marker is the word just before the declaration's first token (after
 * any line breaks and comments). */
static int marked_scalar(const checker *c, int f)
{
    int k = tok_at(c, c->nodes[f].off);   /* the extent may or may not start at the (empty) macro */
    return (k < c->ntok && tok_is(c, &c->toks[k], "AA_SCALAR")) || (k > 0 && tok_is(c, &c->toks[k - 1], "AA_SCALAR"));
}

/* Does this file define `AA_SCALAR float NAME(float, ...)` with n
 * parameters, visible to the loader (not static)? Returns NULL or what is
 * wrong. The kernels call it as exactly that type, so nothing else may be
 * named: not the mixer, not a helper taking an int or the layer. */
static const char *scalar_problem(checker *c, const char *name, int n)
{
    int f = set_get(&c->own_fns, name);
    if (f < 0) return "is not defined in this file";
    CXCursor fn = c->nodes[c->fns[f]].cur;
    CXType t = clang_getCursorType(fn);
    if (clang_Cursor_getStorageClass(fn) == CX_SC_Static) return "is static (the engine looks it up by name)";
    if (!marked_scalar(c, c->fns[f])) return "is not marked AA_SCALAR";
    if (clang_getCanonicalType(clang_getResultType(t)).kind != CXType_Float) return "does not return float";
    if (clang_getNumArgTypes(t) != n) return "has the wrong number of parameters";
    for (int k = 0; k < n; k++)
        if (clang_getCanonicalType(clang_getArgType(t, (unsigned)k)).kind != CXType_Float)
            return "has a parameter that is not float";
    return NULL;
}

/* "float NAME(float, float)" */
static void signature(char *buf, size_t size, const char *name, int n)
{
    size_t len = (size_t)snprintf(buf, size, "float %s(", name);
    for (int k = 0; k < n && len < size; k++) len += (size_t)snprintf(buf + len, size - len, "%sfloat", k ? ", " : "");
    if (len < size) snprintf(buf + len, size - len, ")");
}

/* aa_pointwiseN("f", ...) finds f and its derivatives f_d0.. by name at
 * load time; check here, where the message can point at the call. */
static void check_pointwise(checker *c, int call)
{
    int lit = strip(c, nth_child(c, call, 1), 1), nargs = nth_child(c, call, 2);
    if (lit < 0 || nargs < 0 || c->nodes[lit].kind != CXCursor_StringLiteral) {
        report_node(c, R_POINTWISE, call,
                    "the first argument of aa_pointwise must be a string literal naming a scalar function "
                    "defined in this file, e.g. aa_pointwise1(\"soft_cap\", x)");
        return;
    }
    char text[160], name[160];
    cursor_name(c->nodes[lit].cur, text, sizeof text);
    size_t len = strlen(text);
    if (len < 3 || text[0] != '"' || text[len - 1] != '"' || memchr(text + 1, '"', len - 2) ||
        memchr(text, '\\', len)) {
        report_node(c, R_POINTWISE, lit, "write the function's name as one plain string literal, e.g. \"soft_cap\"");
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)(len - 2), text + 1);
    int ok = 0;
    long long n = eval_int(c, nargs, &ok);
    if (!ok || n < 1 || n > 4) {   /* the header's macros pass 1..4; anything else was written by hand */
        report_node(c, R_POINTWISE, nargs,
                    "the number of arguments of a pointwise op must be a constant from 1 to 4 that the checker can "
                    "evaluate, since the kernel calls the function with exactly that many floats; use "
                    "aa_pointwise1 .. aa_pointwise4");
        return;
    }
    char deriv[200], sig[512];
    const char *why = scalar_problem(c, name, (int)n);
    if (why) {
        signature(sig, sizeof sig, name, (int)n);
        report_node(c, R_POINTWISE, lit,
                    "the pointwise function '%s' %s; define `AA_SCALAR %s { ... }` in this file, together "
                    "with its partial derivatives %s_d0 .. %s_d%lld of the same signature", name, why, sig, name,
                    name, n - 1);
        return;
    }
    for (int k = 0; k < n; k++) {
        snprintf(deriv, sizeof deriv, "%s_d%d", name, k);
        why = scalar_problem(c, deriv, (int)n);
        if (!why) continue;
        signature(sig, sizeof sig, deriv, (int)n);
        report_node(c, R_POINTWISE, lit,
                    "the derivative '%s' of pointwise function '%s' (with respect to argument %d) %s; define "
                    "`AA_SCALAR %s { ... }` in this file", deriv, name, k, why, sig);
        return;
    }
}

static void check_call(checker *c, int i)
{
    CXCursor f = direct_callee(c, i);
    if (clang_Cursor_isNull(f)) {
        if (!mine(c, i)) return;
        report_node(c, R_CALL_INDIRECT, i,
                    "this call goes through an expression (a conditional, a function pointer, ...) instead of a "
                    "function's name; call the function by name, e.g. `c ? f(x) : g(x)` instead of "
                    "`(c ? f : g)(x)`");
        return;
    }
    char name[256];
    cursor_name(f, name, sizeof name);
    int own = set_get(&c->own_fns, name);
    if (own < 0 && set_get(&c->header_fns, name) < 0) {
        report_node(c, R_CALL_NOT_ALLOWED, i,
                    "'%s' is not a function of the DSL: a candidate can call only the aa_* ops, the math "
                    "functions declared in <asiarch.h> (%s) and functions it defines itself", name, c->math_fns);
        return;
    }
    if (!strcmp(name, "aa__pointwise")) check_pointwise(c, i);
    if (own < 0) return;
    int from = enclosing_function(c, i);
    if (from < 0) return;
    char caller[256];
    cursor_name(c->nodes[from].cur, caller, sizeof caller);
    int fi = set_get(&c->own_fns, caller);
    if (fi < 0) return;
    call_edge *e = grow(c->edges, &c->edges_cap, c->nedges + 1, sizeof *e);
    if (!e) { c->oom = 1; return; }
    c->edges = e;
    c->edges[c->nedges++] = (call_edge){fi, own, i};
}

static int by_from(const void *a, const void *b)
{
    const call_edge *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Tarjan's strongly connected components, iteratively (a generated file can
 * chain thousands of functions). A component with an internal edge is a
 * cycle; it is reported once, at its first call site in source order. */
static void check_recursion(checker *c)
{
    int n = c->nfns, m = c->nedges;
    if (!n || !m) return;
    qsort(c->edges, (size_t)m, sizeof *c->edges, by_from);
    int *first = calloc((size_t)n + 1, sizeof *first), *index = malloc(sizeof(int) * (size_t)n),
        *low = malloc(sizeof(int) * (size_t)n), *comp = malloc(sizeof(int) * (size_t)n),
        *stk = malloc(sizeof(int) * (size_t)n), *onstk = calloc((size_t)n, sizeof *onstk),
        *cs_v = malloc(sizeof(int) * (size_t)n), *cs_e = malloc(sizeof(int) * (size_t)n),
        *prev = malloc(sizeof(int) * (size_t)n), *queue = malloc(sizeof(int) * (size_t)n),
        *best = malloc(sizeof(int) * (size_t)n);
    if (!first || !index || !low || !comp || !stk || !onstk || !cs_v || !cs_e || !prev || !queue || !best) {
        c->oom = 1;
        goto done;
    }
    /* edges grouped by caller: those of v are [first[v], first[v + 1]) */
    for (int e = 0; e < m; e++) first[c->edges[e].from + 1]++;
    for (int v = 0; v < n; v++) first[v + 1] += first[v];
    for (int v = 0; v < n; v++) index[v] = -1;
    /* cs_v/cs_e: the depth-first path (vertex, next edge to follow) */
    int counter = 0, sp = 0, ncomp = 0;
    for (int root = 0; root < n; root++) {
        if (index[root] >= 0) continue;
        int depth = 0;
        cs_v[0] = root;
        cs_e[0] = first[root];
        index[root] = low[root] = counter++;
        stk[sp++] = root;
        onstk[root] = 1;
        while (depth >= 0) {
            int v = cs_v[depth];
            if (cs_e[depth] < first[v + 1]) {
                int w = c->edges[cs_e[depth]++].to;
                if (index[w] < 0) {
                    index[w] = low[w] = counter++;
                    stk[sp++] = w;
                    onstk[w] = 1;
                    depth++;
                    cs_v[depth] = w;
                    cs_e[depth] = first[w];
                } else if (onstk[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) {
                int w;
                do { w = stk[--sp]; onstk[w] = 0; comp[w] = ncomp; } while (w != v);
                ncomp++;
            }
            depth--;
            if (depth >= 0 && low[v] < low[cs_v[depth]]) low[cs_v[depth]] = low[v];
        }
    }
    /* For each component, the earliest call inside it (one pass over the
     * edges); then a path back from its callee to its caller. */
    for (int k = 0; k < ncomp; k++) best[k] = -1;
    for (int e = 0; e < m; e++) {
        const call_edge *ed = &c->edges[e];
        int k = comp[ed->from];
        if (comp[ed->to] == k && (best[k] < 0 || c->edges[best[k]].at > ed->at)) best[k] = e;
    }
    for (int k = 0; k < ncomp; k++) {
        if (best[k] < 0) continue;
        const call_edge *ed = &c->edges[best[k]];
        int u = ed->from, v = ed->to, at = ed->at;
        char path[512], name[128];
        cursor_name(c->nodes[c->fns[u]].cur, name, sizeof name);
        size_t len = (size_t)snprintf(path, sizeof path, "%s", name);
        if (u == v) {
            snprintf(path + len, sizeof path - len, " -> %s", name);
            report_node(c, R_RECURSION, at,
                        "recursion is not allowed (%s calls itself: %s); the mixer must finish in a bounded "
                        "number of steps: use a bounded for loop instead", name, path);
            continue;
        }
        /* breadth-first from v back to u inside the component */
        for (int x = 0; x < n; x++) prev[x] = -2;
        int qh = 0, qt = 0;
        queue[qt++] = v;
        prev[v] = -1;
        while (qh < qt && prev[u] == -2) {
            int x = queue[qh++];
            for (int e = first[x]; e < first[x + 1]; e++) {
                int y = c->edges[e].to;
                if (comp[y] == k && prev[y] == -2) { prev[y] = x; queue[qt++] = y; }
            }
        }
        /* prev leads from u back to v; reversed, after u, it is the cycle
         * u -> v -> ... -> u (long cycles lose their middle) */
        int *chain = cs_v, nc = 0;
        for (int x = u; x >= 0 && nc < n; x = prev[x]) chain[nc++] = x;
        for (int j = nc - 1; j >= 0 && len < sizeof path - 1; j--) {
            if (nc > 10 && j == nc - 5) {
                len += (size_t)snprintf(path + len, sizeof path - len, " -> ...");
                j = 4;
            }
            cursor_name(c->nodes[c->fns[chain[j]]].cur, name, sizeof name);
            len += (size_t)snprintf(path + len, sizeof path - len, " -> %s", name);
        }
        report_node(c, R_RECURSION, at,
                    "recursion is not allowed: these functions call each other in a cycle (%s); break the "
                    "cycle, e.g. with a bounded for loop", path);
    }
done:
    free(first); free(index); free(low); free(comp); free(stk); free(onstk);
    free(cs_v); free(cs_e); free(prev); free(queue); free(best);
}

/* ---- loops --------------------------------------------------------------------------------- */

static int refers_to(const checker *c, int i, CXCursor var)
{
    i = strip(c, i, 1);
    return i >= 0 && c->nodes[i].kind == CXCursor_DeclRefExpr &&
           clang_equalCursors(clang_getCursorReferenced(c->nodes[i].cur), var);
}

/* Is node i an assignment (=, op=, ++, --)? Sets *target to the assigned node. */
static int is_assignment(checker *c, int i, int *target)
{
    char op[8];
    enum CXCursorKind k = c->nodes[i].kind;
    if (k == CXCursor_CompoundAssignOperator) { *target = first_child(c, i); return 1; }
    if (k == CXCursor_BinaryOperator && !strcmp(binary_op(c, i, op, sizeof op), "=")) {
        *target = first_child(c, i);
        return 1;
    }
    if (k == CXCursor_UnaryOperator) {
        unary_op(c, i, op, sizeof op);
        if (strstr(op, "++") || strstr(op, "--")) { *target = first_child(c, i); return 1; }
    }
    return 0;
}

/* A loop bound: constants, variables, arithmetic, aa_dim/aa_rank/aa_size.
 * Appends the variables it reads to vars. Returns NULL or what is wrong. */
static const char *bound_problem(checker *c, int b, CXCursor *vars, int *nvars, int max_vars)
{
    static const char *const pure[] = {"aa__dim", "aa__rank", "aa__size"};
    for (int j = b; j < c->nodes[b].end; j++) {
        node *nd = &c->nodes[j];
        char op[8];
        switch (nd->kind) {
        case CXCursor_IntegerLiteral: case CXCursor_CharacterLiteral: case CXCursor_FloatingLiteral:
        case CXCursor_ParenExpr: case CXCursor_UnexposedExpr: case CXCursor_ConditionalOperator:
        case CXCursor_CStyleCastExpr: case CXCursor_TypeRef: case CXCursor_UnaryExpr: case CXCursor_MemberRefExpr:
            break;
        case CXCursor_DeclRefExpr: {
            CXCursor d = clang_getCursorReferenced(nd->cur);
            enum CXCursorKind k = clang_getCursorKind(d);
            if (k == CXCursor_FunctionDecl) {
                int call = nd->parent;
                while (call >= 0 && c->nodes[call].kind == CXCursor_UnexposedExpr) call = c->nodes[call].parent;
                char name[64];
                cursor_name(d, name, sizeof name);
                int ok = 0;
                for (size_t p = 0; p < sizeof pure / sizeof *pure; p++) ok |= !strcmp(name, pure[p]);
                if (!ok) return "it calls a function (only aa_dim, aa_rank and aa_size may appear in a bound)";
            } else if (k == CXCursor_VarDecl || k == CXCursor_ParmDecl) {
                if (*nvars < max_vars) vars[(*nvars)++] = d;
                else return "it reads too many variables";
            }
            break;
        }
        case CXCursor_CallExpr:
            break;      /* the callee is judged at its DeclRefExpr */
        case CXCursor_BinaryOperator:
            binary_op(c, j, op, sizeof op);
            if (!op[0]) return "it uses an operator the checker cannot see in the source (from a macro)";
            if (!strcmp(op, "=") || !strcmp(op, ",")) return "it assigns or uses the comma operator";
            break;
        case CXCursor_UnaryOperator:
            unary_op(c, j, op, sizeof op);
            if (!op[0] || strstr(op, "++") || strstr(op, "--") || !strcmp(op, "&") || !strcmp(op, "*"))
                return "it modifies a variable";
            break;
        default:
            return "it is not a simple arithmetic expression";
        }
    }
    return NULL;
}

static void check_for(checker *c, int i)
{
    node *nd = &c->nodes[i];
    if (!mine(c, i)) return;
    /* Find `for ( init ; cond ; inc )` in the tokens to tell the parts apart
     * (libclang omits absent parts). */
    int k = tok_at(c, nd->off);
    if (k + 1 >= c->ntok || !tok_is(c, &c->toks[k + 1], "(")) return;
    unsigned semi[2] = {0, 0}, rparen = 0;
    int nsemi = 0, depth = 0;
    for (int j = k + 1; j < c->ntok; j++) {
        const tok *t = &c->toks[j];
        if (tok_is(c, t, "(")) depth++;
        else if (tok_is(c, t, ")") && --depth == 0) { rparen = t->off; break; }
        else if (depth == 1 && tok_is(c, t, ";") && nsemi < 2) semi[nsemi++] = t->off;
    }
    if (nsemi != 2 || !rparen) return;     /* clang reports the syntax error */
    int init = -1, cond = -1, inc = -1, body = -1;
    for (int j = first_child(c, i); j >= 0; j = next_sibling(c, j)) {
        unsigned o = c->nodes[j].off;
        if (o < semi[0]) init = j;
        else if (o < semi[1]) cond = j;
        else if (o < rparen) inc = j;
        else body = j;
    }
    const char *why = NULL;
    char buf[256];
    CXCursor var = clang_getNullCursor();
    int var_node = -1;
    /* init: exactly one signed integer variable with an initial value */
    if (init < 0 || c->nodes[init].kind != CXCursor_DeclStmt || nchildren(c, init) != 1 ||
        c->nodes[first_child(c, init)].kind != CXCursor_VarDecl) {
        why = "the loop must declare its induction variable, `for (int i = A; ...`";
    } else {
        var_node = first_child(c, init);
        var = c->nodes[var_node].cur;
        CXType vt = clang_getCanonicalType(clang_getCursorType(var));
        int has_init = 0;
        for (int j = first_child(c, var_node); j >= 0; j = next_sibling(c, j))
            has_init |= clang_isExpression(c->nodes[j].kind);
        if (vt.kind != CXType_Int && vt.kind != CXType_Long && vt.kind != CXType_LongLong)
            why = "the induction variable must be an int, long or long long";
        else if (!has_init)
            why = "the induction variable needs an initial value, `int i = A`";
    }
    /* cond: i < B, i <= B, i > B, i >= B */
    char cmp[8] = "";
    int bound = -1;
    if (!why) {
        /* `i < B && more` is bounded by its left-most comparison too */
        int cn = strip(c, cond, 0);
        char op[8];
        while (cn >= 0 && c->nodes[cn].kind == CXCursor_BinaryOperator && !strcmp(binary_op(c, cn, op, sizeof op), "&&"))
            cn = strip(c, first_child(c, cn), 0);
        if (cn < 0 || c->nodes[cn].kind != CXCursor_BinaryOperator) {
            why = "the condition must compare the induction variable with a bound, `i < B`";
        } else {
            binary_op(c, cn, cmp, sizeof cmp);
            int lhs = first_child(c, cn);
            bound = next_sibling(c, lhs);
            if (strcmp(cmp, "<") && strcmp(cmp, "<=") && strcmp(cmp, ">") && strcmp(cmp, ">="))
                why = "the condition must be i < B, i <= B, i > B or i >= B";
            else if (!refers_to(c, lhs, var))
                why = "the left side of the condition must be the induction variable declared in the loop";
        }
    }
    /* inc: i++, ++i, i--, --i, i += C, i -= C with constant C > 0 */
    long long step = 0;
    int up = 0;
    if (!why) {
        int in = strip(c, inc, 0);
        char op[8] = "";
        if (in >= 0 && c->nodes[in].kind == CXCursor_UnaryOperator && refers_to(c, first_child(c, in), var)) {
            unary_op(c, in, op, sizeof op);
            if (strstr(op, "++")) { step = 1; up = 1; }
            else if (strstr(op, "--")) { step = 1; up = 0; }
        } else if (in >= 0 && c->nodes[in].kind == CXCursor_CompoundAssignOperator &&
                   refers_to(c, first_child(c, in), var)) {
            binary_op(c, in, op, sizeof op);
            int ok = 0;
            long long v = eval_int(c, next_sibling(c, first_child(c, in)), &ok);
            if (ok && v > 0 && (!strcmp(op, "+=") || !strcmp(op, "-="))) { step = v; up = op[0] == '+'; }
        }
        if (!step)
            why = "the increment must be i++, i--, i += C or i -= C with a constant C > 0";
        else if (up != (cmp[0] == '<'))
            why = up ? "the loop counts up, so the condition must be i < B or i <= B"
                     : "the loop counts down, so the condition must be i > B or i >= B";
    }
    /* bound: constant, or variables the body does not assign */
    CXCursor vars[32];
    int nvars = 0;
    if (!why) {
        const char *p = bound_problem(c, bound, vars, &nvars, 32);
        if (p) {
            snprintf(buf, sizeof buf, "the bound is not a loop-invariant expression: %s; compute it into a "
                                      "variable before the loop", p);
            why = buf;
        }
    }
    if (!why) {
        CXType vt = clang_getCanonicalType(clang_getCursorType(var));
        long long size = clang_Type_getSizeOf(vt);
        long long max = size >= 8 ? LLONG_MAX : size == 4 ? INT32_MAX : INT16_MAX, min = -max - 1;
        int ok = 0;
        long long b = eval_int(c, bound, &ok);
        if (ok) {
            int inclusive = cmp[1] == '=';
            int overflow = up ? b > max - step + (inclusive ? 0 : 1) : b < min + step - (inclusive ? 0 : 1);
            if (overflow) {
                snprintf(buf, sizeof buf, "the bound %lld is too close to the limit of the induction variable's "
                                          "type, so it would overflow before the loop ends", b);
                why = buf;
            } else {
                int aok = 0;
                long long a = eval_int(c, strip(c, nth_child(c, var_node, nchildren(c, var_node) - 1), 1), &aok);
                double trips = aok ? ((double)b - (double)a) / (double)step * (up ? 1 : -1) : 0;
                if (trips > (double)LOOP_TRIPS_MAX) {
                    snprintf(buf, sizeof buf, "it runs about %.0f iterations; a loop may run at most %lld",
                             trips, LOOP_TRIPS_MAX);
                    why = buf;
                }
            }
        } else {
            int b0 = strip(c, bound, 1);
            CXType bt = clang_getCanonicalType(node_type(c, b0));
            long long bs = clang_Type_getSizeOf(bt);
            if (bt.kind == CXType_Enum) bt = clang_getEnumDeclIntegerType(clang_getTypeDeclaration(bt));
            if (!is_integer(bt))
                why = "the bound must be an integer (convert it before the loop, e.g. int n = (int)x;)";
            else if (is_signed_integer(bt) ? bs > size : bs >= size)
                why = "the bound's type is wider than the induction variable's, which could overflow; declare "
                      "the induction variable as long";
        }
    }
    /* neither the body nor the condition may assign the induction variable
     * or the bound's variables */
    for (int part = 0; part < 2 && !why; part++) {
        int root = part ? body : cond;
        if (root < 0) continue;
        for (int j = root; j < c->nodes[root].end && !why; j++) {
            int target;
            if (!is_assignment(c, j, &target)) continue;
            if (refers_to(c, target, var)) {
                snprintf(buf, sizeof buf, "the %s assigns the induction variable (line %u); only the "
                                          "increment may change it", part ? "body" : "condition", c->nodes[j].line);
                why = buf;
            }
            for (int v = 0; v < nvars && !why; v++)
                if (refers_to(c, target, vars[v])) {
                    char name[64];
                    cursor_name(vars[v], name, sizeof name);
                    snprintf(buf, sizeof buf, "the %s assigns '%s' (line %u), which the bound uses; compute the "
                                              "bound into a variable the body does not change",
                             part ? "body" : "condition", name, c->nodes[j].line);
                    why = buf;
                }
        }
    }
    if (why) report_node(c, R_LOOP, i, "this for loop is not provably bounded: %s. %s", why, LOOP_FORM);
}

/* ---- mixer -------------------------------------------------------------------------------- */

static void check_mixer(checker *c)
{
    int found = -1, other = -1;
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].parent >= 0) continue;
        char name[16];
        cursor_name(c->nodes[i].cur, name, sizeof name);
        if (strcmp(name, "mixer")) continue;
        if (c->nodes[i].kind == CXCursor_FunctionDecl && clang_isCursorDefinition(c->nodes[i].cur)) found = i;
        else if (other < 0) other = i;
    }
    static const char want[] = "`aa_t mixer(aa_layer *l, aa_t x) { ... return y; }`";
    if (found < 0) {
        if (other >= 0)
            report_node(c, R_NO_MIXER, other, "'mixer' is declared here but never defined; define %s", want);
        else
            report(c, R_NO_MIXER, 1, 1, "the file defines no mixer; define %s (x is [batch, time, model], the "
                                        "result must have the same shape)", want);
        return;
    }
    CXType t = node_type(c, found);
    int ok = clang_getCanonicalType(t).kind == CXType_FunctionProto && clang_getNumArgTypes(t) == 2 &&
             !clang_isFunctionTypeVariadic(t) && is_dsl_record(c, clang_getResultType(t), "aa_t") &&
             is_layer_pointer(c, clang_getArgType(t, 0)) && is_dsl_record(c, clang_getArgType(t, 1), "aa_t");
    if (!ok) {
        char ts[256];
        type_name(t, ts, sizeof ts);
        report_node(c, R_NO_MIXER, found, "mixer has type '%s'; it must be defined as %s", ts, want);
    } else if (clang_Cursor_getStorageClass(c->nodes[found].cur) == CX_SC_Static) {
        report_node(c, R_NO_MIXER, found, "mixer must not be static (the engine looks it up by name); define %s",
                    want);
    }
}

/* ---- compiler errors -------------------------------------------------------------------- */

static void check_diagnostics(checker *c)
{
    unsigned n = clang_getNumDiagnostics(c->tu);
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(c->tu, i);
        if (clang_getDiagnosticSeverity(d) < CXDiagnostic_Error) { clang_disposeDiagnostic(d); continue; }
        char msg[512], fix[160] = "";
        copy_string(clang_getDiagnosticSpelling(d), msg, sizeof msg);
        if (clang_getDiagnosticNumFixIts(d) > 0) {
            CXSourceRange r;
            char rep[96];
            copy_string(clang_getDiagnosticFixIt(d, 0, &r), rep, sizeof rep);
            if (rep[0]) snprintf(fix, sizeof fix, " (clang suggests: '%s')", rep);
        }
        CXSourceLocation loc = clang_getDiagnosticLocation(d);
        clang_disposeDiagnostic(d);
        unsigned line = 0, col = 0;
        size_t ml = strlen(msg);
        if (ml > 15 && !strcmp(msg + ml - 15, " file not found")) continue;    /* dsl/include says it */
        if (main_loc(c, loc, &line, &col, NULL) && strstr(msg, "aa_tensor *")) {
            /* a number or another pointer where a handle's field goes: a
             * designated or brace-elided initialiser of an aa_t */
            report(c, R_HANDLE, line, col,
                   "this initialises an aa_t from something that is not a handle (%s); aa_t is an opaque tensor "
                   "handle: take it from an aa_* op, copy another aa_t, or use AA_NONE for the absent tensor", msg);
        } else if (main_loc(c, loc, &line, &col, NULL)) {
            const char *hint = strstr(msg, "implicit") || strstr(msg, "undeclared function")
                ? "only the aa_* ops, the math functions of <asiarch.h> and functions defined in this file "
                  "can be called"
                : "the file must compile as C17 with <asiarch.h> as its only header";
            report(c, R_COMPILER_ERROR, line, col, "%s%s; %s", msg, fix, hint);
        } else if (in_file(loc, c->header_file)) {
            clang_getFileLocation(loc, NULL, &line, NULL, NULL);
            report(c, R_COMPILER_ERROR, c->include_line ? c->include_line : 1, 1,
                   "error inside <asiarch.h> (its line %u): %s; do not define or redeclare anything before "
                   "`#include <asiarch.h>`, which must come first", line, msg);
        } else if (!clang_equalLocations(loc, clang_getNullLocation())) {
            report(c, R_COMPILER_ERROR, 1, 1, "%s", msg);
        }
    }
}

/* ---- the node pass ------------------------------------------------------------------------- */

static void check_nodes(checker *c)
{
    for (int i = 0; i < c->n; i++) {
        node *nd = &c->nodes[i];
        if (!nd->in_main) continue;
        switch (nd->kind) {
        case CXCursor_VarDecl: check_var(c, i); break;
        case CXCursor_ParmDecl: check_param(c, i); break;
        case CXCursor_FieldDecl: check_field(c, i); break;
        case CXCursor_FunctionDecl: check_function(c, i); break;
        case CXCursor_TypedefDecl: case CXCursor_StructDecl: case CXCursor_UnionDecl: case CXCursor_EnumDecl:
            check_tag(c, i);
            break;
        case CXCursor_StringLiteral: check_string(c, i); break;
        case CXCursor_UnexposedExpr: check_conversion(c, i); break;
        case CXCursor_CStyleCastExpr: check_cast(c, i); break;
        case CXCursor_CompoundLiteralExpr:
            if (mine(c, i)) {
                CXType t = node_type(c, i);
                check_written_type(c, i, t, "the compound literal", "");
                if (array_elements(t) > LOCAL_ARRAY_MAX)
                    report_node(c, R_ARRAY_TOO_LARGE, i,
                                "this compound literal has %llu elements; at most %llu are allowed on the stack",
                                array_elements(t), LOCAL_ARRAY_MAX);
            }
            break;
        case CXCursor_InitListExpr: check_init_list(c, i); break;
        case CXCursor_UnaryOperator: check_unary(c, i); break;
        case CXCursor_BinaryOperator: case CXCursor_CompoundAssignOperator: check_binary(c, i); break;
        case CXCursor_ArraySubscriptExpr: check_subscript(c, i); break;
        case CXCursor_MemberRefExpr: check_member(c, i); break;
        case CXCursor_UnaryExpr: check_sizeof(c, i); break;
        case CXCursor_CallExpr: check_call(c, i); break;
        case CXCursor_ForStmt: check_for(c, i); break;
        case CXCursor_WhileStmt:
            report_node(c, R_LOOP, i, "while loops are not allowed (they need not terminate); %s", LOOP_FORM);
            break;
        case CXCursor_DoStmt:
            report_node(c, R_LOOP, i, "do-while loops are not allowed (they need not terminate); %s", LOOP_FORM);
            break;
        case CXCursor_LabelStmt:
            report_node(c, R_GOTO, i, "labels are not allowed (there is no goto in the DSL); delete the label");
            break;
        case CXCursor_AddrLabelExpr: case CXCursor_IndirectGotoStmt:
            report_node(c, R_GOTO, i, "computed goto is not allowed; use if/else or switch");
            break;
        case CXCursor_StmtExpr:
            report_node(c, R_STMT_EXPR, i,
                        "GNU statement expressions ({ ... }) are not allowed; use a helper function or ordinary "
                        "statements");
            break;
        case CXCursor_CaseStmt: case CXCursor_DefaultStmt: check_case(c, i); break;
        default:
            /* Attribute cursors are not reported: clang attaches implicit
             * ones (format, const...) to declarations named like library
             * functions. Every attribute a candidate can write is spelled
             * with a keyword the token pass rejects. */
            break;
        }
    }
}

/* File-scope function definitions, by name, before any call is judged. */
static int index_functions(checker *c)
{
    for (int i = 0; i < c->n; i++) {
        node *nd = &c->nodes[i];
        if (nd->parent >= 0 || nd->kind != CXCursor_FunctionDecl || !clang_isCursorDefinition(nd->cur)) continue;
        char name[256];
        cursor_name(nd->cur, name, sizeof name);
        if (set_get(&c->own_fns, name) >= 0) continue;
        int *f = realloc(c->fns, sizeof *f * (size_t)(c->nfns + 1));
        if (!f) return -1;
        c->fns = f;
        if (set_put(&c->own_fns, name, c->nfns) < 0) return -1;
        c->fns[c->nfns++] = i;
    }
    return 0;
}

/* ---- entry point ---------------------------------------------------------------------------- */

static void checker_free(checker *c)
{
    for (int i = 0; i < c->ntok; i++) free(c->toks[i].name);
    free(c->toks);
    free(c->nodes);
    free(c->stack);
    free(c->fns);
    free(c->edges);
    free(c->asm_labels);
    free(c->line_starts);
    for (int i = 0; i < c->nreps; i++) free(c->reps[i].msg);
    free(c->reps);
    set_free(&c->header_fns);
    set_free(&c->own_fns);
    if (c->tu) clang_disposeTranslationUnit(c->tu);
}

int jit_check_size(const jit_source *src, aa_reports *out)
{
    size_t len = src->text ? strnlen(src->text, src->len) : 0;
    if (len <= SOURCE_MAX) return 0;
    aa_report *r = aa_report_add(out, "check", src->path, 1, 1, rules[R_TOO_LARGE].id,
                                 "the source is %zu bytes; a candidate is one C file of at most 1 MiB", len);
    if (r) aa_report_snippet(r, src->text, len);
    return 1;
}

int jit_check_in_process(const jit_source *src, int kernel, aa_reports *out)
{
    checker c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.kernel = kernel;
    c.source = src->text ? src->text : "";
    c.len = src->text ? strnlen(src->text, src->len) : 0;

    if (jit_check_size(src, out)) return 1;
    int result = -1;
    CXIndex index = NULL;
    char *text = malloc(c.len + 1);
    if (!text || index_lines(&c) < 0) goto oom;
    memcpy(text, c.source, c.len + 1);
    c.text = text;

    /* Trigraphs could hide a directive from the guard, and the guard's
     * findings mean clang must not see the text: report without parsing. */
    int trigraphs = check_trigraphs(&c);
    if (run_guard(&c, text) < 0 || trigraphs) {
        if (c.oom) goto oom;
        result = emit_reports(&c, out);
        goto done;
    }
    index = clang_createIndex(0, 0);
    if (!index) {
        aa_report_add(out, "check", src->path, 0, 0, "check/internal", "libclang could not create an index");
        goto done;
    }
    int parsed = parse(&c, index, out);
    if (parsed == -2) result = 1;
    if (parsed < 0) goto done;
    if (collect_nodes(&c) < 0 || load_tokens(&c) < 0 || index_functions(&c) < 0) goto oom;
    check_tokens(&c);
    check_nodes(&c);
    check_recursion(&c);
    if (!kernel) check_mixer(&c);   /* a kernel's entry: its declaration (proto/spec.c) */
    check_diagnostics(&c);
    if (c.oom) goto oom;
    result = emit_reports(&c, out);
    goto done;
oom:
    aa_report_add(out, "check", src->path, 0, 0, "check/internal", "the checker ran out of memory");
done:
    checker_free(&c);
    if (index) clang_disposeIndex(index);
    free(text);
    return result;
}
