#include "sq_cache.h"

#include "sparq_shaders.h"
#include "sq_error.h"
#include "sq_fault.h"
#include "sq_half.h"
#include "sq_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends are uploaded in pieces of at most this many bytes of K and V. */
#define SQ_APPEND_CHUNK_BYTES (16u << 20)
#define SQ_APPEND_WG 64u
#define SQ_APPEND_TOKENS_PER_WG 16u

static VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a)
{
    return (x + a - 1) / a * a;
}

sparq_status sq_cache_create(sparq_context *ctx, const sparq_cache_desc *desc, sparq_cache **out)
{
    *out = NULL;
    sparq_status st = sq_context_check_alive(ctx);
    if (st != SPARQ_SUCCESS)
        return st;
    sparq_cache *c = sq_calloc(1, sizeof *c);
    if (!c || !(c->lengths = sq_calloc(desc->n_seqs, sizeof *c->lengths))) {
        free(c);
        return sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    c->ctx = ctx;
    c->n_seqs = desc->n_seqs;
    c->n_kv_heads = desc->n_kv_heads;
    c->head_dim = desc->head_dim;
    c->capacity = desc->capacity;
    c->cap_alloc = (uint32_t)align_up(desc->capacity, SQ_CAPACITY_ALIGN);
    c->storage = desc->storage == SPARQ_DTYPE_F32 ? SPARQ_DTYPE_F32 : SPARQ_DTYPE_F16;
    c->elem_bytes = c->storage == SPARQ_DTYPE_F32 ? 4 : 2;
    c->n_frames = desc->frames_in_flight ? desc->frames_in_flight : 1;

    c->slot_bytes = (VkDeviceSize)c->n_kv_heads * c->cap_alloc * c->head_dim * c->elem_bytes;
    const VkDeviceSize vsum_bytes = (VkDeviceSize)c->n_seqs * c->n_kv_heads * c->head_dim * sizeof(float);
    if (c->slot_bytes > ctx->max_allocation) {
        st = sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                     "cache_create: one slot needs %llu bytes per array, more than the largest allocation of %s "
                     "(%llu bytes); use a smaller capacity or fewer KV heads per cache",
                     (unsigned long long)c->slot_bytes, ctx->info.name, (unsigned long long)ctx->max_allocation);
        free(c->lengths);
        free(c);
        return st;
    }
    /* A cache larger than the device's largest heap can never be made: say
     * so up front rather than allocating segments until the driver refuses
     * (drivers that over-commit, lavapipe among them, might not refuse). */
    const VkDeviceSize total = 3 * (VkDeviceSize)c->n_seqs * c->slot_bytes + vsum_bytes;
    if (ctx->info.device_local_bytes > 0 && total > ctx->info.device_local_bytes) {
        st = sq_fail(SPARQ_ERROR_OUT_OF_DEVICE_MEMORY,
                     "cache_create: the cache needs %llu bytes, more than the %llu bytes of device memory of %s",
                     (unsigned long long)total, (unsigned long long)ctx->info.device_local_bytes, ctx->info.name);
        free(c->lengths);
        free(c);
        return st;
    }
    VkDeviceSize fit = ctx->max_allocation / c->slot_bytes;
    c->slots_per_segment = fit < c->n_seqs ? (uint32_t)fit : c->n_seqs;
    c->n_segments = (c->n_seqs + c->slots_per_segment - 1) / c->slots_per_segment;
    c->k = sq_calloc(c->n_segments, sizeof *c->k);
    c->kt = sq_calloc(c->n_segments, sizeof *c->kt);
    c->v = sq_calloc(c->n_segments, sizeof *c->v);
    c->frames = sq_calloc(c->n_frames, sizeof *c->frames);
    st = c->k && c->kt && c->v && c->frames ? SPARQ_SUCCESS : sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < c->n_segments && st == SPARQ_SUCCESS; i++) {
        uint32_t slots = c->n_seqs - i * c->slots_per_segment;
        if (slots > c->slots_per_segment)
            slots = c->slots_per_segment;
        const VkDeviceSize bytes = slots * c->slot_bytes;
        if ((st = sq_buffer_create(ctx, bytes, SQ_MEMORY_DEVICE, &c->k[i])) == SPARQ_SUCCESS &&
            (st = sq_buffer_create(ctx, bytes, SQ_MEMORY_DEVICE, &c->kt[i])) == SPARQ_SUCCESS)
            st = sq_buffer_create(ctx, bytes, SQ_MEMORY_DEVICE, &c->v[i]);
    }
    if (st == SPARQ_SUCCESS && (st = sq_buffer_create(ctx, vsum_bytes, SQ_MEMORY_DEVICE, &c->vsum)) == SPARQ_SUCCESS &&
        (st = sq_stream_create(ctx, &c->stream)) == SPARQ_SUCCESS && ctx->queue == VK_NULL_HANDLE) {
        /* No queue to run the clear on: the first recorded call does it. */
        c->vsum_clear_pending = true;
    } else if (st == SPARQ_SUCCESS && (st = sq_stream_begin(ctx, &c->stream)) == SPARQ_SUCCESS) {
        /* Every slot starts empty: V sums are zero. K/V contents past a
         * slot's length are never used, so they are not cleared. */
        ctx->vk.vkCmdFillBuffer(c->stream.cmd, c->vsum.buffer, 0, VK_WHOLE_SIZE, 0);
        st = sq_stream_submit_wait(ctx, &c->stream);
    }
    if (st != SPARQ_SUCCESS) {
        char why[1024];
        snprintf(why, sizeof why, "cache_create (%u slots x %u KV heads x %u positions x head_dim %u, %s): %s",
                 c->n_seqs, c->n_kv_heads, c->capacity, c->head_dim, c->elem_bytes == 2 ? "f16" : "f32",
                 sq_last_error());
        atomic_fetch_add(&ctx->live_caches, 1u); /* balanced by destroy */
        sq_cache_destroy(c);
        return sq_fail(st, "%s", why);
    }
    atomic_fetch_add(&ctx->live_caches, 1u);
    *out = c;
    return SPARQ_SUCCESS;
}

