/*
 * Out of memory: every allocation that cache_create, context_create,
 * cache_append and attend (scratch growth) make is failed in turn through the
 * backend's fault hook SPARQ_DEBUG_FAIL_ALLOCATION_AFTER (docs/RELIABILITY.md).
 * Each failure must return an out-of-memory status with a message, hand out
 * no object, change no length, and leave every cache as it was: the caches
 * made before give bit-identical attention afterwards and still match the
 * float64 reference. Leaks are the sanitizer run's to find (.ci/sanitize).
 * And once warm, decode steps allocate nothing at all.
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

#define FAULT_VARIABLE "SPARQ_DEBUG_FAIL_ALLOCATION_AFTER"
/* Far more failure points than any call has: a loop that reaches it means
 * the hook does nothing, which must fail the test rather than pass it. */
#define MAX_POINTS 64u

/* Arms the hook: the first `pass` allocations succeed, then `fail` fail
 * (0 = all later ones). */
static void arm(uint32_t pass, uint32_t fail)
{
    char value[32];
    if (fail)
        snprintf(value, sizeof value, "%u,%u", pass, fail);
    else
        snprintf(value, sizeof value, "%u", pass);
    assert_int_equal(setenv(FAULT_VARIABLE, value, 1), 0);
}

static void disarm(void)
{
    assert_int_equal(unsetenv(FAULT_VARIABLE), 0);
}

static void assert_out_of_memory(sparq_status st, const char *what, uint32_t point)
{
    const char *message = harness_api()->last_error();
    if (st != SPARQ_ERROR_OUT_OF_HOST_MEMORY && st != SPARQ_ERROR_OUT_OF_DEVICE_MEMORY)
        fail_msg("%s with allocation %u failing: status %d (%s), expected out of host/device memory", what, point,
                 (int)st, message);
    if (!message || !*message)
        fail_msg("%s with allocation %u failing: no message", what, point);
}

/* A reference cache with content and the results it gives, to compare with
 * after every injected failure. */
typedef struct witness {
    harness_cache hc;
    float *q;
    harness_attend dense, sparq;
    harness_result dense_result, sparq_result;
    uint32_t slots[2];
} witness;

