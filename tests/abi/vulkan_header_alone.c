/*
 * sparq_vulkan.h must compile on its own as strict C11 (first and only
 * include, -std=c11 -Wall -Wextra -pedantic -Werror), without Vulkan
 * headers. Running it checks that the macros behave.
 */
#include <sparq/sparq_vulkan.h>

static sparq_vk_void_function stub_get_instance_proc_addr(void *instance, const char *name)
{
    (void)instance;
    (void)name;
    return 0;
}

int main(void)
{
    int buffer_object = 0;
    sparq_vulkan_import imp = {.struct_size = sizeof(sparq_vulkan_import),
                               .api_version = SPARQ_VK_API_VERSION(1, 3),
                               .features = SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS | SPARQ_VK_FEATURE_SHADER_INT64,
                               .get_instance_proc_addr = stub_get_instance_proc_addr};
    sparq_vulkan_record rec = {.struct_size = sizeof(sparq_vulkan_record), .frame = 1};
    sparq_vulkan_submit sub = {.struct_size = sizeof(sparq_vulkan_submit)};
    sparq_attend_desc at = {.struct_size = sizeof(sparq_attend_desc)};
    at.out_device.buffer = SPARQ_VK_HANDLE(&buffer_object);
    at.out_device.size = 64;
    int ok = imp.api_version == ((1u << 22) | (3u << 12)) && rec.frame == 1 && sub.wait_count == 0 &&
             at.out_device.buffer != 0 && imp.get_instance_proc_addr(0, "vkCreateDevice") == 0;
    return ok ? 0 : 1;
}
