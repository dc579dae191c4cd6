/*
 * The KV cache as a host uses it: appends of any size give the same state,
 * truncation forgets exactly what it drops, the running V sum stays accurate
 * over many appends, overflow is refused without side effects, and one
 * append can feed several slots.
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

/* Both caches' slots hold bit-identical K, V and V sums. */
static void assert_same_slot(const harness_cache *a, uint32_t slot_a, const harness_cache *b, uint32_t slot_b,
                             const char *label)
{
    harness_slot sa, sb;
    harness_read_slot(a, slot_a, &sa);
    harness_read_slot(b, slot_b, &sb);
    assert_int_equal(sa.length, sb.length);
    const size_t n = (size_t)sa.length * harness_row(a);
    if (memcmp(sa.k, sb.k, n * sizeof(float)) != 0)
        fail_msg("[%s] stored K differs", label);
    if (memcmp(sa.v, sb.v, n * sizeof(float)) != 0)
        fail_msg("[%s] stored V differs", label);
    for (size_t i = 0; i < harness_row(a); i++)
        if (memcmp(&sa.v_sum[i], &sb.v_sum[i], sizeof(float)) != 0)
            fail_msg("[%s] v_sum[%zu] differs: %a vs %a (length %u)", label, i, (double)sa.v_sum[i],
                     (double)sb.v_sum[i], sa.length);
    harness_slot_free(&sa);
    harness_slot_free(&sb);
}

/* Dense and SparQ attends on both caches give bit-identical results, and
 * match the reference. */
static void assert_same_attention(const harness_cache *a, const harness_cache *b, const uint32_t *slots,
                                  uint32_t n_slots, uint32_t group, sparq_ref_rng *rng, const char *label)
{
    const uint32_t n_heads = a->desc.n_kv_heads * group;
    float *q = harness_make_queries(a, rng, n_slots, n_heads, 8, F32, SPARQ_REF_FOCUS_NORMAL);
    for (int mode = 0; mode < 2; mode++) {
        harness_attend at = {
            .mode = mode ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
            .n_slots = n_slots,
            .slots = slots,
            .n_heads = n_heads,
            .io_dtype = F32,
            .r = 8,
            .k = 16,
            .l = 4,
            .q = q,
            .want_selection = mode == 1,
        };
        harness_result ra, rb;
        TEST_SPARQ_OK(harness_run(a, &at, &ra));
        TEST_SPARQ_OK(harness_run(b, &at, &rb));
        harness_assert_same_result(&ra, &rb, label);
        harness_check(a, &at, &ra, label);
        harness_result_free(&ra);
        harness_result_free(&rb);
    }
    free(q);
}

static void test_bulk_append_equals_single_token_appends(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "bulk vs single");
    const sparq_dtype storages[2] = {F16, F32};
    const uint32_t counts[2] = {160, 70};
    for (int st = 0; st < 2; st++) {
        const uint32_t n = counts[st], slot = 1;
        harness_cache bulk, single;
        harness_cache_create(&bulk, &rng, 2, 2, 64, 200, storages[st]);
        harness_cache_create(&single, &rng, 2, 2, 64, 200, storages[st]);
        float *k, *v;
        harness_make_kv(&bulk, &rng, n, &k, &v);
        TEST_SPARQ_OK(harness_append(&bulk, &slot, 1, n, k, v, F32));
        /* Mostly one token per call; the tail in uneven chunks. */
        const size_t row = harness_row(&bulk);
        uint32_t done = 0, chunk = 1;
        while (done < n) {
            uint32_t take = done < n - 20 ? 1 : chunk++;
            if (take > n - done)
                take = n - done;
            TEST_SPARQ_OK(harness_append(&single, &slot, 1, take, k + done * row, v + done * row, F32));
            done += take;
        }
        harness_check_lengths(&bulk);
        harness_check_lengths(&single);
        assert_same_slot(&bulk, slot, &single, slot, storages[st] == F16 ? "bulk vs single, f16" : "bulk vs single, f32");
        const uint32_t slots[1] = {slot};
        assert_same_attention(&bulk, &single, slots, 1, 4, &rng, "bulk vs single attention");
        free(k);
        free(v);
        harness_cache_destroy(&bulk);
        harness_cache_destroy(&single);
    }
    harness_finish();
}

