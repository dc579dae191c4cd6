#include "sq_buffer.h"

#include "sq_context.h"
#include "sq_error.h"
#include "sq_fault.h"

#include <string.h>

/* The first memory type allowed by `bits` that has all `required` flags,
 * preferring one that also has `preferred` and none of `avoided`. */
static int pick_memory_type(const VkPhysicalDeviceMemoryProperties *mem, uint32_t bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoided)
{
    int fallback = -1;
    for (uint32_t i = 0; i < mem->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mem->memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & required) != required)
            continue;
        if ((f & preferred) == preferred && !(f & avoided))
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

sparq_status sq_buffer_create(sparq_context *ctx, VkDeviceSize size, sq_memory_kind kind, sq_buffer *out)
{
    memset(out, 0, sizeof *out);
    if (size == 0)
        size = 16;
    if (size > ctx->max_allocation)
        return sq_fail(SPARQ_ERROR_OUT_OF_DEVICE_MEMORY,
                       "a buffer of %llu bytes exceeds this device's largest allocation (%llu bytes)",
                       (unsigned long long)size, (unsigned long long)ctx->max_allocation);
    if (sq_fault_allocation())
        return sq_fail(SPARQ_ERROR_OUT_OF_DEVICE_MEMORY,
                       "could not allocate %llu bytes of %s memory: VK_ERROR_OUT_OF_DEVICE_MEMORY (injected by "
                       "SPARQ_DEBUG_FAIL_ALLOCATION_AFTER)",
                       (unsigned long long)size, kind == SQ_MEMORY_DEVICE ? "device" : "host-visible");
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult res = ctx->vk.vkCreateBuffer(ctx->device, &info, NULL, &out->buffer);
    if (res != VK_SUCCESS)
        return sq_fail_vk(res, "vkCreateBuffer");
    VkMemoryRequirements req;
    ctx->vk.vkGetBufferMemoryRequirements(ctx->device, out->buffer, &req);

    VkMemoryPropertyFlags required = 0, preferred = 0, avoided = 0;
    switch (kind) {
    case SQ_MEMORY_DEVICE:
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        avoided = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT; /* keep host-visible device memory for uploads */
        break;
    case SQ_MEMORY_UPLOAD:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    case SQ_MEMORY_READBACK:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    }
    int type = pick_memory_type(&ctx->memory, req.memoryTypeBits, required, preferred, avoided);
    if (type < 0) {
        sq_buffer_destroy(ctx, out);
        return sq_fail(SPARQ_ERROR_VULKAN, "no memory type fits a buffer of kind %d", (int)kind);
    }
    VkMemoryAllocateFlagsInfo flags = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
        .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT,
    };
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .pNext = &flags,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    res = ctx->vk.vkAllocateMemory(ctx->device, &alloc, NULL, &out->memory);
    if (res != VK_SUCCESS) {
        sq_buffer_destroy(ctx, out);
        sparq_status st = sq_fail_vk(res, "vkAllocateMemory");
        return sq_fail(st, "could not allocate %llu bytes of %s memory: %s", (unsigned long long)req.size,
                       kind == SQ_MEMORY_DEVICE ? "device" : "host-visible", sq_vk_result_name(res));
    }
    res = ctx->vk.vkBindBufferMemory(ctx->device, out->buffer, out->memory, 0);
    if (res == VK_SUCCESS && kind != SQ_MEMORY_DEVICE)
        res = ctx->vk.vkMapMemory(ctx->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->map);
    if (res != VK_SUCCESS) {
        sq_buffer_destroy(ctx, out);
        return sq_fail_vk(res, "vkBindBufferMemory/vkMapMemory");
    }
    VkBufferDeviceAddressInfo addr = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = out->buffer};
    out->address = ctx->vk.vkGetBufferDeviceAddress(ctx->device, &addr);
    out->size = size;
    out->coherent = (ctx->memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
    return SPARQ_SUCCESS;
}

void sq_buffer_destroy(sparq_context *ctx, sq_buffer *b)
{
    if (atomic_load(&ctx->hung)) { /* a submission may still use it: leave it to the driver */
        memset(b, 0, sizeof *b);
        return;
    }
    if (b->buffer != VK_NULL_HANDLE)
        ctx->vk.vkDestroyBuffer(ctx->device, b->buffer, NULL);
    if (b->memory != VK_NULL_HANDLE)
        ctx->vk.vkFreeMemory(ctx->device, b->memory, NULL); /* unmaps implicitly */
    memset(b, 0, sizeof *b);
}

void sq_buffer_invalidate(sparq_context *ctx, const sq_buffer *b)
{
    if (b->map && !b->coherent) {
        VkMappedMemoryRange range = {
            .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->memory, .size = VK_WHOLE_SIZE};
        ctx->vk.vkInvalidateMappedMemoryRanges(ctx->device, 1, &range);
    }
}

sparq_status sq_buffer_reserve(sparq_context *ctx, sq_buffer *b, VkDeviceSize size, sq_memory_kind kind)
{
    if (b->buffer != VK_NULL_HANDLE && b->size >= size)
        return SPARQ_SUCCESS;
    /* Grow by half again so a slowly growing need does not reallocate each call. */
    VkDeviceSize want = size + size / 2;
    if (want > ctx->max_allocation)
        want = size;
    sq_buffer fresh;
    sparq_status st = sq_buffer_create(ctx, want, kind, &fresh);
    if (st != SPARQ_SUCCESS)
        return st; /* the old buffer stays as it was */
    sq_buffer_destroy(ctx, b);
    *b = fresh;
    return SPARQ_SUCCESS;
}
