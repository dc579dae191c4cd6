#include "reference.h"

#include <math.h>
#include <stdlib.h>

void reference_dense_attention(const float *q, const float *k, const float *v, size_t row_stride, unsigned length,
                               unsigned n_heads, unsigned n_kv_heads, unsigned head_dim, double *out)
{
    double *w = malloc(length * sizeof *w);
    const double scale = 1.0 / sqrt((double)head_dim);
    for (unsigned h = 0; h < n_heads; h++) {
        const unsigned kv = h / (n_heads / n_kv_heads);
        const float *qh = q + (size_t)h * head_dim;
        double max = -INFINITY, sum = 0.0;
        for (unsigned t = 0; t < length; t++) {
            const float *kt = k + t * row_stride + (size_t)kv * head_dim;
            double dot = 0.0;
            for (unsigned d = 0; d < head_dim; d++)
                dot += (double)qh[d] * kt[d];
            w[t] = dot * scale;
            max = w[t] > max ? w[t] : max;
        }
        for (unsigned t = 0; t < length; t++)
            sum += (w[t] = exp(w[t] - max));
        for (unsigned d = 0; d < head_dim; d++) {
            double acc = 0.0;
            for (unsigned t = 0; t < length; t++)
                acc += w[t] * v[t * row_stride + (size_t)kv * head_dim + d];
            out[(size_t)h * head_dim + d] = acc / sum;
        }
    }
    free(w);
}
