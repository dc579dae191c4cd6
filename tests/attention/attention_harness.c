#include "attention_harness.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_plugin.h"

/* A quiet NaN with a payload no arithmetic produces, so a leftover is
 * recognisable in a debugger. */
#define POISON_F32 0x7fc0deadu
#define POISON_F16 0x7e5au
#define POISON_POSITION 0xa5a5a5a5u

/* Relative gap below which the r-th and (r+1)-th entries of sum_j |q_j|
 * count as tied: fp32 sums on the device may order them either way. */
#define I1_MARGIN_MIN 1e-3

/* Selection check: a left-out position may beat a chosen one by this much
 * (the device computes the approximate softmax in fp32). */
#define SELECTION_REL_TOL 1e-3
#define SELECTION_ABS_TOL 1e-9

/* alpha is an fp32 sum of fp32 probabilities. */
#define ALPHA_ABS_TOL 2e-5

static sparq_context *context;
static uint64_t process_seed;

/* Caches still alive: a failed test leaves its caches behind (cmocka jumps
 * out of it), and the context can only be destroyed once they are gone. */
#define MAX_LIVE_CACHES 64
static sparq_cache *live_caches[MAX_LIVE_CACHES];

/* Worst errors seen, printed at the end so the headroom under each
 * tolerance is visible in the test log. */
static double worst_output_error[3]; /* by tolerance: 1e-5, 1e-4, 1e-3 */
static double worst_alpha_error;

static void note_output_error(double err, double tol)
{
    int cls = tol <= 1e-5 ? 0 : tol <= 1e-4 ? 1 : 2;
    if (err > worst_output_error[cls])
        worst_output_error[cls] = err;
}

static void remember_cache(sparq_cache *cache)
{
    for (int i = 0; i < MAX_LIVE_CACHES; i++)
        if (!live_caches[i]) {
            live_caches[i] = cache;
            return;
        }
}

static void forget_cache(sparq_cache *cache)
{
    for (int i = 0; i < MAX_LIVE_CACHES; i++)
        if (live_caches[i] == cache)
            live_caches[i] = NULL;
}

static void *checked_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        fail_msg("out of host memory (%zu bytes)", bytes);
    return p;
}

int harness_group_setup(void **state)
{
    (void)state;
    process_seed = sparq_ref_test_seed("attention");
    context = test_plugin_context(NULL);
    if (!context) {
        fprintf(stderr, "attention: no context, every test of this group fails\n");
        return -1;
    }
    return 0;
}

int harness_group_teardown(void **state)
{
    (void)state;
    printf("worst relative L2 error: %.3g (f32 storage, tolerance 1e-5), %.3g (f16 storage, 1e-4), "
           "%.3g (f16 output, 1e-3); worst alpha error %.3g (tolerance %.0e)\n",
           worst_output_error[0], worst_output_error[1], worst_output_error[2], worst_alpha_error, ALPHA_ABS_TOL);
    for (int i = 0; i < MAX_LIVE_CACHES; i++)
        if (live_caches[i]) {
            harness_api()->cache_destroy(live_caches[i]);
            live_caches[i] = NULL;
        }
    if (context && harness_api()->context_destroy(context) != SPARQ_SUCCESS) {
        fprintf(stderr, "attention: context_destroy: %s\n", harness_api()->last_error());
        return -1;
    }
    context = NULL;
    return test_plugin_validation_errors() == 0 ? 0 : -1;
}

const sparq_api *harness_api(void)
{
    return test_plugin_api();
}

sparq_context *harness_context(void)
{
    assert_non_null(context);
    return context;
}

void harness_rng(sparq_ref_rng *rng, const char *stream)
{
    sparq_ref_rng_init(rng, process_seed, stream);
}

void harness_finish(void)
{
    test_plugin_assert_no_validation_errors();
}

static sparq_dtype storage_of(const harness_cache *hc)
{
    return hc->desc.storage == SPARQ_DTYPE_F32 ? SPARQ_DTYPE_F32 : SPARQ_DTYPE_F16;
}

static const char *dtype_name(sparq_dtype dtype)
{
    return dtype == SPARQ_DTYPE_F32 ? "f32" : "f16";
}