static void witness_make(witness *w, sparq_ref_rng *rng)
{
    harness_cache_create(&w->hc, rng, 2, 2, 32, 96, SPARQ_DTYPE_F16);
    harness_fill(&w->hc, rng, 0, 70, 32, SPARQ_DTYPE_F32);
    harness_fill(&w->hc, rng, 1, 45, 0, SPARQ_DTYPE_F32);
    w->slots[0] = 0;
    w->slots[1] = 1;
    w->q = harness_make_queries(&w->hc, rng, 2, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    w->dense = (harness_attend){.mode = SPARQ_ATTENTION_DENSE, .n_slots = 2, .slots = w->slots, .n_heads = 4,
                                .io_dtype = SPARQ_DTYPE_F32, .q = w->q};
    w->sparq = w->dense;
    w->sparq.mode = SPARQ_ATTENTION_SPARQ;
    w->sparq.r = 4;
    w->sparq.k = 16;
    w->sparq.l = 4;
    w->sparq.want_selection = true;
    TEST_SPARQ_OK(harness_run(&w->hc, &w->dense, &w->dense_result));
    harness_check(&w->hc, &w->dense, &w->dense_result, "witness dense");
    TEST_SPARQ_OK(harness_run(&w->hc, &w->sparq, &w->sparq_result));
    harness_check(&w->hc, &w->sparq, &w->sparq_result, "witness sparq");
}

/* After the witness itself changed: its new results, checked. */
static void witness_rerun(witness *w)
{
    harness_result_free(&w->dense_result);
    harness_result_free(&w->sparq_result);
    TEST_SPARQ_OK(harness_run(&w->hc, &w->dense, &w->dense_result));
    harness_check(&w->hc, &w->dense, &w->dense_result, "witness dense");
    TEST_SPARQ_OK(harness_run(&w->hc, &w->sparq, &w->sparq_result));
    harness_check(&w->hc, &w->sparq, &w->sparq_result, "witness sparq");
}

/* The witness still holds what it held and computes what it computed. */
static void witness_check(const witness *w, const char *label)
{
    harness_check_lengths(&w->hc);
    harness_result again;
    TEST_SPARQ_OK(harness_run(&w->hc, &w->dense, &again));
    harness_assert_same_result(&w->dense_result, &again, label);
    harness_result_free(&again);
    TEST_SPARQ_OK(harness_run(&w->hc, &w->sparq, &again));
    harness_assert_same_result(&w->sparq_result, &again, label);
    harness_result_free(&again);
}

static void witness_free(witness *w)
{
    harness_result_free(&w->dense_result);
    harness_result_free(&w->sparq_result);
    free(w->q);
    harness_cache_destroy(&w->hc);
}

static void test_cache_larger_than_the_device(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "too large");
    witness w;
    witness_make(&w, &rng);
    sparq_device_info info = {.struct_size = sizeof info};
    TEST_SPARQ_OK(harness_api()->context_get_device_info(harness_context(), &info));
    /* 65535 slots of 8 MiB per array: 1.5 TiB, more than any device has. */
    sparq_cache_desc d = {.struct_size = sizeof d, .n_seqs = 65535, .n_kv_heads = 8, .head_dim = 128,
                          .capacity = 4096};
    assert_true(3.0 * 65535 * 8 * 4096 * 128 * 2 > (double)info.device_local_bytes);
    sparq_cache *c = (sparq_cache *)&w; /* must be overwritten with NULL */
    sparq_status st = harness_api()->cache_create(harness_context(), &d, &c);
    assert_int_equal(st, SPARQ_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_null(c);
    printf("too large: %s\n", harness_api()->last_error());
    witness_check(&w, "after a cache too large");
    witness_free(&w);
    harness_finish();
}

/* Fails allocation `point` (once, or it and all later ones) of cache_create
 * for every point until the call needs no more; returns the count. */
static uint32_t every_cache_create_point(const witness *w, bool persistent)
{
    sparq_cache_desc d = {.struct_size = sizeof d, .n_seqs = 3, .n_kv_heads = 2, .head_dim = 32, .capacity = 64};
    for (uint32_t point = 0; point < MAX_POINTS; point++) {
        sparq_cache *c = (sparq_cache *)w;
        arm(point, persistent ? 0 : 1);
        sparq_status st = harness_api()->cache_create(harness_context(), &d, &c);
        disarm();
        if (st == SPARQ_SUCCESS) {
            assert_non_null(c);
            TEST_SPARQ_OK(harness_api()->cache_destroy(c));
            return point;
        }
        assert_out_of_memory(st, "cache_create", point);
        assert_null(c);
        witness_check(w, "after a failed cache_create");
    }
    fail_msg("cache_create still failed with %u allocations allowed", MAX_POINTS);
    return 0;
}

static void test_cache_create_every_point(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "cache_create points");
    witness w;
    witness_make(&w, &rng);
    const uint32_t points = every_cache_create_point(&w, true);
    assert_int_equal(every_cache_create_point(&w, false), points);
    /* host blocks, K/Kt/V, V sum, stream, its first command buffer */
    assert_true(points >= 8);
    printf("cache_create: %u allocation points, each failed once and from there on\n", points);
    witness_free(&w);
    harness_finish();
}

/* Several caches made while memory runs out part-way: those made before
 * work; those after fail cleanly; once memory is back, new ones work. */