void sq_cache_destroy(sparq_cache *c)
{
    if (!c)
        return;
    sparq_context *ctx = c->ctx;
    /* Blocking calls waited for their own submissions; submit_* calls may
     * still be running. (Recorded calls are the host's to have finished.) */
    sq_stream_destroy(ctx, &c->stream);
    for (uint32_t f = 0; c->frames && f < c->n_frames; f++) {
        sq_frame *fr = &c->frames[f];
        if (fr->append_pending)
            ctx->vk.vkWaitForFences(ctx->device, 1, &fr->append_stream.fence, VK_TRUE, UINT64_MAX);
        if (fr->attend_pending)
            ctx->vk.vkWaitForFences(ctx->device, 1, &fr->attend_stream.fence, VK_TRUE, UINT64_MAX);
        sq_stream_destroy(ctx, &fr->append_stream);
        sq_stream_destroy(ctx, &fr->attend_stream);
        sq_buffer_destroy(ctx, &fr->append_upload);
        sq_buffer_destroy(ctx, &fr->append_staging);
        sq_buffer_destroy(ctx, &fr->attend_upload);
        sq_buffer_destroy(ctx, &fr->attend_scratch);
    }
    free(c->frames);
    for (uint32_t i = 0; i < c->n_segments; i++) {
        if (c->k)
            sq_buffer_destroy(ctx, &c->k[i]);
        if (c->kt)
            sq_buffer_destroy(ctx, &c->kt[i]);
        if (c->v)
            sq_buffer_destroy(ctx, &c->v[i]);
    }
    free(c->k);
    free(c->kt);
    free(c->v);
    sq_buffer_destroy(ctx, &c->vsum);
    sq_buffer_destroy(ctx, &c->upload);
    sq_buffer_destroy(ctx, &c->readback);
    sq_buffer_destroy(ctx, &c->scratch);
    free(c->lengths);
    atomic_fetch_sub(&ctx->live_caches, 1u);
    free(c);
}

