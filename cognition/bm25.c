/*
 * bm25.c — retrieval for the cognition base: the text analysis shared by
 * entries and queries (tokens, stop words, a light stemmer), the per-entry
 * term index, and Okapi BM25 ranking.
 *
 * The stemmer is deliberately small and predictable rather than linguistic:
 * what matters is that the forms an analyst writes ("gating", "forgets",
 * "normalization") meet the forms the entries use ("gate", "forget",
 * "normalised"). Any rule is fine as long as queries and entries go through
 * the same one.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cog_private.h"

/* Longer tokens are cut: no word the base needs is anywhere near this. */
#define MAX_TOKEN 48

/* ---- text analysis ------------------------------------------------------------ */

/* Function words that carry no topic, plus "aa", the prefix of every DSL
 * identifier, and the forms of "use" the stemmer cannot unite. Sorted for
 * bsearch. */
static const char *const stop_words[] = {
    "aa", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because", "been",
    "before", "being", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "each", "either",
    "for", "from", "had", "has", "have", "having", "he", "her", "here", "his", "how", "if", "in", "into", "is",
    "it", "its", "itself", "just", "may", "might", "more", "most", "much", "must", "no", "nor", "not", "of",
    "off", "on", "once", "one", "only", "or", "other", "our", "out", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "us", "use", "used", "uses", "using", "very", "was", "we", "were", "what", "when",
    "where", "whether", "which", "while", "who", "why", "will", "with", "would", "yet", "you", "your",
};

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stop_word(const char *w)
{
    return bsearch(&w, stop_words, sizeof stop_words / sizeof stop_words[0], sizeof stop_words[0],
                   compare_strings) != NULL;
}

static int is_vowel(char c) { return c && strchr("aeiouy", c) != NULL; }

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w[i])) return 1;
    return 0;
}

static int ends_with(const char *w, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(w + n - m, suffix, m) == 0;
}

/* British and American spellings meet: every "iz" becomes "is". */
static void unify_spelling(char *w, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (w[i] == 'i' && w[i + 1] == 'z') w[i + 1] = 's';
}

/* memories -> memory, classes -> class, gates -> gate; keeps "focus", "basis". */
static size_t strip_plural(char *w, size_t n)
{
    if (n > 4 && ends_with(w, n, "sses")) return n - 2;
    if (n > 4 && ends_with(w, n, "ies")) {
        w[n - 3] = 'y';
        return n - 2;
    }
    if (n > 3 && w[n - 1] == 's' && !strchr("sui", w[n - 2])) return n - 1;
    return n;
}

/* Derivational and inflectional endings, tried longest first. A suffix goes
 * only when at least min_stem characters stay (and, for -ing/-ed, a vowel:
 * "string" and "red" are words, not forms). */
static const struct suffix_rule {
    const char *suffix;
    size_t min_stem;
    int stem_needs_vowel;
} suffix_rules[] = {
    {"ation", 3, 0}, {"ness", 3, 0}, {"ment", 3, 0}, {"ing", 3, 1}, {"ed", 3, 1}, {"ly", 4, 0}, {"er", 3, 0},
};

/* Remove one suffix; "forgetting" -> "forgett" -> "forget" (a doubled final
 * consonant other than l, s, z is a spelling artefact of the suffix). */
static size_t strip_one_suffix(char *w, size_t n)
{
    for (size_t i = 0; i < sizeof suffix_rules / sizeof suffix_rules[0]; i++) {
        const struct suffix_rule *r = &suffix_rules[i];
        size_t m = strlen(r->suffix);
        if (!ends_with(w, n, r->suffix) || n - m < r->min_stem) continue;
        if (r->stem_needs_vowel && !has_vowel(w, n - m)) continue;
        n -= m;
        if (n >= 4 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && !strchr("lsz", w[n - 1])) n--;
        return n;
    }
    return n;
}

/* Reduce a lowercase word in place; returns its new length. Two rounds of
 * suffixes unite "filtering" -> "filter" -> "filt" with "filters". A final
 * "e" goes last so "gate" meets "gated" and "gating" ("gat"). */
static size_t stem(char *w, size_t n)
{
    unify_spelling(w, n);
    n = strip_plural(w, n);
    for (int round = 0; round < 2; round++) {
        size_t before = n;
        n = strip_one_suffix(w, n);
        if (n == before) break;
    }
    if (n > 3 && w[n - 1] == 'e') n--;
    w[n] = '\0';
    return n;
}

void cog_terms_free(char **terms, int n)
{
    for (int i = 0; i < n; i++) free(terms[i]);
    free(terms);
}

static int push_term(char ***terms, int *n, int *cap, const char *word)
{
    if (*n == *cap) {
        int new_cap = *cap ? 2 * *cap : 64;
        char **grown = realloc(*terms, (size_t)new_cap * sizeof *grown);
        if (!grown) return -1;
        *terms = grown;
        *cap = new_cap;
    }
    char *copy = strdup(word);
    if (!copy) return -1;
    (*terms)[(*n)++] = copy;
    return 0;
}