static void test_truncate_then_append_equals_never_appended(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "truncate");
    const uint32_t slot = 2;
    harness_cache edited, clean;
    harness_cache_create(&edited, &rng, 3, 1, 128, 400, F16);
    harness_cache_create(&clean, &rng, 3, 1, 128, 400, F16);
    const size_t row = harness_row(&edited);

    float *x, *xv, *y, *yv, *z, *zv;
    harness_make_kv(&edited, &rng, 150, &x, &xv);
    harness_make_kv(&edited, &rng, 100, &y, &yv);
    harness_make_kv(&edited, &rng, 60, &z, &zv);
    /* edited: X (in blocks of 64), Y, cut back to X, Z. clean: X (same blocks), Z. */
    for (uint32_t done = 0; done < 150; done += 64) {
        uint32_t take = 150 - done < 64 ? 150 - done : 64;
        TEST_SPARQ_OK(harness_append(&edited, &slot, 1, take, x + done * row, xv + done * row, F32));
        TEST_SPARQ_OK(harness_append(&clean, &slot, 1, take, x + done * row, xv + done * row, F32));
    }
    TEST_SPARQ_OK(harness_append(&edited, &slot, 1, 100, y, yv, F32));
    TEST_SPARQ_OK(harness_api()->cache_truncate(edited.cache, slot, 150));
    edited.lengths[slot] = 150;
    harness_check_lengths(&edited);
    assert_same_slot(&edited, slot, &clean, slot, "truncated to what it had");
    TEST_SPARQ_OK(harness_append(&edited, &slot, 1, 60, z, zv, F32));
    TEST_SPARQ_OK(harness_append(&clean, &slot, 1, 60, z, zv, F32));
    assert_same_slot(&edited, slot, &clean, slot, "truncate then append");
    const uint32_t slots[1] = {slot};
    assert_same_attention(&edited, &clean, slots, 1, 2, &rng, "truncate then append attention");

    /* Cutting inside an earlier append: keep 97 of X, as if only 64 + 33 had come. */
    harness_cache fresh;
    harness_cache_create(&fresh, &rng, 3, 1, 128, 400, F16);
    TEST_SPARQ_OK(harness_api()->cache_truncate(edited.cache, slot, 97));
    edited.lengths[slot] = 97;
    TEST_SPARQ_OK(harness_append(&fresh, &slot, 1, 64, x, xv, F32));
    TEST_SPARQ_OK(harness_append(&fresh, &slot, 1, 33, x + 64 * row, xv + 64 * row, F32));
    assert_same_slot(&edited, slot, &fresh, slot, "truncate inside an append");
    TEST_SPARQ_OK(harness_append(&edited, &slot, 1, 5, z, zv, F32));
    TEST_SPARQ_OK(harness_append(&fresh, &slot, 1, 5, z, zv, F32));
    assert_same_attention(&edited, &fresh, slots, 1, 2, &rng, "truncate inside an append, attention");

    /* Growing by truncation is refused and changes nothing. */
    assert_int_not_equal(harness_api()->cache_truncate(edited.cache, slot, 103), SPARQ_SUCCESS);
    assert_int_not_equal(harness_api()->cache_truncate(edited.cache, 3, 0), SPARQ_SUCCESS); /* no such slot */
    harness_check_lengths(&edited);
    assert_same_slot(&edited, slot, &fresh, slot, "refused truncate");

    /* Truncate to the same length is a no-op; to 0 and reset both empty the slot. */
    TEST_SPARQ_OK(harness_api()->cache_truncate(edited.cache, slot, 102));
    assert_same_slot(&edited, slot, &fresh, slot, "truncate to own length");
    TEST_SPARQ_OK(harness_api()->cache_truncate(edited.cache, slot, 0));
    edited.lengths[slot] = 0;
    TEST_SPARQ_OK(harness_api()->cache_reset(fresh.cache, slot));
    fresh.lengths[slot] = 0;
    harness_check_lengths(&edited);
    harness_check_lengths(&fresh);
    assert_same_slot(&edited, slot, &fresh, slot, "emptied");
    TEST_SPARQ_OK(harness_append(&edited, &slot, 1, 40, y, yv, F32));
    TEST_SPARQ_OK(harness_append(&fresh, &slot, 1, 40, y, yv, F32));
    harness_cache never;
    harness_cache_create(&never, &rng, 3, 1, 128, 400, F16);
    TEST_SPARQ_OK(harness_append(&never, &slot, 1, 40, y, yv, F32));
    assert_same_slot(&edited, slot, &never, slot, "refilled after truncate to 0");
    assert_same_slot(&fresh, slot, &never, slot, "refilled after reset");
    assert_same_attention(&edited, &never, slots, 1, 2, &rng, "refilled attention");

    free(x);
    free(xv);
    free(y);
    free(yv);
    free(z);
    free(zv);
    harness_cache_destroy(&never);
    harness_cache_destroy(&fresh);
    harness_cache_destroy(&edited);
    harness_cache_destroy(&clean);
    harness_finish();
}

