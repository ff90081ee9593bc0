/*
 * load.c — bitcode to callable code in an ORC LLJIT that cannot see the
 * host process.
 *
 * Each candidate gets its own LLJIT. Its main JITDylib defines exactly the
 * symbols of symbols.c (the DSL API, the header's libm functions, memcpy,
 * memset, memmove) as absolute addresses, and there is no process symbol
 * generator: nothing else in the host can be found, so any other external
 * reference fails to link.
 *
 * Two layers enforce that, and both speak in the candidate's lines:
 *
 *   1. Before anything reaches the JIT, the module is scanned: every
 *      external function or variable it declares must be on the allow-list,
 *      it may not redefine an allowed symbol, and it may contain no inline
 *      assembly or static constructors. This layer is needed, not just
 *      tidier: LLJIT defines symbols of its own in the main JITDylib for its
 *      platform support (__cxa_atexit, __dso_handle, __lljit.*), which the
 *      JIT alone would let a module reach.
 *   2. Every entry point is then looked up at once, which compiles and links
 *      the whole module; a reference the code generator introduced on its
 *      own and that is not allowed fails here ("Symbols not found: [...]").
 *
 * LLVM reports problems in three ways and none of them may end the process:
 * LLVMErrorRef values (consumed here), diagnostics on the LLVMContext (a
 * handler is installed, else LLVM prints and exits) and fatal errors (a
 * handler that explains and exits, the last resort).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/ErrorHandling.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "jit.h"
#include "jit_internal.h"

void *jit__symbol_address(size_t i);   /* symbols.c */

#define MSG_CAP 4096

/* What a module may link against and must define: the DSL's table and
 * `mixer` (jit_load), or a kernel's table and entry (jit_load_kernel). */
typedef struct linkage {
    const jit_symbol *symbols;  /* NULL: the DSL's (symbols.c) */
    int n;
    const char *entry;
} linkage;

struct jit_module {
    LLVMOrcLLJITRef jit;
    linkage link;
    aa_t (*mixer)(aa_layer *, aa_t);
    void *entry;
    char *name, *motivation;   /* copies of the AA_NAME/AA_MOTIVATION strings */
    char *ir;                  /* the module as loaded, as text */
    char **defined;            /* functions the candidate defines (jit_lookup) */
    int *scalar_arity;         /* per defined function: n for float(float x n), else -1 */
    int n_defined;
    char errors[MSG_CAP];      /* what LLVM reported while loading, joined */
};

/* ---- process-wide set-up ------------------------------------------------------ */

static void on_fatal_error(const char *reason)
{
    /* LLVM's state is unknown now: say what happened and leave without
     * running atexit handlers that might touch it. */
    fprintf(stderr,
            "asiarch: LLVM hit a fatal error: %s\n"
            "asiarch: the candidate being loaded is rejected; if it passed the checker, please report this as a bug\n",
            reason);
    _exit(70);
}

static void init_llvm(void)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInstallFatalErrorHandler(on_fatal_error);
}

/* ---- error plumbing ---------------------------------------------------------------- */

static void append(jit_module *m, const char *text)
{
    size_t have = strlen(m->errors);
    if (have && have + 2 < sizeof m->errors) strcat(m->errors, "; ");
    have = strlen(m->errors);
    snprintf(m->errors + have, sizeof m->errors - have, "%s", text);
}

/* Consume an LLVMErrorRef into m->errors (and buf, when given). */
static void take_error(jit_module *m, LLVMErrorRef err, char *buf, size_t len)
{
    char *msg = LLVMGetErrorMessage(err);
    append(m, msg);
    if (buf) snprintf(buf, len, "%s", msg);
    LLVMDisposeErrorMessage(msg);
}

static void on_session_error(void *ctx, LLVMErrorRef err) { take_error(ctx, err, NULL, 0); }

static void on_diagnostic(LLVMDiagnosticInfoRef info, void *ctx)
{
    if (LLVMGetDiagInfoSeverity(info) != LLVMDSError) return;
    char *msg = LLVMGetDiagInfoDescription(info);
    append(ctx, msg);
    LLVMDisposeMessage(msg);
}

/* ---- source locations ----------------------------------------------------------------- */

static int is_ident(int c) { return isalnum(c) || c == '_'; }

/* The first place the source names `name` as a whole word (followed by '('
 * for a call when call is set): the fallback when the module has no debug
 * location for a reference. */
