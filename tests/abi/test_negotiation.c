/*
 * Version negotiation through the one exported entry point: only ABI major 1
 * is accepted; every refusal is a status plus a message naming both
 * versions, never a crash, and the table handed out is complete.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sparq/sparq.h>

static void *plugin_handle;
static sparq_entry_fn entry;

static int open_plugin(void **state)
{
    (void)state;
    const char *path = getenv("SPARQ_PLUGIN_PATH");
    if (!path) {
        fprintf(stderr, "SPARQ_PLUGIN_PATH is not set (run through meson test)\n");
        return -1;
    }
    plugin_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin_handle) {
        fprintf(stderr, "dlopen(%s): %s\n", path, dlerror());
        return -1;
    }
    union {
        void *object;
        sparq_entry_fn function;
    } symbol = {dlsym(plugin_handle, SPARQ_ENTRY_SYMBOL)};
    entry = symbol.function;
    if (!entry) {
        fprintf(stderr, "%s does not export %s\n", path, SPARQ_ENTRY_SYMBOL);
        return -1;
    }
    return 0;
}

static int close_plugin(void **state)
{
    (void)state;
    if (plugin_handle)
        dlclose(plugin_handle);
    return 0;
}

/* True if `text` contains `value` as a whole decimal number, or as a whole
 * hexadecimal one written 0x..., so "ABI 12" does not count as naming 1. */
static int mentions_number(const char *text, uint32_t value)
{
    for (const char *p = text; *p;) {
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            char *end;
            unsigned long long parsed = strtoull(p + 2, &end, 16);
            if (end != p + 2 && parsed == value)
                return 1;
            p = end != p + 2 ? end : p + 2;
        } else if (*p >= '0' && *p <= '9') {
            char *end;
            unsigned long long parsed = strtoull(p, &end, 10);
            if (parsed == value)
                return 1;
            p = end;
        } else {
            p++;
        }
    }
    return 0;
}

static void expect_mismatch(uint32_t major)
{
    const sparq_api *api = (const sparq_api *)&api; /* any non-NULL value: must be overwritten */
    const char *message = NULL;
    sparq_status status = entry(major, &api, &message);
    print_message("  entry(%u) -> %d: %s\n", (unsigned)major, (int)status, message ? message : "(NULL)");
    assert_int_equal(status, SPARQ_ERROR_ABI_MISMATCH);
    assert_null(api);
    assert_non_null(message);
    assert_true(mentions_number(message, major));
    assert_true(mentions_number(message, SPARQ_ABI_VERSION_MAJOR));
}

static void test_major_0_is_refused(void **state)
{
    (void)state;
    expect_mismatch(0);
}

static void test_major_2_is_refused(void **state)
{
    (void)state;
    expect_mismatch(2);
}

static void test_major_max_is_refused(void **state)
{
    (void)state;
    expect_mismatch(0xffffffffu);
}

static void test_major_1_is_accepted(void **state)
{
    (void)state;
    const sparq_api *api = NULL;
    const char *message = NULL;
    assert_int_equal(entry(1, &api, &message), SPARQ_SUCCESS);
    assert_non_null(api);
    /* The message pointer is optional on success too; if set, it is a string. */
    if (message)
        print_message("  entry(1) message: %s (%zu chars)\n", message, strlen(message));

    /* Asking again gives the same static table. */
    const sparq_api *again = NULL;
    assert_int_equal(entry(1, &again, NULL), SPARQ_SUCCESS);
    assert_ptr_equal(api, again);
}

static void test_null_api_pointer(void **state)
{
    (void)state;
    const char *message = NULL;
    assert_int_equal(entry(1, NULL, &message), SPARQ_ERROR_INVALID_ARGUMENT);
    assert_non_null(message);
    assert_true(message[0] != '\0');
    print_message("  entry(1, NULL) message: %s\n", message);
    /* A host that asks for a wrong major and passes nothing still gets a status. */
    assert_int_not_equal(entry(2, NULL, NULL), SPARQ_SUCCESS);
}

static void test_null_message_pointer(void **state)
{
    (void)state;
    const sparq_api *api = NULL;
    assert_int_equal(entry(1, &api, NULL), SPARQ_SUCCESS);
    assert_non_null(api);
    api = (const sparq_api *)&api;
    assert_int_equal(entry(2, &api, NULL), SPARQ_ERROR_ABI_MISMATCH);
    assert_null(api);
}

