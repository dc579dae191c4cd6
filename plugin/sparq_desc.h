/*
 * Reading the host's versioned structs: a struct is accepted when its
 * struct_size is at least the size of its first field and at most a sane
 * bound; the plugin copies the bytes the host's size covers into its own
 * zeroed struct, so fields an older host does not know read as 0 (default).
 */
#ifndef SPARQ_DESC_H
#define SPARQ_DESC_H

#include <sparq/sparq.h>
#include <stdbool.h>
#include <stddef.h>

#define SPARQ_DESC_MAX_SIZE 65536u

/* Copies the caller's struct into `dst` (dst_size bytes, zero-filled first).
 * Fails with a message naming `what` if src is NULL or its struct_size is
 * below `min_size` (the size the struct had in ABI 1.0, its first release),
 * between min_size and dst_size (a grown struct cut inside a field) or
 * absurdly large. */
sparq_status sparq_copy_desc(const void *src, void *dst, size_t dst_size, size_t min_size, const char *what);

/* Copies a struct the host passes, given its 1.0 size = sizeof in this build. */
#define SPARQ_COPY_DESC(src, dst, what) sparq_copy_desc((src), (dst), sizeof *(dst), sizeof *(dst), (what))
/* For structs that grew in ABI 1.1: accepts the 1.0 size exactly or at
 * least this build's size. */
#define SPARQ_COPY_DESC_GROWN(src, dst, size_1_0, what) \
    sparq_copy_desc((src), (dst), sizeof *(dst), (size_1_0), (what))

/* The sizes of structs as released in ABI 1.0, before they grew. */
#define SPARQ_CACHE_DESC_SIZE_1_0 24u
#define SPARQ_APPEND_DESC_SIZE_1_0 40u
#define SPARQ_ATTEND_DESC_SIZE_1_0 104u

/* Checks an output struct's struct_size against its ABI 1.0 size. */
sparq_status sparq_check_out(const void *out, size_t min_size, const char *what);

/* Status for a missing required pointer. */
sparq_status sparq_require(const void *ptr, const char *function, const char *name);

#endif
