#include "recorded_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monotonic_clock.h"
#include "vk_setup.h"

struct bench_vulkan {
    host_vulkan vk;
    sparq_vulkan_import import;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkQueryPool timestamps; /* VK_NULL_HANDLE without timestamp support */
    double ns_per_tick;
    host_buffer q, out; /* grown to each configuration's size */
};

bench_vulkan *bench_vulkan_open(char *why, size_t why_size)
{
    bench_vulkan *b = calloc(1, sizeof *b);
    if (!b || host_vulkan_create(&b->vk, NULL) != 0) {
        snprintf(why, why_size, "could not create the bench's own Vulkan device (see above)");
        if (b)
            host_vulkan_destroy(&b->vk);
        free(b);
        return NULL;
    }
    b->import = (sparq_vulkan_import){
        .struct_size = sizeof b->import,
        .api_version = SPARQ_VK_API_VERSION(1, 2),
        .instance = b->vk.instance,
        .physical_device = b->vk.physical_device,
        .device = b->vk.device,
        .queue = b->vk.queue,
        .queue_family_index = b->vk.queue_family,
        .features = SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS | SPARQ_VK_FEATURE_SHADER_INT64 |
                    SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE,
        .get_instance_proc_addr = (sparq_vk_get_instance_proc_addr)(void (*)(void))vkGetInstanceProcAddr,
    };
    VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .queueFamilyIndex = b->vk.queue_family};
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkQueryPoolCreateInfo queries = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = 2};
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(b->vk.physical_device, &props);
    b->ns_per_tick = props.limits.timestampPeriod;
    if (vkCreateCommandPool(b->vk.device, &pool, NULL, &b->pool) != VK_SUCCESS ||
        vkAllocateCommandBuffers(b->vk.device,
                                 &(VkCommandBufferAllocateInfo){.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                                                .commandPool = b->pool,
                                                                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                                                .commandBufferCount = 1},
                                 &b->cmd) != VK_SUCCESS ||
        vkCreateFence(b->vk.device, &fence, NULL, &b->fence) != VK_SUCCESS ||
        (props.limits.timestampComputeAndGraphics && b->ns_per_tick > 0 &&
         vkCreateQueryPool(b->vk.device, &queries, NULL, &b->timestamps) != VK_SUCCESS)) {
        snprintf(why, why_size, "could not create the bench's command buffer, fence or queries");
        bench_vulkan_close(b);
        return NULL;
    }
    return b;
}

void bench_vulkan_close(bench_vulkan *b)
{
    if (!b)
        return;
    if (b->vk.device) {
        vkDeviceWaitIdle(b->vk.device);
        host_buffer_destroy(&b->vk, &b->q);
        host_buffer_destroy(&b->vk, &b->out);
        if (b->timestamps)
            vkDestroyQueryPool(b->vk.device, b->timestamps, NULL);
        if (b->fence)
            vkDestroyFence(b->vk.device, b->fence, NULL);
        if (b->pool)
            vkDestroyCommandPool(b->vk.device, b->pool, NULL);
    }
    host_vulkan_destroy(&b->vk);
    free(b);
}

const sparq_vulkan_import *bench_vulkan_import(const bench_vulkan *b)
{
    return &b->import;
}

unsigned bench_vulkan_validation_errors(const bench_vulkan *b)
{
    return b->vk.validation_errors;
}

static int reserve(bench_vulkan *b, host_buffer *buf, VkDeviceSize bytes)
{
    if (buf->buffer && buf->size >= bytes)
        return 0;
    host_buffer_destroy(&b->vk, buf);
    /* Host-visible: the bench writes q once; where it lives does not change
     * what the plugin's kernels read per step on a discrete GPU by much
     * (q and out are a few KiB against the cache's MiB). */
    return host_buffer_create(&b->vk, bytes, true, buf);
}