static void test_table_is_complete(void **state)
{
    (void)state;
    const sparq_api *api = NULL;
    assert_int_equal(entry(SPARQ_ABI_VERSION_MAJOR, &api, NULL), SPARQ_SUCCESS);
    assert_true(api->struct_size >= sizeof(sparq_api));
    assert_int_equal(api->abi_major, SPARQ_ABI_VERSION_MAJOR);
    assert_in_range(api->abi_minor, SPARQ_ABI_VERSION_MINOR, 0xffff);

#define EXPECT_ENTRY(member)                                                   \
    do {                                                                       \
        if (!SPARQ_API_HAS(api, member))                                       \
            print_error("table entry %s is missing\n", #member);               \
        assert_true(SPARQ_API_HAS(api, member));                               \
    } while (0)
    EXPECT_ENTRY(last_error);
    EXPECT_ENTRY(get_plugin_info);
    EXPECT_ENTRY(enumerate_devices);
    EXPECT_ENTRY(context_create);
    EXPECT_ENTRY(context_destroy);
    EXPECT_ENTRY(context_get_device_info);
    EXPECT_ENTRY(cache_create);
    EXPECT_ENTRY(cache_destroy);
    EXPECT_ENTRY(cache_append);
    EXPECT_ENTRY(cache_truncate);
    EXPECT_ENTRY(cache_reset);
    EXPECT_ENTRY(cache_get_lengths);
    EXPECT_ENTRY(cache_read);
    EXPECT_ENTRY(attend);
    EXPECT_ENTRY(measure_read_bandwidth);
#undef EXPECT_ENTRY

    /* Every pointer-sized slot after the header, including any appended by a
     * later minor this test does not name, must be filled. */
    const size_t first = offsetof(sparq_api, last_error);
    for (size_t offset = first; offset + sizeof(void (*)(void)) <= api->struct_size; offset += sizeof(void (*)(void))) {
        void (*slot)(void);
        memcpy(&slot, (const char *)api + offset, sizeof slot);
        if (!slot)
            print_error("table slot at offset %zu is NULL\n", offset);
        assert_non_null(slot);
    }
}

static void test_plugin_info(void **state)
{
    (void)state;
    const sparq_api *api = NULL;
    assert_int_equal(entry(SPARQ_ABI_VERSION_MAJOR, &api, NULL), SPARQ_SUCCESS);
    sparq_plugin_info info;
    memset(&info, 0xa5, sizeof info); /* nothing here may survive into the answer */
    info.struct_size = sizeof info;
    assert_int_equal(api->get_plugin_info(&info), SPARQ_SUCCESS);
    assert_int_equal(info.abi_major, SPARQ_ABI_VERSION_MAJOR);
    assert_int_equal(info.abi_minor, api->abi_minor);
    assert_int_equal(info.reserved, 0);
    assert_non_null(info.product_version);
    assert_non_null(info.build_id);
    assert_true(info.product_version[0] != '\0');
    assert_true(info.build_id[0] != '\0');
    print_message("  product %s, build %s\n", info.product_version, info.build_id);
}

/* Nothing may touch Vulkan before a call that needs it: not dlopen, not the
 * entry point, not get_plugin_info. The loader library showing up in the
 * process is the visible sign; after enumerate_devices it must be there,
 * which also shows this probe can see it. */
static void test_vulkan_loaded_only_on_first_use(void **state)
{
    (void)state;
    const sparq_api *api = NULL;
    assert_int_equal(entry(SPARQ_ABI_VERSION_MAJOR, &api, NULL), SPARQ_SUCCESS);
    sparq_plugin_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(api->get_plugin_info(&info), SPARQ_SUCCESS);
    (void)api->last_error();
    void *vulkan = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (vulkan)
        print_error("libvulkan.so.1 is loaded before any call that needs Vulkan\n");
    assert_null(vulkan);

    uint32_t count = 0;
    assert_int_equal(api->enumerate_devices(NULL, 0, &count), SPARQ_SUCCESS);
    vulkan = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(vulkan);
    dlclose(vulkan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_major_0_is_refused),
        cmocka_unit_test(test_major_2_is_refused),
        cmocka_unit_test(test_major_max_is_refused),
        cmocka_unit_test(test_major_1_is_accepted),
        cmocka_unit_test(test_null_api_pointer),
        cmocka_unit_test(test_null_message_pointer),
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_plugin_info),
        cmocka_unit_test(test_vulkan_loaded_only_on_first_use), /* last: it loads Vulkan */
    };
    return cmocka_run_group_tests(tests, open_plugin, close_plugin);
}