static void find_in_source(const jit_source *src, const char *name, int call, int *line, int *col)
{
    *line = *col = 0;
    size_t n = strlen(name);
    if (!src || !src->text || n == 0) return;   /* hand-made IR may have unnamed symbols */
    for (const char *p = src->text; (p = strstr(p, name)); p += n) {
        if ((p > src->text && is_ident((unsigned char)p[-1])) || is_ident((unsigned char)p[n])) continue;
        const char *q = p + n;
        while (*q == ' ' || *q == '\t') q++;
        if (call && *q != '(') continue;
        int l = 1;
        const char *bol = src->text;
        for (const char *c = src->text; c < p; c++)
            if (*c == '\n') { l++; bol = c + 1; }
        *line = l;
        *col = (int)(p - bol) + 1;
        return;
    }
}

/* The earliest debug location among the instructions that use v (through
 * constant expressions such as bitcasts, a few levels deep). */
static void earliest_use(LLVMValueRef v, int depth, unsigned *line, unsigned *col)
{
    for (LLVMUseRef u = LLVMGetFirstUse(v); u; u = LLVMGetNextUse(u)) {
        LLVMValueRef user = LLVMGetUser(u);
        if (LLVMIsAInstruction(user)) {
            unsigned l = LLVMGetDebugLocLine(user);
            if (l && (!*line || l < *line || (l == *line && LLVMGetDebugLocColumn(user) < *col))) {
                *line = l;
                *col = LLVMGetDebugLocColumn(user);
            }
        } else if (depth < 4 && LLVMIsAConstantExpr(user)) {
            earliest_use(user, depth + 1, line, col);
        }
    }
}

static void report_at(aa_reports *reps, const jit_source *src, int line, int col, const char *rule,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A stage-"link" report at line:col of the candidate, with its snippet. */
static void report_at(aa_reports *reps, const jit_source *src, int line, int col, const char *rule,
                      const char *fmt, ...)
{
    aa_report *r = aa_report_add(reps, "link", src ? src->path : "candidate", line, col, rule, "%s", "");
    if (!r) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    if (src && src->text) aa_report_snippet(r, src->text, src->len);
}

static void report_undefined(const jit_module *m, aa_reports *reps, const jit_source *src, const char *name,
                             int is_data, unsigned line, unsigned col)
{
    int l = (int)line, c = (int)col;
    if (!l) find_in_source(src, name, !is_data, &l, &c);
    if (m->link.symbols)
        report_at(reps, src, l, c, "link/undefined-symbol",
                  "%s is not available to a kernel: a kernel file links only the functions asiarch_kernel.h "
                  "declares (math, ak_sgemm) and what it defines itself; no libc, no system calls", name);
    else if (is_data)
        report_at(reps, src, l, c, "link/undefined-symbol",
                  "%s is not part of the DSL: a candidate cannot use variables from outside its file; only "
                  "functions declared in asiarch.h, the math functions it lists and functions and constants "
                  "defined in this file can be used", name);
    else
        report_at(reps, src, l, c, "link/undefined-symbol",
                  "%s is not part of the DSL: only functions declared in asiarch.h, the math functions it "
                  "lists and functions defined in this file can be called", name);
}

/* ---- layer 1: the module scan ------------------------------------------------------------- */

static int allowed(const jit_module *m, const char *name)
{
    if (m->link.symbols) {
        for (int i = 0; i < m->link.n; i++)
            if (strcmp(m->link.symbols[i].name, name) == 0) return 1;
        return 0;
    }
    for (const char *const *s = jit_allowed_symbols(); *s; s++)
        if (strcmp(*s, name) == 0) return 1;
    return 0;
}

static int is_local(LLVMValueRef g)
{
    LLVMLinkage k = LLVMGetLinkage(g);
    return k == LLVMInternalLinkage || k == LLVMPrivateLinkage;
}

static const char *name_of(LLVMValueRef v)
{
    size_t n;
    return LLVMGetValueName2(v, &n);
}

/* A function's stack frame, from its allocas: every one must have a
 * constant size (no alloca(n), no VLA slipped past the checker), and all
 * together at most JIT_FRAME_MAX bytes. With stack-clash protection
 * (compile.c) a deep chain of calls then ends on the guard page, as a trap. */
#define JIT_FRAME_MAX ((unsigned long long)256 << 10)
static int scan_frame(LLVMValueRef f, LLVMTargetDataRef td, const jit_source *src, aa_reports *reps)
{
    unsigned long long bytes = 0;
    int dynamic = 0;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) {
            if (!LLVMIsAAllocaInst(i)) continue;
            LLVMValueRef count = LLVMGetOperand(i, 0);
            if (!count || !LLVMIsAConstantInt(count)) { dynamic = 1; continue; }
            unsigned long long n = LLVMConstIntGetZExtValue(count), size = LLVMABISizeOfType(td, LLVMGetAllocatedType(i));
            bytes += n && size > JIT_FRAME_MAX / n ? JIT_FRAME_MAX + 1 : n * size;
        }
    if (!dynamic && bytes <= JIT_FRAME_MAX) return 0;
    int l, c;
    find_in_source(src, name_of(f), 1, &l, &c);
    if (dynamic)
        report_at(reps, src, l, c, "link/frame",
                  "function %s allocates stack memory of a size known only at run time; give every local a "
                  "constant size", name_of(f));
    else
        report_at(reps, src, l, c, "link/frame",
                  "function %s needs %llu bytes of stack for its locals (at most %llu): make its arrays smaller or "
                  "build large tensors with the aa_* ops", name_of(f), bytes, JIT_FRAME_MAX);
    return 1;
}

