/*
 * Self-test of the float64 reference: if the oracle is wrong, every
 * attention test is wrong with it.
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

#include "sparq_ref.h"

static uint64_t seed;

static void test_f16_known_values(void **state)
{
    (void)state;
    assert_int_equal(sparq_ref_f32_to_f16_bits(1.0f), 0x3c00);
    assert_int_equal(sparq_ref_f32_to_f16_bits(-2.0f), 0xc000);
    assert_int_equal(sparq_ref_f32_to_f16_bits(65504.0f), 0x7bff);
    assert_int_equal(sparq_ref_f32_to_f16_bits(65519.0f), 0x7bff);
    assert_int_equal(sparq_ref_f32_to_f16_bits(65520.0f), 0x7c00); /* halfway to 2^16 rounds to even: infinity */
    assert_int_equal(sparq_ref_f32_to_f16_bits(-INFINITY), 0xfc00);
    assert_true((sparq_ref_f32_to_f16_bits(NAN) & 0x7fff) > 0x7c00);
    assert_int_equal(sparq_ref_f32_to_f16_bits(1.0f + 0x1p-11f), 0x3c00);        /* tie -> even */
    assert_int_equal(sparq_ref_f32_to_f16_bits(1.0f + 3 * 0x1p-11f), 0x3c02);    /* tie -> even (up) */
    assert_int_equal(sparq_ref_f32_to_f16_bits(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(sparq_ref_f32_to_f16_bits(0x1p-14f), 0x0400);               /* smallest normal */
    assert_int_equal(sparq_ref_f32_to_f16_bits(0x1p-24f), 0x0001);               /* smallest subnormal */
    assert_int_equal(sparq_ref_f32_to_f16_bits(0x1p-25f), 0x0000);               /* tie -> even (zero) */
    assert_int_equal(sparq_ref_f32_to_f16_bits(0x1.8p-25f), 0x0001);
    assert_int_equal(sparq_ref_f32_to_f16_bits(3 * 0x1p-25f), 0x0002);           /* tie between 1 and 2 units */
    assert_int_equal(sparq_ref_f32_to_f16_bits(0x1.ffcp-15f), 0x0400);           /* subnormal rounds up to normal */
    assert_int_equal(sparq_ref_f32_to_f16_bits(-0x1p-30f), 0x8000);
    assert_true(sparq_ref_f16_bits_to_f32(0x0001) == 0x1p-24f);
    assert_true(sparq_ref_f16_bits_to_f32(0x7bff) == 65504.0f);
    assert_true(isinf(sparq_ref_f16_bits_to_f32(0x7c00)));
    assert_true(isnan(sparq_ref_f16_bits_to_f32(0x7e00)));
}

static void test_f16_round_trip_every_pattern(void **state)
{
    (void)state;
    for (uint32_t bits = 0; bits <= 0xffffu; bits++) {
        float f = sparq_ref_f16_bits_to_f32((uint16_t)bits);
        if (isnan(f)) {
            assert_true(isnan(sparq_ref_round_f16(f)));
            continue;
        }
        if (sparq_ref_f32_to_f16_bits(f) != bits)
            fail_msg("f16 0x%04x -> %a -> 0x%04x", bits, (double)f, sparq_ref_f32_to_f16_bits(f));
    }
}

/* Nearest-even against a brute-force comparison with both neighbours. */
static void test_f16_rounding_is_nearest(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "f16 nearest");
    for (int i = 0; i < 200000; i++) {
        double magnitude = ldexp(sparq_ref_rng_uniform(&rng), (int)sparq_ref_rng_below(&rng, 44) - 28);
        float x = (float)(i & 1 ? -magnitude : magnitude);
        uint16_t r = sparq_ref_f32_to_f16_bits(x);
        double err = fabs((double)sparq_ref_f16_bits_to_f32(r) - x);
        for (int step = -1; step <= 1; step += 2) {
            uint16_t other = (uint16_t)(r + step);
            if ((other & 0x7fffu) >= 0x7c00u || ((other ^ r) & 0x8000u))
                continue;
            double other_err = fabs((double)sparq_ref_f16_bits_to_f32(other) - x);
            if (other_err < err || (other_err == err && (other & 1u) == 0))
                fail_msg("%a rounds to 0x%04x but 0x%04x is %s", (double)x, r, other,
                         other_err < err ? "nearer" : "as near and even");
        }
        assert_true(sparq_ref_is_f16_rounding_of(sparq_ref_f16_bits_to_f32(r), x));
    }
}

