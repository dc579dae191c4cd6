/*
 * Non-finite and degenerate input. The contract tested here (and stated in
 * docs/RELIABILITY.md):
 *  - a NaN or infinity in one query head's q, or a huge q that overflows the
 *    logits, makes the output of that head NaN or infinite (never a finite
 *    value that looks right); the outputs of every other KV head's query heads
 *    and of every other slot entry are bit-identical to a run without it;
 *  - a NaN or infinity stored in K or V at one position of one KV head does
 *    the same to that (slot, KV head) only;
 *  - whatever the scores are (NaN, infinite, all tied), SparQ's `selected`
 *    holds exactly min(k, S) distinct ascending positions below S, then
 *    SPARQ_NO_POSITION: the selection never leaves the slot;
 *  - keys that are all equal (every approximate score ties) and denormal keys
 *    give valid selections and outputs that match the float64 reference.
 * Outputs are NaN-poisoned before each call; a head that must be finite is
 * checked for it.
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

enum { N_KV = 2, GROUP = 2, N_HEADS = N_KV * GROUP, DH = 32, N_ENTRIES = 3 };
static const uint32_t slots[N_ENTRIES] = {0, 1, 2};
static const uint32_t lengths[N_ENTRIES] = {40, 53, 9}; /* the last is shorter than k */
#define K_SEL 16u
#define STRIDE (K_SEL + 5u)

/* One attend's outputs, poisoned before the call. */
typedef struct run {
    float out[N_ENTRIES * N_HEADS * DH];
    uint32_t selected[N_ENTRIES * N_KV * STRIDE];
    float alpha[N_ENTRIES * N_HEADS];
} run;

static void attend(const harness_cache *hc, bool sparq, const float *q, run *r)
{
    for (size_t i = 0; i < sizeof r->out / sizeof r->out[0]; i++)
        r->out[i] = NAN;
    for (size_t i = 0; i < sizeof r->selected / sizeof r->selected[0]; i++)
        r->selected[i] = 0xa5a5a5a5u;
    for (size_t i = 0; i < sizeof r->alpha / sizeof r->alpha[0]; i++)
        r->alpha[i] = NAN;
    sparq_attend_desc d = {
        .struct_size = sizeof d,
        .mode = sparq ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
        .n_slots = N_ENTRIES,
        .slots = slots,
        .n_heads = N_HEADS,
        .q = q,
        .out = r->out,
        .r = 4,
        .k = K_SEL,
        .l = 4,
        .selected = sparq ? r->selected : NULL,
        .selected_stride = sparq ? STRIDE : 0,
        .alpha = sparq ? r->alpha : NULL,
    };
    TEST_SPARQ_OK(harness_api()->attend(hc->cache, &d));
}

/* selected of every (entry, KV head): min(k, S) distinct ascending
 * positions < S, then SPARQ_NO_POSITION. */
static void assert_selection_in_range(const run *r, const char *label)
{
    for (uint32_t e = 0; e < N_ENTRIES; e++) {
        const uint32_t S = lengths[e], n = K_SEL < S ? K_SEL : S;
        for (uint32_t h = 0; h < N_KV; h++) {
            const uint32_t *sel = r->selected + ((size_t)e * N_KV + h) * STRIDE;
            for (uint32_t i = 0; i < STRIDE; i++) {
                if (i < n && (sel[i] >= S || (i > 0 && sel[i] <= sel[i - 1])))
                    fail_msg("[%s] entry %u KV head %u: selected[%u] = %#x is not an ascending position < %u", label,
                             e, h, i, sel[i], S);
                if (i >= n && sel[i] != SPARQ_NO_POSITION)
                    fail_msg("[%s] entry %u KV head %u: selected[%u] = %#x, expected SPARQ_NO_POSITION", label, e, h,
                             i, sel[i]);
            }
            /* the local window: the last l = 4 positions */
            for (uint32_t t = S - 4; t < S; t++) {
                bool found = false;
                for (uint32_t i = 0; i < n; i++)
                    found = found || sel[i] == t;
                if (!found)
                    fail_msg("[%s] entry %u KV head %u: local position %u not selected", label, e, h, t);
            }
        }
    }
}

