/*
 * Tensor parallelism through the ABI: a decode batch sharded by KV heads
 * over two contexts, each driven by its own host thread, must give exactly
 * (bit for bit) what one cache holding every head gives, because SparQ
 * chooses positions per KV head and everything else is per KV head too.
 * And two caches of one context used from two threads at once (which the
 * header allows) must each give what they give alone.
 *
 * Devices: env SPARQ_TEST_DEVICES="<selector>,<selector>" puts the two
 * shards on those devices (the whole-batch run goes on the first); without
 * it all three contexts use the default device, reached once by index, once
 * by UUID and once by naming nothing, so each way of choosing it is used.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "multi_check.h"
#include "multi_problem.h"
#include "multi_run.h"
#include "test_plugin.h"

#define F16 SPARQ_DTYPE_F16

static uint64_t process_seed;

/* What a test made, so teardown can free it also after a failed assertion. */
#define MAX_OBJECTS 8
static struct {
    sparq_context *contexts[MAX_OBJECTS];
    sparq_cache *caches[MAX_OBJECTS];
    multi_problem problems[2];
    multi_results results[4];
} made;

static const sparq_api *api(void)
{
    return test_plugin_api();
}

static sparq_context *open_context(const char *device)
{
    sparq_context *ctx = test_plugin_context(device);
    if (!ctx)
        fail_msg("no context on device \"%s\"", device ? device : "(default)");
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (!made.contexts[i]) {
            made.contexts[i] = ctx;
            return ctx;
        }
    fail_msg("too many contexts");
    return NULL;
}

static sparq_cache *open_cache(sparq_context *ctx, const multi_problem *pb, uint32_t n_kv_heads)
{
    const sparq_cache_desc desc = {
        .struct_size = sizeof desc,
        .n_seqs = pb->n_seqs,
        .n_kv_heads = n_kv_heads,
        .head_dim = pb->head_dim,
        .capacity = pb->capacity,
        .storage = F16,
    };
    sparq_cache *cache = NULL;
    TEST_SPARQ_OK(api()->cache_create(ctx, &desc, &cache));
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (!made.caches[i]) {
            made.caches[i] = cache;
            return cache;
        }
    fail_msg("too many caches");
    return NULL;
}

static multi_results *new_results(const multi_problem *pb)
{
    for (size_t i = 0; i < sizeof made.results / sizeof made.results[0]; i++)
        if (!made.results[i].out) {
            assert_int_equal(multi_results_init(&made.results[i], pb), 0);
            return &made.results[i];
        }
    fail_msg("too many result sets");
    return NULL;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (int i = 0; i < MAX_OBJECTS; i++) {
        if (made.caches[i] && api()->cache_destroy(made.caches[i]) != SPARQ_SUCCESS) {
            fprintf(stderr, "cache_destroy: %s\n", api()->last_error());
            rc = -1;
        }
        made.caches[i] = NULL;
    }
    for (int i = 0; i < MAX_OBJECTS; i++) {
        if (made.contexts[i] && api()->context_destroy(made.contexts[i]) != SPARQ_SUCCESS) {
            fprintf(stderr, "context_destroy: %s\n", api()->last_error());
            rc = -1;
        }
        made.contexts[i] = NULL;
    }
    for (size_t i = 0; i < sizeof made.problems / sizeof made.problems[0]; i++)
        if (made.problems[i].k)
            multi_problem_free(&made.problems[i]);
    for (size_t i = 0; i < sizeof made.results / sizeof made.results[0]; i++)
        if (made.results[i].out)
            multi_results_free(&made.results[i]);
    return test_plugin_validation_errors() == 0 ? rc : -1;
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

/* Both workers wait here until both have started, so their calls overlap
 * instead of the first finishing before the second is scheduled. */
typedef struct start_gate {
    atomic_uint arrived;
    unsigned expected;
} start_gate;

typedef struct worker {
    multi_shard *shard;
    start_gate *gate;
} worker;

/* POSIX threads rather than C11 <threads.h>: the thread sanitizer does not
 * see threads glibc's thrd_create starts, and this test is worth running
 * under it. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    atomic_fetch_add(&w->gate->arrived, 1u);
    while (atomic_load(&w->gate->arrived) < w->gate->expected)
        sched_yield();
    multi_shard_run_steps(w->shard); /* the outcome is in shard->error */
    return NULL;
}