static void test_f16_acceptable_rounding(void **state)
{
    (void)state;
    float x = 1.0f + 0x1.8p-11f; /* between 0x3c00 and 0x3c01, nearer 0x3c01 */
    assert_true(sparq_ref_is_f16_rounding_of(sparq_ref_f16_bits_to_f32(0x3c01), x)); /* nearest */
    assert_true(sparq_ref_is_f16_rounding_of(sparq_ref_f16_bits_to_f32(0x3c00), x)); /* toward zero */
    assert_false(sparq_ref_is_f16_rounding_of(sparq_ref_f16_bits_to_f32(0x3c02), x));
    assert_false(sparq_ref_is_f16_rounding_of(x, x)); /* not a binary16 value */
    assert_true(sparq_ref_is_f16_rounding_of(1.0f, 1.0f));
    assert_false(sparq_ref_is_f16_rounding_of(sparq_ref_f16_bits_to_f32(0x3c01), 1.0f));
    assert_true(sparq_ref_is_f16_rounding_of(0.0f, 0x1p-20f)); /* flushed denormal */
    assert_false(sparq_ref_is_f16_rounding_of(0.0f, 0x1p-10f));
}

static void test_dense_hand_computed(void **state)
{
    (void)state;
    /* weights softmax(0, ln 3) = (1/4, 3/4) -> 1/4 * 1 + 3/4 * 5 = 4 */
    const float q[1] = {1.0f};
    const float k[2] = {0.0f, (float)log(3.0)};
    const float v[2] = {1.0f, 5.0f};
    sparq_ref_problem problem = {.head_dim = 1, .group_size = 1, .length = 2, .q = q, .k = k, .v = v, .scale = 1.0};
    double out[1];
    assert_int_equal(sparq_ref_dense(&problem, out), 0);
    assert_true(fabs(out[0] - 4.0) < 1e-6);
}

