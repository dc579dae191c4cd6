#include "sq_vulkan.h"

#include "sq_error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define SQ_MAX_DEVICES 32u

static once_flag load_once = ONCE_FLAG_INIT;
static VkResult load_result = VK_ERROR_INITIALIZATION_FAILED;

static void load_loader(void)
{
    load_result = volkInitialize();
}

sparq_status sq_vulkan_load(void)
{
    call_once(&load_once, load_loader);
    if (load_result != VK_SUCCESS)
        return sq_fail(SPARQ_ERROR_NO_VULKAN,
                       "no Vulkan loader found (libvulkan.so.1); install one (Debian: libvulkan1) and a driver");
    return SPARQ_SUCCESS;
}

static once_flag instance_once = ONCE_FLAG_INIT;
static _Thread_local VkInstance loading_instance; /* read by the thread that runs the once */

static void load_instance_functions(void)
{
    volkLoadInstanceOnly(loading_instance);
}

static bool layer_available(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *props = calloc(n, sizeof *props);
    bool found = false;
    if (props && vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].layerName, name) == 0;
    free(props);
    return found;
}

static bool instance_extension_available(const char *layer, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *props = calloc(n, sizeof *props);
    bool found = false;
    if (props && vkEnumerateInstanceExtensionProperties(layer, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].extensionName, name) == 0;
    free(props);
    return found;
}

sparq_status sq_instance_create(const sq_instance_params *params, VkInstance *instance,
                                VkDebugUtilsMessengerEXT *messenger)
{
    *instance = VK_NULL_HANDLE;
    *messenger = VK_NULL_HANDLE;
    sparq_status st = sq_vulkan_load();
    if (st != SPARQ_SUCCESS)
        return st;
    if (volkGetInstanceVersion() < VK_API_VERSION_1_2)
        return sq_fail(SPARQ_ERROR_NO_DEVICE, "the Vulkan loader is older than 1.2");

    static const char validation_layer[] = "VK_LAYER_KHRONOS_validation";
    const char *layers[1];
    const char *extensions[2];
    uint32_t n_layers = 0, n_extensions = 0;
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = enables,
    };
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = params->debug_callback,
        .pUserData = params->debug_user_data,
    };
    const void *next = NULL;
    if (params->validation) {
        if (!layer_available(validation_layer))
            return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                           "validation was requested but %s is not installed (Debian: vulkan-validationlayers)",
                           validation_layer);
        layers[n_layers++] = validation_layer;
        extensions[n_extensions++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        if (instance_extension_available(validation_layer, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
            extensions[n_extensions++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
            features.pNext = &messenger_info;
            next = &features;
        } else {
            next = &messenger_info;
        }
    }
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "sparq-vk",
        .pEngineName = "sparq-vk",
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = next,
        .pApplicationInfo = &app,
        .enabledLayerCount = n_layers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_extensions,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult res = vkCreateInstance(&info, NULL, instance);
    if (res == VK_ERROR_INCOMPATIBLE_DRIVER)
        return sq_fail(SPARQ_ERROR_NO_DEVICE, "no Vulkan driver is installed (vkCreateInstance: %s)",
                       sq_vk_result_name(res));
    if (res != VK_SUCCESS)
        return sq_fail_vk(res, "vkCreateInstance");
    /* Instance-level entry points: the loader's trampolines dispatch on the
     * handle, so the pointers of any instance serve all of them. They are
     * volk's process-wide globals, so they are loaded once: loading them
     * again for every instance wrote them while contexts being created on
     * other threads read them (a data race ThreadSanitizer reported). */
    loading_instance = *instance;
    call_once(&instance_once, load_instance_functions);
    if (params->validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(*instance, "vkCreateDebugUtilsMessengerEXT");
        if (create && (res = create(*instance, &messenger_info, NULL, messenger)) != VK_SUCCESS) {
            vkDestroyInstance(*instance, NULL);
            *instance = VK_NULL_HANDLE;
            return sq_fail_vk(res, "vkCreateDebugUtilsMessengerEXT");
        }
    }
    return SPARQ_SUCCESS;
}

void sq_instance_destroy(VkInstance instance, VkDebugUtilsMessengerEXT messenger)
{
    if (instance == VK_NULL_HANDLE)
        return;
    if (messenger != VK_NULL_HANDLE) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy)
            destroy(instance, messenger, NULL);
    }
    vkDestroyInstance(instance, NULL);
}

