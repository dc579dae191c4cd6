/*
 * Plugin- and context-level calls given NULLs and malformed descriptors:
 * each returns the documented status, leaves a message, writes no output it
 * was not asked for, and the same call with good arguments still succeeds
 * (so the rejections are not a call that fails for everything).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "abi_checks.h"

static const sparq_api *api;
static sparq_context *context;

static int make_context(void **state)
{
    (void)state;
    api = test_plugin_api();
    context = test_plugin_context(NULL);
    return context ? 0 : -1;
}

static int destroy_context(void **state)
{
    (void)state;
    return api->context_destroy(context) == SPARQ_SUCCESS ? 0 : -1;
}

/* ------------------------------------------------------------------------ */

typedef struct thread_result {
    char fresh[256];  /* last_error() before this thread made any call */
    char own[256];    /* last_error() after a failure on this thread */
} thread_result;

static void *other_thread(void *arg)
{
    thread_result *result = arg;
    const char *fresh = api->last_error();
    snprintf(result->fresh, sizeof result->fresh, "%s", fresh ? fresh : "(NULL)");
    api->cache_reset(NULL, 7);
    snprintf(result->own, sizeof result->own, "%s", api->last_error());
    return NULL;
}

static void test_last_error_is_per_thread(void **state)
{
    (void)state;
    ASSERT_INVALID(api->get_plugin_info(NULL));
    char mine[256];
    snprintf(mine, sizeof mine, "%s", api->last_error());

    thread_result result;
    memset(&result, 0, sizeof result);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, other_thread, &result), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    print_message("  main: '%s'; new thread before: '%s', after: '%s'\n", mine, result.fresh, result.own);

    assert_string_equal(result.fresh, "");
    assert_true(result.own[0] != '\0');
    assert_string_not_equal(result.own, mine);
    assert_string_equal(api->last_error(), mine);
}

static void test_get_plugin_info(void **state)
{
    (void)state;
    ASSERT_INVALID(api->get_plugin_info(NULL));

    sparq_plugin_info info;
    memset(&info, 0, sizeof info);
    ASSERT_INVALID(api->get_plugin_info(&info)); /* struct_size 0 */

    /* A smaller (older) struct: the plugin may accept or refuse it, but
     * writes nothing past the size it was given. */
    memset(&info, 0xa5, sizeof info);
    info.struct_size = offsetof(sparq_plugin_info, product_version);
    sparq_status status = api->get_plugin_info(&info);
    print_message("  get_plugin_info(struct_size %u) -> %d\n", (unsigned)info.struct_size, (int)status);
    const unsigned char *tail = (const unsigned char *)&info + offsetof(sparq_plugin_info, product_version);
    for (size_t i = 0; i < sizeof info - offsetof(sparq_plugin_info, product_version); i++)
        assert_int_equal(tail[i], 0xa5);
    if (status == SPARQ_SUCCESS)
        assert_int_equal(info.abi_major, SPARQ_ABI_VERSION_MAJOR);

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TEST_SPARQ_OK(api->get_plugin_info(&info));
}

static void test_enumerate_devices(void **state)
{
    (void)state;
    uint32_t count = 12345;
    ASSERT_INVALID(api->enumerate_devices(NULL, 0, NULL));
    ASSERT_INVALID(api->enumerate_devices(NULL, 1, &count));

    sparq_device_info infos[2];
    memset(infos, 0, sizeof infos);
    ASSERT_INVALID(api->enumerate_devices(infos, 1, &count)); /* struct_size 0 */
    ASSERT_INVALID(api->enumerate_devices(infos, 1, NULL));

    TEST_SPARQ_OK(api->enumerate_devices(NULL, 0, &count));
    assert_true(count >= 1);

    /* More room than devices: only `count` entries are written. */
    uint32_t room = count + 1;
    sparq_device_info *many = malloc(room * sizeof *many);
    assert_non_null(many);
    memset(many, 0xa5, room * sizeof *many);
    for (uint32_t i = 0; i < room; i++)
        many[i].struct_size = sizeof *many;
    uint32_t total = 0;
    TEST_SPARQ_OK(api->enumerate_devices(many, room, &total));
    assert_int_equal(total, count);
    const unsigned char *spare = (const unsigned char *)&many[count];
    for (size_t i = sizeof(uint32_t); i < sizeof *many; i++)
        assert_int_equal(spare[i], 0xa5);
    for (uint32_t i = 0; i < count; i++)
        assert_true(many[i].name[0] != '\0');
    free(many);
}