static void test_sparq_hand_computed(void **state)
{
    (void)state;
    /* dh 2, r 1: i1 = {0}, frac = 2/3, z[t] = 2 K[t][0] / sqrt(2/3). */
    const float q[2] = {2.0f, -1.0f};
    const float k[6] = {0.1f, 3.0f, -0.2f, 1.0f, 0.3f, -2.0f};
    const float v[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    sparq_ref_problem problem = {.head_dim = 2, .group_size = 1, .length = 3, .q = q, .k = k, .v = v, .scale = 1.0};
    sparq_ref_ranking ranking;
    assert_int_equal(sparq_ref_rank(&problem, 1, &ranking), 0);
    assert_int_equal(ranking.i1[0], 0);
    assert_true(fabs(ranking.frac[0] - 2.0 / 3.0) < 1e-15);
    double z[3], sum = 0.0;
    for (int t = 0; t < 3; t++) {
        z[t] = exp(2.0 * (double)k[2 * t] / sqrt(2.0 / 3.0));
        sum += z[t];
    }
    for (int t = 0; t < 3; t++)
        assert_true(fabs(ranking.p[t] - z[t] / sum) < 1e-12);

    /* k 2, l 1: window {2}, then the larger of rho[0], rho[1] (position 0). */
    sparq_ref_params params = sparq_ref_resolve_params(2, 3, 1, 2, 1);
    uint32_t selected[2];
    assert_int_equal(sparq_ref_select(&ranking, params, selected), 2);
    assert_int_equal(selected[0], 0);
    assert_int_equal(selected[1], 2);

    double out[2], alpha;
    assert_int_equal(sparq_ref_sparq_output(&problem, &ranking, selected, 2, true, out, &alpha), 0);
    double expect_alpha = ranking.p[0] + ranking.p[2];
    assert_true(fabs(alpha - expect_alpha) < 1e-15);
    double l0 = 2.0 * 0.1 - 3.0, l2 = 2.0 * 0.3 + 2.0; /* exact logits, scale 1 */
    double w0 = exp(l0) / (exp(l0) + exp(l2)), w2 = 1.0 - w0;
    double vbar[2] = {3.0, 4.0};
    for (int i = 0; i < 2; i++) {
        double exact = w0 * v[i] + w2 * v[4 + i];
        double want = expect_alpha * exact + (1.0 - expect_alpha) * vbar[i];
        assert_true(fabs(out[i] - want) < 1e-6);
    }
    sparq_ref_ranking_free(&ranking);
}

typedef struct random_problem {
    sparq_ref_kv_model model;
    float *q, *k, *v;
    sparq_ref_problem problem;
} random_problem;

static void make_problem(random_problem *rp, sparq_ref_rng *rng, uint32_t dh, uint32_t g, uint32_t S,
                         sparq_ref_focus focus)
{
    assert_int_equal(sparq_ref_kv_model_init(&rp->model, rng, 1, dh), 0);
    rp->q = malloc((size_t)g * dh * sizeof(float));
    rp->k = malloc((size_t)S * dh * sizeof(float));
    rp->v = malloc((size_t)S * dh * sizeof(float));
    assert_non_null(rp->q);
    assert_non_null(rp->k);
    assert_non_null(rp->v);
    sparq_ref_fill_queries(&rp->model, rng, rp->q, 1, g, focus);
    sparq_ref_fill_keys(&rp->model, rng, rp->k, S);
    sparq_ref_fill_values(&rp->model, rng, rp->v, S);
    sparq_ref_round_f16_array(rp->k, (size_t)S * dh);
    sparq_ref_round_f16_array(rp->v, (size_t)S * dh);
    rp->problem = (sparq_ref_problem){.head_dim = dh, .group_size = g, .length = S, .q = rp->q, .k = rp->k, .v = rp->v};
}

static void free_problem(random_problem *rp)
{
    free(rp->q);
    free(rp->k);
    free(rp->v);
    sparq_ref_kv_model_free(&rp->model);
}

static void test_sparq_all_positions_is_dense(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "all positions");
    const uint32_t dims[] = {8, 64, 128};
    for (unsigned c = 0; c < 3; c++) {
        const uint32_t dh = dims[c], g = 4, S = 37;
        random_problem rp;
        make_problem(&rp, &rng, dh, g, S, (sparq_ref_focus)c);
        double dense[4 * 128], sparse[4 * 128], alpha[4];
        assert_int_equal(sparq_ref_dense(&rp.problem, dense), 0);
        /* r = dh and r = 1 both: with every position chosen, alpha = 1 and r cannot matter. */
        const uint32_t rs[] = {dh, 1};
        for (unsigned i = 0; i < 2; i++) {
            sparq_ref_params params = sparq_ref_resolve_params(dh, S, rs[i], S + 5, 3);
            assert_int_equal(params.k, S);
            assert_int_equal(sparq_ref_sparq(&rp.problem, params, true, sparse, alpha, NULL), 0);
            for (uint32_t j = 0; j < g; j++)
                assert_true(fabs(alpha[j] - 1.0) < 1e-12);
            for (uint32_t e = 0; e < g * dh; e++)
                assert_true(fabs(sparse[e] - dense[e]) < 1e-12 * (1.0 + fabs(dense[e])));
        }
        free_problem(&rp);
    }
}

static void test_sparq_without_reallocation(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "no reallocation");
    const uint32_t dh = 64, g = 2, S = 100;
    random_problem rp;
    make_problem(&rp, &rng, dh, g, S, SPARQ_REF_FOCUS_NORMAL);
    sparq_ref_params params = sparq_ref_resolve_params(dh, S, 8, 16, 4);
    double with[2 * 64], without[2 * 64], alpha_with[2], alpha_without[2];
    uint32_t selected[16];
    assert_int_equal(sparq_ref_sparq(&rp.problem, params, true, with, alpha_with, selected), 0);
    assert_int_equal(sparq_ref_sparq(&rp.problem, params, false, without, alpha_without, NULL), 0);
    for (uint32_t j = 0; j < g; j++) {
        assert_true(alpha_without[j] == 1.0);
        assert_true(alpha_with[j] > 0.0 && alpha_with[j] < 1.0);
    }
    /* Without reallocation the output is exact attention over the selection. */
    sparq_ref_problem sub = rp.problem;
    float kq[16 * 64], vq[16 * 64];
    for (uint32_t s = 0; s < 16; s++) {
        memcpy(kq + s * dh, rp.k + (size_t)selected[s] * dh, dh * sizeof(float));
        memcpy(vq + s * dh, rp.v + (size_t)selected[s] * dh, dh * sizeof(float));
    }
    sub.k = kq;
    sub.v = vq;
    sub.length = 16;
    double exact[2 * 64];
    assert_int_equal(sparq_ref_dense(&sub, exact), 0);
    for (uint32_t e = 0; e < g * dh; e++)
        assert_true(fabs(without[e] - exact[e]) < 1e-12 * (1.0 + fabs(exact[e])));
    free_problem(&rp);
}

