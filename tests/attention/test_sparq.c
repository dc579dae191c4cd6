/*
 * SparQ attention against the float64 reference. The device may break ties
 * its own way, so each run is checked in two steps: its selection must be a
 * valid one (window included, min(k, S) distinct positions, nothing left out
 * that clearly beats what was chosen), and its output and alpha must match
 * the reference given that selection.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "attention_harness.h"

#define F16 SPARQ_DTYPE_F16
#define F32 SPARQ_DTYPE_F32
#define FLAT SPARQ_REF_FOCUS_FLAT
#define NORMAL SPARQ_REF_FOCUS_NORMAL
#define PEAKED SPARQ_REF_FOCUS_PEAKED
#define NO_REALLOC SPARQ_ATTEND_NO_MEAN_REALLOCATION

typedef struct sparq_case {
    uint32_t head_dim, n_kv_heads, group, length;
    uint32_t r, k, l;
    sparq_dtype storage, io;
    sparq_ref_focus focus;
    uint32_t flags;
} sparq_case;

static void make_single_slot(harness_cache *hc, sparq_ref_rng *rng, const sparq_case *c)
{
    harness_cache_create(hc, rng, 2, c->n_kv_heads, c->head_dim, c->length + 4, c->storage);
    harness_fill(hc, rng, 0, 3, 0, F32);
    harness_fill(hc, rng, 1, c->length, 0, F32);
}

static harness_attend attend_of(const sparq_case *c, const uint32_t *slots, const float *q)
{
    return (harness_attend){
        .mode = SPARQ_ATTENTION_SPARQ,
        .n_slots = 1,
        .slots = slots,
        .n_heads = c->n_kv_heads * c->group,
        .io_dtype = c->io,
        .flags = c->flags,
        .r = c->r,
        .k = c->k,
        .l = c->l,
        .q = q,
        .want_selection = true,
    };
}

/* Each case on a cache that `make` creates, with its content in slot 1. */
typedef void (*slot_maker)(harness_cache *hc, sparq_ref_rng *rng, const sparq_case *c);

