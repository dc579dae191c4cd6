#include "sq_context.h"

#include "sparq_shaders.h"
#include "sq_error.h"
#include "sq_fault.h"
#include "sq_pipeline_stats.h"
#include "sq_push.h"
#include "sq_vulkan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sq_context_message(sparq_context *ctx, sparq_severity severity, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (ctx->message_callback)
        ctx->message_callback(ctx->message_user_data, severity, text);
    else if (severity >= SPARQ_SEVERITY_WARNING)
        fprintf(stderr, "sparq-vk %s: %s\n", severity >= SPARQ_SEVERITY_ERROR ? "error" : "warning", text);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT type,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    sparq_context *ctx = user;
    sparq_severity s = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT     ? SPARQ_SEVERITY_ERROR
                       : severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT ? SPARQ_SEVERITY_WARNING
                                                                                      : SPARQ_SEVERITY_INFO;
    sq_context_message(ctx, s, "[validation] %s", data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

sparq_status sq_context_check_alive(sparq_context *ctx)
{
    if (atomic_load(&ctx->lost))
        return sq_fail(SPARQ_ERROR_DEVICE_LOST, "the device of this context was lost; destroy and recreate it");
    return SPARQ_SUCCESS;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* A debug limit from the environment; UINT32_MAX (no limit) when unset. */
static uint32_t env_limit(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? (uint32_t)strtoul(v, NULL, 10) : UINT32_MAX;
}

/* A compute queue family; one with timestamps if there is one. */
static bool pick_queue_family(VkPhysicalDevice pd, uint32_t *family, uint32_t *timestamp_bits)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties props[16];
    if (n > 16)
        n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, props);
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(props[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
            continue;
        if (best < 0 || (props[best].timestampValidBits == 0 && props[i].timestampValidBits > 0))
            best = (int)i;
    }
    if (best < 0)
        return false;
    *family = (uint32_t)best;
    *timestamp_bits = props[best].timestampValidBits;
    return true;
}

static sparq_status create_device(sparq_context *ctx)
{
    uint32_t timestamp_bits = 0;
    if (!pick_queue_family(ctx->physical_device, &ctx->queue_family, &timestamp_bits))
        return sq_fail(SPARQ_ERROR_NO_DEVICE, "%s has no compute queue", ctx->info.name);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .bufferDeviceAddress = VK_TRUE,
    };
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f12,
        .features = {.shaderInt64 = VK_TRUE},
    };
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &features,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
    };
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR stats_feature;
    const char *stats_ext = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
    ctx->debug_pipeline_stats = env_true("SPARQ_DEBUG_PIPELINE_STATS") &&
                                sq_pipeline_stats_supported(ctx->physical_device, &stats_feature);
    if (ctx->debug_pipeline_stats) {
        stats_feature.pNext = features.pNext;
        features.pNext = &stats_feature;
        info.enabledExtensionCount = 1;
        info.ppEnabledExtensionNames = &stats_ext;
    }
    SQ_VK_TRY(vkCreateDevice(ctx->physical_device, &info, NULL, &ctx->device));
    volkLoadDeviceTable(&ctx->vk, ctx->device);
    ctx->vk.vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    return sq_context_finish_device(ctx, timestamp_bits);
}

sparq_status sq_context_finish_device(sparq_context *ctx, uint32_t timestamp_bits)
{
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(ctx->physical_device, &props);
    ctx->limits = props.limits;
    ctx->timestamp_period = props.limits.timestampPeriod;
    ctx->has_timestamps = timestamp_bits > 0 && props.limits.timestampPeriod > 0;
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    vkGetPhysicalDeviceProperties2(ctx->physical_device, &p2);
    ctx->max_allocation = m3.maxMemoryAllocationSize;
    /* For tests: a smaller allocation limit makes caches split into
     * segments on any device (see sq_cache.h). */
    const char *limit = getenv("SPARQ_DEBUG_MAX_ALLOCATION");
    if (limit && strtoull(limit, NULL, 10) > 0 && strtoull(limit, NULL, 10) < ctx->max_allocation)
        ctx->max_allocation = strtoull(limit, NULL, 10);
    vkGetPhysicalDeviceMemoryProperties(ctx->physical_device, &ctx->memory);

    VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof(struct sq_push)};
    VkPipelineLayoutCreateInfo layout = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &range,
    };
    SQ_VK_TRY(ctx->vk.vkCreatePipelineLayout(ctx->device, &layout, NULL, &ctx->pipeline_layout));
    VkPipelineCacheCreateInfo cache = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    SQ_VK_TRY(ctx->vk.vkCreatePipelineCache(ctx->device, &cache, NULL, &ctx->pipeline_cache));
    return sq_stream_create(ctx, &ctx->stream);
}

int sq_shader_lookup(const char *name)
{
    for (int i = 0; i < SPARQ_SHADER_COUNT; i++)
        if (strcmp(sparq_shader_table[i].name, name) == 0)
            return i;
    return -1;
}

