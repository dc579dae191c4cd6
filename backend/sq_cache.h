/*
 * The KV cache of one attention layer, stored the SparQ way ("store K
 * twice"), per slot b and KV head h with `cap` allocated positions:
 *   K  [b][h][cap][dh]  dh-contiguous: gathering whole rows is contiguous
 *   Kt [b][h][dh][cap]  position-contiguous: r components of all positions
 *                       are r contiguous runs
 *   V  [b][h][cap][dh]
 *   Vsum [b][h][dh] f32 running sum of the stored V, for SparQ's mean term
 * Lengths live on the host; the kernels get them per call.
 *
 * Kernels reach the arrays through buffer device addresses, so no buffer is
 * bound to a descriptor and maxStorageBufferRange does not limit a cache.
 * What does is the largest single allocation (maxMemoryAllocationSize): K,
 * Kt and V are each split into segments of whole slots that fit one, and
 * every kernel entry carries the addresses of its slot's blocks.
 *
 * Every function here takes arguments the plugin layer has already checked.
 */
#ifndef SQ_CACHE_H
#define SQ_CACHE_H

#include "sq_buffer.h"
#include "sq_context.h"
#include "sq_device_tensor.h"
#include "sq_stream.h"

#include <sparq/sparq.h>

/* The scratch of one frame of recorded or submitted calls (ABI 1.1): the
 * host may have frames_in_flight of them executing at once. A frame holds
 * one append and one attend. */
typedef struct sq_frame {
    sq_buffer append_upload;  /* entries (+ host-memory K/V) of the frame's append */
    sq_buffer append_staging; /* device copy of K/V from two separate host buffers */
    sq_buffer attend_upload;  /* call info + entries (+ host-memory q) of the frame's attend */
    sq_buffer attend_scratch; /* device scratch of the frame's attend */
    sq_stream append_stream;  /* plugin-owned command buffers of submit_*, made on first use */
    sq_stream attend_stream;
    bool append_pending, attend_pending; /* the stream's fence is in flight */
} sq_frame;

struct sparq_cache {
    sparq_context *ctx;
    uint32_t n_seqs, n_kv_heads, head_dim, capacity;
    uint32_t cap_alloc; /* capacity rounded up to SQ_CAPACITY_ALIGN */
    sparq_dtype storage;
    uint32_t elem_bytes;
    sq_buffer *k, *kt, *v; /* [n_segments] each */
    uint32_t n_segments;
    uint32_t slots_per_segment;
    VkDeviceSize slot_bytes; /* one slot of K, Kt or V: n_kv_heads * cap_alloc * head_dim * elem_bytes */
    sq_buffer vsum;
    uint32_t *lengths;
    sq_stream stream;
    sq_buffer upload;   /* host -> device staging, grown on demand */
    sq_buffer readback; /* device -> host staging, grown on demand */
    sq_buffer scratch;  /* per-call device scratch, grown on demand */
    sq_frame *frames;   /* [n_frames]: recorded and submitted calls */
    uint32_t n_frames;
    /* Created on an imported context without a queue: the V sums are
     * cleared by the first recorded call instead of at creation. */
    bool vsum_clear_pending;
};

/* An append whose K and V are in host memory or in host-owned buffers. */
typedef struct sq_append_params {
    uint32_t n_slots;
    const uint32_t *slots;
    uint32_t n_tokens;
    sparq_dtype dtype;   /* of host-memory k/v */
    const void *k, *v;   /* host memory, or NULL for device tensors */
    sq_tensor_ref k_dev, v_dev;
} sq_append_params;

/* Where slot `slot` of array `segments` (c->k, c->kt or c->v) starts. */
void sq_cache_locate(const sparq_cache *c, const sq_buffer *segments, uint32_t slot, VkBuffer *buffer,
                     VkDeviceSize *offset);
/* The kernel entry for a slot: its length and its blocks' addresses. */
struct sq_entry sq_cache_entry(const sparq_cache *c, uint32_t slot, uint32_t len);

sparq_status sq_cache_create(sparq_context *ctx, const sparq_cache_desc *desc, sparq_cache **out);
void sq_cache_destroy(sparq_cache *cache);

sparq_status sq_cache_append(sparq_cache *cache, uint32_t n_slots, const uint32_t *slots, uint32_t n_tokens,
                             sparq_dtype dtype, const void *k, const void *v);
/* Blocking append of device tensors (one dispatch; lengths advance). */
sparq_status sq_cache_append_device(sparq_cache *cache, const sq_append_params *p);
/* Fills `upload` (entries, host-memory K/V) and records the append into
 * `s`, using `staging` for K/V that must be gathered. Lengths are not
 * changed. One dispatch: the caller bounds n_tokens. */
sparq_status sq_cache_record_append(sparq_cache *cache, const sq_append_params *p, sq_stream *s, sq_buffer *upload,
                                    sq_buffer *staging);
sparq_status sq_cache_truncate(sparq_cache *cache, uint32_t slot, uint32_t length);
sparq_status sq_cache_reset(sparq_cache *cache, uint32_t slot);
sparq_status sq_cache_read(sparq_cache *cache, const sparq_read_desc *desc);

/* Resolved parameters of one attend call (see sparq_attend_desc). */
typedef struct sq_attend_params {
    bool sparq;
    uint32_t n_slots;
    const uint32_t *slots;
    uint32_t group;
    sparq_dtype dtype;
    const void *q;
    void *out;
    float scale;
    uint32_t flags;
    uint32_t r, k, l; /* as given: 0 = default */
    uint32_t *selected;
    uint32_t selected_stride;
    float *alpha;
    sparq_attend_stats *stats;
    sq_tensor_ref q_dev, out_dev; /* ABI 1.1: in host-owned buffers when set */
} sq_attend_params;

/* SparQ defaults for a slot of length S (see the header). */
void sq_resolve_sparq(uint32_t head_dim, uint32_t S, uint32_t r, uint32_t k, uint32_t l, uint32_t *r_out,
                      uint32_t *k_out, uint32_t *l_out);

/* Blocking: plans, records (sq_attend_record), submits, reads back. */
sparq_status sq_attend(sparq_cache *cache, const sq_attend_params *p);
/* Plans the call into `upload` / `scratch` and records its dispatch
 * sequence into `s`, without submitting. out must be a device tensor;
 * selected, alpha and stats are not produced. */
sparq_status sq_attend_record(sparq_cache *cache, const sq_attend_params *p, sq_stream *s, sq_buffer *upload,
                              sq_buffer *scratch);

/* Streaming-read bandwidth of the device (sparq_api.measure_read_bandwidth). */
sparq_status sq_measure_read_bandwidth(sparq_context *ctx, uint64_t bytes, uint32_t iterations, double *bps);

#endif
