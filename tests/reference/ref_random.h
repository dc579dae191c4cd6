/*
 * A small seeded PRNG (xoshiro256**, seeded through splitmix64) so that every
 * random test input can be reproduced from one printed number.
 */
#ifndef SPARQ_REF_RANDOM_H
#define SPARQ_REF_RANDOM_H

#include <stdint.h>

typedef struct sparq_ref_rng {
    uint64_t state[4];
} sparq_ref_rng;

/* The seed for this process: env SPARQ_TEST_SEED (decimal or 0x hex) if set,
 * else derived from the clock and pid. Printed once to stdout with `who`, so a
 * failure can be repeated with SPARQ_TEST_SEED=<seed>. */
uint64_t sparq_ref_test_seed(const char *who);

/* Seeds `rng` from `seed` and a stream label, so independent parts of a test
 * program get independent streams from the one process seed. */
void sparq_ref_rng_init(sparq_ref_rng *rng, uint64_t seed, const char *stream);

uint64_t sparq_ref_rng_next(sparq_ref_rng *rng);
/* Uniform in the open interval (0, 1). */
double sparq_ref_rng_uniform(sparq_ref_rng *rng);
/* Uniform integer in [0, n); n >= 1. */
uint32_t sparq_ref_rng_below(sparq_ref_rng *rng, uint32_t n);
/* Standard normal. */
double sparq_ref_rng_normal(sparq_ref_rng *rng);
/* Student-t with `dof` (>= 1) degrees of freedom: heavy tails. */
double sparq_ref_rng_student_t(sparq_ref_rng *rng, unsigned dof);

#endif