void sq_cache_locate(const sparq_cache *c, const sq_buffer *segments, uint32_t slot, VkBuffer *buffer,
                     VkDeviceSize *offset)
{
    const sq_buffer *seg = &segments[slot / c->slots_per_segment];
    *buffer = seg->buffer;
    *offset = (VkDeviceSize)(slot % c->slots_per_segment) * c->slot_bytes;
}

struct sq_entry sq_cache_entry(const sparq_cache *c, uint32_t slot, uint32_t len)
{
    const uint32_t seg = slot / c->slots_per_segment;
    const VkDeviceSize off = (VkDeviceSize)(slot % c->slots_per_segment) * c->slot_bytes;
    return (struct sq_entry){
        .slot = slot,
        .len = len,
        .k_base = c->k[seg].address + off,
        .kt_base = c->kt[seg].address + off,
        .v_base = c->v[seg].address + off,
    };
}

static struct sq_push cache_push(const sparq_cache *c)
{
    return (struct sq_push){
        .vsum_addr = c->vsum.address,
        .capacity = c->cap_alloc,
        .n_kv_heads = c->n_kv_heads,
    };
}

static uint32_t storage_shader(const sparq_cache *c, uint32_t f16, uint32_t f32)
{
    return c->storage == SPARQ_DTYPE_F16 ? f16 : f32;
}

static sparq_status vsum_pipeline(sparq_cache *c, VkPipeline *pipeline)
{
    sq_pipeline_key key = {.shader = storage_shader(c, SPARQ_SHADER_KV_VSUM_F16, SPARQ_SHADER_KV_VSUM_F32),
                           .wg_size = 64,
                           .head_dim = c->head_dim,
                           .group = 1};
    return sq_context_pipeline(c->ctx, &key, pipeline);
}

/* Copies n elements of a host tensor (f16 or f32) into f32. */
static void to_floats(sparq_dtype dtype, const void *in, size_t first, size_t n, float *out)
{
    if (dtype == SPARQ_DTYPE_F16)
        sq_halves_to_floats((const uint16_t *)in + first, out, n);
    else
        memcpy(out, (const float *)in + first, n * sizeof(float));
}

/* Copies the V sums of `slots` between the cache's V sums and a compact
 * staging array [n_slots][n_kv_heads][head_dim] in the scratch buffer. */
static void copy_sums(sparq_cache *c, uint32_t n_slots, const uint32_t *slots, bool to_staging)
{
    const VkDeviceSize bytes = (VkDeviceSize)c->n_kv_heads * c->head_dim * sizeof(float);
    VkBufferCopy regions[64];
    for (uint32_t i0 = 0; i0 < n_slots; i0 += 64) {
        const uint32_t n = n_slots - i0 < 64 ? n_slots - i0 : 64;
        for (uint32_t i = 0; i < n; i++) {
            const VkDeviceSize sum = slots[i0 + i] * bytes, staged = (VkDeviceSize)(i0 + i) * bytes;
            regions[i] = (VkBufferCopy){.srcOffset = to_staging ? sum : staged,
                                        .dstOffset = to_staging ? staged : sum,
                                        .size = bytes};
        }
        c->ctx->vk.vkCmdCopyBuffer(c->stream.cmd, to_staging ? c->vsum.buffer : c->scratch.buffer,
                                   to_staging ? c->scratch.buffer : c->vsum.buffer, n, regions);
    }
}

/* The append and V-sum pipelines of this cache's storage type. */
static sparq_status append_pipelines(sparq_cache *c, VkPipeline *append, VkPipeline *vsum)
{
    sparq_status st;
    if ((st = vsum_pipeline(c, vsum)) != SPARQ_SUCCESS)
        return st;
    sq_pipeline_key key = {.shader = storage_shader(c, SPARQ_SHADER_KV_APPEND_F16, SPARQ_SHADER_KV_APPEND_F32),
                           .wg_size = SQ_APPEND_WG,
                           .head_dim = c->head_dim,
                           .group = 1};
    return sq_context_pipeline(c->ctx, &key, append);
}

/* Writes two entry lists of tokens [t0, t0+nt) of every slot into `upload`
 * at SQ_CALL_INFO_BYTES: the rows' (kv_append's), then the sums'
 * (kv_vsum's), which with `staged` index the staging array of copy_sums by
 * entry rather than by slot. When k and v are host memory, also those
 * tokens' K then V as f32 at *k_off. */
