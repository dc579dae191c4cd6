/*
 * Cache calls given NULLs, malformed descriptors and out-of-range indices:
 * each returns the documented status with a message and changes nothing
 * already stored (checked by reading the cache back before and after), and
 * the same call with good arguments succeeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "abi_checks.h"

/* Tiny on purpose: these tests are about arguments, and lavapipe is slow. */
enum { N_SEQS = 2, N_KV_HEADS = 2, HEAD_DIM = 16, CAPACITY = 8, ROW = N_KV_HEADS * HEAD_DIM };

static const sparq_api *api;
static sparq_context *context;

static int make_context(void **state)
{
    (void)state;
    api = test_plugin_api();
    context = test_plugin_context(NULL);
    return context ? 0 : -1;
}

static int destroy_context(void **state)
{
    (void)state;
    return api->context_destroy(context) == SPARQ_SUCCESS ? 0 : -1;
}

static sparq_cache_desc good_cache_desc(void)
{
    sparq_cache_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.n_seqs = N_SEQS;
    desc.n_kv_heads = N_KV_HEADS;
    desc.head_dim = HEAD_DIM;
    desc.capacity = CAPACITY;
    return desc;
}

/* Per-test cache, destroyed by the teardown also when the test fails, so
 * one failure does not leave the context with a live cache for the next. */
static int make_cache(void **state)
{
    sparq_cache_desc desc = good_cache_desc();
    sparq_cache *cache = NULL;
    if (api->cache_create(context, &desc, &cache) != SPARQ_SUCCESS) {
        fprintf(stderr, "cache_create: %s\n", api->last_error());
        return -1;
    }
    *state = cache;
    return 0;
}

static int destroy_cache(void **state)
{
    return api->cache_destroy(*state) == SPARQ_SUCCESS ? 0 : -1;
}

/* Non-zero values of both signs with a spread of magnitudes; the exact
 * distribution does not matter here, only that stored data is recognisable. */
static void fill_values(float *values, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        float magnitude = 0.125f + (float)(x >> 8) / (float)(1u << 24) * 4.0f;
        values[i] = (x & 1u) ? magnitude : -magnitude;
    }
}

static float token_k[N_SEQS * CAPACITY * ROW];
static float token_v[N_SEQS * CAPACITY * ROW];

static sparq_append_desc good_append_desc(const uint32_t *slots, uint32_t n_slots, uint32_t n_tokens)
{
    assert_true(n_slots * n_tokens <= N_SEQS * CAPACITY);
    fill_values(token_k, n_slots * n_tokens * ROW, 1u + n_tokens);
    fill_values(token_v, n_slots * n_tokens * ROW, 100u + n_tokens);
    sparq_append_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.n_slots = n_slots;
    desc.slots = slots;
    desc.n_tokens = n_tokens;
    desc.k = token_k;
    desc.v = token_v;
    return desc;
}

static void append_tokens(sparq_cache *cache, uint32_t slot, uint32_t n_tokens)
{
    sparq_append_desc desc = good_append_desc(&slot, 1, n_tokens);
    TEST_SPARQ_OK(api->cache_append(cache, &desc));
}

/* Everything a host can observe about a cache. */
typedef struct cache_snapshot {
    uint32_t lengths[N_SEQS];
    float k[N_SEQS][CAPACITY * ROW];
    float v[N_SEQS][CAPACITY * ROW];
    float v_sum[N_SEQS][ROW];
} cache_snapshot;

static void take_snapshot(sparq_cache *cache, cache_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    TEST_SPARQ_OK(api->cache_get_lengths(cache, 0, N_SEQS, snap->lengths));
    for (uint32_t s = 0; s < N_SEQS; s++) {
        sparq_read_desc read;
        memset(&read, 0, sizeof read);
        read.struct_size = sizeof read;
        read.slot = s;
        read.count = snap->lengths[s];
        read.k = snap->k[s];
        read.v = snap->v[s];
        read.v_sum = snap->v_sum[s];
        TEST_SPARQ_OK(api->cache_read(cache, &read));
    }
}

static void assert_unchanged(sparq_cache *cache, const cache_snapshot *before)
{
    static cache_snapshot after;
    take_snapshot(cache, &after);
    assert_memory_equal(after.lengths, before->lengths, sizeof after.lengths);
    assert_memory_equal(&after, before, sizeof after);
}

/* ------------------------------------------------------------------------ */