size_t harness_row(const harness_cache *hc)
{
    return (size_t)hc->desc.n_kv_heads * hc->desc.head_dim;
}

void harness_cache_create(harness_cache *hc, sparq_ref_rng *rng, uint32_t n_seqs, uint32_t n_kv_heads,
                          uint32_t head_dim, uint32_t capacity, sparq_dtype storage)
{
    memset(hc, 0, sizeof *hc);
    hc->desc = (sparq_cache_desc){
        .struct_size = sizeof hc->desc,
        .n_seqs = n_seqs,
        .n_kv_heads = n_kv_heads,
        .head_dim = head_dim,
        .capacity = capacity,
        .storage = storage,
    };
    TEST_SPARQ_OK(harness_api()->cache_create(harness_context(), &hc->desc, &hc->cache));
    assert_non_null(hc->cache);
    remember_cache(hc->cache);
    assert_int_equal(sparq_ref_kv_model_init(&hc->model, rng, n_kv_heads, head_dim), 0);
    size_t floats = (size_t)n_seqs * capacity * harness_row(hc);
    hc->lengths = calloc(n_seqs, sizeof(uint32_t));
    /* calloc: large caches only touch the pages of slots actually filled. */
    hc->shadow_k = calloc(floats, sizeof(float));
    hc->shadow_v = calloc(floats, sizeof(float));
    assert_non_null(hc->lengths);
    assert_non_null(hc->shadow_k);
    assert_non_null(hc->shadow_v);
}

void harness_cache_destroy(harness_cache *hc)
{
    if (hc->cache) {
        forget_cache(hc->cache);
        TEST_SPARQ_OK(harness_api()->cache_destroy(hc->cache));
    }
    sparq_ref_kv_model_free(&hc->model);
    free(hc->lengths);
    free(hc->shadow_k);
    free(hc->shadow_v);
    memset(hc, 0, sizeof *hc);
}

void harness_make_kv(const harness_cache *hc, sparq_ref_rng *rng, size_t n_rows, float **k, float **v)
{
    *k = checked_malloc(n_rows * harness_row(hc) * sizeof(float));
    *v = checked_malloc(n_rows * harness_row(hc) * sizeof(float));
    sparq_ref_fill_keys(&hc->model, rng, *k, n_rows);
    sparq_ref_fill_values(&hc->model, rng, *v, n_rows);
}

sparq_status harness_append(harness_cache *hc, const uint32_t *slots, uint32_t n_slots, uint32_t n_tokens,
                            const float *k, const float *v, sparq_dtype dtype)
{
    const size_t row = harness_row(hc);
    const size_t n = (size_t)n_slots * n_tokens * row;
    float *kr = checked_malloc(n * sizeof(float));
    float *vr = checked_malloc(n * sizeof(float));
    memcpy(kr, k, n * sizeof(float));
    memcpy(vr, v, n * sizeof(float));
    void *kin = kr, *vin = vr;
    uint16_t *kh = NULL, *vh = NULL;
    if (dtype == SPARQ_DTYPE_F16) {
        sparq_ref_round_f16_array(kr, n);
        sparq_ref_round_f16_array(vr, n);
        kh = checked_malloc(n * sizeof(uint16_t));
        vh = checked_malloc(n * sizeof(uint16_t));
        sparq_ref_f32_array_to_f16(kr, kh, n);
        sparq_ref_f32_array_to_f16(vr, vh, n);
        kin = kh;
        vin = vh;
    }
    sparq_append_desc desc = {
        .struct_size = sizeof desc,
        .n_slots = n_slots,
        .slots = slots,
        .n_tokens = n_tokens,
        .dtype = dtype,
        .k = kin,
        .v = vin,
    };
    sparq_status status = harness_api()->cache_append(hc->cache, &desc);
    if (status == SPARQ_SUCCESS) {
        for (uint32_t s = 0; s < n_slots; s++) {
            uint32_t slot = slots[s];
            assert_true(slot < hc->desc.n_seqs);
            assert_true(hc->lengths[slot] + n_tokens <= hc->desc.capacity);
            size_t dst = ((size_t)slot * hc->desc.capacity + hc->lengths[slot]) * row;
            size_t src = (size_t)s * n_tokens * row;
            memcpy(hc->shadow_k + dst, kr + src, (size_t)n_tokens * row * sizeof(float));
            memcpy(hc->shadow_v + dst, vr + src, (size_t)n_tokens * row * sizeof(float));
            hc->lengths[slot] += n_tokens;
        }
    }
    free(kr);
    free(vr);
    free(kh);
    free(vh);
    return status;
}

