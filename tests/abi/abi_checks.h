/*
 * Assertions shared by the ABI tests: a rejected call must return exactly
 * the documented status and leave a non-empty message in last_error().
 * Include after <cmocka.h>.
 */
#ifndef SPARQ_ABI_CHECKS_H
#define SPARQ_ABI_CHECKS_H

#include <string.h>

#include "test_plugin.h"

/* The message is printed so that the test log shows what a user would read. */
#define ASSERT_REJECTED(call, expected_status)                                                     \
    do {                                                                                           \
        sparq_status rejected_status_ = (call);                                                    \
        const char *rejected_message_ = test_plugin_api()->last_error();                           \
        if (rejected_status_ != (expected_status))                                                 \
            print_error("%s:%d: %s -> %d, expected %d; last_error: %s\n", __FILE__, __LINE__,     \
                        #call, (int)rejected_status_, (int)(expected_status),                      \
                        rejected_message_ ? rejected_message_ : "(NULL)");                         \
        else                                                                                       \
            print_message("  %s -> %d: %s\n", #call, (int)rejected_status_,                        \
                          rejected_message_ ? rejected_message_ : "(NULL)");                       \
        assert_int_equal(rejected_status_, (expected_status));                                     \
        assert_non_null(rejected_message_);                                                        \
        assert_true(rejected_message_[0] != '\0');                                                 \
    } while (0)

#define ASSERT_INVALID(call) ASSERT_REJECTED(call, SPARQ_ERROR_INVALID_ARGUMENT)

/* For loops over many bad inputs: reports instead of asserting, so that one
 * run lists every input that was wrongly accepted, and the caller can free
 * what an accepted call created. Returns 1 if `status` is
 * SPARQ_ERROR_INVALID_ARGUMENT with a message. */
static inline int rejected_as_invalid(sparq_status status, const char *call, unsigned struct_size)
{
    const char *message = test_plugin_api()->last_error();
    if (status == SPARQ_ERROR_INVALID_ARGUMENT && message && message[0]) {
        print_message("  %s, struct_size %u -> %d: %s\n", call, struct_size, (int)status, message);
        return 1;
    }
    print_error("%s with struct_size %u -> %d, expected %d (with a message); last_error: %s\n", call, struct_size,
                (int)status, (int)SPARQ_ERROR_INVALID_ARGUMENT, message ? message : "(NULL)");
    return 0;
}

/* Struct sizes that no caller of this ABI can legitimately pass: nothing,
 * part of struct_size itself, less than the struct had in ABI 1.0 (the first
 * release, so no host has a smaller one; this size also cuts the last field
 * in two), and far larger than any future version. */
#define BAD_STRUCT_SIZES(type) {0u, 1u, (uint32_t)sizeof(type) - 1u, 0x7fffffffu, 0xffffffffu}

#endif