static void test_context_create(void **state)
{
    (void)state;
    sparq_context *made = (sparq_context *)&made; /* must be reset to NULL on error */
    ASSERT_INVALID(api->context_create(NULL, &made));
    assert_null(made);

    sparq_context_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    ASSERT_INVALID(api->context_create(&desc, NULL));

    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_context_desc);
    unsigned wrong = 0;
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        desc.struct_size = bad_sizes[i];
        made = (sparq_context *)&made;
        sparq_status status = api->context_create(&desc, &made);
        if (!rejected_as_invalid(status, "context_create", bad_sizes[i])) {
            wrong++;
            if (status == SPARQ_SUCCESS)
                api->context_destroy(made);
        } else if (made != NULL) {
            print_error("context_create failed but did not set *context to NULL\n");
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);

    /* Host-owned Vulkan devices (ABI 1.1): something that is not a
     * sparq_vulkan_import (here a struct_size of 40) is refused before any
     * Vulkan call; tests/integration covers real imports. */
    desc.struct_size = sizeof desc;
    desc.vulkan_import = &desc;
    made = (sparq_context *)&made;
    ASSERT_INVALID(api->context_create(&desc, &made));
    assert_null(made);
    desc.vulkan_import = NULL;

    /* Unknown flag bits would be silently ignored otherwise, and a later
     * version could not give them a meaning. */
    desc.flags = 0x80000000u;
    made = (sparq_context *)&made;
    ASSERT_INVALID(api->context_create(&desc, &made));
    assert_null(made);
}

static void test_context_destroy_null(void **state)
{
    (void)state;
    assert_int_equal(api->context_destroy(NULL), SPARQ_SUCCESS);
}

static void test_context_get_device_info(void **state)
{
    (void)state;
    sparq_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ASSERT_INVALID(api->context_get_device_info(NULL, &info));
    ASSERT_INVALID(api->context_get_device_info(context, NULL));
    info.struct_size = 0;
    ASSERT_INVALID(api->context_get_device_info(context, &info));

    info.struct_size = sizeof info;
    TEST_SPARQ_OK(api->context_get_device_info(context, &info));
    assert_true(info.name[0] != '\0');
    assert_int_equal(info.usable, 1);
}

static void test_measure_read_bandwidth(void **state)
{
    (void)state;
    double bytes_per_second = -1.0;
    ASSERT_INVALID(api->measure_read_bandwidth(NULL, 1u << 20, 2, &bytes_per_second));
    ASSERT_INVALID(api->measure_read_bandwidth(context, 1u << 20, 2, NULL));
    assert_true(bytes_per_second == -1.0);

    TEST_SPARQ_OK(api->measure_read_bandwidth(context, 1u << 20, 2, &bytes_per_second));
    print_message("  %.3g GB/s\n", bytes_per_second / 1e9);
    assert_true(bytes_per_second > 0.0);
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_error_is_per_thread),
        cmocka_unit_test(test_get_plugin_info),
        cmocka_unit_test(test_enumerate_devices),
        cmocka_unit_test(test_context_create),
        cmocka_unit_test(test_context_destroy_null),
        cmocka_unit_test(test_context_get_device_info),
        cmocka_unit_test(test_measure_read_bandwidth),
    };
    return cmocka_run_group_tests(tests, make_context, destroy_context);
}
