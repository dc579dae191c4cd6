/*
 * Contexts on lavapipe with the validation layers on: repeated create and
 * destroy, every documented way of naming a device, names that match
 * nothing, and what enumerate_devices reports about the device.
 */
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
static sparq_device_info lavapipe; /* the enumerate_devices entry for llvmpipe */

static int find_lavapipe(void **state)
{
    (void)state;
    api = test_plugin_api();
    unsetenv("SPARQ_DEVICE"); /* the default selection must not depend on the caller's shell */
    uint32_t count = 0;
    if (api->enumerate_devices(NULL, 0, &count) != SPARQ_SUCCESS || count == 0) {
        fprintf(stderr, "enumerate_devices: %u devices: %s\n", (unsigned)count, api->last_error());
        return -1;
    }
    sparq_device_info *infos = calloc(count, sizeof *infos);
    if (!infos)
        return -1;
    for (uint32_t i = 0; i < count; i++)
        infos[i].struct_size = sizeof infos[i];
    int found = 0;
    if (api->enumerate_devices(infos, count, &count) == SPARQ_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++) {
            if (strstr(infos[i].name, "llvmpipe")) {
                lavapipe = infos[i];
                found = 1;
            }
        }
    }
    free(infos);
    if (!found)
        fprintf(stderr, "no llvmpipe device: install mesa-vulkan-drivers\n");
    return found ? 0 : -1;
}

/* Creates a context on `device`, checks it landed on lavapipe, destroys it. */
static void expect_lavapipe(const char *device)
{
    print_message("  device \"%s\"\n", device ? device : "(NULL)");
    sparq_context *context = test_plugin_context(device);
    assert_non_null(context);
    sparq_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TEST_SPARQ_OK(api->context_get_device_info(context, &info));
    assert_string_equal(info.name, lavapipe.name);
    assert_memory_equal(info.uuid, lavapipe.uuid, sizeof info.uuid);
    assert_int_equal(info.index, lavapipe.index);
    TEST_SPARQ_OK(api->context_destroy(context));
}

static void expect_no_device(const char *device)
{
    sparq_context_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.flags = SPARQ_CONTEXT_ENABLE_VALIDATION;
    desc.device = device;
    sparq_context *context = (sparq_context *)&desc; /* must be reset to NULL */
    print_message("  device \"%s\"\n", device ? device : "(NULL)");
    ASSERT_REJECTED(api->context_create(&desc, &context), SPARQ_ERROR_NO_DEVICE);
    assert_null(context);
}

static void uuid_to_hex(const uint8_t uuid[16], int dashes, char *text)
{
    for (int i = 0; i < 16; i++) {
        if (dashes && (i == 4 || i == 6 || i == 8 || i == 10))
            *text++ = '-';
        text += sprintf(text, "%02x", uuid[i]);
    }
    *text = '\0';
}

/* ------------------------------------------------------------------------ */

static void test_enumerated_fields(void **state)
{
    (void)state;
    const sparq_device_info *d = &lavapipe;
    print_message("  [%u] %s, driver %s (%s), api 0x%x, subgroup %u, shared %u, fp16 %u, storage16 %u,"
                  " range %llu, local %llu\n",
                  (unsigned)d->index, d->name, d->driver_name, d->driver_info, (unsigned)d->api_version,
                  (unsigned)d->subgroup_size, (unsigned)d->max_shared_memory, (unsigned)d->has_float16,
                  (unsigned)d->has_storage16, (unsigned long long)d->max_storage_buffer_range,
                  (unsigned long long)d->device_local_bytes);
    assert_int_equal(d->struct_size, sizeof *d);
    assert_int_equal(d->type, SPARQ_DEVICE_TYPE_CPU);
    assert_int_equal(d->vendor_id, 0x10005); /* VK_VENDOR_ID_MESA */
    assert_true(d->driver_name[0] != '\0');
    assert_true(d->api_version >> 22 >= 1);          /* major */
    assert_true(d->subgroup_size >= 1 && (d->subgroup_size & (d->subgroup_size - 1)) == 0);
    assert_true(d->max_shared_memory >= 16384);      /* Vulkan's required minimum */
    assert_true(d->max_storage_buffer_range >= (1u << 27));
    assert_true(d->device_local_bytes > 0);
    assert_int_equal(d->usable, 1);
    assert_string_equal(d->unusable_reason, "");
    assert_int_equal(d->reserved, 0);
    uint8_t zero[16] = {0};
    assert_memory_not_equal(d->uuid, zero, sizeof zero);
    /* lavapipe is the only device here, so the default selection is it. */
    assert_int_equal(d->is_default, 1);
}

static void test_create_destroy_repeatedly(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        sparq_context *context = test_plugin_context(NULL);
        assert_non_null(context);
        TEST_SPARQ_OK(api->context_destroy(context));
    }
    test_plugin_assert_no_validation_errors();
}

static void test_pick_by_index(void **state)
{
    (void)state;
    char index[16];
    snprintf(index, sizeof index, "%u", (unsigned)lavapipe.index);
    expect_lavapipe(index);
    expect_lavapipe(NULL);
    expect_lavapipe("");
    test_plugin_assert_no_validation_errors();
}

static void test_pick_by_name(void **state)
{
    (void)state;
    expect_lavapipe("llvmpipe");
    expect_lavapipe("LLVMpipe"); /* case-insensitive */
    expect_lavapipe(lavapipe.name);
    test_plugin_assert_no_validation_errors();
}

static void test_pick_by_uuid(void **state)
{
    (void)state;
    char uuid[40];
    uuid_to_hex(lavapipe.uuid, 0, uuid);
    expect_lavapipe(uuid);
    uuid_to_hex(lavapipe.uuid, 1, uuid);
    expect_lavapipe(uuid);
    test_plugin_assert_no_validation_errors();
}

static void test_no_such_device(void **state)
{
    (void)state;
    expect_no_device("99");
    expect_no_device("4294967295");
    expect_no_device("no-such-gpu-anywhere");
    expect_no_device("00000000000000000000000000000000");
}

static void test_sparq_device_environment(void **state)
{
    (void)state;
    setenv("SPARQ_DEVICE", "llvmpipe", 1);
    expect_lavapipe(NULL);
    setenv("SPARQ_DEVICE", "no-such-gpu-anywhere", 1);
    expect_no_device(NULL);
    /* An explicit name wins over the environment. */
    expect_lavapipe("llvmpipe");
    unsetenv("SPARQ_DEVICE");
    expect_lavapipe(NULL);
    test_plugin_assert_no_validation_errors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enumerated_fields),
        cmocka_unit_test(test_create_destroy_repeatedly),
        cmocka_unit_test(test_pick_by_index),
        cmocka_unit_test(test_pick_by_name),
        cmocka_unit_test(test_pick_by_uuid),
        cmocka_unit_test(test_no_such_device),
        cmocka_unit_test(test_sparq_device_environment),
    };
    return cmocka_run_group_tests(tests, find_lavapipe, NULL);
}