void harness_fill(harness_cache *hc, sparq_ref_rng *rng, uint32_t slot, uint32_t length, uint32_t block,
                  sparq_dtype dtype)
{
    if (block == 0)
        block = 256;
    while (hc->lengths[slot] < length) {
        uint32_t n = length - hc->lengths[slot];
        if (n > block)
            n = block;
        float *k, *v;
        harness_make_kv(hc, rng, n, &k, &v);
        TEST_SPARQ_OK(harness_append(hc, &slot, 1, n, k, v, dtype));
        free(k);
        free(v);
    }
}

void harness_check_lengths(const harness_cache *hc)
{
    uint32_t *lengths = checked_malloc(hc->desc.n_seqs * sizeof(uint32_t));
    TEST_SPARQ_OK(harness_api()->cache_get_lengths(hc->cache, 0, hc->desc.n_seqs, lengths));
    for (uint32_t s = 0; s < hc->desc.n_seqs; s++)
        if (lengths[s] != hc->lengths[s])
            fail_msg("slot %u: plugin says length %u, %u were appended", s, lengths[s], hc->lengths[s]);
    free(lengths);
}

void harness_read_slot(const harness_cache *hc, uint32_t slot, harness_slot *out)
{
    const size_t row = harness_row(hc);
    const uint32_t length = hc->lengths[slot];
    out->length = length;
    out->k = checked_malloc((size_t)length * row * sizeof(float));
    out->v = checked_malloc((size_t)length * row * sizeof(float));
    out->v_sum = checked_malloc(row * sizeof(float));
    sparq_read_desc desc = {
        .struct_size = sizeof desc,
        .slot = slot,
        .first = 0,
        .count = length,
        .k = out->k,
        .v = out->v,
        .v_sum = out->v_sum,
    };
    TEST_SPARQ_OK(harness_api()->cache_read(hc->cache, &desc));

    const bool f32 = storage_of(hc) == SPARQ_DTYPE_F32;
    const float *sk = hc->shadow_k + (size_t)slot * hc->desc.capacity * row;
    const float *sv = hc->shadow_v + (size_t)slot * hc->desc.capacity * row;
    for (size_t i = 0; i < (size_t)length * row; i++) {
        bool k_ok = f32 ? memcmp(&out->k[i], &sk[i], sizeof(float)) == 0 : sparq_ref_is_f16_rounding_of(out->k[i], sk[i]);
        bool v_ok = f32 ? memcmp(&out->v[i], &sv[i], sizeof(float)) == 0 : sparq_ref_is_f16_rounding_of(out->v[i], sv[i]);
        if (!k_ok || !v_ok)
            fail_msg("slot %u position %zu channel %zu: stored %s %a, appended %a (%s storage)", slot, i / row,
                     i % row, k_ok ? "V" : "K", (double)(k_ok ? out->v[i] : out->k[i]),
                     (double)(k_ok ? sv[i] : sk[i]), f32 ? "f32" : "f16");
    }

    double *sum = checked_malloc(row * sizeof(double));
    for (size_t i = 0; i < row; i++)
        sum[i] = 0.0;
    for (size_t t = 0; t < length; t++)
        for (size_t i = 0; i < row; i++)
            sum[i] += out->v[t * row + i];
    /* f32: an fp32 running sum of the stored values. f16: the plugin may sum
     * the values before or after rounding to binary16; either is within this. */
    double tol = f32 ? 1e-5 : 2e-3;
    double err = sparq_ref_rel_l2_error(out->v_sum, sum, row);
    if (length == 0) {
        for (size_t i = 0; i < row; i++)
            if (out->v_sum[i] != 0.0f)
                fail_msg("slot %u is empty but v_sum[%zu] = %g", slot, i, (double)out->v_sum[i]);
    } else if (!(err <= tol)) {
        fail_msg("slot %u (length %u): v_sum differs from the sum of stored V by relative L2 %.3g (tolerance %.1g)",
                 slot, length, err, tol);
    }
    free(sum);
}

