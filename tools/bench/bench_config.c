#include "bench_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F16 SPARQ_DTYPE_F16
#define F32 SPARQ_DTYPE_F32

/* Sized to finish in well under a minute on a 2-core CPU driver, while still
 * exercising GQA, both storage types and S large enough for k < S. */
static const bench_config small_suite[] = {
    {"tiny", 1, 8, 2, 64, 1024, F16, 0, 0, 0},
    {"small", 2, 8, 2, 128, 4096, F16, 0, 0, 0},
    {"small-f32", 1, 8, 2, 128, 2048, F32, 0, 0, 0},
};

/* Decode shapes of 7-8B models (32 query heads, head_dim 128): long single
 * contexts, moderate batches, plain multi-head, and the paper's setting. */
static const bench_config full_suite[] = {
    {"long1", 1, 32, 8, 128, 32768, F16, 16, 32768 / 16, 32768 / 64},
    {"long1x", 1, 32, 8, 128, 131072, F16, 16, 131072 / 16, 131072 / 64},
    {"batch8", 8, 32, 8, 128, 16384, F16, 16, 16384 / 16, 16384 / 64},
    {"mha16", 16, 32, 32, 128, 8192, F16, 16, 8192 / 16, 8192 / 64},
    {"paper", 64, 32, 32, 128, 4096, F16, 32, 128, 32},
};

const bench_config *bench_suite(int full, size_t *count)
{
    if (full) {
        *count = sizeof full_suite / sizeof full_suite[0];
        return full_suite;
    }
    *count = sizeof small_suite / sizeof small_suite[0];
    return small_suite;
}

const bench_config *bench_find_builtin(const char *name)
{
    for (int full = 0; full < 2; full++) {
        size_t n = 0;
        const bench_config *suite = bench_suite(full, &n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(suite[i].name, name) == 0)
                return &suite[i];
    }
    return NULL;
}

/* Mirrors the defaults documented in sparq_attend_desc. */
void bench_resolve_params(const bench_config *cfg, bench_params *out)
{
    uint32_t S = cfg->context;
    uint32_t r = cfg->r ? cfg->r : cfg->head_dim / 8;
    if (r == 0)
        r = 1;
    uint32_t k = cfg->k ? cfg->k : (S / 16 > 64 ? S / 16 : 64);
    uint32_t k_eff = k < S ? k : S;
    uint32_t l = cfg->l ? cfg->l : k_eff / 4;
    out->r = r;
    out->k = k;
    out->k_eff = k_eff;
    out->l = l;
}

uint32_t bench_storage_bytes(const bench_config *cfg)
{
    return cfg->storage == SPARQ_DTYPE_F32 ? 4u : 2u;
}

/* q in and out are f32 in host-visible memory: g query heads of dh each way. */
static double query_bytes_per_kv_head(const bench_config *cfg)
{
    double g = (double)cfg->n_heads / cfg->n_kv_heads;
    return g * cfg->head_dim * 4.0 * 2.0;
}

double bench_dense_step_bytes(const bench_config *cfg)
{
    double e = bench_storage_bytes(cfg);
    double per_head = 2.0 * cfg->context * cfg->head_dim * e + query_bytes_per_kv_head(cfg);
    return per_head * cfg->batch * cfg->n_kv_heads;
}

double bench_sparq_step_bytes(const bench_config *cfg, const bench_params *p)
{
    double e = bench_storage_bytes(cfg);
    double stored = ((double)cfg->context * p->r + 2.0 * p->k_eff * cfg->head_dim) * e;
    double vbar = cfg->head_dim * 4.0;
    double per_head = stored + query_bytes_per_kv_head(cfg) + vbar;
    return per_head * cfg->batch * cfg->n_kv_heads;
}

uint64_t bench_cache_kv_bytes(const bench_config *cfg)
{
    return 2ull * cfg->batch * cfg->n_kv_heads * cfg->context * cfg->head_dim * bench_storage_bytes(cfg);
}

