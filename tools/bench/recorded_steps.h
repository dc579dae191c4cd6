/* The recorded path of sparq-bench (--path recorded): the bench brings its
 * own Vulkan device, as a runtime would, imports it into the plugin, and
 * times steps recorded into its own command buffer: the host cost of
 * record_attend, and the GPU time between two timestamps the bench writes
 * around the recorded commands. */
#ifndef SPARQ_BENCH_RECORDED_STEPS_H
#define SPARQ_BENCH_RECORDED_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>
#include <sparq/sparq_vulkan.h>

#include "step_timing.h"

typedef struct bench_vulkan bench_vulkan;

/* The bench's device (SPARQ_DEVICE picks it; validation with
 * SPARQ_VALIDATION=1). NULL and a reason on failure. */
bench_vulkan *bench_vulkan_open(char *why, size_t why_size);
void bench_vulkan_close(bench_vulkan *vk);
/* What context_create needs to run on it. */
const sparq_vulkan_import *bench_vulkan_import(const bench_vulkan *vk);
/* Error-severity validation messages so far. */
unsigned bench_vulkan_validation_errors(const bench_vulkan *vk);

/* As time_steps, recorded: q and out live in the bench's buffers. */
int time_recorded_steps(const sparq_api *api, bench_vulkan *vk, sparq_cache **caches, uint32_t n_caches,
                        const step_inputs *in, sparq_attention_mode mode, uint32_t warmup, double warmup_seconds,
                        uint32_t reps, step_result *result, char *why, size_t why_size);

#endif
