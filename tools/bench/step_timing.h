/* Timed attend steps, and the dense-vs-SparQ accuracy check. */
#ifndef SPARQ_BENCH_STEP_TIMING_H
#define SPARQ_BENCH_STEP_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

#include "config_run.h"

/* The fixed parts of every attend of a configuration. */
typedef struct step_inputs {
    const bench_config *cfg;
    const uint32_t *slots; /* [batch]: 0..batch-1 */
    const float *q;        /* [batch][n_heads][head_dim] */
    float *out;            /* same shape */
} step_inputs;

/* At least `warmup` untimed steps, and more until `warmup_seconds` have
 * passed, then `reps` timed ones, stepping through the caches in turn so
 * consecutive steps read different memory. The time floor is there
 * because GPUs idle at a low clock and raise it only after some time under
 * load: a step timed right after an idle spell would run at the idle clock,
 * which a decode loop that keeps the GPU busy never sees. */
int time_steps(const sparq_api *api, sparq_cache **caches, uint32_t n_caches, const step_inputs *in,
               sparq_attention_mode mode, uint32_t warmup, double warmup_seconds, uint32_t reps,
               step_result *result, char *why, size_t why_size);

/* One dense and one SparQ step on the same cache and q; relative L2 error of
 * SparQ against dense over the whole output, and the mean alpha. */
int compare_sparq_with_dense(const sparq_api *api, sparq_cache *cache, const step_inputs *in, double *rel_l2_error,
                             double *mean_alpha, char *why, size_t why_size);

#endif