/* Runs the decode steps of two shards at the same time, one thread each. */
static void run_two_threads(multi_shard *first, multi_shard *second)
{
    start_gate gate = {.expected = 2};
    worker workers[2] = {{first, &gate}, {second, &gate}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
}

static void assert_shard_ok(const multi_shard *sh, const char *who)
{
    if (sh->error[0])
        fail_msg("%s: %s", who, sh->error);
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct device_plan {
    char shard[2][128]; /* selectors of the two shards' contexts */
    const char *whole;  /* selector of the whole-batch context (NULL = default) */
    int same_device;    /* all three must report default_uuid */
    uint8_t default_uuid[16];
} device_plan;

static void format_uuid(const uint8_t uuid[16], char *out)
{
    /* The 8-4-4-4-12 form, since the header allows dashes. */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        p += sprintf(p, "%02x", uuid[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9)
            *p++ = '-';
    }
    *p = '\0';
}

static void plan_devices(device_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    const char *env = getenv("SPARQ_TEST_DEVICES");
    if (env && *env) {
        const char *comma = strchr(env, ',');
        if (!comma || comma == env || !comma[1] || strchr(comma + 1, ',') ||
            (size_t)(comma - env) >= sizeof plan->shard[0] || strlen(comma + 1) >= sizeof plan->shard[1])
            fail_msg("SPARQ_TEST_DEVICES=\"%s\": want two device selectors separated by one comma", env);
        memcpy(plan->shard[0], env, (size_t)(comma - env));
        strcpy(plan->shard[1], comma + 1);
        plan->whole = plan->shard[0];
        return;
    }
    uint32_t count = 0;
    TEST_SPARQ_OK(api()->enumerate_devices(NULL, 0, &count));
    assert_true(count >= 1);
    sparq_device_info *infos = calloc(count, sizeof *infos);
    assert_non_null(infos);
    for (uint32_t i = 0; i < count; i++)
        infos[i].struct_size = sizeof infos[i];
    TEST_SPARQ_OK(api()->enumerate_devices(infos, count, &count));
    const sparq_device_info *def = NULL;
    for (uint32_t i = 0; i < count; i++)
        if (infos[i].is_default)
            def = &infos[i];
    if (!def) {
        free(infos);
        fail_msg("enumerate_devices marks no device as the default");
    }
    snprintf(plan->shard[0], sizeof plan->shard[0], "%u", def->index);
    format_uuid(def->uuid, plan->shard[1]);
    memcpy(plan->default_uuid, def->uuid, sizeof plan->default_uuid);
    plan->same_device = 1;
    plan->whole = NULL;
    free(infos);
}

static void describe_context(sparq_context *ctx, const char *role, const char *selector, const device_plan *plan)
{
    sparq_device_info info = {.struct_size = sizeof info};
    TEST_SPARQ_OK(api()->context_get_device_info(ctx, &info));
    printf("%s: device \"%s\" (selector \"%s\")\n", role, info.name, selector ? selector : "");
    if (plan->same_device && memcmp(info.uuid, plan->default_uuid, sizeof info.uuid) != 0)
        fail_msg("%s: selector \"%s\" opened \"%s\", not the default device", role, selector ? selector : "",
                 info.name);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_kv_head_shards_match_whole_batch(void **state)
{
    (void)state;
    device_plan plan;
    plan_devices(&plan);
    sparq_context *ctx_a = open_context(plan.shard[0]);
    sparq_context *ctx_b = open_context(plan.shard[1]);
    sparq_context *ctx_whole = open_context(plan.whole);
    describe_context(ctx_a, "shard A (KV heads 0..1)", plan.shard[0], &plan);
    describe_context(ctx_b, "shard B (KV heads 2..3)", plan.shard[1], &plan);
    describe_context(ctx_whole, "whole batch", plan.whole, &plan);

    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, process_seed, "kv head shards");
    multi_problem *pb = &made.problems[0];
    const uint32_t prefill[3] = {211, 583, 397}, order[3] = {2, 0, 1};
    multi_problem_init(pb, &rng, 3, prefill, order, 4, 2, 64, 3);

    multi_results *whole_out = new_results(pb), *gathered = new_results(pb);
    multi_shard whole = {api(), open_cache(ctx_whole, pb, 4), pb, 0, 4, whole_out, ""};
    multi_shard a = {api(), open_cache(ctx_a, pb, 2), pb, 0, 2, gathered, ""};
    multi_shard b = {api(), open_cache(ctx_b, pb, 2), pb, 2, 2, gathered, ""};

    multi_shard_prefill(&whole);
    multi_shard_prefill(&a);
    multi_shard_prefill(&b);
    assert_shard_ok(&whole, "whole batch prefill");
    assert_shard_ok(&a, "shard A prefill");
    assert_shard_ok(&b, "shard B prefill");

    multi_shard_run_steps(&whole);
    assert_shard_ok(&whole, "whole batch");
    run_two_threads(&a, &b);
    assert_shard_ok(&a, "shard A");
    assert_shard_ok(&b, "shard B");

    multi_assert_same(pb, gathered, whole_out, "shards A+B against the whole batch");
    multi_check_reference(pb, whole_out, "whole batch");
    test_plugin_assert_no_validation_errors();
}

static void test_two_caches_of_one_context_at_once(void **state)
{
    (void)state;
    sparq_context *ctx = open_context(NULL);
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, process_seed, "two caches one context");
    /* Different shapes, so the two threads also build different pipelines
     * and scratch sizes at the same time. */
    multi_problem *p1 = &made.problems[0], *p2 = &made.problems[1];
    const uint32_t prefill1[3] = {257, 64, 430}, order1[3] = {1, 2, 0};
    const uint32_t prefill2[2] = {190, 333}, order2[2] = {1, 0};
    multi_problem_init(p1, &rng, 3, prefill1, order1, 4, 2, 64, 3);
    multi_problem_init(p2, &rng, 2, prefill2, order2, 2, 4, 32, 3);

    multi_results *alone1 = new_results(p1), *alone2 = new_results(p2);
    multi_results *together1 = new_results(p1), *together2 = new_results(p2);
    multi_shard x_alone = {api(), open_cache(ctx, p1, 4), p1, 0, 4, alone1, ""};
    multi_shard y_alone = {api(), open_cache(ctx, p2, 2), p2, 0, 2, alone2, ""};
    multi_shard x = {api(), open_cache(ctx, p1, 4), p1, 0, 4, together1, ""};
    multi_shard y = {api(), open_cache(ctx, p2, 2), p2, 0, 2, together2, ""};

    multi_shard *all[4] = {&x_alone, &y_alone, &x, &y};
    for (int i = 0; i < 4; i++) {
        multi_shard_prefill(all[i]);
        assert_shard_ok(all[i], "prefill");
    }
    multi_shard_run_steps(&x_alone);
    assert_shard_ok(&x_alone, "cache X alone");
    multi_shard_run_steps(&y_alone);
    assert_shard_ok(&y_alone, "cache Y alone");
    run_two_threads(&x, &y);
    assert_shard_ok(&x, "cache X beside Y");
    assert_shard_ok(&y, "cache Y beside X");

    multi_assert_same(p1, together1, alone1, "cache X, concurrent against alone");
    multi_assert_same(p2, together2, alone2, "cache Y, concurrent against alone");
    multi_check_reference(p1, alone1, "cache X");
    multi_check_reference(p2, alone2, "cache Y");
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    process_seed = sparq_ref_test_seed("multi");
    /* Load the plugin before any worker thread exists. */
    (void)api();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kv_head_shards_match_whole_batch, teardown),
        cmocka_unit_test_teardown(test_two_caches_of_one_context_at_once, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
