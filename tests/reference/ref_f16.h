/*
 * IEEE binary16 conversions for the reference: the reference must see exactly
 * the values an f16 cache stores, so it rounds the same way (nearest, ties to
 * even), subnormals and infinities included.
 */
#ifndef SPARQ_REF_F16_H
#define SPARQ_REF_F16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* float -> binary16 bits, round to nearest even; overflow gives infinity,
 * NaN stays NaN (quiet). */
uint16_t sparq_ref_f32_to_f16_bits(float value);

/* binary16 bits -> float (exact). */
float sparq_ref_f16_bits_to_f32(uint16_t bits);

/* float -> nearest binary16 -> float. */
float sparq_ref_round_f16(float value);

/* Rounds n floats in place to binary16 precision. */
void sparq_ref_round_f16_array(float *values, size_t n);

/* Converts n floats to binary16 bits, and back. */
void sparq_ref_f32_array_to_f16(const float *in, uint16_t *out, size_t n);
void sparq_ref_f16_array_to_f32(const uint16_t *in, float *out, size_t n);

/* True if `stored` is what a conforming device may store for `value` in a
 * binary16 buffer: one of the two binary16 neighbours of `value` (so round to
 * nearest even and round toward zero both pass), or a signed zero where
 * `value` is below the smallest normal binary16 (denormals may be flushed). */
bool sparq_ref_is_f16_rounding_of(float stored, float value);

#endif
