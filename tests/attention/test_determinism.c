/*
 * The same inputs give bit-identical outputs: run to run on one cache, and
 * across two caches filled the same way, and for a slot alone or in a batch.
 * Asking for the selection, alpha or timing must not change the output
 * either.
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

static void fill_both(harness_cache *a, harness_cache *b, sparq_ref_rng *rng, uint32_t slot, uint32_t length)
{
    while (a->lengths[slot] < length) {
        uint32_t n = length - a->lengths[slot] < 200 ? length - a->lengths[slot] : 200;
        float *k, *v;
        harness_make_kv(a, rng, n, &k, &v);
        TEST_SPARQ_OK(harness_append(a, &slot, 1, n, k, v, F32));
        TEST_SPARQ_OK(harness_append(b, &slot, 1, n, k, v, F32));
        free(k);
        free(v);
    }
}

static void test_same_inputs_same_bits(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "determinism");
    harness_cache one, two;
    harness_cache_create(&one, &rng, 3, 2, 128, 800, F16);
    harness_cache_create(&two, &rng, 3, 2, 128, 800, F16);
    const uint32_t lengths[3] = {300, 1, 777};
    for (uint32_t s = 0; s < 3; s++)
        fill_both(&one, &two, &rng, s, lengths[s]);
    const uint32_t slots[4] = {2, 0, 1, 2};

    const struct {
        sparq_attention_mode mode;
        sparq_dtype io;
        sparq_ref_focus focus;
    } runs[] = {
        {SPARQ_ATTENTION_DENSE, F32, SPARQ_REF_FOCUS_NORMAL},
        {SPARQ_ATTENTION_DENSE, F16, SPARQ_REF_FOCUS_PEAKED},
        {SPARQ_ATTENTION_SPARQ, F32, SPARQ_REF_FOCUS_PEAKED},
        {SPARQ_ATTENTION_SPARQ, F16, SPARQ_REF_FOCUS_FLAT},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        float *q = harness_make_queries(&one, &rng, 4, 8, 16, runs[i].io, runs[i].focus);
        harness_attend a = {
            .mode = runs[i].mode,
            .n_slots = 4,
            .slots = slots,
            .n_heads = 8,
            .io_dtype = runs[i].io,
            .r = 16,
            .k = 64,
            .l = 16,
            .q = q,
            .want_selection = runs[i].mode == SPARQ_ATTENTION_SPARQ,
        };
        char label[64];
        snprintf(label, sizeof label, "determinism run %zu", i);
        harness_result first, again, other;
        TEST_SPARQ_OK(harness_run(&one, &a, &first));
        harness_check(&one, &a, &first, label);
        TEST_SPARQ_OK(harness_run(&one, &a, &again));
        harness_assert_same_result(&first, &again, label);
        TEST_SPARQ_OK(harness_run(&two, &a, &other));
        harness_assert_same_result(&first, &other, label);
        harness_result_free(&again);
        harness_result_free(&other);

        /* Without selection and alpha outputs, the output itself is unchanged. */
        harness_attend bare = a;
        bare.want_selection = false;
        harness_result plain;
        TEST_SPARQ_OK(harness_run(&one, &bare, &plain));
        harness_result outputs_only = first;
        outputs_only.selected = NULL;
        outputs_only.alpha = NULL;
        outputs_only.selected_count = outputs_only.alpha_count = 0;
        harness_assert_same_result(&outputs_only, &plain, label);
        harness_result_free(&plain);
        harness_result_free(&first);
        free(q);
    }
    harness_cache_destroy(&one);
    harness_cache_destroy(&two);
    harness_finish();
}

/* A slot's result does not depend on what else the call attends: the same
 * slot alone and four times in one batch gives the same bits. (The batch
 * changes how the backend spreads sparq_score and sparq_rank; run with
 * SPARQ_DEBUG_FUSED_MAX=0, SPARQ_DEBUG_SELECT_SMALL_MAX=512,
 * SPARQ_DEBUG_RANK_MIN_WORKGROUPS=8 and SPARQ_DEBUG_SCORE_MIN_WORKGROUPS=8,
 * as the attention_determinism_rank suite does, the alone call takes 4
 * positions per rank invocation and 1 score chunk per workgroup, the batch
 * 16 and 4, the last of its 5 chunks alone.) */