/* After 10,000 appends (blocks, with single tokens between them) v_sum / S
 * is still the mean of the stored V. An fp32 running sum of 10^4 terms of
 * similar size keeps about 5 digits; a dropped or doubled token moves the
 * mean by ~1e-4 relative, so 2e-5 catches those too. */
static void test_running_mean_after_many_appends(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "running mean");
    const sparq_dtype storages[2] = {F32, F16};
    const uint32_t total = 10000, dh = 16;
    for (int st = 0; st < 2; st++) {
        harness_cache hc;
        harness_cache_create(&hc, &rng, 1, 1, dh, 10240, storages[st]);
        const uint32_t slot = 0;
        while (hc.lengths[slot] < total) {
            uint32_t block = 493 + sparq_ref_rng_below(&rng, 200);
            if (block > total - hc.lengths[slot])
                block = total - hc.lengths[slot];
            harness_fill(&hc, &rng, slot, hc.lengths[slot] + block, block, F32);
            for (int single = 0; single < 3 && hc.lengths[slot] < total; single++)
                harness_fill(&hc, &rng, slot, hc.lengths[slot] + 1, 1, F32);
        }
        harness_check_lengths(&hc);
        harness_slot s;
        harness_read_slot(&hc, slot, &s);
        double mean[16];
        float got[16];
        for (uint32_t i = 0; i < dh; i++) {
            mean[i] = 0.0;
            for (uint32_t t = 0; t < total; t++)
                mean[i] += s.v[(size_t)t * dh + i];
            mean[i] /= total;
            got[i] = s.v_sum[i] / (float)total;
        }
        double err = sparq_ref_rel_l2_error(got, mean, dh);
        print_message("running mean after %u appends (%s storage): relative L2 error %.3g\n", total,
                      storages[st] == F32 ? "f32" : "f16", err);
        if (!(err <= 2e-5))
            fail_msg("v_sum / S differs from the float64 mean of stored V by %.3g (tolerance 2e-5)", err);
        harness_slot_free(&s);

        /* The long slot still attends correctly, flat attention leaning on the mean. */
        float *q = harness_make_queries(&hc, &rng, 1, 4, 2, F32, SPARQ_REF_FOCUS_FLAT);
        const uint32_t slots[1] = {slot};
        harness_attend a = {
            .mode = SPARQ_ATTENTION_DENSE, .n_slots = 1, .slots = slots, .n_heads = 4, .io_dtype = F32, .q = q};
        harness_run_and_check(&hc, &a, "dense over 10k positions");
        a.mode = SPARQ_ATTENTION_SPARQ;
        a.r = 2;
        a.k = 64;
        a.l = 16;
        a.want_selection = true;
        harness_run_and_check(&hc, &a, "sparq over 10k positions");
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

typedef struct snapshot {
    harness_slot slots[2];
    harness_result dense, sparse;
} snapshot;

static void take_snapshot(const harness_cache *hc, const float *q, snapshot *snap)
{
    const uint32_t slots[2] = {0, 1};
    for (uint32_t s = 0; s < 2; s++)
        harness_read_slot(hc, s, &snap->slots[s]);
    harness_attend a = {
        .mode = SPARQ_ATTENTION_DENSE, .n_slots = 2, .slots = slots, .n_heads = 4, .io_dtype = F32, .q = q};
    TEST_SPARQ_OK(harness_run(hc, &a, &snap->dense));
    a.mode = SPARQ_ATTENTION_SPARQ;
    a.r = 8;
    a.k = 16;
    a.l = 4;
    a.want_selection = true;
    TEST_SPARQ_OK(harness_run(hc, &a, &snap->sparse));
    harness_check(hc, &a, &snap->sparse, "capacity snapshot");
}

static void assert_same_snapshot(const snapshot *a, const snapshot *b, const char *label)
{
    for (int s = 0; s < 2; s++) {
        assert_int_equal(a->slots[s].length, b->slots[s].length);
        if (memcmp(a->slots[s].v_sum, b->slots[s].v_sum, 64 * sizeof(float)) != 0 ||
            memcmp(a->slots[s].k, b->slots[s].k, (size_t)a->slots[s].length * 64 * sizeof(float)) != 0 ||
            memcmp(a->slots[s].v, b->slots[s].v, (size_t)a->slots[s].length * 64 * sizeof(float)) != 0)
            fail_msg("[%s] slot %d changed", label, s);
    }
    harness_assert_same_result(&a->dense, &b->dense, label);
    harness_assert_same_result(&a->sparse, &b->sparse, label);
}

static void free_snapshot(snapshot *snap)
{
    for (int s = 0; s < 2; s++)
        harness_slot_free(&snap->slots[s]);
    harness_result_free(&snap->dense);
    harness_result_free(&snap->sparse);
}

static void expect_refused(harness_cache *hc, const uint32_t *slots, uint32_t n_slots, uint32_t n_tokens,
                           sparq_ref_rng *rng)
{
    float *k, *v;
    harness_make_kv(hc, rng, (size_t)n_slots * n_tokens, &k, &v);
    sparq_status status = harness_append(hc, slots, n_slots, n_tokens, k, v, F32);
    if (status != SPARQ_ERROR_CAPACITY_EXCEEDED)
        fail_msg("append of %u tokens past capacity %u returned %d, expected SPARQ_ERROR_CAPACITY_EXCEEDED",
                 n_tokens, hc->desc.capacity, (int)status);
    const char *why = harness_api()->last_error();
    assert_non_null(why);
    assert_true(why[0] != '\0');
    free(k);
    free(v);
}

static void test_capacity_overflow_is_refused(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "capacity");
    harness_cache hc;
    harness_cache_create(&hc, &rng, 2, 1, 64, 64, F16);
    harness_fill(&hc, &rng, 0, 60, 0, F32);
    harness_fill(&hc, &rng, 1, 10, 0, F32);
    float *q = harness_make_queries(&hc, &rng, 2, 4, 8, F32, SPARQ_REF_FOCUS_PEAKED);
    snapshot before, after;
    take_snapshot(&hc, q, &before);

    const uint32_t slot0[1] = {0}, both[2] = {1, 0};
    expect_refused(&hc, slot0, 1, 5, &rng);
    expect_refused(&hc, slot0, 1, 5000, &rng);
    /* All or nothing: slot 1 has room, slot 0 has not. */
    expect_refused(&hc, both, 2, 5, &rng);
    harness_check_lengths(&hc);
    take_snapshot(&hc, q, &after);
    assert_same_snapshot(&before, &after, "after refused appends");
    free_snapshot(&after);

    /* Exactly full is fine; one more is not. */
    harness_fill(&hc, &rng, 0, 64, 4, F32);
    expect_refused(&hc, slot0, 1, 1, &rng);
    harness_check_lengths(&hc);
    harness_attend a = {
        .mode = SPARQ_ATTENTION_DENSE, .n_slots = 2, .slots = both, .n_heads = 4, .io_dtype = F32, .q = q};
    harness_run_and_check(&hc, &a, "full slot, dense");

    /* Capacity 1. */
    harness_cache tiny;
    harness_cache_create(&tiny, &rng, 1, 1, 8, 1, F32);
    harness_fill(&tiny, &rng, 0, 1, 0, F32);
    const uint32_t only[1] = {0};
    expect_refused(&tiny, only, 1, 1, &rng);
    harness_check_lengths(&tiny);
    float *tq = harness_make_queries(&tiny, &rng, 1, 2, 1, F32, SPARQ_REF_FOCUS_NORMAL);
    harness_attend t = {.mode = SPARQ_ATTENTION_SPARQ, .n_slots = 1, .slots = only, .n_heads = 2, .io_dtype = F32,
                        .q = tq, .r = 1, .k = 1, .l = 1, .want_selection = true};
    harness_run_and_check(&tiny, &t, "capacity 1");
    free(tq);
    harness_cache_destroy(&tiny);

    free_snapshot(&before);
    free(q);
    harness_cache_destroy(&hc);
    harness_finish();
}

