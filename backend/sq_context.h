/*
 * The context: one Vulkan device with its compute queue, the pipelines built
 * from the embedded SPIR-V (made on first use, per specialization), and the
 * routing of plugin and validation-layer messages to the host.
 *
 * Thread-safety: queue submission and the pipeline list are locked, so the
 * caches of one context may be used from different threads at once; the
 * context itself (create/destroy/device info) is externally synchronised.
 */
#ifndef SQ_CONTEXT_H
#define SQ_CONTEXT_H

#include "sq_buffer.h"
#include "sq_stream.h"

#include <sparq/sparq.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <threads.h>
#include <volk.h>

typedef struct sq_pipeline_key {
    uint32_t shader;   /* enum sparq_shader_id */
    uint32_t wg_size;  /* constant_id 0 */
    uint32_t head_dim; /* constant_id 1 */
    uint32_t group;    /* constant_id 2 */
    uint32_t param;    /* constant_id 3 */
} sq_pipeline_key;

struct sparq_context {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical_device;
    sparq_device_info info;
    VkPhysicalDeviceMemoryProperties memory;
    VkPhysicalDeviceLimits limits;
    VkDeviceSize max_allocation;
    /* For tests: SPARQ_DEBUG_SELECT_SMALL_MAX caps the slots that
     * sparq_select_small takes (0: all go through sparq_rank), so both
     * selection paths run at the small sizes a CPU device can afford.
     * UINT32_MAX when unset. */
    uint32_t debug_select_small_max;
    uint32_t debug_fused_max; /* SPARQ_DEBUG_FUSED_MAX: caps sparq_score_select's slots */
    uint32_t debug_attend_lanes; /* SPARQ_DEBUG_ATTEND_LANES: caps attend's lanes per row */
    /* SPARQ_DEBUG_RANK_MIN_WORKGROUPS: replaces SQ_RANK_MIN_WORKGROUPS (sq_attend.c), so
     * that tests at CPU sizes run sparq_rank's wider invocations (0: always 16 positions) */
    uint32_t debug_rank_min_workgroups;
    /* SPARQ_DEBUG_SPLIT_SWEEPS: replaces attend's fewest sweeps per split
     * (sq_attend.c plan_splits: 16 dense, 4 SparQ on a GPU), to time other plans */
    uint32_t debug_split_sweeps;
    /* SPARQ_DEBUG_SCORE_MIN_WORKGROUPS: replaces SQ_SCORE_MIN_WORKGROUPS (sq_attend.c), so
     * that tests at CPU sizes run sparq_score's several chunks per workgroup (0: always 4) */
    uint32_t debug_score_min_workgroups;
    /* SPARQ_DEBUG_MERGE_GROUPS: replaces attend_merge's lane groups (sq_attend.c
     * merge_workgroup), so that tests at CPU sizes run its widest workgroup */
    uint32_t debug_merge_groups;
    bool debug_poison_scratch; /* SPARQ_DEBUG_POISON_SCRATCH: fill the selection's scratch before each call */
    bool debug_pipeline_stats; /* SPARQ_DEBUG_PIPELINE_STATS, where the device has the extension */

    VkDevice device;
    struct VolkDeviceTable vk;
    uint32_t queue_family;
    VkQueue queue;
    mtx_t queue_lock;
    float timestamp_period; /* ns per tick */
    bool has_timestamps;

    VkPipelineLayout pipeline_layout;
    VkPipelineCache pipeline_cache;
    mtx_t pipeline_lock;
    sq_pipeline_key *pipeline_keys; /* grown on demand, one per specialization in use */
    VkPipeline *pipelines;
    uint32_t n_pipelines, pipeline_capacity;

    sq_stream stream; /* for context-level work: self-test, bandwidth probe */

    sparq_message_fn message_callback;
    void *message_user_data;

    atomic_uint live_caches;
    atomic_bool lost;
    /* A submission still ran after its wait timed out twice: from then on
     * nothing the device may use is freed (sq_stream_destroy). */
    atomic_bool hung;

    /* ABI 1.1: the instance, device and queue belong to the host
     * (sparq_vulkan_import); the plugin never destroys them. queue may be
     * VK_NULL_HANDLE: then nothing is submitted by the plugin. */
    bool imported;
    uint32_t import_features; /* SPARQ_VK_FEATURE_* */
};

sparq_status sq_context_create(const sparq_context_desc *desc, sparq_context **out);
/* On the host's device (sq_import.c); desc->vulkan_import is set. */
sparq_status sq_context_import(const sparq_context_desc *desc, sparq_context **out);

/* Pieces of context creation shared with sq_import.c. */
/* Allocates *out with the message routing and locks set up. */
sparq_status sq_context_new(const sparq_context_desc *desc, sparq_context **out);
/* With ctx->device, vk, physical_device, queue_family set: limits, memory
 * properties, pipeline layout and cache, the context stream. */
sparq_status sq_context_finish_device(sparq_context *ctx, uint32_t timestamp_bits);
/* Runs the fill kernel through the whole path and checks its result. */
sparq_status sq_context_self_test(sparq_context *ctx);
/* Ends creation: on failure destroys ctx keeping the failure's message. */
sparq_status sq_context_created(sparq_context *ctx, sparq_status st, sparq_context **out);
/* Fails (INVALID_ARGUMENT) while caches made from it are alive. */
sparq_status sq_context_destroy(sparq_context *ctx);

/* Index of the embedded shader named `name` (see shaders/meson.build), or -1. */
int sq_shader_lookup(const char *name);

/* The pipeline for a shader and specialization, built on first request. */
sparq_status sq_context_pipeline(sparq_context *ctx, const sq_pipeline_key *key, VkPipeline *pipeline);

/* Sends a message to the host's callback (or stderr for warnings and errors). */
void sq_context_message(sparq_context *ctx, sparq_severity severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* SPARQ_ERROR_DEVICE_LOST once the device was lost, else success. */
sparq_status sq_context_check_alive(sparq_context *ctx);

#endif
