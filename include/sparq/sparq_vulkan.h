/*
 * sparq_vulkan.h - running sparq-vk on the host's own Vulkan device (ABI 1.1).
 *
 * For inference runtimes that already run on Vulkan: the plugin works on the
 * host's VkDevice, reads and writes tensors in the host's VkBuffers
 * (sparq_device_tensor, in sparq.h) and records its dispatches into the
 * host's command buffers, so no tensor passes through host memory and no
 * call waits on a fence. docs/INTEGRATION.md walks through it;
 * tools/example-host is a complete host.
 *
 * Like sparq.h this header is self-contained C11/C++17 and needs no Vulkan
 * headers: Vulkan handles are passed as opaque values.
 *  - Dispatchable handles (VkInstance, VkPhysicalDevice, VkDevice, VkQueue,
 *    VkCommandBuffer) are pointers: pass them as `void *`.
 *  - Non-dispatchable handles (VkBuffer, VkSemaphore) are 64-bit on every
 *    platform: pass them as uint64_t, converted with SPARQ_VK_HANDLE().
 *
 * Requirements on the host's device (context_create reports the first one
 * missing as SPARQ_ERROR_NOT_SUPPORTED, with a message naming it):
 *  - Vulkan 1.2 or later (instance and device api_version);
 *  - features enabled at vkCreateDevice: bufferDeviceAddress
 *    (VkPhysicalDeviceVulkan12Features) and shaderInt64, stated in
 *    sparq_vulkan_import.features; timelineSemaphore as well for the
 *    submit_* calls with semaphores;
 *  - what every sparq-vk device needs (subgroup operations, 256-invocation
 *    workgroups, 16 KiB shared memory: see sparq_device_info.usable).
 * A queue_family_index that does not exist or lacks VK_QUEUE_COMPUTE_BIT,
 * or a malformed import, is SPARQ_ERROR_INVALID_ARGUMENT.
 *
 * The plugin needs no device extension beyond Vulkan 1.2 core. It creates
 * its own pipelines, buffers, command pools and fences on the host's device
 * and destroys them in cache_destroy / context_destroy; it never destroys
 * or waits idle on anything it did not create. context_get_device_info
 * describes the imported physical device (index and is_default are 0: it
 * does not come from the plugin's enumeration).
 */
#ifndef SPARQ_SPARQ_VULKAN_H
#define SPARQ_SPARQ_VULKAN_H

#include <sparq/sparq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A non-dispatchable Vulkan handle (VkBuffer, VkSemaphore) as uint64_t. On
 * 64-bit targets such handles are pointers, on 32-bit targets uint64_t. */
#if UINTPTR_MAX == 0xffffffffffffffffu
#define SPARQ_VK_HANDLE(handle) ((uint64_t)(uintptr_t)(handle))
#else
#define SPARQ_VK_HANDLE(handle) ((uint64_t)(handle))
#endif

/* VK_MAKE_API_VERSION(0, major, minor, 0), for sparq_vulkan_import.api_version. */
#define SPARQ_VK_API_VERSION(major, minor) ((((uint32_t)(major)) << 22) | (((uint32_t)(minor)) << 12))

/* sparq_vulkan_import.features: what the host enabled in vkCreateDevice. */
#define SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS 0x1u /* required */
#define SPARQ_VK_FEATURE_SHADER_INT64 0x2u          /* required */
#define SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE 0x4u    /* required by submit_* with semaphores */

/* PFN_vkVoidFunction and PFN_vkGetInstanceProcAddr, without Vulkan headers.
 * (Vulkan's VKAPI_CALL is empty on every platform but 32-bit Windows.) */
typedef void (*sparq_vk_void_function)(void);
typedef sparq_vk_void_function (*sparq_vk_get_instance_proc_addr)(void *instance, const char *name);

/* The host's Vulkan objects; pass its address as
 * sparq_context_desc.vulkan_import. Everything is copied during
 * context_create except the handles, which must stay valid until
 * context_destroy returns. */
