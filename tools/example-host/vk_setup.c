#include "vk_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    host_vulkan *vk = user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        vk->validation_errors++;
        fprintf(stderr, "VALIDATION ERROR: %s\n", data->pMessage);
    } else {
        fprintf(stderr, "validation warning: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static int create_instance(host_vulkan *vk)
{
    const char *env = getenv("SPARQ_VALIDATION");
    const bool validation = env && *env && strcmp(env, "0") != 0;
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    /* Synchronisation validation checks the barriers of recorded calls. */
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkDebugUtilsMessengerCreateInfoEXT messenger = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity =
            VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = vk,
    };
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .pNext = &messenger,
                                        .enabledValidationFeatureCount = 1,
                                        .pEnabledValidationFeatures = enables};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "sparq-example-host",
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &features : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };
    if (vkCreateInstance(&info, NULL, &vk->instance) != VK_SUCCESS) {
        fprintf(stderr, "vkCreateInstance failed%s\n", validation ? " (is vulkan-validationlayers installed?)" : "");
        return -1;
    }
    volkLoadInstance(vk->instance);
    if (validation && vkCreateDebugUtilsMessengerEXT(vk->instance, &messenger, NULL, &vk->messenger) != VK_SUCCESS)
        return -1;
    return 0;
}

static int pick_device(host_vulkan *vk)
{
    VkPhysicalDevice devices[16];
    uint32_t n = 16;
    if (vkEnumeratePhysicalDevices(vk->instance, &n, devices) < 0 || n == 0) {
        fprintf(stderr, "no Vulkan device\n");
        return -1;
    }
    const char *want = getenv("SPARQ_DEVICE");
    /* By default the first GPU by type, as the plugin's own default:
     * discrete, integrated, virtual, other, then CPU. */
    static const VkPhysicalDeviceType order[] = {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, VK_PHYSICAL_DEVICE_TYPE_OTHER,
                                                 VK_PHYSICAL_DEVICE_TYPE_CPU};
    int pick = -1;
    for (size_t o = 0; o < sizeof order / sizeof order[0] && pick < 0; o++)
        for (uint32_t i = 0; i < n && pick < 0; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devices[i], &p);
            if (p.deviceType == order[o])
                pick = (int)i;
        }
    if (pick < 0)
        pick = 0;
    if (want && *want) {
        pick = -1;
        char *end;
        long index = strtol(want, &end, 10);
        for (uint32_t i = 0; i < n && pick < 0; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devices[i], &p);
            if ((*end == '\0' && index == (long)i) || strcasestr(p.deviceName, want))
                pick = (int)i;
        }
        if (pick < 0) {
            fprintf(stderr, "SPARQ_DEVICE=%s matches no device\n", want);
            return -1;
        }
    }
    vk->physical_device = devices[pick];
    uint32_t nf = 16;
    VkQueueFamilyProperties families[16];
    vkGetPhysicalDeviceQueueFamilyProperties(vk->physical_device, &nf, families);
    for (vk->queue_family = 0; vk->queue_family < nf; vk->queue_family++)
        if (families[vk->queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT)
            return 0;
    fprintf(stderr, "the device has no compute queue\n");
    return -1;
}

int host_vulkan_create(host_vulkan *vk, const host_device_options *options)
{
    memset(vk, 0, sizeof *vk);
    host_device_options none = {0};
    if (!options)
        options = &none;
    if (volkInitialize() != VK_SUCCESS) {
        fprintf(stderr, "no Vulkan loader\n");
        return -1;
    }
    if (create_instance(vk) != 0 || pick_device(vk) != 0)
        return -1;
    /* The features sparq-vk needs, enabled by the host at device creation. */
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .bufferDeviceAddress = !options->without_buffer_device_address,
        .timelineSemaphore = VK_TRUE,
    };
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f12,
        .features = {.shaderInt64 = !options->without_shader_int64},
    };
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                     .queueFamilyIndex = vk->queue_family,
                                     .queueCount = 1,
                                     .pQueuePriorities = &priority};
    VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                               .pNext = &features,
                               .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &queue};
    if (vkCreateDevice(vk->physical_device, &info, NULL, &vk->device) != VK_SUCCESS) {
        fprintf(stderr, "vkCreateDevice failed\n");
        return -1;
    }
    volkLoadDevice(vk->device);
    vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    vkGetPhysicalDeviceMemoryProperties(vk->physical_device, &vk->memory);
    return 0;
}

void host_vulkan_destroy(host_vulkan *vk)
{
    if (vk->device)
        vkDestroyDevice(vk->device, NULL);
    if (vk->messenger)
        vkDestroyDebugUtilsMessengerEXT(vk->instance, vk->messenger, NULL);
    if (vk->instance)
        vkDestroyInstance(vk->instance, NULL);
}

int host_buffer_create(host_vulkan *vk, VkDeviceSize size, bool host_visible, host_buffer *out)
{
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        /* STORAGE + SHADER_DEVICE_ADDRESS: what sparq-vk's kernels need. */
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    };
    if (vkCreateBuffer(vk->device, &info, NULL, &out->buffer) != VK_SUCCESS)
        return -1;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, out->buffer, &req);
    const VkMemoryPropertyFlags want = host_visible
                                           ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                           : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < vk->memory.memoryTypeCount && type == UINT32_MAX; i++)
        if ((req.memoryTypeBits & (1u << i)) && (vk->memory.memoryTypes[i].propertyFlags & want) == want)
            type = i;
    if (type == UINT32_MAX)
        return -1;
    VkMemoryAllocateFlagsInfo flags = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                       .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                  .pNext = &flags,
                                  .allocationSize = req.size,
                                  .memoryTypeIndex = type};
    if (vkAllocateMemory(vk->device, &alloc, NULL, &out->memory) != VK_SUCCESS ||
        vkBindBufferMemory(vk->device, out->buffer, out->memory, 0) != VK_SUCCESS)
        return -1;
    if (host_visible && vkMapMemory(vk->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->map) != VK_SUCCESS)
        return -1;
    out->size = size;
    return 0;
}

void host_buffer_destroy(host_vulkan *vk, host_buffer *b)
{
    if (b->buffer)
        vkDestroyBuffer(vk->device, b->buffer, NULL);
    if (b->memory)
        vkFreeMemory(vk->device, b->memory, NULL);
    memset(b, 0, sizeof *b);
}
