/*
 * Shared by the test suites that use the shipped plugin the way a host does:
 * through dlopen and the function table, never by linking internals.
 *
 * The plugin path comes from the environment variable SPARQ_PLUGIN_PATH (meson
 * test sets it to the built module). Contexts made here have the validation
 * layers on and count every error-severity message; tests assert the count
 * stays zero with test_plugin_assert_no_validation_errors().
 */
#ifndef SPARQ_TEST_PLUGIN_H
#define SPARQ_TEST_PLUGIN_H

#include <sparq/sparq.h>

/* Loads the plugin once per process and returns its table (never NULL: fails
 * the process with a message if the plugin cannot be loaded). */
const sparq_api *test_plugin_api(void);

/* Creates a context with validation on, on the device named by `device`
 * (NULL = default). Returns NULL and prints why on failure. */
sparq_context *test_plugin_context(const char *device);

/* Number of error-severity messages the plugin or the validation layers
 * reported on contexts made by test_plugin_context() so far. */
unsigned test_plugin_validation_errors(void);

/* cmocka assertion: no validation errors since the process started. */
void test_plugin_assert_no_validation_errors(void);

/* cmocka assertion that `call` returned SPARQ_SUCCESS, printing last_error. */
#define TEST_SPARQ_OK(call)                                                                \
    do {                                                                                   \
        sparq_status test_status_ = (call);                                                \
        if (test_status_ != SPARQ_SUCCESS)                                                 \
            print_error("%s -> %d: %s\n", #call, (int)test_status_, test_plugin_api()->last_error()); \
        assert_int_equal(test_status_, SPARQ_SUCCESS);                                     \
    } while (0)

#endif