uint64_t bench_cache_footprint(const bench_config *cfg)
{
    uint64_t rows = (uint64_t)cfg->batch * cfg->n_kv_heads * cfg->context * cfg->head_dim;
    uint64_t sums = (uint64_t)cfg->batch * cfg->n_kv_heads * cfg->head_dim * 4u;
    return 3u * rows * bench_storage_bytes(cfg) + sums;
}

int bench_config_check(const bench_config *cfg, char *why, size_t why_size)
{
    const char *problem = NULL;
    if (cfg->batch == 0 || cfg->n_heads == 0 || cfg->n_kv_heads == 0 || cfg->context == 0)
        problem = "batch, heads, kv heads and S must be >= 1";
    else if (cfg->n_heads % cfg->n_kv_heads != 0)
        problem = "heads must be a multiple of kv heads";
    else if (cfg->n_heads / cfg->n_kv_heads > SPARQ_MAX_GROUP_SIZE)
        problem = "heads / kv heads exceeds SPARQ_MAX_GROUP_SIZE";
    else if (cfg->head_dim < 8 || cfg->head_dim > SPARQ_MAX_HEAD_DIM || cfg->head_dim % 8 != 0)
        problem = "head_dim must be a multiple of 8 in 8..SPARQ_MAX_HEAD_DIM";
    else if (cfg->context > SPARQ_MAX_CAPACITY)
        problem = "S exceeds SPARQ_MAX_CAPACITY";
    else if (cfg->storage != SPARQ_DTYPE_F16 && cfg->storage != SPARQ_DTYPE_F32)
        problem = "storage must be f16 or f32";
    else if (cfg->r > cfg->head_dim)
        problem = "r must be <= head_dim";
    else if (cfg->k && cfg->l && cfg->l > cfg->k)
        problem = "l must be <= k";
    if (problem) {
        snprintf(why, why_size, "config '%s': %s", cfg->name, problem);
        return -1;
    }
    return 0;
}

static int parse_u32(const char *field, uint32_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(field, &end, 10);
    if (end == field || *end != '\0' || v > 0xffffffffull || field[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int bench_config_parse(const char *text, bench_config *cfg, char *why, size_t why_size)
{
    char buf[256];
    if (strlen(text) >= sizeof buf) {
        snprintf(why, why_size, "--custom: description too long");
        return -1;
    }
    strcpy(buf, text);
    char *fields[11];
    int n = 0;
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (n == 11)
            break;
        fields[n++] = f;
    }
    if (n != 7 && n != 10) {
        snprintf(why, why_size,
                 "--custom '%s': want name,batch,heads,kvheads,dh,S,f16|f32[,r,k,l] (got %d fields)", text, n);
        return -1;
    }
    memset(cfg, 0, sizeof *cfg);
    if (strlen(fields[0]) >= sizeof cfg->name || fields[0][0] == '\0') {
        snprintf(why, why_size, "--custom '%s': name empty or longer than %zu", text, sizeof cfg->name - 1);
        return -1;
    }
    strcpy(cfg->name, fields[0]);
    uint32_t *numbers[] = {&cfg->batch, &cfg->n_heads, &cfg->n_kv_heads, &cfg->head_dim, &cfg->context};
    for (int i = 0; i < 5; i++) {
        if (parse_u32(fields[1 + i], numbers[i]) != 0) {
            snprintf(why, why_size, "--custom '%s': field %d ('%s') is not a number", text, 2 + i, fields[1 + i]);
            return -1;
        }
    }
    if (strcmp(fields[6], "f16") == 0)
        cfg->storage = SPARQ_DTYPE_F16;
    else if (strcmp(fields[6], "f32") == 0)
        cfg->storage = SPARQ_DTYPE_F32;
    else {
        snprintf(why, why_size, "--custom '%s': storage must be f16 or f32, not '%s'", text, fields[6]);
        return -1;
    }
    if (n == 10) {
        uint32_t *rkl[] = {&cfg->r, &cfg->k, &cfg->l};
        for (int i = 0; i < 3; i++) {
            if (parse_u32(fields[7 + i], rkl[i]) != 0) {
                snprintf(why, why_size, "--custom '%s': r/k/l field '%s' is not a number (0 = default)", text,
                         fields[7 + i]);
                return -1;
            }
        }
    }
    return bench_config_check(cfg, why, why_size);
}
