#include "ref_random.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sparq_ref_test_seed(const char *who)
{
    static int have_seed;
    static uint64_t seed;
    if (!have_seed) {
        const char *env = getenv("SPARQ_TEST_SEED");
        if (env && *env) {
            seed = strtoull(env, NULL, 0);
        } else {
            struct timespec now;
            timespec_get(&now, TIME_UTC);
            uint64_t mix = (uint64_t)now.tv_sec * 1000000007ull ^ (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 32);
            seed = splitmix64(&mix);
        }
        have_seed = 1;
        printf("%s: random seed %" PRIu64 " (set SPARQ_TEST_SEED=%" PRIu64 " to repeat)\n", who ? who : "test", seed,
               seed);
        fflush(stdout);
    }
    return seed;
}

void sparq_ref_rng_init(sparq_ref_rng *rng, uint64_t seed, const char *stream)
{
    /* FNV-1a of the label keeps streams apart without a registry of numbers. */
    uint64_t label = 0xcbf29ce484222325ull;
    for (const char *c = stream ? stream : ""; *c; c++)
        label = (label ^ (uint8_t)*c) * 0x100000001b3ull;
    uint64_t x = seed ^ label;
    for (int i = 0; i < 4; i++)
        rng->state[i] = splitmix64(&x);
}

uint64_t sparq_ref_rng_next(sparq_ref_rng *rng)
{
    uint64_t *s = rng->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sparq_ref_rng_uniform(sparq_ref_rng *rng)
{
    /* 53 random bits, shifted off zero so logs are finite. */
    return ((double)(sparq_ref_rng_next(rng) >> 11) + 0.5) * 0x1p-53;
}

uint32_t sparq_ref_rng_below(sparq_ref_rng *rng, uint32_t n)
{
    return (uint32_t)(((sparq_ref_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

double sparq_ref_rng_normal(sparq_ref_rng *rng)
{
    double u1 = sparq_ref_rng_uniform(rng);
    double u2 = sparq_ref_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double sparq_ref_rng_student_t(sparq_ref_rng *rng, unsigned dof)
{
    if (dof < 1)
        dof = 1;
    double chi2 = 0.0;
    for (unsigned i = 0; i < dof; i++) {
        double z = sparq_ref_rng_normal(rng);
        chi2 += z * z;
    }
    return sparq_ref_rng_normal(rng) / sqrt(chi2 / dof);
}
