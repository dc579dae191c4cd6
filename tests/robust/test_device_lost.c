/*
 * A lost device, made with the backend's hook SPARQ_DEBUG_LOSE_DEVICE_AFTER
 * (submissions past the first N act as VK_ERROR_DEVICE_LOST; lavapipe never
 * loses a device). The call that meets the loss and every later call on the
 * context or any of its caches that needs the device return
 * SPARQ_ERROR_DEVICE_LOST with a message, and change no length; the host-side
 * queries (cache_get_lengths, context_get_device_info) still answer;
 * destroying the caches and the context works; a new context then works and
 * matches the float64 reference.
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

#define LOSE_VARIABLE "SPARQ_DEBUG_LOSE_DEVICE_AFTER"

static void assert_lost(sparq_status st, const char *what)
{
    const char *message = harness_api()->last_error();
    if (st != SPARQ_ERROR_DEVICE_LOST)
        fail_msg("%s on a lost device: status %d (%s), expected SPARQ_ERROR_DEVICE_LOST", what, (int)st, message);
    if (!message || !strstr(message, "lost"))
        fail_msg("%s on a lost device: the message \"%s\" does not say so", what, message ? message : "(null)");
}

/* Destroys the harness's (lost or hung) context and creates a new one, so
 * that later tests run on a working device. */
static void renew_context(void)
{
    assert_int_equal(harness_group_teardown(NULL), 0);
    assert_int_equal(harness_group_setup(NULL), 0);
}

