/*
 * Checks of multi_results, run on the main thread (they use cmocka):
 * two runs of a problem wrote the same bytes, and a run agrees with the
 * float64 reference.
 */
#ifndef SPARQ_MULTI_CHECK_H
#define SPARQ_MULTI_CHECK_H

#include "multi_problem.h"
#include "multi_run.h"

/* Fails unless `got` equals `want` byte for byte: every output, every
 * selected position, every alpha. `label` names the case. */
void multi_assert_same(const multi_problem *pb, const multi_results *got, const multi_results *want,
                       const char *label);

/* Fails unless every call of `res` agrees with the float64 reference: dense
 * output; SparQ selection valid for the reference ranking, output and alpha
 * equal to the reference's for that selection. */
void multi_check_reference(const multi_problem *pb, const multi_results *res, const char *label);

#endif
