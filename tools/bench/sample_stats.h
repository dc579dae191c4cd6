/* Order statistics of repeated timings. */
#ifndef SPARQ_BENCH_SAMPLE_STATS_H
#define SPARQ_BENCH_SAMPLE_STATS_H

#include <stddef.h>

typedef struct sample_summary {
    double median, p10, p90, min, max;
} sample_summary;

/* Sorts `values` in place. All zeros if n == 0. Percentiles interpolate
 * linearly between neighbouring order statistics. */
sample_summary summarise_samples(double *values, size_t n);

#endif
