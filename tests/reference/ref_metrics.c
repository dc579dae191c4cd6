#include "ref_metrics.h"

#include <math.h>

double sparq_ref_rel_l2_error(const float *got, const double *want, size_t n)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        double d = (double)got[i] - want[i];
        diff += d * d;
        norm += want[i] * want[i];
    }
    return norm > 0.0 ? sqrt(diff / norm) : sqrt(diff);
}

double sparq_ref_rel_l2_error_f(const float *got, const float *want, size_t n)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        double d = (double)got[i] - (double)want[i];
        diff += d * d;
        norm += (double)want[i] * (double)want[i];
    }
    return norm > 0.0 ? sqrt(diff / norm) : sqrt(diff);
}

double sparq_ref_max_abs_error(const float *got, const double *want, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]))
            return INFINITY;
        double d = fabs((double)got[i] - want[i]);
        if (d > worst)
            worst = d;
    }
    return worst;
}
