/*
 * Loading Vulkan and choosing a device: the Vulkan loader is opened by volk
 * on first use (never at dlopen time); instances are created per context;
 * physical devices are described in sparq_device_info terms and checked
 * against what the kernels need.
 */
#ifndef SQ_VULKAN_H
#define SQ_VULKAN_H

#include <sparq/sparq.h>
#include <stdbool.h>
#include <volk.h>

/* Opens the Vulkan loader once per process. SPARQ_ERROR_NO_VULKAN if absent. */
sparq_status sq_vulkan_load(void);

typedef struct sq_instance_params {
    bool validation;            /* Khronos validation + synchronisation validation */
    PFN_vkDebugUtilsMessengerCallbackEXT debug_callback;
    void *debug_user_data;
} sq_instance_params;

/* Creates an instance (Vulkan 1.2+). With validation, the layer must be
 * installed: SPARQ_ERROR_NOT_SUPPORTED otherwise. */
sparq_status sq_instance_create(const sq_instance_params *params, VkInstance *instance,
                                VkDebugUtilsMessengerEXT *messenger);
void sq_instance_destroy(VkInstance instance, VkDebugUtilsMessengerEXT messenger);

/* Describes one physical device; `usable` says whether sparq-vk can run on it. */
void sq_describe_device(VkPhysicalDevice pd, uint32_t index, sparq_device_info *info);

/* Lists the physical devices of `instance` (at most `cap`). */
sparq_status sq_list_devices(VkInstance instance, VkPhysicalDevice *devices, uint32_t cap, uint32_t *count);

/* Picks a device by selector string (see sparq_context_desc.device; NULL or
 * "" = env SPARQ_DEVICE, else the default order). Fills *info for it. */
sparq_status sq_select_device(VkInstance instance, const char *selector, VkPhysicalDevice *device,
                              sparq_device_info *info);

/* Index of the default device among `infos` (the first usable of the best
 * type), or -1. */
int sq_default_device(const sparq_device_info *infos, uint32_t count);

#endif