static sparq_status append_upload(sparq_cache *c, sq_buffer *upload, uint32_t n_slots, const uint32_t *slots,
                                  uint32_t n_tokens, uint32_t t0, uint32_t nt, bool staged, sparq_dtype dtype,
                                  const void *k, const void *v, VkDeviceSize *k_off_out)
{
    sparq_context *ctx = c->ctx;
    const size_t row = (size_t)c->n_kv_heads * c->head_dim; /* elements per token */
    const VkDeviceSize entries_off = SQ_CALL_INFO_BYTES;
    const VkDeviceSize k_off = align_up(entries_off + 2 * n_slots * sizeof(struct sq_entry), 256);
    const VkDeviceSize tensor_bytes = k ? (VkDeviceSize)n_slots * nt * row * sizeof(float) : 0;
    const VkDeviceSize v_off = k_off + tensor_bytes;
    sparq_status st = sq_buffer_reserve(ctx, upload, v_off + tensor_bytes, SQ_MEMORY_UPLOAD);
    if (st != SPARQ_SUCCESS)
        return st;
    char *base = upload->map;
    struct sq_entry *entries = (struct sq_entry *)(base + entries_off);
    for (uint32_t i = 0; i < n_slots; i++) {
        entries[i] = sq_cache_entry(c, slots[i], c->lengths[slots[i]] + t0);
        entries[n_slots + i] = entries[i];
        if (staged)
            entries[n_slots + i].slot = i;
        if (!k)
            continue;
        /* input [slot][token][kv][dh] -> upload [slot][token-of-piece][kv][dh] */
        size_t src = ((size_t)i * n_tokens + t0) * row, dst = (size_t)i * nt * row;
        to_floats(dtype, k, src, (size_t)nt * row, (float *)(base + k_off) + dst);
        to_floats(dtype, v, src, (size_t)nt * row, (float *)(base + v_off) + dst);
    }
    *k_off_out = k_off;
    return SPARQ_SUCCESS;
}

/* Records kv_append and kv_vsum for nt tokens of n_slots entries: the two
 * entry lists of append_upload at step_addr + SQ_CALL_INFO_BYTES, f32 K then
 * V at in_addr. kv_vsum adds into `vsum_addr` (0: the cache's V sums). */
static void record_append_dispatches(sparq_cache *c, sq_stream *s, VkPipeline append, VkPipeline vsum,
                                     VkDeviceAddress step_addr, VkDeviceAddress in_addr, uint32_t n_slots, uint32_t nt,
                                     VkDeviceAddress vsum_addr)
{
    sparq_context *ctx = c->ctx;
    const uint32_t n_a = (nt + SQ_APPEND_TOKENS_PER_WG - 1) / SQ_APPEND_TOKENS_PER_WG;
    const uint32_t max_pairs = nt / 2 + 1;
    const uint32_t n_b = (max_pairs * c->head_dim + SQ_APPEND_WG - 1) / SQ_APPEND_WG;
    struct sq_push push = cache_push(c);
    push.in_addr = in_addr;
    push.step_addr = step_addr;
    push.n_entries = n_slots;
    push.span = nt;
    push.n_chunks = n_a;
    push.r = n_b;
    sq_stream_dispatch(ctx, s, append, &push, n_a + n_b, c->n_kv_heads, n_slots);
    sq_stream_barrier(ctx, s);
    /* The V sum adds what was stored, as a truncate recomputes it. */
    push.flags = SQ_FLAG_VSUM_ADD;
    push.step_addr = step_addr + n_slots * sizeof(struct sq_entry);
    if (vsum_addr)
        push.vsum_addr = vsum_addr;
    sq_stream_dispatch(ctx, s, vsum, &push, (c->head_dim + 63) / 64, c->n_kv_heads, n_slots);
}

/* One dispatch of kv_append for tokens [t0, t0+nt) of every slot, then
 * kv_vsum adding those rows to the V sums. An append of several pieces
 * (`staged`) adds them to a copy of the sums in the scratch buffer, made by
 * its first piece and copied back by its last in the same submission as its
 * rows: a piece that fails leaves the cache's sums as they were, so an
 * append that fails part-way changes nothing a later call reads, and each
 * dispatch still covers one piece only. */