/* Calls to inline assembly anywhere in f: one report each. */
static int scan_inline_asm(LLVMValueRef f, const jit_source *src, aa_reports *reps)
{
    int bad = 0;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) {
            if (!LLVMIsACallInst(i) && !LLVMIsAInvokeInst(i) && !LLVMIsACallBrInst(i)) continue;
            if (!LLVMIsAInlineAsm(LLVMGetCalledValue(i))) continue;
            report_at(reps, src, (int)LLVMGetDebugLocLine(i), (int)LLVMGetDebugLocColumn(i), "link/inline-asm",
                      "inline assembly is not part of the DSL; write the computation in C");
            bad++;
        }
    return bad;
}

/* An explicit section (".init_array", say) could smuggle in code that runs
 * on its own; clang only sets one when the source asks. */
static int scan_section(LLVMValueRef g, const jit_source *src, aa_reports *reps)
{
    const char *section = LLVMGetSection(g);
    if (!section || !*section || strncmp(name_of(g), "llvm.", 5) == 0) return 0;   /* llvm.used & co. */
    int l, c;
    find_in_source(src, name_of(g), 0, &l, &c);
    report_at(reps, src, l, c, "link/unsupported",
              "%s is placed in section \"%s\"; a candidate may not choose sections (remove the attribute)",
              name_of(g), section);
    return 1;
}

/* n when f's LLVM type is float(float, ... n times), not variadic; else -1.
 * This is what a pointwise kernel calls it as, so nothing else is ever
 * handed out as a pointwise function, whatever the source claimed. */
static int scalar_arity(LLVMValueRef f)
{
    LLVMTypeRef t = LLVMGlobalGetValueType(f);
    if (LLVMGetTypeKind(t) != LLVMFunctionTypeKind || LLVMIsFunctionVarArg(t) ||
        LLVMGetTypeKind(LLVMGetReturnType(t)) != LLVMFloatTypeKind)
        return -1;
    unsigned n = LLVMCountParamTypes(t);
    if (n < 1 || n > AA_MAX_POINTWISE_ARGS) return -1;
    LLVMTypeRef params[AA_MAX_POINTWISE_ARGS];
    LLVMGetParamTypes(t, params);
    for (unsigned i = 0; i < n; i++)
        if (LLVMGetTypeKind(params[i]) != LLVMFloatTypeKind) return -1;
    return (int)n;
}

static int add_defined(jit_module *m, const char *name, int arity)
{
    char **d = realloc(m->defined, sizeof *d * (size_t)(m->n_defined + 1));
    if (!d) return -1;
    m->defined = d;
    int *a = realloc(m->scalar_arity, sizeof *a * (size_t)(m->n_defined + 1));
    if (!a) return -1;
    m->scalar_arity = a;
    if (!(d[m->n_defined] = strdup(name))) return -1;
    a[m->n_defined] = arity;
    m->n_defined++;
    return 0;
}

