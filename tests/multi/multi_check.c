#include "multi_check.h"

#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Relative L2 error allowed per query head: the cache holds the values
 * exactly (they are binary16), so only fp32 arithmetic differs, and an f16
 * output adds its rounding. */
#define OUT_TOL_F32_IO 1e-5
#define OUT_TOL_F16_IO 1e-3
/* alpha is an fp32 sum of fp32 probabilities. */
#define ALPHA_ABS_TOL 2e-5
/* A left-out position may beat a chosen one by this much (fp32 softmax). */
#define SELECTION_REL_TOL 1e-3
#define SELECTION_ABS_TOL 1e-9

/* True if the buffers differ; *at gets the first differing byte. */
static bool first_difference(const uint8_t *a, const uint8_t *b, size_t bytes, size_t *at)
{
    for (size_t i = 0; i < bytes; i++)
        if (a[i] != b[i]) {
            *at = i;
            return true;
        }
    return false;
}

void multi_assert_same(const multi_problem *pb, const multi_results *got, const multi_results *want,
                       const char *label)
{
    /* Every differing call is printed before failing, so a failure shows
     * which modes and steps are affected, not only the first. */
    unsigned differing = 0;
    for (uint32_t t = 0; t < pb->n_steps; t++)
        for (uint32_t c = 0; c < multi_n_configs; c++) {
            const size_t call = (size_t)t * multi_n_configs + c;
            const multi_config *cfg = &multi_configs[c];
            const size_t elem = cfg->io_dtype == SPARQ_DTYPE_F16 ? 2 : 4;
            const size_t per_entry = (size_t)pb->n_heads * pb->head_dim * elem;
            size_t at;
            if (first_difference(got->out + call * got->out_call_bytes, want->out + call * want->out_call_bytes,
                                 multi_out_bytes(pb, c), &at)) {
                print_error("%s: step %u %s: output differs, first at entry %zu query head %zu element %zu\n", label,
                            t, cfg->name, at / per_entry, at % per_entry / (pb->head_dim * elem),
                            at % (pb->head_dim * elem) / elem);
                differing++;
            }
            if (cfg->mode != SPARQ_ATTENTION_SPARQ)
                continue;
            const size_t per_sel_entry = (size_t)pb->n_kv_heads * got->sel_stride;
            const uint32_t *gs = got->selected + call * got->sel_call_entries;
            const uint32_t *ws = want->selected + call * want->sel_call_entries;
            if (first_difference((const uint8_t *)gs, (const uint8_t *)ws, got->sel_call_entries * sizeof(uint32_t),
                                 &at)) {
                size_t i = at / sizeof(uint32_t);
                print_error("%s: step %u %s: selection differs, first at entry %zu KV head %zu index %zu: %u, want "
                            "%u\n",
                            label, t, cfg->name, i / per_sel_entry, i % per_sel_entry / got->sel_stride,
                            i % got->sel_stride, gs[i], ws[i]);
                differing++;
            }
            if (first_difference((const uint8_t *)(got->alpha + call * got->alpha_call_entries),
                                 (const uint8_t *)(want->alpha + call * want->alpha_call_entries),
                                 got->alpha_call_entries * sizeof(float), &at)) {
                size_t i = at / sizeof(float);
                print_error("%s: step %u %s: alpha differs, first at entry %zu query head %zu\n", label, t, cfg->name,
                            i / pb->n_heads, i % pb->n_heads);
                differing++;
            }
        }
    if (differing)
        fail_msg("%s: %u outputs are not bit-identical", label, differing);
}

/* The device's output of one query group, as floats: [group][head_dim]. */
static void group_output(const multi_problem *pb, const multi_results *res, uint32_t t, uint32_t c, uint32_t e,
                         uint32_t h, float *out)
{
    const size_t call = (size_t)t * multi_n_configs + c;
    const size_t first = ((size_t)e * pb->n_heads + (size_t)h * pb->group) * pb->head_dim;
    const size_t n = (size_t)pb->group * pb->head_dim;
    const uint8_t *base = res->out + call * res->out_call_bytes;
    if (multi_configs[c].io_dtype == SPARQ_DTYPE_F16)
        sparq_ref_f16_array_to_f32((const uint16_t *)base + first, out, n);
    else
        memcpy(out, (const float *)base + first, n * sizeof(float));
}

