/*
 * One decode step of attention: uploads q and the per-slot parameters,
 * records the kernels with a barrier between each, and reads the output back.
 * In three parts, so that recorded calls (sq_record.c) share the first two:
 *   plan_call         extents, splits, scratch layout, upload, pipelines
 *   record_dispatches the dispatch sequence, into any command buffer
 *   sq_attend         (blocking) submit, wait, copy results to the host
 *   dense: attend_dense -> attend_merge_dense                             (2 dispatches)
 *   SparQ: short slots: sparq_score_select (score and selection in one)
 *          longer slots: sparq_score -> sparq_select_small (up to 8192 positions)
 *                        or sparq_rank x 3 phases (longer still)
 *          -> attend_sparse -> attend_merge_sparse                  (3 to 8 dispatches)
 * With stats, a timestamp after each stage (score, rank, attend, merge).
 */
#include "sparq_shaders.h"
#include "sq_cache.h"
#include "sq_error.h"
#include "sq_half.h"
#include "sq_push.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Invocations of attend, less where shared memory is short. 128 ran 1.3x
 * faster than 256 at 4 query heads per KV head on an H200: more
 * workgroups per multiprocessor, and their combines overlap. */
#define SQ_ATTEND_WG_MAX 128u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a)
{
    return (x + a - 1) / a * a;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

void sq_resolve_sparq(uint32_t head_dim, uint32_t S, uint32_t r, uint32_t k, uint32_t l, uint32_t *r_out,
                      uint32_t *k_out, uint32_t *l_out)
{
    uint32_t rr = r ? r : head_dim / 8;
    *r_out = rr < 1 ? 1 : rr > head_dim ? head_dim : rr;
    uint32_t kk = k ? k : (S / 16 > 64 ? S / 16 : 64);
    kk = kk < S ? kk : S;
    uint32_t ll = l ? l : kk / 4;
    *k_out = kk;
    *l_out = ll < kk ? ll : kk;
}

/* Byte offsets of the regions of one call's device scratch. */
typedef struct layout {
    VkDeviceSize up_bytes; /* call info + entries + q: uploaded as one copy */
    VkDeviceSize q, z, stats, keys, sel, alpha, part_ml, part_acc, out, hist, counts, alpha_part, total;
    VkDeviceSize out_bytes, sel_bytes, alpha_bytes, alpha_part_bytes, counts_bytes;
} layout;

/* rank_chunks: sparq_rank's chunks per (slot, KV head), 0 where it does not run. */
static layout plan_layout(const sparq_cache *c, uint32_t n, uint32_t group, const struct sq_call_info *ci, bool sparq,
                          uint32_t rank_chunks)
{
    layout L;
    const VkDeviceSize heads = (VkDeviceSize)n * c->n_kv_heads;
    const VkDeviceSize qo_bytes = heads * group * c->head_dim * sizeof(float);
    L.q = align_up(SQ_CALL_INFO_BYTES + n * sizeof(struct sq_entry), 256);
    L.up_bytes = L.q + qo_bytes;
    VkDeviceSize at = align_up(L.up_bytes, 256);
#define REGION(field, bytes) (L.field = at, at = align_up(at + (bytes), 256))
    REGION(z, sparq ? heads * group * ci->z_stride * sizeof(float) : 0);
    REGION(stats, sparq ? heads * ci->score_chunks * group * 8 : 0);
    REGION(keys, sparq ? heads * ci->z_stride * sizeof(uint32_t) : 0);
    REGION(sel, sparq ? heads * ci->k_stride * sizeof(uint32_t) : 0);
    REGION(alpha, sparq ? heads * group * sizeof(float) : 0);
    REGION(part_ml, heads * ci->splits * group * 8);
    REGION(part_acc, heads * ci->splits * group * c->head_dim * sizeof(float));
    REGION(out, qo_bytes);
    REGION(hist, sparq ? heads * ((2 * SQ_RANK_BINS + 4) * sizeof(uint32_t) + group * 8) : 0);
    L.counts_bytes = heads * rank_chunks * SQ_RANK_BINS * sizeof(uint32_t);
    REGION(counts, L.counts_bytes);
    L.alpha_part_bytes = sparq ? heads * ci->score_chunks * group * sizeof(float) : 0;
    REGION(alpha_part, L.alpha_part_bytes);
#undef REGION
    L.total = at;
    L.out_bytes = qo_bytes;
    L.sel_bytes = sparq ? heads * ci->k_stride * sizeof(uint32_t) : 0;
    L.alpha_bytes = sparq ? heads * group * sizeof(float) : 0;
    return L;
}

/* Rows per block of a lane group in attend.comp (R there). */
static uint32_t attend_rows_per_block(uint32_t group)
{
    return group >= 16 ? 2u : group >= 8 ? 4u : 8u;
}

/* Lanes that share a K/V row in attend.comp: the largest power of two no
 * larger than the row's 8-element chunks or the subgroup (or
 * SPARQ_DEBUG_ATTEND_LANES, to time narrower lane groups), so a row is one
 * contiguous run and its shuffles stay inside one subgroup. Where it does
 * not divide the chunks, some lanes take one chunk fewer. */
static uint32_t attend_lanes_per_row(const sparq_context *ctx, uint32_t dh)
{
    uint32_t kl = 1;
    while (kl * 2 <= dh / 8 && kl * 2 <= ctx->info.subgroup_size && kl * 2 <= ctx->debug_attend_lanes)
        kl *= 2;
    return kl;
}

/* Shared memory attend.comp declares for a workgroup of `wg` invocations
 * (q, the combine's one chunk per invocation and max/sum per lane group,
 * and common.glsl's reduction scratch). */
static uint32_t attend_shared_bytes(uint32_t wg, uint32_t dh, uint32_t group, uint32_t kl)
{
    return group * dh * 4 + wg * 32 + (wg / kl) * 8 + wg * 8 + 4;
}

/* The largest workgroup (up to SQ_ATTEND_WG_MAX) whose shared memory fits. */
static uint32_t attend_workgroup(const sparq_context *ctx, uint32_t dh, uint32_t group, uint32_t kl)
{
    uint32_t wg = SQ_ATTEND_WG_MAX;
    while (wg > 64 && wg > kl && attend_shared_bytes(wg, dh, group, kl) > ctx->limits.maxComputeSharedMemorySize)
        wg /= 2;
    return wg;
}

/* How the positions of each (entry, KV head) are split over workgroups:
 * whole sweeps (one block of every lane group) per split, enough splits to
 * fill a GPU at batch 1 (up to SQ_TARGET_SPLITS; 4 on CPU devices), and no
 * split so short that the workgroup's fixed cost dominates: on an H200, 16
 * sweeps for dense (long1 66.5 -> 59.0 us, long1x 174.2 -> 161.1, batch8
 * 166.3 -> 161.0, paper 946.9 -> 939.5 against 8; 8 was already faster than
 * 4 on batch8, mha16 and paper) and 4 for SparQ (its
 * attend at group 4 over 8 x 8192 and 64 x 1024 chosen positions took 34.6
 * us at 1 sweep per split, 32.7 at 2, 27.1 at 4 and 32.0 at 8; 8 x 2048
 * went 11.2 -> 14.7 us, the price).
 * The plan depends on the positions alone, never on how many heads or
 * slots share the call, so a batch sharded by KV heads over several
 * contexts (tensor parallelism) gives bit-identical results to one context
 * holding every head. */
#define SQ_TARGET_SPLITS 256u
static void plan_splits(const sparq_context *ctx, uint32_t count_max, uint32_t sweep, bool sparse,
                        struct sq_call_info *ci)
{
    const bool cpu = ctx->info.type == SPARQ_DEVICE_TYPE_CPU;
    uint32_t len = div_up(count_max, cpu ? 4u : SQ_TARGET_SPLITS);
    uint32_t min_len = cpu ? sweep : sparse ? 4 * sweep : 16 * sweep;
    if (ctx->debug_split_sweeps != UINT32_MAX && ctx->debug_split_sweeps > 0)
        min_len = ctx->debug_split_sweeps * sweep;
    if (len < min_len)
        len = min_len;
    ci->split_len = div_up(len, sweep) * sweep;
    ci->splits = div_up(count_max, ci->split_len);
    if (ci->splits < 1)
        ci->splits = 1;
}

/* attend_merge's workgroup: groups of head_dim / 4 invocations, each
 * adding every groups-th split (SQ_MERGE_UNROLL splits' loads at a time),
 * as few groups as give each at most one such round of loads, from 2 to
 * SQ_MERGE_MAX_GROUPS. On an H200, with its loads unrolled, the merge at 256
 * invocations took 11.9 us for paper's 2048 workgroups of one split each,
 * against 9.4 before: most of those invocations had nothing to add. Like
 * the split plan, this depends on the call's longest slot alone. */
#define SQ_MERGE_UNROLL 4u /* UNROLL in shaders/attend_merge.comp */
#define SQ_MERGE_MAX_GROUPS 8u
static_assert(256 / (SPARQ_MAX_HEAD_DIM / 4) >= 2, "attend_merge: two lane groups fit 256 invocations");
static uint32_t merge_workgroup(const sparq_context *ctx, uint32_t dh, uint32_t splits)
{
    const uint32_t lanes = dh / 4, fit = 256 / lanes; /* at most 256 invocations, as every device has */
    const uint32_t most = fit < SQ_MERGE_MAX_GROUPS ? fit : SQ_MERGE_MAX_GROUPS;
    uint32_t groups = 2;
    if (ctx->debug_merge_groups != UINT32_MAX && ctx->debug_merge_groups > 0)
        groups = ctx->debug_merge_groups < most ? ctx->debug_merge_groups : most;
    else
        while (groups < most && groups * SQ_MERGE_UNROLL < splits)
            groups *= 2;
    return lanes * groups;
}

/* sparq_select_small's shared memory beside its keys: the histogram (8 KiB),
 * the reduction scratch of common.glsl and head_reductions.glsl, alpha's
 * and the norms' arrays: 13452 bytes at group 16. */
#define SQ_SELECT_SMALL_OTHER_SHARED 14336u

/* The longest slot sparq_select_small takes (its PARAM): as many ranking
 * keys as fit in shared memory beside SQ_SELECT_SMALL_OTHER_SHARED, in
 * whole chunks, at most 8192 so that one workgroup per head stays short; 0
 * if not even one chunk fits. Longer slots take sparq_rank's phases, spread
 * over every chunk. */
static uint32_t select_small_limit(const sparq_context *ctx)
{
    const uint32_t shared = ctx->limits.maxComputeSharedMemorySize;
    uint32_t keys = shared > SQ_SELECT_SMALL_OTHER_SHARED
                        ? (shared - SQ_SELECT_SMALL_OTHER_SHARED) / 4 / SQ_SCORE_CHUNK * SQ_SCORE_CHUNK
                        : 0;
    if (keys > 8192)
        keys = 8192;
    return keys < ctx->debug_select_small_max ? keys : ctx->debug_select_small_max;
}

/* Runs of 8 positions per invocation sparq_score_select is built with for
 * `group` query heads per KV head (shaders/meson.build): it keeps
 * RUNS * 8 * (group + 1) values in registers. 0: no fused variant. */
static uint32_t fused_runs_max(uint32_t group)
{
    switch (group) {
    case 1:
    case 2: return 4;
    case 4: return 2;
    case 8: return 1;
    default: return 0;
    }
}

/* Shared memory sparq_score_select declares for `runs` runs (q, i1, the
 * sums and run counts, and common.glsl's reduction scratch). */
static uint32_t fused_shared_bytes(uint32_t dh, uint32_t group, uint32_t runs)
{
    return group * dh * 4 + dh * 8 + group * 4 + 2 * SQ_SCORE_WG * 8 + runs * SQ_SCORE_WG * 4 + SQ_SCORE_WG * 8 + 4;
}

/* The longest slot sparq_score_select takes: one workgroup of SQ_SCORE_WG
 * holds it in registers. Longer slots take sparq_score and a selection
 * kernel. The limit depends on the group and the device alone, never on
 * the call, so every shard of a batch selects alike. */
static uint32_t fused_limit(const sparq_context *ctx, uint32_t dh, uint32_t group)
{
    const uint32_t runs = fused_runs_max(group);
    if (runs == 0 || fused_shared_bytes(dh, group, runs) > ctx->limits.maxComputeSharedMemorySize)
        return 0;
    const uint32_t limit = SQ_SCORE_WG * 8 * runs;
    return limit < ctx->debug_fused_max ? limit : ctx->debug_fused_max;
}

static sparq_status get_pipeline(sparq_context *ctx, uint32_t shader, uint32_t wg, uint32_t dh, uint32_t group,
                                 uint32_t param, VkPipeline *p)
{
    sq_pipeline_key key = {.shader = shader, .wg_size = wg, .head_dim = dh, .group = group, .param = param};
    return sq_context_pipeline(ctx, &key, p);
}

/* The variant of `kernel` (+ "_<storage>") compiled for this group size
 * and `chunks` (a kernel's per-invocation count: attend's chunks per lane,
 * the fused selection's runs; 0: none) if there is one
 * (shaders/meson.build), else the one for the group alone, else the
 * generic one. */
static sparq_status kernel_pipeline(sparq_context *ctx, const char *kernel, const char *storage, uint32_t wg,
                                    uint32_t dh, uint32_t group, uint32_t param, uint32_t chunks, VkPipeline *p)
{
    char prefix[48], name[64];
    snprintf(prefix, sizeof prefix, "%s%s%s", kernel, storage ? "_" : "", storage ? storage : "");
    int id = -1;
    if (chunks) {
        snprintf(name, sizeof name, "%s_g%u_c%u", prefix, group, chunks);
        id = sq_shader_lookup(name);
    }
    if (id < 0) {
        snprintf(name, sizeof name, "%s_g%u", prefix, group);
        id = sq_shader_lookup(name);
    }
    if (id < 0 && (id = sq_shader_lookup(prefix)) < 0)
        return sq_fail(SPARQ_ERROR_INTERNAL, "no embedded shader named %s", prefix);
    return get_pipeline(ctx, (uint32_t)id, wg, dh, group, param, p);
}

/* A debug variable's value where it is set, else the default. */
static uint32_t debug_or(uint32_t debug_value, uint32_t default_value)
{
    return debug_value == UINT32_MAX ? default_value : debug_value;
}

/* The widest of widest, widest / 2, ... narrowest (powers of two apart)
 * that still gives the call min_wgs workgroups, when each of `heads` heads
 * has `units` to cover and a workgroup of width w covers units_per_width * w
 * of them. For kernels whose workgroups each pay a fixed chain of round
 * trips and barriers: past filling the device, fewer are faster. */
static uint32_t widest_filling(uint32_t widest, uint32_t narrowest, uint32_t heads, uint32_t units,
                               uint32_t units_per_width, uint32_t min_wgs)
{
    uint32_t w = widest;
    while (w > narrowest && (uint64_t)heads * div_up(units, units_per_width * w) < min_wgs)
        w /= 2;
    return w;
}

/* sparq_rank's positions per invocation (its PARAM): 16, 8 or 4, the most
 * that still gives the call SQ_RANK_MIN_WORKGROUPS workgroups per phase.
 * Each phase of a workgroup costs a few round trips to memory and a few
 * barriers whatever its share of positions, so past filling the device,
 * fewer workgroups are faster. On an H200 (132 multiprocessors), a batch of
 * 8 x 8 heads x 16384 positions took 64 us over 1024 workgroups of 4 per
 * invocation and 41 us over 256 of 16; 8 heads x 32768 took 25 us over 256
 * workgroups of 4 and 30 us over 64 of 16. The choice depends on the batch,
 * but changes no bit of the result: the selection does not depend on it,
 * and sparq_rank adds alpha's shares in the same order for every choice
 * (docs/NOTES.md, entries 25 and 26). */
#define SQ_RANK_MIN_WORKGROUPS 256u
static uint32_t rank_positions_per_invocation(const sparq_context *ctx, uint32_t heads, uint32_t s_max)
{
    return widest_filling(16, 4, heads, s_max, SQ_SCORE_WG,
                          debug_or(ctx->debug_rank_min_workgroups, SQ_RANK_MIN_WORKGROUPS));
}

/* sparq_score's chunks per workgroup (its PARAM): 4, 2 or 1, the most
 * that still gives the call SQ_SCORE_MIN_WORKGROUPS workgroups. Every
 * workgroup first works out i1 and the heads' factors (a chain of
 * barriers and shared-memory passes), so past filling the device, fewer
 * workgroups that score several chunks each pay it fewer times. Each chunk
 * is scored as by a workgroup of its own, so the choice, which depends on
 * the batch, changes no bit. */
#define SQ_SCORE_MIN_WORKGROUPS 512u
static uint32_t score_chunks_per_workgroup(const sparq_context *ctx, uint32_t heads, uint32_t score_chunks)
{
    return widest_filling(4, 1, heads, score_chunks, 1,
                          debug_or(ctx->debug_score_min_workgroups, SQ_SCORE_MIN_WORKGROUPS));
}

/* Everything record_dispatches needs, decided before recording. */
typedef struct attend_plan {
    struct sq_call_info ci;
    layout L;
    uint32_t r;
    uint32_t fused_max;       /* the longest slot sparq_score_select takes */
    uint32_t small_max;       /* the longest slot sparq_select_small takes */
    uint32_t unranked_max;    /* the longest slot sparq_rank leaves to the two above */
    bool use_fused, use_score, use_small, use_rank; /* which SparQ kernels run */
    uint32_t rank_per_inv;    /* sparq_rank's positions per invocation */
    uint32_t score_per_wg;    /* sparq_score's chunks per workgroup */
    VkPipeline fused, score, rank, select_small, attend, merge;
    struct sq_entry *entries; /* in the upload buffer: per-slot k for the read-back */
    size_t q_elems;
} attend_plan;

/* (a) Plans one call into `upload` (host-visible: call info, entries, q)
 * and `scratch` (device), growing them if needed, and gets the pipelines.
 * With `readback`, also reserves the read-back of the results. */
static sparq_status plan_call(sparq_cache *c, const sq_attend_params *p, sq_buffer *upload, sq_buffer *scratch,
                              sq_buffer *readback, attend_plan *plan)
{
    sparq_context *ctx = c->ctx;
    const uint32_t n = p->n_slots, g = p->group, dh = c->head_dim;
    const bool f16 = c->storage == SPARQ_DTYPE_F16;

    /* Per-slot parameters and the call's extents. */
    struct sq_call_info ci;
    memset(&ci, 0, sizeof ci);
    const uint32_t small_max = select_small_limit(ctx), fused_max = fused_limit(ctx, dh, g);
    uint32_t s_max = 0, s_small = 0, s_fused = 0, k_max = 1, r = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t S = c->lengths[p->slots[i]], kk, ll;
        sq_resolve_sparq(dh, S, p->r, p->k, p->l, &r, &kk, &ll);
        s_max = S > s_max ? S : s_max;
        if (S <= fused_max)
            s_fused = S > s_fused ? S : s_fused;
        else if (S <= small_max)
            s_small = S > s_small ? S : s_small;
        k_max = kk > k_max ? kk : k_max;
    }
    if (p->sparq && p->selected && p->selected_stride < k_max)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "attend: selected_stride %u is less than the %u positions selected",
                       p->selected_stride, k_max);
    ci.z_stride = (uint32_t)align_up(s_max, SQ_SCORE_CHUNK);
    ci.score_chunks = ci.z_stride / SQ_SCORE_CHUNK;
    ci.k_stride = k_max;
    const uint32_t kl = attend_lanes_per_row(ctx, dh);
    const uint32_t attend_wg = attend_workgroup(ctx, dh, g, kl);
    if (attend_shared_bytes(attend_wg, dh, g, kl) > ctx->limits.maxComputeSharedMemorySize)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "attend: head_dim %u with %u query heads per KV head needs more shared memory than %s has "
                       "(%u bytes)",
                       dh, g, ctx->info.name, ctx->limits.maxComputeSharedMemorySize);
    plan_splits(ctx, p->sparq ? k_max : s_max, attend_wg / kl * attend_rows_per_block(g), p->sparq, &ci);
    const uint32_t unranked_max = max_u32(small_max, fused_max);
    const bool use_rank = p->sparq && s_max > unranked_max;
    const uint32_t rank_per_inv = rank_positions_per_invocation(ctx, n * c->n_kv_heads, s_max);
    const uint32_t rank_chunks = use_rank ? div_up(ci.z_stride, SQ_SCORE_WG * rank_per_inv) : 0;
    layout L = plan_layout(c, n, g, &ci, p->sparq, rank_chunks);
    /* q in a host buffer is read in place: nothing of it is uploaded. */
    const bool q_device = sq_tensor_is_device(&p->q_dev);
    if (q_device)
        L.up_bytes = L.q;

    sparq_status st;
    if ((st = sq_buffer_reserve(ctx, upload, L.up_bytes, SQ_MEMORY_UPLOAD)) != SPARQ_SUCCESS ||
        (st = sq_buffer_reserve(ctx, scratch, L.total, SQ_MEMORY_DEVICE)) != SPARQ_SUCCESS ||
        (readback &&
         (st = sq_buffer_reserve(ctx, readback, L.out_bytes + L.sel_bytes + L.alpha_bytes, SQ_MEMORY_READBACK)) !=
             SPARQ_SUCCESS))
        return st;

    const VkDeviceAddress dev = scratch->address;
    ci.q = dev + L.q;
    ci.z = dev + L.z;
    ci.stats = dev + L.stats;
    ci.keys = dev + L.keys;
    ci.sel = dev + L.sel;
    ci.alpha = dev + L.alpha;
    ci.part_ml = dev + L.part_ml;
    ci.part_acc = dev + L.part_acc;
    ci.out = dev + L.out;
    ci.hist = dev + L.hist;
    ci.counts = dev + L.counts;
    ci.alpha_part = dev + L.alpha_part;
    /* Device tensors: the kernels read q from and write out to the host's buffers. */
    if (q_device)
        ci.q = p->q_dev.address;
    if (sq_tensor_is_device(&p->out_dev))
        ci.out = p->out_dev.address;
    char *up = upload->map;
    memcpy(up, &ci, sizeof ci);
    struct sq_entry *entries = (struct sq_entry *)(up + SQ_CALL_INFO_BYTES);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t S = c->lengths[p->slots[i]], kk, ll, rr;
        sq_resolve_sparq(dh, S, p->r, p->k, p->l, &rr, &kk, &ll);
        entries[i] = sq_cache_entry(c, p->slots[i], S);
        entries[i].k = kk;
        entries[i].l = ll;
    }
    const size_t q_elems = (size_t)n * c->n_kv_heads * g * dh;
    if (q_device)
        ; /* read in place */
    else if (p->dtype == SPARQ_DTYPE_F16)
        sq_halves_to_floats(p->q, (float *)(up + L.q), q_elems);
    else
        memcpy(up + L.q, p->q, q_elems * sizeof(float));

    /* Pipelines (built on first use). */
    VkPipeline fused = VK_NULL_HANDLE, score = VK_NULL_HANDLE, rank = VK_NULL_HANDLE, select_small = VK_NULL_HANDLE,
               attend, merge;
    const char *storage = f16 ? "f16" : "f32";
    /* Slots up to fused_max positions are scored and selected by one
     * workgroup per head (sparq_score_select), built with the fewest runs
     * that hold the call's longest such slot. The others are scored by
     * sparq_score, then selected by one workgroup per head up to small_max
     * (sparq_select_small, with keys for the longest such slot, rounded up
     * to a power of two: less shared memory, more workgroups per core) and
     * by sparq_rank's phases beyond. */
    uint32_t fused_runs = 1;
    while (fused_runs * 8 * SQ_SCORE_WG < s_fused)
        fused_runs *= 2;
    uint32_t small_keys = SQ_SCORE_CHUNK;
    while (small_keys < s_small)
        small_keys *= 2;
    if (small_keys > small_max)
        small_keys = small_max;
    const bool use_fused = p->sparq && s_fused > 0, use_score = p->sparq && s_max > fused_max;
    const bool use_small = p->sparq && s_small > 0;
    const uint32_t score_per_wg = score_chunks_per_workgroup(ctx, n * c->n_kv_heads, ci.score_chunks);
    if (p->sparq &&
        ((use_fused && (st = kernel_pipeline(ctx, "sparq_score_select", storage, SQ_SCORE_WG, dh, g, 0, fused_runs,
                                             &fused)) != SPARQ_SUCCESS) ||
         (use_score && (st = kernel_pipeline(ctx, "sparq_score", storage, SQ_SCORE_WG, dh, g, score_per_wg, 0,
                                             &score)) != SPARQ_SUCCESS) ||
         (use_rank && (st = kernel_pipeline(ctx, "sparq_rank", NULL, SQ_SCORE_WG, dh, g, rank_per_inv, 0, &rank)) !=
                          SPARQ_SUCCESS) ||
         (use_small && (st = kernel_pipeline(ctx, "sparq_select_small", NULL, SQ_SCORE_WG, dh, g, small_keys, 0,
                                             &select_small)) != SPARQ_SUCCESS)))
        return st;
    if ((st = kernel_pipeline(ctx, p->sparq ? "attend_sparse" : "attend_dense", storage, attend_wg, dh, g, kl,
                              div_up(dh / 8, kl), &attend)) !=
            SPARQ_SUCCESS ||
        (st = get_pipeline(ctx, p->sparq ? SPARQ_SHADER_ATTEND_MERGE_SPARSE : SPARQ_SHADER_ATTEND_MERGE_DENSE,
                           merge_workgroup(ctx, dh, ci.splits), dh, g, SQ_SCORE_CHUNK, &merge)) != SPARQ_SUCCESS)
        return st;

    *plan = (attend_plan){.ci = ci, .L = L, .r = r, .fused_max = fused_max, .small_max = small_max,
                          .unranked_max = unranked_max, .use_fused = use_fused, .use_score = use_score, .use_small = use_small,
                          .use_rank = use_rank, .rank_per_inv = rank_per_inv,
                          .score_per_wg = score_per_wg, .fused = fused, .score = score, .rank = rank,
                          .select_small = select_small, .attend = attend, .merge = merge, .entries = entries,
                          .q_elems = q_elems};
    return SPARQ_SUCCESS;
}

