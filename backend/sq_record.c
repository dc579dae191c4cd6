#include "sq_record.h"

#include "sq_error.h"

#include <string.h>

/* Commands every recorded call starts with: the V-sum clear a queue-less
 * cache_create left for later, then a barrier that orders the call after
 * earlier compute and transfer work (the host's writes of q/K/V, and the
 * previous use of the frame's scratch). */
static void record_prologue(sparq_cache *c, sq_stream *s)
{
    sparq_context *ctx = c->ctx;
    if (c->vsum_clear_pending)
        ctx->vk.vkCmdFillBuffer(s->cmd, c->vsum.buffer, 0, VK_WHOLE_SIZE, 0);
    sq_stream_barrier(ctx, s);
}

static sparq_status check_capacity(const sparq_cache *c, const sq_append_params *p, const char *fn)
{
    for (uint32_t i = 0; i < p->n_slots; i++)
        if ((uint64_t)c->lengths[p->slots[i]] + p->n_tokens > c->capacity)
            return sq_fail(SPARQ_ERROR_CAPACITY_EXCEEDED,
                           "%s: slot %u holds %u of %u positions; %u more do not fit (nothing appended)", fn,
                           p->slots[i], c->lengths[p->slots[i]], c->capacity, p->n_tokens);
    return SPARQ_SUCCESS;
}

/* Records the append into s; on success the lengths advance, since every
 * later call (recorded or not) must see the new positions. */
static sparq_status append_into(sparq_cache *c, const sq_append_params *p, sq_stream *s, sq_frame *fr)
{
    record_prologue(c, s);
    sparq_status st = sq_cache_record_append(c, p, s, &fr->append_upload, &fr->append_staging);
    if (st != SPARQ_SUCCESS)
        return st;
    /* Ends with a barrier: the cache's arrays are complete for later reads. */
    sq_stream_barrier(c->ctx, s);
    c->vsum_clear_pending = false;
    for (uint32_t i = 0; i < p->n_slots; i++)
        c->lengths[p->slots[i]] += p->n_tokens;
    return SPARQ_SUCCESS;
}

static sparq_status attend_into(sparq_cache *c, const sq_attend_params *p, sq_stream *s, sq_frame *fr)
{
    record_prologue(c, s);
    /* sq_attend_record ends with a barrier after the merge. */
    sparq_status st = sq_attend_record(c, p, s, &fr->attend_upload, &fr->attend_scratch);
    if (st == SPARQ_SUCCESS)
        c->vsum_clear_pending = false;
    return st;
}

sparq_status sq_record_append(sparq_cache *c, const sq_append_params *p, VkCommandBuffer cmd, uint32_t frame)
{
    sparq_status st = check_capacity(c, p, "record_append");
    if (st != SPARQ_SUCCESS)
        return st;
    sq_stream s = sq_stream_borrow(cmd);
    return append_into(c, p, &s, &c->frames[frame]);
}

sparq_status sq_record_attend(sparq_cache *c, const sq_attend_params *p, VkCommandBuffer cmd, uint32_t frame)
{
    sq_stream s = sq_stream_borrow(cmd);
    return attend_into(c, p, &s, &c->frames[frame]);
}

/* Makes the frame's stream ready to record: created on first use, and the
 * previous submission of it finished (free when the host kept to the
 * frame rule). */
static sparq_status frame_stream_begin(sparq_cache *c, sq_stream *s, bool *pending)
{
    sparq_context *ctx = c->ctx;
    sparq_status st;
    if (!s->pool && (st = sq_stream_create(ctx, s)) != SPARQ_SUCCESS)
        return st;
    if (*pending) {
        VkResult res = ctx->vk.vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
        if (res != VK_SUCCESS)
            return sq_fail_vk(res, "vkWaitForFences (the frame's previous submission)");
        SQ_VK_TRY(ctx->vk.vkResetFences(ctx->device, 1, &s->fence));
        *pending = false;
    }
    return sq_stream_begin(ctx, s);
}