static int scan_functions(LLVMModuleRef mod, jit_module *m, const jit_source *src, aa_reports *reps)
{
    int bad = 0;
    LLVMTargetDataRef td = LLVMCreateTargetData(LLVMGetDataLayoutStr(mod));
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        const char *name = name_of(f);
        if (LLVMGetIntrinsicID(f)) continue;   /* llvm.*: lowered by the code generator */
        if (LLVMIsDeclaration(f)) {
            if (allowed(m, name) || strcmp(name, m->link.entry) == 0) continue;   /* no-entry says it better */
            unsigned line = 0, col = 0;
            earliest_use(f, 0, &line, &col);
            report_undefined(m, reps, src, name, 0, line, col);
            bad++;
            continue;
        }
        bad += scan_inline_asm(f, src, reps);
        bad += scan_section(f, src, reps);
        bad += scan_frame(f, td, src, reps);
        if (is_local(f)) continue;
        if (allowed(m, name)) {
            int l, c;
            find_in_source(src, name, 1, &l, &c);
            report_at(reps, src, l, c, "link/duplicate-symbol",
                      "%s is provided by the DSL and cannot be defined by a candidate; rename the function", name);
            bad++;
        } else if (add_defined(m, name, scalar_arity(f)) < 0) {
            report_at(reps, src, 0, 0, "link/jit", "out of memory while loading the candidate");
            bad++;
        }
    }
    LLVMDisposeTargetData(td);
    return bad;
}

static int scan_globals(LLVMModuleRef mod, const jit_module *m, const jit_source *src, aa_reports *reps)
{
    int bad = 0;
    for (LLVMValueRef g = LLVMGetFirstGlobal(mod); g; g = LLVMGetNextGlobal(g)) {
        const char *name = name_of(g);
        if (strcmp(name, "llvm.global_ctors") == 0 || strcmp(name, "llvm.global_dtors") == 0) {
            report_at(reps, src, 0, 0, "link/constructor",
                      "the module has static %s, which a candidate may not have; remove "
                      "__attribute__((constructor/destructor)) functions",
                      name[12] == 'c' ? "constructors" : "destructors");
            bad++;
        } else if (LLVMIsDeclaration(g)) {
            unsigned line = 0, col = 0;
            earliest_use(g, 0, &line, &col);
            report_undefined(m, reps, src, name, 1, line, col);
            bad++;
        } else if (!is_local(g) && allowed(m, name)) {
            report_at(reps, src, 0, 0, "link/duplicate-symbol",
                      "%s is provided by the DSL and cannot be defined by a candidate; rename it", name);
            bad++;
        } else if (LLVMIsThreadLocal(g)) {
            int l, c;
            find_in_source(src, name, 0, &l, &c);
            report_at(reps, src, l, c, "link/unsupported",
                      "%s is thread-local, which a candidate may not use; make it an ordinary constant", name);
            bad++;
        }
        bad += scan_section(g, src, reps);
    }
    for (LLVMValueRef a = LLVMGetFirstGlobalAlias(mod); a; a = LLVMGetNextGlobalAlias(a))
        if (allowed(m, name_of(a))) {
            report_at(reps, src, 0, 0, "link/duplicate-symbol",
                      "%s is provided by the DSL and cannot be defined by a candidate", name_of(a));
            bad++;
        }
    if (LLVMGetFirstGlobalIFunc(mod)) {
        report_at(reps, src, 0, 0, "link/unsupported", "the module defines an ifunc (%s), which a candidate may not",
                  name_of(LLVMGetFirstGlobalIFunc(mod)));
        bad++;
    }
    size_t asm_len = 0;
    LLVMGetModuleInlineAsm(mod, &asm_len);
    if (asm_len) {
        report_at(reps, src, 0, 0, "link/inline-asm",
                  "file-scope assembly is not part of the DSL; write the computation in C");
        bad++;
    }
    return bad;
}

/* The module's code must be for this machine (hand-made bitcode may name
 * another target). An empty triple takes the JIT's. */
static int scan_target(LLVMModuleRef mod, const jit_source *src, aa_reports *reps)
{
    const char *triple = LLVMGetTarget(mod);
    if (!triple || !*triple) return 0;
    char *host = LLVMGetDefaultTargetTriple();
    size_t a = strcspn(triple, "-"), b = strcspn(host, "-");
    int same = a == b && strncmp(triple, host, a) == 0;
    if (!same) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s (this machine: %s)", triple, host);
        report_at(reps, src, 0, 0, "link/target", "the bitcode was compiled for %s; recompile it here", msg);
    }
    LLVMDisposeMessage(host);
    return !same;
}