static void test_multi_slot_append(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "multi slot");
    harness_cache together, apart;
    harness_cache_create(&together, &rng, 4, 2, 64, 64, F32);
    harness_cache_create(&apart, &rng, 4, 2, 64, 64, F32);
    const size_t row = harness_row(&together);
    const uint32_t order[3] = {2, 0, 3};
    for (int step = 0; step < 20; step++) {
        float *k, *v;
        harness_make_kv(&together, &rng, 3, &k, &v);
        TEST_SPARQ_OK(harness_append(&together, order, 3, 1, k, v, F32));
        for (uint32_t s = 0; s < 3; s++)
            TEST_SPARQ_OK(harness_append(&apart, &order[s], 1, 1, k + s * row, v + s * row, F32));
        free(k);
        free(v);
    }
    /* Several tokens into several slots: [n_slots][n_tokens][...] layout. */
    const uint32_t pair[2] = {3, 1};
    float *k, *v;
    harness_make_kv(&together, &rng, 2 * 3, &k, &v);
    TEST_SPARQ_OK(harness_append(&together, pair, 2, 3, k, v, F16));
    TEST_SPARQ_OK(harness_append(&apart, &pair[0], 1, 3, k, v, F16));
    TEST_SPARQ_OK(harness_append(&apart, &pair[1], 1, 3, k + 3 * row, v + 3 * row, F16));

    /* Bad slot lists are refused and change nothing. */
    const uint32_t repeated[2] = {1, 1}, outside[2] = {0, 4};
    assert_int_not_equal(harness_append(&together, repeated, 2, 1, k, v, F32), SPARQ_SUCCESS);
    assert_int_not_equal(harness_append(&together, outside, 2, 1, k, v, F32), SPARQ_SUCCESS);
    free(k);
    free(v);

    harness_check_lengths(&together);
    harness_check_lengths(&apart);
    for (uint32_t s = 0; s < 4; s++)
        assert_same_slot(&together, s, &apart, s, "multi-slot append vs one slot at a time");
    const uint32_t all[4] = {0, 1, 2, 3};
    assert_same_attention(&together, &apart, all, 4, 4, &rng, "multi-slot append attention");
    harness_cache_destroy(&together);
    harness_cache_destroy(&apart);
    harness_finish();
}

