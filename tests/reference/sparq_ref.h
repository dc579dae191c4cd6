/*
 * sparq_ref: the CPU float64 oracle for sparq-vk's tests and tools.
 * Plain C11 and libm: no Vulkan, no test framework.
 */
#ifndef SPARQ_REF_H
#define SPARQ_REF_H

#include "ref_attention.h"
#include "ref_f16.h"
#include "ref_inputs.h"
#include "ref_metrics.h"
#include "ref_random.h"

#endif
