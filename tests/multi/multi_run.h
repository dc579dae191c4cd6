/*
 * Drives one cache through a multi_problem: the prefill, then the decode
 * steps. A cache may hold all KV heads of the problem or a contiguous range
 * of them (a tensor-parallel shard); its outputs are scattered into a
 * results struct laid out for the whole problem, so shards gathered there
 * compare byte for byte with a run that held every head.
 *
 * These functions run on worker threads, so they never use cmocka (its
 * failures jump out of the calling thread's stack); they record the first
 * problem as a message instead, which the main thread asserts on.
 */
#ifndef SPARQ_MULTI_RUN_H
#define SPARQ_MULTI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

#include "multi_problem.h"

/* Outputs of every attend of a problem's steps, for the whole problem. */
typedef struct multi_results {
    uint32_t n_calls;         /* n_steps * multi_n_configs */
    size_t out_call_bytes;    /* room per call: [n_seqs][n_heads][head_dim] f32 */
    size_t sel_call_entries;  /* [n_seqs][n_kv_heads][sel_stride] */
    size_t alpha_call_entries; /* [n_seqs][n_heads] */
    uint32_t sel_stride;
    uint8_t *out;       /* per call, elements of the config's io dtype from the start of its room */
    uint32_t *selected; /* SparQ calls only */
    float *alpha;       /* SparQ calls only */
} multi_results;

/* Allocates results with every byte poisoned, so a head no shard wrote
 * cannot compare equal to a real output. Returns 0, or -1 out of memory. */
int multi_results_init(multi_results *res, const multi_problem *pb);
void multi_results_free(multi_results *res);

/* Byte size of one call's output for config c. */
size_t multi_out_bytes(const multi_problem *pb, uint32_t config);

/* The KV heads kv_first..kv_first+n_kv-1 of a problem, held in `cache`
 * (made with n_kv_heads = n_kv, n_seqs and capacity of the problem). */
typedef struct multi_shard {
    const sparq_api *api;
    sparq_cache *cache;
    const multi_problem *pb;
    uint32_t kv_first, n_kv;
    multi_results *res; /* this shard writes only its own heads */
    char error[512];    /* "" while everything succeeded and was fully written */
} multi_shard;

/* Appends every slot's prefill. Returns 0, or -1 with sh->error set. */
int multi_shard_prefill(multi_shard *sh);

/* Runs the decode steps: per step one token per slot (one append call),
 * then every config's attend, each with its outputs poisoned first and
 * checked for a full write after. Returns 0, or -1 with sh->error set. */
int multi_shard_run_steps(multi_shard *sh);

#endif