/* A cache whose K, Kt and V buffers are larger than the device's
 * maxStorageBufferRange, with the data of interest past that range: the
 * last slot's last KV head starts (n_seqs * n_kv_heads - 1) head blocks in. */
static void test_cache_beyond_storage_buffer_range(void **state)
{
    (void)state;
    sparq_device_info info = {.struct_size = sizeof info};
    TEST_SPARQ_OK(harness_api()->context_get_device_info(harness_context(), &info));
    sparq_ref_rng rng;
    harness_rng(&rng, "beyond range");
    const uint32_t n_seqs = 4, n_kv = 8, dh = 64, last = n_seqs - 1;
    const sparq_dtype storages[2] = {F32, F16};
    for (int st = 0; st < 2; st++) {
        const uint64_t elem = storages[st] == F32 ? 4 : 2;
        const uint64_t blocks_before = (uint64_t)n_seqs * n_kv - 1;
        uint64_t capacity = info.max_storage_buffer_range / (blocks_before * dh * elem) + 64;
        if (capacity > SPARQ_MAX_CAPACITY) {
            print_message("maxStorageBufferRange %llu is beyond what one cache can exceed here; skipped\n",
                          (unsigned long long)info.max_storage_buffer_range);
            skip();
        }
        /* Under SPARQ_DEBUG_MAX_ALLOCATION (the segmented variant) a slot must
         * fit one allocation; on devices with a 4 GiB range it cannot, and the
         * unsegmented variant covers them. */
        const char *cap_env = getenv("SPARQ_DEBUG_MAX_ALLOCATION");
        const uint64_t slot_bytes = capacity * n_kv * dh * elem;
        if (cap_env && slot_bytes > strtoull(cap_env, NULL, 10)) {
            print_message("one slot's %llu bytes exceed SPARQ_DEBUG_MAX_ALLOCATION=%s; skipped\n",
                          (unsigned long long)slot_bytes, cap_env);
            skip();
        }
        print_message("cache of %llu bytes per K buffer, maxStorageBufferRange %llu (%s storage)\n",
                      (unsigned long long)(capacity * n_seqs * n_kv * dh * elem),
                      (unsigned long long)info.max_storage_buffer_range, storages[st] == F32 ? "f32" : "f16");
        harness_cache hc;
        harness_cache_create(&hc, &rng, n_seqs, n_kv, dh, (uint32_t)capacity, storages[st]);
        harness_fill(&hc, &rng, 0, 20, 0, F32);
        harness_fill(&hc, &rng, last, 300, 0, F32);
        const uint32_t slots[2] = {last, 0};
        float *q = harness_make_queries(&hc, &rng, 2, n_kv, 8, F32, SPARQ_REF_FOCUS_PEAKED);
        harness_attend a = {
            .mode = SPARQ_ATTENTION_DENSE, .n_slots = 2, .slots = slots, .n_heads = n_kv, .io_dtype = F32, .q = q};
        harness_run_and_check(&hc, &a, "dense beyond maxStorageBufferRange");
        a.mode = SPARQ_ATTENTION_SPARQ;
        a.r = 8;
        a.k = 32;
        a.l = 8;
        a.want_selection = true;
        harness_run_and_check(&hc, &a, "sparq beyond maxStorageBufferRange");
        /* Truncation recomputes the V sum from data past the range too. */
        TEST_SPARQ_OK(harness_api()->cache_truncate(hc.cache, last, 250));
        hc.lengths[last] = 250;
        harness_slot slot;
        harness_read_slot(&hc, last, &slot);
        harness_slot_free(&slot);
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_append_equals_single_token_appends),
        cmocka_unit_test(test_truncate_then_append_equals_never_appended),
        cmocka_unit_test(test_running_mean_after_many_appends),
        cmocka_unit_test(test_capacity_overflow_is_refused),
        cmocka_unit_test(test_multi_slot_append),
        cmocka_unit_test(test_cache_beyond_storage_buffer_range),
    };
    return cmocka_run_group_tests_name("kv cache", tests, harness_group_setup, harness_group_teardown);
}
