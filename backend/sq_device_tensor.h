/*
 * Tensors in the host's VkBuffers (sparq_device_tensor, ABI 1.1): the checks
 * Vulkan allows before anything is recorded, and the device address the
 * kernels use. What Vulkan cannot tell the plugin (a buffer's usage flags,
 * its exact size, whether memory is bound) is the host's promise; the
 * validation layers report a broken one.
 */
#ifndef SQ_DEVICE_TENSOR_H
#define SQ_DEVICE_TENSOR_H

#include "sq_context.h"

#include <sparq/sparq.h>
#include <stdbool.h>
#include <volk.h>

typedef struct sq_tensor_ref {
    VkBuffer buffer;         /* VK_NULL_HANDLE: the tensor is in host memory */
    VkDeviceSize offset;     /* bytes into buffer */
    VkDeviceAddress address; /* of the first element */
} sq_tensor_ref;

static inline bool sq_tensor_is_device(const sq_tensor_ref *t)
{
    return t->buffer != VK_NULL_HANDLE;
}

/* For a call (named `fn`) that accesses `needed` bytes of tensor `name`:
 * SPARQ_ERROR_INVALID_ARGUMENT with a message unless the context is
 * imported, the offset is aligned, the stated size covers `needed` and the
 * range lies inside the buffer's memory requirements. Fills *ref. */
sparq_status sq_device_tensor_resolve(sparq_context *ctx, const sparq_device_tensor *tensor, VkDeviceSize needed,
                                      const char *fn, const char *name, sq_tensor_ref *ref);

#endif