static sparq_status submit_frame(sparq_cache *c, sq_stream *s, bool *pending, const sparq_vulkan_submit *sub)
{
    sparq_context *ctx = c->ctx;
    SQ_VK_TRY(ctx->vk.vkEndCommandBuffer(s->cmd));
    VkSemaphore waits[SPARQ_VK_MAX_SEMAPHORES], signals[SPARQ_VK_MAX_SEMAPHORES];
    VkPipelineStageFlags stages[SPARQ_VK_MAX_SEMAPHORES];
    for (uint32_t i = 0; i < sub->wait_count; i++) {
        waits[i] = (VkSemaphore)(uintptr_t)sub->wait_semaphores[i];
        stages[i] = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    }
    for (uint32_t i = 0; i < sub->signal_count; i++)
        signals[i] = (VkSemaphore)(uintptr_t)sub->signal_semaphores[i];
    VkTimelineSemaphoreSubmitInfo timeline = {
        .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
        .waitSemaphoreValueCount = sub->wait_count,
        .pWaitSemaphoreValues = sub->wait_values,
        .signalSemaphoreValueCount = sub->signal_count,
        .pSignalSemaphoreValues = sub->signal_values,
    };
    VkSubmitInfo info = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .pNext = &timeline,
        .waitSemaphoreCount = sub->wait_count,
        .pWaitSemaphores = waits,
        .pWaitDstStageMask = stages,
        .commandBufferCount = 1,
        .pCommandBuffers = &s->cmd,
        .signalSemaphoreCount = sub->signal_count,
        .pSignalSemaphores = signals,
    };
    mtx_lock(&ctx->queue_lock);
    VkResult res = ctx->vk.vkQueueSubmit(ctx->queue, 1, &info, s->fence);
    mtx_unlock(&ctx->queue_lock);
    if (res == VK_ERROR_DEVICE_LOST) {
        atomic_store(&ctx->lost, true);
        return sq_fail(SPARQ_ERROR_DEVICE_LOST, "vkQueueSubmit: the device was lost; destroy the context");
    }
    if (res != VK_SUCCESS)
        return sq_fail_vk(res, "vkQueueSubmit");
    *pending = true;
    return SPARQ_SUCCESS;
}

sparq_status sq_submit_append(sparq_cache *c, const sq_append_params *p, const sparq_vulkan_submit *sub)
{
    sparq_status st = check_capacity(c, p, "submit_append");
    if (st != SPARQ_SUCCESS)
        return st;
    sq_frame *fr = &c->frames[sub->frame];
    if ((st = frame_stream_begin(c, &fr->append_stream, &fr->append_pending)) != SPARQ_SUCCESS)
        return st;
    if ((st = append_into(c, p, &fr->append_stream, fr)) != SPARQ_SUCCESS) {
        c->ctx->vk.vkEndCommandBuffer(fr->append_stream.cmd);
        return st;
    }
    if ((st = submit_frame(c, &fr->append_stream, &fr->append_pending, sub)) != SPARQ_SUCCESS) {
        /* Not submitted: the slots (distinct) keep their old lengths. */
        for (uint32_t i = 0; i < p->n_slots; i++)
            c->lengths[p->slots[i]] -= p->n_tokens;
        return st;
    }
    return SPARQ_SUCCESS;
}

sparq_status sq_submit_attend(sparq_cache *c, const sq_attend_params *p, const sparq_vulkan_submit *sub)
{
    sq_frame *fr = &c->frames[sub->frame];
    sparq_status st = frame_stream_begin(c, &fr->attend_stream, &fr->attend_pending);
    if (st != SPARQ_SUCCESS)
        return st;
    if ((st = attend_into(c, p, &fr->attend_stream, fr)) != SPARQ_SUCCESS) {
        c->ctx->vk.vkEndCommandBuffer(fr->attend_stream.cmd);
        return st;
    }
    return submit_frame(c, &fr->attend_stream, &fr->attend_pending, sub);
}
