#include "sq_half.h"

#include <string.h>

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float sq_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f)
        return float_of(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in binary32 */
        float v = (float)man * float_of(0x33800000u);
        return sign ? -v : v;
    }
    return float_of(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t sq_float_to_half(float f)
{
    uint32_t u = bits_of(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN (keep NaN quiet and non-zero) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u));
    if (a >= 0x477ff000u) /* rounds to beyond 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* subnormal or zero in binary16: round a * 2^24 to an integer, ties to even */
        float scaled = float_of(a) * 16777216.0f;
        uint32_t i = (uint32_t)scaled;
        float rest = scaled - (float)i;
        if (rest > 0.5f || (rest == 0.5f && (i & 1u)))
            i++;
        return (uint16_t)(sign | i);
    }
    /* normal: drop 13 mantissa bits with round to nearest even; a carry
     * into the exponent is the correct result */
    uint32_t r = a - 0x38000000u; /* rebias exponent by -112 */
    uint32_t half = (r >> 13) + (((r & 0x1fffu) > 0x1000u || ((r & 0x1fffu) == 0x1000u && ((r >> 13) & 1u))) ? 1u : 0u);
    return (uint16_t)(sign | half);
}

void sq_halves_to_floats(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sq_half_to_float(in[i]);
}

void sq_floats_to_halves(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sq_float_to_half(in[i]);
}
