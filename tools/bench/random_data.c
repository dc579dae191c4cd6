#include "random_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_rng_seed(bench_rng *rng, uint64_t seed)
{
    rng->state = seed ^ 0x9e3779b97f4a7c15ull;
    if (rng->state == 0)
        rng->state = 1;
}

/* splitmix64: fast, and every seed gives a full-period stream. */
uint64_t bench_rng_next(bench_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double bench_rng_uniform(bench_rng *rng)
{
    return ((double)(bench_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double bench_rng_gaussian(bench_rng *rng)
{
    double u1 = bench_rng_uniform(rng), u2 = bench_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Round to nearest even, with subnormals, overflow to infinity and NaN kept. */
uint16_t bench_f32_to_f16(float value)
{
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xffu)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rest = mant & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
        half++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | half);
}

enum { POOL_SIZE = 1u << 22, OUTLIER_CHANNELS = 4 };

/* Shape of the synthetic attention (see random_data.h). Tuned so that with
 * k = S/16 SparQ's output stays within a few percent of dense, as reported
 * for real models, rather than to flatter or punish it. */
#define RELEVANT_ONE_IN 64u  /* share of keys that carry the topic direction */
#define RELEVANT_GAIN 0.35   /* how strongly they carry it */
#define KEY_NOISE 0.35       /* background keys: softmax logits of std ~1-2 */
#define QUERY_NOISE 0.5
#define VALUE_MEAN 0.5

/* Student-t, 3 degrees of freedom, clipped: heavy tails without letting one
 * rare draw saturate every softmax. */
static double student_t3(bench_rng *rng)
{
    double chi2 = 0.0;
    for (int d = 0; d < 3; d++) {
        double g = bench_rng_gaussian(rng);
        chi2 += g * g;
    }
    double t = bench_rng_gaussian(rng) / sqrt(chi2 / 3.0);
    return t > 20.0 ? 20.0 : (t < -20.0 ? -20.0 : t);
}

int kv_source_init(kv_source *src, uint32_t n_kv_heads, uint32_t head_dim, uint64_t seed)
{
    memset(src, 0, sizeof *src);
    src->n_kv_heads = n_kv_heads;
    src->head_dim = head_dim;
    src->pool_size = POOL_SIZE;
    size_t per_head = (size_t)n_kv_heads * head_dim;
    src->pool = malloc(sizeof(float) * (POOL_SIZE + head_dim));
    src->key_scale = malloc(sizeof(float) * per_head);
    src->direction = malloc(sizeof(float) * per_head);
    src->v_mean = malloc(sizeof(float) * per_head);
    if (!src->pool || !src->key_scale || !src->direction || !src->v_mean) {
        kv_source_free(src);
        return -1;
    }
    bench_rng_seed(&src->rng, seed);
    for (size_t i = 0; i < POOL_SIZE + head_dim; i++)
        src->pool[i] = (float)bench_rng_gaussian(&src->rng);
    for (uint32_t h = 0; h < n_kv_heads; h++) {
        float *scale = src->key_scale + (size_t)h * head_dim;
        float *dir = src->direction + (size_t)h * head_dim;
        float *mean = src->v_mean + (size_t)h * head_dim;
        /* A few channels per head an order of magnitude larger, as in the
         * keys of trained transformers; the rest near unit scale. */
        for (uint32_t c = 0; c < head_dim; c++)
            scale[c] = (float)(KEY_NOISE * (0.5 + bench_rng_uniform(&src->rng)));
        for (int o = 0; o < OUTLIER_CHANNELS; o++)
            scale[bench_rng_next(&src->rng) % head_dim] *= (float)(4.0 + 4.0 * bench_rng_uniform(&src->rng));
        for (uint32_t c = 0; c < head_dim; c++) {
            dir[c] = (float)student_t3(&src->rng);
            mean[c] = (float)(VALUE_MEAN * bench_rng_gaussian(&src->rng));
        }
    }
    return 0;
}

void kv_source_free(kv_source *src)
{
    free(src->pool);
    free(src->key_scale);
    free(src->direction);
    free(src->v_mean);
    src->pool = src->key_scale = src->direction = src->v_mean = NULL;
}

static const float *pool_row(kv_source *src)
{
    return src->pool + bench_rng_next(&src->rng) % src->pool_size;
}

void kv_source_fill(kv_source *src, size_t n_rows, int half, void *k, void *v)
{
    const uint32_t dh = src->head_dim;
    for (size_t row = 0; row < n_rows; row++) {
        for (uint32_t h = 0; h < src->n_kv_heads; h++) {
            size_t base = (row * src->n_kv_heads + h) * dh;
            const float *scale = src->key_scale + (size_t)h * dh;
            const float *mean = src->v_mean + (size_t)h * dh;
            const float *kr = pool_row(src), *vr = pool_row(src);
            float gain = bench_rng_next(&src->rng) % RELEVANT_ONE_IN == 0 ? (float)RELEVANT_GAIN : 0.0f;
            const float *dir = src->direction + (size_t)h * dh;
            for (uint32_t c = 0; c < dh; c++) {
                float kv = kr[c] * scale[c] + gain * dir[c];
                float vv = vr[c] + mean[c];
                if (half) {
                    ((uint16_t *)k)[base + c] = bench_f32_to_f16(kv);
                    ((uint16_t *)v)[base + c] = bench_f32_to_f16(vv);
                } else {
                    ((float *)k)[base + c] = kv;
                    ((float *)v)[base + c] = vv;
                }
            }
        }
    }
}

void kv_source_queries(const kv_source *src, bench_rng *rng, uint32_t n_seqs, uint32_t n_heads, float *q)
{
    const uint32_t dh = src->head_dim, group = n_heads / src->n_kv_heads;
    for (uint32_t s = 0; s < n_seqs; s++) {
        for (uint32_t qh = 0; qh < n_heads; qh++) {
            const float *dir = src->direction + (size_t)(qh / group) * dh;
            float *out = q + ((size_t)s * n_heads + qh) * dh;
            for (uint32_t c = 0; c < dh; c++)
                out[c] = (float)(dir[c] + QUERY_NOISE * student_t3(rng));
        }
    }
}