static double check_group(const multi_problem *pb, const multi_results *res, uint32_t t, uint32_t c, uint32_t e,
                          uint32_t h, const char *label)
{
    const multi_config *cfg = &multi_configs[c];
    const uint32_t slot = pb->order[e], S = multi_length(pb, slot, t), g = pb->group, dh = pb->head_dim;
    const sparq_ref_problem problem = {
        .head_dim = dh,
        .group_size = g,
        .length = S,
        .kv_stride = (size_t)pb->n_kv_heads * dh,
        .q = multi_queries(pb, t, c) + ((size_t)e * pb->n_heads + (size_t)h * g) * dh,
        .k = multi_k_row(pb, slot, 0) + (size_t)h * dh,
        .v = multi_v_row(pb, slot, 0) + (size_t)h * dh,
    };
    float got[SPARQ_MAX_GROUP_SIZE * SPARQ_MAX_HEAD_DIM];
    double want[SPARQ_MAX_GROUP_SIZE * SPARQ_MAX_HEAD_DIM], alpha_want[SPARQ_MAX_GROUP_SIZE];
    group_output(pb, res, t, c, e, h, got);

    if (cfg->mode == SPARQ_ATTENTION_DENSE) {
        assert_int_equal(sparq_ref_dense(&problem, want), 0);
    } else {
        const size_t call = (size_t)t * multi_n_configs + c;
        const uint32_t *sel = res->selected + call * res->sel_call_entries + ((size_t)e * pb->n_kv_heads + h) * res->sel_stride;
        const sparq_ref_params params = sparq_ref_resolve_params(dh, S, cfg->r, cfg->k, cfg->l);
        sparq_ref_ranking ranking;
        assert_int_equal(sparq_ref_rank(&problem, params.r, &ranking), 0);
        char why[256];
        const char *bad = sparq_ref_check_selection(&ranking, params, sel, params.k, SELECTION_REL_TOL,
                                                    SELECTION_ABS_TOL, why, sizeof why);
        if (bad) {
            sparq_ref_ranking_free(&ranking);
            fail_msg("%s: step %u %s entry %u KV head %u: %s", label, t, cfg->name, e, h, bad);
        }
        int rc = sparq_ref_sparq_output(&problem, &ranking, sel, params.k, true, want, alpha_want);
        sparq_ref_ranking_free(&ranking);
        assert_int_equal(rc, 0);
        for (uint32_t j = 0; j < g; j++) {
            float a = res->alpha[call * res->alpha_call_entries + (size_t)e * pb->n_heads + (size_t)h * g + j];
            if (!(fabs((double)a - alpha_want[j]) <= ALPHA_ABS_TOL))
                fail_msg("%s: step %u %s entry %u query head %u: alpha %.9g, reference %.9g", label, t, cfg->name, e,
                         h * g + j, (double)a, alpha_want[j]);
        }
    }
    const double tol = cfg->io_dtype == SPARQ_DTYPE_F16 ? OUT_TOL_F16_IO : OUT_TOL_F32_IO;
    double worst = 0.0;
    for (uint32_t j = 0; j < g; j++) {
        double err = sparq_ref_rel_l2_error(got + (size_t)j * dh, want + (size_t)j * dh, dh);
        if (!(err <= tol))
            fail_msg("%s: step %u %s entry %u query head %u: relative L2 error %.3g > %.0e", label, t, cfg->name, e,
                     h * g + j, err, tol);
        worst = err > worst ? err : worst;
    }
    return worst;
}

void multi_check_reference(const multi_problem *pb, const multi_results *res, const char *label)
{
    double worst[2] = {0.0, 0.0}; /* f32 io, f16 io */
    for (uint32_t t = 0; t < pb->n_steps; t++)
        for (uint32_t c = 0; c < multi_n_configs; c++)
            for (uint32_t e = 0; e < pb->n_seqs; e++)
                for (uint32_t h = 0; h < pb->n_kv_heads; h++) {
                    double err = check_group(pb, res, t, c, e, h, label);
                    int io = multi_configs[c].io_dtype == SPARQ_DTYPE_F16;
                    worst[io] = err > worst[io] ? err : worst[io];
                }
    printf("%s: worst relative L2 error against the float64 reference %.3g (f32 output, tolerance %.0e), "
           "%.3g (f16 output, %.0e)\n",
           label, worst[0], OUT_TOL_F32_IO, worst[1], OUT_TOL_F16_IO);
}
