#include "config_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_fill.h"
#include "random_data.h"
#include "recorded_steps.h"
#include "step_timing.h"

/* Caches beyond this add set-up time and nothing else. */
#define MAX_ROTATING_CACHES 64u

/* A step must not find its data in the last-level cache from the previous
 * steps, so small caches are replicated and rotated until the data the
 * steps cycle through reaches `rotate_bytes`, within the memory budget. */
static uint32_t rotating_cache_count(const bench_config *cfg, const run_options *opts)
{
    uint64_t kv = bench_cache_kv_bytes(cfg);
    if (opts->rotate_bytes == 0 || kv >= opts->rotate_bytes)
        return 1;
    uint64_t wanted = (opts->rotate_bytes + kv - 1) / kv;
    uint64_t budget = (uint64_t)(opts->memory_fraction * (double)opts->device_local_bytes);
    uint64_t fit = budget / bench_cache_footprint(cfg);
    uint64_t n = wanted < fit ? wanted : fit;
    if (n > MAX_ROTATING_CACHES)
        n = MAX_ROTATING_CACHES;
    return n < 1 ? 1u : (uint32_t)n;
}

int run_config(const sparq_api *api, sparq_context *ctx, const bench_config *cfg, const run_options *opts,
               config_result *result, char *why, size_t why_size)
{
    memset(result, 0, sizeof *result);
    result->cfg = *cfg;
    bench_resolve_params(cfg, &result->params);
    result->dense.bytes = bench_dense_step_bytes(cfg);
    result->sparq.bytes = bench_sparq_step_bytes(cfg, &result->params);

    uint64_t budget = (uint64_t)(opts->memory_fraction * (double)opts->device_local_bytes);
    if (opts->device_local_bytes && bench_cache_footprint(cfg) > budget)
        fprintf(stderr, "[%s] warning: one cache (%.1f MiB) exceeds %.0f%% of device memory; trying anyway\n",
                cfg->name, (double)bench_cache_footprint(cfg) / (1 << 20), 100.0 * opts->memory_fraction);

    uint32_t n_caches = rotating_cache_count(cfg, opts);
    result->n_caches = n_caches;
    fprintf(stderr, "[%s] %u cache%s of %.1f MiB K+V each\n", cfg->name, n_caches, n_caches == 1 ? "" : "s",
            (double)bench_cache_kv_bytes(cfg) / (1 << 20));

    sparq_cache **caches = calloc(n_caches, sizeof *caches);
    size_t n_q = (size_t)cfg->batch * cfg->n_heads * cfg->head_dim;
    float *q = malloc(sizeof(float) * n_q);
    float *out = malloc(sizeof(float) * n_q);
    uint32_t *slots = malloc(sizeof(uint32_t) * cfg->batch);
    int status = -1;
    kv_source src;
    int have_src = 0;
    if (!caches || !q || !out || !slots) {
        snprintf(why, why_size, "out of host memory for '%s'", cfg->name);
        goto done;
    }
    for (uint32_t i = 0; i < cfg->batch; i++)
        slots[i] = i;
    if (kv_source_init(&src, cfg->n_kv_heads, cfg->head_dim, opts->seed) != 0) {
        snprintf(why, why_size, "out of host memory for '%s'", cfg->name);
        goto done;
    }
    have_src = 1;
    bench_rng rng;
    bench_rng_seed(&rng, opts->seed ^ 0x51ab5eedull);
    kv_source_queries(&src, &rng, cfg->batch, cfg->n_heads, q);

    fill_timing fill;
    if (create_filled_caches(api, ctx, cfg, n_caches, opts->append_chunk, &src, caches, &fill, why, why_size) != 0)
        goto done;
    result->append_seconds = fill.seconds;
    result->append_tokens = fill.tokens;
    result->append_bytes = fill.bytes;

    step_inputs in = {.cfg = cfg, .slots = slots, .q = q, .out = out};
    for (int m = 0; m < 2; m++) {
        const sparq_attention_mode mode = m ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE;
        step_result *r = m ? &result->sparq : &result->dense;
        fprintf(stderr, "[%s] timing %s%s (%u+ warm-up steps over %.1f s + %u steps)\n", cfg->name,
                m ? "sparq" : "dense", opts->recorded ? ", recorded" : "", opts->warmup, opts->warmup_seconds,
                opts->reps);
        if ((opts->recorded ? time_recorded_steps(api, opts->recorded, caches, n_caches, &in, mode, opts->warmup,
                                                  opts->warmup_seconds, opts->reps, r, why, why_size)
                            : time_steps(api, caches, n_caches, &in, mode, opts->warmup, opts->warmup_seconds,
                                         opts->reps, r, why, why_size)) != 0)
            goto done;
    }
    if (compare_sparq_with_dense(api, caches[0], &in, &result->rel_l2_error, &result->mean_alpha, why,
                                 why_size) != 0)
        goto done;
    status = 0;
done:
    if (have_src)
        kv_source_free(&src);
    if (caches)
        destroy_caches(api, caches, n_caches);
    free(caches);
    free(q);
    free(out);
    free(slots);
    return status;
}