static void test_cache_create(void **state)
{
    (void)state;
    sparq_cache_desc desc = good_cache_desc();
    sparq_cache *cache = NULL;
    ASSERT_INVALID(api->cache_create(NULL, &desc, &cache));
    ASSERT_INVALID(api->cache_create(context, NULL, &cache));
    ASSERT_INVALID(api->cache_create(context, &desc, NULL));
    assert_null(cache);

    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_cache_desc);
    unsigned wrong = 0;
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        desc = good_cache_desc();
        desc.struct_size = bad_sizes[i];
        sparq_status status = api->cache_create(context, &desc, &cache);
        if (!rejected_as_invalid(status, "cache_create", bad_sizes[i])) {
            wrong++;
            if (status == SPARQ_SUCCESS)
                api->cache_destroy(cache);
        }
        cache = NULL;
    }
    assert_int_equal(wrong, 0);

#define EXPECT_BAD_FIELD(field, value)                                   \
    do {                                                                 \
        desc = good_cache_desc();                                        \
        desc.field = (value);                                            \
        print_message("  " #field " = %u\n", (unsigned)(value));         \
        ASSERT_INVALID(api->cache_create(context, &desc, &cache));       \
        assert_null(cache);                                              \
    } while (0)
    EXPECT_BAD_FIELD(n_seqs, 0u);
    EXPECT_BAD_FIELD(n_kv_heads, 0u);
    EXPECT_BAD_FIELD(head_dim, 0u);
    EXPECT_BAD_FIELD(head_dim, 12u);
    EXPECT_BAD_FIELD(head_dim, 7u);
    EXPECT_BAD_FIELD(head_dim, SPARQ_MAX_HEAD_DIM + 8u);
    EXPECT_BAD_FIELD(head_dim, 0x80000000u);
    EXPECT_BAD_FIELD(capacity, 0u);
    EXPECT_BAD_FIELD(capacity, SPARQ_MAX_CAPACITY + 1u);
    EXPECT_BAD_FIELD(capacity, 0xffffffffu);
    EXPECT_BAD_FIELD(storage, (sparq_dtype)99);
    EXPECT_BAD_FIELD(storage, SPARQ_DTYPE_MAX_ENUM);
#undef EXPECT_BAD_FIELD

    /* The smallest and largest head_dim, both storage types: all accepted. */
    const uint32_t dims[] = {8u, SPARQ_MAX_HEAD_DIM};
    const sparq_dtype types[] = {SPARQ_DTYPE_DEFAULT, SPARQ_DTYPE_F16, SPARQ_DTYPE_F32};
    for (size_t d = 0; d < 2; d++) {
        for (size_t t = 0; t < 3; t++) {
            desc = good_cache_desc();
            desc.head_dim = dims[d];
            desc.storage = types[t];
            TEST_SPARQ_OK(api->cache_create(context, &desc, &cache));
            assert_non_null(cache);
            TEST_SPARQ_OK(api->cache_destroy(cache));
            cache = NULL;
        }
    }
    test_plugin_assert_no_validation_errors();
}

static void test_cache_destroy_null(void **state)
{
    (void)state;
    assert_int_equal(api->cache_destroy(NULL), SPARQ_SUCCESS);
}

static void test_context_destroy_with_live_cache(void **state)
{
    sparq_cache *cache = *state;
    ASSERT_INVALID(api->context_destroy(context));
    /* Refused means untouched: the cache and its context still work. */
    append_tokens(cache, 1, 2);
    uint32_t lengths[N_SEQS] = {99, 99};
    TEST_SPARQ_OK(api->cache_get_lengths(cache, 0, N_SEQS, lengths));
    assert_int_equal(lengths[0], 0);
    assert_int_equal(lengths[1], 2);
    test_plugin_assert_no_validation_errors();
}