void harness_slot_free(harness_slot *slot)
{
    free(slot->k);
    free(slot->v);
    free(slot->v_sum);
    memset(slot, 0, sizeof *slot);
}

static uint32_t resolved_r(uint32_t head_dim, uint32_t r)
{
    return sparq_ref_resolve_params(head_dim, 1, r, 1, 1).r;
}

/* (a_r - a_{r+1}) / a_r for a = sum over the group of |q_j|. */
static double i1_margin(const float *q, uint32_t group, uint32_t head_dim, uint32_t r)
{
    if (r >= head_dim)
        return INFINITY;
    double a[SPARQ_MAX_HEAD_DIM];
    for (uint32_t i = 0; i < head_dim; i++) {
        a[i] = 0.0;
        for (uint32_t j = 0; j < group; j++)
            a[i] += fabs((double)q[(size_t)j * head_dim + i]);
    }
    /* Partial selection sort: only the top r + 1 matter. */
    for (uint32_t i = 0; i <= r; i++)
        for (uint32_t m = i + 1; m < head_dim; m++)
            if (a[m] > a[i]) {
                double t = a[i];
                a[i] = a[m];
                a[m] = t;
            }
    return a[r - 1] > 0.0 ? (a[r - 1] - a[r]) / a[r - 1] : 0.0;
}

float *harness_make_queries(const harness_cache *hc, sparq_ref_rng *rng, uint32_t n_slots, uint32_t n_heads,
                            uint32_t r, sparq_dtype io_dtype, sparq_ref_focus focus)
{
    const uint32_t dh = hc->desc.head_dim;
    const uint32_t group = n_heads / hc->desc.n_kv_heads;
    const uint32_t re = resolved_r(dh, r);
    const size_t group_floats = (size_t)group * dh;
    float *q = checked_malloc((size_t)n_slots * n_heads * dh * sizeof(float));
    /* Queries for one KV head's group, drawn with the single-head model of that KV head. */
    sparq_ref_kv_model one = hc->model;
    one.n_kv_heads = 1;
    for (uint32_t s = 0; s < n_slots; s++)
        for (uint32_t h = 0; h < hc->desc.n_kv_heads; h++) {
            float *g = q + ((size_t)s * n_heads + (size_t)h * group) * dh;
            one.k_scale = hc->model.k_scale + (size_t)h * dh;
            int tries = 0;
            do {
                if (++tries > 1000)
                    fail_msg("could not draw a query group with a clear i1 (r = %u)", re);
                sparq_ref_fill_queries(&one, rng, g, 1, group, focus);
                if (io_dtype == SPARQ_DTYPE_F16)
                    sparq_ref_round_f16_array(g, group_floats);
            } while (i1_margin(g, group, dh, re) < I1_MARGIN_MIN);
        }
    return q;
}

static size_t io_size(sparq_dtype dtype)
{
    return dtype == SPARQ_DTYPE_F16 ? 2 : 4;
}

static sparq_ref_params slot_params(const harness_cache *hc, const harness_attend *a, uint32_t slot)
{
    return sparq_ref_resolve_params(hc->desc.head_dim, hc->lengths[slot], a->r, a->k, a->l);
}

static bool is_sparq(const harness_attend *a)
{
    return a->mode != SPARQ_ATTENTION_DENSE;
}

/* The device's selection as ascending runs ("3-7 9 12-20"), some runs to a
 * line, so that a failed check shows what was chosen, not only the first
 * fault found. */
static void print_selection(const uint32_t *sel, uint32_t n)
{
    print_error("device selection (%u entries):\n", n);
    char line[160];
    size_t at = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j + 1 < n && sel[j + 1] == sel[j] + 1)
            j++;
        if (j > i)
            at += (size_t)snprintf(line + at, sizeof line - at, " %u-%u", sel[i], sel[j]);
        else
            at += (size_t)snprintf(line + at, sizeof line - at, " %u", sel[i]);
        i = j + 1;
        if (at > sizeof line - 24 || i == n) {
            print_error("  %s\n", line);
            at = 0;
        }
    }
}

