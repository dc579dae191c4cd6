#include "sample_stats.h"

#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

sample_summary summarise_samples(double *values, size_t n)
{
    sample_summary s;
    memset(&s, 0, sizeof s);
    if (n == 0)
        return s;
    qsort(values, n, sizeof *values, compare_doubles);
    s.min = values[0];
    s.max = values[n - 1];
    s.median = percentile(values, n, 0.5);
    s.p10 = percentile(values, n, 0.1);
    s.p90 = percentile(values, n, 0.9);
    return s;
}
