/*
 * The released layout of ABI 1, written out by hand. sparq.h pins a few of
 * these with static asserts; this test pins every field, every enum value
 * and every constant, so that an edit to the header has to be made twice on
 * purpose. Numbers are for LP64 targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sparq/sparq.h>
#include <sparq/sparq_vulkan.h>

typedef struct pinned {
    const char *what;
    unsigned long long actual;
    unsigned long long expected;
} pinned;

#define FIELD(type, member, offset) {#type "." #member, offsetof(type, member), offset}
#define SIZE(type, size) {"sizeof(" #type ")", sizeof(type), size}
#define VALUE(name, value) {#name, (unsigned long long)(name), value}

static void check(const pinned *pins, size_t n)
{
    unsigned wrong = 0;
    for (size_t i = 0; i < n; i++) {
        if (pins[i].actual != pins[i].expected) {
            print_error("%s is %llu, released as %llu\n", pins[i].what, pins[i].actual, pins[i].expected);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

static void skip_unless_lp64(void)
{
    if (sizeof(void *) != 8 || sizeof(long) != 8)
        skip();
}

static void test_plugin_info_and_device_info(void **state)
{
    (void)state;
    skip_unless_lp64();
    const pinned pins[] = {
        SIZE(sparq_plugin_info, 32),
        FIELD(sparq_plugin_info, struct_size, 0),
        FIELD(sparq_plugin_info, abi_major, 4),
        FIELD(sparq_plugin_info, abi_minor, 8),
        FIELD(sparq_plugin_info, reserved, 12),
        FIELD(sparq_plugin_info, product_version, 16),
        FIELD(sparq_plugin_info, build_id, 24),

        SIZE(sparq_device_info, 984),
        FIELD(sparq_device_info, struct_size, 0),
        FIELD(sparq_device_info, index, 4),
        FIELD(sparq_device_info, name, 8),
        FIELD(sparq_device_info, driver_name, 264),
        FIELD(sparq_device_info, driver_info, 520),
        FIELD(sparq_device_info, uuid, 776),
        FIELD(sparq_device_info, vendor_id, 792),
        FIELD(sparq_device_info, device_id, 796),
        FIELD(sparq_device_info, driver_version, 800),
        FIELD(sparq_device_info, api_version, 804),
        FIELD(sparq_device_info, type, 808),
        FIELD(sparq_device_info, subgroup_size, 812),
        FIELD(sparq_device_info, max_shared_memory, 816),
        FIELD(sparq_device_info, has_float16, 820),
        FIELD(sparq_device_info, has_storage16, 824),
        FIELD(sparq_device_info, usable, 828),
        FIELD(sparq_device_info, is_default, 832),
        FIELD(sparq_device_info, reserved, 836),
        FIELD(sparq_device_info, max_storage_buffer_range, 840),
        FIELD(sparq_device_info, device_local_bytes, 848),
        FIELD(sparq_device_info, unusable_reason, 856),
    };
    check(pins, sizeof pins / sizeof pins[0]);
}

static void test_descriptors(void **state)
{
    (void)state;
    skip_unless_lp64();
    const pinned pins[] = {
        SIZE(sparq_context_desc, 40),
        FIELD(sparq_context_desc, struct_size, 0),
        FIELD(sparq_context_desc, flags, 4),
        FIELD(sparq_context_desc, device, 8),
        FIELD(sparq_context_desc, message_callback, 16),
        FIELD(sparq_context_desc, message_user_data, 24),
        FIELD(sparq_context_desc, vulkan_import, 32),

        SIZE(sparq_cache_desc, 28),
        FIELD(sparq_cache_desc, struct_size, 0),
        FIELD(sparq_cache_desc, n_seqs, 4),
        FIELD(sparq_cache_desc, n_kv_heads, 8),
        FIELD(sparq_cache_desc, head_dim, 12),
        FIELD(sparq_cache_desc, capacity, 16),
        FIELD(sparq_cache_desc, storage, 20),
        FIELD(sparq_cache_desc, frames_in_flight, 24), /* 1.1 */

        SIZE(sparq_append_desc, 88),
        FIELD(sparq_append_desc, struct_size, 0),
        FIELD(sparq_append_desc, n_slots, 4),
        FIELD(sparq_append_desc, slots, 8),
        FIELD(sparq_append_desc, n_tokens, 16),
        FIELD(sparq_append_desc, dtype, 20),
        FIELD(sparq_append_desc, k, 24),
        FIELD(sparq_append_desc, v, 32),
        FIELD(sparq_append_desc, k_device, 40), /* 1.1 */
        FIELD(sparq_append_desc, v_device, 64), /* 1.1 */

        SIZE(sparq_read_desc, 40),
        FIELD(sparq_read_desc, struct_size, 0),
        FIELD(sparq_read_desc, slot, 4),
        FIELD(sparq_read_desc, first, 8),
        FIELD(sparq_read_desc, count, 12),
        FIELD(sparq_read_desc, k, 16),
        FIELD(sparq_read_desc, v, 24),
        FIELD(sparq_read_desc, v_sum, 32),

        SIZE(sparq_attend_stats, 56),
        FIELD(sparq_attend_stats, struct_size, 0),
        FIELD(sparq_attend_stats, dispatches, 4),
        FIELD(sparq_attend_stats, gpu_ns, 8),
        FIELD(sparq_attend_stats, host_ns, 16),
        FIELD(sparq_attend_stats, dispatch_ns, 24),

        SIZE(sparq_attend_desc, 152),
        FIELD(sparq_attend_desc, struct_size, 0),
        FIELD(sparq_attend_desc, mode, 4),
        FIELD(sparq_attend_desc, n_slots, 8),
        FIELD(sparq_attend_desc, slots, 16),
        FIELD(sparq_attend_desc, n_heads, 24),
        FIELD(sparq_attend_desc, dtype, 28),
        FIELD(sparq_attend_desc, q, 32),
        FIELD(sparq_attend_desc, out, 40),
        FIELD(sparq_attend_desc, scale, 48),
        FIELD(sparq_attend_desc, flags, 52),
        FIELD(sparq_attend_desc, r, 56),
        FIELD(sparq_attend_desc, k, 60),
        FIELD(sparq_attend_desc, l, 64),
        FIELD(sparq_attend_desc, selected, 72),
        FIELD(sparq_attend_desc, selected_stride, 80),
        FIELD(sparq_attend_desc, reserved, 84),
        FIELD(sparq_attend_desc, alpha, 88),
        FIELD(sparq_attend_desc, stats, 96),
        FIELD(sparq_attend_desc, q_device, 104),   /* 1.1 */
        FIELD(sparq_attend_desc, out_device, 128), /* 1.1 */

        SIZE(sparq_device_tensor, 24), /* 1.1 */
        FIELD(sparq_device_tensor, buffer, 0),
        FIELD(sparq_device_tensor, offset, 8),
        FIELD(sparq_device_tensor, size, 16),
    };
    check(pins, sizeof pins / sizeof pins[0]);
}

