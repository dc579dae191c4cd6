#include "multi_problem.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

const multi_config multi_configs[] = {
    {"dense", SPARQ_ATTENTION_DENSE, SPARQ_DTYPE_F32, 0, 0, 0},
    {"sparq r8 k64 l16", SPARQ_ATTENTION_SPARQ, SPARQ_DTYPE_F32, 8, 64, 16},
    {"sparq r8 k64 l16 f16 io", SPARQ_ATTENTION_SPARQ, SPARQ_DTYPE_F16, 8, 64, 16},
    {"sparq r8 k>=S l16", SPARQ_ATTENTION_SPARQ, SPARQ_DTYPE_F32, 8, SPARQ_MAX_CAPACITY, 16},
};
const uint32_t multi_n_configs = sizeof multi_configs / sizeof multi_configs[0];

/* Relative gap between the r-th and (r+1)-th largest of sum_j |q_j| below
 * which a device's fp32 sum may legitimately choose other components for
 * i1 than the float64 reference does; such query groups are redrawn so the
 * reference check can be exact about which components were used. */
#define I1_MARGIN_MIN 1e-3

static int by_descending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static double i1_margin(const float *q, uint32_t group, uint32_t head_dim, uint32_t r)
{
    if (r >= head_dim)
        return INFINITY;
    double a[SPARQ_MAX_HEAD_DIM];
    for (uint32_t i = 0; i < head_dim; i++) {
        a[i] = 0.0;
        for (uint32_t j = 0; j < group; j++)
            a[i] += fabs((double)q[(size_t)j * head_dim + i]);
    }
    qsort(a, head_dim, sizeof a[0], by_descending);
    return (a[r - 1] - a[r]) / a[r - 1];
}

static void draw_queries(const multi_problem *pb, sparq_ref_rng *rng, const multi_config *c, float *q)
{
    const size_t per_group = (size_t)pb->group * pb->head_dim;
    sparq_ref_fill_queries(&pb->model, rng, q, pb->n_seqs, pb->n_heads, SPARQ_REF_FOCUS_NORMAL);
    float *redraw = malloc((size_t)pb->n_heads * pb->head_dim * sizeof(float));
    assert_non_null(redraw);
    for (uint32_t e = 0; e < pb->n_seqs; e++)
        for (uint32_t h = 0; h < pb->n_kv_heads; h++) {
            float *g = q + ((size_t)e * pb->n_heads + (size_t)h * pb->group) * pb->head_dim;
            if (c->io_dtype == SPARQ_DTYPE_F16)
                sparq_ref_round_f16_array(g, per_group);
            int tries = 0;
            while (c->mode == SPARQ_ATTENTION_SPARQ && i1_margin(g, pb->group, pb->head_dim, c->r) < I1_MARGIN_MIN) {
                if (++tries > 100)
                    fail_msg("could not draw a query group with a clear i1 (r = %u)", c->r);
                /* A fresh row keeps the per-head structure of the model. */
                sparq_ref_fill_queries(&pb->model, rng, redraw, 1, pb->n_heads, SPARQ_REF_FOCUS_NORMAL);
                memcpy(g, redraw + (size_t)h * per_group, per_group * sizeof(float));
                if (c->io_dtype == SPARQ_DTYPE_F16)
                    sparq_ref_round_f16_array(g, per_group);
            }
        }
    free(redraw);
}

void multi_problem_init(multi_problem *pb, sparq_ref_rng *rng, uint32_t n_seqs, const uint32_t *prefill,
                        const uint32_t *order, uint32_t n_kv_heads, uint32_t group, uint32_t head_dim,
                        uint32_t n_steps)
{
    memset(pb, 0, sizeof *pb);
    assert_true(n_seqs >= 1 && n_seqs <= MULTI_MAX_SEQS);
    pb->n_seqs = n_seqs;
    pb->n_kv_heads = n_kv_heads;
    pb->group = group;
    pb->n_heads = n_kv_heads * group;
    pb->head_dim = head_dim;
    pb->n_steps = n_steps;
    for (uint32_t s = 0; s < n_seqs; s++) {
        pb->prefill[s] = prefill[s];
        pb->order[s] = order[s];
        if (prefill[s] + n_steps > pb->capacity)
            pb->capacity = prefill[s] + n_steps;
    }
    assert_int_equal(sparq_ref_kv_model_init(&pb->model, rng, n_kv_heads, head_dim), 0);

    const size_t rows = (size_t)n_seqs * pb->capacity;
    const size_t kv_floats = rows * n_kv_heads * head_dim;
    pb->k = malloc(kv_floats * sizeof(float));
    pb->v = malloc(kv_floats * sizeof(float));
    const size_t q_per_call = (size_t)n_seqs * pb->n_heads * head_dim;
    pb->q = malloc((size_t)n_steps * multi_n_configs * q_per_call * sizeof(float));
    assert_non_null(pb->k);
    assert_non_null(pb->v);
    assert_non_null(pb->q);
    sparq_ref_fill_keys(&pb->model, rng, pb->k, rows);
    sparq_ref_fill_values(&pb->model, rng, pb->v, rows);
    sparq_ref_round_f16_array(pb->k, kv_floats);
    sparq_ref_round_f16_array(pb->v, kv_floats);
    for (uint32_t t = 0; t < n_steps; t++)
        for (uint32_t c = 0; c < multi_n_configs; c++)
            draw_queries(pb, rng, &multi_configs[c], (float *)multi_queries(pb, t, c));
}

void multi_problem_free(multi_problem *pb)
{
    sparq_ref_kv_model_free(&pb->model);
    free(pb->k);
    free(pb->v);
    free(pb->q);
    memset(pb, 0, sizeof *pb);
}

uint32_t multi_length(const multi_problem *pb, uint32_t slot, uint32_t step)
{
    return pb->prefill[slot] + step + 1;
}

static size_t row_offset(const multi_problem *pb, uint32_t slot, uint32_t position)
{
    return ((size_t)slot * pb->capacity + position) * pb->n_kv_heads * pb->head_dim;
}

const float *multi_k_row(const multi_problem *pb, uint32_t slot, uint32_t position)
{
    return pb->k + row_offset(pb, slot, position);
}

const float *multi_v_row(const multi_problem *pb, uint32_t slot, uint32_t position)
{
    return pb->v + row_offset(pb, slot, position);
}

const float *multi_queries(const multi_problem *pb, uint32_t step, uint32_t config)
{
    const size_t q_per_call = (size_t)pb->n_seqs * pb->n_heads * pb->head_dim;
    return pb->q + ((size_t)step * multi_n_configs + config) * q_per_call;
}
