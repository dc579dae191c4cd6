/* Runs one configuration: builds and fills the caches, times dense and
 * SparQ steps, and compares SparQ's output with dense on the same inputs. */
#ifndef SPARQ_BENCH_CONFIG_RUN_H
#define SPARQ_BENCH_CONFIG_RUN_H

#include <stdint.h>

#include <sparq/sparq.h>

#include "bench_config.h"
#include "sample_stats.h"

typedef struct run_options {
    uint32_t warmup;
    double warmup_seconds; /* the least time spent warming up each step kind */
    uint32_t reps;
    uint64_t rotate_bytes;      /* rotate caches until a step's data totals this; 0 = never */
    double memory_fraction;     /* of device-local memory the caches may use */
    uint64_t device_local_bytes;
    uint32_t append_chunk;      /* tokens per slot per append call */
    uint64_t seed;
    struct bench_vulkan *recorded; /* --path recorded: the bench's own device; NULL = host path */
} run_options;

typedef struct step_result {
    uint32_t reps;
    uint32_t dispatches;
    int wall_clock_only; /* the plugin reported no GPU time: gpu figures are wall clock */
    sample_summary gpu_us;
    sample_summary host_us;
    sample_summary wall_us;
    double dispatch_us[4]; /* median GPU time of each dispatch, in order */
    double bytes;        /* the byte model's count for this step */
} step_result;

typedef struct config_result {
    bench_config cfg;
    bench_params params;
    uint32_t n_caches;    /* caches rotated between steps */
    double append_seconds;
    double append_tokens; /* positions appended, all slots and caches */
    double append_bytes;  /* K+V input bytes handed to cache_append */
    step_result dense;
    step_result sparq;
    double rel_l2_error;  /* ||y_sparq - y_dense|| / ||y_dense|| over the whole output */
    double mean_alpha;
} config_result;

/* 0 on success. On a failed plugin call writes the call and
 * api->last_error() to `why` and returns -1. */
int run_config(const sparq_api *api, sparq_context *ctx, const bench_config *cfg, const run_options *opts,
               config_result *result, char *why, size_t why_size);

#endif
