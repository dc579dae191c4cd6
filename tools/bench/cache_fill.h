/* Creates caches for a configuration and fills every slot to S positions
 * through cache_append, as a host's prefill would. */
#ifndef SPARQ_BENCH_CACHE_FILL_H
#define SPARQ_BENCH_CACHE_FILL_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

#include "bench_config.h"
#include "random_data.h"

typedef struct fill_timing {
    double seconds; /* wall clock inside cache_append only */
    double tokens;
    double bytes;
} fill_timing;

/* Creates and fills `n_caches` caches with keys and values from `src`. On failure destroys what it created,
 * writes why and returns -1. `caches` must have room for n_caches. */
int create_filled_caches(const sparq_api *api, sparq_context *ctx, const bench_config *cfg, uint32_t n_caches,
                         uint32_t chunk_tokens, kv_source *src, sparq_cache **caches, fill_timing *timing,
                         char *why, size_t why_size);
void destroy_caches(const sparq_api *api, sparq_cache **caches, uint32_t n_caches);

#endif