static void test_cache_append(void **state)
{
    sparq_cache *cache = *state;
    append_tokens(cache, 0, 3);
    append_tokens(cache, 1, CAPACITY - 1);
    static cache_snapshot before;
    take_snapshot(cache, &before);

    uint32_t slots[2] = {0, 1};
    sparq_append_desc desc = good_append_desc(slots, 1, 1);
    ASSERT_INVALID(api->cache_append(NULL, &desc));
    ASSERT_INVALID(api->cache_append(cache, NULL));

    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_append_desc);
    unsigned wrong = 0;
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        desc = good_append_desc(slots, 1, 1);
        desc.struct_size = bad_sizes[i];
        wrong += !rejected_as_invalid(api->cache_append(cache, &desc), "cache_append", bad_sizes[i]);
    }
    assert_int_equal(wrong, 0);

    desc = good_append_desc(slots, 1, 1);
    desc.n_slots = 0;
    ASSERT_INVALID(api->cache_append(cache, &desc));
    desc = good_append_desc(slots, 1, 1);
    desc.slots = NULL;
    ASSERT_INVALID(api->cache_append(cache, &desc));
    desc = good_append_desc(slots, 1, 1);
    desc.n_tokens = 0;
    ASSERT_INVALID(api->cache_append(cache, &desc));
    desc = good_append_desc(slots, 1, 1);
    desc.dtype = (sparq_dtype)99;
    ASSERT_INVALID(api->cache_append(cache, &desc));
    desc = good_append_desc(slots, 1, 1);
    desc.k = NULL;
    ASSERT_INVALID(api->cache_append(cache, &desc));
    desc = good_append_desc(slots, 1, 1);
    desc.v = NULL;
    ASSERT_INVALID(api->cache_append(cache, &desc));

    const uint32_t out_of_range[] = {N_SEQS, 0xffffffffu};
    for (size_t i = 0; i < 2; i++) {
        desc = good_append_desc(&out_of_range[i], 1, 1);
        print_message("  slot %u\n", (unsigned)out_of_range[i]);
        ASSERT_INVALID(api->cache_append(cache, &desc));
    }
    const uint32_t repeated[2] = {0, 0};
    desc = good_append_desc(repeated, 2, 1);
    ASSERT_INVALID(api->cache_append(cache, &desc));

    /* All or nothing: slot 0 has room for 2 more, slot 1 for only 1. */
    desc = good_append_desc(slots, 2, 2);
    ASSERT_REJECTED(api->cache_append(cache, &desc), SPARQ_ERROR_CAPACITY_EXCEEDED);
    desc = good_append_desc(&slots[0], 1, CAPACITY);
    ASSERT_REJECTED(api->cache_append(cache, &desc), SPARQ_ERROR_CAPACITY_EXCEEDED);
    desc = good_append_desc(&slots[0], 1, 1);
    desc.n_tokens = 0x80000000u;
    sparq_status huge = api->cache_append(cache, &desc);
    assert_true(huge == SPARQ_ERROR_CAPACITY_EXCEEDED || huge == SPARQ_ERROR_INVALID_ARGUMENT);

    assert_unchanged(cache, &before);

    /* Both slots, filling slot 1 exactly: accepted. */
    desc = good_append_desc(slots, 2, 1);
    TEST_SPARQ_OK(api->cache_append(cache, &desc));
    uint32_t lengths[N_SEQS];
    TEST_SPARQ_OK(api->cache_get_lengths(cache, 0, N_SEQS, lengths));
    assert_int_equal(lengths[0], 4);
    assert_int_equal(lengths[1], CAPACITY);
    test_plugin_assert_no_validation_errors();
}

/* Slot lists on a cache of 300 slots: distinct ones are taken, and one
 * that repeats is refused wherever it sits and whatever its bit word. */
static void test_cache_append_many_slots(void **state)
{
    (void)state;
    sparq_cache_desc cd = good_cache_desc();
    cd.n_seqs = 300;
    sparq_cache *cache = NULL;
    TEST_SPARQ_OK(api->cache_create(context, &cd, &cache));
    const uint32_t distinct[5] = {299, 5, 70, 134, 63};
    sparq_append_desc desc = good_append_desc(distinct, 1, 1);
    desc.n_slots = 5; /* one token each: 5 rows fit the token arrays */
    TEST_SPARQ_OK(api->cache_append(cache, &desc));
    const uint32_t repeated[3][4] = {{299, 70, 3, 299}, {64, 0, 128, 64}, {1, 2, 200, 200}};
    for (int i = 0; i < 3; i++) {
        desc.slots = repeated[i];
        desc.n_slots = 4;
        ASSERT_INVALID(api->cache_append(cache, &desc));
    }
    uint32_t lengths[300];
    TEST_SPARQ_OK(api->cache_get_lengths(cache, 0, 300, lengths));
    for (uint32_t slot = 0; slot < 300; slot++)
        assert_int_equal(lengths[slot], slot == 299 || slot == 5 || slot == 70 || slot == 134 || slot == 63);
    TEST_SPARQ_OK(api->cache_destroy(cache));
    test_plugin_assert_no_validation_errors();
}

static void test_cache_truncate_and_reset(void **state)
{
    sparq_cache *cache = *state;
    append_tokens(cache, 0, 3);
    append_tokens(cache, 1, 5);
    static cache_snapshot before;
    take_snapshot(cache, &before);

    ASSERT_INVALID(api->cache_truncate(NULL, 0, 0));
    ASSERT_INVALID(api->cache_truncate(cache, N_SEQS, 0));
    ASSERT_INVALID(api->cache_truncate(cache, 0xffffffffu, 0));
    ASSERT_INVALID(api->cache_truncate(cache, 0, 4));  /* longer than the slot */
    ASSERT_INVALID(api->cache_truncate(cache, 0, CAPACITY + 1));
    ASSERT_INVALID(api->cache_reset(NULL, 0));
    ASSERT_INVALID(api->cache_reset(cache, N_SEQS));
    ASSERT_INVALID(api->cache_reset(cache, 0xffffffffu));
    assert_unchanged(cache, &before);

    TEST_SPARQ_OK(api->cache_truncate(cache, 0, 3)); /* to its own length: nothing to do */
    TEST_SPARQ_OK(api->cache_truncate(cache, 1, 2));
    TEST_SPARQ_OK(api->cache_reset(cache, 0));
    uint32_t lengths[N_SEQS];
    TEST_SPARQ_OK(api->cache_get_lengths(cache, 0, N_SEQS, lengths));
    assert_int_equal(lengths[0], 0);
    assert_int_equal(lengths[1], 2);
    test_plugin_assert_no_validation_errors();
}