/* aa_t mixer(aa_layer *, aa_t) as the host calls it: the handle is a
 * struct of one pointer, passed and returned as that pointer. */
static int mixer_type_ok(LLVMValueRef f)
{
    LLVMTypeRef t = LLVMGlobalGetValueType(f);
    if (LLVMGetTypeKind(t) != LLVMFunctionTypeKind || LLVMIsFunctionVarArg(t) || LLVMCountParamTypes(t) != 2 ||
        LLVMGetTypeKind(LLVMGetReturnType(t)) != LLVMPointerTypeKind)
        return 0;
    LLVMTypeRef params[2];
    LLVMGetParamTypes(t, params);
    return LLVMGetTypeKind(params[0]) == LLVMPointerTypeKind && LLVMGetTypeKind(params[1]) == LLVMPointerTypeKind;
}

/* `mixer` must be defined here, visible, and of the type the host calls. */
static int scan_mixer(LLVMModuleRef mod, const jit_source *src, aa_reports *reps)
{
    LLVMValueRef f = LLVMGetNamedFunction(mod, "mixer");
    if (f && !LLVMIsDeclaration(f) && !is_local(f) && !mixer_type_ok(f)) {
        int l, c;
        find_in_source(src, "mixer", 1, &l, &c);
        report_at(reps, src, l, c, "link/mixer-type",
                  "mixer does not have the type the engine calls it with; define exactly "
                  "aa_t mixer(aa_layer *l, aa_t x)");
        return 1;
    }
    if (f && !LLVMIsDeclaration(f) && !is_local(f)) return 0;
    if (f && !LLVMIsDeclaration(f)) {
        int l, c;
        find_in_source(src, "mixer", 1, &l, &c);
        report_at(reps, src, l, c, "link/no-mixer",
                  "mixer is declared static; a candidate must define aa_t mixer(aa_layer *l, aa_t x) "
                  "without 'static'");
    } else {
        report_at(reps, src, 0, 0, "link/no-mixer",
                  "this file does not define the function mixer; a candidate must define "
                  "aa_t mixer(aa_layer *l, aa_t x)");
    }
    return 1;
}

/* The text of AA_NAME / AA_MOTIVATION, read from the constant's initialiser
 * (never from JIT memory, whose size we would have to trust). NULL when the
 * candidate does not define it as a visible char array. */
static char *meta_string(LLVMModuleRef mod, const char *symbol)
{
    LLVMValueRef g = LLVMGetNamedGlobal(mod, symbol);
    if (!g || LLVMIsDeclaration(g) || is_local(g)) return NULL;
    LLVMValueRef init = LLVMGetInitializer(g);
    if (!init) return NULL;
    if (LLVMIsAConstantAggregateZero(init)) return strdup("");
    if (!LLVMIsAConstantDataSequential(init) || !LLVMIsConstantString(init)) return NULL;
    size_t len = 0;
    const char *s = LLVMGetAsString(init, &len);
    return strndup(s, strnlen(s, len));
}

/* ---- layer 2: the JIT ---------------------------------------------------------------------- */

/* The allow-list, as absolute symbols in the main JITDylib. */
static LLVMErrorRef define_allowed(LLVMOrcLLJITRef j, const linkage *lk)
{
    const char *const *names = jit_allowed_symbols();
    size_t n = 0;
    if (lk->symbols) n = (size_t)lk->n;
    else while (names[n]) n++;
    LLVMJITCSymbolMapPair *pairs = calloc(n, sizeof *pairs);
    if (!pairs) return LLVMCreateStringError("out of memory defining the DSL's symbols");
    for (size_t i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(j, lk->symbols ? lk->symbols[i].name : names[i]);
        pairs[i].Sym.Address =
            (LLVMOrcExecutorAddress)(uintptr_t)(lk->symbols ? lk->symbols[i].address : jit__symbol_address(i));
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    /* The unit takes over the name references. */
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, n);
    free(pairs);
    LLVMErrorRef err = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(j), mu);
    if (err) LLVMOrcDisposeMaterializationUnit(mu);
    return err;
}

/* Names listed in "Symbols not found: [ a, b ]" anywhere in text: one
 * report each (skipping repeats). Returns how many. */