static void test_function_table(void **state)
{
    (void)state;
    skip_unless_lp64();
    const pinned pins[] = {
        SIZE(sparq_api, 168),
        FIELD(sparq_api, struct_size, 0),
        FIELD(sparq_api, abi_major, 4),
        FIELD(sparq_api, abi_minor, 8),
        FIELD(sparq_api, reserved, 12),
        FIELD(sparq_api, last_error, 16),
        FIELD(sparq_api, get_plugin_info, 24),
        FIELD(sparq_api, enumerate_devices, 32),
        FIELD(sparq_api, context_create, 40),
        FIELD(sparq_api, context_destroy, 48),
        FIELD(sparq_api, context_get_device_info, 56),
        FIELD(sparq_api, cache_create, 64),
        FIELD(sparq_api, cache_destroy, 72),
        FIELD(sparq_api, cache_append, 80),
        FIELD(sparq_api, cache_truncate, 88),
        FIELD(sparq_api, cache_reset, 96),
        FIELD(sparq_api, cache_get_lengths, 104),
        FIELD(sparq_api, cache_read, 112),
        FIELD(sparq_api, attend, 120),
        FIELD(sparq_api, measure_read_bandwidth, 128),
        FIELD(sparq_api, record_append, 136), /* 1.1 */
        FIELD(sparq_api, record_attend, 144),
        FIELD(sparq_api, submit_append, 152),
        FIELD(sparq_api, submit_attend, 160),
    };
    check(pins, sizeof pins / sizeof pins[0]);
}

static void test_vulkan_structs(void **state)
{
    (void)state;
    skip_unless_lp64();
    const pinned pins[] = {
        SIZE(sparq_vulkan_import, 72),
        FIELD(sparq_vulkan_import, struct_size, 0),
        FIELD(sparq_vulkan_import, api_version, 4),
        FIELD(sparq_vulkan_import, instance, 8),
        FIELD(sparq_vulkan_import, physical_device, 16),
        FIELD(sparq_vulkan_import, device, 24),
        FIELD(sparq_vulkan_import, queue, 32),
        FIELD(sparq_vulkan_import, queue_family_index, 40),
        FIELD(sparq_vulkan_import, features, 44),
        FIELD(sparq_vulkan_import, get_instance_proc_addr, 48),
        FIELD(sparq_vulkan_import, enabled_extension_count, 56),
        FIELD(sparq_vulkan_import, reserved, 60),
        FIELD(sparq_vulkan_import, enabled_extensions, 64),

        SIZE(sparq_vulkan_record, 16),
        FIELD(sparq_vulkan_record, struct_size, 0),
        FIELD(sparq_vulkan_record, frame, 4),
        FIELD(sparq_vulkan_record, command_buffer, 8),

        SIZE(sparq_vulkan_submit, 48),
        FIELD(sparq_vulkan_submit, struct_size, 0),
        FIELD(sparq_vulkan_submit, frame, 4),
        FIELD(sparq_vulkan_submit, wait_count, 8),
        FIELD(sparq_vulkan_submit, signal_count, 12),
        FIELD(sparq_vulkan_submit, wait_semaphores, 16),
        FIELD(sparq_vulkan_submit, wait_values, 24),
        FIELD(sparq_vulkan_submit, signal_semaphores, 32),
        FIELD(sparq_vulkan_submit, signal_values, 40),
    };
    check(pins, sizeof pins / sizeof pins[0]);
}