sparq_status sq_context_pipeline(sparq_context *ctx, const sq_pipeline_key *key, VkPipeline *pipeline)
{
    mtx_lock(&ctx->pipeline_lock);
    for (uint32_t i = 0; i < ctx->n_pipelines; i++) {
        if (memcmp(&ctx->pipeline_keys[i], key, sizeof *key) == 0) {
            *pipeline = ctx->pipelines[i];
            mtx_unlock(&ctx->pipeline_lock);
            return SPARQ_SUCCESS;
        }
    }
    sparq_status st = SPARQ_SUCCESS;
    if (ctx->n_pipelines == ctx->pipeline_capacity) {
        uint32_t cap = ctx->pipeline_capacity ? 2 * ctx->pipeline_capacity : 32;
        sq_pipeline_key *keys = sq_realloc(ctx->pipeline_keys, cap * sizeof *keys);
        if (keys)
            ctx->pipeline_keys = keys;
        VkPipeline *pipes = keys ? sq_realloc(ctx->pipelines, cap * sizeof *pipes) : NULL;
        if (!pipes) {
            st = sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            goto out;
        }
        ctx->pipelines = pipes;
        ctx->pipeline_capacity = cap;
    }
    if (key->shader >= SPARQ_SHADER_COUNT) {
        st = sq_fail(SPARQ_ERROR_INTERNAL, "unknown shader %u", key->shader);
        goto out;
    }
    const sparq_shader_blob *blob = &sparq_shader_table[key->shader];
    VkShaderModuleCreateInfo mod_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = blob->size,
        .pCode = blob->code,
    };
    VkShaderModule module;
    VkResult res = sq_fault_allocation() ? VK_ERROR_OUT_OF_HOST_MEMORY
                                         : ctx->vk.vkCreateShaderModule(ctx->device, &mod_info, NULL, &module);
    if (res != VK_SUCCESS) {
        st = sq_fail_vk(res, "vkCreateShaderModule");
        goto out;
    }
    const uint32_t values[4] = {key->wg_size, key->head_dim, key->group, key->param};
    VkSpecializationMapEntry entries[4];
    for (uint32_t i = 0; i < 4; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {.mapEntryCount = 4, .pMapEntries = entries, .dataSize = sizeof values, .pData = values};
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = &spec,
        },
        .flags = ctx->debug_pipeline_stats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR : 0,
        .layout = ctx->pipeline_layout,
    };
    res = ctx->vk.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &info, NULL, pipeline);
    ctx->vk.vkDestroyShaderModule(ctx->device, module, NULL);
    if (res != VK_SUCCESS) {
        st = sq_fail_vk(res, "vkCreateComputePipelines");
        st = sq_fail(st, "building pipeline %s (wg %u, head_dim %u, group %u): %s", blob->name, key->wg_size,
                     key->head_dim, key->group, sq_vk_result_name(res));
        goto out;
    }
    if (ctx->debug_pipeline_stats) {
        char label[128];
        snprintf(label, sizeof label, "%s (wg %u, head_dim %u, group %u, param %u)", blob->name, key->wg_size,
                 key->head_dim, key->group, key->param);
        sq_pipeline_stats_print(ctx, *pipeline, label);
    }
    ctx->pipeline_keys[ctx->n_pipelines] = *key;
    ctx->pipelines[ctx->n_pipelines++] = *pipeline;
out:
    mtx_unlock(&ctx->pipeline_lock);
    return st;
}

/* Runs the fill kernel on a small buffer and checks every value: the whole
 * path from embedded SPIR-V to read-back works on this device. */
