/*
 * Random attention inputs with the structure real models show, so that
 * kernels are not only tested on the easy case of i.i.d. Gaussians:
 *  - queries have heavy-tailed components (Student-t), which is what makes
 *    SparQ's "largest |q| components" meaningful;
 *  - keys have a few outlier channels with a much larger scale, and a
 *    per-channel offset;
 *  - values are Gaussian around a per-channel mean (so the mean of V, which
 *    SparQ blends in, is not ~0).
 * No generated value is zero, and every value fits binary16 comfortably.
 */
#ifndef SPARQ_REF_INPUTS_H
#define SPARQ_REF_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "ref_random.h"

/* How concentrated attention is: the query gain sets the spread of logits. */
typedef enum sparq_ref_focus {
    SPARQ_REF_FOCUS_NORMAL = 0, /* logit std around 1.5 */
    SPARQ_REF_FOCUS_FLAT = 1,   /* logit std around 0.25: mass spread over all positions */
    SPARQ_REF_FOCUS_PEAKED = 2, /* logit std around 6: a few positions dominate */
} sparq_ref_focus;

/* Per-head channel structure shared by every token of a cache, so tokens
 * appended at different times come from the same distribution. */
typedef struct sparq_ref_kv_model {
    uint32_t n_kv_heads;
    uint32_t head_dim;
    float *k_scale; /* [n_kv_heads][head_dim] */
    float *k_mean;  /* [n_kv_heads][head_dim] */
    float *v_mean;  /* [n_kv_heads][head_dim] */
} sparq_ref_kv_model;

/* Returns 0, or -1 when out of memory. */
int sparq_ref_kv_model_init(sparq_ref_kv_model *model, sparq_ref_rng *rng, uint32_t n_kv_heads, uint32_t head_dim);
void sparq_ref_kv_model_free(sparq_ref_kv_model *model);

/* Fill n_rows rows of [n_kv_heads][head_dim] (the ABI's append layout, with
 * slots and tokens flattened into rows). */
void sparq_ref_fill_keys(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *k, size_t n_rows);
void sparq_ref_fill_values(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *v, size_t n_rows);

/* Fill queries [n_rows][n_heads][head_dim]; n_heads is a multiple of
 * model->n_kv_heads. */
void sparq_ref_fill_queries(const sparq_ref_kv_model *model, sparq_ref_rng *rng, float *q, size_t n_rows,
                            uint32_t n_heads, sparq_ref_focus focus);

const char *sparq_ref_focus_name(sparq_ref_focus focus);

#endif