static void test_running_out_while_creating_several(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "several");
    witness w;
    witness_make(&w, &rng);
    /* Allocations one cache_create of this shape makes. */
    sparq_cache_desc d = {.struct_size = sizeof d, .n_seqs = 3, .n_kv_heads = 2, .head_dim = 32, .capacity = 64};
    const uint32_t per_cache = every_cache_create_point(&w, true);
    for (uint32_t extra = 0; extra < per_cache; extra += 3) {
        sparq_cache *made[4] = {NULL, NULL, NULL, NULL};
        arm(2 * per_cache + extra, 0);
        sparq_status st[4];
        for (int i = 0; i < 4; i++)
            st[i] = harness_api()->cache_create(harness_context(), &d, &made[i]);
        disarm();
        for (int i = 0; i < 4; i++) {
            if (i < 2) {
                TEST_SPARQ_OK(st[i]);
                assert_non_null(made[i]);
            } else {
                assert_out_of_memory(st[i], "the third or fourth cache_create", 2 * per_cache + extra);
                assert_null(made[i]);
            }
        }
        for (int i = 0; i < 2; i++)
            TEST_SPARQ_OK(harness_api()->cache_destroy(made[i]));
        witness_check(&w, "after running out part-way");
    }
    /* A cache made just before memory runs out is usable: fill and check it. */
    arm(per_cache, 0);
    harness_cache first;
    harness_cache_create(&first, &rng, 2, 2, 32, 64, SPARQ_DTYPE_F16);
    sparq_cache *late = (sparq_cache *)&w; /* must be overwritten with NULL */
    sparq_status st = harness_api()->cache_create(harness_context(), &d, &late);
    disarm();
    assert_out_of_memory(st, "cache_create past the limit", per_cache);
    assert_null(late);
    harness_fill(&first, &rng, 1, 50, 0, SPARQ_DTYPE_F32);
    const uint32_t slot = 1;
    float *q = harness_make_queries(&first, &rng, 1, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    harness_attend a = {.mode = SPARQ_ATTENTION_SPARQ, .n_slots = 1, .slots = &slot, .n_heads = 4,
                        .io_dtype = SPARQ_DTYPE_F32, .q = q, .r = 4, .k = 12, .l = 3, .want_selection = true};
    harness_run_and_check(&first, &a, "cache made just before memory ran out");
    free(q);
    harness_cache_destroy(&first);
    witness_check(&w, "at the end");
    witness_free(&w);
    harness_finish();
}

static unsigned context_errors;

static void count_errors(void *user, sparq_severity severity, const char *message)
{
    (void)user;
    if (severity >= SPARQ_SEVERITY_ERROR) {
        context_errors++;
        fprintf(stderr, "context error: %s\n", message);
    }
}

static void test_context_create_every_point(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "context_create points");
    witness w;
    witness_make(&w, &rng);
    const sparq_context_desc d = {.struct_size = sizeof d, .flags = SPARQ_CONTEXT_ENABLE_VALIDATION,
                                  .message_callback = count_errors};
    uint32_t point = 0;
    for (uint32_t trial = 0;; trial++) {
        point = trial / 2;
        if (point == MAX_POINTS)
            fail_msg("context_create still failed with %u allocations allowed", MAX_POINTS);
        sparq_context *ctx = (sparq_context *)&w;
        arm(point, trial % 2); /* allocation `point` and all later ones fail; then only it */
        sparq_status st = harness_api()->context_create(&d, &ctx);
        disarm();
        if (st == SPARQ_SUCCESS) {
            TEST_SPARQ_OK(harness_api()->context_destroy(ctx));
            break;
        }
        assert_out_of_memory(st, "context_create", point);
        assert_null(ctx);
    }
    assert_true(point >= 4); /* context block, stream, self-test buffer, pipeline */
    assert_int_equal(context_errors, 0);
    printf("context_create: %u allocation points\n", point);
    witness_check(&w, "after failed context_create");
    witness_free(&w);
    harness_finish();
}

/* The loops below fail allocation `point` and every later one, then only
 * allocation `point`, for point = 0, 1, ... until the call succeeds. A failed
 * call may keep buffers it grew (that is allowed), so a later trial can need
 * fewer allocations; trying both ways at each point still reaches every
 * allocation the call makes. */

/* Every point of one append, on a witness cache; then a multi-piece append
 * (uploads go in pieces of 16 MiB) failed between its pieces, which had
 * already added the first piece's V to the running sums. */