static int report_missing(const jit_module *m, const char *text, const jit_source *src, aa_reports *reps)
{
    static const char tag[] = "Symbols not found: [";
    char seen[MSG_CAP] = " ";
    int n = 0;
    for (const char *p = text; (p = strstr(p, tag));) {
        p += sizeof tag - 1;
        const char *end = strchr(p, ']');
        if (!end) break;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ',')) p++;
            const char *q = p;
            while (q < end && *q != ',' && *q != ' ') q++;
            if (q > p && q - p < 200) {
                char name[256], key[260];
                snprintf(name, sizeof name, "%.*s", (int)(q - p), p);
                snprintf(key, sizeof key, " %s ", name);
                if (!strstr(seen, key) && strlen(seen) + strlen(key) < sizeof seen) {
                    strcat(seen, name);
                    strcat(seen, " ");
                    report_undefined(m, reps, src, name, 0, 0, 0);
                    n++;
                }
            }
            p = q;
        }
    }
    return n;
}

static void *lookup(jit_module *m, const char *symbol, char *err, size_t errlen)
{
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(m->jit, &addr, symbol);
    if (e) {
        take_error(m, e, err, errlen);
        return NULL;
    }
    return (void *)(uintptr_t)addr;
}

/* Hand the module to a fresh LLJIT and resolve every entry point now. */
static int jit_module_in(jit_module *m, LLVMOrcThreadSafeContextRef tsc, LLVMModuleRef mod, const jit_source *src,
                         aa_reports *reps)
{
    char msg[MSG_CAP];
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&m->jit, NULL);
    if (err) {
        take_error(m, err, msg, sizeof msg);
        LLVMDisposeModule(mod);
        report_at(reps, src, 0, 0, "link/jit", "cannot create the LLVM JIT: %s", msg);
        return -1;
    }
    LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(m->jit), on_session_error, m);
    if ((err = define_allowed(m->jit, &m->link))) {
        take_error(m, err, msg, sizeof msg);
        LLVMDisposeModule(mod);
        report_at(reps, src, 0, 0, "link/jit", "cannot define the DSL's symbols in the JIT: %s", msg);
        return -1;
    }
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    if ((err = LLVMOrcLLJITAddLLVMIRModule(m->jit, LLVMOrcLLJITGetMainJITDylib(m->jit), tsm))) {
        take_error(m, err, msg, sizeof msg);
        report_at(reps, src, 0, 0, "link/jit", "the JIT refused the module: %s", msg);
        return -1;
    }
    m->entry = lookup(m, m->link.entry, msg, sizeof msg);
    if (!m->link.symbols) m->mixer = (aa_t(*)(aa_layer *, aa_t))(uintptr_t)m->entry;
    if (!m->entry) {
        /* Compiling the module failed: most likely a reference the code
         * generator added (and layer 1 could not see) has no definition. */
        if (report_missing(m, m->errors, src, reps) == 0)
            report_at(reps, src, 0, 0, "link/jit", "the candidate could not be compiled and linked: %s", m->errors);
        return -1;
    }
    /* Same module, already compiled: these only confirm that they resolve. */
    if ((m->name && !lookup(m, "aa_meta_name", msg, sizeof msg)) ||
        (m->motivation && !lookup(m, "aa_meta_motivation", msg, sizeof msg))) {
        report_at(reps, src, 0, 0, "link/jit", "cannot resolve AA_NAME/AA_MOTIVATION: %s", msg);
        return -1;
    }
    return 0;
}

/* "path/to/My Cand.c" -> "my_cand" (a valid name, see jit_name_valid) */
static char *file_stem(const char *path)
{
    const char *base = path && *path ? path : "candidate";
    const char *slash = strrchr(base, '/');
    if (slash && slash[1]) base = slash + 1;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *stem = strndup(base, n), name[JIT_NAME_MAX + 1];
    if (!stem) return NULL;
    jit_name_sanitise(stem, name, sizeof name);
    free(stem);
    return strdup(name);
}

/* A kernel's entry must be defined here and visible (the harness calls it). */
static int scan_entry(LLVMModuleRef mod, const char *entry, const jit_source *src, aa_reports *reps)
{
    LLVMValueRef f = LLVMGetNamedFunction(mod, entry);
    if (f && !LLVMIsDeclaration(f) && !is_local(f)) return 0;
    int l = 0, c = 0;
    if (f) find_in_source(src, entry, 1, &l, &c);
    report_at(reps, src, l, c, "link/no-entry", "the module does not define %s with external linkage", entry);
    return 1;
}

