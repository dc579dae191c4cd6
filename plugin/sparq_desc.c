#include "sparq_desc.h"

#include "sq_error.h"

#include <string.h>

sparq_status sparq_copy_desc(const void *src, void *dst, size_t dst_size, size_t min_size, const char *what)
{
    memset(dst, 0, dst_size);
    if (!src)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s is NULL", what);
    uint32_t size;
    memcpy(&size, src, sizeof size);
    /* A released size, or at least this build's: anything between two
     * released sizes would cut a field in two. */
    if ((size != min_size && size < dst_size) || size < min_size || size > SPARQ_DESC_MAX_SIZE)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s.struct_size is %u: set it to sizeof(%s)", what, size, what);
    memcpy(dst, src, size < dst_size ? size : dst_size);
    return SPARQ_SUCCESS;
}

sparq_status sparq_check_out(const void *out, size_t min_size, const char *what)
{
    if (!out)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "the %s output pointer is NULL", what);
    uint32_t size;
    memcpy(&size, out, sizeof size);
    if (size < min_size || size > SPARQ_DESC_MAX_SIZE)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s.struct_size is %u: set it to sizeof(%s)", what, size, what);
    return SPARQ_SUCCESS;
}

sparq_status sparq_require(const void *ptr, const char *function, const char *name)
{
    if (ptr)
        return SPARQ_SUCCESS;
    return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", function, name);
}
