/*
 * Dense decode attention against the float64 reference: head dims, group
 * sizes, both storage types, f16 and f32 q/out, a custom scale, and a batch
 * of slots with ragged lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "attention_harness.h"

typedef struct dense_case {
    uint32_t head_dim, n_kv_heads, group, length;
    sparq_dtype storage, io, append;
    sparq_ref_focus focus;
    float scale;
} dense_case;

/* One slot of interest (slot 1) beside a short other one, so a kernel that
 * reads the wrong slot's data cannot pass. */
static void run_case(const dense_case *c, sparq_ref_rng *rng)
{
    harness_cache hc;
    harness_cache_create(&hc, rng, 2, c->n_kv_heads, c->head_dim, c->length + 8, c->storage);
    harness_fill(&hc, rng, 0, 5, 0, SPARQ_DTYPE_F32);
    harness_fill(&hc, rng, 1, c->length, 0, c->append ? c->append : SPARQ_DTYPE_F32);
    const uint32_t slots[1] = {1};
    const uint32_t n_heads = c->n_kv_heads * c->group;
    float *q = harness_make_queries(&hc, rng, 1, n_heads, c->head_dim, c->io, c->focus);
    harness_attend a = {
        .mode = SPARQ_ATTENTION_DENSE,
        .n_slots = 1,
        .slots = slots,
        .n_heads = n_heads,
        .io_dtype = c->io,
        .scale = c->scale,
        .q = q,
    };
    char label[96];
    snprintf(label, sizeof label, "dense %s", sparq_ref_focus_name(c->focus));
    harness_run_and_check(&hc, &a, label);
    harness_check_lengths(&hc);
    free(q);
    harness_cache_destroy(&hc);
}

static void run_cases(const dense_case *cases, size_t n, const char *stream)
{
    sparq_ref_rng rng;
    harness_rng(&rng, stream);
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], &rng);
    harness_finish();
}

#define F16 SPARQ_DTYPE_F16
#define F32 SPARQ_DTYPE_F32
#define FLAT SPARQ_REF_FOCUS_FLAT
#define NORMAL SPARQ_REF_FOCUS_NORMAL
#define PEAKED SPARQ_REF_FOCUS_PEAKED

static void test_dense_f32_storage(void **state)
{
    (void)state;
    static const dense_case cases[] = {
        {.head_dim = 64, .n_kv_heads = 2, .group = 4, .length = 300, .storage = F32, .io = F32, .focus = NORMAL},
        {.head_dim = 128, .n_kv_heads = 1, .group = 8, .length = 1000, .storage = F32, .io = F32, .focus = PEAKED},
        {.head_dim = 80, .n_kv_heads = 2, .group = 1, .length = 17, .storage = F32, .io = F32, .focus = FLAT},
        {.head_dim = 256, .n_kv_heads = 1, .group = 2, .length = 200, .storage = F32, .io = F32, .focus = NORMAL},
        {.head_dim = 96, .n_kv_heads = 1, .group = 1, .length = 1, .storage = F32, .io = F32, .focus = PEAKED},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "dense f32 storage");
}

static void test_dense_f16_storage(void **state)
{
    (void)state;
    static const dense_case cases[] = {
        {.head_dim = 96, .n_kv_heads = 2, .group = 4, .length = 513, .storage = F16, .io = F32, .focus = PEAKED},
        {.head_dim = 128, .n_kv_heads = 1, .group = 16, .length = 700, .storage = F16, .io = F32, .focus = NORMAL},
        {.head_dim = 64, .n_kv_heads = 4, .group = 1, .length = 2, .storage = F16, .io = F32, .focus = FLAT},
        {.head_dim = 256, .n_kv_heads = 1, .group = 8, .length = 333, .storage = F16, .io = F32, .focus = FLAT},
        {.head_dim = 80, .n_kv_heads = 1, .group = 4, .length = 129, .storage = F16, .io = F32, .focus = PEAKED},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "dense f16 storage");
}

