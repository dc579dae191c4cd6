/*
 * The host's CPU attention (used by --cpu-attention and as the plugin's
 * yardstick in the forward-pass tests) against the project's float64
 * oracle, on fresh structured random inputs: dense, SparQ with and without
 * mean reallocation, the ABI defaults, and k >= S; each through one slot of
 * a multi-slot cache whose other slots and layers hold other data.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attention.h"
#include "sparq_ref.h"

static uint64_t seed;

typedef struct attn_case {
    uint32_t n_head, n_head_kv, head_dim, length;
    attention_mode mode;
    uint32_t r, k, l;
    int no_realloc;
    sparq_ref_focus focus;
} attn_case;

static void run_case(const attn_case *c, sparq_ref_rng *rng)
{
    const uint32_t dh = c->head_dim, g = c->n_head / c->n_head_kv, S = c->length;
    attention_config cfg = {
        .n_layer = 2, .n_head = c->n_head, .n_head_kv = c->n_head_kv, .head_dim = dh, .capacity = S + 3, .n_seqs = 3,
        .storage = STORAGE_F32, .mode = c->mode, .r = c->r, .k = c->k, .l = c->l, .no_realloc = c->no_realloc,
    };
    char err[256];
    attention *a = attention_cpu_create(&cfg, err, sizeof err);
    assert_non_null(a);

    sparq_ref_kv_model kvm;
    assert_int_equal(sparq_ref_kv_model_init(&kvm, rng, c->n_head_kv, dh), 0);
    size_t row = (size_t)c->n_head_kv * dh;
    float *k = malloc((size_t)S * row * sizeof(float)), *v = malloc((size_t)S * row * sizeof(float));
    const size_t q_len = (size_t)c->n_head * dh;
    float *q = malloc(2 * q_len * sizeof(float)), *out = malloc(2 * q_len * sizeof(float));
    float *kpair = malloc(2 * row * sizeof(float)), *vpair = malloc(2 * row * sizeof(float));
    float *kh = malloc((size_t)S * dh * sizeof(float)), *vh = malloc((size_t)S * dh * sizeof(float));
    double *want = malloc((size_t)g * dh * sizeof(double));
    assert_true(k && v && q && out && kh && vh && want && kpair && vpair);
    sparq_ref_fill_keys(&kvm, rng, k, S);
    sparq_ref_fill_values(&kvm, rng, v, S);
    sparq_ref_fill_queries(&kvm, rng, q, 1, c->n_head, c->focus);

    memcpy(q + q_len, q, q_len * sizeof(float));

    /* Slot 2 of layer 1 gets the data; slot 0 of layer 1 (appended in the
     * same call) and slot 2 of layer 0 get other data, which must not leak in. */
    const uint32_t data_slot = 2, pair_slots[2] = {data_slot, 0}, attend_slots[2] = {0, data_slot};
    for (uint32_t t = 0; t < S; t++) {
        const float *kt = k + (size_t)t * row, *vt = v + (size_t)t * row;
        assert_int_equal(a->ops->append(a, 0, 1, &data_slot, vt, kt), 0);
        memcpy(kpair, kt, row * sizeof(float));
        memcpy(kpair + row, vt, row * sizeof(float));
        memcpy(vpair, vt, row * sizeof(float));
        memcpy(vpair + row, kt, row * sizeof(float));
        assert_int_equal(a->ops->append(a, 1, 2, pair_slots, kpair, vpair), 0);
    }
    for (size_t i = 0; i < 2 * q_len; i++)
        out[i] = NAN;
    assert_int_equal(a->ops->attend(a, 1, 2, attend_slots, q, out), 0);
    for (size_t i = 0; i < q_len; i++)
        assert_false(isnan(out[i])); /* the other slot's row was written too */
    out += q_len; /* slot 2's row */

    for (uint32_t h = 0; h < c->n_head_kv; h++) {
        for (uint32_t t = 0; t < S; t++) {
            memcpy(kh + (size_t)t * dh, k + (size_t)t * row + (size_t)h * dh, dh * sizeof(float));
            memcpy(vh + (size_t)t * dh, v + (size_t)t * row + (size_t)h * dh, dh * sizeof(float));
        }
        sparq_ref_problem p = {.head_dim = dh, .group_size = g, .length = S, .q = q + (size_t)h * g * dh,
                               .k = kh, .v = vh};
        if (c->mode == ATTENTION_DENSE) {
            assert_int_equal(sparq_ref_dense(&p, want), 0);
        } else {
            sparq_ref_params prm = sparq_ref_resolve_params(dh, S, c->r, c->k, c->l);
            assert_int_equal(sparq_ref_sparq(&p, prm, !c->no_realloc, want, NULL, NULL), 0);
        }
        for (uint32_t i = 0; i < g * dh; i++) {
            float got = out[(size_t)h * g * dh + i];
            double diff = fabs((double)got - want[i]);
            if (!(diff <= 1e-5 + 1e-5 * fabs(want[i])))
                fail_msg("seed %llu: mode %d S=%u g=%u dh=%u r=%u k=%u l=%u realloc=%d focus %s: KV head %u element %u "
                         "is %.9g, the oracle says %.9g",
                         (unsigned long long)seed, (int)c->mode, S, g, dh, c->r, c->k, c->l, !c->no_realloc,
                         sparq_ref_focus_name(c->focus), h, i, (double)got, want[i]);
        }
    }
    free(k), free(v), free(q), free(out - q_len), free(kh), free(vh), free(want), free(kpair), free(vpair);
    sparq_ref_kv_model_free(&kvm);
    a->ops->destroy(a);
}