sparq_status harness_run(const harness_cache *hc, const harness_attend *a, harness_result *res)
{
    memset(res, 0, sizeof *res);
    const uint32_t dh = hc->desc.head_dim, nkv = hc->desc.n_kv_heads;
    const size_t n_out = (size_t)a->n_slots * a->n_heads * dh;
    const size_t elem = io_size(a->io_dtype);

    /* q in the caller's element type. */
    void *q = checked_malloc(n_out * elem);
    if (a->io_dtype == SPARQ_DTYPE_F16)
        sparq_ref_f32_array_to_f16(a->q, q, n_out);
    else
        memcpy(q, a->q, n_out * sizeof(float));

    res->raw_out_bytes = n_out * elem;
    res->raw_out = checked_malloc(res->raw_out_bytes);
    res->out = checked_malloc(n_out * sizeof(float));
    for (size_t i = 0; i < n_out; i++) {
        if (elem == 2) {
            uint16_t p = POISON_F16;
            memcpy((char *)res->raw_out + 2 * i, &p, 2);
        } else {
            uint32_t p = POISON_F32;
            memcpy((char *)res->raw_out + 4 * i, &p, 4);
        }
    }

    if (is_sparq(a) && a->want_selection) {
        uint32_t widest = 0;
        for (uint32_t s = 0; s < a->n_slots; s++) {
            uint32_t k = slot_params(hc, a, a->slots[s]).k;
            widest = k > widest ? k : widest;
        }
        /* Slack past the widest selection checks the SPARQ_NO_POSITION padding. */
        res->selected_stride = widest + 3;
        res->selected_count = (size_t)a->n_slots * nkv * res->selected_stride;
        res->selected = checked_malloc(res->selected_count * sizeof(uint32_t));
        for (size_t i = 0; i < res->selected_count; i++)
            res->selected[i] = POISON_POSITION;
        res->alpha_count = (size_t)a->n_slots * a->n_heads;
        res->alpha = checked_malloc(res->alpha_count * sizeof(float));
        for (size_t i = 0; i < res->alpha_count; i++) {
            uint32_t p = POISON_F32;
            memcpy(&res->alpha[i], &p, 4);
        }
    }

    sparq_attend_desc desc = {
        .struct_size = sizeof desc,
        .mode = a->mode,
        .n_slots = a->n_slots,
        .slots = a->slots,
        .n_heads = a->n_heads,
        .dtype = a->io_dtype,
        .q = q,
        .out = res->raw_out,
        .scale = a->scale,
        .flags = a->flags,
        .r = a->r,
        .k = a->k,
        .l = a->l,
        .selected = res->selected,
        .selected_stride = res->selected_stride,
        .alpha = res->alpha,
    };
    sparq_status status = harness_api()->attend(hc->cache, &desc);
    free(q);
    if (status != SPARQ_SUCCESS)
        return status;

    if (elem == 2)
        sparq_ref_f16_array_to_f32(res->raw_out, res->out, n_out);
    else
        memcpy(res->out, res->raw_out, n_out * sizeof(float));
    size_t unwritten = 0, first = 0;
    for (size_t i = 0; i < n_out; i++)
        if (!isfinite(res->out[i]) && unwritten++ == 0)
            first = i;
    if (unwritten)
        fail_msg("%zu of %zu output elements not written or not finite; first: slot entry %zu head %zu element %zu",
                 unwritten, n_out, first / ((size_t)a->n_heads * dh), first / dh % a->n_heads, first % dh);

    if (res->selected) {
        for (uint32_t s = 0; s < a->n_slots; s++) {
            const uint32_t S = hc->lengths[a->slots[s]];
            const uint32_t n = slot_params(hc, a, a->slots[s]).k;
            for (uint32_t h = 0; h < nkv; h++) {
                const uint32_t *sel = res->selected + ((size_t)s * nkv + h) * res->selected_stride;
                for (uint32_t i = 0; i < res->selected_stride; i++) {
                    if (i < n && (sel[i] >= S || (i > 0 && sel[i] <= sel[i - 1]))) {
                        print_selection(sel, n);
                        fail_msg("slot entry %u KV head %u: selected[%u] = %#x is not an ascending position < %u", s,
                                 h, i, sel[i], S);
                    }
                    if (i >= n && sel[i] != SPARQ_NO_POSITION)
                        fail_msg("slot entry %u KV head %u: selected[%u] = %#x past min(k, S) = %u, expected "
                                 "SPARQ_NO_POSITION",
                                 s, h, i, sel[i], n);
                }
            }
        }
        for (size_t i = 0; i < res->alpha_count; i++) {
            float alpha = res->alpha[i];
            if (!(alpha >= 0.0f && alpha <= 1.0f + 1e-5f))
                fail_msg("alpha[%zu] = %g: not written, or outside [0, 1]", i, (double)alpha);
            if ((a->flags & SPARQ_ATTEND_NO_MEAN_REALLOCATION) && alpha != 1.0f)
                fail_msg("alpha[%zu] = %.9g without mean reallocation, expected exactly 1", i, (double)alpha);
        }
    }
    return SPARQ_SUCCESS;
}