static void test_dense_f16_io_scale_and_f16_append(void **state)
{
    (void)state;
    static const dense_case cases[] = {
        {.head_dim = 128, .n_kv_heads = 2, .group = 4, .length = 400, .storage = F16, .io = F16, .focus = NORMAL},
        {.head_dim = 64, .n_kv_heads = 1, .group = 8, .length = 100, .storage = F32, .io = F16, .focus = PEAKED},
        {.head_dim = 64, .n_kv_heads = 1, .group = 4, .length = 250, .storage = F32, .io = F32, .focus = NORMAL,
         .scale = 0.3f},
        {.head_dim = 128, .n_kv_heads = 1, .group = 2, .length = 90, .storage = F32, .io = F32, .focus = NORMAL,
         .append = F16},
        {.head_dim = 96, .n_kv_heads = 1, .group = 4, .length = 60, .storage = F16, .io = F32, .focus = FLAT,
         .append = F16, .scale = 0.02f},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "dense io scale append");
}

/* head_dims whose 8-element chunks are odd in number (152, 248, 120, 40:
 * every lane is a lane group of its own) or not a power of two (200), with
 * up to 16 query heads per KV head: the attend kernel's combine must fit
 * in any device's shared memory for every valid cache. And the smallest
 * (8, 24: one and three chunks), where the merge's workgroup is 4 and 12
 * invocations. */
static void test_dense_odd_head_dims(void **state)
{
    (void)state;
    static const dense_case cases[] = {
        {.head_dim = 152, .n_kv_heads = 2, .group = 8, .length = 300, .storage = F16, .io = F32, .focus = NORMAL},
        {.head_dim = 248, .n_kv_heads = 1, .group = 16, .length = 130, .storage = F32, .io = F32, .focus = PEAKED},
        {.head_dim = 120, .n_kv_heads = 1, .group = 4, .length = 77, .storage = F16, .io = F32, .focus = FLAT},
        {.head_dim = 40, .n_kv_heads = 2, .group = 2, .length = 500, .storage = F32, .io = F32, .focus = NORMAL},
        {.head_dim = 200, .n_kv_heads = 1, .group = 1, .length = 64, .storage = F16, .io = F32, .focus = PEAKED},
        {.head_dim = 8, .n_kv_heads = 2, .group = 4, .length = 700, .storage = F16, .io = F32, .focus = NORMAL},
        {.head_dim = 24, .n_kv_heads = 1, .group = 2, .length = 260, .storage = F32, .io = F32, .focus = PEAKED},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "dense odd head dims");
}

/* Lengths 1, 2, 17, 1000 and the full capacity in one call, slots out of
 * order and one of them twice. */
static void test_dense_ragged_batch(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "dense ragged");
    const uint32_t lengths[5] = {1000, 1, 1024, 17, 2};
    const sparq_dtype storages[2] = {F16, F32};
    for (int st = 0; st < 2; st++) {
        harness_cache hc;
        harness_cache_create(&hc, &rng, 5, 2, 64, 1024, storages[st]);
        for (uint32_t s = 0; s < 5; s++)
            harness_fill(&hc, &rng, s, lengths[s], 300, F32);
        harness_check_lengths(&hc);
        const uint32_t slots[6] = {2, 1, 4, 3, 0, 1};
        const sparq_ref_focus focus[2] = {PEAKED, FLAT};
        for (int f = 0; f < 2; f++) {
            float *q = harness_make_queries(&hc, &rng, 6, 8, 64, F32, focus[f]);
            harness_attend a = {
                .mode = SPARQ_ATTENTION_DENSE,
                .n_slots = 6,
                .slots = slots,
                .n_heads = 8,
                .io_dtype = F32,
                .q = q,
            };
            harness_run_and_check(&hc, &a, "dense ragged batch");
            free(q);
        }
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_f32_storage),
        cmocka_unit_test(test_dense_odd_head_dims),
        cmocka_unit_test(test_dense_f16_storage),
        cmocka_unit_test(test_dense_f16_io_scale_and_f16_append),
        cmocka_unit_test(test_dense_ragged_batch),
    };
    return cmocka_run_group_tests_name("dense attention", tests, harness_group_setup, harness_group_teardown);
}