static void run_cases_on(const sparq_case *cases, size_t n, const char *stream, slot_maker make)
{
    sparq_ref_rng rng;
    harness_rng(&rng, stream);
    for (size_t i = 0; i < n; i++) {
        const sparq_case *c = &cases[i];
        harness_cache hc;
        make(&hc, &rng, c);
        const uint32_t slots[1] = {1};
        float *q = harness_make_queries(&hc, &rng, 1, c->n_kv_heads * c->group, c->r, c->io, c->focus);
        harness_attend a = attend_of(c, slots, q);
        char label[64];
        snprintf(label, sizeof label, "%s case %zu (%s)", stream, i, sparq_ref_focus_name(c->focus));
        harness_run_and_check(&hc, &a, label);
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

static void run_cases(const sparq_case *cases, size_t n, const char *stream)
{
    run_cases_on(cases, n, stream, make_single_slot);
}

/* k across 1, l, 16, 128, S - 1; r across 1, 8, head_dim; every head dim, odd chunk counts too. */
static void test_sparq_selection_and_output(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {128, 1, 4, 1000, 8, 128, 32, F16, F32, PEAKED, 0},
        {64, 2, 1, 500, 1, 16, 4, F32, F32, NORMAL, 0},
        {128, 1, 8, 777, 128, 64, 16, F16, F32, FLAT, 0},
        {80, 1, 4, 300, 8, 1, 1, F32, F32, NORMAL, 0},
        {96, 2, 2, 200, 8, 16, 16, F16, F32, PEAKED, 0},
        {64, 1, 4, 257, 8, 256, 8, F32, F32, NORMAL, 0},
        {256, 1, 1, 150, 8, 16, 4, F16, F32, NORMAL, 0},
        {80, 1, 8, 90, 1, 16, 4, F16, F32, FLAT, 0},
        {256, 1, 4, 120, 256, 8, 2, F32, F32, PEAKED, 0},
        {152, 1, 8, 400, 19, 48, 12, F16, F32, NORMAL, 0},   /* head_dim / 8 odd: one lane per row */
        {248, 1, 16, 200, 31, 40, 8, F32, F32, PEAKED, 0},
        {8, 2, 4, 600, 2, 40, 8, F16, F32, NORMAL, 0},       /* the smallest head_dim: a merge of 4 invocations */
        {24, 1, 2, 300, 4, 32, 8, F32, F32, PEAKED, 0},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq");
}

/* Slots at the longest sparq_score_select holds for each group (the most
 * runs per invocation: 8192 positions at groups 1 and 2, 4096 at 4, 2048 at
 * 8) and one past it, at the benchmark's r, k = S / 16, l = k / 4: the
 * variants the small cases above never build. */
static void test_sparq_longest_fused_slots(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {128, 1, 1, 8192, 16, 512, 128, F16, F32, NORMAL, 0},
        {128, 1, 2, 8192, 16, 512, 128, F16, F32, PEAKED, 0},
        {128, 1, 4, 4096, 16, 256, 64, F16, F32, NORMAL, 0},
        {128, 1, 8, 2048, 16, 128, 32, F16, F32, FLAT, 0},
        {128, 1, 1, 8193, 16, 512, 128, F16, F32, NORMAL, 0},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq longest fused");
}

/* Slots around the longest sparq_select_small takes where shared memory is
 * 32 KiB (lavapipe: 4096 positions; the keys beside its other arrays), at
 * group 16, where those arrays are largest: 4096 is its largest variant
 * there, and 5000 must not be given to it (a 5120-key variant would exceed
 * the device's shared memory, which the validation layers report). */
static void test_sparq_longest_small_slots(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {128, 1, 16, 4096, 16, 256, 64, F16, F32, NORMAL, 0},
        {128, 1, 16, 5000, 16, 312, 78, F16, F32, PEAKED, 0},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq longest small");
}

static void test_sparq_group_16_and_f16_io(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {64, 1, 16, 300, 8, 32, 8, F16, F32, PEAKED, 0},
        {128, 2, 4, 640, 16, 64, 16, F16, F16, NORMAL, 0},
        {96, 1, 8, 160, 8, 20, 5, F32, F16, FLAT, 0},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq g16 io");
}

static void test_sparq_without_reallocation(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {128, 1, 4, 600, 8, 64, 16, F16, F32, NORMAL, NO_REALLOC},
        {64, 1, 8, 300, 8, 32, 8, F32, F32, PEAKED, NO_REALLOC},
        {80, 2, 1, 100, 1, 7, 3, F16, F32, FLAT, NO_REALLOC},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq no realloc");
}

/* k >= S reads every position: the output is dense attention, the selection
 * is every position, and alpha is 1 (all the approximate mass). */
static void test_sparq_all_positions_is_dense(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {64, 1, 4, 100, 8, 100, 8, F32, F32, NORMAL, 0},        /* k = S */
        {128, 1, 2, 50, 128, 60, 4, F16, F32, PEAKED, 0},       /* r = head_dim, k > S */
        {96, 2, 8, 33, 1, 1000, 1, F32, F32, FLAT, 0},          /* r = 1, k >> S */
        {80, 1, 4, 64, 80, 64, 16, F16, F32, NORMAL, NO_REALLOC}, /* r = head_dim, k = S, no reallocation */
        {256, 1, 1, 1, 8, 16, 4, F32, F32, NORMAL, 0},          /* S = 1 */
    };
    sparq_ref_rng rng;
    harness_rng(&rng, "sparq all positions");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sparq_case *c = &cases[i];
        harness_cache hc;
        make_single_slot(&hc, &rng, c);
        const uint32_t slots[1] = {1};
        float *q = harness_make_queries(&hc, &rng, 1, c->n_kv_heads * c->group, c->r, c->io, c->focus);
        harness_attend a = attend_of(c, slots, q);
        harness_result res;
        TEST_SPARQ_OK(harness_run(&hc, &a, &res));
        char label[64];
        snprintf(label, sizeof label, "k >= S case %zu", i);
        harness_check_dense(&hc, &a, &res, label);
        harness_check(&hc, &a, &res, label);
        for (uint32_t h = 0; h < c->n_kv_heads; h++)
            for (uint32_t t = 0; t < c->length; t++)
                assert_int_equal(res.selected[h * res.selected_stride + t], t);
        for (size_t j = 0; j < res.alpha_count; j++)
            if (!(fabsf(res.alpha[j] - 1.0f) <= 1e-5f))
                fail_msg("[%s] alpha[%zu] = %.9g, expected 1 when every position is selected", label, j,
                         (double)res.alpha[j]);
        harness_result_free(&res);
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

/* r = k = l = 0 take the ABI's defaults: r = dh/8, k = max(64, S/16), l = k/4. */
static void test_sparq_defaults(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {128, 1, 4, 1100, 0, 0, 0, F16, F32, NORMAL, 0},
        {64, 2, 2, 2000, 0, 0, 0, F32, F32, PEAKED, 0},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "sparq defaults");
}

/* Lengths 1, 2, 17, 1000 and capacity in one call: per slot, k = 16 means
 * all of S = 1, 2, and S - 1 for S = 17; k = 128 is > S for 17. */
static void test_sparq_ragged_batch(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "sparq ragged");
    const uint32_t lengths[5] = {17, 1024, 2, 1000, 1};
    harness_cache hc;
    harness_cache_create(&hc, &rng, 5, 2, 64, 1024, F16);
    for (uint32_t s = 0; s < 5; s++)
        harness_fill(&hc, &rng, s, lengths[s], 512, F32);
    const uint32_t slots[6] = {3, 0, 4, 1, 2, 0};
    const struct {
        uint32_t r, k, l;
        sparq_ref_focus focus;
        uint32_t flags;
    } runs[] = {
        {8, 16, 4, PEAKED, 0},
        {8, 128, 16, NORMAL, 0},
        {1, 16, 16, FLAT, NO_REALLOC},
        {64, 128, 32, PEAKED, 0},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        float *q = harness_make_queries(&hc, &rng, 6, 8, runs[i].r, F32, runs[i].focus);
        harness_attend a = {
            .mode = SPARQ_ATTENTION_SPARQ,
            .n_slots = 6,
            .slots = slots,
            .n_heads = 8,
            .io_dtype = F32,
            .flags = runs[i].flags,
            .r = runs[i].r,
            .k = runs[i].k,
            .l = runs[i].l,
            .q = q,
            .want_selection = true,
        };
        char label[64];
        snprintf(label, sizeof label, "sparq ragged run %zu", i);
        harness_run_and_check(&hc, &a, label);
        free(q);
    }
    harness_cache_destroy(&hc);
    harness_finish();
}

