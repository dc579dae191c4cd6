#ifndef SPARQ_BENCH_MONOTONIC_CLOCK_H
#define SPARQ_BENCH_MONOTONIC_CLOCK_H

#include <time.h>

static inline double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
