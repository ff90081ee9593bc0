/*
 * loader.c — batches of next-token windows from a token array.
 *
 * A window is T+1 consecutive tokens: the first T are the inputs, the last T
 * the targets, so targets[t] = inputs[t+1] within a window. A batch is B
 * windows, written row-major into inputs[B*T] and targets[B*T].
 *
 * random = 1 (training): each window starts at a uniform random position,
 * drawn from the loader's own PRNG, so a seed reproduces the batches.
 *
 * random = 0 (evaluation): windows are consecutive and step by T, so their
 * inputs tile the data without overlap (as in llm.c). A pass holds
 * W = (n-1)/T windows; the few leftover tokens at the end are not used. If
 * W is not a multiple of B, the pass's last batch is filled by wrapping to
 * the start, and the next batch begins a new pass at 0. So the batch
 * sequence repeats exactly every dt_loader_batches() batches, and running
 * that many batches sees every window at least once.
 */
#include "data.h"

/* splitmix64 again (see rng.c): seeds 1, 2, 3 must give unrelated streams. */
static uint64_t mix_seed(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void dt_loader_init(dt_loader *ld, const dt_tokens *data, int B, int T, uint64_t seed, int random)
{
    ld->data = data;
    ld->B = B;
    ld->T = T;
    ld->random = random;
    ld->rng = mix_seed(seed);
    ld->pos = 0;
}

static int window_fits(const dt_loader *ld, size_t start)
{
    return start + (size_t)ld->T + 1 <= ld->data->n;
}

static void copy_window(const dt_loader *ld, size_t start, int32_t *inputs, int32_t *targets)
{
    const uint16_t *tok = ld->data->tok + start;
    for (int t = 0; t < ld->T; t++) {
        inputs[t] = tok[t];
        targets[t] = tok[t + 1];
    }
}

int dt_loader_next(dt_loader *ld, int32_t *inputs, int32_t *targets)
{
    if (!ld->data || ld->B <= 0 || ld->T <= 0 || !window_fits(ld, 0))
        return -1;
    size_t T = (size_t)ld->T;
    size_t starts = ld->data->n - T;        /* valid starts: 0 .. n-T-1 */

    if (ld->random) {
        for (int b = 0; b < ld->B; b++) {
            size_t start = (size_t)(dt_rand_u64(&ld->rng) % starts);
            copy_window(ld, start, inputs + b * T, targets + b * T);
        }
        return 0;
    }

    /* A pass that ended exactly at a batch boundary starts over here... */
    size_t pos = window_fits(ld, ld->pos) ? ld->pos : 0;
    int wrapped = 0;
    for (int b = 0; b < ld->B; b++) {
        if (!window_fits(ld, pos)) {    /* ...and one that ends mid-batch here */
            pos = 0;
            wrapped = 1;
        }
        copy_window(ld, pos, inputs + b * T, targets + b * T);
        pos += T;
    }
    ld->pos = wrapped ? 0 : pos;    /* a batch that wrapped ends the pass */
    return 0;
}

size_t dt_loader_batches(const dt_loader *ld)
{
    if (!ld->data || ld->B <= 0 || ld->T <= 0 || !window_fits(ld, 0))
        return 0;
    size_t windows = (ld->data->n - 1) / (size_t)ld->T;
    return (windows + (size_t)ld->B - 1) / (size_t)ld->B;
}