static jit_module *load_module(const jit_bitcode *bc, const jit_source *src, linkage link, aa_reports *reps)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_llvm);

    if (!bc || !bc->data || !bc->len) {
        report_at(reps, src, 0, 0, "link/bitcode", "no bitcode to load; compile the candidate first");
        return NULL;
    }
    /* LLVM 14's reader ends the process on some malformed bitcode; jit_load
     * trusts its input to come from jit_compile (whose cache entries are
     * checksummed) and only screens out what is plainly not bitcode. */
    if (bc->len < 8 || bc->len % 4 != 0 ||
        (memcmp(bc->data, "BC\xC0\xDE", 4) != 0 && memcmp(bc->data, "\xDE\xC0\x17\x0B", 4) != 0)) {
        report_at(reps, src, 0, 0, "link/bitcode",
                  "the data is not LLVM bitcode (%zu bytes, no bitcode signature); compile the candidate again",
                  bc->len);
        return NULL;
    }
    jit_module *m = calloc(1, sizeof *m);
    if (!m) {
        report_at(reps, src, 0, 0, "link/jit", "out of memory while loading the candidate");
        return NULL;
    }
    m->link = link;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextSetDiagnosticHandler(LLVMOrcThreadSafeContextGetContext(tsc), on_diagnostic, m);

    LLVMMemoryBufferRef mb =
        LLVMCreateMemoryBufferWithMemoryRange((const char *)bc->data, bc->len, "candidate.bc", 0);
    LLVMModuleRef mod = NULL;
    int bad = LLVMParseBitcodeInContext2(LLVMOrcThreadSafeContextGetContext(tsc), mb, &mod);
    LLVMDisposeMemoryBuffer(mb);   /* the module does not keep it */
    if (bad) {
        report_at(reps, src, 0, 0, "link/bitcode",
                  "the bitcode cannot be read (%s); compile the candidate again", m->errors[0] ? m->errors : "?");
        goto fail;
    }
    char *vmsg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &vmsg)) {
        vmsg[strcspn(vmsg, "\n")] = 0;
        report_at(reps, src, 0, 0, "link/bitcode", "the module is not valid LLVM IR: %s", vmsg);
        LLVMDisposeMessage(vmsg);
        goto fail;
    }
    LLVMDisposeMessage(vmsg);

    /* Layer 1. Each scan reports on its own; run them all so one load
     * lists every problem. */
    bad = scan_target(mod, src, reps);
    bad += link.symbols ? scan_entry(mod, link.entry, src, reps) : scan_mixer(mod, src, reps);
    bad += scan_functions(mod, m, src, reps);
    bad += scan_globals(mod, m, src, reps);
    if (bad) goto fail;

    if (!link.symbols) {
        m->name = meta_string(mod, "aa_meta_name");
        m->motivation = meta_string(mod, "aa_meta_motivation");
    }
    char *ir = LLVMPrintModuleToString(mod);
    m->ir = strdup(ir);
    LLVMDisposeMessage(ir);

    /* Layer 2: the JIT owns the module from here on. */
    int rc = jit_module_in(m, tsc, mod, src, reps);
    mod = NULL;
    LLVMOrcDisposeThreadSafeContext(tsc);   /* the module holds its own reference */
    tsc = NULL;
    if (rc < 0) goto fail;

    if (m->name && *m->name && !jit_name_valid(m->name)) {
        report_at(reps, src, 0, 0, "link/name",
                  "AA_NAME must be 1 to %d characters from [a-z0-9_] (the checker says so too)", JIT_NAME_MAX);
        goto fail;
    }
    if (!m->name || !*m->name) {
        free(m->name);
        m->name = file_stem(src ? src->path : NULL);
    }
    if (!m->motivation) m->motivation = strdup("");
    if (!m->name || !m->motivation || !m->ir) {
        report_at(reps, src, 0, 0, "link/jit", "out of memory while loading the candidate");
        goto fail;
    }
    return m;

fail:
    if (mod) LLVMDisposeModule(mod);
    if (tsc) LLVMOrcDisposeThreadSafeContext(tsc);
    jit_unload(m);
    return NULL;
}

static char host_cpu[8192];

static void host_cpu_init(void)
{
    char *name = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
    snprintf(host_cpu, sizeof host_cpu, "%s %s", name ? name : "?", features ? features : "");
    LLVMDisposeMessage(name);
    LLVMDisposeMessage(features);
}

const char *jit_host_cpu_text(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, host_cpu_init);
    return host_cpu;
}

