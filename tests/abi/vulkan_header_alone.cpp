/*
 * sparq_vulkan.h must compile on its own as strict C++17 (first and only
 * include, -std=c++17 -Wall -Wextra -pedantic -Werror), without Vulkan
 * headers.
 */
#include <sparq/sparq_vulkan.h>

namespace {

sparq_vk_void_function stub_get_instance_proc_addr(void *instance, const char *name)
{
    static_cast<void>(instance);
    static_cast<void>(name);
    return nullptr;
}

} // namespace

int main()
{
    int buffer_object = 0;
    sparq_vulkan_import imp{};
    imp.struct_size = sizeof(sparq_vulkan_import);
    imp.api_version = SPARQ_VK_API_VERSION(1, 2);
    imp.get_instance_proc_addr = stub_get_instance_proc_addr;
    sparq_vulkan_submit sub{};
    sub.struct_size = sizeof(sparq_vulkan_submit);
    sparq_append_desc ad{};
    ad.k_device.buffer = SPARQ_VK_HANDLE(&buffer_object);
    bool ok = imp.api_version == ((1u << 22) | (2u << 12)) && sub.signal_count == 0 && ad.k_device.buffer != 0 &&
              imp.get_instance_proc_addr(nullptr, "vkCreateDevice") == nullptr;
    return ok ? 0 : 1;
}