/* Keys that repeat with a period of 5 positions: identical rows give
 * identical approximate scores, so the (k - l)-th largest sits inside a
 * class of about S / 5 equal keys and the selection must take exactly the
 * ties it needs, in position order, on every selection path (or, when
 * k - l is a whole class, none). */
static void make_tied_slot(harness_cache *hc, sparq_ref_rng *rng, const sparq_case *c)
{
    harness_cache_create(hc, rng, 2, c->n_kv_heads, c->head_dim, c->length, c->storage);
    const size_t row = harness_row(hc);
    float *k, *v;
    harness_make_kv(hc, rng, c->length, &k, &v);
    for (size_t t = 5; t < c->length; t++)
        memcpy(k + t * row, k + (t % 5) * row, row * sizeof(float));
    const uint32_t slots[1] = {1};
    assert_int_equal(harness_append(hc, slots, 1, c->length, k, v, F32), SPARQ_SUCCESS);
    free(k);
    free(v);
}

static void test_sparq_tied_keys(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {64, 2, 1, 600, 8, 100, 20, F32, F32, NORMAL, 0},
        {64, 1, 1, 500, 8, 104, 5, F32, F32, NORMAL, 0}, /* k - l = 99: exactly the top class of the 495 candidates */
        {128, 1, 4, 1500, 16, 400, 16, F32, F32, NORMAL, 0},
        {64, 1, 8, 2100, 8, 700, 50, F32, F32, NORMAL, 0},
    };
    run_cases_on(cases, sizeof cases / sizeof cases[0], "sparq tied keys", make_tied_slot);
}

/* The local window starting inside a quad (n_cand = S - l not a multiple of
 * 4) and crossing a chunk of sparq_rank (1024 positions at 4 per
 * invocation), with its first positions the strongest keys of the slot
 * (their K rows are a multiple of their KV head's query): sparq_rank keys
 * and stores whole quads, so a window position counted among its chunk's
 * candidates would shift every later chunk's places. Group 1, so each
 * row's query is its head's. */
static void test_sparq_window_starts_mid_quad(void **state)
{
    (void)state;
    static const sparq_case cases[] = {
        {64, 2, 1, 1100, 8, 300, 101, F32, F32, NORMAL, 0}, /* candidates 0..998: 999 in the window */
        {64, 1, 1, 1100, 8, 300, 102, F32, F32, NORMAL, 0}, /* 998 and 999 */
        {64, 1, 1, 1100, 8, 300, 99, F32, F32, NORMAL, 0},  /* 1001 */
    };
    sparq_ref_rng rng;
    harness_rng(&rng, "sparq window mid quad");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sparq_case *c = &cases[i];
        const uint32_t n_cand = c->length - c->l, hot_end = (n_cand | 3u) + 1;
        harness_cache hc;
        harness_cache_create(&hc, &rng, 2, c->n_kv_heads, c->head_dim, c->length, c->storage);
        const uint32_t slots[1] = {1};
        harness_fill(&hc, &rng, 1, n_cand, 0, F32);
        float *q = harness_make_queries(&hc, &rng, 1, c->n_kv_heads, c->r, c->io, c->focus);
        const size_t row = harness_row(&hc), rest = c->length - n_cand;
        float *k, *v;
        harness_make_kv(&hc, &rng, rest, &k, &v);
        for (uint32_t t = n_cand; t < hot_end; t++)
            for (size_t x = 0; x < row; x++)
                k[(t - n_cand) * row + x] = 0.25f * q[x];
        assert_int_equal(harness_append(&hc, slots, 1, (uint32_t)rest, k, v, F32), SPARQ_SUCCESS);
        free(k);
        free(v);
        harness_attend a = attend_of(c, slots, q);
        char label[64];
        snprintf(label, sizeof label, "window mid quad case %zu", i);
        harness_run_and_check(&hc, &a, label);
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparq_selection_and_output),
        cmocka_unit_test(test_sparq_longest_fused_slots),
        cmocka_unit_test(test_sparq_longest_small_slots),
        cmocka_unit_test(test_sparq_group_16_and_f16_io),
        cmocka_unit_test(test_sparq_without_reallocation),
        cmocka_unit_test(test_sparq_all_positions_is_dense),
        cmocka_unit_test(test_sparq_defaults),
        cmocka_unit_test(test_sparq_ragged_batch),
        cmocka_unit_test(test_sparq_tied_keys),
        cmocka_unit_test(test_sparq_window_starts_mid_quad),
    };
    return cmocka_run_group_tests_name("sparq attention", tests, harness_group_setup, harness_group_teardown);
}
