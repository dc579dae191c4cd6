/*
 * matvec.h - weight matrices as stored in the GGUF file (F32, F16 or Q8_0,
 * row-major [n_out][n_in], used in place from the mapping) and threaded
 * products of them with one vector or with a batch of vectors (each weight
 * row is read once per batch, which is what makes batches fast).
 */
#ifndef SPARQ_GENERATE_MATVEC_H
#define SPARQ_GENERATE_MATVEC_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "thread_pool.h"

typedef struct weight {
    gguf_tensor_type type; /* F32, F16 or Q8_0 */
    const uint8_t *data;
    uint32_t n_in;  /* elements per row (GGUF dims[0]) */
    uint32_t n_out; /* rows (GGUF dims[1]) */
    size_t row_bytes;
} weight;

/* Whether the matvec code can use this tensor type. */
int weight_type_supported(gguf_tensor_type type);

/* Fills a weight from a 2-D tensor (the caller checked type and shape). */
void weight_from_tensor(weight *w, const gguf_tensor *t);

/* Dequantises row `row` into out[n_in]. */
void weight_row_to_f32(const weight *w, uint32_t row, float *out);

/* y[b] = W x[b] for b < n_vec. */
typedef struct matvec_job {
    const weight *w;
    const float *x; /* [n_vec][w->n_in] */
    float *y;       /* [n_vec][w->n_out] */
    uint32_t n_vec; /* 0 means 1 */
} matvec_job;

/* Per-thread scratch for the products; sized for the widest row. */
typedef struct matvec_ctx {
    thread_pool *pool;
    float *scratch; /* [pool size][max_in] */
    uint32_t max_in;
} matvec_ctx;

int matvec_ctx_init(matvec_ctx *ctx, thread_pool *pool, uint32_t max_in);
void matvec_ctx_free(matvec_ctx *ctx);

/* Runs several independent products at once (their rows are split across
 * the threads together, which saves a wake-up per product). Each y[b][r] is
 * computed exactly as a single-vector product would compute it, so batching
 * does not change the results. */
void matvec_run(matvec_ctx *ctx, const matvec_job *jobs, size_t n_jobs);

#endif
