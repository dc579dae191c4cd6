/*
 * soak [STEPS]: many decode steps on one context and one cache, with
 * truncates and resets mixed in, checking that the plugin's footprint stays
 * flat and its results stay right. Default 2,000 steps (the CI run);
 * docs/RELIABILITY.md reports a 100,000-step run.
 *
 * Each step appends one token to a random slot (resetting or truncating it
 * first when it is full), then runs one SparQ attend over every slot (with
 * `selected` and alpha); every 8th step also a dense one. Truncates (1 in 40
 * steps) and resets (1 in 400) hit random slots. A host mirror of every
 * slot's K and V is the input of the float64 reference, which checks the
 * outputs of the first 64 steps, 16 steps spread over the run and the last
 * 16, plus the stored V sums at the end.
 *
 * Footprint: after a warm-up of a tenth of the run (at least 200 steps) the
 * resident size (/proc/self/statm), the number of mappings (/proc/self/maps:
 * lavapipe maps device memory) and of open files are taken; at the end they
 * may exceed those by at most 8 MiB, 16 mappings, 0 files. Figures are printed
 * every tenth of the run. Exit status 0 only if every check passed.
 */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sparq_ref.h"
#include "test_plugin.h"

enum { N_SEQS = 3, N_KV = 2, GROUP = 2, N_HEADS = N_KV * GROUP, DH = 16, CAPACITY = 96 };
enum { ROW = N_KV * DH, K_SEL = 12, L_SEL = 3, R_SEL = 4 };

static const sparq_api *api;
static sparq_ref_kv_model model;
static float host_k[N_SEQS][CAPACITY][ROW], host_v[N_SEQS][CAPACITY][ROW];
static uint32_t length[N_SEQS];
static unsigned failures;

#define SOAK_FAIL(...)                                                                                                 \
    do {                                                                                                               \
        fprintf(stderr, "soak: " __VA_ARGS__);                                                                         \
        fputc('\n', stderr);                                                                                           \
        if (++failures > 10)                                                                                           \
            exit(1);                                                                                                   \
    } while (0)

static bool ok(sparq_status st, const char *what, uint64_t step)
{
    if (st == SPARQ_SUCCESS)
        return true;
    SOAK_FAIL("step %llu: %s -> %d: %s", (unsigned long long)step, what, (int)st, api->last_error());
    return false;
}

typedef struct footprint {
    long rss_kib;
    unsigned maps, files;
} footprint;

static unsigned count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned n = 0;
    if (!f)
        return 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

static footprint measure(void)
{
    footprint fp = {0, count_lines("/proc/self/maps"), 0};
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) == 2)
        fp.rss_kib = resident * (sysconf(_SC_PAGESIZE) / 1024);
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        fp.files += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return fp;
}

/* The reference for one slot entry: dense, or SparQ given the device's
 * selection (which must be a valid one). Returns the worst relative error. */
static double check_entry(uint32_t slot, bool sparq, const float *q, const float *out, const uint32_t *selected,
                          uint32_t stride, const float *alpha, uint64_t step)
{
    double worst = 0.0, want[GROUP * DH], want_alpha[GROUP];
    for (uint32_t h = 0; h < N_KV; h++) {
        sparq_ref_problem pb = {.head_dim = DH, .group_size = GROUP, .length = length[slot], .kv_stride = ROW,
                                .q = q + (size_t)h * GROUP * DH, .k = &host_k[slot][0][h * DH],
                                .v = &host_v[slot][0][h * DH]};
        if (!sparq) {
            sparq_ref_dense(&pb, want);
        } else {
            sparq_ref_params params = sparq_ref_resolve_params(DH, length[slot], R_SEL, K_SEL, L_SEL);
            sparq_ref_ranking ranking;
            if (sparq_ref_rank(&pb, params.r, &ranking) != 0)
                exit(2);
            char message[256];
            const uint32_t *sel = selected + (size_t)h * stride;
            if (sparq_ref_check_selection(&ranking, params, sel, params.k, 1e-3, 1e-6, message, sizeof message))
                SOAK_FAIL("step %llu slot %u KV head %u: invalid selection: %s", (unsigned long long)step, slot, h,
                          message);
            sparq_ref_sparq_output(&pb, &ranking, sel, params.k, true, want, want_alpha);
            for (uint32_t j = 0; j < GROUP; j++)
                if (!(fabs(alpha[h * GROUP + j] - want_alpha[j]) <= 2e-5))
                    SOAK_FAIL("step %llu slot %u head %u: alpha %g, reference %g", (unsigned long long)step, slot,
                              h * GROUP + j, (double)alpha[h * GROUP + j], want_alpha[j]);
            sparq_ref_ranking_free(&ranking);
        }
        for (uint32_t j = 0; j < GROUP; j++) {
            double err = sparq_ref_rel_l2_error(out + (size_t)(h * GROUP + j) * DH, want + (size_t)j * DH, DH);
            if (!(err <= 1e-5))
                SOAK_FAIL("step %llu slot %u head %u (%s): relative L2 error %.3g", (unsigned long long)step, slot,
                          h * GROUP + j, sparq ? "sparq" : "dense", err);
            worst = err > worst ? err : worst;
        }
    }
    return worst;
}