void harness_result_free(harness_result *res)
{
    free(res->out);
    free(res->raw_out);
    free(res->selected);
    free(res->alpha);
    memset(res, 0, sizeof *res);
}

double harness_output_tolerance(const harness_cache *hc, sparq_dtype io_dtype)
{
    /* An f16 output carries its own rounding, up to 2^-11 relative per element. */
    if (io_dtype == SPARQ_DTYPE_F16)
        return 1e-3;
    return storage_of(hc) == SPARQ_DTYPE_F32 ? 1e-5 : 1e-4;
}

static void describe(char *buf, size_t size, const harness_cache *hc, const harness_attend *a, const char *label,
                     uint32_t entry, uint32_t S)
{
    snprintf(buf, size, "[%s] %s dh=%u g=%u n_kv=%u slot entry %u (slot %u, S=%u) r=%u k=%u l=%u%s storage=%s io=%s",
             label, is_sparq(a) ? "sparq" : "dense", hc->desc.head_dim, a->n_heads / hc->desc.n_kv_heads,
             hc->desc.n_kv_heads, entry, a->slots[entry], S, a->r, a->k, a->l,
             (a->flags & SPARQ_ATTEND_NO_MEAN_REALLOCATION) ? " no-realloc" : "", dtype_name(storage_of(hc)),
             dtype_name(a->io_dtype));
}

static void compare_heads(const char *what, const char *where, const float *got, const double *want, uint32_t group,
                          uint32_t dh, double tol)
{
    for (uint32_t j = 0; j < group; j++) {
        double err = sparq_ref_rel_l2_error(got + (size_t)j * dh, want + (size_t)j * dh, dh);
        note_output_error(err, tol);
        if (!(err <= tol))
            fail_msg("%s %s: query head %u of the group: relative L2 error %.3g > %.1g", where, what, j, err, tol);
    }
}

