/* IEEE binary16 <-> binary32 on the host (round to nearest even), for
 * converting f16 tensors of the ABI to the f32 the kernels take and back. */
#ifndef SQ_HALF_H
#define SQ_HALF_H

#include <stddef.h>
#include <stdint.h>

float sq_half_to_float(uint16_t h);
uint16_t sq_float_to_half(float f);
void sq_halves_to_floats(const uint16_t *in, float *out, size_t n);
void sq_floats_to_halves(const float *in, uint16_t *out, size_t n);

#endif