/* Every call that needs the device fails; lengths stay as they were. */
static void assert_everything_lost(harness_cache *hc, sparq_ref_rng *rng, const char *label)
{
    const sparq_api *api = harness_api();
    char what[128];
    const uint32_t slot = 0;
    float *k, *v;
    harness_make_kv(hc, rng, 2, &k, &v);
    snprintf(what, sizeof what, "[%s] cache_append", label);
    assert_lost(harness_append(hc, &slot, 1, 2, k, v, SPARQ_DTYPE_F32), what);
    free(k);
    free(v);
    float *q = harness_make_queries(hc, rng, 1, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    for (int mode = 0; mode < 2; mode++) {
        harness_attend a = {.mode = mode ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE, .n_slots = 1,
                            .slots = &slot, .n_heads = 4, .io_dtype = SPARQ_DTYPE_F32, .q = q,
                            .r = 4, .k = 8, .l = 2, .want_selection = mode == 1};
        harness_result res;
        snprintf(what, sizeof what, "[%s] attend (%s)", label, mode ? "sparq" : "dense");
        assert_lost(harness_run(hc, &a, &res), what);
        harness_result_free(&res);
    }
    free(q);
    snprintf(what, sizeof what, "[%s] cache_truncate", label);
    assert_lost(api->cache_truncate(hc->cache, 0, hc->lengths[0] - 1), what);
    assert_lost(api->cache_truncate(hc->cache, 0, hc->lengths[0]), what); /* no work, still refused */
    snprintf(what, sizeof what, "[%s] cache_reset", label);
    assert_lost(api->cache_reset(hc->cache, hc->desc.n_seqs - 1), what);
    float row[2 * 32];
    sparq_read_desc rd = {.struct_size = sizeof rd, .slot = 0, .first = 0, .count = 1, .k = row};
    snprintf(what, sizeof what, "[%s] cache_read", label);
    assert_lost(api->cache_read(hc->cache, &rd), what);
    sparq_cache_desc cd = {.struct_size = sizeof cd, .n_seqs = 1, .n_kv_heads = 1, .head_dim = 8, .capacity = 8};
    sparq_cache *extra = (sparq_cache *)hc;
    snprintf(what, sizeof what, "[%s] cache_create", label);
    assert_lost(api->cache_create(harness_context(), &cd, &extra), what);
    assert_null(extra);
    double bps = -1.0;
    snprintf(what, sizeof what, "[%s] measure_read_bandwidth", label);
    assert_lost(api->measure_read_bandwidth(harness_context(), 1u << 20, 2, &bps), what);
    /* Host-side state still answers, unchanged. */
    harness_check_lengths(hc);
    sparq_device_info info = {.struct_size = sizeof info};
    TEST_SPARQ_OK(api->context_get_device_info(harness_context(), &info));
}

static void test_lost_device(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "lost");
    harness_cache a, b;
    harness_cache_create(&a, &rng, 2, 2, 32, 64, SPARQ_DTYPE_F16);
    harness_cache_create(&b, &rng, 2, 2, 32, 64, SPARQ_DTYPE_F32);
    for (uint32_t s = 0; s < 2; s++) {
        harness_fill(&a, &rng, s, 30 + s, 0, SPARQ_DTYPE_F32);
        harness_fill(&b, &rng, s, 20 + s, 0, SPARQ_DTYPE_F32);
    }
    /* The next submission, an append's, meets the loss. */
    assert_int_equal(setenv(LOSE_VARIABLE, "0", 1), 0);
    const uint32_t slot = 1;
    float *k, *v;
    harness_make_kv(&a, &rng, 3, &k, &v);
    assert_lost(harness_append(&a, &slot, 1, 3, k, v, SPARQ_DTYPE_F32), "the append that meets the loss");
    free(k);
    free(v);
    assert_int_equal(unsetenv(LOSE_VARIABLE), 0);
    harness_check_lengths(&a);
    /* The loss is the context's: both caches see it, also with the hook off. */
    assert_everything_lost(&a, &rng, "cache that met the loss");
    assert_everything_lost(&b, &rng, "other cache of the context");
    harness_cache_destroy(&a);
    harness_cache_destroy(&b);
    /* Destroying the lost context, then a new one: it works. */
    renew_context();
    harness_cache c;
    harness_cache_create(&c, &rng, 2, 2, 32, 64, SPARQ_DTYPE_F16);
    harness_fill(&c, &rng, 1, 40, 0, SPARQ_DTYPE_F32);
    float *q = harness_make_queries(&c, &rng, 1, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    for (int mode = 0; mode < 2; mode++) {
        harness_attend at = {.mode = mode ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE, .n_slots = 1,
                             .slots = &slot, .n_heads = 4, .io_dtype = SPARQ_DTYPE_F32, .q = q,
                             .r = 4, .k = 12, .l = 3, .want_selection = mode == 1};
        harness_run_and_check(&c, &at, "new context after a lost one");
    }
    free(q);
    harness_cache_destroy(&c);
    harness_finish();
}

/* The loss met by an attend, after some submissions went through. */
static void test_lost_during_attend(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "lost in attend");
    harness_cache a;
    harness_cache_create(&a, &rng, 1, 2, 32, 64, SPARQ_DTYPE_F16);
    harness_fill(&a, &rng, 0, 33, 8, SPARQ_DTYPE_F32);
    const uint32_t slot = 0;
    float *q = harness_make_queries(&a, &rng, 1, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    harness_attend at = {.mode = SPARQ_ATTENTION_SPARQ, .n_slots = 1, .slots = &slot, .n_heads = 4,
                         .io_dtype = SPARQ_DTYPE_F32, .q = q, .r = 4, .k = 12, .l = 3, .want_selection = true};
    harness_result before, res;
    TEST_SPARQ_OK(harness_run(&a, &at, &before));
    harness_check(&a, &at, &before, "before the loss"); /* reads the cache back: outside the count */
    assert_int_equal(setenv(LOSE_VARIABLE, "2", 1), 0); /* two attends run, the third meets the loss */
    for (int i = 0; i < 2; i++) {
        TEST_SPARQ_OK(harness_run(&a, &at, &res));
        harness_assert_same_result(&before, &res, "attend before the loss");
        harness_result_free(&res);
    }
    harness_result_free(&before);
    assert_lost(harness_run(&a, &at, &res), "the attend that meets the loss");
    harness_result_free(&res);
    assert_int_equal(unsetenv(LOSE_VARIABLE), 0);
    free(q);
    assert_everything_lost(&a, &rng, "after a lost attend");
    harness_cache_destroy(&a);
    renew_context();
    harness_finish();
}

/* A hung device: an attend whose wait times out (SPARQ_DEBUG_FENCE_TIMEOUT_MS
 * makes lavapipe's slow dense attend look so) reports a lost device, and
 * destroying the cache and the context then waits for the work still
 * running instead of destroying what it uses (validation would say so). */
static void test_hung_attend(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "hung attend");
    harness_cache a;
    harness_cache_create(&a, &rng, 1, 2, 128, 16384, SPARQ_DTYPE_F32);
    harness_fill(&a, &rng, 0, 16384, 0, SPARQ_DTYPE_F32);
    const uint32_t slot = 0;
    float *q = harness_make_queries(&a, &rng, 1, 8, 16, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    harness_attend at = {.mode = SPARQ_ATTENTION_DENSE, .n_slots = 1, .slots = &slot, .n_heads = 8,
                         .io_dtype = SPARQ_DTYPE_F32, .q = q};
    harness_result res;
    assert_int_equal(setenv("SPARQ_DEBUG_FENCE_TIMEOUT_MS", "0", 1), 0);
    const sparq_status st = harness_run(&a, &at, &res);
    assert_int_equal(unsetenv("SPARQ_DEBUG_FENCE_TIMEOUT_MS"), 0);
    assert_lost(st, "the attend whose wait timed out");
    harness_result_free(&res);
    free(q);
    harness_cache_destroy(&a);
    renew_context();
    harness_finish();
}

/* A loss during context_create (its self-test is the first submission). */
static void test_lost_during_context_create(void **state)
{
    (void)state;
    assert_int_equal(setenv(LOSE_VARIABLE, "0", 1), 0);
    sparq_context_desc d = {.struct_size = sizeof d};
    sparq_context *ctx = (sparq_context *)&d;
    sparq_status st = harness_api()->context_create(&d, &ctx);
    assert_int_equal(unsetenv(LOSE_VARIABLE), 0);
    assert_lost(st, "context_create");
    assert_null(ctx);
    TEST_SPARQ_OK(harness_api()->context_create(&d, &ctx));
    TEST_SPARQ_OK(harness_api()->context_destroy(ctx));
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_device),
        cmocka_unit_test(test_lost_during_attend),
        cmocka_unit_test(test_lost_during_context_create),
        cmocka_unit_test(test_hung_attend),
    };
    return cmocka_run_group_tests_name("device_lost", tests, harness_group_setup, harness_group_teardown);
}
