/*
 * cog_private.h — what the cognition library's own files share: the entry
 * index builder (bm25.c) and the entries compiled into the binary (generated
 * by cognition/embed_entries.cmake). Not for users; cognition.h is the API.
 */
#ifndef ASIARCH_COG_PRIVATE_H
#define ASIARCH_COG_PRIVATE_H

#include <stddef.h>

#include "cognition.h"

/* Fill e->terms, e->n_terms and e->length from the entry's text; 0, or -1
 * when out of memory (e->terms is then NULL). */
int cog_index_entry(cog_entry *e);

/* cognition/entries/<name> at build time, in name order. */
extern const int cog_embedded_count;
extern const char *const cog_embedded_names[];
extern const char *const cog_embedded_texts[];
extern const size_t cog_embedded_lengths[];

#endif /* ASIARCH_COG_PRIVATE_H */
