#include "ref_f16.h"

#include <math.h>
#include <string.h>

static uint32_t float_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float bits_float(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Shared by both rounding modes so that they can only differ in the increment. */
static uint16_t to_f16_bits(float value, bool round_nearest)
{
    uint32_t x = float_bits(value);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exponent = (x >> 23) & 0xffu;
    uint32_t mantissa = x & 0x7fffffu;

    if (exponent == 0xffu) {
        if (mantissa)
            return (uint16_t)(sign | 0x7e00u | (mantissa >> 13));
        return (uint16_t)(sign | 0x7c00u);
    }

    int e = (int)exponent - 127 + 15;
    if (e >= 1) {
        uint32_t kept = mantissa >> 13;
        uint32_t rest = mantissa & 0x1fffu;
        uint32_t out = ((uint32_t)e << 10) | kept;
        /* A carry out of the mantissa correctly bumps the exponent, up to infinity. */
        if (round_nearest && (rest > 0x1000u || (rest == 0x1000u && (kept & 1u))))
            out += 1u;
        if (out >= 0x7c00u)
            return (uint16_t)(sign | (round_nearest ? 0x7c00u : 0x7bffu));
        return (uint16_t)(sign | out);
    }

    /* Subnormal result: count units of 2^-24. f32 denormals land here too and go to zero. */
    int shift = 14 - e;
    if (shift > 24)
        return (uint16_t)sign;
    uint32_t m = mantissa | 0x800000u;
    uint32_t kept = m >> shift;
    uint32_t rest = m & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1);
    if (round_nearest && (rest > halfway || (rest == halfway && (kept & 1u))))
        kept += 1u;
    return (uint16_t)(sign | kept);
}

uint16_t sparq_ref_f32_to_f16_bits(float value)
{
    return to_f16_bits(value, true);
}

float sparq_ref_f16_bits_to_f32(uint16_t bits)
{
    uint32_t sign = ((uint32_t)bits & 0x8000u) << 16;
    uint32_t exponent = ((uint32_t)bits >> 10) & 0x1fu;
    uint32_t mantissa = (uint32_t)bits & 0x3ffu;
    if (exponent == 0x1fu)
        return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        float magnitude = ldexpf((float)mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

float sparq_ref_round_f16(float value)
{
    return sparq_ref_f16_bits_to_f32(sparq_ref_f32_to_f16_bits(value));
}

void sparq_ref_round_f16_array(float *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        values[i] = sparq_ref_round_f16(values[i]);
}

void sparq_ref_f32_array_to_f16(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sparq_ref_f32_to_f16_bits(in[i]);
}

void sparq_ref_f16_array_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sparq_ref_f16_bits_to_f32(in[i]);
}

bool sparq_ref_is_f16_rounding_of(float stored, float value)
{
    if (isnan(value))
        return isnan(stored);
    uint16_t stored_bits = sparq_ref_f32_to_f16_bits(stored);
    if (float_bits(sparq_ref_f16_bits_to_f32(stored_bits)) != float_bits(stored))
        return false; /* not a binary16 value at all */
    if (stored == 0.0f && fabsf(value) < 0x1p-14f)
        return true;
    uint16_t toward_zero = to_f16_bits(value, false);
    if (sparq_ref_f16_bits_to_f32(toward_zero) == value)
        return stored_bits == toward_zero;
    /* The neighbour away from zero has the next magnitude encoding, same sign. */
    return stored_bits == toward_zero || stored_bits == (uint16_t)(toward_zero + 1u);
}
