#include "cache_fill.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "monotonic_clock.h"

/* Bound on the host staging buffer of one append call (each of K and V). */
#define APPEND_BUFFER_BYTES (32u << 20)

typedef struct progress {
    const char *name;
    double total;
    double done;
    int last_percent;
    double last_print;
    int interactive;
    int printed;
} progress;

static void progress_step(progress *p, double amount)
{
    p->done += amount;
    int percent = (int)(100.0 * p->done / p->total);
    double now = monotonic_seconds();
    /* Long fills (GiB caches) report every few seconds; short ones stay quiet. */
    if (percent != p->last_percent && now - p->last_print > 2.0) {
        fprintf(stderr, p->interactive ? "\r[%s] filling caches: %3d%%" : "[%s] filling caches: %3d%%\n", p->name,
                percent);
        p->last_print = now;
        p->last_percent = percent;
        p->printed = 1;
    }
}

static void progress_end(progress *p)
{
    if (p->printed)
        fprintf(stderr, p->interactive ? "\r[%s] filling caches: 100%%\n" : "[%s] filling caches: 100%%\n", p->name);
}

void destroy_caches(const sparq_api *api, sparq_cache **caches, uint32_t n_caches)
{
    for (uint32_t i = 0; i < n_caches; i++) {
        if (caches[i])
            api->cache_destroy(caches[i]);
        caches[i] = NULL;
    }
}

static int fill_one(const sparq_api *api, sparq_cache *cache, const bench_config *cfg, uint32_t chunk_tokens,
                    kv_source *src, void *k, void *v, uint32_t *slots, uint32_t slots_per_call, fill_timing *timing,
                    progress *prog, char *why, size_t why_size)
{
    const int half = cfg->storage == SPARQ_DTYPE_F16;
    const double row_bytes = (double)cfg->n_kv_heads * cfg->head_dim * (half ? 2 : 4);
    for (uint32_t first = 0; first < cfg->context; first += chunk_tokens) {
        uint32_t tokens = cfg->context - first < chunk_tokens ? cfg->context - first : chunk_tokens;
        for (uint32_t s0 = 0; s0 < cfg->batch; s0 += slots_per_call) {
            uint32_t n_slots = cfg->batch - s0 < slots_per_call ? cfg->batch - s0 : slots_per_call;
            for (uint32_t i = 0; i < n_slots; i++)
                slots[i] = s0 + i;
            kv_source_fill(src, (size_t)n_slots * tokens, half, k, v);
            sparq_append_desc desc = {
                .struct_size = sizeof desc,
                .n_slots = n_slots,
                .slots = slots,
                .n_tokens = tokens,
                .dtype = half ? SPARQ_DTYPE_F16 : SPARQ_DTYPE_F32,
                .k = k,
                .v = v,
            };
            double t0 = monotonic_seconds();
            sparq_status status = api->cache_append(cache, &desc);
            timing->seconds += monotonic_seconds() - t0;
            if (status != SPARQ_SUCCESS) {
                snprintf(why, why_size, "cache_append (%u slots x %u tokens at %u) failed (status %d): %s", n_slots,
                         tokens, first, (int)status, api->last_error());
                return -1;
            }
            double n_rows = (double)n_slots * tokens;
            timing->tokens += n_rows;
            timing->bytes += 2.0 * n_rows * row_bytes;
            progress_step(prog, n_rows);
        }
    }
    return 0;
}

int create_filled_caches(const sparq_api *api, sparq_context *ctx, const bench_config *cfg, uint32_t n_caches,
                         uint32_t chunk_tokens, kv_source *src, sparq_cache **caches, fill_timing *timing,
                         char *why, size_t why_size)
{
    timing->seconds = timing->tokens = timing->bytes = 0.0;
    for (uint32_t i = 0; i < n_caches; i++)
        caches[i] = NULL;
    if (chunk_tokens > cfg->context)
        chunk_tokens = cfg->context;
    const size_t slot_bytes = (size_t)chunk_tokens * cfg->n_kv_heads * cfg->head_dim *
                              (cfg->storage == SPARQ_DTYPE_F16 ? 2u : 4u);
    /* Several slots per call where the staging buffer allows: hosts batch
     * prefills of several sequences the same way. */
    uint32_t slots_per_call = (uint32_t)(APPEND_BUFFER_BYTES / slot_bytes);
    if (slots_per_call < 1)
        slots_per_call = 1;
    if (slots_per_call > cfg->batch)
        slots_per_call = cfg->batch;

    void *k = malloc(slot_bytes * slots_per_call);
    void *v = malloc(slot_bytes * slots_per_call);
    uint32_t *slots = malloc(sizeof(uint32_t) * slots_per_call);
    int ok = k && v && slots;
    if (!ok) {
        snprintf(why, why_size, "out of host memory staging appends for '%s'", cfg->name);
        free(k);
        free(v);
        free(slots);
        return -1;
    }

    progress prog = {
        .name = cfg->name,
        .total = (double)n_caches * cfg->batch * cfg->context,
        .last_percent = -1,
        .last_print = monotonic_seconds(),
        .interactive = isatty(STDERR_FILENO),
    };
    int result = 0;
    for (uint32_t i = 0; i < n_caches && result == 0; i++) {
        sparq_cache_desc desc = {
            .struct_size = sizeof desc,
            .n_seqs = cfg->batch,
            .n_kv_heads = cfg->n_kv_heads,
            .head_dim = cfg->head_dim,
            .capacity = cfg->context,
            .storage = cfg->storage,
        };
        sparq_status status = api->cache_create(ctx, &desc, &caches[i]);
        if (status != SPARQ_SUCCESS) {
            snprintf(why, why_size, "cache_create (cache %u of %u for '%s') failed (status %d): %s", i + 1, n_caches,
                     cfg->name, (int)status, api->last_error());
            caches[i] = NULL;
            result = -1;
            break;
        }
        result = fill_one(api, caches[i], cfg, chunk_tokens, src, k, v, slots, slots_per_call, timing, &prog, why,
                          why_size);
    }
    progress_end(&prog);
    free(k);
    free(v);
    free(slots);
    if (result != 0)
        destroy_caches(api, caches, n_caches);
    return result;
}
