#include "sq_device_tensor.h"

#include "sq_error.h"

#include <string.h>

sparq_status sq_device_tensor_resolve(sparq_context *ctx, const sparq_device_tensor *t, VkDeviceSize needed,
                                      const char *fn, const char *name, sq_tensor_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    if (!ctx->imported)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: %s is a device tensor, but this context owns its device: device tensors need a context "
                       "created with sparq_context_desc.vulkan_import",
                       fn, name);
    if (t->offset % SPARQ_DEVICE_TENSOR_ALIGNMENT != 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s.offset %llu is not a multiple of %u", fn, name,
                       (unsigned long long)t->offset, SPARQ_DEVICE_TENSOR_ALIGNMENT);
    if (t->size < needed)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s.size is %llu bytes; the call accesses %llu", fn, name,
                       (unsigned long long)t->size, (unsigned long long)needed);
    if (t->offset + t->size < t->offset)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s.offset + size overflows", fn, name);
    VkBuffer buffer = (VkBuffer)(uintptr_t)t->buffer;
    /* The memory requirement is at least the buffer's size (often a little
     * more, for alignment): a range past it is certainly past the end. */
    VkMemoryRequirements req;
    ctx->vk.vkGetBufferMemoryRequirements(ctx->device, buffer, &req);
    if (t->offset + t->size > req.size)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: %s.offset + size = %llu bytes passes the end of the buffer (%llu bytes)", fn, name,
                       (unsigned long long)(t->offset + t->size), (unsigned long long)req.size);
    VkBufferDeviceAddressInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = buffer};
    VkDeviceAddress base = ctx->vk.vkGetBufferDeviceAddress(ctx->device, &info);
    if (base == 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: %s has no device address: create it with VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT and bind "
                       "memory allocated with VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT",
                       fn, name);
    ref->buffer = buffer;
    ref->offset = t->offset;
    ref->address = base + t->offset;
    return SPARQ_SUCCESS;
}
