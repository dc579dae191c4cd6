/*
 * ABI 1.1 entries for hosts that bring their own Vulkan device: recorded and
 * submitted appends and attends. The tensor and parameter checks are those
 * of the blocking calls (sparq_check_append / sparq_check_attend); here are
 * the checks of the record / submit structs and of the context.
 */
#include "sparq_api_impl.h"
#include "sq_cache.h"
#include "sq_error.h"
#include "sq_record.h"

#include <sparq/sparq_vulkan.h>
#include <string.h>

static sparq_status check_imported(const sparq_cache *c, const char *fn)
{
    if (!c->ctx->imported)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: the cache's context owns its device; recorded and submitted calls need a context created "
                       "with sparq_context_desc.vulkan_import",
                       fn);
    return SPARQ_SUCCESS;
}

static sparq_status check_frame(const sparq_cache *c, uint32_t frame, const char *fn)
{
    if (frame >= c->n_frames)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: frame %u is out of range (the cache has %u frames_in_flight)",
                       fn, frame, c->n_frames);
    return SPARQ_SUCCESS;
}

static sparq_status check_record(sparq_cache *c, const sparq_vulkan_record *user, const char *fn,
                                 sparq_vulkan_record *r)
{
    sparq_status st = sparq_require(c, fn, "cache");
    if (st != SPARQ_SUCCESS || (st = check_imported(c, fn)) != SPARQ_SUCCESS ||
        (st = SPARQ_COPY_DESC(user, r, "sparq_vulkan_record")) != SPARQ_SUCCESS ||
        (st = sparq_require(r->command_buffer, fn, "record->command_buffer")) != SPARQ_SUCCESS)
        return st;
    return check_frame(c, r->frame, fn);
}

static sparq_status check_semaphores(uint32_t count, const uint64_t *semaphores, const uint64_t *values,
                                     const char *fn, const char *what)
{
    if (count > SPARQ_VK_MAX_SEMAPHORES)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %u %s semaphores; at most %u", fn, count, what,
                       SPARQ_VK_MAX_SEMAPHORES);
    if (count > 0 && (!semaphores || !values))
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s_semaphores and %s_values are required with a %s_count of %u",
                       fn, what, what, what, count);
    for (uint32_t i = 0; i < count; i++)
        if (semaphores[i] == 0)
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s_semaphores[%u] is VK_NULL_HANDLE", fn, what, i);
    return SPARQ_SUCCESS;
}

static sparq_status check_submit(sparq_cache *c, const sparq_vulkan_submit *user, const char *fn,
                                 sparq_vulkan_submit *s)
{
    sparq_status st = sparq_require(c, fn, "cache");
    if (st != SPARQ_SUCCESS || (st = check_imported(c, fn)) != SPARQ_SUCCESS ||
        (st = SPARQ_COPY_DESC(user, s, "sparq_vulkan_submit")) != SPARQ_SUCCESS ||
        (st = check_frame(c, s->frame, fn)) != SPARQ_SUCCESS ||
        (st = check_semaphores(s->wait_count, s->wait_semaphores, s->wait_values, fn, "wait")) != SPARQ_SUCCESS ||
        (st = check_semaphores(s->signal_count, s->signal_semaphores, s->signal_values, fn, "signal")) != SPARQ_SUCCESS)
        return st;
    if (c->ctx->queue == VK_NULL_HANDLE)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "%s: the context was imported without a queue (sparq_vulkan_import.queue), so the plugin cannot "
                       "submit; use record_* or import a queue",
                       fn);
    if ((s->wait_count || s->signal_count) && !(c->ctx->import_features & SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE))
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                       "%s: timeline semaphores need the timelineSemaphore feature: enable it at vkCreateDevice and set "
                       "SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE in sparq_vulkan_import.features",
                       fn);
    return SPARQ_SUCCESS;
}

static sparq_status check_record_append(sparq_cache *c, const sparq_append_desc *desc, const char *fn,
                                        sq_append_params *p)
{
    sparq_status st = sparq_check_append(c, desc, fn, p);
    if (st == SPARQ_SUCCESS && p->n_tokens > SQ_RECORD_MAX_TOKENS)
        st = sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %u tokens; at most %u per recorded or submitted append", fn,
                     p->n_tokens, SQ_RECORD_MAX_TOKENS);
    return st;
}

sparq_status sparq_api_record_append(sparq_cache *c, const sparq_append_desc *desc,
                                     const struct sparq_vulkan_record *record)
{
    sq_clear_error();
    static const char fn[] = "record_append";
    sparq_vulkan_record r;
    sq_append_params p;
    sparq_status st = check_record(c, record, fn, &r);
    if (st != SPARQ_SUCCESS || (st = check_record_append(c, desc, fn, &p)) != SPARQ_SUCCESS)
        return st;
    return sq_record_append(c, &p, (VkCommandBuffer)r.command_buffer, r.frame);
}

sparq_status sparq_api_record_attend(sparq_cache *c, const sparq_attend_desc *desc,
                                     const struct sparq_vulkan_record *record)
{
    sq_clear_error();
    static const char fn[] = "record_attend";
    sparq_vulkan_record r;
    sq_attend_params p;
    sparq_status st = check_record(c, record, fn, &r);
    if (st != SPARQ_SUCCESS || (st = sparq_check_attend(c, desc, fn, true, &p)) != SPARQ_SUCCESS)
        return st;
    return sq_record_attend(c, &p, (VkCommandBuffer)r.command_buffer, r.frame);
}

sparq_status sparq_api_submit_append(sparq_cache *c, const sparq_append_desc *desc,
                                     const struct sparq_vulkan_submit *submit)
{
    sq_clear_error();
    static const char fn[] = "submit_append";
    sparq_vulkan_submit s;
    sq_append_params p;
    sparq_status st = check_submit(c, submit, fn, &s);
    if (st != SPARQ_SUCCESS || (st = check_record_append(c, desc, fn, &p)) != SPARQ_SUCCESS)
        return st;
    return sq_submit_append(c, &p, &s);
}

sparq_status sparq_api_submit_attend(sparq_cache *c, const sparq_attend_desc *desc,
                                     const struct sparq_vulkan_submit *submit)
{
    sq_clear_error();
    static const char fn[] = "submit_attend";
    sparq_vulkan_submit s;
    sq_attend_params p;
    sparq_status st = check_submit(c, submit, fn, &s);
    if (st != SPARQ_SUCCESS || (st = sparq_check_attend(c, desc, fn, true, &p)) != SPARQ_SUCCESS)
        return st;
    return sq_submit_attend(c, &p, &s);
}