static void test_enums_and_constants(void **state)
{
    (void)state;
    const pinned pins[] = {
        {"sizeof(sparq_status)", sizeof(sparq_status), 4},
        {"sizeof(sparq_dtype)", sizeof(sparq_dtype), 4},
        {"sizeof(sparq_attention_mode)", sizeof(sparq_attention_mode), 4},
        {"sizeof(sparq_device_type)", sizeof(sparq_device_type), 4},
        {"sizeof(sparq_severity)", sizeof(sparq_severity), 4},
        VALUE(SPARQ_ABI_VERSION_MAJOR, 1),
        VALUE(SPARQ_ABI_VERSION_MINOR, 1),
        VALUE(SPARQ_SUCCESS, 0),
        VALUE(SPARQ_ERROR_INVALID_ARGUMENT, 1),
        VALUE(SPARQ_ERROR_ABI_MISMATCH, 2),
        VALUE(SPARQ_ERROR_NOT_SUPPORTED, 3),
        VALUE(SPARQ_ERROR_NO_VULKAN, 4),
        VALUE(SPARQ_ERROR_NO_DEVICE, 5),
        VALUE(SPARQ_ERROR_OUT_OF_HOST_MEMORY, 6),
        VALUE(SPARQ_ERROR_OUT_OF_DEVICE_MEMORY, 7),
        VALUE(SPARQ_ERROR_CAPACITY_EXCEEDED, 8),
        VALUE(SPARQ_ERROR_DEVICE_LOST, 9),
        VALUE(SPARQ_ERROR_VULKAN, 10),
        VALUE(SPARQ_ERROR_INTERNAL, 11),
        VALUE(SPARQ_DTYPE_DEFAULT, 0),
        VALUE(SPARQ_DTYPE_F16, 1),
        VALUE(SPARQ_DTYPE_F32, 2),
        VALUE(SPARQ_ATTENTION_DEFAULT, 0),
        VALUE(SPARQ_ATTENTION_DENSE, 1),
        VALUE(SPARQ_ATTENTION_SPARQ, 2),
        VALUE(SPARQ_DEVICE_TYPE_OTHER, 0),
        VALUE(SPARQ_DEVICE_TYPE_INTEGRATED_GPU, 1),
        VALUE(SPARQ_DEVICE_TYPE_DISCRETE_GPU, 2),
        VALUE(SPARQ_DEVICE_TYPE_VIRTUAL_GPU, 3),
        VALUE(SPARQ_DEVICE_TYPE_CPU, 4),
        VALUE(SPARQ_SEVERITY_UNSET, 0),
        VALUE(SPARQ_SEVERITY_INFO, 1),
        VALUE(SPARQ_SEVERITY_WARNING, 2),
        VALUE(SPARQ_SEVERITY_ERROR, 3),
        VALUE(SPARQ_CONTEXT_ENABLE_VALIDATION, 0x1),
        VALUE(SPARQ_ATTEND_NO_MEAN_REALLOCATION, 0x1),
        VALUE(SPARQ_NO_POSITION, 0xffffffffu),
        VALUE(SPARQ_MAX_HEAD_DIM, 256),
        VALUE(SPARQ_MAX_GROUP_SIZE, 16),
        VALUE(SPARQ_MAX_CAPACITY, 1048576),
        VALUE(SPARQ_MAX_FRAMES_IN_FLIGHT, 16),
        VALUE(SPARQ_DEVICE_TENSOR_ALIGNMENT, 16),
        VALUE(SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS, 0x1),
        VALUE(SPARQ_VK_FEATURE_SHADER_INT64, 0x2),
        VALUE(SPARQ_VK_FEATURE_TIMELINE_SEMAPHORE, 0x4),
        VALUE(SPARQ_VK_MAX_SEMAPHORES, 16),
        VALUE(SPARQ_VK_API_VERSION(1, 2), 4202496),
    };
    check(pins, sizeof pins / sizeof pins[0]);
    assert_string_equal(SPARQ_ENTRY_SYMBOL, "sparq_plugin_entry");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_info_and_device_info),
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_function_table),
        cmocka_unit_test(test_vulkan_structs),
        cmocka_unit_test(test_enums_and_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