typedef struct sparq_vulkan_import {
    uint32_t struct_size; /* required: sizeof(sparq_vulkan_import) */
    /* required: the VK_MAKE_API_VERSION the host created its instance and
     * device for (VkApplicationInfo.apiVersion); >= 1.2. The plugin uses no
     * command newer than this. */
    uint32_t api_version;
    void *instance;        /* required: VkInstance */
    void *physical_device; /* required: VkPhysicalDevice of `device` */
    void *device;          /* required: VkDevice */
    /* optional: a VkQueue of queue_family_index (created with the device).
     * NULL = the plugin never submits: only record_* and cache_create /
     * cache_destroy / cache_get_lengths work; every call that runs work
     * itself (cache_append, attend, cache_truncate, cache_reset,
     * cache_read, submit_*) returns SPARQ_ERROR_NOT_SUPPORTED. The host must
     * not use this queue from other threads while a sparq call that submits
     * is running (Vulkan requires queue access to be externally
     * synchronised). */
    void *queue;
    uint32_t queue_family_index; /* required: a family with VK_QUEUE_COMPUTE_BIT; the host's command buffers given to record_* come from it */
    uint32_t features;           /* required: SPARQ_VK_FEATURE_* bits the host enabled */
    /* required: the vkGetInstanceProcAddr the host loaded (its loader's);
     * the plugin loads every instance and device function through it. */
    sparq_vk_get_instance_proc_addr get_instance_proc_addr;
    /* optional: the device extensions the host enabled (names as in
     * VkDeviceCreateInfo). The plugin uses none today and checks only that
     * the list is readable; an extension it may use in a later version is
     * used only when listed here. NULL with a count of 0 = none. */
    uint32_t enabled_extension_count;
    uint32_t reserved; /* must be 0 */
    const char *const *enabled_extensions;
} sparq_vulkan_import;

/* Where a recorded call writes (record_append, record_attend).
 *
 * Synchronisation contract of a recorded call:
 *  - Before: the plugin's commands start with a pipeline barrier whose
 *    first scope is COMPUTE_SHADER | TRANSFER with SHADER_WRITE |
 *    TRANSFER_WRITE access, so writes of the host's inputs (q, K, V) by
 *    compute shaders or transfer commands recorded earlier in submission
 *    order are visible to the plugin. Inputs written by any other stage
 *    need the host's own barrier to COMPUTE_SHADER | TRANSFER
 *    (SHADER_READ | TRANSFER_READ) before the recorded call; host writes to
 *    mapped memory are made visible by vkQueueSubmit as usual.
 *  - After: the plugin's commands end with a pipeline barrier from
 *    COMPUTE_SHADER | TRANSFER writes to COMPUTE_SHADER | TRANSFER reads
 *    and writes, so later compute and transfer commands may read `out` (and
 *    reuse q/K/V buffers) without a barrier of their own. Reads by other
 *    stages (e.g. a fragment shader, or the host after a fence) need the
 *    host's barrier from COMPUTE_SHADER / SHADER_WRITE.
 *  - Between recorded calls on the same or different caches nothing is
 *    needed: each call's barriers order it after the ones before.
 *  - State: the calls bind compute pipelines and set push constants; the
 *    host's compute pipeline binding and push constants are undefined after
 *    a recorded call (rebind them). Nothing else of the command buffer's
 *    state is changed. The plugin uses no descriptor sets.
 *  - Lifetime and reuse: the command buffer refers to the cache's memory,
 *    the context's pipelines and frame `frame`'s scratch. The host must not
 *    destroy the cache or context, nor record or submit into the same frame
 *    of the same cache again, until the GPU finished executing that command
 *    buffer (e.g. a fence or timeline value per frame, as for the host's
 *    own per-frame resources).
 *  - Lengths: a recorded append advances the slots' lengths when
 *    record_append returns. A host that discards the command buffer
 *    unsubmitted takes them back with cache_truncate. Blocking calls on the
 *    cache (cache_read, attend, ...) run on the imported queue and see the
 *    recorded positions only if the host submitted its command buffer to
 *    that queue before the call (queue order then makes them wait for it).
 *    Within one frame, a cache holds one recorded append and one recorded
 *    attend: a second record_append (or record_attend) on the same
 *    (cache, frame) replaces the first's scratch, so it must come after the
 *    first's command buffer finished. Steady state allocates nothing: the
 *    frame's scratch grows only when a call needs more than before.
 */
