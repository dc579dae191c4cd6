#include "multi_run.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NaN payloads and a position no call can produce, so a leftover is
 * recognisable in a debugger. */
#define POISON_F32 0x7fc0deadu
#define POISON_F16 0x7e5au
#define POISON_POSITION 0xa5a5a5a5u
#define POISON_BYTE 0xa5u

static void record(multi_shard *sh, const char *fmt, ...)
{
    if (sh->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(sh->error, sizeof sh->error, "KV heads %u..%u: ", sh->kv_first, sh->kv_first + sh->n_kv - 1);
    if (n > 0 && (size_t)n < sizeof sh->error)
        vsnprintf(sh->error + n, sizeof sh->error - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool call_ok(multi_shard *sh, sparq_status status, const char *what)
{
    if (status == SPARQ_SUCCESS)
        return true;
    record(sh, "%s -> %d: %s", what, (int)status, sh->api->last_error());
    return false;
}

size_t multi_out_bytes(const multi_problem *pb, uint32_t config)
{
    size_t elem = multi_configs[config].io_dtype == SPARQ_DTYPE_F16 ? 2 : 4;
    return (size_t)pb->n_seqs * pb->n_heads * pb->head_dim * elem;
}

int multi_results_init(multi_results *res, const multi_problem *pb)
{
    memset(res, 0, sizeof *res);
    res->n_calls = pb->n_steps * multi_n_configs;
    res->out_call_bytes = (size_t)pb->n_seqs * pb->n_heads * pb->head_dim * sizeof(float);
    res->sel_stride = pb->capacity;
    res->sel_call_entries = (size_t)pb->n_seqs * pb->n_kv_heads * res->sel_stride;
    res->alpha_call_entries = (size_t)pb->n_seqs * pb->n_heads;
    res->out = malloc(res->n_calls * res->out_call_bytes);
    res->selected = malloc(res->n_calls * res->sel_call_entries * sizeof(uint32_t));
    res->alpha = malloc(res->n_calls * res->alpha_call_entries * sizeof(float));
    if (!res->out || !res->selected || !res->alpha) {
        multi_results_free(res);
        return -1;
    }
    memset(res->out, POISON_BYTE, res->n_calls * res->out_call_bytes);
    memset(res->selected, POISON_BYTE, res->n_calls * res->sel_call_entries * sizeof(uint32_t));
    memset(res->alpha, POISON_BYTE, res->n_calls * res->alpha_call_entries * sizeof(float));
    return 0;
}

void multi_results_free(multi_results *res)
{
    free(res->out);
    free(res->selected);
    free(res->alpha);
    memset(res, 0, sizeof *res);
}

/* This shard's heads of `rows` consecutive positions of one slot, as the
 * append layout wants them: [rows][n_kv][head_dim]. */
static void slice_rows(const multi_shard *sh, const float *full_rows, uint32_t rows, float *out)
{
    const multi_problem *pb = sh->pb;
    const size_t dh = pb->head_dim, part = (size_t)sh->n_kv * dh;
    for (uint32_t i = 0; i < rows; i++)
        memcpy(out + i * part, full_rows + ((size_t)i * pb->n_kv_heads + sh->kv_first) * dh, part * sizeof(float));
}

int multi_shard_prefill(multi_shard *sh)
{
    const multi_problem *pb = sh->pb;
    const size_t part = (size_t)sh->n_kv * pb->head_dim;
    int rc = 0;
    for (uint32_t s = 0; s < pb->n_seqs && rc == 0; s++) {
        const uint32_t n = pb->prefill[s];
        float *k = malloc(n * part * sizeof(float)), *v = malloc(n * part * sizeof(float));
        uint16_t *kh = malloc(n * part * sizeof(uint16_t)), *vh = malloc(n * part * sizeof(uint16_t));
        if (!k || !v || !kh || !vh) {
            record(sh, "out of host memory");
            rc = -1;
        } else {
            slice_rows(sh, multi_k_row(pb, s, 0), n, k);
            slice_rows(sh, multi_v_row(pb, s, 0), n, v);
            /* Sent as binary16 (exact: the values are representable), while
             * the decode steps send f32, so both input paths are in play. */
            sparq_ref_f32_array_to_f16(k, kh, n * part);
            sparq_ref_f32_array_to_f16(v, vh, n * part);
            sparq_append_desc desc = {
                .struct_size = sizeof desc,
                .n_slots = 1,
                .slots = &s,
                .n_tokens = n,
                .dtype = SPARQ_DTYPE_F16,
                .k = kh,
                .v = vh,
            };
            if (!call_ok(sh, sh->api->cache_append(sh->cache, &desc), "prefill cache_append"))
                rc = -1;
        }
        free(k);
        free(v);
        free(kh);
        free(vh);
    }
    return rc;
}

static bool append_step(multi_shard *sh, uint32_t step, const uint32_t *slots, float *k, float *v)
{
    const multi_problem *pb = sh->pb;
    const size_t part = (size_t)sh->n_kv * pb->head_dim;
    for (uint32_t s = 0; s < pb->n_seqs; s++) {
        const uint32_t pos = pb->prefill[s] + step;
        slice_rows(sh, multi_k_row(pb, s, pos), 1, k + s * part);
        slice_rows(sh, multi_v_row(pb, s, pos), 1, v + s * part);
    }
    sparq_append_desc desc = {
        .struct_size = sizeof desc,
        .n_slots = pb->n_seqs,
        .slots = slots,
        .n_tokens = 1,
        .dtype = SPARQ_DTYPE_F32,
        .k = k,
        .v = v,
    };
    return call_ok(sh, sh->api->cache_append(sh->cache, &desc), "step cache_append");
}

/* Buffers of one attend call of this shard. */
typedef struct shard_io {
    void *q;
    void *out;
    uint32_t *selected;
    float *alpha;
} shard_io;

static bool out_written(const void *out, bool f16, size_t i)
{
    if (f16) {
        uint16_t h = ((const uint16_t *)out)[i];
        return (h & 0x7c00u) != 0x7c00u;
    }
    return isfinite(((const float *)out)[i]);
}

/* Every output element written and well-formed; selection ascending, in
 * range, as many as min(k, S), the local window among them, then padding. */
static bool check_written(multi_shard *sh, uint32_t step, uint32_t config, const shard_io *io)
{
    const multi_problem *pb = sh->pb;
    const multi_config *c = &multi_configs[config];
    const uint32_t heads = sh->n_kv * pb->group, dh = pb->head_dim;
    const bool f16 = c->io_dtype == SPARQ_DTYPE_F16;
    for (size_t i = 0; i < (size_t)pb->n_seqs * heads * dh; i++)
        if (!out_written(io->out, f16, i)) {
            record(sh, "step %u %s: out[%zu] not written (or not finite)", step, c->name, i);
            return false;
        }
    if (c->mode != SPARQ_ATTENTION_SPARQ)
        return true;
    const uint32_t stride = sh->res->sel_stride;
    for (uint32_t e = 0; e < pb->n_seqs; e++) {
        const uint32_t S = multi_length(pb, pb->order[e], step);
        const uint32_t n_sel = c->k < S ? c->k : S, window = c->l < n_sel ? c->l : n_sel;
        for (uint32_t h = 0; h < sh->n_kv; h++) {
            const uint32_t *sel = io->selected + ((size_t)e * sh->n_kv + h) * stride;
            uint32_t in_window = 0;
            for (uint32_t i = 0; i < stride; i++) {
                bool ok = i < n_sel ? sel[i] < S && (i == 0 || sel[i] > sel[i - 1]) : sel[i] == SPARQ_NO_POSITION;
                if (!ok) {
                    record(sh, "step %u %s: entry %u head %u selected[%u] = 0x%x is wrong (S %u, k %u)", step,
                           c->name, e, h, i, sel[i], S, n_sel);
                    return false;
                }
                in_window += i < n_sel && sel[i] >= S - window;
            }
            if (in_window != window) {
                record(sh, "step %u %s: entry %u head %u holds %u of the last %u positions", step, c->name, e, h,
                       in_window, window);
                return false;
            }
        }
        for (uint32_t j = 0; j < heads; j++) {
            float a = io->alpha[(size_t)e * heads + j];
            /* A mass of nearly all positions may round a few ulp above 1 in
             * fp32 (as attention_harness allows); the reference check judges
             * its value. */
            if (!(a >= 0.0f && a <= 1.0f + 1e-5f)) {
                record(sh, "step %u %s: alpha of entry %u head %u is %.9g", step, c->name, e, j, (double)a);
                return false;
            }
        }
    }
    return true;
}

static void poison(const multi_shard *sh, bool f16, const shard_io *io)
{
    const multi_problem *pb = sh->pb;
    const uint32_t heads = sh->n_kv * pb->group;
    const size_t n_out = (size_t)pb->n_seqs * heads * pb->head_dim;
    for (size_t i = 0; i < n_out; i++) {
        if (f16)
            ((uint16_t *)io->out)[i] = POISON_F16;
        else
            memcpy((float *)io->out + i, &(uint32_t){POISON_F32}, sizeof(float));
    }
    for (size_t i = 0; i < (size_t)pb->n_seqs * sh->n_kv * sh->res->sel_stride; i++)
        io->selected[i] = POISON_POSITION;
    for (size_t i = 0; i < (size_t)pb->n_seqs * heads; i++)
        io->alpha[i] = NAN;
}

/* This shard's query heads of one call, in the io dtype. */
static void slice_queries(const multi_shard *sh, uint32_t step, uint32_t config, void *q)
{
    const multi_problem *pb = sh->pb;
    const size_t dh = pb->head_dim, part = (size_t)sh->n_kv * pb->group * dh;
    const float *full = multi_queries(pb, step, config);
    for (uint32_t e = 0; e < pb->n_seqs; e++) {
        const float *src = full + ((size_t)e * pb->n_heads + (size_t)sh->kv_first * pb->group) * dh;
        if (multi_configs[config].io_dtype == SPARQ_DTYPE_F16)
            sparq_ref_f32_array_to_f16(src, (uint16_t *)q + e * part, part);
        else
            memcpy((float *)q + e * part, src, part * sizeof(float));
    }
}

/* Copies this shard's outputs to its place in the whole problem's results. */
static void scatter(const multi_shard *sh, uint32_t step, uint32_t config, const shard_io *io)
{
    const multi_problem *pb = sh->pb;
    multi_results *res = sh->res;
    const size_t call = (size_t)step * multi_n_configs + config;
    const size_t elem = multi_configs[config].io_dtype == SPARQ_DTYPE_F16 ? 2 : 4;
    const size_t dh = pb->head_dim, heads = (size_t)sh->n_kv * pb->group, q0 = (size_t)sh->kv_first * pb->group;
    uint8_t *out = res->out + call * res->out_call_bytes;
    for (uint32_t e = 0; e < pb->n_seqs; e++)
        memcpy(out + ((size_t)e * pb->n_heads + q0) * dh * elem, (const uint8_t *)io->out + e * heads * dh * elem,
               heads * dh * elem);
    if (multi_configs[config].mode != SPARQ_ATTENTION_SPARQ)
        return;
    uint32_t *sel = res->selected + call * res->sel_call_entries;
    float *alpha = res->alpha + call * res->alpha_call_entries;
    for (uint32_t e = 0; e < pb->n_seqs; e++) {
        memcpy(sel + ((size_t)e * pb->n_kv_heads + sh->kv_first) * res->sel_stride,
               io->selected + (size_t)e * sh->n_kv * res->sel_stride, sh->n_kv * res->sel_stride * sizeof(uint32_t));
        memcpy(alpha + (size_t)e * pb->n_heads + q0, io->alpha + e * heads, heads * sizeof(float));
    }
}

static bool attend_call(multi_shard *sh, uint32_t step, uint32_t config, const shard_io *io)
{
    const multi_problem *pb = sh->pb;
    const multi_config *c = &multi_configs[config];
    const bool sparq = c->mode == SPARQ_ATTENTION_SPARQ;
    slice_queries(sh, step, config, io->q);
    poison(sh, c->io_dtype == SPARQ_DTYPE_F16, io);
    sparq_attend_desc desc = {
        .struct_size = sizeof desc,
        .mode = c->mode,
        .n_slots = pb->n_seqs,
        .slots = pb->order,
        .n_heads = sh->n_kv * pb->group,
        .dtype = c->io_dtype,
        .q = io->q,
        .out = io->out,
        .r = c->r,
        .k = c->k,
        .l = c->l,
        .selected = sparq ? io->selected : NULL,
        .selected_stride = sparq ? sh->res->sel_stride : 0,
        .alpha = sparq ? io->alpha : NULL,
    };
    char what[96];
    snprintf(what, sizeof what, "step %u attend %s", step, c->name);
    if (!call_ok(sh, sh->api->attend(sh->cache, &desc), what) || !check_written(sh, step, config, io))
        return false;
    scatter(sh, step, config, io);
    return true;
}

int multi_shard_run_steps(multi_shard *sh)
{
    const multi_problem *pb = sh->pb;
    const size_t heads = (size_t)sh->n_kv * pb->group;
    const size_t kv_floats = (size_t)pb->n_seqs * sh->n_kv * pb->head_dim;
    const size_t io_floats = (size_t)pb->n_seqs * heads * pb->head_dim;
    uint32_t slots[MULTI_MAX_SEQS];
    for (uint32_t s = 0; s < pb->n_seqs; s++)
        slots[s] = s;
    float *k = malloc(kv_floats * sizeof(float)), *v = malloc(kv_floats * sizeof(float));
    shard_io io = {
        .q = malloc(io_floats * sizeof(float)),
        .out = malloc(io_floats * sizeof(float)),
        .selected = malloc((size_t)pb->n_seqs * sh->n_kv * sh->res->sel_stride * sizeof(uint32_t)),
        .alpha = malloc((size_t)pb->n_seqs * heads * sizeof(float)),
    };
    bool ok = k && v && io.q && io.out && io.selected && io.alpha;
    if (!ok)
        record(sh, "out of host memory");
    for (uint32_t t = 0; ok && t < pb->n_steps; t++) {
        ok = append_step(sh, t, slots, k, v);
        for (uint32_t c = 0; ok && c < multi_n_configs; c++)
            ok = attend_call(sh, t, c, &io);
    }
    free(k);
    free(v);
    free(io.q);
    free(io.out);
    free(io.selected);
    free(io.alpha);
    return ok ? 0 : -1;
}
