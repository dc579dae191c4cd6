/*
 * Threads, as the header allows them:
 *  - several host threads, each creating its own context and cache
 *    (context_create is thread-safe), decoding at the same time, then
 *    destroying both;
 *  - several threads sharing one context, each with its own cache ("per
 *    cache": calls on different caches may overlap);
 * Every thread's outputs (every attend of every step: dense, SparQ with
 * f32 and f16 io, SparQ with k >= S) must equal bit for bit those of the
 * same problem run alone on the main thread, and that run must agree with
 * the float64 reference. Built with -Db_sanitize=thread this is also the
 * ThreadSanitizer run (docs/RELIABILITY.md).
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

/* One round of threads making their own contexts (context creation with
 * validation dominates under the sanitizers); two on a shared context. */
enum { N_THREADS = 4, N_PROBLEMS = 2, OWN_ROUNDS = 1, SHARED_ROUNDS = 2 };

static uint64_t process_seed;
static multi_problem problems[N_PROBLEMS];
static multi_results alone[N_PROBLEMS]; /* single-threaded results, checked against the reference */

static const sparq_api *api(void)
{
    return test_plugin_api();
}

static sparq_cache *make_cache(sparq_context *ctx, const multi_problem *pb, char *error, size_t error_size)
{
    const sparq_cache_desc desc = {.struct_size = sizeof desc, .n_seqs = pb->n_seqs, .n_kv_heads = pb->n_kv_heads,
                                   .head_dim = pb->head_dim, .capacity = pb->capacity,
                                   .storage = SPARQ_DTYPE_F16};
    sparq_cache *cache = NULL;
    if (api()->cache_create(ctx, &desc, &cache) != SPARQ_SUCCESS)
        snprintf(error, error_size, "cache_create: %s", api()->last_error());
    return cache;
}

static int setup(void **state)
{
    (void)state;
    process_seed = sparq_ref_test_seed("threads");
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, process_seed, "problems");
    /* Slots shorter than SparQ's k = 64 (all selected) and well longer. */
    const uint32_t prefill0[3] = {150, 33, 5}, order0[3] = {2, 0, 1};
    const uint32_t prefill1[2] = {40, 200}, order1[2] = {1, 0};
    multi_problem_init(&problems[0], &rng, 3, prefill0, order0, 2, 2, 32, 10);
    multi_problem_init(&problems[1], &rng, 2, prefill1, order1, 1, 4, 64, 10);
    sparq_context *ctx = test_plugin_context(NULL);
    if (!ctx)
        return -1;
    for (int p = 0; p < N_PROBLEMS; p++) {
        if (multi_results_init(&alone[p], &problems[p]) != 0)
            return -1;
        multi_shard sh = {api(), NULL, &problems[p], 0, problems[p].n_kv_heads, &alone[p], ""};
        sh.cache = make_cache(ctx, &problems[p], sh.error, sizeof sh.error);
        if (!sh.cache || multi_shard_prefill(&sh) != 0 || multi_shard_run_steps(&sh) != 0) {
            fprintf(stderr, "single-threaded run of problem %d: %s\n", p, sh.error);
            return -1;
        }
        api()->cache_destroy(sh.cache);
    }
    api()->context_destroy(ctx);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int p = 0; p < N_PROBLEMS; p++) {
        multi_results_free(&alone[p]);
        multi_problem_free(&problems[p]);
    }
    return test_plugin_validation_errors() == 0 ? 0 : -1;
}

static void test_alone_matches_reference(void **state)
{
    (void)state;
    for (int p = 0; p < N_PROBLEMS; p++)
        multi_check_reference(&problems[p], &alone[p], p ? "problem 1 alone" : "problem 0 alone");
    test_plugin_assert_no_validation_errors();
}

/* All threads wait here, so their calls overlap. */
typedef struct gate {
    atomic_uint arrived;
    unsigned expected;
} gate;

static void pass_gate(gate *g)
{
    atomic_fetch_add(&g->arrived, 1u);
    while (atomic_load(&g->arrived) < g->expected)
        sched_yield();
}

typedef struct worker {
    gate *gate;
    sparq_context *shared; /* NULL: the worker makes its own context */
    multi_shard shard;
} worker;

/* No cmocka here: a failure is a message in shard.error for the main thread. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    multi_shard *sh = &w->shard;
    sparq_context *ctx = w->shared;
    if (!ctx) {
        pass_gate(w->gate); /* contexts are created at the same time too */
        if (!(ctx = test_plugin_context(NULL))) {
            snprintf(sh->error, sizeof sh->error, "context_create failed on a worker thread");
            return NULL;
        }
        if (!(sh->cache = make_cache(ctx, sh->pb, sh->error, sizeof sh->error))) {
            api()->context_destroy(ctx);
            return NULL;
        }
    } else {
        pass_gate(w->gate);
    }
    if (multi_shard_prefill(sh) == 0)
        multi_shard_run_steps(sh);
    if (!w->shared) {
        if (api()->cache_destroy(sh->cache) != SPARQ_SUCCESS || api()->context_destroy(ctx) != SPARQ_SUCCESS)
            snprintf(sh->error, sizeof sh->error, "destroy on a worker thread: %s", api()->last_error());
        sh->cache = NULL;
    }
    return NULL;
}

/* Runs N_THREADS workers (problem = thread % N_PROBLEMS) and compares. */
static void run_workers(sparq_context *shared, const char *label)
{
    gate g = {.expected = N_THREADS};
    worker workers[N_THREADS];
    multi_results results[N_THREADS];
    pthread_t threads[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        const multi_problem *pb = &problems[i % N_PROBLEMS];
        assert_int_equal(multi_results_init(&results[i], pb), 0);
        workers[i] = (worker){.gate = &g, .shared = shared};
        workers[i].shard = (multi_shard){api(), NULL, pb, 0, pb->n_kv_heads, &results[i], ""};
        if (shared) {
            workers[i].shard.cache = make_cache(shared, pb, workers[i].shard.error, sizeof workers[i].shard.error);
            assert_non_null(workers[i].shard.cache);
        }
    }
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < N_THREADS; i++) {
        char who[96];
        snprintf(who, sizeof who, "%s, thread %d (problem %d)", label, i, i % N_PROBLEMS);
        if (workers[i].shard.error[0])
            fail_msg("%s: %s", who, workers[i].shard.error);
        multi_assert_same(&problems[i % N_PROBLEMS], &results[i], &alone[i % N_PROBLEMS], who);
        if (shared)
            TEST_SPARQ_OK(api()->cache_destroy(workers[i].shard.cache));
        multi_results_free(&results[i]);
    }
}

static void test_threads_with_own_contexts(void **state)
{
    (void)state;
    for (int round = 0; round < OWN_ROUNDS; round++)
        run_workers(NULL, "own contexts");
    test_plugin_assert_no_validation_errors();
}

static void test_threads_sharing_a_context(void **state)
{
    (void)state;
    sparq_context *ctx = test_plugin_context(NULL);
    assert_non_null(ctx);
    for (int round = 0; round < SHARED_ROUNDS; round++)
        run_workers(ctx, "shared context");
    TEST_SPARQ_OK(api()->context_destroy(ctx));
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_matches_reference),
        cmocka_unit_test(test_threads_with_own_contexts),
        cmocka_unit_test(test_threads_sharing_a_context),
    };
    return cmocka_run_group_tests_name("threads", tests, setup, teardown);
}