jit_module *jit_load(const jit_bitcode *bc, const jit_source *src, aa_reports *reps)
{
    return load_module(bc, src, (linkage){.entry = "mixer"}, reps);
}

jit_module *jit_load_kernel(const jit_bitcode *bc, const jit_source *src, const jit_symbol *symbols, int n,
                            const char *entry, aa_reports *reps)
{
    return load_module(bc, src, (linkage){.symbols = symbols, .n = n, .entry = entry}, reps);
}

void *jit_entry(const jit_module *m) { return m ? m->entry : NULL; }

/* The bitcode's machine code for this CPU, as assembly text: code
 * generation only (nothing is linked or run), with LLVM's own printer. */
char *jit_bitcode_asm(const jit_bitcode *bc, const jit_source *src, aa_reports *reps)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_llvm);
    if (!bc || !bc->data || bc->len < 8 || memcmp(bc->data, "BC\xC0\xDE", 4) != 0) {
        report_at(reps, src, 0, 0, "link/bitcode", "no bitcode to translate; compile the file first");
        return NULL;
    }
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRange((const char *)bc->data, bc->len, "kernel.bc", 0);
    LLVMModuleRef mod = NULL;
    char *text = NULL, *msg = NULL;
    if (LLVMParseBitcodeInContext2(ctx, mb, &mod)) {
        report_at(reps, src, 0, 0, "link/bitcode", "the bitcode cannot be read; compile the file again");
        goto done;
    }
    char *triple = LLVMGetDefaultTargetTriple(), *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
    LLVMTargetRef target;
    LLVMTargetMachineRef tm = NULL;
    if (!LLVMGetTargetFromTriple(triple, &target, &msg))
        tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                     LLVMCodeModelJITDefault);
    LLVMMemoryBufferRef out = NULL;
    if (!tm || LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &out))
        report_at(reps, src, 0, 0, "link/jit", "LLVM could not generate code for %s: %s", triple, msg ? msg : "?");
    else
        text = strndup(LLVMGetBufferStart(out), LLVMGetBufferSize(out));
    if (out) LLVMDisposeMemoryBuffer(out);
    if (tm) LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
done:
    if (msg) LLVMDisposeMessage(msg);
    if (mod) LLVMDisposeModule(mod);
    LLVMDisposeMemoryBuffer(mb);
    LLVMContextDispose(ctx);
    return text;
}

aa_t (*jit_mixer(const jit_module *m))(aa_layer *, aa_t) { return m ? m->mixer : NULL; }

const char *jit_name(const jit_module *m) { return m ? m->name : NULL; }

const char *jit_motivation(const jit_module *m) { return m ? m->motivation : NULL; }

void *jit_lookup(jit_module *m, const char *symbol)
{
    if (!m || !m->jit || !symbol) return NULL;
    /* Only the candidate's own functions: the JITDylib also holds the DSL's
     * host functions (memcpy, aa__dim, ...), which must never be handed out
     * as, say, a custom pointwise op. */
    for (int i = 0; i < m->n_defined; i++)
        if (strcmp(m->defined[i], symbol) == 0) return lookup(m, symbol, NULL, 0);
    return NULL;
}

void *jit_lookup_scalar(jit_module *m, const char *symbol, int nargs)
{
    if (!m || !m->jit || !symbol) return NULL;
    for (int i = 0; i < m->n_defined; i++)
        if (strcmp(m->defined[i], symbol) == 0)
            return m->scalar_arity[i] == nargs ? lookup(m, symbol, NULL, 0) : NULL;
    return NULL;
}

void *jit_resolve_scalar(void *module, const char *symbol, int nargs)
{
    return jit_lookup_scalar(module, symbol, nargs);
}

const char *jit_function_name(const jit_module *m, int i)
{
    return m && i >= 0 && i < m->n_defined ? m->defined[i] : NULL;
}

char *jit_llvm_ir(const jit_module *m) { return m && m->ir ? strdup(m->ir) : NULL; }

void jit_unload(jit_module *m)
{
    if (!m) return;
    if (m->jit) {
        LLVMErrorRef err = LLVMOrcDisposeLLJIT(m->jit);
        if (err) LLVMConsumeError(err);
    }
    for (int i = 0; i < m->n_defined; i++) free(m->defined[i]);
    free(m->defined);
    free(m->scalar_arity);
    free(m->name);
    free(m->motivation);
    free(m->ir);
    free(m);
}