/* Records one step (between two timestamps), submits and waits. */
static int run_step(const sparq_api *api, bench_vulkan *b, sparq_cache *cache, const sparq_attend_desc *desc,
                    double *record_us, double *gpu_us, double *wall_us, char *why, size_t why_size)
{
    const double t0 = monotonic_seconds();
    if (vkResetCommandPool(b->vk.device, b->pool, 0) != VK_SUCCESS ||
        vkBeginCommandBuffer(b->cmd, &(VkCommandBufferBeginInfo){.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                                                  .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT}) !=
            VK_SUCCESS) {
        snprintf(why, why_size, "vkBeginCommandBuffer failed");
        return -1;
    }
    if (b->timestamps) {
        vkCmdResetQueryPool(b->cmd, b->timestamps, 0, 2);
        vkCmdWriteTimestamp(b->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, b->timestamps, 0);
    }
    const sparq_vulkan_record rec = {.struct_size = sizeof rec, .command_buffer = b->cmd};
    const double r0 = monotonic_seconds();
    sparq_status status = api->record_attend(cache, desc, &rec);
    const double r1 = monotonic_seconds();
    if (status != SPARQ_SUCCESS) {
        vkEndCommandBuffer(b->cmd);
        snprintf(why, why_size, "record_attend failed (status %d): %s", (int)status, api->last_error());
        return -1;
    }
    if (b->timestamps)
        vkCmdWriteTimestamp(b->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, b->timestamps, 1);
    VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &b->cmd};
    if (vkEndCommandBuffer(b->cmd) != VK_SUCCESS || vkQueueSubmit(b->vk.queue, 1, &submit, b->fence) != VK_SUCCESS ||
        vkWaitForFences(b->vk.device, 1, &b->fence, VK_TRUE, UINT64_MAX) != VK_SUCCESS ||
        vkResetFences(b->vk.device, 1, &b->fence) != VK_SUCCESS) {
        snprintf(why, why_size, "submitting the recorded step failed");
        return -1;
    }
    const double t1 = monotonic_seconds();
    uint64_t ticks[2] = {0, 0};
    if (b->timestamps)
        vkGetQueryPoolResults(b->vk.device, b->timestamps, 0, 2, sizeof ticks, ticks, sizeof ticks[0],
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    *record_us = (r1 - r0) * 1e6;
    *wall_us = (t1 - t0) * 1e6;
    *gpu_us = (double)(ticks[1] - ticks[0]) * b->ns_per_tick * 1e-3;
    return 0;
}

int time_recorded_steps(const sparq_api *api, bench_vulkan *b, sparq_cache **caches, uint32_t n_caches,
                        const step_inputs *in, sparq_attention_mode mode, uint32_t warmup, double warmup_seconds,
                        uint32_t reps, step_result *result, char *why, size_t why_size)
{
    const bench_config *cfg = in->cfg;
    const VkDeviceSize bytes = (VkDeviceSize)cfg->batch * cfg->n_heads * cfg->head_dim * sizeof(float);
    double *samples = malloc(sizeof(double) * 3 * (reps ? reps : 1));
    if (!samples || reserve(b, &b->q, bytes) != 0 || reserve(b, &b->out, bytes) != 0) {
        free(samples);
        snprintf(why, why_size, "out of memory for the recorded path's buffers");
        return -1;
    }
    memcpy(b->q.map, in->q, bytes);
    sparq_attend_desc desc = {
        .struct_size = sizeof desc,
        .mode = mode,
        .n_slots = cfg->batch,
        .slots = in->slots,
        .n_heads = cfg->n_heads,
        .r = cfg->r,
        .k = cfg->k,
        .l = cfg->l,
        .q_device = {SPARQ_VK_HANDLE(b->q.buffer), 0, bytes},
        .out_device = {SPARQ_VK_HANDLE(b->out.buffer), 0, bytes},
    };
    double *host = samples, *gpu = samples + reps, *wall = samples + 2 * reps;
    int ok = 1;
    double gpu_total = 0.0;
    const double warmup_until = monotonic_seconds() + warmup_seconds; /* see time_steps */
    for (uint32_t i = 0; i < warmup + reps && ok; i++) {
        double h, g, w;
        ok = run_step(api, b, caches[i % n_caches], &desc, &h, &g, &w, why, why_size) == 0;
        if (ok && i + 1 == warmup && monotonic_seconds() < warmup_until)
            warmup++;
        if (ok && i >= warmup) {
            host[i - warmup] = h, gpu[i - warmup] = g, wall[i - warmup] = w;
            gpu_total += g;
        }
    }
    sparq_attend_stats stats = {.struct_size = sizeof stats};
    if (ok) {
        /* One blocking step with stats gives the dispatch count and the
         * per-kernel split (same kernels, same data); recorded calls have no
         * per-kernel timestamps. It runs after the timed steps, when the GPU
         * has left its idle clock. */
        sparq_attend_desc blocking = desc;
        blocking.q_device = (sparq_device_tensor){0};
        blocking.q = in->q;
        blocking.stats = &stats;
        sparq_status status = api->attend(caches[0], &blocking);
        if (status != SPARQ_SUCCESS) {
            snprintf(why, why_size, "attend (blocking, for the dispatch split) failed (status %d): %s", (int)status,
                     api->last_error());
            ok = 0;
        }
    }
    if (ok) {
        result->reps = reps;
        result->dispatches = stats.dispatches;
        result->wall_clock_only = gpu_total == 0.0;
        result->gpu_us = summarise_samples(result->wall_clock_only ? wall : gpu, reps);
        result->host_us = summarise_samples(host, reps);
        result->wall_us = summarise_samples(wall, reps);
        for (uint32_t d = 0; d < 4; d++)
            result->dispatch_us[d] = (double)stats.dispatch_ns[d] * 1e-3;
    }
    free(samples);
    return ok ? 0 : -1;
}
