#include "step_timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "monotonic_clock.h"

static sparq_attend_desc attend_desc(const step_inputs *in, sparq_attention_mode mode, float *out)
{
    sparq_attend_desc desc = {
        .struct_size = sizeof desc,
        .mode = mode,
        .n_slots = in->cfg->batch,
        .slots = in->slots,
        .n_heads = in->cfg->n_heads,
        .dtype = SPARQ_DTYPE_F32,
        .q = in->q,
        .out = out,
        .r = in->cfg->r,
        .k = in->cfg->k,
        .l = in->cfg->l,
    };
    return desc;
}

static const char *mode_name(sparq_attention_mode mode)
{
    return mode == SPARQ_ATTENTION_DENSE ? "dense" : "sparq";
}

int time_steps(const sparq_api *api, sparq_cache **caches, uint32_t n_caches, const step_inputs *in,
               sparq_attention_mode mode, uint32_t warmup, double warmup_seconds, uint32_t reps,
               step_result *result, char *why, size_t why_size)
{
    double *gpu = malloc(sizeof(double) * reps);
    double *host = malloc(sizeof(double) * reps);
    double *wall = malloc(sizeof(double) * reps);
    if (!gpu || !host || !wall) {
        free(gpu);
        free(host);
        free(wall);
        snprintf(why, why_size, "out of host memory for %u samples", reps);
        return -1;
    }
    int status_ok = 1;
    uint64_t gpu_ns_total = 0;
    double *per_dispatch = calloc((size_t)reps * 4, sizeof *per_dispatch);
    if (!per_dispatch) {
        snprintf(why, why_size, "out of host memory for %u samples", reps);
        status_ok = 0;
    }
    const double warmup_until = monotonic_seconds() + warmup_seconds;
    for (uint32_t i = 0; i < warmup + reps && status_ok; i++) {
        sparq_attend_stats stats = {.struct_size = sizeof stats};
        sparq_attend_desc desc = attend_desc(in, mode, in->out);
        desc.stats = &stats;
        double t0 = monotonic_seconds();
        sparq_status status = api->attend(caches[i % n_caches], &desc);
        double t1 = monotonic_seconds();
        if (status != SPARQ_SUCCESS) {
            snprintf(why, why_size, "attend (%s, step %u) failed (status %d): %s", mode_name(mode), i, (int)status,
                     api->last_error());
            status_ok = 0;
            break;
        }
        if (i < warmup) {
            if (i + 1 == warmup && t1 < warmup_until)
                warmup++; /* until the time floor too */
            continue;
        }
        uint32_t j = i - warmup;
        gpu[j] = (double)stats.gpu_ns * 1e-3;
        host[j] = (double)stats.host_ns * 1e-3;
        wall[j] = (t1 - t0) * 1e6;
        gpu_ns_total += stats.gpu_ns;
        result->dispatches = stats.dispatches;
        for (uint32_t d = 0; d < 4; d++)
            per_dispatch[d * reps + j] = (double)stats.dispatch_ns[d] * 1e-3;
    }
    if (status_ok) {
        result->reps = reps;
        /* A plugin or device without timestamps reports 0: fall back to the
         * blocking call's wall clock (which includes submit and wait). */
        result->wall_clock_only = gpu_ns_total == 0;
        if (result->wall_clock_only)
            for (uint32_t j = 0; j < reps; j++)
                gpu[j] = wall[j];
        result->gpu_us = summarise_samples(gpu, reps);
        result->host_us = summarise_samples(host, reps);
        result->wall_us = summarise_samples(wall, reps);
        for (uint32_t d = 0; d < 4; d++)
            result->dispatch_us[d] = summarise_samples(per_dispatch + d * reps, reps).median;
    }
    free(gpu);
    free(host);
    free(wall);
    free(per_dispatch);
    return status_ok ? 0 : -1;
}

/* NaN-poisoned before each run, so an element the GPU never wrote shows. */
static int run_poisoned(const sparq_api *api, sparq_cache *cache, sparq_attend_desc *desc, float *out, size_t n,
                        char *why, size_t why_size)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NAN;
    const char *name = mode_name(desc->mode);
    sparq_status status = api->attend(cache, desc);
    if (status != SPARQ_SUCCESS) {
        snprintf(why, why_size, "attend (%s, accuracy check) failed (status %d): %s", name, (int)status,
                 api->last_error());
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) {
            snprintf(why, why_size, "attend (%s) left output element %zu not finite (%g)", name, i, (double)out[i]);
            return -1;
        }
    }
    return 0;
}

int compare_sparq_with_dense(const sparq_api *api, sparq_cache *cache, const step_inputs *in, double *rel_l2_error,
                             double *mean_alpha, char *why, size_t why_size)
{
    const bench_config *cfg = in->cfg;
    size_t n = (size_t)cfg->batch * cfg->n_heads * cfg->head_dim;
    size_t n_alpha = (size_t)cfg->batch * cfg->n_heads;
    float *dense = malloc(sizeof(float) * n);
    float *sparq = malloc(sizeof(float) * n);
    float *alpha = malloc(sizeof(float) * n_alpha);
    int result = -1;
    if (!dense || !sparq || !alpha) {
        snprintf(why, why_size, "out of host memory for the accuracy check");
        goto done;
    }
    sparq_attend_desc d = attend_desc(in, SPARQ_ATTENTION_DENSE, dense);
    if (run_poisoned(api, cache, &d, dense, n, why, why_size) != 0)
        goto done;
    sparq_attend_desc s = attend_desc(in, SPARQ_ATTENTION_SPARQ, sparq);
    s.alpha = alpha;
    for (size_t i = 0; i < n_alpha; i++)
        alpha[i] = NAN;
    if (run_poisoned(api, cache, &s, sparq, n, why, why_size) != 0)
        goto done;
    double diff2 = 0.0, ref2 = 0.0, alpha_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)sparq[i] - (double)dense[i];
        diff2 += e * e;
        ref2 += (double)dense[i] * dense[i];
    }
    for (size_t i = 0; i < n_alpha; i++)
        alpha_sum += alpha[i];
    *rel_l2_error = ref2 > 0.0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    *mean_alpha = alpha_sum / (double)n_alpha;
    result = 0;
done:
    free(dense);
    free(sparq);
    free(alpha);
    return result;
}