/* The largest |V| stored: attention outputs are convex combinations of V
 * rows (and of their mean), so no finite output may exceed it. */
static float max_abs_v(const harness_cache *hc)
{
    float m = 0.0f;
    for (uint32_t e = 0; e < N_ENTRIES; e++)
        for (size_t i = 0; i < (size_t)lengths[e] * N_KV * DH; i++) {
            float x = fabsf(hc->shadow_v[(size_t)slots[e] * hc->desc.capacity * N_KV * DH + i]);
            if (isfinite(x) && x > m)
                m = x;
        }
    return m;
}

static unsigned nonfinite_heads, bounded_heads; /* how hit heads came out, for the log */

/* Query heads that are hit: with `strict`, each has a non-finite element in
 * its output; otherwise each element is non-finite or within the bound (no
 * garbage). Everything else equals `clean` bit for bit (output, selection,
 * alpha) and is finite. */
static void assert_contained(const run *clean, const run *got, bool sparq, uint32_t hit_entry, uint32_t hit_kv,
                             bool whole_group, uint32_t hit_head, bool strict, float bound, const char *label)
{
    for (uint32_t e = 0; e < N_ENTRIES; e++)
        for (uint32_t h = 0; h < N_KV; h++) {
            const bool pair_hit = e == hit_entry && h == hit_kv;
            for (uint32_t j = 0; j < GROUP; j++) {
                const uint32_t qh = h * GROUP + j;
                const float *o = got->out + ((size_t)e * N_HEADS + qh) * DH;
                const float *c = clean->out + ((size_t)e * N_HEADS + qh) * DH;
                const bool head_hit = pair_hit && (whole_group || qh == hit_head);
                if (head_hit) {
                    bool any_nonfinite = false;
                    for (uint32_t d = 0; d < DH; d++) {
                        any_nonfinite = any_nonfinite || !isfinite(o[d]);
                        if (isfinite(o[d]) && fabsf(o[d]) > bound * 1.001f)
                            fail_msg("[%s] entry %u head %u element %u: %g is outside every V (|V| <= %g)", label, e,
                                     qh, d, (double)o[d], (double)bound);
                    }
                    if (strict && qh == hit_head && !any_nonfinite)
                        fail_msg("[%s] entry %u head %u: output is finite although its q is not", label, e, qh);
                    if (any_nonfinite)
                        nonfinite_heads++;
                    else
                        bounded_heads++;
                    continue;
                }
                for (uint32_t d = 0; d < DH; d++)
                    if (!isfinite(o[d]))
                        fail_msg("[%s] entry %u head %u element %u: %g leaked from entry %u KV head %u", label, e, qh,
                                 d, (double)o[d], hit_entry, hit_kv);
                /* Query heads that share the hit KV head may get another
                 * selection (i1 and the ranking are shared by the group). */
                if (!pair_hit && memcmp(o, c, DH * sizeof(float)) != 0)
                    fail_msg("[%s] entry %u head %u: output changed by a non-finite input elsewhere", label, e, qh);
                if (!pair_hit && sparq && memcmp(&got->alpha[e * N_HEADS + qh], &clean->alpha[e * N_HEADS + qh], 4))
                    fail_msg("[%s] entry %u head %u: alpha changed by a non-finite input elsewhere", label, e, qh);
            }
            if (sparq && !pair_hit &&
                memcmp(got->selected + ((size_t)e * N_KV + h) * STRIDE, clean->selected + ((size_t)e * N_KV + h) * STRIDE,
                       STRIDE * sizeof(uint32_t)) != 0)
                fail_msg("[%s] entry %u KV head %u: selection changed by a non-finite input elsewhere", label, e, h);
        }
    if (sparq)
        assert_selection_in_range(got, label);
}

