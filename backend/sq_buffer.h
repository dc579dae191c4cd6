/*
 * Buffers with their own memory and a device address. Kernels reach memory
 * only through addresses (see shaders/common.glsl), so a buffer may be larger
 * than maxStorageBufferRange: the limit applies to descriptors, not to
 * addresses. The allocation limit (maxMemoryAllocationSize) still applies and
 * is reported clearly.
 */
#ifndef SQ_BUFFER_H
#define SQ_BUFFER_H

#include <sparq/sparq.h>
#include <stdbool.h>
#include <volk.h>

typedef enum sq_memory_kind {
    SQ_MEMORY_DEVICE,   /* device-local, not mapped */
    SQ_MEMORY_UPLOAD,   /* host-visible, coherent, mapped: host writes, device reads */
    SQ_MEMORY_READBACK, /* host-visible, mapped, cached if possible: device writes, host reads */
} sq_memory_kind;

typedef struct sq_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    VkDeviceAddress address;
    void *map;     /* NULL for SQ_MEMORY_DEVICE */
    bool coherent; /* false: invalidate before host reads */
} sq_buffer;

struct sparq_context;

sparq_status sq_buffer_create(struct sparq_context *ctx, VkDeviceSize size, sq_memory_kind kind, sq_buffer *out);
void sq_buffer_destroy(struct sparq_context *ctx, sq_buffer *buffer);

/* Makes device writes visible to the host for a non-coherent mapping. */
void sq_buffer_invalidate(struct sparq_context *ctx, const sq_buffer *buffer);

/* Grows `buffer` to at least `size` (contents are not kept). */
sparq_status sq_buffer_reserve(struct sparq_context *ctx, sq_buffer *buffer, VkDeviceSize size, sq_memory_kind kind);

#endif
