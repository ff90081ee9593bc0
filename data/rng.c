/*
 * rng.c — the project's small deterministic PRNG: xorshift64* (Vigna 2016).
 *
 * The whole state is one uint64_t that the caller owns, so a stream is
 * reproduced by saving and restoring that word. xorshift has one fixed point:
 * a zero state stays zero forever. Rather than make callers remember that, a
 * zero state is replaced by a splitmix64-mixed constant on first use, so
 * `uint64_t rng = 0;` is a valid seed like any other. Callers that seed from
 * small consecutive integers (1, 2, 3, ...) should mix the seed first, as
 * dt_loader_init does, so that their first outputs are not correlated.
 */
#include "data.h"

#include <math.h>

/* splitmix64's output function: a bijection with good avalanche, used to
 * turn weak seeds (0, small integers) into well-spread states. */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t dt_rand_u64(uint64_t *state)
{
    uint64_t x = *state;
    if (x == 0)
        x = splitmix64(0);      /* nonzero: 0xE220A8397B1DCDAF */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The top 24 bits (the best ones of xorshift64*) fill a float's mantissa
 * exactly, so every value is a multiple of 2^-24 and 1.0 is never returned. */
float dt_rand_uniform(uint64_t *state)
{
    return (float)(dt_rand_u64(state) >> 40) * 0x1.0p-24f;
}

/* Box-Muller in double precision. u1 lies in (0, 1] so log(u1) is finite;
 * the second variate of the pair is discarded to keep the state one word. */
float dt_rand_normal(uint64_t *state)
{
    double u1 = (double)((dt_rand_u64(state) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double)(dt_rand_u64(state) >> 11) * 0x1.0p-53;
    const double two_pi = 6.283185307179586476925;
    return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}
