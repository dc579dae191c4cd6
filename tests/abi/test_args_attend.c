/*
 * attend() given NULLs, malformed descriptors and parameters outside their
 * documented ranges: each returns SPARQ_ERROR_INVALID_ARGUMENT with a
 * message and writes none of its outputs; the same call with good arguments
 * succeeds and writes all of them.
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

#include "abi_checks.h"

enum {
    N_SEQS = 2,
    N_KV_HEADS = 2,
    HEAD_DIM = 16,
    CAPACITY = 8,
    LENGTH = 5,  /* of slot 0; slot 1 stays empty */
    GROUP = 2,
    N_HEADS = N_KV_HEADS * GROUP,
    MAX_HEADS = N_KV_HEADS * (SPARQ_MAX_GROUP_SIZE + 1), /* room for the too-large group */
    TOP_K = 3,
};

static const sparq_api *api;
static sparq_context *context;
static sparq_cache *cache;

static float q[MAX_HEADS * HEAD_DIM];
static float out[MAX_HEADS * HEAD_DIM];
static uint32_t selected[N_KV_HEADS * TOP_K];
static float alpha[N_HEADS];
static sparq_attend_stats stats;

static void fill_values(float *values, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        float magnitude = 0.125f + (float)(x >> 8) / (float)(1u << 24) * 4.0f;
        values[i] = (x & 1u) ? magnitude : -magnitude;
    }
}

static int make_cache(void **state)
{
    (void)state;
    api = test_plugin_api();
    context = test_plugin_context(NULL);
    if (!context)
        return -1;
    sparq_cache_desc desc = {
        .struct_size = sizeof desc,
        .n_seqs = N_SEQS,
        .n_kv_heads = N_KV_HEADS,
        .head_dim = HEAD_DIM,
        .capacity = CAPACITY,
    };
    if (api->cache_create(context, &desc, &cache) != SPARQ_SUCCESS) {
        fprintf(stderr, "cache_create: %s\n", api->last_error());
        return -1;
    }
    static float k[LENGTH * N_KV_HEADS * HEAD_DIM];
    static float v[LENGTH * N_KV_HEADS * HEAD_DIM];
    fill_values(k, sizeof k / sizeof k[0], 3);
    fill_values(v, sizeof v / sizeof v[0], 4);
    const uint32_t slot = 0;
    sparq_append_desc append = {
        .struct_size = sizeof append,
        .n_slots = 1,
        .slots = &slot,
        .n_tokens = LENGTH,
        .k = k,
        .v = v,
    };
    if (api->cache_append(cache, &append) != SPARQ_SUCCESS) {
        fprintf(stderr, "cache_append: %s\n", api->last_error());
        return -1;
    }
    fill_values(q, sizeof q / sizeof q[0], 5);
    return 0;
}

static int destroy_cache(void **state)
{
    (void)state;
    int ok = api->cache_destroy(cache) == SPARQ_SUCCESS;
    ok &= api->context_destroy(context) == SPARQ_SUCCESS;
    return ok ? 0 : -1;
}

static const uint32_t slot_zero = 0;

static sparq_attend_desc good_desc(void)
{
    sparq_attend_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.mode = SPARQ_ATTENTION_SPARQ;
    desc.n_slots = 1;
    desc.slots = &slot_zero;
    desc.n_heads = N_HEADS;
    desc.q = q;
    desc.out = out;
    desc.r = 4;
    desc.k = TOP_K;
    desc.l = 1;
    desc.selected = selected;
    desc.selected_stride = TOP_K;
    desc.alpha = alpha;
    stats.struct_size = sizeof stats;
    desc.stats = &stats;
    return desc;
}

/* Outputs start as NaN / sentinel so that a write, full or partial, shows. */
static void poison_outputs(void)
{
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        out[i] = NAN;
    for (size_t i = 0; i < N_HEADS; i++)
        alpha[i] = NAN;
    memset(selected, 0x5a, sizeof selected);
}

static void assert_outputs_untouched(void)
{
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        assert_true(isnan(out[i]));
    for (size_t i = 0; i < N_HEADS; i++)
        assert_true(isnan(alpha[i]));
    for (size_t i = 0; i < N_KV_HEADS * TOP_K; i++)
        assert_int_equal(selected[i], 0x5a5a5a5au);
}

#define EXPECT_REJECTED_DESC(desc_expr)                       \
    do {                                                      \
        sparq_attend_desc bad_ = (desc_expr);                 \
        poison_outputs();                                     \
        ASSERT_INVALID(api->attend(cache, &bad_));            \
        assert_outputs_untouched();                           \
    } while (0)

