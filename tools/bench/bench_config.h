/* One benchmark configuration (an attention layer's shape and SparQ
 * parameters), the built-in suites, and the byte model every figure is
 * measured against. */
#ifndef SPARQ_BENCH_CONFIG_H
#define SPARQ_BENCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

typedef struct bench_config {
    char name[48];
    uint32_t batch;      /* sequences attended per step (cache slots) */
    uint32_t n_heads;    /* query heads */
    uint32_t n_kv_heads;
    uint32_t head_dim;
    uint32_t context;    /* S: positions cached per sequence */
    sparq_dtype storage; /* F16 or F32 */
    uint32_t r, k, l;    /* as requested; 0 = the plugin's default */
} bench_config;

/* r, k, l as the plugin resolves them for a slot of length `context`. */
typedef struct bench_params {
    uint32_t r;
    uint32_t k;     /* before clamping to S */
    uint32_t k_eff; /* min(k, S): positions actually read */
    uint32_t l;
} bench_params;

void bench_resolve_params(const bench_config *cfg, bench_params *out);

uint32_t bench_storage_bytes(const bench_config *cfg);
/* Bytes one dense / SparQ step must move (see README: the byte model). */
double bench_dense_step_bytes(const bench_config *cfg);
double bench_sparq_step_bytes(const bench_config *cfg, const bench_params *p);
/* Stored K+V of one cache (what a dense step reads), and the device memory
 * one cache needs (K, the transposed copy of K, V, running V sums). */
uint64_t bench_cache_kv_bytes(const bench_config *cfg);
uint64_t bench_cache_footprint(const bench_config *cfg);

/* Checks the shape against the ABI limits; 0 if fine, else writes why. */
int bench_config_check(const bench_config *cfg, char *why, size_t why_size);

/* "name,batch,heads,kvheads,dh,S,f16|f32[,r,k,l]" -> cfg. 0 on success. */
int bench_config_parse(const char *text, bench_config *cfg, char *why, size_t why_size);

/* The built-in suites: small (for CPU drivers) and full (for GPUs). */
const bench_config *bench_suite(int full, size_t *count);
/* A built-in config of either suite by name, or NULL. */
const bench_config *bench_find_builtin(const char *name);

#endif
