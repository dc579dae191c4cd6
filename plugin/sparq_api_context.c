#include "sparq_api_impl.h"
#include "sq_cache.h"
#include "sq_context.h"
#include "sq_error.h"

#include <string.h>

sparq_status sparq_api_context_create(const sparq_context_desc *user_desc, sparq_context **context)
{
    sq_clear_error();
    sparq_context_desc desc;
    sparq_status st = sparq_require(context, "context_create", "context");
    if (st != SPARQ_SUCCESS)
        return st;
    *context = NULL;
    if ((st = SPARQ_COPY_DESC(user_desc, &desc, "sparq_context_desc")) != SPARQ_SUCCESS)
        return st;
    if (desc.flags & ~SPARQ_CONTEXT_ENABLE_VALIDATION)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "context_create: unknown flags 0x%x",
                       desc.flags & ~SPARQ_CONTEXT_ENABLE_VALIDATION);
    if (desc.vulkan_import)
        return sq_context_import(&desc, context);
    return sq_context_create(&desc, context);
}

sparq_status sparq_api_context_destroy(sparq_context *context)
{
    sq_clear_error();
    return sq_context_destroy(context);
}

sparq_status sparq_api_context_get_device_info(sparq_context *context, sparq_device_info *info)
{
    sq_clear_error();
    sparq_status st = sparq_require(context, "context_get_device_info", "context");
    if (st != SPARQ_SUCCESS || (st = sparq_check_out(info, sizeof(sparq_device_info), "sparq_device_info")) != SPARQ_SUCCESS)
        return st;
    uint32_t size = info->struct_size;
    memcpy(info, &context->info, size < sizeof context->info ? size : sizeof context->info);
    info->struct_size = size;
    return SPARQ_SUCCESS;
}

sparq_status sparq_api_measure_read_bandwidth(sparq_context *context, uint64_t bytes, uint32_t iterations,
                                              double *bytes_per_second)
{
    sq_clear_error();
    sparq_status st = sparq_require(context, "measure_read_bandwidth", "context");
    if (st != SPARQ_SUCCESS ||
        (st = sparq_require(bytes_per_second, "measure_read_bandwidth", "bytes_per_second")) != SPARQ_SUCCESS)
        return st;
    if (iterations > 100000)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "measure_read_bandwidth: %u iterations is too many", iterations);
    return sq_measure_read_bandwidth(context, bytes, iterations, bytes_per_second);
}
