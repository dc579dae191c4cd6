#include "ref_inputs.h"

#include <math.h>
#include <stdlib.h>

/* Keeps heavy tails from producing values that would overflow binary16 once
 * scaled, without changing the shape of the distribution where it matters. */
static float clamp_magnitude(double x, double limit)
{
    if (x > limit)
        x = limit;
    if (x < -limit)
        x = -limit;
    return (float)x;
}

/* A draw that is never exactly zero, whatever the rounding downstream. */
static double nonzero(double x)
{
    if (fabs(x) < 1e-3)
        return x < 0 ? -1e-3 : 1e-3;
    return x;
}

int sparq_ref_kv_model_init(sparq_ref_kv_model *model, sparq_ref_rng *rng, uint32_t n_kv_heads, uint32_t head_dim)
{
    size_t n = (size_t)n_kv_heads * head_dim;
    model->n_kv_heads = n_kv_heads;
    model->head_dim = head_dim;
    model->k_scale = malloc(n * sizeof(float));
    model->k_mean = malloc(n * sizeof(float));
    model->v_mean = malloc(n * sizeof(float));
    if (!model->k_scale || !model->k_mean || !model->v_mean) {
        sparq_ref_kv_model_free(model);
        return -1;
    }
    for (uint32_t h = 0; h < n_kv_heads; h++) {
        float *scale = model->k_scale + (size_t)h * head_dim;
        for (uint32_t i = 0; i < head_dim; i++) {
            scale[i] = (float)(0.8 + 0.4 * sparq_ref_rng_uniform(rng));
            model->k_mean[(size_t)h * head_dim + i] = (float)(0.5 * sparq_ref_rng_normal(rng));
            model->v_mean[(size_t)h * head_dim + i] = (float)(0.7 * sparq_ref_rng_normal(rng));
        }
        /* Outlier channels: about 1 in 32, at least one, 4-8x the usual scale. */
        uint32_t outliers = head_dim / 32 > 0 ? head_dim / 32 : 1;
        for (uint32_t o = 0; o < outliers; o++)
            scale[sparq_ref_rng_below(rng, head_dim)] = (float)(4.0 + 4.0 * sparq_ref_rng_uniform(rng));
    }
    return 0;
}

void sparq_ref_kv_model_free(sparq_ref_kv_model *model)
{
    free(model->k_scale);
    free(model->k_mean);
    free(model->v_mean);
    model->k_scale = model->k_mean = model->v_mean = NULL;
}

void sparq_ref_fill_keys(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *k, size_t n_rows)
{
    size_t row = (size_t)model->n_kv_heads * model->head_dim;
    for (size_t t = 0; t < n_rows; t++)
        for (size_t i = 0; i < row; i++) {
            double x = model->k_mean[i] + model->k_scale[i] * sparq_ref_rng_normal(rng);
            k[t * row + i] = clamp_magnitude(nonzero(x), 60.0);
        }
}

void sparq_ref_fill_values(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *v, size_t n_rows)
{
    size_t row = (size_t)model->n_kv_heads * model->head_dim;
    for (size_t t = 0; t < n_rows; t++)
        for (size_t i = 0; i < row; i++) {
            double x = model->v_mean[i] + sparq_ref_rng_normal(rng);
            v[t * row + i] = clamp_magnitude(nonzero(x), 60.0);
        }
}

static double focus_gain(sparq_ref_focus focus)
{
    switch (focus) {
    case SPARQ_REF_FOCUS_FLAT:
        return 0.15;
    case SPARQ_REF_FOCUS_PEAKED:
        return 4.0;
    case SPARQ_REF_FOCUS_NORMAL:
    default:
        return 1.0;
    }
}

void sparq_ref_fill_queries(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *q, size_t n_rows,
                            uint32_t n_heads, sparq_ref_focus focus)
{
    uint32_t dh = model->head_dim;
    uint32_t group = n_heads / model->n_kv_heads;
    double gain = focus_gain(focus);
    for (size_t t = 0; t < n_rows; t++)
        for (uint32_t h = 0; h < n_heads; h++) {
            /* Queries lean on the keys' outlier channels a little, as trained
             * models do, which keeps the logit spread set mostly by `gain`. */
            const float *kscale = model->k_scale + (size_t)(h / group) * dh;
            float *out = q + (t * n_heads + h) * dh;
            for (uint32_t i = 0; i < dh; i++) {
                double lean = kscale[i] > 2.0f ? 0.5 : 1.0;
                double x = gain * lean * sparq_ref_rng_student_t(rng, 4);
                out[i] = clamp_magnitude(nonzero(x), 50.0 * gain);
            }
        }
}

const char *sparq_ref_focus_name(sparq_ref_focus focus)
{
    switch (focus) {
    case SPARQ_REF_FOCUS_FLAT:
        return "flat";
    case SPARQ_REF_FOCUS_PEAKED:
        return "peaked";
    case SPARQ_REF_FOCUS_NORMAL:
    default:
        return "normal";
    }
}