static sparq_status self_test(sparq_context *ctx)
{
    enum { N = 1000 };
    sq_buffer out;
    sparq_status st = sq_buffer_create(ctx, N * sizeof(uint32_t), SQ_MEMORY_READBACK, &out);
    if (st != SPARQ_SUCCESS)
        return st;
    memset(out.map, 0xff, N * sizeof(uint32_t));
    VkPipeline pipeline;
    sq_pipeline_key key = {.shader = SPARQ_SHADER_FILL, .wg_size = 64, .head_dim = 8, .group = 1};
    struct sq_push push = {.out_addr = out.address, .r = 12345, .span = N};
    if ((st = sq_context_pipeline(ctx, &key, &pipeline)) == SPARQ_SUCCESS &&
        (st = sq_stream_begin(ctx, &ctx->stream)) == SPARQ_SUCCESS) {
        sq_stream_dispatch(ctx, &ctx->stream, pipeline, &push, (N + 63) / 64, 1, 1);
        VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                   .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                                   .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
        ctx->vk.vkCmdPipelineBarrier(ctx->stream.cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                     VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
        st = sq_stream_submit_wait(ctx, &ctx->stream);
    }
    if (st == SPARQ_SUCCESS) {
        sq_buffer_invalidate(ctx, &out);
        const uint32_t *v = out.map;
        for (uint32_t i = 0; i < N; i++) {
            if (v[i] != 12345 + i) {
                st = sq_fail(SPARQ_ERROR_INTERNAL, "device self-test failed on %s: element %u is %u, expected %u",
                             ctx->info.name, i, v[i], 12345 + i);
                break;
            }
        }
    }
    sq_buffer_destroy(ctx, &out);
    return st;
}

sparq_status sq_context_create(const sparq_context_desc *desc, sparq_context **out)
{
    sparq_context *ctx;
    sparq_status st = sq_context_new(desc, &ctx);
    if (st != SPARQ_SUCCESS)
        return st;

    sq_instance_params params = {
        .validation = (desc->flags & SPARQ_CONTEXT_ENABLE_VALIDATION) || env_true("SPARQ_VALIDATION"),
        .debug_callback = on_debug_message,
        .debug_user_data = ctx,
    };
    st = sq_instance_create(&params, &ctx->instance, &ctx->messenger);
    if (st == SPARQ_SUCCESS) {
        ctx->info.struct_size = sizeof ctx->info;
        st = sq_select_device(ctx->instance, desc->device, &ctx->physical_device, &ctx->info);
    }
    if (st == SPARQ_SUCCESS)
        st = create_device(ctx);
    if (st == SPARQ_SUCCESS)
        st = self_test(ctx);
    return sq_context_created(ctx, st, out);
}

sparq_status sq_context_new(const sparq_context_desc *desc, sparq_context **out)
{
    sparq_context *ctx = sq_calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx)
        return sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    ctx->message_callback = desc->message_callback;
    ctx->message_user_data = desc->message_user_data;
    mtx_init(&ctx->queue_lock, mtx_plain);
    mtx_init(&ctx->pipeline_lock, mtx_plain);
    ctx->debug_select_small_max = env_limit("SPARQ_DEBUG_SELECT_SMALL_MAX");
    ctx->debug_fused_max = env_limit("SPARQ_DEBUG_FUSED_MAX");
    ctx->debug_poison_scratch = env_true("SPARQ_DEBUG_POISON_SCRATCH");
    ctx->debug_attend_lanes = env_limit("SPARQ_DEBUG_ATTEND_LANES");
    ctx->debug_rank_min_workgroups = env_limit("SPARQ_DEBUG_RANK_MIN_WORKGROUPS");
    ctx->debug_split_sweeps = env_limit("SPARQ_DEBUG_SPLIT_SWEEPS");
    ctx->debug_score_min_workgroups = env_limit("SPARQ_DEBUG_SCORE_MIN_WORKGROUPS");
    ctx->debug_merge_groups = env_limit("SPARQ_DEBUG_MERGE_GROUPS");
    return SPARQ_SUCCESS;
}

sparq_status sq_context_self_test(sparq_context *ctx)
{
    return self_test(ctx);
}

sparq_status sq_context_created(sparq_context *ctx, sparq_status st, sparq_context **out)
{
    *out = NULL;
    if (st != SPARQ_SUCCESS) {
        /* keep the message of the failure, not of the clean-up */
        char why[1024];
        snprintf(why, sizeof why, "%s", sq_last_error());
        sq_context_destroy(ctx);
        return sq_fail(st, "%s", why);
    }
    *out = ctx;
    return SPARQ_SUCCESS;
}

sparq_status sq_context_destroy(sparq_context *ctx)
{
    if (!ctx)
        return SPARQ_SUCCESS;
    unsigned live = atomic_load(&ctx->live_caches);
    if (live)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "context_destroy: %u cache(s) of this context are still alive",
                       live);
    /* After a hang, the device and what it may still use are left to the
     * driver (and the process's exit) rather than destroyed in use. */
    const bool hung = atomic_load(&ctx->hung);
    if (ctx->device && !hung) {
        /* An imported device is the host's: it may be busy with the host's
         * own work, so only the plugin's own submissions are waited for
         * (every context-level one already was). */
        if (!ctx->imported)
            ctx->vk.vkDeviceWaitIdle(ctx->device);
        sq_stream_destroy(ctx, &ctx->stream);
        for (uint32_t i = 0; i < ctx->n_pipelines; i++)
            ctx->vk.vkDestroyPipeline(ctx->device, ctx->pipelines[i], NULL);
        if (ctx->pipeline_cache)
            ctx->vk.vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
        if (ctx->pipeline_layout)
            ctx->vk.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layout, NULL);
        if (!ctx->imported)
            ctx->vk.vkDestroyDevice(ctx->device, NULL);
    }
    free(ctx->pipelines);
    free(ctx->pipeline_keys);
    if (!ctx->imported && !hung)
        sq_instance_destroy(ctx->instance, ctx->messenger);
    mtx_destroy(&ctx->queue_lock);
    mtx_destroy(&ctx->pipeline_lock);
    free(ctx);
    return SPARQ_SUCCESS;
}