sparq_status sq_list_devices(VkInstance instance, VkPhysicalDevice *devices, uint32_t cap, uint32_t *count)
{
    uint32_t n = cap;
    VkResult res = vkEnumeratePhysicalDevices(instance, &n, devices);
    if (res != VK_SUCCESS && res != VK_INCOMPLETE)
        return sq_fail_vk(res, "vkEnumeratePhysicalDevices");
    *count = n;
    return SPARQ_SUCCESS;
}

static sparq_device_type map_type(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return SPARQ_DEVICE_TYPE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return SPARQ_DEVICE_TYPE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return SPARQ_DEVICE_TYPE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return SPARQ_DEVICE_TYPE_CPU;
    default: return SPARQ_DEVICE_TYPE_OTHER;
    }
}

static bool has_compute_queue(VkPhysicalDevice pd)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties props[16];
    if (n > 16)
        n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, props);
    for (uint32_t i = 0; i < n; i++)
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            return true;
    return false;
}

void sq_describe_device(VkPhysicalDevice pd, uint32_t index, sparq_device_info *out)
{
    sparq_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.index = index;

    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(pd, &base);
    VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES, .pNext = &driver};
    VkPhysicalDeviceSubgroupProperties subgroup = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                                   .pNext = &id};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &subgroup};
    bool v12 = base.apiVersion >= VK_API_VERSION_1_2;
    if (v12)
        vkGetPhysicalDeviceProperties2(pd, &props);

    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    if (v12)
        vkGetPhysicalDeviceFeatures2(pd, &features);
    else
        vkGetPhysicalDeviceFeatures(pd, &features.features);

    snprintf(info.name, sizeof info.name, "%s", base.deviceName);
    snprintf(info.driver_name, sizeof info.driver_name, "%s", v12 ? driver.driverName : "");
    snprintf(info.driver_info, sizeof info.driver_info, "%s", v12 ? driver.driverInfo : "");
    if (v12)
        memcpy(info.uuid, id.deviceUUID, sizeof info.uuid);
    info.vendor_id = base.vendorID;
    info.device_id = base.deviceID;
    info.driver_version = base.driverVersion;
    info.api_version = base.apiVersion;
    info.type = map_type(base.deviceType);
    info.subgroup_size = v12 ? subgroup.subgroupSize : 0;
    info.max_shared_memory = base.limits.maxComputeSharedMemorySize;
    info.has_float16 = f12.shaderFloat16 ? 1u : 0u;
    info.has_storage16 = f11.storageBuffer16BitAccess ? 1u : 0u;
    info.max_storage_buffer_range = base.limits.maxStorageBufferRange;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            mem.memoryHeaps[i].size > info.device_local_bytes)
            info.device_local_bytes = mem.memoryHeaps[i].size;

    const VkSubgroupFeatureFlags need_ops = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT |
                                            VK_SUBGROUP_FEATURE_BALLOT_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
    const char *why = NULL;
    if (!v12)
        why = "Vulkan 1.2 is required";
    else if (!f12.bufferDeviceAddress)
        why = "bufferDeviceAddress is required";
    else if (!features.features.shaderInt64)
        why = "shaderInt64 is required";
    else if (!(subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
             (subgroup.supportedOperations & need_ops) != need_ops)
        why = "subgroup basic, arithmetic, ballot and shuffle operations in compute shaders are required";
    else if (subgroup.subgroupSize < 4)
        why = "subgroups of at least 4 invocations are required";
    else if (base.limits.maxComputeWorkGroupInvocations < 256 || base.limits.maxComputeWorkGroupSize[0] < 256)
        why = "workgroups of 256 invocations are required";
    else if (base.limits.maxComputeSharedMemorySize < 16384)
        why = "16 KiB of shared memory is required";
    else if (!has_compute_queue(pd))
        why = "a compute queue is required";
    info.usable = why == NULL;
    snprintf(info.unusable_reason, sizeof info.unusable_reason, "%s", why ? why : "");

    /* Write only what the caller's struct holds. */
    size_t size = out->struct_size < sizeof info ? out->struct_size : sizeof info;
    uint32_t caller_size = out->struct_size;
    memcpy(out, &info, size);
    out->struct_size = caller_size;
}

