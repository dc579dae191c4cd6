/*
 * sparq-example-host: how an inference runtime that already runs on Vulkan
 * uses sparq-vk without copies through host memory and without a wait per
 * layer.
 *
 *   1. The host creates its Vulkan instance and device as usual, enabling
 *      bufferDeviceAddress and shaderInt64 (vk_setup.c).
 *   2. It loads the plugin with dlopen and gives it that device
 *      (sparq_vulkan_import): the plugin then works on the host's device.
 *   3. K, V, q and the attention outputs live in the host's VkBuffers.
 *   4. Each decode step, the host records for every layer an append of the
 *      token's K/V and an attend into its own command buffer, next to its
 *      own work, and submits once. Two frames are in flight: the caches are
 *      created with frames_in_flight = 2, and each step names its frame.
 *
 * Here 16 layers x 64 tokens, 2 KV heads, 4 query heads, head_dim 64; the
 * outputs are checked against a float64 reference at the end. Exit status
 * 0 = all correct and (with SPARQ_VALIDATION=1) no validation errors.
 * The plugin is SPARQ_PLUGIN_PATH, else the first argument, else
 * libsparq_vk.so from the library path.
 */
#include "reference.h"
#include "vk_setup.h"

#include <sparq/sparq.h>
#include <sparq/sparq_vulkan.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LAYERS = 16, TOKENS = 64, KV_HEADS = 2, HEADS = 4, HEAD_DIM = 64, FRAMES = 2 };
/* Floats per token and layer: K then V, each [KV_HEADS][HEAD_DIM]. Storing V
 * right after K lets the plugin read both in place. */
#define KV_ROW (2 * KV_HEADS * HEAD_DIM)
#define Q_ROW (HEADS * HEAD_DIM)

static const sparq_api *api;

#define CHECK_SPARQ(call)                                                                  \
    do {                                                                                   \
        if ((call) != SPARQ_SUCCESS) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, api->last_error()); \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)
