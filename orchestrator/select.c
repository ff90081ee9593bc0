/*
 * select.c — which scored candidates the next proposal builds on (ARCHITECTURE §6,
 * as in ASI-Arch): a parent uniformly from the top 10 and four references
 * from ranks 11-50, reproducible from a seed (score.h).
 */
#include <math.h>

#include "score.h"

void os_rng_seed(os_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t os_rng_next(os_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t os_rng_below(os_rng *r, uint64_t bound)
{
    if (bound <= 1) return 0;
    /* 2^64 mod bound values at the bottom would be drawn once more often
     * than the rest: reject them. */
    uint64_t reject_below = (0 - bound) % bound;
    uint64_t x;
    do x = os_rng_next(r);
    while (x < reject_below);
    return x % bound;
}

static int sorted_descending(const double *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (isnan(s[i])) return 0;
        if (i > 0 && s[i] > s[i - 1]) return 0;
    }
    return 1;
}

/* Move `take` uniformly chosen elements of pool[0..n) to its front (a partial
 * Fisher-Yates shuffle) and return how many were taken. */
static int draw_distinct(os_rng *r, int *pool, int n, int take)
{
    if (take > n) take = n;
    for (int i = 0; i < take; i++) {
        int j = i + (int)os_rng_below(r, (uint64_t)(n - i));
        int t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    return take;
}

static void sort_ascending(int *a, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && a[j] < a[j - 1]; j--) {
            int t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
}

int os_select(const double *scores_sorted_desc, int n, uint64_t seed, int *parent_rank, int refs[OS_N_REFS],
              int *n_refs)
{
    if (n <= 0 || !scores_sorted_desc || !parent_rank || !refs || !n_refs) return -1;
    if (!sorted_descending(scores_sorted_desc, n)) return -1;
    os_rng rng;
    os_rng_seed(&rng, seed);
    int top = n < OS_PARENT_POOL ? n : OS_PARENT_POOL;
    int parent = (int)os_rng_below(&rng, (uint64_t)top);

    int pool[OS_REF_LAST], count = 0, chosen = 0;
    int ref_end = n < OS_REF_LAST ? n : OS_REF_LAST;
    for (int rank = OS_REF_FIRST; rank < ref_end; rank++) pool[count++] = rank;
    chosen = draw_distinct(&rng, pool, count, OS_N_REFS);
    for (int i = 0; i < chosen; i++) refs[i] = pool[i];

    if (chosen < OS_N_REFS) {   /* a young run: fill up from the top, never the parent */
        count = 0;
        for (int rank = 0; rank < top; rank++)
            if (rank != parent) pool[count++] = rank;
        int extra = draw_distinct(&rng, pool, count, OS_N_REFS - chosen);
        for (int i = 0; i < extra; i++) refs[chosen + i] = pool[i];
        chosen += extra;
    }
    sort_ascending(refs, chosen);
    *parent_rank = parent;
    *n_refs = chosen;
    return 0;
}