int sq_default_device(const sparq_device_info *infos, uint32_t count)
{
    static const sparq_device_type order[] = {SPARQ_DEVICE_TYPE_DISCRETE_GPU, SPARQ_DEVICE_TYPE_INTEGRATED_GPU,
                                              SPARQ_DEVICE_TYPE_VIRTUAL_GPU, SPARQ_DEVICE_TYPE_OTHER,
                                              SPARQ_DEVICE_TYPE_CPU};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
        for (uint32_t i = 0; i < count; i++)
            if (infos[i].usable && infos[i].type == order[o])
                return (int)i;
    return -1;
}

/* Parses 32 hex digits (dashes ignored) into a UUID. */
static bool parse_uuid(const char *s, uint8_t uuid[16])
{
    int nibbles = 0;
    for (; *s; s++) {
        if (*s == '-')
            continue;
        if (!isxdigit((unsigned char)*s) || nibbles >= 32)
            return false;
        int v = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
        if (nibbles % 2 == 0)
            uuid[nibbles / 2] = (uint8_t)(v << 4);
        else
            uuid[nibbles / 2] |= (uint8_t)v;
        nibbles++;
    }
    return nibbles == 32;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

sparq_status sq_select_device(VkInstance instance, const char *selector, VkPhysicalDevice *device,
                              sparq_device_info *info)
{
    VkPhysicalDevice devices[SQ_MAX_DEVICES];
    uint32_t n = 0;
    sparq_status st = sq_list_devices(instance, devices, SQ_MAX_DEVICES, &n);
    if (st != SPARQ_SUCCESS)
        return st;
    if (n == 0)
        return sq_fail(SPARQ_ERROR_NO_DEVICE, "no Vulkan physical device found");
    sparq_device_info *list = calloc(n, sizeof *list);
    if (!list)
        return sq_fail(SPARQ_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n; i++) {
        list[i].struct_size = sizeof list[i];
        sq_describe_device(devices[i], i, &list[i]);
    }

    const char *sel = selector && *selector ? selector : getenv("SPARQ_DEVICE");
    int pick = -1;
    uint8_t uuid[16];
    if (!sel || !*sel) {
        pick = sq_default_device(list, n);
        if (pick < 0) {
            st = sq_fail(SPARQ_ERROR_NO_DEVICE, "no usable Vulkan device: %s (%s)", list[0].name,
                         list[0].unusable_reason);
            goto out;
        }
    } else if (strspn(sel, "0123456789") == strlen(sel) && strlen(sel) < 10) {
        unsigned long idx = strtoul(sel, NULL, 10);
        if (idx >= n) {
            st = sq_fail(SPARQ_ERROR_NO_DEVICE, "device index %lu is out of range: %u device(s)", idx, n);
            goto out;
        }
        pick = (int)idx;
    } else if (parse_uuid(sel, uuid)) {
        for (uint32_t i = 0; i < n && pick < 0; i++)
            if (memcmp(list[i].uuid, uuid, 16) == 0)
                pick = (int)i;
        if (pick < 0) {
            st = sq_fail(SPARQ_ERROR_NO_DEVICE, "no device has UUID %s", sel);
            goto out;
        }
    } else {
        for (uint32_t i = 0; i < n && pick < 0; i++)
            if (contains_nocase(list[i].name, sel))
                pick = (int)i;
        if (pick < 0) {
            st = sq_fail(SPARQ_ERROR_NO_DEVICE, "no device name contains \"%s\"", sel);
            goto out;
        }
    }
    if (!list[pick].usable) {
        st = sq_fail(SPARQ_ERROR_NO_DEVICE, "device %d (%s) cannot run sparq-vk: %s", pick, list[pick].name,
                     list[pick].unusable_reason);
        goto out;
    }
    list[pick].is_default = sq_default_device(list, n) == pick;
    *device = devices[pick];
    *info = list[pick];
out:
    free(list);
    return st;
}