static void matches_the_oracle(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "generate-cpu-attention");
    const attn_case cases[] = {
        {8, 2, 64, 300, ATTENTION_DENSE, 0, 0, 0, 0, SPARQ_REF_FOCUS_NORMAL},
        {4, 4, 32, 1, ATTENTION_DENSE, 0, 0, 0, 0, SPARQ_REF_FOCUS_PEAKED},
        {8, 2, 64, 300, ATTENTION_SPARQ, 8, 40, 10, 0, SPARQ_REF_FOCUS_NORMAL},
        {8, 2, 64, 300, ATTENTION_SPARQ, 8, 40, 10, 1, SPARQ_REF_FOCUS_PEAKED},
        {8, 1, 64, 257, ATTENTION_SPARQ, 16, 64, 0, 0, SPARQ_REF_FOCUS_FLAT},
        {6, 3, 16, 200, ATTENTION_SPARQ, 0, 0, 0, 0, SPARQ_REF_FOCUS_NORMAL}, /* ABI defaults */
        {4, 2, 32, 90, ATTENTION_SPARQ, 5, 90, 7, 0, SPARQ_REF_FOCUS_NORMAL},  /* k = S: dense */
        {4, 2, 32, 90, ATTENTION_SPARQ, 32, 17, 17, 0, SPARQ_REF_FOCUS_NORMAL}, /* only the window */
        {4, 2, 32, 90, ATTENTION_SPARQ, 1, 30, 1, 0, SPARQ_REF_FOCUS_PEAKED},
        {16, 1, 128, 500, ATTENTION_SPARQ, 16, 100, 25, 0, SPARQ_REF_FOCUS_NORMAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], &rng);
}

static void full_cache_is_an_error(void **state)
{
    (void)state;
    attention_config cfg = {.n_layer = 1, .n_head = 2, .n_head_kv = 1, .head_dim = 8, .capacity = 2,
                            .storage = STORAGE_F16, .mode = ATTENTION_DENSE};
    char err[256];
    attention *a = attention_cpu_create(&cfg, err, sizeof err);
    assert_non_null(a);
    float kv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, q[16], out[16];
    for (int i = 0; i < 16; i++)
        q[i] = (float)i * 0.1f;
    const uint32_t slot = 0, bad_slot = 1;
    assert_int_equal(a->ops->attend(a, 0, 1, &slot, q, out), -1); /* empty */
    assert_non_null(strstr(a->error, "empty"));
    assert_int_equal(a->ops->append(a, 0, 1, &bad_slot, kv, kv), -1); /* one slot only */
    assert_non_null(strstr(a->error, "outside"));
    assert_int_equal(a->ops->append(a, 0, 1, &slot, kv, kv), 0);
    assert_int_equal(a->ops->append(a, 0, 1, &slot, kv, kv), 0);
    assert_int_equal(a->ops->append(a, 0, 1, &slot, kv, kv), -1);
    assert_non_null(strstr(a->error, "full"));
    assert_int_equal(a->ops->attend(a, 0, 1, &slot, q, out), 0);
    /* Two equal rows: the output is that row (rounded to f16 storage). */
    for (int i = 0; i < 16; i++)
        assert_float_equal(out[i], kv[i % 8], 1e-6);
    a->ops->destroy(a);
}

int main(void)
{
    seed = sparq_ref_test_seed("test_generate_attention_cpu");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_oracle),
        cmocka_unit_test(full_cache_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