static void test_cache_get_lengths(void **state)
{
    sparq_cache *cache = *state;
    append_tokens(cache, 1, 2);
    uint32_t lengths[N_SEQS + 1] = {77, 77, 77};
    ASSERT_INVALID(api->cache_get_lengths(NULL, 0, 1, lengths));
    ASSERT_INVALID(api->cache_get_lengths(cache, 0, 1, NULL));
    ASSERT_INVALID(api->cache_get_lengths(cache, 0, N_SEQS + 1, lengths));
    ASSERT_INVALID(api->cache_get_lengths(cache, 1, N_SEQS, lengths));
    ASSERT_INVALID(api->cache_get_lengths(cache, 0xffffffffu, 2, lengths)); /* first + count wraps */
    for (int i = 0; i < N_SEQS + 1; i++)
        assert_int_equal(lengths[i], 77);

    TEST_SPARQ_OK(api->cache_get_lengths(cache, 1, 1, lengths));
    assert_int_equal(lengths[0], 2);
    assert_int_equal(lengths[1], 77);
}

static void test_cache_read(void **state)
{
    sparq_cache *cache = *state;
    append_tokens(cache, 0, 3);

    float k[CAPACITY * ROW];
    float v[CAPACITY * ROW];
    float v_sum[ROW];
    for (size_t i = 0; i < CAPACITY * ROW; i++)
        k[i] = v[i] = -7.0f;
    sparq_read_desc good;
    memset(&good, 0, sizeof good);
    good.struct_size = sizeof good;
    good.slot = 0;
    good.first = 1;
    good.count = 2;
    good.k = k;
    good.v = v;
    good.v_sum = v_sum;

    ASSERT_INVALID(api->cache_read(NULL, &good));
    ASSERT_INVALID(api->cache_read(cache, NULL));
    sparq_read_desc desc;
    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_read_desc);
    unsigned wrong = 0;
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        desc = good;
        desc.struct_size = bad_sizes[i];
        wrong += !rejected_as_invalid(api->cache_read(cache, &desc), "cache_read", bad_sizes[i]);
    }
    assert_int_equal(wrong, 0);
    desc = good;
    desc.slot = N_SEQS;
    ASSERT_INVALID(api->cache_read(cache, &desc));
    desc = good;
    desc.first = 2; /* 2 + 2 > length 3 */
    ASSERT_INVALID(api->cache_read(cache, &desc));
    desc = good;
    desc.first = 0;
    desc.count = 4;
    ASSERT_INVALID(api->cache_read(cache, &desc));
    desc = good;
    desc.first = 0xffffffffu; /* first + count wraps */
    ASSERT_INVALID(api->cache_read(cache, &desc));
    desc = good;
    desc.slot = 1; /* empty slot */
    desc.first = 0;
    desc.count = 1;
    ASSERT_INVALID(api->cache_read(cache, &desc));
    for (size_t i = 0; i < CAPACITY * ROW; i++)
        assert_true(k[i] == -7.0f && v[i] == -7.0f);

    desc = good;
    desc.first = 3;
    desc.count = 0; /* empty range at the end: allowed */
    desc.k = desc.v = desc.v_sum = NULL;
    TEST_SPARQ_OK(api->cache_read(cache, &desc));
    TEST_SPARQ_OK(api->cache_read(cache, &good));
    for (size_t i = 0; i < 2 * ROW; i++)
        assert_true(k[i] != -7.0f && v[i] != -7.0f);
    for (size_t i = 2 * ROW; i < CAPACITY * ROW; i++)
        assert_true(k[i] == -7.0f && v[i] == -7.0f);
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_create),
        cmocka_unit_test(test_cache_destroy_null),
        cmocka_unit_test_setup_teardown(test_context_destroy_with_live_cache, make_cache, destroy_cache),
        cmocka_unit_test_setup_teardown(test_cache_append, make_cache, destroy_cache),
        cmocka_unit_test(test_cache_append_many_slots),
        cmocka_unit_test_setup_teardown(test_cache_truncate_and_reset, make_cache, destroy_cache),
        cmocka_unit_test_setup_teardown(test_cache_get_lengths, make_cache, destroy_cache),
        cmocka_unit_test_setup_teardown(test_cache_read, make_cache, destroy_cache),
    };
    return cmocka_run_group_tests(tests, make_context, destroy_context);
}
