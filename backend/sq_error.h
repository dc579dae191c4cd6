/*
 * Status and message of the last failed call, per thread. Every public call
 * clears it on entry; whatever fails sets it with sq_fail() and returns the
 * status, so api->last_error() always explains the latest failure on the
 * calling thread.
 */
#ifndef SQ_ERROR_H
#define SQ_ERROR_H

#include <sparq/sparq.h>
#include <volk.h>

void sq_clear_error(void);
const char *sq_last_error(void);

/* Records a formatted message and returns `status`. */
sparq_status sq_fail(sparq_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps a failed VkResult to a status, recording "<what>: VK_ERROR_...". */
sparq_status sq_fail_vk(VkResult result, const char *what);

const char *sq_vk_result_name(VkResult result);

/* Evaluates a Vulkan call; on failure records it and returns the status. */
#define SQ_VK_TRY(call)                                   \
    do {                                                  \
        VkResult sq_vk_result_ = (call);                  \
        if (sq_vk_result_ != VK_SUCCESS)                  \
            return sq_fail_vk(sq_vk_result_, #call);      \
    } while (0)

#endif
