/*
 * arch.h — the reference mixers of arch/, linked into the binary.
 *
 * Each arch/NAME.c is also a standalone DSL file (it includes only
 * <asiarch.h>); the build renames its symbols to aa_ref_NAME_* so all of
 * them can live in one program.
 */
#ifndef ASIARCH_ARCH_H
#define ASIARCH_ARCH_H

#include "asiarch.h"

typedef struct arch_ref {
    const char *name;        /* as used by `asiarch train NAME` */
    const char *file;        /* source path relative to the repository */
    aa_t (*mixer)(aa_layer *l, aa_t x);
    const char *motivation;
    const char *source;      /* the file's text (embedded by the build) */
} arch_ref;

/* NULL if there is no reference of that name. */
const arch_ref *arch_find(const char *name);
/* All references; *n receives the count. */
const arch_ref *arch_all(int *n);

#endif