static void fill_slots(harness_cache *hc, sparq_ref_rng *rng)
{
    for (uint32_t e = 0; e < N_ENTRIES; e++)
        harness_fill(hc, rng, slots[e], lengths[e], 16, SPARQ_DTYPE_F32);
}

/* The clean run of `q`, checked against the reference. */
static void clean_run(const harness_cache *hc, bool sparq, const float *q, run *r)
{
    attend(hc, sparq, q, r);
    harness_result res = {
        .out = r->out,
        .selected = sparq ? r->selected : NULL,
        .selected_stride = STRIDE,
        .alpha = sparq ? r->alpha : NULL,
    };
    harness_attend a = {.mode = sparq ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE, .n_slots = N_ENTRIES,
                        .slots = slots, .n_heads = N_HEADS, .io_dtype = SPARQ_DTYPE_F32, .q = q, .r = 4, .k = K_SEL,
                        .l = 4, .want_selection = sparq};
    harness_check(hc, &a, &res, sparq ? "clean sparq" : "clean dense");
    if (sparq)
        assert_selection_in_range(r, "clean");
}

static void test_nonfinite_query(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "nonfinite q");
    const float bad[4] = {NAN, INFINITY, -INFINITY, 0.0f /* huge: see below */};
    const char *names[4] = {"NaN", "+Inf", "-Inf", "huge (1e37 x q)"};
    for (int storage = 0; storage < 2; storage++) {
        harness_cache hc;
        harness_cache_create(&hc, &rng, N_ENTRIES, N_KV, DH, 64, storage ? SPARQ_DTYPE_F32 : SPARQ_DTYPE_F16);
        fill_slots(&hc, &rng);
        float *q = harness_make_queries(&hc, &rng, N_ENTRIES, N_HEADS, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_NORMAL);
        float *q_bad = malloc(sizeof(float) * N_ENTRIES * N_HEADS * DH);
        assert_non_null(q_bad);
        for (int sparq = 0; sparq < 2; sparq++) {
            run clean, got;
            clean_run(&hc, sparq, q, &clean);
            for (int b = 0; b < 4; b++) {
                /* entry 1, query head 2 (the first of KV head 1's group) */
                memcpy(q_bad, q, sizeof(float) * N_ENTRIES * N_HEADS * DH);
                float *head = q_bad + ((size_t)1 * N_HEADS + 2) * DH;
                if (b < 3) {
                    head[5] = bad[b];
                } else {
                    for (uint32_t d = 0; d < DH; d++)
                        head[d] *= 1e37f;
                }
                attend(&hc, sparq, q_bad, &got);
                char label[96];
                snprintf(label, sizeof label, "%s in q, %s, %s storage", names[b], sparq ? "sparq" : "dense",
                         storage ? "f32" : "f16");
                /* Dense heads are independent; SparQ's group shares i1 and
                 * the ranking, so the whole group may be hit. */
                assert_contained(&clean, &got, sparq, 1, 1, sparq, 2, b < 3, max_abs_v(&hc), label);
            }
        }
        free(q_bad);
        free(q);
        harness_cache_destroy(&hc);
    }
    printf("hit query heads: %u with a non-finite output, %u finite and bounded\n", nonfinite_heads,
           bounded_heads);
    harness_finish();
}

/* Two caches with the same tokens but for one element of K or V at one
 * position of (slot 1, KV head 0), non-finite in the second. */