typedef struct sparq_vulkan_record {
    uint32_t struct_size; /* required: sizeof(sparq_vulkan_record) */
    uint32_t frame;       /* optional: scratch set, < sparq_cache_desc.frames_in_flight; 0 = the first */
    /* required: a VkCommandBuffer of the imported device in the recording
     * state, from a pool of queue_family_index, outside a render pass. The
     * host submits it (to a queue of that family) and owns it. */
    void *command_buffer;
} sparq_vulkan_record;

/* Explicit synchronisation for submit_append / submit_attend: the plugin
 * records the call (as record_* would, into its own command buffer of
 * frame `frame`) and submits it to the imported queue, waiting for each
 * wait_semaphores[i] to reach wait_values[i] and then signalling each
 * signal_semaphores[i] to signal_values[i]. The call returns after the
 * submission, without waiting. Semaphores are timeline VkSemaphores of the
 * imported device (feature SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE), owned by
 * the host. Waits are at COMPUTE_SHADER | TRANSFER stage; the signal covers
 * all the plugin's commands, whose writes are then available to whoever
 * waits (the waiter still needs the usual memory dependency by its own
 * wait stage, which a semaphore wait provides for the stages it names).
 * Frames: before reusing a frame's command buffer and scratch the plugin
 * waits for its own previous submission of that frame (free when it has
 * finished), so a host that only submits needs no per-frame tracking; more
 * frames_in_flight let more submissions queue up without that wait. A
 * frame's append and attend have separate command buffers. Do not mix
 * record_* and submit_* on the same frame of a cache. */
typedef struct sparq_vulkan_submit {
    uint32_t struct_size; /* required: sizeof(sparq_vulkan_submit) */
    uint32_t frame;       /* optional: as sparq_vulkan_record.frame */
    uint32_t wait_count;  /* optional: entries of wait_semaphores / wait_values; 0 = none */
    uint32_t signal_count; /* optional: entries of signal_semaphores / signal_values; 0 = none */
    const uint64_t *wait_semaphores;   /* required with wait_count: [wait_count] VkSemaphore (timeline) */
    const uint64_t *wait_values;       /* required with wait_count */
    const uint64_t *signal_semaphores; /* required with signal_count: [signal_count] VkSemaphore (timeline) */
    const uint64_t *signal_values;     /* required with signal_count */
} sparq_vulkan_submit;

#define SPARQ_VK_MAX_SEMAPHORES 16u /* per submit, for waits and for signals */

#if UINTPTR_MAX == 0xffffffffffffffffu
SPARQ_STATIC_ASSERT(sizeof(sparq_vulkan_import) == 72, "sparq_vulkan_import layout is released (1.1)");
SPARQ_STATIC_ASSERT(offsetof(sparq_vulkan_import, get_instance_proc_addr) == 48, "sparq_vulkan_import layout");
SPARQ_STATIC_ASSERT(offsetof(sparq_vulkan_import, enabled_extensions) == 64, "sparq_vulkan_import layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_vulkan_record) == 16, "sparq_vulkan_record layout is released (1.1)");
SPARQ_STATIC_ASSERT(sizeof(sparq_vulkan_submit) == 48, "sparq_vulkan_submit layout is released (1.1)");
#endif

#ifdef __cplusplus
}
#endif

#endif /* SPARQ_SPARQ_VULKAN_H */