static sparq_status append_piece(sparq_cache *c, uint32_t n_slots, const uint32_t *slots, uint32_t n_tokens,
                                 uint32_t t0, uint32_t nt, bool staged, sparq_dtype dtype, const void *k,
                                 const void *v)
{
    sparq_context *ctx = c->ctx;
    VkDeviceSize k_off;
    sparq_status st = append_upload(c, &c->upload, n_slots, slots, n_tokens, t0, nt, staged, dtype, k, v, &k_off);
    if (st != SPARQ_SUCCESS)
        return st;
    VkPipeline append, vsum;
    if ((st = append_pipelines(c, &append, &vsum)) != SPARQ_SUCCESS ||
        (st = sq_stream_begin(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    const bool first = t0 == 0, last = t0 + nt == n_tokens;
    if (staged && first)
        copy_sums(c, n_slots, slots, true); /* ordered before kv_vsum by the barrier after kv_append */
    record_append_dispatches(c, &c->stream, append, vsum, c->upload.address, c->upload.address + k_off, n_slots, nt,
                             staged ? c->scratch.address : 0);
    if (staged && last) {
        sq_stream_barrier(ctx, &c->stream);
        copy_sums(c, n_slots, slots, false);
    }
    return sq_stream_submit_wait(ctx, &c->stream);
}

sparq_status sq_cache_record_append(sparq_cache *c, const sq_append_params *p, sq_stream *s, sq_buffer *upload,
                                    sq_buffer *staging)
{
    sparq_context *ctx = c->ctx;
    const bool device = sq_tensor_is_device(&p->k_dev);
    VkDeviceSize k_off;
    sparq_status st = append_upload(c, upload, p->n_slots, p->slots, p->n_tokens, 0, p->n_tokens, false, p->dtype,
                                    device ? NULL : p->k, device ? NULL : p->v, &k_off);
    VkPipeline append, vsum;
    if (st != SPARQ_SUCCESS || (st = append_pipelines(c, &append, &vsum)) != SPARQ_SUCCESS)
        return st;
    VkDeviceAddress in_addr = upload->address + k_off;
    if (device) {
        /* kv_append reads V right after K: in place when the host laid
         * them out so, else gathered by a GPU copy into staging. */
        const VkDeviceSize bytes =
            (VkDeviceSize)p->n_slots * p->n_tokens * c->n_kv_heads * c->head_dim * sizeof(float);
        if (p->v_dev.address == p->k_dev.address + bytes) {
            in_addr = p->k_dev.address;
        } else {
            if ((st = sq_buffer_reserve(ctx, staging, 2 * bytes, SQ_MEMORY_DEVICE)) != SPARQ_SUCCESS)
                return st;
            VkBufferCopy k_copy = {.srcOffset = p->k_dev.offset, .dstOffset = 0, .size = bytes};
            VkBufferCopy v_copy = {.srcOffset = p->v_dev.offset, .dstOffset = bytes, .size = bytes};
            ctx->vk.vkCmdCopyBuffer(s->cmd, p->k_dev.buffer, staging->buffer, 1, &k_copy);
            ctx->vk.vkCmdCopyBuffer(s->cmd, p->v_dev.buffer, staging->buffer, 1, &v_copy);
            sq_stream_barrier(ctx, s);
            in_addr = staging->address;
        }
    }
    record_append_dispatches(c, s, append, vsum, upload->address, in_addr, p->n_slots, p->n_tokens, 0);
    return SPARQ_SUCCESS;
}

sparq_status sq_cache_append_device(sparq_cache *c, const sq_append_params *p)
{
    for (uint32_t i = 0; i < p->n_slots; i++)
        if ((uint64_t)c->lengths[p->slots[i]] + p->n_tokens > c->capacity)
            return sq_fail(SPARQ_ERROR_CAPACITY_EXCEEDED,
                           "cache_append: slot %u holds %u of %u positions; %u more do not fit (nothing appended)",
                           p->slots[i], c->lengths[p->slots[i]], c->capacity, p->n_tokens);
    sparq_status st = sq_stream_begin(c->ctx, &c->stream);
    if (st != SPARQ_SUCCESS)
        return st;
    /* The scratch of blocking attends doubles as staging: nothing else uses it meanwhile. */
    if ((st = sq_cache_record_append(c, p, &c->stream, &c->upload, &c->scratch)) != SPARQ_SUCCESS) {
        c->ctx->vk.vkEndCommandBuffer(c->stream.cmd);
        return st;
    }
    if ((st = sq_stream_submit_wait(c->ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    for (uint32_t i = 0; i < p->n_slots; i++)
        c->lengths[p->slots[i]] += p->n_tokens;
    return SPARQ_SUCCESS;
}

sparq_status sq_cache_append(sparq_cache *c, uint32_t n_slots, const uint32_t *slots, uint32_t n_tokens,
                             sparq_dtype dtype, const void *k, const void *v)
{
    for (uint32_t i = 0; i < n_slots; i++)
        if ((uint64_t)c->lengths[slots[i]] + n_tokens > c->capacity)
            return sq_fail(SPARQ_ERROR_CAPACITY_EXCEEDED,
                           "cache_append: slot %u holds %u of %u positions; %u more do not fit (nothing appended)",
                           slots[i], c->lengths[slots[i]], c->capacity, n_tokens);
    const size_t per_token = (size_t)n_slots * c->n_kv_heads * c->head_dim * sizeof(float) * 2;
    uint32_t piece = (uint32_t)(SQ_APPEND_CHUNK_BYTES / per_token);
    if (piece == 0)
        piece = 1;
    const bool staged = n_tokens > piece;
    if (staged) {
        const VkDeviceSize staging = (VkDeviceSize)n_slots * c->n_kv_heads * c->head_dim * sizeof(float);
        sparq_status st = sq_buffer_reserve(c->ctx, &c->scratch, staging, SQ_MEMORY_DEVICE);
        if (st != SPARQ_SUCCESS)
            return st;
    }
    for (uint32_t t0 = 0; t0 < n_tokens; t0 += piece) {
        uint32_t nt = n_tokens - t0 < piece ? n_tokens - t0 : piece;
        sparq_status st = append_piece(c, n_slots, slots, n_tokens, t0, nt, staged, dtype, k, v);
        if (st != SPARQ_SUCCESS) {
            /* Pieces already stored sit past the lengths, and their V went
             * to the staged sums only: the slots read as before. */
            return st;
        }
    }
    for (uint32_t i = 0; i < n_slots; i++)
        c->lengths[slots[i]] += n_tokens;
    return SPARQ_SUCCESS;
}

sparq_status sq_cache_truncate(sparq_cache *c, uint32_t slot, uint32_t length)
{
    sparq_context *ctx = c->ctx;
    sparq_status st = sq_context_check_alive(ctx);
    if (st != SPARQ_SUCCESS || length == c->lengths[slot])
        return st;
    if (length == 0)
        return sq_cache_reset(c, slot);
    st = sq_buffer_reserve(ctx, &c->upload, SQ_CALL_INFO_BYTES + sizeof(struct sq_entry), SQ_MEMORY_UPLOAD);
    if (st != SPARQ_SUCCESS)
        return st;
    struct sq_entry *entry = (struct sq_entry *)((char *)c->upload.map + SQ_CALL_INFO_BYTES);
    *entry = sq_cache_entry(c, slot, length);
    VkPipeline pipeline;
    if ((st = vsum_pipeline(c, &pipeline)) != SPARQ_SUCCESS ||
        (st = sq_stream_begin(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    struct sq_push push = cache_push(c);
    push.step_addr = c->upload.address;
    push.n_entries = 1;
    sq_stream_dispatch(ctx, &c->stream, pipeline, &push, (c->head_dim + 63) / 64, c->n_kv_heads, 1);
    if ((st = sq_stream_submit_wait(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    c->lengths[slot] = length;
    return SPARQ_SUCCESS;
}

sparq_status sq_cache_reset(sparq_cache *c, uint32_t slot)
{
    sparq_context *ctx = c->ctx;
    sparq_status st = sq_stream_begin(ctx, &c->stream);
    if (st != SPARQ_SUCCESS)
        return st;
    const VkDeviceSize bytes = (VkDeviceSize)c->n_kv_heads * c->head_dim * sizeof(float);
    ctx->vk.vkCmdFillBuffer(c->stream.cmd, c->vsum.buffer, slot * bytes, bytes, 0);
    if ((st = sq_stream_submit_wait(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    c->lengths[slot] = 0;
    return SPARQ_SUCCESS;
}

/* Records a transfer -> host barrier so mapped read-back memory is current. */
static void barrier_to_host(sparq_context *ctx, sq_stream *s)
{
    VkMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                         .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                         .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    ctx->vk.vkCmdPipelineBarrier(s->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &b, 0, NULL,
                                 0, NULL);
}

sparq_status sq_cache_read(sparq_cache *c, const sparq_read_desc *d)
{
    sparq_context *ctx = c->ctx;
    const VkDeviceSize head_bytes = (VkDeviceSize)d->count * c->head_dim * c->elem_bytes;
    const VkDeviceSize rows = head_bytes * c->n_kv_heads;
    const VkDeviceSize vsum_bytes = (VkDeviceSize)c->n_kv_heads * c->head_dim * sizeof(float);
    sparq_status st = sq_buffer_reserve(ctx, &c->readback, 2 * rows + vsum_bytes, SQ_MEMORY_READBACK);
    if (st != SPARQ_SUCCESS || (st = sq_stream_begin(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    /* A slot lies in one segment: its heads are n_kv_heads blocks there. */
    VkBuffer k_buf, v_buf;
    VkDeviceSize k_off, v_off;
    sq_cache_locate(c, c->k, d->slot, &k_buf, &k_off);
    sq_cache_locate(c, c->v, d->slot, &v_buf, &v_off);
    VkBufferCopy regions[64];
    for (int which = 0; which < 2 && head_bytes > 0; which++) {
        for (uint32_t h0 = 0; h0 < c->n_kv_heads; h0 += 64) {
            uint32_t nh = c->n_kv_heads - h0 < 64 ? c->n_kv_heads - h0 : 64;
            for (uint32_t i = 0; i < nh; i++) {
                VkDeviceSize src = (which ? v_off : k_off) +
                                   ((VkDeviceSize)(h0 + i) * c->cap_alloc + d->first) * c->head_dim * c->elem_bytes;
                regions[i] = (VkBufferCopy){
                    .srcOffset = src, .dstOffset = which * rows + (h0 + i) * head_bytes, .size = head_bytes};
            }
            ctx->vk.vkCmdCopyBuffer(c->stream.cmd, which ? v_buf : k_buf, c->readback.buffer, nh, regions);
        }
    }
    VkBufferCopy vs = {.srcOffset = d->slot * vsum_bytes, .dstOffset = 2 * rows, .size = vsum_bytes};
    ctx->vk.vkCmdCopyBuffer(c->stream.cmd, c->vsum.buffer, c->readback.buffer, 1, &vs);
    barrier_to_host(ctx, &c->stream);
    if ((st = sq_stream_submit_wait(ctx, &c->stream)) != SPARQ_SUCCESS)
        return st;
    sq_buffer_invalidate(ctx, &c->readback);

    /* [kv][count][dh] on the device -> [count][kv][dh] for the host */
    const char *base = c->readback.map;
    float *outs[2] = {d->k, d->v};
    for (int which = 0; which < 2; which++) {
        if (!outs[which])
            continue;
        for (uint32_t h = 0; h < c->n_kv_heads; h++)
            for (uint32_t t = 0; t < d->count; t++) {
                const char *src = base + which * rows + h * head_bytes + (VkDeviceSize)t * c->head_dim * c->elem_bytes;
                float *dst = outs[which] + ((size_t)t * c->n_kv_heads + h) * c->head_dim;
                to_floats(c->storage, src, 0, c->head_dim, dst);
            }
    }
    if (d->v_sum)
        memcpy(d->v_sum, base + 2 * rows, vsum_bytes);
    return SPARQ_SUCCESS;
}
