/* Error measures for comparing a device's output with the reference. */
#ifndef SPARQ_REF_METRICS_H
#define SPARQ_REF_METRICS_H

#include <stddef.h>

/* ||got - want||_2 / ||want||_2 over n elements (the absolute norm when want
 * is all zero). NaN or infinity anywhere in got gives +infinity. */
double sparq_ref_rel_l2_error(const float *got, const double *want, size_t n);

/* Same, for two float arrays. */
double sparq_ref_rel_l2_error_f(const float *got, const float *want, size_t n);

/* max_i |got[i] - want[i]|; +infinity if got holds a NaN. */
double sparq_ref_max_abs_error(const float *got, const double *want, size_t n);

#endif