#define CHECK_VK(call)                                                                     \
    do {                                                                                   \
        if ((call) != VK_SUCCESS) {                                                        \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #call);              \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

static const sparq_api *load_plugin(const char *path)
{
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    sparq_entry_fn entry = so ? (sparq_entry_fn)dlsym(so, SPARQ_ENTRY_SYMBOL) : NULL;
    const sparq_api *table = NULL;
    const char *why = so ? "no entry point" : dlerror();
    if (!entry || entry(SPARQ_ABI_VERSION_MAJOR, &table, &why) != SPARQ_SUCCESS) {
        fprintf(stderr, "cannot load %s: %s\n", path, why);
        return NULL;
    }
    if (!SPARQ_API_HAS(table, record_attend)) {
        fprintf(stderr, "%s implements ABI %u.%u; recording needs 1.1\n", path, table->abi_major, table->abi_minor);
        return NULL;
    }
    return table;
}

/* Realistic inputs: heavy-tailed q, a few outlier channels in K. */
static double gaussian(unsigned long long *state)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
        u[i] = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static void fill_inputs(float *kv, float *q)
{
    unsigned long long state = 0x5eed5eedULL;
    for (size_t i = 0; i < (size_t)LAYERS * TOKENS * KV_ROW; i++) {
        const unsigned d = i % HEAD_DIM;
        const int is_k = (i / (KV_HEADS * HEAD_DIM)) % 2 == 0;
        kv[i] = (float)(gaussian(&state) * (is_k && (d == 3 || d == 41) ? 6.0 : 1.0));
    }
    for (size_t i = 0; i < (size_t)LAYERS * TOKENS * Q_ROW; i++) {
        const double g = gaussian(&state);
        q[i] = (float)(g * (1.0 + 2.0 * fabs(gaussian(&state))));
    }
}

/* Copies between a host-visible staging buffer and a device-local buffer,
 * and waits: set-up and final read-back only, never in the decode loop. */
static int copy_and_wait(host_vulkan *vk, VkCommandPool pool, VkCommandBuffer cmd, VkBuffer from, VkBuffer to, VkDeviceSize from_offset,
                         VkDeviceSize to_offset, VkDeviceSize bytes)
{
    CHECK_VK(vkResetCommandPool(vk->device, pool, 0));
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    CHECK_VK(vkBeginCommandBuffer(cmd, &begin));
    VkBufferCopy region = {.srcOffset = from_offset, .dstOffset = to_offset, .size = bytes};
    vkCmdCopyBuffer(cmd, from, to, 1, &region);
    VkMemoryBarrier after = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                             .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                              VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                             VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &after, 0, NULL, 0, NULL);
    CHECK_VK(vkEndCommandBuffer(cmd));
    VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    CHECK_VK(vkQueueSubmit(vk->queue, 1, &submit, VK_NULL_HANDLE));
    CHECK_VK(vkQueueWaitIdle(vk->queue));
    return 0;
}

/* Max |device - reference| over every layer, token and head. */
static double check_outputs(const float *kv, const float *q, const float *out)
{
    double worst = 0.0, ref[Q_ROW];
    for (unsigned l = 0; l < LAYERS; l++)
        for (unsigned t = 0; t < TOKENS; t++) {
            const float *k = kv + (size_t)l * TOKENS * KV_ROW;
            const size_t at = ((size_t)l * TOKENS + t) * Q_ROW;
            reference_dense_attention(q + at, k, k + KV_HEADS * HEAD_DIM, KV_ROW, t + 1, HEADS, KV_HEADS, HEAD_DIM,
                                      ref);
            for (unsigned i = 0; i < Q_ROW; i++) {
                const double err = fabs(out[at + i] - ref[i]);
                worst = err > worst || isnan(out[at + i]) ? (isnan(out[at + i]) ? INFINITY : err) : worst;
            }
        }
    return worst;
}

int main(int argc, char **argv)
{
    const char *plugin = getenv("SPARQ_PLUGIN_PATH");
    if (!(api = load_plugin(plugin ? plugin : argc > 1 ? argv[1] : "libsparq_vk.so")))
        return 1;
    host_vulkan vk;
    if (host_vulkan_create(&vk, NULL) != 0)
        return 1;

    /* --- give the plugin the host's device ------------------------------ */
    sparq_vulkan_import import = {
        .struct_size = sizeof import,
        .api_version = SPARQ_VK_API_VERSION(1, 2),
        .instance = vk.instance,
        .physical_device = vk.physical_device,
        .device = vk.device,
        .queue = vk.queue, /* used by the plugin only inside context_create / cache_create */
        .queue_family_index = vk.queue_family,
        .features = SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS | SPARQ_VK_FEATURE_SHADER_INT64 |
                    SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE,
        .get_instance_proc_addr = (sparq_vk_get_instance_proc_addr)(void (*)(void))vkGetInstanceProcAddr,
    };
    sparq_context_desc cd = {.struct_size = sizeof cd, .vulkan_import = &import};
    sparq_context *ctx = NULL;
    CHECK_SPARQ(api->context_create(&cd, &ctx));
    sparq_cache *caches[LAYERS];
    for (unsigned l = 0; l < LAYERS; l++) {
        sparq_cache_desc kd = {.struct_size = sizeof kd, .n_seqs = 1, .n_kv_heads = KV_HEADS, .head_dim = HEAD_DIM,
                               .capacity = TOKENS, .storage = SPARQ_DTYPE_F32, .frames_in_flight = FRAMES};
        CHECK_SPARQ(api->cache_create(ctx, &kd, &caches[l]));
    }

    /* --- the host's tensors, in its own device-local buffers ------------ */
    const VkDeviceSize kv_bytes = (VkDeviceSize)LAYERS * TOKENS * KV_ROW * sizeof(float);
    const VkDeviceSize q_bytes = (VkDeviceSize)LAYERS * TOKENS * Q_ROW * sizeof(float);
    host_buffer kv_buf, q_buf, out_buf, staging;
    if (host_buffer_create(&vk, kv_bytes, false, &kv_buf) || host_buffer_create(&vk, q_bytes, false, &q_buf) ||
        host_buffer_create(&vk, q_bytes, false, &out_buf) || host_buffer_create(&vk, kv_bytes + q_bytes, true, &staging))
        return fprintf(stderr, "buffer creation failed\n"), 1;
    float *kv = malloc(kv_bytes), *q = malloc(q_bytes), *out = malloc(q_bytes);
    fill_inputs(kv, q);

    VkCommandPool pools[FRAMES];
    VkCommandBuffer cmds[FRAMES];
    VkFence fences[FRAMES];
    for (unsigned f = 0; f < FRAMES; f++) {
        VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                        .queueFamilyIndex = vk.queue_family};
        CHECK_VK(vkCreateCommandPool(vk.device, &pool, NULL, &pools[f]));
        VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                             .commandPool = pools[f],
                                             .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                             .commandBufferCount = 1};
        CHECK_VK(vkAllocateCommandBuffers(vk.device, &alloc, &cmds[f]));
        VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, .flags = VK_FENCE_CREATE_SIGNALED_BIT};
        CHECK_VK(vkCreateFence(vk.device, &fence, NULL, &fences[f]));
    }
    /* Inputs onto the GPU once (a runtime produces them there). Poison out. */
    memcpy(staging.map, kv, kv_bytes);
    memcpy((char *)staging.map + kv_bytes, q, q_bytes);
    if (copy_and_wait(&vk, pools[0], cmds[0], staging.buffer, kv_buf.buffer, 0, 0, kv_bytes) ||
        copy_and_wait(&vk, pools[0], cmds[0], staging.buffer, q_buf.buffer, kv_bytes, 0, q_bytes))
        return 1;
    memset(staging.map, 0xff, q_bytes); /* NaN everywhere */
    if (copy_and_wait(&vk, pools[0], cmds[0], staging.buffer, out_buf.buffer, 0, 0, q_bytes))
        return 1;

    /* --- the decode loop: one command buffer and one submit per token ---- */
    const uint32_t slot = 0;
    for (unsigned t = 0; t < TOKENS; t++) {
        const unsigned f = t % FRAMES;
        /* The frame's previous step finished: its command buffer and the
         * plugin's scratch of frame f may be reused. */
        CHECK_VK(vkWaitForFences(vk.device, 1, &fences[f], VK_TRUE, UINT64_MAX));
        CHECK_VK(vkResetFences(vk.device, 1, &fences[f]));
        CHECK_VK(vkResetCommandPool(vk.device, pools[f], 0));
        VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                          .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        CHECK_VK(vkBeginCommandBuffer(cmds[f], &begin));
        const sparq_vulkan_record rec = {.struct_size = sizeof rec, .frame = f, .command_buffer = cmds[f]};
        for (unsigned l = 0; l < LAYERS; l++) {
            /* (The host's own layer work would be recorded here too.) */
            const VkDeviceSize kv_at = ((VkDeviceSize)l * TOKENS + t) * KV_ROW * sizeof(float);
            const VkDeviceSize q_at = ((VkDeviceSize)l * TOKENS + t) * Q_ROW * sizeof(float);
            const VkDeviceSize half = KV_ROW / 2 * sizeof(float);
            sparq_append_desc ad = {
                .struct_size = sizeof ad, .n_slots = 1, .slots = &slot, .n_tokens = 1,
                .k_device = {SPARQ_VK_HANDLE(kv_buf.buffer), kv_at, half},
                .v_device = {SPARQ_VK_HANDLE(kv_buf.buffer), kv_at + half, half},
            };
            CHECK_SPARQ(api->record_append(caches[l], &ad, &rec)); /* the slot's length grows now */
            /* Half the layers dense, half SparQ. With at most 64 positions
             * SparQ's default k (>= 64) covers them all, so both equal dense
             * attention here; longer contexts read only part of the cache. */
            sparq_attend_desc at = {
                .struct_size = sizeof at,
                .mode = l % 2 ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
                .n_slots = 1, .slots = &slot, .n_heads = HEADS,
                .q_device = {SPARQ_VK_HANDLE(q_buf.buffer), q_at, Q_ROW * sizeof(float)},
                .out_device = {SPARQ_VK_HANDLE(out_buf.buffer), q_at, Q_ROW * sizeof(float)},
            };
            CHECK_SPARQ(api->record_attend(caches[l], &at, &rec));
            /* out of layer l is now readable by the host's next compute or
             * transfer commands: the recorded attend ends with a barrier. */
        }
        CHECK_VK(vkEndCommandBuffer(cmds[f]));
        VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                               .pCommandBuffers = &cmds[f]};
        CHECK_VK(vkQueueSubmit(vk.queue, 1, &submit, fences[f]));
    }
    CHECK_VK(vkWaitForFences(vk.device, FRAMES, fences, VK_TRUE, UINT64_MAX));

    /* --- read the outputs back once and check them ----------------------- */
    if (copy_and_wait(&vk, pools[0], cmds[0], out_buf.buffer, staging.buffer, 0, 0, q_bytes))
        return 1;
    memcpy(out, staging.map, q_bytes);
    const double worst = check_outputs(kv, q, out);
    const int ok = worst < 1e-4 && vk.validation_errors == 0;
    printf("%d layers x %d tokens recorded: max |error| %.3g against the float64 reference, %u validation errors: %s\n",
           LAYERS, TOKENS, worst, vk.validation_errors, ok ? "ok" : "FAILED");

    for (unsigned l = 0; l < LAYERS; l++)
        CHECK_SPARQ(api->cache_destroy(caches[l]));
    CHECK_SPARQ(api->context_destroy(ctx));
    for (unsigned f = 0; f < FRAMES; f++) {
        vkDestroyFence(vk.device, fences[f], NULL);
        vkDestroyCommandPool(vk.device, pools[f], NULL);
    }
    host_buffer_destroy(&vk, &kv_buf);
    host_buffer_destroy(&vk, &q_buf);
    host_buffer_destroy(&vk, &out_buf);
    host_buffer_destroy(&vk, &staging);
    host_vulkan_destroy(&vk);
    free(kv), free(q), free(out);
    return ok ? 0 : 1;
}
