/* Synthetic decode-time inputs with the structure real models show: queries
 * with heavy-tailed components, keys with a few large outlier channels per
 * head, gaussian values. Never all zeros. */
#ifndef SPARQ_BENCH_RANDOM_DATA_H
#define SPARQ_BENCH_RANDOM_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_rng {
    uint64_t state;
} bench_rng;

void bench_rng_seed(bench_rng *rng, uint64_t seed);
uint64_t bench_rng_next(bench_rng *rng);
double bench_rng_uniform(bench_rng *rng); /* (0, 1) */
double bench_rng_gaussian(bench_rng *rng);

uint16_t bench_f32_to_f16(float value);

/* Draws keys and values for appends, and the queries that go with them.
 *
 * Purely independent draws would give near-uniform attention, which real
 * decoders do not have and which makes any top-k method look poor. So, per
 * KV head: queries point along a heavy-tailed "topic" direction plus noise;
 * a small fraction of keys (the "relevant" tokens) carry that direction and
 * so draw most of the attention; values share a per-head mean, as real ones
 * do (which is what SparQ's mean reallocation exploits).
 *
 * Generating fresh gaussians for every element of a multi-GiB cache would
 * dominate set-up time, so noise rows are cut at random offsets from a large
 * pool of gaussians: rows differ, statistics stay right. */
typedef struct kv_source {
    uint32_t n_kv_heads;
    uint32_t head_dim;
    float *pool;
    size_t pool_size;
    float *key_scale; /* [n_kv_heads][head_dim]: unit-ish with a few outlier channels */
    float *direction; /* [n_kv_heads][head_dim]: the heavy-tailed topic direction */
    float *v_mean;    /* [n_kv_heads][head_dim] */
    bench_rng rng;
} kv_source;

int kv_source_init(kv_source *src, uint32_t n_kv_heads, uint32_t head_dim, uint64_t seed);
void kv_source_free(kv_source *src);
/* Fills k and v, each [n_rows][n_kv_heads][head_dim], as f16 (half != 0) or f32. */
void kv_source_fill(kv_source *src, size_t n_rows, int half, void *k, void *v);

/* Queries [n_seqs][n_heads][head_dim] f32 for heads grouped over the
 * source's KV heads: the head's topic direction plus heavy-tailed noise. */
void kv_source_queries(const kv_source *src, bench_rng *rng, uint32_t n_seqs, uint32_t n_heads, float *q);

#endif
