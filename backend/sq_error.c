#include "sq_error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[1024];

void sq_clear_error(void)
{
    last_message[0] = '\0';
}

const char *sq_last_error(void)
{
    return last_message;
}

sparq_status sq_fail(sparq_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

const char *sq_vk_result_name(VkResult result)
{
    switch (result) {
#define NAME(r) case r: return #r
        NAME(VK_SUCCESS);
        NAME(VK_NOT_READY);
        NAME(VK_TIMEOUT);
        NAME(VK_INCOMPLETE);
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY);
        NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY);
        NAME(VK_ERROR_INITIALIZATION_FAILED);
        NAME(VK_ERROR_DEVICE_LOST);
        NAME(VK_ERROR_MEMORY_MAP_FAILED);
        NAME(VK_ERROR_LAYER_NOT_PRESENT);
        NAME(VK_ERROR_EXTENSION_NOT_PRESENT);
        NAME(VK_ERROR_FEATURE_NOT_PRESENT);
        NAME(VK_ERROR_INCOMPATIBLE_DRIVER);
        NAME(VK_ERROR_TOO_MANY_OBJECTS);
        NAME(VK_ERROR_FORMAT_NOT_SUPPORTED);
        NAME(VK_ERROR_FRAGMENTED_POOL);
        NAME(VK_ERROR_OUT_OF_POOL_MEMORY);
        NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE);
        NAME(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS);
#undef NAME
    default:
        return "VkResult(unknown)";
    }
}

sparq_status sq_fail_vk(VkResult result, const char *what)
{
    sparq_status status;
    switch (result) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        status = SPARQ_ERROR_OUT_OF_HOST_MEMORY;
        break;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_TOO_MANY_OBJECTS:
        status = SPARQ_ERROR_OUT_OF_DEVICE_MEMORY;
        break;
    case VK_ERROR_DEVICE_LOST:
        status = SPARQ_ERROR_DEVICE_LOST;
        break;
    default:
        status = SPARQ_ERROR_VULKAN;
        break;
    }
    return sq_fail(status, "%s failed: %s (%d)", what, sq_vk_result_name(result), (int)result);
}