int cog_tokenize(const char *text, char ***terms)
{
    char **list = NULL;
    int n = 0, cap = 0;
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        if (!isalnum(*p)) {
            p++;
            continue;
        }
        char word[MAX_TOKEN + 1];
        size_t len = 0;
        for (; isalnum(*p); p++)
            if (len < MAX_TOKEN) word[len++] = (char)tolower(*p);
        word[len] = '\0';
        if (len < 2 || is_stop_word(word)) continue;
        stem(word, len);
        if (push_term(&list, &n, &cap, word) != 0) {
            cog_terms_free(list, n);
            return -1;
        }
    }
    *terms = list;
    return n;
}

/* ---- the index of one entry ------------------------------------------------------ */

/* The indexed fields, one per line, in a fresh buffer. Title and topics are
 * the curated keywords of an entry, so they go in twice: a word there counts
 * as much as two passing mentions in the prose. */
static char *indexed_text(const cog_entry *e)
{
    const char *prose[] = {e->problem, e->insight, e->dsl};
    size_t keywords = strlen(e->title) + 1, total = 1;
    for (int i = 0; i < e->n_topics; i++) keywords += strlen(e->topics[i]) + 1;
    total += COG_KEYWORD_WEIGHT * keywords;
    for (size_t i = 0; i < 3; i++) total += strlen(prose[i]) + 1;
    char *text = malloc(total), *at = text;
    if (!text) return NULL;
    for (int copy = 0; copy < COG_KEYWORD_WEIGHT; copy++) {
        at += sprintf(at, "%s\n", e->title);
        for (int i = 0; i < e->n_topics; i++) at += sprintf(at, "%s\n", e->topics[i]);
    }
    for (size_t i = 0; i < 3; i++) at += sprintf(at, "%s\n", prose[i]);
    return text;
}

int cog_index_entry(cog_entry *e)
{
    char *text = indexed_text(e);
    char **words = NULL;
    int n = text ? cog_tokenize(text, &words) : -1;
    free(text);
    e->terms = NULL;
    e->n_terms = e->length = 0;
    if (n < 0) return -1;

    /* Sort, then collapse runs of the same word into (word, count). */
    if (n > 1) qsort(words, (size_t)n, sizeof *words, compare_strings);
    cog_term *terms = malloc((size_t)(n ? n : 1) * sizeof *terms);
    if (!terms) {
        cog_terms_free(words, n);
        return -1;
    }
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        if (distinct && strcmp(terms[distinct - 1].text, words[i]) == 0) {
            terms[distinct - 1].count++;
            free(words[i]);
        } else {
            terms[distinct++] = (cog_term){words[i], 1};
        }
    }
    free(words);
    e->terms = terms;
    e->n_terms = distinct;
    e->length = n;
    return 0;
}

/* ---- ranking ---------------------------------------------------------------------- */

static int term_count(const cog_entry *e, const char *word)
{
    int lo = 0, hi = e->n_terms - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(e->terms[mid].text, word);
        if (c == 0) return e->terms[mid].count;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

static double mean_length(const cog_base *base)
{
    double total = 0;
    for (int i = 0; i < base->n; i++) total += base->entries[i].length;
    return total > 0 ? total / base->n : 1.0;
}

/* Add one query term's BM25 contribution to every entry's score. */
static void score_term(const cog_base *base, const char *word, double avgdl, double *scores)
{
    int containing = 0;
    for (int i = 0; i < base->n; i++) containing += term_count(&base->entries[i], word) > 0;
    if (!containing) return;
    double idf = log(1.0 + (base->n - containing + 0.5) / (containing + 0.5));
    for (int i = 0; i < base->n; i++) {
        const cog_entry *e = &base->entries[i];
        double f = term_count(e, word);
        if (f == 0) continue;
        double norm = COG_BM25_K1 * (1.0 - COG_BM25_B + COG_BM25_B * e->length / avgdl);
        scores[i] += idf * f * (COG_BM25_K1 + 1.0) / (f + norm);
    }
}

static int compare_hits(const void *a, const void *b)
{
    const cog_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->entry->id, y->entry->id);
}

int cog_search(const cog_base *base, const char *query, int k, cog_hit *hits)
{
    if (k <= 0 || base->n == 0) return 0;
    char **words;
    int n_words = cog_tokenize(query, &words);
    if (n_words < 0) return -1;
    double *scores = calloc((size_t)base->n, sizeof *scores);
    cog_hit *all = malloc((size_t)base->n * sizeof *all);
    if (!scores || !all) {
        free(scores);
        free(all);
        cog_terms_free(words, n_words);
        return -1;
    }
    double avgdl = mean_length(base);
    for (int i = 0; i < n_words; i++) score_term(base, words[i], avgdl, scores);
    cog_terms_free(words, n_words);

    int found = 0;
    for (int i = 0; i < base->n; i++)
        if (scores[i] > 0) all[found++] = (cog_hit){&base->entries[i], scores[i]};
    if (found > 1) qsort(all, (size_t)found, sizeof *all, compare_hits);
    if (found > k) found = k;
    if (found > 0) memcpy(hits, all, (size_t)found * sizeof *all);
    free(scores);
    free(all);
    return found;
}
