/*
 * half.h - IEEE binary16 <-> binary32 conversion. Portable C with a table
 * for the hot path; half_row_to_f32() uses the F16C instructions when the
 * CPU has them.
 */
#ifndef SPARQ_GENERATE_HALF_H
#define SPARQ_GENERATE_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Exact conversion of one value (no table). */
float half_to_f32(uint16_t h);
/* Round to nearest even; overflow goes to infinity, NaN stays NaN. */
uint16_t f32_to_half(float f);

/* Builds the lookup table; call once before half_row_to_f32 from any thread
 * (it is also called by the first half_row_to_f32, which is not thread-safe
 * on its own). */
void half_init(void);

/* Converts n values (src need not be aligned). */
void half_row_to_f32(const uint16_t *src, float *dst, size_t n);

/* Rounds a float to the nearest half and back: what f16 storage keeps. */
static inline float half_round(float f)
{
    return half_to_f32(f32_to_half(f));
}

#endif
