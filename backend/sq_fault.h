/*
 * Fault injection for tests, read from the environment (documented in
 * docs/RELIABILITY.md, deliberately not in the public header):
 *
 *   SPARQ_DEBUG_FAIL_ALLOCATION_AFTER=N[,M]
 *       Of the backend's allocations (host blocks it mallocs, device
 *       buffers, command pools and buffers, pipelines), the first N counted
 *       after the variable took its value succeed, the next M fail (M absent:
 *       all later ones), then they succeed again. A failed device allocation
 *       reports VK_ERROR_OUT_OF_DEVICE_MEMORY, a failed host one
 *       VK_ERROR_OUT_OF_HOST_MEMORY, as a driver or libc would.
 *   SPARQ_DEBUG_LOSE_DEVICE_AFTER=N
 *       The first N queue submissions counted after the variable took its
 *       value run; every later one behaves as if vkQueueSubmit returned
 *       VK_ERROR_DEVICE_LOST (nothing is submitted).
 *   SPARQ_DEBUG_FENCE_TIMEOUT_MS=N
 *       A blocking call waits N ms for its submission instead of 120 s
 *       (30 min on a CPU driver), so a test can meet the timeout (a hung
 *       device) with work that is merely slow: the call reports a lost
 *       device, and destroying the cache and context must wait for the
 *       work still running.
 *
 * Counting is process-wide and restarts whenever the value changes or the
 * variable is unset, so a test can set a value, make one call and unset it.
 * With the variables unset each check is one getenv (tens of nanoseconds):
 * two or three per append or attend, against microseconds of Vulkan work.
 */
#ifndef SQ_FAULT_H
#define SQ_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the allocation about to be made must fail. */
bool sq_fault_allocation(void);
/* True when the submission about to be made must act as a lost device. */
bool sq_fault_device_lost(void);
/* How long a blocking call waits for its submission: `normal` unless
 * SPARQ_DEBUG_FENCE_TIMEOUT_MS says otherwise. */
uint64_t sq_fault_fence_timeout_ns(uint64_t normal);

/* calloc and realloc that honour SPARQ_DEBUG_FAIL_ALLOCATION_AFTER. */
void *sq_calloc(size_t count, size_t size);
void *sq_realloc(void *block, size_t size);

#endif