static void test_nonfinite_keys_values(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "nonfinite kv");
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int which = 0; which < 2; which++)         /* K, V */
        for (int b = 0; b < 3; b++) {
            harness_cache clean_hc, bad_hc;
            const sparq_dtype storage = b == 1 ? SPARQ_DTYPE_F32 : SPARQ_DTYPE_F16;
            harness_cache_create(&clean_hc, &rng, N_ENTRIES, N_KV, DH, 64, storage);
            harness_cache_create(&bad_hc, &rng, N_ENTRIES, N_KV, DH, 64, storage);
            for (uint32_t e = 0; e < N_ENTRIES; e++) {
                float *k, *v;
                harness_make_kv(&clean_hc, &rng, lengths[e], &k, &v);
                TEST_SPARQ_OK(harness_append(&clean_hc, &slots[e], 1, lengths[e], k, v, SPARQ_DTYPE_F32));
                if (e == 1) /* position 17 (neither local nor last), KV head 0, element 3 */
                    (which ? v : k)[(size_t)17 * N_KV * DH + 3] = bad[b];
                TEST_SPARQ_OK(harness_append(&bad_hc, &slots[e], 1, lengths[e], k, v, SPARQ_DTYPE_F32));
                free(k);
                free(v);
            }
            float *q = harness_make_queries(&clean_hc, &rng, N_ENTRIES, N_HEADS, 4, SPARQ_DTYPE_F32,
                                            SPARQ_REF_FOCUS_NORMAL);
            for (int sparq = 0; sparq < 2; sparq++) {
                run clean, got;
                clean_run(&clean_hc, sparq, q, &clean);
                attend(&bad_hc, sparq, q, &got);
                char label[96];
                snprintf(label, sizeof label, "%g in %s, %s", (double)bad[b], which ? "V" : "K",
                         sparq ? "sparq" : "dense");
                /* A bad V reaches SparQ's output through the mean of V even
                 * when its position is not selected. */
                assert_contained(&clean, &got, sparq, 1, 0, true, 0, false, max_abs_v(&clean_hc), label);
            }
            free(q);
            printf("%s %g: hit query heads so far: %u non-finite, %u finite and bounded\n", which ? "V" : "K",
                   (double)bad[b], nonfinite_heads, bounded_heads);
            harness_cache_destroy(&bad_hc);
            harness_cache_destroy(&clean_hc);
        }
    harness_finish();
}

/* Every key the same vector: every approximate score of a head ties, and so
 * does the ranking. The selection must still be exactly min(k, S) distinct
 * positions with the local window, and the output that of the reference on
 * it. Also keys whose every element is denormal (f32 storage: ~1e-39; f16
 * storage: binary16 subnormals ~1e-6). */
static void test_tied_and_denormal_keys(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    harness_rng(&rng, "tied keys");
    for (int kind = 0; kind < 3; kind++) { /* equal, f32 denormal, f16 subnormal */
        harness_cache hc;
        const sparq_dtype storage = kind == 2 ? SPARQ_DTYPE_F16 : SPARQ_DTYPE_F32;
        harness_cache_create(&hc, &rng, N_ENTRIES, N_KV, DH, 64, storage);
        for (uint32_t e = 0; e < N_ENTRIES; e++) {
            float *k, *v;
            harness_make_kv(&hc, &rng, lengths[e], &k, &v);
            for (uint32_t t = 0; t < lengths[e]; t++)
                for (uint32_t i = 0; i < N_KV * DH; i++) {
                    float *x = &k[(size_t)t * N_KV * DH + i];
                    if (kind == 0)
                        *x = k[i]; /* row 0's values at every position */
                    else
                        *x *= kind == 1 ? 1e-39f : 1e-6f;
                }
            TEST_SPARQ_OK(harness_append(&hc, &slots[e], 1, lengths[e], k, v, SPARQ_DTYPE_F32));
            free(k);
            free(v);
        }
        float *q = harness_make_queries(&hc, &rng, N_ENTRIES, N_HEADS, 4, SPARQ_DTYPE_F32, SPARQ_REF_FOCUS_PEAKED);
        for (int sparq = 0; sparq < 2; sparq++) {
            run r;
            clean_run(&hc, sparq, q, &r);
        }
        free(q);
        harness_cache_destroy(&hc);
    }
    harness_finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonfinite_query),
        cmocka_unit_test(test_nonfinite_keys_values),
        cmocka_unit_test(test_tied_and_denormal_keys),
    };
    return cmocka_run_group_tests_name("nonfinite", tests, harness_group_setup, harness_group_teardown);
}