static void test_selection_checker(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "checker");
    const uint32_t dh = 32, g = 4, S = 200;
    random_problem rp;
    make_problem(&rp, &rng, dh, g, S, SPARQ_REF_FOCUS_NORMAL);
    sparq_ref_ranking ranking;
    assert_int_equal(sparq_ref_rank(&rp.problem, 4, &ranking), 0);
    sparq_ref_params params = sparq_ref_resolve_params(dh, S, 4, 24, 6);
    uint32_t good[24], bad[25];
    char msg[256];
    assert_int_equal(sparq_ref_select(&ranking, params, good), 24);
    assert_null(sparq_ref_check_selection(&ranking, params, good, 24, 1e-3, 1e-9, msg, sizeof msg));

    /* Any order is fine. */
    for (int i = 0; i < 24; i++)
        bad[i] = good[23 - i];
    assert_null(sparq_ref_check_selection(&ranking, params, bad, 24, 1e-3, 1e-9, msg, sizeof msg));

    /* Too few, too many, duplicates, out of range, window missing. */
    assert_non_null(sparq_ref_check_selection(&ranking, params, good, 23, 1e-3, 1e-9, msg, sizeof msg));
    memcpy(bad, good, sizeof good);
    bad[24] = good[0] == 0 ? 1 : 0;
    assert_non_null(sparq_ref_check_selection(&ranking, params, bad, 25, 1e-3, 1e-9, msg, sizeof msg));
    memcpy(bad, good, sizeof good);
    bad[1] = bad[0];
    assert_non_null(sparq_ref_check_selection(&ranking, params, bad, 24, 1e-3, 1e-9, msg, sizeof msg));
    memcpy(bad, good, sizeof good);
    bad[0] = S;
    assert_non_null(sparq_ref_check_selection(&ranking, params, bad, 24, 1e-3, 1e-9, msg, sizeof msg));
    print_message("out-of-range selection: %s\n", msg);

    /* Swap the last window position for the best position left out: the
     * count is right and rho is only better, but the window is broken. */
    sparq_ref_params wider = params;
    wider.k = 25;
    uint32_t extended[25];
    assert_int_equal(sparq_ref_select(&ranking, wider, extended), 25);
    uint32_t swapped[24], n = 0;
    for (uint32_t i = 0; i < 25; i++)
        if (extended[i] != S - 1)
            swapped[n++] = extended[i];
    assert_int_equal(n, 24);
    assert_non_null(sparq_ref_check_selection(&ranking, params, swapped, 24, 1e-3, 1e-9, msg, sizeof msg));
    print_message("window broken: %s\n", msg);

    /* Replace the weakest selected non-window position by the strongest
     * unselected one's weaker neighbour: a clear loss unless tolerated. */
    uint32_t weakest = 0, worst = UINT32_MAX;
    for (uint32_t i = 0; i < 24; i++)
        if (good[i] < S - params.l && (worst == UINT32_MAX || ranking.rho[good[i]] < ranking.rho[worst])) {
            worst = good[i];
            weakest = i;
        }
    uint32_t lowest = UINT32_MAX;
    for (uint32_t t = 0; t < S - params.l; t++) {
        int taken = 0;
        for (uint32_t i = 0; i < 24; i++)
            taken |= good[i] == t;
        if (!taken && (lowest == UINT32_MAX || ranking.rho[t] < ranking.rho[lowest]))
            lowest = t;
    }
    memcpy(bad, good, sizeof good);
    bad[weakest] = lowest;
    assert_true(ranking.rho[worst] > ranking.rho[lowest]);
    assert_non_null(sparq_ref_check_selection(&ranking, params, bad, 24, 0.0, 0.0, msg, sizeof msg));
    print_message("clear loss: %s\n", msg);
    /* The same swap passes when the tolerance covers the gap: ties are free. */
    double gap = ranking.rho[worst] - ranking.rho[lowest];
    assert_null(sparq_ref_check_selection(&ranking, params, bad, 24, 0.0, gap * 1.01, msg, sizeof msg));
    sparq_ref_ranking_free(&ranking);
    free_problem(&rp);
}

