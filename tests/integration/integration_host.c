#include "integration_host.h"

#include "test_plugin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

sparq_vulkan_import integration_import(const host_vulkan *vk)
{
    return (sparq_vulkan_import){
        .struct_size = sizeof(sparq_vulkan_import),
        .api_version = SPARQ_VK_API_VERSION(1, 2),
        .instance = vk->instance,
        .physical_device = vk->physical_device,
        .device = vk->device,
        .queue = vk->queue,
        .queue_family_index = vk->queue_family,
        .features = SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS | SPARQ_VK_FEATURE_SHADER_INT64 |
                    SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE,
        .get_instance_proc_addr = (sparq_vk_get_instance_proc_addr)(void (*)(void))vkGetInstanceProcAddr,
    };
}

sparq_context *integration_context(const sparq_vulkan_import *import)
{
    const sparq_api *api = test_plugin_api();
    sparq_context_desc desc = {.struct_size = sizeof desc, .vulkan_import = import};
    sparq_context *ctx = NULL;
    if (api->context_create(&desc, &ctx) != SPARQ_SUCCESS)
        fprintf(stderr, "context_create (imported): %s\n", api->last_error());
    return ctx;
}

sparq_device_tensor integration_tensor(const host_buffer *b, VkDeviceSize offset, VkDeviceSize size)
{
    return (sparq_device_tensor){.buffer = SPARQ_VK_HANDLE(b->buffer), .offset = offset, .size = size};
}

void integration_assert_no_validation_errors(const host_vulkan *vk)
{
    assert_int_equal(vk->validation_errors, 0);
    test_plugin_assert_no_validation_errors();
}
