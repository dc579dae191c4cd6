/*
 * A context on the host's own Vulkan device (sparq_vulkan_import, ABI 1.1).
 *
 * Function pointers: volk's instance-level globals serve every context (the
 * loader's entry points dispatch on the handle). If the plugin has not loaded
 * them yet they are loaded through the host's vkGetInstanceProcAddr; the
 * device-level table is per context, loaded for the host's VkDevice. The
 * plugin checks what the host says it enabled against what the kernels need,
 * and names the first thing missing.
 */
#include "sq_context.h"
#include "sq_error.h"
#include "sq_vulkan.h"

#include <sparq/sparq_vulkan.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>

static once_flag lock_once = ONCE_FLAG_INIT;
static mtx_t load_lock;

static void init_lock(void)
{
    mtx_init(&load_lock, mtx_plain);
}

/* Loads volk's global and instance-level pointers through the host's
 * vkGetInstanceProcAddr unless they are loaded already. */
static void load_instance_functions(const sparq_vulkan_import *imp)
{
    call_once(&lock_once, init_lock);
    mtx_lock(&load_lock);
    if (vkGetPhysicalDeviceProperties2 == NULL || vkGetDeviceProcAddr == NULL) {
        volkInitializeCustom((PFN_vkGetInstanceProcAddr)(void (*)(void))imp->get_instance_proc_addr);
        volkLoadInstanceOnly((VkInstance)imp->instance);
    }
    mtx_unlock(&load_lock);
}

static sparq_status check_queue_family(sparq_context *ctx, uint32_t family, uint32_t *timestamp_bits)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &n, NULL);
    VkQueueFamilyProperties props[32];
    if (n > 32)
        n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &n, props);
    if (family >= n)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: vulkan_import.queue_family_index %u does not exist (%s has %u queue families)",
                       family, ctx->info.name, n);
    if (!(props[family].queueFlags & VK_QUEUE_COMPUTE_BIT))
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: vulkan_import.queue_family_index %u has no VK_QUEUE_COMPUTE_BIT", family);
    *timestamp_bits = props[family].timestampValidBits;
    return SPARQ_SUCCESS;
}

static sparq_status check_import(const sparq_vulkan_import *imp)
{
    if (imp->struct_size < sizeof *imp || imp->struct_size > 65536)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: vulkan_import.struct_size is %u: set it to sizeof(sparq_vulkan_import)",
                       imp->struct_size);
    if (!imp->instance || !imp->physical_device || !imp->device || !imp->get_instance_proc_addr)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: vulkan_import needs instance, physical_device, device and "
                       "get_instance_proc_addr (%s is NULL)",
                       !imp->instance          ? "instance"
                       : !imp->physical_device ? "physical_device"
                       : !imp->device          ? "device"
                                               : "get_instance_proc_addr");
    if (imp->reserved != 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "context_create: vulkan_import.reserved must be 0");
    if (imp->enabled_extension_count > 0 && !imp->enabled_extensions)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: vulkan_import.enabled_extensions is NULL with a count of %u",
                       imp->enabled_extension_count);
    for (uint32_t i = 0; i < imp->enabled_extension_count; i++)
        if (!imp->enabled_extensions[i])
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "context_create: vulkan_import.enabled_extensions[%u] is NULL",
                           i);
    const uint32_t known = SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS | SPARQ_VK_FEATURE_SHADER_INT64 |
                           SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE;
    if (imp->features & ~known)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "context_create: unknown vulkan_import.features bits 0x%x",
                       imp->features & ~known);
    if (imp->api_version < VK_API_VERSION_1_2)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "context_create: the imported device is for Vulkan %u.%u; sparq-vk needs Vulkan 1.2 "
                       "(vulkan_import.api_version)",
                       VK_API_VERSION_MAJOR(imp->api_version), VK_API_VERSION_MINOR(imp->api_version));
    if (!(imp->features & SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS))
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "context_create: the imported device lacks bufferDeviceAddress, which sparq-vk's kernels "
                       "need: enable VkPhysicalDeviceVulkan12Features.bufferDeviceAddress at vkCreateDevice and "
                       "set SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS");
    if (!(imp->features & SPARQ_VK_FEATURE_SHADER_INT64))
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "context_create: the imported device lacks shaderInt64, which sparq-vk's kernels need: "
                       "enable VkPhysicalDeviceFeatures.shaderInt64 at vkCreateDevice and set "
                       "SPARQ_VK_FEATURE_SHADER_INT64");
    return SPARQ_SUCCESS;
}

sparq_status sq_context_import(const sparq_context_desc *desc, sparq_context **out)
{
    *out = NULL;
    const sparq_vulkan_import *user = desc->vulkan_import;
    /* Copy what the host's size covers; later fields read as 0. */
    sparq_vulkan_import imp;
    memset(&imp, 0, sizeof imp);
    uint32_t size;
    memcpy(&size, user, sizeof size);
    memcpy(&imp, user, size < sizeof imp ? size : sizeof imp);
    sparq_status st = check_import(&imp);
    if (st != SPARQ_SUCCESS)
        return st;
    if (desc->device && desc->device[0])
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "context_create: device \"%s\" is given with vulkan_import: the imported device is used",
                       desc->device);

    sparq_context *ctx;
    if ((st = sq_context_new(desc, &ctx)) != SPARQ_SUCCESS)
        return st;
    ctx->imported = true;
    ctx->import_features = imp.features;
    ctx->instance = (VkInstance)imp.instance;
    ctx->physical_device = (VkPhysicalDevice)imp.physical_device;
    load_instance_functions(&imp);

    ctx->info.struct_size = sizeof ctx->info;
    sq_describe_device(ctx->physical_device, 0, &ctx->info);
    uint32_t timestamp_bits = 0;
    if (!ctx->info.usable)
        st = sq_fail(SPARQ_ERROR_NOT_SUPPORTED, "context_create: the imported device %s cannot run sparq-vk: %s",
                     ctx->info.name, ctx->info.unusable_reason);
    else
        st = check_queue_family(ctx, imp.queue_family_index, &timestamp_bits);
    if (st == SPARQ_SUCCESS) {
        ctx->device = (VkDevice)imp.device;
        volkLoadDeviceTable(&ctx->vk, ctx->device);
        ctx->queue_family = imp.queue_family_index;
        ctx->queue = (VkQueue)imp.queue;
        st = sq_context_finish_device(ctx, timestamp_bits);
    }
    /* The self-test submits: only with a queue. */
    if (st == SPARQ_SUCCESS && ctx->queue)
        st = sq_context_self_test(ctx);
    return sq_context_created(ctx, st, out);
}
