/* A small float64 reference of dense decode attention, so that the example
 * stays standalone (tests/reference has the full one, with SparQ). */
#ifndef EXAMPLE_REFERENCE_H
#define EXAMPLE_REFERENCE_H

#include <stddef.h>

/* out[h][d] for query heads h < n_heads over positions 0..length-1 of
 * k/v rows [pos * row_stride + kv_head * head_dim]; query head h reads KV
 * head h / (n_heads / n_kv_heads). */
void reference_dense_attention(const float *q, const float *k, const float *v, size_t row_stride, unsigned length,
                               unsigned n_heads, unsigned n_kv_heads, unsigned head_dim, double *out);

#endif