/* (b) Records the call's dispatch sequence into s->cmd: the upload copy,
 * the kernels with their barriers, ending with a barrier after the merge.
 * Returns the number of timestamp stages written (with p->stats). */
static uint32_t record_dispatches(sparq_cache *c, const sq_attend_params *p, const attend_plan *plan, sq_stream *s,
                                  const sq_buffer *upload, const sq_buffer *scratch)
{
    sparq_context *ctx = c->ctx;
    const uint32_t n = p->n_slots, g = p->group;
    const struct sq_call_info ci = plan->ci;
    const layout L = plan->L;
    const uint32_t r = plan->r;
    const VkPipeline fused = plan->fused, score = plan->score, rank = plan->rank, select_small = plan->select_small,
                     attend = plan->attend, merge = plan->merge;
    const uint32_t fused_max = plan->fused_max, small_max = plan->small_max, unranked_max = plan->unranked_max;
    const bool use_fused = plan->use_fused, use_score = plan->use_score, use_small = plan->use_small,
               use_rank = plan->use_rank;
    const VkDeviceAddress dev = scratch->address;

    VkBufferCopy copy_up = {.srcOffset = 0, .dstOffset = 0, .size = L.up_bytes};
    ctx->vk.vkCmdCopyBuffer(s->cmd, upload->buffer, scratch->buffer, 1, &copy_up);
    if (p->sparq && ctx->debug_poison_scratch) {
        /* Tests: a position or alpha share a selection kernel fails to
         * write reads back as 0xffffffff (or NaN), not as a stale value of
         * an earlier call that may look right. */
        ctx->vk.vkCmdFillBuffer(s->cmd, scratch->buffer, L.sel, L.sel_bytes, 0xffffffffu);
        ctx->vk.vkCmdFillBuffer(s->cmd, scratch->buffer, L.alpha_part, L.alpha_part_bytes, 0x7fc00000u);
        /* ... and a sparq_rank table entry left unwritten as a count far past k. */
        if (L.counts_bytes > 0)
            ctx->vk.vkCmdFillBuffer(s->cmd, scratch->buffer, L.counts, L.counts_bytes, 0x7fff7fffu);
    }
    if (use_rank) /* sparq_rank adds into its first histograms (it clears the second itself) */
        ctx->vk.vkCmdFillBuffer(s->cmd, scratch->buffer, L.hist,
                                (VkDeviceSize)n * c->n_kv_heads * SQ_RANK_BINS * sizeof(uint32_t), 0);
    sq_stream_barrier(ctx, s);
    if (p->stats)
        sq_stream_timestamp(ctx, s, 0);

    struct sq_push push = {
        .vsum_addr = c->vsum.address,
        .step_addr = dev,
        .scratch_addr = dev,
        .capacity = c->cap_alloc,
        .n_kv_heads = c->n_kv_heads,
        .n_entries = n,
        .r = r,
        .scale = p->scale,
        .flags = (p->flags & SPARQ_ATTEND_NO_MEAN_REALLOCATION) ? SQ_FLAG_NO_REALLOC : 0u,
    };
    /* With stats, a timestamp after each stage gives the per-kernel split. */
    uint32_t stages = 0;
    if (p->sparq) {
        /* Each kernel takes the slots the others leave (by length alone):
         * no barrier between sparq_score_select and sparq_score, nor
         * between the selections. push.n_chunks: the longest slot
         * sparq_score_select takes (score: the ones it skips). */
        push.n_chunks = fused_max;
        if (use_fused)
            sq_stream_dispatch(ctx, s, fused, &push, 1, c->n_kv_heads, n);
        if (use_score)
            sq_stream_dispatch(ctx, s, score, &push, div_up(ci.score_chunks, plan->score_per_wg), c->n_kv_heads, n);
        if (p->stats)
            sq_stream_timestamp(ctx, s, ++stages);
        if (use_small || use_rank)
            sq_stream_barrier(ctx, s);
        /* sparq_select_small: slots in (span, n_chunks]; sparq_rank: longer. */
        push.span = fused_max;
        push.n_chunks = small_max;
        if (use_small)
            sq_stream_dispatch(ctx, s, select_small, &push, 1, c->n_kv_heads, n);
        push.n_chunks = unranked_max;
        for (uint32_t phase = 0; use_rank && phase < SQ_RANK_PHASES; phase++) {
            push.span = phase;
            sq_stream_dispatch(ctx, s, rank, &push, div_up(ci.z_stride, SQ_SCORE_WG * plan->rank_per_inv),
                               c->n_kv_heads, n);
            if (phase + 1 < SQ_RANK_PHASES)
                sq_stream_barrier(ctx, s);
        }
        push.span = 0;
        push.n_chunks = 0;
        if (p->stats)
            sq_stream_timestamp(ctx, s, ++stages);
        sq_stream_barrier(ctx, s);
    }
    sq_stream_dispatch(ctx, s, attend, &push, ci.splits, c->n_kv_heads, n);
    if (p->stats)
        sq_stream_timestamp(ctx, s, ++stages);
    sq_stream_barrier(ctx, s);
    sq_stream_dispatch(ctx, s, merge, &push, g, c->n_kv_heads, n);
    if (p->stats)
        sq_stream_timestamp(ctx, s, ++stages);
    sq_stream_barrier(ctx, s);
    return stages;
}

