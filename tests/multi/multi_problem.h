/*
 * One decode batch for the multi-context tests, generated up front so that
 * every cache that runs it (a whole-problem cache, or a shard holding some of
 * its KV heads) sees exactly the same numbers: a prefill per slot, then
 * `n_steps` decode steps of one new token per slot followed by one attend
 * per entry of multi_configs[].
 */
#ifndef SPARQ_MULTI_PROBLEM_H
#define SPARQ_MULTI_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

#include "sparq_ref.h"

/* An attend call of every decode step. */
typedef struct multi_config {
    const char *name;
    sparq_attention_mode mode;
    sparq_dtype io_dtype; /* q and out */
    uint32_t r, k, l;     /* SparQ only; k above every length means "all positions" */
} multi_config;

extern const multi_config multi_configs[];
extern const uint32_t multi_n_configs;

#define MULTI_MAX_SEQS 8u

typedef struct multi_problem {
    uint32_t n_seqs, n_kv_heads, group, head_dim, capacity, n_steps;
    uint32_t n_heads;                /* n_kv_heads * group */
    uint32_t prefill[MULTI_MAX_SEQS]; /* positions before the first step */
    uint32_t order[MULTI_MAX_SEQS];   /* slot of each attend entry (a permutation) */
    sparq_ref_kv_model model;
    /* [n_seqs][capacity][n_kv_heads][head_dim], binary16-representable, so
     * an f16 cache stores them exactly and the reference sees what it holds. */
    float *k, *v;
    /* [n_steps][n_configs][n_seqs entries][n_heads][head_dim], representable
     * in the config's io dtype. */
    float *q;
} multi_problem;

/* Draws a problem; prefill[] and order[] are copied from the arguments.
 * capacity = max prefill + n_steps. Fails the running cmocka test on error. */
void multi_problem_init(multi_problem *pb, sparq_ref_rng *rng, uint32_t n_seqs, const uint32_t *prefill,
                        const uint32_t *order, uint32_t n_kv_heads, uint32_t group, uint32_t head_dim,
                        uint32_t n_steps);
void multi_problem_free(multi_problem *pb);

/* Length of `slot` once step `step` has appended its token. */
uint32_t multi_length(const multi_problem *pb, uint32_t slot, uint32_t step);

/* Start of one position's row of K (or V): [n_kv_heads][head_dim]. */
const float *multi_k_row(const multi_problem *pb, uint32_t slot, uint32_t position);
const float *multi_v_row(const multi_problem *pb, uint32_t slot, uint32_t position);

/* Start of the queries of one attend call: [n_seqs entries][n_heads][head_dim]. */
const float *multi_queries(const multi_problem *pb, uint32_t step, uint32_t config);

#endif