static void test_batch_does_not_change_a_slot(void **state)
{
    (void)state;
    enum { DH = 64, HEADS = 8, KV = 2, LENGTH = 4500, COPIES = 4 };
    sparq_ref_rng rng;
    harness_rng(&rng, "batch invariance");
    harness_cache hc;
    harness_cache_create(&hc, &rng, 1, KV, DH, 4608, F16);
    harness_fill(&hc, &rng, 0, LENGTH, 0, F32);
    float *q1 = harness_make_queries(&hc, &rng, 1, HEADS, 8, F32, SPARQ_REF_FOCUS_PEAKED);
    float *q4 = malloc(sizeof(float) * COPIES * HEADS * DH);
    assert_non_null(q4);
    for (int i = 0; i < COPIES; i++)
        memcpy(q4 + (size_t)i * HEADS * DH, q1, sizeof(float) * HEADS * DH);
    const uint32_t slots[COPIES] = {0, 0, 0, 0};
    harness_attend alone = {
        .mode = SPARQ_ATTENTION_SPARQ,
        .n_slots = 1,
        .slots = slots,
        .n_heads = HEADS,
        .io_dtype = F32,
        .r = 8,
        .k = 512,
        .l = 64,
        .q = q1,
        .want_selection = true,
    };
    harness_attend batch = alone;
    batch.n_slots = COPIES;
    batch.q = q4;
    harness_result one, many;
    TEST_SPARQ_OK(harness_run(&hc, &alone, &one));
    harness_check(&hc, &alone, &one, "slot alone");
    TEST_SPARQ_OK(harness_run(&hc, &batch, &many));
    for (int i = 0; i < COPIES; i++) {
        assert_memory_equal(one.out, many.out + (size_t)i * HEADS * DH, sizeof(float) * HEADS * DH);
        assert_memory_equal(one.alpha, many.alpha + (size_t)i * HEADS, sizeof(float) * HEADS);
        assert_int_equal(one.selected_stride, many.selected_stride);
        assert_memory_equal(one.selected, many.selected + (size_t)i * KV * many.selected_stride,
                            sizeof(uint32_t) * KV * one.selected_stride);
    }
    harness_result_free(&one);
    harness_result_free(&many);
    free(q1);
    free(q4);
    harness_cache_destroy(&hc);
    harness_finish();
}

/* Timing must not change results, and reports at least one dispatch. */
static void test_stats_do_not_change_output(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "stats");
    harness_cache hc;
    harness_cache_create(&hc, &rng, 1, 1, 64, 300, F16);
    harness_fill(&hc, &rng, 0, 300, 0, F32);
    float *q = harness_make_queries(&hc, &rng, 1, 4, 8, F32, SPARQ_REF_FOCUS_NORMAL);
    const uint32_t slot = 0;
    for (int mode = 0; mode < 2; mode++) {
        float out_plain[4 * 64], out_timed[4 * 64];
        const uint32_t poison = 0x7fc0deadu;
        for (int i = 0; i < 4 * 64; i++) {
            memcpy(&out_plain[i], &poison, sizeof poison);
            memcpy(&out_timed[i], &poison, sizeof poison);
        }
        sparq_attend_stats stats = {.struct_size = sizeof stats};
        sparq_attend_desc desc = {
            .struct_size = sizeof desc,
            .mode = mode ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
            .n_slots = 1,
            .slots = &slot,
            .n_heads = 4,
            .dtype = F32,
            .q = q,
            .out = out_plain,
            .r = 8,
            .k = 32,
            .l = 8,
        };
        TEST_SPARQ_OK(harness_api()->attend(hc.cache, &desc));
        desc.out = out_timed;
        desc.stats = &stats;
        TEST_SPARQ_OK(harness_api()->attend(hc.cache, &desc));
        for (int i = 0; i < 4 * 64; i++)
            assert_true(isfinite(out_plain[i]));
        assert_memory_equal(out_plain, out_timed, sizeof out_plain);
        assert_true(stats.dispatches >= 1);
    }
    free(q);
    harness_cache_destroy(&hc);
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_inputs_same_bits),
        cmocka_unit_test(test_stats_do_not_change_output),
        cmocka_unit_test(test_batch_does_not_change_a_slot),
    };
    return cmocka_run_group_tests_name("determinism", tests, harness_group_setup, harness_group_teardown);
}