static void test_good_call_writes_everything(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    poison_outputs();
    TEST_SPARQ_OK(api->attend(cache, &desc));
    for (size_t i = 0; i < N_HEADS * HEAD_DIM; i++)
        assert_true(isfinite(out[i]));
    for (size_t i = N_HEADS * HEAD_DIM; i < sizeof out / sizeof out[0]; i++)
        assert_true(isnan(out[i])); /* past the call's heads: not written */
    for (size_t h = 0; h < N_KV_HEADS; h++) {
        const uint32_t *row = &selected[h * TOP_K];
        for (size_t i = 0; i < TOP_K; i++) {
            assert_true(row[i] < LENGTH);
            if (i > 0)
                assert_true(row[i] > row[i - 1]);
        }
        assert_int_equal(row[TOP_K - 1], LENGTH - 1); /* the local window of 1 */
    }
    for (size_t i = 0; i < N_HEADS; i++)
        assert_true(alpha[i] > 0.0f && alpha[i] <= 1.0f + 1e-6f);
    assert_true(stats.dispatches > 0);
    test_plugin_assert_no_validation_errors();
}

static void test_null_arguments(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    poison_outputs();
    ASSERT_INVALID(api->attend(NULL, &desc));
    ASSERT_INVALID(api->attend(cache, NULL));
    assert_outputs_untouched();

    desc = good_desc();
    desc.q = NULL;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.out = NULL;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.slots = NULL;
    EXPECT_REJECTED_DESC(desc);
}

static void test_struct_size(void **state)
{
    (void)state;
    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_attend_desc);
    unsigned wrong = 0;
    poison_outputs();
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        sparq_attend_desc desc = good_desc();
        desc.struct_size = bad_sizes[i];
        wrong += !rejected_as_invalid(api->attend(cache, &desc), "attend", bad_sizes[i]);
    }
    assert_int_equal(wrong, 0);
    assert_outputs_untouched();
    sparq_attend_desc desc = good_desc();
    stats.struct_size = 0;
    desc.stats = &stats;
    EXPECT_REJECTED_DESC(desc);
    stats.struct_size = sizeof stats;
}

static void test_enums_and_reserved(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    desc.mode = (sparq_attention_mode)99;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.dtype = (sparq_dtype)99;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.reserved = 1;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.flags = 0x80000000u; /* not a SPARQ_ATTEND_* bit */
    EXPECT_REJECTED_DESC(desc);
}

static void test_slots(void **state)
{
    (void)state;
    static const uint32_t out_of_range = N_SEQS;
    static const uint32_t huge = 0xffffffffu;
    static const uint32_t empty_slot = 1;
    sparq_attend_desc desc = good_desc();
    desc.n_slots = 0;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.slots = &out_of_range;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.slots = &huge;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.slots = &empty_slot; /* length 0: nothing to attend to */
    EXPECT_REJECTED_DESC(desc);
}

static void test_heads(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    desc.n_heads = 0;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.n_heads = N_KV_HEADS + 1; /* not a multiple of n_kv_heads */
    desc.selected = NULL;
    desc.alpha = NULL;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.n_heads = N_KV_HEADS * (SPARQ_MAX_GROUP_SIZE + 1);
    desc.alpha = NULL;
    EXPECT_REJECTED_DESC(desc);

    /* The largest group is accepted, in both modes. */
    desc = good_desc();
    desc.n_heads = N_KV_HEADS * SPARQ_MAX_GROUP_SIZE;
    desc.alpha = NULL;
    TEST_SPARQ_OK(api->attend(cache, &desc));
    desc.mode = SPARQ_ATTENTION_DENSE;
    TEST_SPARQ_OK(api->attend(cache, &desc));
}

static void test_overlapping_buffers(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    desc.out = q;
    poison_outputs();
    float q_before[N_HEADS * HEAD_DIM];
    memcpy(q_before, q, sizeof q_before);
    ASSERT_INVALID(api->attend(cache, &desc));
    desc.out = q + HEAD_DIM; /* partial overlap */
    ASSERT_INVALID(api->attend(cache, &desc));
    assert_memory_equal(q, q_before, sizeof q_before);
}

static void test_sparq_parameters(void **state)
{
    (void)state;
    sparq_attend_desc desc = good_desc();
    desc.r = HEAD_DIM + 1;
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.k = 2;
    desc.l = 3; /* l > k */
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.selected_stride = 0; /* selected without a stride */
    EXPECT_REJECTED_DESC(desc);
    desc = good_desc();
    desc.selected_stride = TOP_K - 1; /* shorter than min(k, S) */
    EXPECT_REJECTED_DESC(desc);

    /* Dense mode ignores every SparQ parameter, valid or not. */
    desc = good_desc();
    desc.mode = SPARQ_ATTENTION_DENSE;
    desc.r = HEAD_DIM + 1;
    desc.k = 2;
    desc.l = 3;
    desc.selected_stride = 0;
    poison_outputs();
    TEST_SPARQ_OK(api->attend(cache, &desc));
    for (size_t i = 0; i < N_HEADS * HEAD_DIM; i++)
        assert_true(isfinite(out[i]));
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_call_writes_everything),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_struct_size),
        cmocka_unit_test(test_enums_and_reserved),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_overlapping_buffers),
        cmocka_unit_test(test_sparq_parameters),
        cmocka_unit_test(test_good_call_writes_everything), /* still works after all that */
    };
    return cmocka_run_group_tests(tests, make_cache, destroy_cache);
}
