#include "sq_stream.h"

#include "sq_context.h"
#include "sq_error.h"
#include "sq_fault.h"
#include "sq_push.h"

#include <string.h>

/* A GPU step longer than this is treated as a hang. */
#define SQ_FENCE_TIMEOUT_NS (120ull * 1000 * 1000 * 1000)
/* On a CPU driver, longer: lavapipe compiles each shader variant when it
 * first runs, inside the submission, and for the largest shapes (a group
 * of 14 heads at head_dim 240, for one) that took about two minutes on 2
 * cores, which a 120 s wait reported as a hung device. A CPU device does
 * not hang the way a GPU does; a real hang still ends the call, later. */
#define SQ_FENCE_TIMEOUT_CPU_NS (1800ull * 1000 * 1000 * 1000)

static uint64_t fence_timeout_ns(const sparq_context *ctx)
{
    return sq_fault_fence_timeout_ns(ctx->info.type == SPARQ_DEVICE_TYPE_CPU ? SQ_FENCE_TIMEOUT_CPU_NS
                                                                             : SQ_FENCE_TIMEOUT_NS);
}

sparq_status sq_stream_create(sparq_context *ctx, sq_stream *s)
{
    memset(s, 0, sizeof *s);
    if (sq_fault_allocation())
        return sq_fail_vk(VK_ERROR_OUT_OF_HOST_MEMORY, "vkCreateCommandPool (injected)");
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    VkResult res = ctx->vk.vkCreateCommandPool(ctx->device, &pool, NULL, &s->pool);
    if (res != VK_SUCCESS)
        return sq_fail_vk(res, "vkCreateCommandPool");
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = s->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((res = ctx->vk.vkAllocateCommandBuffers(ctx->device, &alloc, &s->cmd)) != VK_SUCCESS ||
        (res = ctx->vk.vkCreateFence(ctx->device, &fence, NULL, &s->fence)) != VK_SUCCESS) {
        sq_stream_destroy(ctx, s);
        return sq_fail_vk(res, "vkAllocateCommandBuffers/vkCreateFence");
    }
    if (ctx->has_timestamps) {
        VkQueryPoolCreateInfo q = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = SQ_STREAM_TIMESTAMPS,
        };
        if ((res = ctx->vk.vkCreateQueryPool(ctx->device, &q, NULL, &s->queries)) != VK_SUCCESS) {
            sq_stream_destroy(ctx, s);
            return sq_fail_vk(res, "vkCreateQueryPool");
        }
    }
    return SPARQ_SUCCESS;
}

void sq_stream_destroy(sparq_context *ctx, sq_stream *s)
{
    if (s->in_flight) {
        const VkResult res = ctx->vk.vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE,
                                                     fence_timeout_ns(ctx));
        if (res == VK_TIMEOUT) {
            atomic_store(&ctx->hung, true);
            memset(s, 0, sizeof *s); /* still running: never free what the device may use */
            return;
        }
    }
    if (s->queries)
        ctx->vk.vkDestroyQueryPool(ctx->device, s->queries, NULL);
    if (s->fence)
        ctx->vk.vkDestroyFence(ctx->device, s->fence, NULL);
    if (s->pool)
        ctx->vk.vkDestroyCommandPool(ctx->device, s->pool, NULL); /* frees the command buffer */
    memset(s, 0, sizeof *s);
}

