/* The table entries other than the plugin-wide ones in sparq_entry.c. */
#ifndef SPARQ_API_IMPL_H
#define SPARQ_API_IMPL_H

#include "sparq_desc.h"

#include <sparq/sparq.h>

sparq_status sparq_api_context_create(const sparq_context_desc *desc, sparq_context **context);
sparq_status sparq_api_context_destroy(sparq_context *context);
sparq_status sparq_api_context_get_device_info(sparq_context *context, sparq_device_info *info);
sparq_status sparq_api_measure_read_bandwidth(sparq_context *context, uint64_t bytes, uint32_t iterations,
                                              double *bytes_per_second);

sparq_status sparq_api_cache_create(sparq_context *context, const sparq_cache_desc *desc, sparq_cache **cache);
sparq_status sparq_api_cache_destroy(sparq_cache *cache);
sparq_status sparq_api_cache_append(sparq_cache *cache, const sparq_append_desc *desc);
sparq_status sparq_api_cache_truncate(sparq_cache *cache, uint32_t slot, uint32_t length);
sparq_status sparq_api_cache_reset(sparq_cache *cache, uint32_t slot);
sparq_status sparq_api_cache_get_lengths(sparq_cache *cache, uint32_t first, uint32_t count, uint32_t *lengths);
sparq_status sparq_api_cache_read(sparq_cache *cache, const sparq_read_desc *desc);

sparq_status sparq_api_attend(sparq_cache *cache, const sparq_attend_desc *desc);

/* ABI 1.1: sparq_api_vulkan.c */
sparq_status sparq_api_record_append(sparq_cache *cache, const sparq_append_desc *desc,
                                     const struct sparq_vulkan_record *record);
sparq_status sparq_api_record_attend(sparq_cache *cache, const sparq_attend_desc *desc,
                                     const struct sparq_vulkan_record *record);
sparq_status sparq_api_submit_append(sparq_cache *cache, const sparq_append_desc *desc,
                                     const struct sparq_vulkan_submit *submit);
sparq_status sparq_api_submit_attend(sparq_cache *cache, const sparq_attend_desc *desc,
                                     const struct sparq_vulkan_submit *submit);

/* Complete argument checks shared by the blocking, recorded and submitted
 * forms (the backend types come from sq_cache.h). `fn` names the call in
 * messages; `recorded` requires out_device and refuses selected, alpha and
 * stats. */
struct sq_append_params;
struct sq_attend_params;
sparq_status sparq_check_append(sparq_cache *cache, const sparq_append_desc *desc, const char *fn,
                                struct sq_append_params *p);
sparq_status sparq_check_attend(sparq_cache *cache, const sparq_attend_desc *desc, const char *fn, bool recorded,
                                struct sq_attend_params *p);

#endif