static void test_i1_margin(void **state)
{
    (void)state;
    const float q[4] = {1.0f, -4.0f, 2.0f, 2.0f};
    const float kv[4] = {1, 1, 1, 1};
    sparq_ref_problem problem = {.head_dim = 4, .group_size = 1, .length = 1, .q = q, .k = kv, .v = kv};
    sparq_ref_ranking ranking;
    assert_int_equal(sparq_ref_rank(&problem, 2, &ranking), 0); /* a = 1 4 2 2: the 2nd place is a tie */
    assert_true(ranking.i1_margin == 0.0);
    sparq_ref_ranking_free(&ranking);
    assert_int_equal(sparq_ref_rank(&problem, 1, &ranking), 0);
    assert_int_equal(ranking.i1[0], 1);
    assert_true(fabs(ranking.i1_margin - 0.5) < 1e-15);
    sparq_ref_ranking_free(&ranking);
    assert_int_equal(sparq_ref_rank(&problem, 4, &ranking), 0);
    assert_true(isinf(ranking.i1_margin));
    sparq_ref_ranking_free(&ranking);
}

static void test_resolve_params(void **state)
{
    (void)state;
    sparq_ref_params p = sparq_ref_resolve_params(128, 2000, 0, 0, 0);
    assert_int_equal(p.r, 16);
    assert_int_equal(p.k, 125);
    assert_int_equal(p.l, 31);
    p = sparq_ref_resolve_params(64, 10, 0, 0, 0);
    assert_int_equal(p.r, 8);
    assert_int_equal(p.k, 10);
    assert_int_equal(p.l, 2);
    p = sparq_ref_resolve_params(8, 100, 50, 7, 9);
    assert_int_equal(p.r, 8);
    assert_int_equal(p.k, 7);
    assert_int_equal(p.l, 7);
}

/* The inputs must have the structure the tests rely on. */
static void test_generator_structure(void **state)
{
    (void)state;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, seed, "generator");
    const uint32_t dh = 128, S = 2000, g = 8;
    sparq_ref_kv_model model;
    assert_int_equal(sparq_ref_kv_model_init(&model, &rng, 1, dh), 0);
    float *k = malloc((size_t)S * dh * sizeof(float));
    float *q = malloc((size_t)S * dh * sizeof(float));
    assert_non_null(k);
    assert_non_null(q);
    sparq_ref_fill_keys(&model, &rng, k, S);
    /* Outlier channels: the largest channel spread well above the median. */
    double spread[128];
    for (uint32_t i = 0; i < dh; i++) {
        double mean = 0.0, sq = 0.0;
        for (uint32_t t = 0; t < S; t++) {
            assert_true(k[(size_t)t * dh + i] != 0.0f && isfinite(k[(size_t)t * dh + i]));
            mean += k[(size_t)t * dh + i];
        }
        mean /= S;
        for (uint32_t t = 0; t < S; t++)
            sq += (k[(size_t)t * dh + i] - mean) * (k[(size_t)t * dh + i] - mean);
        spread[i] = sqrt(sq / S);
    }
    double top = 0.0, below2 = 0.0;
    for (uint32_t i = 0; i < dh; i++) {
        top = fmax(top, spread[i]);
        below2 += spread[i] < 2.0;
    }
    assert_true(top > 3.5);
    assert_true(below2 > dh * 0.9);

    /* Heavy tails in q: excess kurtosis clearly above a Gaussian's 0. */
    sparq_ref_fill_queries(&model, &rng, q, S, 1, SPARQ_REF_FOCUS_NORMAL);
    double m2 = 0.0, m4 = 0.0;
    for (size_t i = 0; i < (size_t)S * dh; i++) {
        assert_true(q[i] != 0.0f && isfinite(q[i]));
        m2 += (double)q[i] * q[i];
        m4 += (double)q[i] * q[i] * q[i] * q[i];
    }
    m2 /= (double)S * dh;
    m4 /= (double)S * dh;
    assert_true(m4 / (m2 * m2) > 4.0);

    /* Peaked attention puts much of a head's mass on its top position; flat spreads it. */
    float qg[8 * 128];
    double top_mass[3] = {0, 0, 0};
    for (int focus = 0; focus < 3; focus++) {
        for (int trial = 0; trial < 5; trial++) {
            sparq_ref_fill_queries(&model, &rng, qg, 1, g, (sparq_ref_focus)focus);
            sparq_ref_problem problem = {.head_dim = dh, .group_size = g, .length = 500, .q = qg, .k = k, .v = k};
            sparq_ref_ranking ranking;
            assert_int_equal(sparq_ref_rank(&problem, dh, &ranking), 0);
            for (uint32_t j = 0; j < g; j++) {
                double best = 0.0;
                for (uint32_t t = 0; t < 500; t++)
                    best = fmax(best, ranking.p[j * 500 + t]);
                top_mass[focus] += best / (5 * g);
            }
            sparq_ref_ranking_free(&ranking);
        }
    }
    print_message("mean top probability: flat %.4f normal %.4f peaked %.4f\n", top_mass[SPARQ_REF_FOCUS_FLAT],
                  top_mass[SPARQ_REF_FOCUS_NORMAL], top_mass[SPARQ_REF_FOCUS_PEAKED]);
    assert_true(top_mass[SPARQ_REF_FOCUS_FLAT] < 0.02);
    assert_true(top_mass[SPARQ_REF_FOCUS_PEAKED] > 0.3);
    assert_true(top_mass[SPARQ_REF_FOCUS_NORMAL] > top_mass[SPARQ_REF_FOCUS_FLAT]);
    free(k);
    free(q);
    sparq_ref_kv_model_free(&model);
}