static double attend(sparq_cache *cache, sparq_ref_rng *rng, bool sparq, bool check, uint64_t step)
{
    static float q[N_SEQS * N_HEADS * DH], out[N_SEQS * N_HEADS * DH], alpha[N_SEQS * N_HEADS];
    static uint32_t selected[N_SEQS * N_KV * (K_SEL + 1)];
    uint32_t slots[N_SEQS], n = 0;
    for (uint32_t s = 0; s < N_SEQS; s++)
        if (length[s])
            slots[n++] = s;
    if (n == 0)
        return 0.0;
    sparq_ref_fill_queries(&model, rng, q, n, N_HEADS, SPARQ_REF_FOCUS_NORMAL);
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        out[i] = NAN;
    for (size_t i = 0; i < sizeof alpha / sizeof alpha[0]; i++)
        alpha[i] = NAN;
    memset(selected, 0xa5, sizeof selected);
    sparq_attend_desc d = {.struct_size = sizeof d, .mode = sparq ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
                           .n_slots = n, .slots = slots, .n_heads = N_HEADS, .q = q, .out = out, .r = R_SEL,
                           .k = K_SEL, .l = L_SEL, .selected = sparq ? selected : NULL,
                           .selected_stride = sparq ? K_SEL + 1 : 0, .alpha = sparq ? alpha : NULL};
    if (!ok(api->attend(cache, &d), "attend", step))
        return 0.0;
    double worst = 0.0;
    for (uint32_t e = 0; e < n; e++) {
        const size_t o = (size_t)e * N_HEADS * DH;
        for (size_t i = 0; i < N_HEADS * DH; i++)
            if (!isfinite(out[o + i])) {
                SOAK_FAIL("step %llu: output of slot %u not written", (unsigned long long)step, slots[e]);
                return 0.0;
            }
        if (check) {
            double err = check_entry(slots[e], sparq, q + o, out + o, selected + (size_t)e * N_KV * (K_SEL + 1),
                                     K_SEL + 1, alpha + (size_t)e * N_HEADS, step);
            worst = err > worst ? err : worst;
        }
    }
    return worst;
}

static void append_token(sparq_cache *cache, sparq_ref_rng *rng, uint32_t slot, uint64_t step)
{
    float k[ROW], v[ROW];
    sparq_ref_fill_keys(&model, rng, k, 1);
    sparq_ref_fill_values(&model, rng, v, 1);
    sparq_append_desc d = {.struct_size = sizeof d, .n_slots = 1, .slots = &slot, .n_tokens = 1, .k = k, .v = v};
    if (!ok(api->cache_append(cache, &d), "cache_append", step))
        return;
    memcpy(host_k[slot][length[slot]], k, sizeof k);
    memcpy(host_v[slot][length[slot]], v, sizeof v);
    length[slot]++;
}

static void truncate_slot(sparq_cache *cache, uint32_t slot, uint32_t to, uint64_t step)
{
    if (ok(to ? api->cache_truncate(cache, slot, to) : api->cache_reset(cache, slot), to ? "truncate" : "reset",
           step))
        length[slot] = to;
}

