/*
 * Recorded and submitted calls (ABI 1.1, sparq_vulkan.h): the append and
 * attend of sq_cache.c / sq_attend.c written into the host's command buffer
 * (record) or into the plugin's per-frame command buffer submitted with the
 * host's timeline semaphores (submit). Both use the frame's scratch, never
 * the scratch of blocking calls, so blocking calls may run between them.
 * Arguments are checked by the plugin layer.
 */
#ifndef SQ_RECORD_H
#define SQ_RECORD_H

#include "sq_cache.h"

#include <sparq/sparq_vulkan.h>

/* Recorded appends are one dispatch; longer prefills go through cache_append. */
#define SQ_RECORD_MAX_TOKENS 4096u

/* Record into `cmd`; lengths advance on success. */
sparq_status sq_record_append(sparq_cache *cache, const sq_append_params *p, VkCommandBuffer cmd, uint32_t frame);
sparq_status sq_record_attend(sparq_cache *cache, const sq_attend_params *p, VkCommandBuffer cmd, uint32_t frame);

/* Record into the frame's own command buffer and submit with `sub`'s
 * semaphores; does not wait. */
sparq_status sq_submit_append(sparq_cache *cache, const sq_append_params *p, const sparq_vulkan_submit *sub);
sparq_status sq_submit_attend(sparq_cache *cache, const sq_attend_params *p, const sparq_vulkan_submit *sub);

#endif