sparq_status sq_attend_record(sparq_cache *c, const sq_attend_params *p, sq_stream *s, sq_buffer *upload,
                              sq_buffer *scratch)
{
    attend_plan plan;
    sparq_status st = plan_call(c, p, upload, scratch, NULL, &plan);
    if (st != SPARQ_SUCCESS)
        return st;
    record_dispatches(c, p, &plan, s, upload, scratch);
    return SPARQ_SUCCESS;
}

/* (c) The blocking call: plan, record into the cache's stream, read back. */
sparq_status sq_attend(sparq_cache *c, const sq_attend_params *p)
{
    const uint64_t t_start = now_ns();
    sparq_context *ctx = c->ctx;
    const uint32_t n = p->n_slots;
    attend_plan plan;
    sparq_status st = plan_call(c, p, &c->upload, &c->scratch, &c->readback, &plan);
    if (st != SPARQ_SUCCESS)
        return st;
    const struct sq_call_info ci = plan.ci;
    const layout L = plan.L;
    const struct sq_entry *entries = plan.entries;
    const size_t q_elems = plan.q_elems;
    const bool out_device = sq_tensor_is_device(&p->out_dev);

    if ((st = sq_stream_begin(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    sq_stream *s = &c->stream;
    const uint32_t stages = record_dispatches(c, p, &plan, s, &c->upload, &c->scratch);

    /* Results the host reads from memory: copied to the read-back buffer.
     * (out in a host buffer was written in place.) Offsets stay those of
     * the full layout, so the unpacking below does not depend on which. */
    VkBufferCopy down[3];
    uint32_t n_down = 0;
    if (!out_device)
        down[n_down++] = (VkBufferCopy){.srcOffset = L.out, .dstOffset = 0, .size = L.out_bytes};
    if (p->sparq && p->selected)
        down[n_down++] = (VkBufferCopy){.srcOffset = L.sel, .dstOffset = L.out_bytes, .size = L.sel_bytes};
    if (p->sparq && p->alpha)
        down[n_down++] = (VkBufferCopy){.srcOffset = L.alpha, .dstOffset = L.out_bytes + L.sel_bytes, .size = L.alpha_bytes};
    if (n_down > 0)
        ctx->vk.vkCmdCopyBuffer(s->cmd, c->scratch.buffer, c->readback.buffer, n_down, down);
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    ctx->vk.vkCmdPipelineBarrier(s->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host,
                                 0, NULL, 0, NULL);
    const uint64_t t_recorded = now_ns();
    if ((st = sq_stream_submit_wait(ctx, s)) != SPARQ_SUCCESS)
        return st;
    sq_buffer_invalidate(ctx, &c->readback);

    /* Results to the host's arrays. */
    const char *rb = c->readback.map;
    if (out_device)
        ; /* already in the host's buffer */
    else if (p->dtype == SPARQ_DTYPE_F16)
        sq_floats_to_halves((const float *)rb, p->out, q_elems);
    else
        memcpy(p->out, rb, q_elems * sizeof(float));
    if (p->sparq && p->selected) {
        const uint32_t *sel = (const uint32_t *)(rb + L.out_bytes);
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t h = 0; h < c->n_kv_heads; h++) {
                uint32_t *dst = p->selected + ((size_t)i * c->n_kv_heads + h) * p->selected_stride;
                const uint32_t *src = sel + ((size_t)i * c->n_kv_heads + h) * ci.k_stride;
                for (uint32_t x = 0; x < p->selected_stride; x++)
                    dst[x] = x < entries[i].k ? src[x] : SPARQ_NO_POSITION;
            }
    }
    if (p->sparq && p->alpha)
        memcpy(p->alpha, rb + L.out_bytes + L.sel_bytes, L.alpha_bytes);
    if (p->stats) {
        sparq_attend_stats stats = {.struct_size = p->stats->struct_size,
                                    .dispatches = p->sparq ? 2 + plan.use_fused + plan.use_score + plan.use_small +
                                                                 (plan.use_rank ? SQ_RANK_PHASES : 0)
                                                           : 2};
        stats.host_ns = t_recorded - t_start;
        if ((st = sq_stream_intervals_ns(ctx, s, stages, stats.dispatch_ns)) != SPARQ_SUCCESS)
            return st;
        for (uint32_t i = 0; i < stages; i++)
            stats.gpu_ns += stats.dispatch_ns[i];
        size_t size = p->stats->struct_size < sizeof stats ? p->stats->struct_size : sizeof stats;
        memcpy(p->stats, &stats, size);
    }
    return SPARQ_SUCCESS;
}

sparq_status sq_measure_read_bandwidth(sparq_context *ctx, uint64_t bytes, uint32_t iterations, double *bps)
{
    const uint32_t wg = 256, groups = ctx->info.type == SPARQ_DEVICE_TYPE_CPU ? 16u : 4096u;
    const uint64_t per_pass = (uint64_t)wg * groups * 16;
    if (bytes == 0) {
        bytes = 1ull << 30;
        if (ctx->info.device_local_bytes / 4 < bytes)
            bytes = ctx->info.device_local_bytes / 4;
    }
    if (bytes > ctx->max_allocation)
        bytes = ctx->max_allocation;
    uint32_t span = (uint32_t)(bytes / per_pass);
    if (span == 0)
        span = 1;
    bytes = (uint64_t)span * per_pass;
    if (iterations == 0)
        iterations = 20;
    if (!ctx->has_timestamps)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED, "the compute queue of %s has no timestamps", ctx->info.name);

    sq_buffer src, sink;
    sparq_status st = sq_buffer_create(ctx, bytes, SQ_MEMORY_DEVICE, &src);
    if (st != SPARQ_SUCCESS)
        return st;
    if ((st = sq_buffer_create(ctx, 256, SQ_MEMORY_DEVICE, &sink)) != SPARQ_SUCCESS) {
        sq_buffer_destroy(ctx, &src);
        return st;
    }
    VkPipeline pipeline;
    sq_pipeline_key key = {.shader = SPARQ_SHADER_READ_BANDWIDTH, .wg_size = wg, .head_dim = 8, .group = 1};
    double *samples = calloc(iterations, sizeof *samples);
    if (!samples)
        st = sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == SPARQ_SUCCESS)
        st = sq_context_pipeline(ctx, &key, &pipeline);
    struct sq_push push = {.in_addr = src.address, .out_addr = sink.address, .span = span};
    /* A non-zero pattern: timings on zeros can flatter (compression). */
    for (uint32_t it = 0; st == SPARQ_SUCCESS && it < iterations + 3; it++) {
        if ((st = sq_stream_begin(ctx, &ctx->stream)) != SPARQ_SUCCESS)
            break;
        if (it == 0) {
            ctx->vk.vkCmdFillBuffer(ctx->stream.cmd, src.buffer, 0, VK_WHOLE_SIZE, 0x3c003c01u);
            sq_stream_barrier(ctx, &ctx->stream);
        }
        sq_stream_timestamp(ctx, &ctx->stream, 0);
        sq_stream_dispatch(ctx, &ctx->stream, pipeline, &push, groups, 1, 1);
        sq_stream_timestamp(ctx, &ctx->stream, 1);
        uint64_t ns = 0;
        if ((st = sq_stream_submit_wait(ctx, &ctx->stream)) != SPARQ_SUCCESS ||
            (st = sq_stream_intervals_ns(ctx, &ctx->stream, 1, &ns)) != SPARQ_SUCCESS)
            break;
        if (it >= 3) /* the first passes warm up clocks and caches */
            samples[it - 3] = ns > 0 ? (double)bytes / ((double)ns * 1e-9) : 0.0;
    }
    if (st == SPARQ_SUCCESS) {
        /* median */
        for (uint32_t i = 1; i < iterations; i++)
            for (uint32_t j = i; j > 0 && samples[j - 1] > samples[j]; j--) {
                double t = samples[j];
                samples[j] = samples[j - 1];
                samples[j - 1] = t;
            }
        *bps = samples[iterations / 2];
    }
    free(samples);
    sq_buffer_destroy(ctx, &sink);
    sq_buffer_destroy(ctx, &src);
    return st;
}
