/*
 * cognition.h — the cognition base: design insights from the linear-attention
 * literature, one JSON entry each, and BM25 retrieval over them (ARCHITECTURE §6).
 *
 * After each run the analyst writes what went right and wrong; that text is
 * the query, and the best entries go into the next proposal prompt, so the
 * proposer sees the problem, the insight and how to write it in the DSL.
 *
 * An entry (cognition/entries/<id>.json; every string non-empty):
 *
 *   {"id": "delta-rule-error-correction",        lowercase letters, digits, '-'
 *    "title": "...", "source": "Schlag et al. 2021; ...",
 *    "topics": ["memory", "delta-rule"],          at least one
 *    "problem": "...", "insight": "...",
 *    "dsl": "how to write it with the ops of include/asiarch.h",
 *    "pitfalls": "..."}                           optional
 *
 * Unknown keys are refused (a misspelt "pitfals" would otherwise vanish).
 * The entries under cognition/entries are compiled into the library, so a
 * binary finds them from any directory; users add their own with
 * cog_base_load_dir.
 *
 * Usage:
 *   cog_base base = {0};
 *   if (cog_base_load_embedded(&base, err, sizeof err) < 0) ... err says why
 *   cog_hit hits[5];
 *   int n = cog_search(&base, analyst_text, 5, hits);
 *   for (int i = 0; i < n; i++) cog_format_entry(hits[i].entry, buf, sizeof buf);
 *   cog_base_free(&base);
 */
#ifndef ASIARCH_COGNITION_H
#define ASIARCH_COGNITION_H

#include <stddef.h>

/* One distinct index term of an entry and how often it occurs. */
typedef struct cog_term {
    char *text;
    int count;
} cog_term;

typedef struct cog_entry {
    char *id, *title, *source;
    char **topics;
    int n_topics;
    char *problem, *insight, *dsl;
    char *pitfalls;          /* NULL when the entry has none */
    char *origin;            /* where it was loaded from: a file path or "embedded:<file>" */
    /* The BM25 index of title + topics + problem + insight + dsl (title and
     * topics counted COG_KEYWORD_WEIGHT times): distinct terms sorted by
     * strcmp, and the document length in terms. */
    cog_term *terms;
    int n_terms;
    int length;
} cog_entry;

/* A set of entries with unique ids, in load order. {0} is the empty base. */
typedef struct cog_base {
    cog_entry *entries;
    int n, cap;
} cog_base;

typedef struct cog_hit {
    const cog_entry *entry;  /* points into the base searched */
    double score;            /* BM25, > 0 */
} cog_hit;

/* ---- loading ------------------------------------------------------------------ */

/* Each loader appends to base and returns the number of entries it added, or
 * -1 with a message in err (naming the file, and for malformed JSON the line
 * and column) and base unchanged. */

/* The entries compiled into the binary (cognition/entries at build time). */
int cog_base_load_embedded(cog_base *base, char *err, size_t errlen);
/* Every *.json file directly in dir, in name order; one entry per file. */
int cog_base_load_dir(cog_base *base, const char *dir, char *err, size_t errlen);
/* One entry from JSON text of len bytes; origin names it in messages. */
int cog_base_add_json(cog_base *base, const char *origin, const char *text, size_t len, char *err, size_t errlen);
void cog_base_free(cog_base *base);

/* The entry with this id, or NULL. */
const cog_entry *cog_base_find(const cog_base *base, const char *id);

/* ---- retrieval ------------------------------------------------------------------ */

/* BM25 constants (Robertson et al.): term-frequency saturation and length
 * normalisation. */
#define COG_BM25_K1 1.2
#define COG_BM25_B 0.75
/* Title and topics are an entry's curated keywords: each of their terms
 * counts this many times in f(t,D) and |D|. */
#define COG_KEYWORD_WEIGHT 2

/* The k best entries for a free-text query, best first, into hits[0..k-1];
 * returns how many (only entries with a positive score), or -1 when out of
 * memory. Score of entry D:
 *
 *   sum over query terms t (repeats count):
 *     idf(t) * f(t,D) * (k1 + 1) / (f(t,D) + k1 * (1 - b + b * |D| / avgdl))
 *   idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))
 *
 * with N entries, n(t) of them containing t, f(t,D) occurrences of t in D, and
 * avgdl the mean |D|. Equal scores are ordered by id, so the ranking is
 * deterministic. */
int cog_search(const cog_base *base, const char *query, int k, cog_hit *hits);

/* The text analysis shared by entries and queries: split into runs of ASCII
 * letters and digits, lowercase, drop single characters, English stop words
 * and the DSL prefix "aa", spell -ize as -ise, and strip common suffixes with
 * a light stemmer (gate, gates, gated, gating -> "gat"). Returns the number of
 * terms in *terms (a malloc'd array of malloc'd strings; free with
 * cog_terms_free), or -1 when out of memory. */
int cog_tokenize(const char *text, char ***terms);
void cog_terms_free(char **terms, int n);

/* ---- presentation ----------------------------------------------------------------- */

/* The entry as plain text for a prompt or a terminal:
 *
 *   [id] title
 *   Source: ...
 *   Topics: a, b
 *   Problem: ...
 *   Insight: ...
 *   In the DSL: ...
 *   Pitfalls: ...            (when present)
 *
 * Writes at most len bytes (always NUL-terminated when len > 0) and returns
 * the length the whole text needs, like snprintf. */
size_t cog_format_entry(const cog_entry *e, char *buf, size_t len);

#endif /* ASIARCH_COGNITION_H */
