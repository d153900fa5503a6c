/* rng: a small seeded PRNG (xoshiro256** seeded by splitmix64), the same sequence everywhere. */
#ifndef CHAINLAB_RNG_H
#define CHAINLAB_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero after rng_seed() */
};

/* Reset r to the sequence of seed. Every seed, 0 included, is valid. */
void rng_seed(struct rng *r, uint64_t seed);
/* Next 64 uniformly distributed bits. */
uint64_t rng_next(struct rng *r);
/* Uniform integer in [0, n), without modulo bias. Returns 0 when n is 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform double in [0, 1), with 53 random bits. */
double rng_double(struct rng *r);
/* Shuffle a[0..n) in place (Fisher-Yates); the permutation depends only on the state of r. */
void rng_shuffle(struct rng *r, int *a, size_t n);

#endif
