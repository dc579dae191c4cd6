/*
 * The one exported symbol and the function table. Every table entry clears
 * the thread's error message, checks its arguments completely, and only then
 * calls into the backend, so bad input never reaches Vulkan and never
 * changes stored state.
 */
#include "sparq_api_impl.h"
#include "sq_error.h"
#include "sq_vulkan.h"
#include "sparq_build_id.h"

#include <stdio.h>
#include <string.h>

#ifndef SPARQ_PRODUCT_VERSION
#define SPARQ_PRODUCT_VERSION "unknown"
#endif
#ifndef SPARQ_BUILD_TYPE
#define SPARQ_BUILD_TYPE "unknown"
#endif
/* "<git describe> (<buildtype>)", e.g. "86425d5 (release)". */
#define SPARQ_BUILD_ID SPARQ_BUILD_TREE " (" SPARQ_BUILD_TYPE ")"

static const char *api_last_error(void)
{
    return sq_last_error();
}

static sparq_status api_get_plugin_info(sparq_plugin_info *info)
{
    sq_clear_error();
    sparq_status st = sparq_check_out(info, sizeof(sparq_plugin_info), "sparq_plugin_info");
    if (st != SPARQ_SUCCESS)
        return st;
    sparq_plugin_info mine = {
        .struct_size = info->struct_size,
        .abi_major = SPARQ_ABI_VERSION_MAJOR,
        .abi_minor = SPARQ_ABI_VERSION_MINOR,
        .product_version = SPARQ_PRODUCT_VERSION,
        .build_id = SPARQ_BUILD_ID,
    };
    memcpy(info, &mine, info->struct_size < sizeof mine ? info->struct_size : sizeof mine);
    return SPARQ_SUCCESS;
}

static sparq_status api_enumerate_devices(sparq_device_info *infos, uint32_t capacity, uint32_t *count)
{
    sq_clear_error();
    sparq_status st = sparq_require(count, "enumerate_devices", "count");
    if (st != SPARQ_SUCCESS)
        return st;
    if (capacity > 0 && (st = sparq_check_out(infos, sizeof(sparq_device_info), "sparq_device_info")) != SPARQ_SUCCESS)
        return st;
    sq_instance_params params = {0};
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    if ((st = sq_instance_create(&params, &instance, &messenger)) != SPARQ_SUCCESS)
        return st;
    VkPhysicalDevice devices[32];
    uint32_t n = 0;
    st = sq_list_devices(instance, devices, 32, &n);
    if (st == SPARQ_SUCCESS) {
        sparq_device_info all[32];
        for (uint32_t i = 0; i < n; i++) {
            all[i].struct_size = sizeof all[i];
            sq_describe_device(devices[i], i, &all[i]);
        }
        int pick = sq_default_device(all, n);
        const size_t stride = capacity > 0 ? infos->struct_size : 0;
        for (uint32_t i = 0; i < n && i < capacity; i++) {
            sparq_device_info *dst = (sparq_device_info *)((char *)infos + i * stride);
            all[i].is_default = (int)i == pick;
            all[i].struct_size = (uint32_t)stride;
            memcpy(dst, &all[i], stride < sizeof all[i] ? stride : sizeof all[i]);
        }
        *count = n;
    }
    sq_instance_destroy(instance, messenger);
    return st;
}

static const sparq_api plugin_api = {
    .struct_size = sizeof(sparq_api),
    .abi_major = SPARQ_ABI_VERSION_MAJOR,
    .abi_minor = SPARQ_ABI_VERSION_MINOR,
    .last_error = api_last_error,
    .get_plugin_info = api_get_plugin_info,
    .enumerate_devices = api_enumerate_devices,
    .context_create = sparq_api_context_create,
    .context_destroy = sparq_api_context_destroy,
    .context_get_device_info = sparq_api_context_get_device_info,
    .cache_create = sparq_api_cache_create,
    .cache_destroy = sparq_api_cache_destroy,
    .cache_append = sparq_api_cache_append,
    .cache_truncate = sparq_api_cache_truncate,
    .cache_reset = sparq_api_cache_reset,
    .cache_get_lengths = sparq_api_cache_get_lengths,
    .cache_read = sparq_api_cache_read,
    .attend = sparq_api_attend,
    .measure_read_bandwidth = sparq_api_measure_read_bandwidth,
    .record_append = sparq_api_record_append,
    .record_attend = sparq_api_record_attend,
    .submit_append = sparq_api_submit_append,
    .submit_attend = sparq_api_submit_attend,
};

__attribute__((visibility("default"))) sparq_status sparq_plugin_entry(uint32_t abi_major, const sparq_api **api,
                                                                      const char **message)
{
    static const char ok[] = "sparq-vk: ready";
    if (!api) {
        if (message)
            *message = "sparq-vk: the api output pointer is NULL";
        return SPARQ_ERROR_INVALID_ARGUMENT;
    }
    if (abi_major != SPARQ_ABI_VERSION_MAJOR) {
        *api = NULL;
        if (message) {
            /* per thread: valid until this thread calls the entry again */
            static _Thread_local char text[160];
            snprintf(text, sizeof text,
                     "sparq-vk: the host was built for ABI %u, this plugin implements ABI %u.%u", abi_major,
                     SPARQ_ABI_VERSION_MAJOR, SPARQ_ABI_VERSION_MINOR);
            *message = text;
        }
        return SPARQ_ERROR_ABI_MISMATCH;
    }
    *api = &plugin_api;
    if (message)
        *message = ok;
    return SPARQ_SUCCESS;
}