static void check(const harness_cache *hc, const harness_attend *a, const harness_result *res, const char *label,
                  bool expect_dense)
{
    const uint32_t dh = hc->desc.head_dim, nkv = hc->desc.n_kv_heads;
    const uint32_t group = a->n_heads / nkv;
    const double tol = harness_output_tolerance(hc, a->io_dtype);
    const bool sparq = is_sparq(a) && !expect_dense;
    if (sparq && !res->selected)
        fail_msg("[%s] SparQ output can only be checked given the selection (want_selection)", label);
    double *want = checked_malloc((size_t)group * dh * sizeof(double));
    double alpha[SPARQ_MAX_GROUP_SIZE];
    char where[512], message[512];
    for (uint32_t s = 0; s < a->n_slots; s++) {
        harness_slot slot;
        harness_read_slot(hc, a->slots[s], &slot);
        describe(where, sizeof where, hc, a, label, s, slot.length);
        for (uint32_t h = 0; h < nkv; h++) {
            const size_t head0 = (size_t)s * a->n_heads + (size_t)h * group;
            sparq_ref_problem problem = {
                .head_dim = dh,
                .group_size = group,
                .length = slot.length,
                .kv_stride = harness_row(hc),
                .q = a->q + head0 * dh,
                .k = slot.k + (size_t)h * dh,
                .v = slot.v + (size_t)h * dh,
                .scale = a->scale,
            };
            const float *got = res->out + head0 * dh;
            if (!sparq) {
                assert_int_equal(sparq_ref_dense(&problem, want), 0);
                compare_heads(expect_dense && is_sparq(a) ? "(k >= S must equal dense)" : "dense", where, got, want,
                              group, dh, tol);
                continue;
            }
            sparq_ref_params params = slot_params(hc, a, a->slots[s]);
            sparq_ref_ranking ranking;
            assert_int_equal(sparq_ref_rank(&problem, params.r, &ranking), 0);
            const uint32_t *sel = res->selected + ((size_t)s * nkv + h) * res->selected_stride;
            const char *bad = sparq_ref_check_selection(&ranking, params, sel, params.k, SELECTION_REL_TOL,
                                                        SELECTION_ABS_TOL, message, sizeof message);
            if (bad) {
                print_selection(sel, params.k < slot.length ? params.k : slot.length);
                fail_msg("%s KV head %u: invalid selection: %s", where, h, bad);
            }
            bool realloc = !(a->flags & SPARQ_ATTEND_NO_MEAN_REALLOCATION);
            assert_int_equal(sparq_ref_sparq_output(&problem, &ranking, sel, params.k, realloc, want, alpha), 0);
            compare_heads("sparq output given the device's selection", where, got, want, group, dh, tol);
            for (uint32_t j = 0; j < group; j++) {
                double got_alpha = res->alpha[head0 + j];
                if (fabs(got_alpha - alpha[j]) > worst_alpha_error)
                    worst_alpha_error = fabs(got_alpha - alpha[j]);
                if (!(fabs(got_alpha - alpha[j]) <= ALPHA_ABS_TOL))
                    fail_msg("%s KV head %u query head %u: alpha %.9g, reference %.9g", where, h, j, got_alpha,
                             alpha[j]);
            }
            sparq_ref_ranking_free(&ranking);
        }
        harness_slot_free(&slot);
    }
    free(want);
}

void harness_check(const harness_cache *hc, const harness_attend *a, const harness_result *res, const char *label)
{
    check(hc, a, res, label, false);
}

void harness_check_dense(const harness_cache *hc, const harness_attend *a, const harness_result *res,
                         const char *label)
{
    check(hc, a, res, label, true);
}

void harness_run_and_check(const harness_cache *hc, const harness_attend *a, const char *label)
{
    harness_result res;
    sparq_status status = harness_run(hc, a, &res);
    if (status != SPARQ_SUCCESS) {
        char where[512];
        describe(where, sizeof where, hc, a, label, 0, hc->lengths[a->slots[0]]);
        fail_msg("%s (of %u slot entries): attend -> %d: %s", where, a->n_slots, (int)status,
                 harness_api()->last_error());
    }
    harness_check(hc, a, &res, label);
    harness_result_free(&res);
}

void harness_assert_same_result(const harness_result *a, const harness_result *b, const char *label)
{
    assert_int_equal(a->raw_out_bytes, b->raw_out_bytes);
    if (memcmp(a->raw_out, b->raw_out, a->raw_out_bytes) != 0) {
        for (size_t i = 0; i < a->raw_out_bytes; i++)
            if (((const unsigned char *)a->raw_out)[i] != ((const unsigned char *)b->raw_out)[i])
                fail_msg("[%s] outputs differ first at byte %zu of %zu", label, i, a->raw_out_bytes);
    }
    assert_int_equal(a->selected_count, b->selected_count);
    for (size_t i = 0; i < a->selected_count; i++)
        if (a->selected[i] != b->selected[i])
            fail_msg("[%s] selections differ at entry %zu: %#x vs %#x", label, i, a->selected[i], b->selected[i]);
    assert_int_equal(a->alpha_count, b->alpha_count);
    if (a->alpha_count && memcmp(a->alpha, b->alpha, a->alpha_count * sizeof(float)) != 0)
        fail_msg("[%s] alphas differ", label);
}