static uint32_t append_every_point(harness_cache *hc, sparq_ref_rng *rng, const uint32_t *slots, uint32_t n_slots,
                               uint32_t n_tokens, const witness *w, const char *label)
{
    float *k, *v;
    harness_make_kv(hc, rng, (size_t)n_slots * n_tokens, &k, &v);
    harness_slot before[64];
    assert_true(n_slots <= 64);
    for (uint32_t i = 0; i < n_slots; i++)
        harness_read_slot(hc, slots[i], &before[i]);
    uint32_t point = 0, failed = 0;
    for (uint32_t trial = 0;; trial++, failed++) {
        point = trial / 2;
        if (point == MAX_POINTS)
            fail_msg("[%s] append still failed with %u allocations allowed", label, MAX_POINTS);
        arm(point, trial % 2);
        sparq_status st = harness_append(hc, slots, n_slots, n_tokens, k, v, SPARQ_DTYPE_F32);
        disarm();
        if (st == SPARQ_SUCCESS)
            break;
        assert_out_of_memory(st, label, point);
        harness_check_lengths(hc);
        for (uint32_t i = 0; i < n_slots; i++) {
            harness_slot now;
            harness_read_slot(hc, slots[i], &now); /* checks K, V against what was appended */
            if (memcmp(now.v_sum, before[i].v_sum, harness_row(hc) * sizeof(float)) != 0)
                fail_msg("[%s] allocation %u failing: the V sum of slot %u changed", label, point, slots[i]);
            harness_slot_free(&now);
        }
        if (w)
            witness_check(w, label);
    }
    for (uint32_t i = 0; i < n_slots; i++)
        harness_slot_free(&before[i]);
    printf("%s: %u failed calls, succeeded with %u allocations allowed\n", label, failed, point);
    free(k);
    free(v);
    return failed;
}

static void test_append_every_point(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "append points");
    witness w;
    witness_make(&w, &rng);
    /* a fresh cache: its first append grows the upload buffer and may build pipelines */
    harness_cache hc;
    harness_cache_create(&hc, &rng, 2, 2, 32, 96, SPARQ_DTYPE_F32);
    harness_fill(&hc, &rng, 1, 20, 0, SPARQ_DTYPE_F32);
    const uint32_t slots[2] = {1, 0};
    append_every_point(&hc, &rng, slots, 2, 30, &w, "append");
    append_every_point(&w.hc, &rng, slots, 1, 3, NULL, "append to the witness");
    witness_rerun(&w);
    harness_cache_destroy(&hc);

    /* 32 slots x 4 KV heads x head_dim 256: 256 KiB per token, so 100
     * tokens go in two pieces of 64 and 36, the sums staged in between. */
    harness_cache big;
    harness_cache_create(&big, &rng, 32, 4, 256, 256, SPARQ_DTYPE_F16);
    uint32_t all[32];
    for (uint32_t i = 0; i < 32; i++)
        all[i] = i;
    float *k, *v;
    harness_make_kv(&big, &rng, 32 * 5, &k, &v);
    TEST_SPARQ_OK(harness_append(&big, all, 32, 5, k, v, SPARQ_DTYPE_F32));
    free(k);
    free(v);
    /* On a fresh cache the staging and upload buffers grow first. */
    assert_true(append_every_point(&big, &rng, all, 32, 100, NULL, "append in two pieces, growing") >= 4);
    /* Grown now: the only points left are recording the first piece and
     * recording the second, after the first was submitted. */
    assert_true(append_every_point(&big, &rng, all, 32, 100, NULL, "append in two pieces") >= 4);
    const uint32_t slot = 7;
    float *q = harness_make_queries(&big, &rng, 1, 8, 32, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    harness_attend a = {.mode = SPARQ_ATTENTION_SPARQ, .n_slots = 1, .slots = &slot, .n_heads = 8,
                        .io_dtype = SPARQ_DTYPE_F32, .q = q, .r = 32, .k = 20, .l = 4, .want_selection = true};
    harness_run_and_check(&big, &a, "after the two-piece append");
    free(q);
    harness_cache_destroy(&big);
    witness_check(&w, "at the end");
    witness_free(&w);
    harness_finish();
}