static void check_state(sparq_cache *cache, uint64_t step)
{
    uint32_t lengths[N_SEQS];
    if (ok(api->cache_get_lengths(cache, 0, N_SEQS, lengths), "get_lengths", step))
        for (uint32_t s = 0; s < N_SEQS; s++)
            if (lengths[s] != length[s])
                SOAK_FAIL("step %llu: slot %u has length %u, expected %u", (unsigned long long)step, s, lengths[s],
                          length[s]);
    for (uint32_t s = 0; s < N_SEQS; s++) {
        float v_sum[ROW];
        sparq_read_desc d = {.struct_size = sizeof d, .slot = s, .v_sum = v_sum};
        if (!ok(api->cache_read(cache, &d), "cache_read", step))
            continue;
        for (uint32_t i = 0; i < ROW; i++) {
            double want = 0.0, scale = 1.0;
            for (uint32_t t = 0; t < length[s]; t++) {
                want += host_v[s][t][i];
                scale += fabs(host_v[s][t][i]);
            }
            if (!(fabs(v_sum[i] - want) <= 1e-5 * scale))
                SOAK_FAIL("step %llu slot %u: v_sum[%u] = %.9g, reference %.9g", (unsigned long long)step, s, i,
                          (double)v_sum[i], want);
        }
    }
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
    const uint64_t warmup = steps / 10 > 200 ? steps / 10 : 200;
    sparq_ref_rng rng;
    sparq_ref_rng_init(&rng, sparq_ref_test_seed("soak"), "soak");
    api = test_plugin_api();
    if (sparq_ref_kv_model_init(&model, &rng, N_KV, DH) != 0)
        return 2;
    sparq_context *ctx = test_plugin_context(NULL);
    if (!ctx)
        return 1;
    const sparq_cache_desc cd = {.struct_size = sizeof cd, .n_seqs = N_SEQS, .n_kv_heads = N_KV, .head_dim = DH,
                                 .capacity = CAPACITY, .storage = SPARQ_DTYPE_F32};
    sparq_cache *cache = NULL;
    if (!ok(api->cache_create(ctx, &cd, &cache), "cache_create", 0))
        return 1;

    footprint base = {0, 0, 0}, now;
    long peak_growth = 0;
    double worst = 0.0, t0 = seconds();
    unsigned long long calls = 1, truncates = 0, resets = 0, checked = 0;
    for (uint64_t step = 0; step < steps && failures == 0; step++) {
        const uint32_t slot = sparq_ref_rng_below(&rng, N_SEQS);
        const uint32_t dice = sparq_ref_rng_below(&rng, 400);
        if (length[slot] == CAPACITY || dice == 0) {
            truncate_slot(cache, slot, dice == 0 ? 0 : sparq_ref_rng_below(&rng, CAPACITY), step);
            resets += dice == 0;
            truncates += dice != 0;
            calls++;
        } else if (dice < 10 && length[slot] > 1) {
            truncate_slot(cache, slot, 1 + sparq_ref_rng_below(&rng, length[slot] - 1), step);
            truncates++;
            calls++;
        }
        append_token(cache, &rng, slot, step);
        const bool check = step < 64 || step % (steps / 16 + 1) == 0 || step + 16 >= steps;
        double err = attend(cache, &rng, true, check, step);
        calls += 2;
        if (step % 8 == 0) {
            double e2 = attend(cache, &rng, false, check, step);
            err = e2 > err ? e2 : err;
            calls++;
        }
        checked += check;
        worst = err > worst ? err : worst;
        if (step + 1 == warmup)
            base = measure();
        if (step + 1 >= warmup) {
            now = measure();
            if (now.rss_kib - base.rss_kib > peak_growth)
                peak_growth = now.rss_kib - base.rss_kib;
        }
        if ((step + 1) % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
            now = measure();
            printf("step %llu: %.1f s, rss %ld KiB, %u mappings, %u files, %llu calls\n",
                   (unsigned long long)step + 1, seconds() - t0, now.rss_kib, now.maps, now.files, calls);
            fflush(stdout);
        }
    }
    check_state(cache, steps);
    now = measure();
    printf("soak: %llu steps, %llu calls (%llu truncates, %llu resets), %.1f s; %llu steps checked against the "
           "reference, worst relative L2 error %.3g\n",
           (unsigned long long)steps, calls, truncates, resets, seconds() - t0, checked, worst);
    printf("soak: after warm-up (step %llu): rss %ld KiB, %u mappings, %u files; at the end: rss %ld KiB (peak "
           "growth %ld KiB), %u mappings, %u files\n",
           (unsigned long long)warmup, base.rss_kib, base.maps, base.files, now.rss_kib, peak_growth, now.maps,
           now.files);
    if (now.rss_kib - base.rss_kib > 8 * 1024 || now.maps > base.maps + 16 || now.files > base.files)
        SOAK_FAIL("the footprint grew after warm-up");
    if (!ok(api->cache_destroy(cache), "cache_destroy", steps) || !ok(api->context_destroy(ctx), "context_destroy", steps))
        return 1;
    sparq_ref_kv_model_free(&model);
    if (test_plugin_validation_errors())
        SOAK_FAIL("%u validation errors", test_plugin_validation_errors());
    printf("soak: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