static void test_rng_streams(void **state)
{
    (void)state;
    sparq_ref_rng a, b, c;
    sparq_ref_rng_init(&a, 42, "x");
    sparq_ref_rng_init(&b, 42, "x");
    sparq_ref_rng_init(&c, 42, "y");
    int differs = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t va = sparq_ref_rng_next(&a);
        assert_true(va == sparq_ref_rng_next(&b));
        differs |= va != sparq_ref_rng_next(&c);
    }
    assert_true(differs);
    for (int i = 0; i < 1000; i++) {
        assert_true(sparq_ref_rng_below(&a, 7) < 7);
        double u = sparq_ref_rng_uniform(&a);
        assert_true(u > 0.0 && u < 1.0);
    }
}

static void test_rel_l2(void **state)
{
    (void)state;
    const float got[3] = {1.0f, 2.0f, 2.0f};
    const double want[3] = {1.0, 2.0, 2.0 + 0.03};
    const double same[3] = {1.0, 2.0, 2.0};
    assert_true(sparq_ref_rel_l2_error(got, same, 3) == 0.0);
    assert_true(fabs(sparq_ref_rel_l2_error(got, want, 3) - 0.03 / sqrt(1 + 4 + 2.03 * 2.03)) < 1e-9);
    const float nan_got[2] = {1.0f, NAN};
    const double two[2] = {1.0, 1.0};
    assert_true(isinf(sparq_ref_rel_l2_error(nan_got, two, 2)));
    assert_true(isinf(sparq_ref_max_abs_error(nan_got, two, 2)));
}

int main(void)
{
    seed = sparq_ref_test_seed("test_reference");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_known_values),
        cmocka_unit_test(test_f16_round_trip_every_pattern),
        cmocka_unit_test(test_f16_rounding_is_nearest),
        cmocka_unit_test(test_f16_acceptable_rounding),
        cmocka_unit_test(test_dense_hand_computed),
        cmocka_unit_test(test_sparq_hand_computed),
        cmocka_unit_test(test_sparq_all_positions_is_dense),
        cmocka_unit_test(test_sparq_without_reallocation),
        cmocka_unit_test(test_selection_checker),
        cmocka_unit_test(test_i1_margin),
        cmocka_unit_test(test_resolve_params),
        cmocka_unit_test(test_generator_structure),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_rel_l2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