static void test_attend_scratch_growth_every_point(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "attend points");
    witness w;
    witness_make(&w, &rng);
    /* More slot entries and a larger k than the witness's own runs: the
     * upload, scratch and read-back buffers must grow. */
    uint32_t slots[256];
    for (uint32_t i = 0; i < 256; i++)
        slots[i] = (i * 7 + 3) % 5 % 2;
    float *q = harness_make_queries(&w.hc, &rng, 256, 4, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
    for (int mode = 0; mode < 2; mode++) {
        harness_attend a = {.mode = mode ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE, .n_slots = 256,
                            .slots = slots, .n_heads = 4, .io_dtype = SPARQ_DTYPE_F32, .q = q,
                            .r = 4, .k = 60, .l = 8, .want_selection = mode == 1};
        uint32_t point = 0, failed = 0;
        for (uint32_t trial = 0;; trial++, failed++) {
            point = trial / 2;
            if (point == MAX_POINTS)
                fail_msg("attend still failed with %u allocations allowed", MAX_POINTS);
            harness_result res;
            arm(point, trial % 2);
            sparq_status st = harness_run(&w.hc, &a, &res);
            disarm();
            if (st == SPARQ_SUCCESS) {
                harness_check(&w.hc, &a, &res, mode ? "grown sparq" : "grown dense");
                harness_result_free(&res);
                break;
            }
            harness_result_free(&res);
            assert_out_of_memory(st, "attend", point);
            /* the witness's own calls run on whatever buffers were kept */
            witness_check(&w, "after a failed attend");
        }
        /* dense grows upload, scratch and read-back (and begins a command
         * buffer): at least four points */
        if (mode == 0)
            assert_true(failed >= 4);
        printf("attend (%s): %u failed calls, succeeded with %u allocations allowed\n", mode ? "sparq" : "dense",
               failed, point);
    }
    free(q);
    witness_free(&w);
    harness_finish();
}

/* Arms the hook to fail every allocation after the first. It counts afresh
 * only when its value changes, so successive calls alternate two values
 * that mean the same. */
static void arm_all_but_first(uint32_t *calls)
{
    arm(1, (*calls)++ % 2 ? 0u : 1000000u);
}

/* Steady state allocates nothing: once a cache has served a step of each
 * kind, appends of one token and attends (dense and SparQ) pass with every
 * allocation after the first failing. The first is the one point every
 * blocking call has, vkBeginCommandBuffer on the plugin's own stream; any
 * buffer growth, pipeline or host allocation would be a second. (Scratch
 * still grows, by half again, when a slot outgrows every earlier call's:
 * a few times over a whole decode, never at every step.) */
static void test_steady_state_allocates_nothing(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "steady state");
    witness w;
    witness_make(&w, &rng); /* one dense and one SparQ attend: pipelines and scratch exist */
    float *k, *v;
    harness_make_kv(&w.hc, &rng, 2, &k, &v);
    TEST_SPARQ_OK(harness_append(&w.hc, w.slots, 2, 1, k, v, SPARQ_DTYPE_F32)); /* staging exists */
    free(k);
    free(v);
    uint32_t calls = 0;
    for (uint32_t step = 0; step < 16; step++) {
        char label[64];
        harness_make_kv(&w.hc, &rng, 2, &k, &v);
        arm_all_but_first(&calls);
        sparq_status st = harness_append(&w.hc, w.slots, 2, 1, k, v, SPARQ_DTYPE_F32);
        disarm();
        free(k);
        free(v);
        if (st != SPARQ_SUCCESS)
            fail_msg("step %u: append allocated (status %d: %s)", step, (int)st, harness_api()->last_error());
        for (int mode = 0; mode < 2; mode++) {
            harness_result res;
            arm_all_but_first(&calls);
            st = harness_run(&w.hc, mode ? &w.sparq : &w.dense, &res);
            disarm();
            if (st != SPARQ_SUCCESS)
                fail_msg("step %u: %s attend allocated (status %d: %s)", step, mode ? "sparq" : "dense", (int)st,
                         harness_api()->last_error());
            snprintf(label, sizeof label, "steady state step %u %s", step, mode ? "sparq" : "dense");
            harness_check(&w.hc, mode ? &w.sparq : &w.dense, &res, label);
            harness_result_free(&res);
        }
    }
    witness_free(&w);
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_larger_than_the_device),
        cmocka_unit_test(test_cache_create_every_point),
        cmocka_unit_test(test_running_out_while_creating_several),
        cmocka_unit_test(test_context_create_every_point),
        cmocka_unit_test(test_append_every_point),
        cmocka_unit_test(test_attend_scratch_growth_every_point),
        cmocka_unit_test(test_steady_state_allocates_nothing),
    };
    return cmocka_run_group_tests_name("oom", tests, harness_group_setup, harness_group_teardown);
}