sparq_status sq_stream_begin(sparq_context *ctx, sq_stream *s)
{
    sparq_status st = sq_context_check_alive(ctx);
    if (st != SPARQ_SUCCESS)
        return st;
    if (ctx->queue == VK_NULL_HANDLE)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "this context was imported without a queue (sparq_vulkan_import.queue is NULL), so the plugin "
                       "cannot run work itself: use record_append / record_attend, or import a queue");
    /* vkBeginCommandBuffer may run out of memory on any driver. */
    if (sq_fault_allocation())
        return sq_fail_vk(VK_ERROR_OUT_OF_HOST_MEMORY, "vkBeginCommandBuffer (injected)");
    SQ_VK_TRY(ctx->vk.vkResetCommandPool(ctx->device, s->pool, 0));
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    SQ_VK_TRY(ctx->vk.vkBeginCommandBuffer(s->cmd, &begin));
    if (s->queries)
        ctx->vk.vkCmdResetQueryPool(s->cmd, s->queries, 0, SQ_STREAM_TIMESTAMPS);
    /* On the host's queue, work the host submitted earlier (recorded
     * appends, its writes of device tensors) may still run: order this
     * submission's first commands after it. */
    if (ctx->imported)
        sq_stream_barrier(ctx, s);
    return SPARQ_SUCCESS;
}

sparq_status sq_stream_submit_wait(sparq_context *ctx, sq_stream *s)
{
    SQ_VK_TRY(ctx->vk.vkEndCommandBuffer(s->cmd));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &s->cmd,
    };
    VkResult res = VK_ERROR_DEVICE_LOST;
    if (!sq_fault_device_lost()) {
        mtx_lock(&ctx->queue_lock);
        res = ctx->vk.vkQueueSubmit(ctx->queue, 1, &submit, s->fence);
        mtx_unlock(&ctx->queue_lock);
    }
    if (res == VK_SUCCESS) {
        s->in_flight = true;
        res = ctx->vk.vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE,
                                      fence_timeout_ns(ctx));
        if (res == VK_SUCCESS)
            s->in_flight = false;
    }
    if (res == VK_TIMEOUT || res == VK_ERROR_DEVICE_LOST) {
        atomic_store(&ctx->lost, true);
        return sq_fail(SPARQ_ERROR_DEVICE_LOST, "the device was lost or hung (%s); destroy the context",
                       sq_vk_result_name(res));
    }
    if (res != VK_SUCCESS)
        return sq_fail_vk(res, "vkQueueSubmit/vkWaitForFences");
    SQ_VK_TRY(ctx->vk.vkResetFences(ctx->device, 1, &s->fence));
    return SPARQ_SUCCESS;
}

void sq_stream_barrier(sparq_context *ctx, sq_stream *s)
{
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                         VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    ctx->vk.vkCmdPipelineBarrier(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier,
                                 0, NULL, 0, NULL);
}

void sq_stream_dispatch(sparq_context *ctx, sq_stream *s, VkPipeline pipeline, const struct sq_push *push, uint32_t x,
                        uint32_t y, uint32_t z)
{
    ctx->vk.vkCmdBindPipeline(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    ctx->vk.vkCmdPushConstants(s->cmd, ctx->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof *push, push);
    ctx->vk.vkCmdDispatch(s->cmd, x, y, z);
}

void sq_stream_timestamp(sparq_context *ctx, sq_stream *s, uint32_t which)
{
    if (s->queries)
        /* Bottom of pipe for both: the start mark waits for the commands
         * before it (the upload), so only the region between is timed. */
        ctx->vk.vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s->queries, which);
}

sparq_status sq_stream_intervals_ns(sparq_context *ctx, sq_stream *s, uint32_t n, uint64_t *ns)
{
    memset(ns, 0, n * sizeof *ns);
    if (!s->queries)
        return SPARQ_SUCCESS;
    uint64_t t[SQ_STREAM_TIMESTAMPS];
    SQ_VK_TRY(ctx->vk.vkGetQueryPoolResults(ctx->device, s->queries, 0, n + 1, sizeof t, t, sizeof t[0],
                                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    for (uint32_t i = 0; i < n; i++)
        ns[i] = (uint64_t)((double)(t[i + 1] - t[i]) * ctx->timestamp_period);
    return SPARQ_SUCCESS;
}

sq_stream sq_stream_borrow(VkCommandBuffer cmd)
{
    sq_stream s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    return s;
}
