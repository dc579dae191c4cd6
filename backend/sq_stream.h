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
    VkQueryPool queries; /* SQ_STREAM_TIMESTAMPS marks; VK_NULL_HANDLE without timestamp support */
    bool in_flight;      /* submitted, and its fence not yet seen signaled (a wait timed out) */
} sq_stream;

sparq_status sq_stream_create(struct sparq_context *ctx, sq_stream *stream);
/* Destroys the stream's objects. A submission whose wait timed out is
 * waited for once more (up to the same timeout); if it is still running,
 * the objects are left to the driver rather than destroyed in use. */
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

/* A stream view of a command buffer someone else owns and submits (the
 * host's, for recorded calls): barrier and dispatch work on it; it has no
 * pool, fence or queries, so it is never begun, submitted or destroyed. */
sq_stream sq_stream_borrow(VkCommandBuffer cmd);

#define SQ_STREAM_TIMESTAMPS 8u

/* Timestamp marks: write(0) before a region, write(1..n) after each part of
 * it; after the submission completed, read the n intervals (ns[i] = mark i+1
 * - mark i). A mark waits for every command recorded before it. */
void sq_stream_timestamp(struct sparq_context *ctx, sq_stream *stream, uint32_t which);
sparq_status sq_stream_intervals_ns(struct sparq_context *ctx, sq_stream *stream, uint32_t n, uint64_t *ns);

#endif
