/*
 * The host's own Vulkan set-up, as an inference runtime already has it: an
 * instance (with the validation layers when SPARQ_VALIDATION=1), a device
 * with the features sparq-vk needs, one compute queue, and buffers with
 * device addresses. Nothing here is specific to sparq-vk except the list of
 * features enabled in host_device_create.
 */
#ifndef EXAMPLE_VK_SETUP_H
#define EXAMPLE_VK_SETUP_H

#include <stdbool.h>
#include <volk.h>

typedef struct host_vulkan {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family;
    VkQueue queue;
    VkPhysicalDeviceMemoryProperties memory;
    unsigned validation_errors; /* error messages from the validation layers */
} host_vulkan;

typedef struct host_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *map; /* non-NULL for host-visible buffers */
} host_buffer;

/* What the device is created with: the features sparq-vk requires
 * (bufferDeviceAddress, shaderInt64) and timelineSemaphore; tests turn one
 * off to check the plugin's refusal. */
typedef struct host_device_options {
    bool without_buffer_device_address;
    bool without_shader_int64;
} host_device_options;

/* Instance + device on the device SPARQ_DEVICE names (an index or a
 * case-insensitive name substring), else the first discrete GPU, then
 * integrated, virtual, other, CPU. Returns 0 on success. */
int host_vulkan_create(host_vulkan *vk, const host_device_options *options);
void host_vulkan_destroy(host_vulkan *vk);

/* A storage buffer with a device address (the usage sparq-vk needs for
 * device tensors), plus transfer use. host_visible: mapped, coherent. */
int host_buffer_create(host_vulkan *vk, VkDeviceSize size, bool host_visible, host_buffer *out);
void host_buffer_destroy(host_vulkan *vk, host_buffer *b);

#endif
