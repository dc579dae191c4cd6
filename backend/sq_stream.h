/*
 * A stream: a command pool, one command buffer, a fence and a pair of
 * timestamp queries. Each cache owns one, so caches record and wait
 * independently; only vkQueueSubmit is serialised by the context.
 */
#ifndef SQ_STREAM_H
#define SQ_STREAM_H

#include <sparq/sparq.h>
#include <stdbool.h>
#include <stdint.h>
#include <volk.h>

struct sparq_context;

typedef struct sq_stream {
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkQueryPool queries; /* 2 timestamps; VK_NULL_HANDLE without timestamp support */
} sq_stream;

sparq_status sq_stream_create(struct sparq_context *ctx, sq_stream *stream);
void sq_stream_destroy(struct sparq_context *ctx, sq_stream *stream);

/* Resets and begins the command buffer. */
sparq_status sq_stream_begin(struct sparq_context *ctx, sq_stream *stream);
/* Ends, submits and waits. */
sparq_status sq_stream_submit_wait(struct sparq_context *ctx, sq_stream *stream);

/* Records a full compute->compute (+transfer) memory barrier. */
void sq_stream_barrier(struct sparq_context *ctx, sq_stream *stream);

/* Records a dispatch of `pipeline` with `push` constants. */
struct sq_push;
void sq_stream_dispatch(struct sparq_context *ctx, sq_stream *stream, VkPipeline pipeline, const struct sq_push *push,
                        uint32_t x, uint32_t y, uint32_t z);

/* Timestamps around a region: write(0) before, write(1) after; read after
 * the submission completed. */
void sq_stream_timestamp(struct sparq_context *ctx, sq_stream *stream, uint32_t which);
sparq_status sq_stream_elapsed_ns(struct sparq_context *ctx, sq_stream *stream, uint64_t *ns);

#endif
