/*
 * symbols.c — the only host symbols a loaded candidate can link against.
 *
 * The loader (load.c) gives each candidate's LLJIT exactly this table as
 * absolute symbols and no process symbol generator, so a reference to
 * anything else (system, fopen, environ, ...) has no definition and fails to
 * link. The table is the DSL's ABI:
 *
 *   - every aa__* entry point declared in include/asiarch.h (ir/dsl.c);
 *   - the scalar math functions the header declares (libm);
 *   - memcpy, memset, memmove, which the code generator emits on its own for
 *     struct copies and zero-initialised local arrays.
 *
 * tests/test_jit.c checks that the aa__* and math names here are exactly
 * those the embedded header declares; add a line here whenever the header
 * gains an entry point.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "jit.h"

/* One list, expanded twice: into the names and into the addresses, so the
 * two can never disagree. */
#define ALLOWED(X)                                                                                 \
    /* the DSL entry points (asiarch.h) */                                                         \
    X(aa__dim) X(aa__rank) X(aa__size) X(aa__param) X(aa__reshape) X(aa__permute) X(aa__transpose) \
    X(aa__split_heads) X(aa__merge_heads) X(aa__slice) X(aa__concat) X(aa__pad) X(aa__expand_as)   \
    X(aa__binary) X(aa__unary) X(aa__reduce) X(aa__mask) X(aa__linear) X(aa__matmul)               \
    X(aa__trisolve) X(aa__rmsnorm) X(aa__layernorm) X(aa__l2norm) X(aa__gated_rmsnorm)             \
    X(aa__short_conv) X(aa__linattn) X(aa__aux_loss) X(aa__pointwise) X(aa__stop_gradient)                              \
    /* scalar math the header declares */                                                          \
    X(sqrtf) X(expf) X(logf) X(powf) X(fabsf) X(tanhf) X(floorf) X(ceilf) X(fminf) X(fmaxf)         \
    /* emitted by the code generator itself */                                                     \
    X(memcpy) X(memset) X(memmove)

/* Any function pointer type will do to hold an address; converting between
 * function pointer types is well defined, converting to void * is not. */
typedef void (*jit_fn)(void);

#define NAME(f) #f,
#define ADDRESS(f) (jit_fn)f,
static const char *const names[] = {ALLOWED(NAME) NULL};
static const jit_fn addresses[] = {ALLOWED(ADDRESS)};

const char *const *jit_allowed_symbols(void) { return names; }

/* Internal (load.c): the host address of the i-th name of
 * jit_allowed_symbols(), or NULL past the end. */
void *jit__symbol_address(size_t i);

void *jit__symbol_address(size_t i)
{
    if (i >= sizeof addresses / sizeof addresses[0]) return NULL;
    /* POSIX guarantees that function and data pointers convert (dlsym). */
    return (void *)(size_t)addresses[i];
}
