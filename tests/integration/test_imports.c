/*
 * What a host can get wrong when it brings its own device, and the status
 * each mistake must give (never a crash, never a GPU fault, nothing stored
 * changed). What Vulkan does not let the plugin detect is listed in
 * docs/INTEGRATION.md: a buffer's usage flags (a buffer without
 * STORAGE_BUFFER usage), whether memory is bound, a size within the
 * buffer's alignment padding, and handles that are not valid at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "abi_checks.h"
#include "integration_host.h"

enum { KV = 2, HEADS = 4, DH = 64 };

static const sparq_api *api;

/* *context_out is NULL on failure; a success is destroyed at once. */
static sparq_status try_import(const sparq_vulkan_import *import)
{
    sparq_context_desc desc = {.struct_size = sizeof desc, .vulkan_import = import};
    sparq_context *ctx = (sparq_context *)&desc;
    sparq_status st = api->context_create(&desc, &ctx);
    if (st == SPARQ_SUCCESS)
        api->context_destroy(ctx);
    else
        assert_null(ctx);
    return st;
}

#define ASSERT_MESSAGE_NAMES(text) assert_non_null(strstr(api->last_error(), (text)))

static void test_missing_features(void **state)
{
    (void)state;
    /* A device really created without each feature, and honest flags. */
    host_device_options no_bda = {.without_buffer_device_address = true};
    host_vulkan vk;
    assert_int_equal(host_vulkan_create(&vk, &no_bda), 0);
    sparq_vulkan_import import = integration_import(&vk);
    import.features &= ~SPARQ_VK_FEATURE_BUFFER_DEVICE_ADDRESS;
    ASSERT_REJECTED(try_import(&import), SPARQ_ERROR_NOT_SUPPORTED);
    ASSERT_MESSAGE_NAMES("bufferDeviceAddress");
    host_vulkan_destroy(&vk);

    host_device_options no_int64 = {.without_shader_int64 = true};
    assert_int_equal(host_vulkan_create(&vk, &no_int64), 0);
    import = integration_import(&vk);
    import.features &= ~SPARQ_VK_FEATURE_SHADER_INT64;
    ASSERT_REJECTED(try_import(&import), SPARQ_ERROR_NOT_SUPPORTED);
    ASSERT_MESSAGE_NAMES("shaderInt64");
    assert_int_equal(vk.validation_errors, 0);
    host_vulkan_destroy(&vk);
}

static void test_malformed_imports(void **state)
{
    (void)state;
    host_vulkan vk;
    assert_int_equal(host_vulkan_create(&vk, NULL), 0);
    const sparq_vulkan_import good = integration_import(&vk);
    sparq_vulkan_import bad;

    bad = good, bad.api_version = SPARQ_VK_API_VERSION(1, 1);
    ASSERT_REJECTED(try_import(&bad), SPARQ_ERROR_NOT_SUPPORTED);
    ASSERT_MESSAGE_NAMES("1.2");
    bad = good, bad.queue_family_index = 97;
    ASSERT_INVALID(try_import(&bad));
    ASSERT_MESSAGE_NAMES("queue_family_index");
    bad = good, bad.device = NULL;
    ASSERT_INVALID(try_import(&bad));
    bad = good, bad.get_instance_proc_addr = NULL;
    ASSERT_INVALID(try_import(&bad));
    bad = good, bad.struct_size = 8;
    ASSERT_INVALID(try_import(&bad));
    bad = good, bad.features |= 0x100u;
    ASSERT_INVALID(try_import(&bad));
    bad = good, bad.enabled_extension_count = 2, bad.enabled_extensions = NULL;
    ASSERT_INVALID(try_import(&bad));
    bad = good, bad.reserved = 1;
    ASSERT_INVALID(try_import(&bad));
    sparq_context_desc named = {.struct_size = sizeof named, .device = "0", .vulkan_import = &good};
    sparq_context *ctx = NULL;
    ASSERT_INVALID(api->context_create(&named, &ctx));
    assert_null(ctx);

    /* The extension list is read; the good import still works. */
    const char *const extensions[] = {"VK_KHR_example_not_needed"};
    bad = good, bad.enabled_extension_count = 1, bad.enabled_extensions = extensions;
    TEST_SPARQ_OK(try_import(&bad));
    integration_assert_no_validation_errors(&vk);
    host_vulkan_destroy(&vk);
}

/* One cache on an imported context with a few appended tokens, and the
 * host's buffers for q/out/K/V. */
typedef struct fixture {
    host_vulkan vk;
    sparq_context *ctx;
    sparq_cache *cache;
    host_buffer buf;   /* 64 KiB */
    VkCommandPool pool;
    VkCommandBuffer cmd;
} fixture;

static void fixture_up(fixture *f, bool with_queue)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(host_vulkan_create(&f->vk, NULL), 0);
    sparq_vulkan_import import = integration_import(&f->vk);
    if (!with_queue)
        import.queue = NULL;
    assert_non_null(f->ctx = integration_context(&import));
    sparq_cache_desc kd = {.struct_size = sizeof kd, .n_seqs = 2, .n_kv_heads = KV, .head_dim = DH, .capacity = 32,
                           .frames_in_flight = 2};
    TEST_SPARQ_OK(api->cache_create(f->ctx, &kd, &f->cache));
    assert_int_equal(host_buffer_create(&f->vk, 65536, true, &f->buf), 0);
    for (size_t i = 0; i < 65536 / sizeof(float); i++)
        ((float *)f->buf.map)[i] = (float)((i * 7919u) % 101u) / 50.0f - 1.0f;
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .queueFamilyIndex = f->vk.queue_family};
    assert_int_equal(vkCreateCommandPool(f->vk.device, &pi, NULL, &f->pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = f->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    assert_int_equal(vkAllocateCommandBuffers(f->vk.device, &ai, &f->cmd), VK_SUCCESS);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    assert_int_equal(vkBeginCommandBuffer(f->cmd, &bi), VK_SUCCESS);
}

/* Submits what was recorded (so nothing recorded is left unexecuted), once. */
static void fixture_run(fixture *f)
{
    if (!f->cmd)
        return;
    assert_int_equal(vkEndCommandBuffer(f->cmd), VK_SUCCESS);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &f->cmd};
    assert_int_equal(vkQueueSubmit(f->vk.queue, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
    assert_int_equal(vkQueueWaitIdle(f->vk.queue), VK_SUCCESS);
    f->cmd = VK_NULL_HANDLE;
}

static void fixture_down(fixture *f)
{
    fixture_run(f);
    vkDestroyCommandPool(f->vk.device, f->pool, NULL);
    TEST_SPARQ_OK(api->cache_destroy(f->cache));
    TEST_SPARQ_OK(api->context_destroy(f->ctx));
    host_buffer_destroy(&f->vk, &f->buf);
    integration_assert_no_validation_errors(&f->vk);
    host_vulkan_destroy(&f->vk);
}

static const uint32_t slot0 = 0;
/* One token's K (or V) of every KV head, and q (or out) of every head, as f32 bytes. */
static const VkDeviceSize kv_bytes = KV * DH * sizeof(float), q_bytes = HEADS * DH * sizeof(float);

/* An append of one token to slot 0 from device tensors in the fixture's
 * buffer: K at offset 0, V right after it. */
static sparq_append_desc one_token_append(const fixture *f)
{
    return (sparq_append_desc){.struct_size = sizeof(sparq_append_desc), .n_slots = 1, .slots = &slot0,
                               .n_tokens = 1,
                               .k_device = integration_tensor(&f->buf, 0, kv_bytes),
                               .v_device = integration_tensor(&f->buf, kv_bytes, kv_bytes)};
}

static void test_bad_device_tensors(void **state)
{
    (void)state;
    fixture f;
    fixture_up(&f, true);
    sparq_append_desc ad = one_token_append(&f);
    TEST_SPARQ_OK(api->cache_append(f.cache, &ad));
    uint32_t len = 0;

    sparq_append_desc bad = ad;
    bad.k_device.offset = 8; /* misaligned */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    bad = ad, bad.k_device.size = kv_bytes - 4; /* less than the call reads */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    bad = ad, bad.v_device.offset = 65536; /* past the end */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    ASSERT_MESSAGE_NAMES("end of the buffer");
    bad = ad, bad.v_device.offset = 65536 - 256, bad.v_device.size = 1024; /* runs past the end */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    bad = ad, bad.v_device.buffer = 0; /* only one of the pair */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    float host_k[KV * DH] = {0};
    bad = ad, bad.k = host_k; /* both a pointer and a tensor */
    ASSERT_INVALID(api->cache_append(f.cache, &bad));
    bad = ad, bad.dtype = SPARQ_DTYPE_F16;
    ASSERT_REJECTED(api->cache_append(f.cache, &bad), SPARQ_ERROR_NOT_SUPPORTED);
    TEST_SPARQ_OK(api->cache_get_lengths(f.cache, 0, 1, &len));
    assert_int_equal(len, 1); /* nothing stored by the refused calls */

    sparq_attend_desc at = {.struct_size = sizeof at, .n_slots = 1, .slots = &slot0, .n_heads = HEADS,
                            .q_device = integration_tensor(&f.buf, 4096, q_bytes),
                            .out_device = integration_tensor(&f.buf, 8192, q_bytes)};
    TEST_SPARQ_OK(api->attend(f.cache, &at));
    sparq_attend_desc bad_at = at;
    bad_at.out_device.offset = 4096 + 16; /* overlaps q */
    ASSERT_INVALID(api->attend(f.cache, &bad_at));
    bad_at = at, bad_at.q_device.offset = 65536 - 16, bad_at.q_device.size = q_bytes;
    ASSERT_INVALID(api->attend(f.cache, &bad_at));
    bad_at = at, bad_at.dtype = SPARQ_DTYPE_F16;
    ASSERT_REJECTED(api->attend(f.cache, &bad_at), SPARQ_ERROR_NOT_SUPPORTED);

    /* A host built against ABI 1.0 passes the 1.0 sizes: still accepted
     * (the new fields read as zero: host memory). */
    float k1[KV * DH], v1[KV * DH], q1[HEADS * DH], out1[HEADS * DH];
    for (unsigned i = 0; i < KV * DH; i++)
        k1[i] = (float)i / 100.0f, v1[i] = 1.0f - (float)i / 200.0f;
    for (unsigned i = 0; i < HEADS * DH; i++)
        q1[i] = (float)(i % 7) - 3.0f;
    sparq_append_desc old_ad = {.struct_size = 40, .n_slots = 1, .slots = &slot0, .n_tokens = 1, .k = k1, .v = v1};
    TEST_SPARQ_OK(api->cache_append(f.cache, &old_ad));
    sparq_attend_desc old_at = {.struct_size = 104, .n_slots = 1, .slots = &slot0, .n_heads = HEADS, .q = q1,
                                .out = out1};
    TEST_SPARQ_OK(api->attend(f.cache, &old_at));

    /* Device tensors on a context that owns its device. */
    sparq_context *own = test_plugin_context(NULL);
    assert_non_null(own);
    sparq_cache *own_cache = NULL;
    sparq_cache_desc kd = {.struct_size = sizeof kd, .n_seqs = 1, .n_kv_heads = KV, .head_dim = DH, .capacity = 8};
    TEST_SPARQ_OK(api->cache_create(own, &kd, &own_cache));
    ASSERT_INVALID(api->cache_append(own_cache, &ad));
    ASSERT_MESSAGE_NAMES("vulkan_import");
    sparq_vulkan_record rec = {.struct_size = sizeof rec, .command_buffer = f.cmd};
    ASSERT_INVALID(api->record_append(own_cache, &ad, &rec));
    TEST_SPARQ_OK(api->cache_destroy(own_cache));
    TEST_SPARQ_OK(api->context_destroy(own));
    fixture_down(&f);
}

static void test_bad_recording(void **state)
{
    (void)state;
    fixture f;
    fixture_up(&f, true);
    sparq_append_desc ad = one_token_append(&f);
    sparq_vulkan_record rec = {.struct_size = sizeof rec, .frame = 1, .command_buffer = f.cmd};
    sparq_vulkan_record bad_rec = rec;
    bad_rec.frame = 2; /* frames_in_flight is 2 */
    ASSERT_INVALID(api->record_append(f.cache, &ad, &bad_rec));
    bad_rec = rec, bad_rec.command_buffer = NULL;
    ASSERT_INVALID(api->record_append(f.cache, &ad, &bad_rec));
    ASSERT_INVALID(api->record_append(f.cache, &ad, NULL));
    TEST_SPARQ_OK(api->record_append(f.cache, &ad, &rec));
    uint32_t len = 0;
    TEST_SPARQ_OK(api->cache_get_lengths(f.cache, 0, 1, &len));
    assert_int_equal(len, 1); /* advanced at record time */

    float q[HEADS * DH] = {1.0f}, out[HEADS * DH];
    sparq_attend_desc at = {.struct_size = sizeof at, .n_slots = 1, .slots = &slot0, .n_heads = HEADS, .q = q,
                            .out = out};
    ASSERT_INVALID(api->record_attend(f.cache, &at, &rec)); /* out in host memory */
    at.out = NULL;
    at.out_device = integration_tensor(&f.buf, 8192, q_bytes);
    sparq_attend_stats stats = {.struct_size = sizeof stats};
    at.stats = &stats;
    ASSERT_INVALID(api->record_attend(f.cache, &at, &rec)); /* stats are not produced */
    at.stats = NULL;
    TEST_SPARQ_OK(api->record_attend(f.cache, &at, &rec)); /* host-memory q is copied at record time */

    /* NULL objects and structs, and struct sizes no host can pass. */
    ASSERT_INVALID(api->record_append(NULL, &ad, &rec));
    ASSERT_INVALID(api->record_attend(NULL, &at, &rec));
    ASSERT_INVALID(api->record_attend(f.cache, NULL, &rec));
    ASSERT_INVALID(api->submit_append(NULL, &ad, &(sparq_vulkan_submit){.struct_size = sizeof(sparq_vulkan_submit)}));
    ASSERT_INVALID(api->submit_attend(f.cache, &at, NULL));
    const uint32_t bad_sizes[] = BAD_STRUCT_SIZES(sparq_vulkan_record);
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        bad_rec = rec, bad_rec.struct_size = bad_sizes[i];
        assert_true(rejected_as_invalid(api->record_attend(f.cache, &at, &bad_rec), "record_attend", bad_sizes[i]));
    }
    sparq_append_desc cut = ad;
    cut.struct_size = 64; /* inside k_device: between the 1.0 and 1.1 sizes */
    ASSERT_INVALID(api->record_append(f.cache, &cut, &rec));
    TEST_SPARQ_OK(api->cache_get_lengths(f.cache, 0, 1, &len));
    assert_int_equal(len, 1); /* none of it appended */

    sparq_vulkan_submit sub = {.struct_size = sizeof sub, .frame = 0, .signal_count = 1};
    ASSERT_INVALID(api->submit_attend(f.cache, &at, &sub)); /* signal_count without arrays */
    uint64_t zero = 0, one = 1;
    sub.signal_semaphores = &zero, sub.signal_values = &one;
    ASSERT_INVALID(api->submit_attend(f.cache, &at, &sub)); /* a null semaphore */
    fixture_down(&f);
}

static void test_import_without_queue(void **state)
{
    (void)state;
    fixture f;
    fixture_up(&f, false);
    sparq_append_desc ad = one_token_append(&f);
    ASSERT_REJECTED(api->cache_append(f.cache, &ad), SPARQ_ERROR_NOT_SUPPORTED);
    ASSERT_MESSAGE_NAMES("queue");
    sparq_vulkan_submit sub = {.struct_size = sizeof sub};
    ASSERT_REJECTED(api->submit_append(f.cache, &ad, &sub), SPARQ_ERROR_NOT_SUPPORTED);
    /* Recording works: the V-sum clear is recorded by the first call. */
    sparq_vulkan_record rec = {.struct_size = sizeof rec, .command_buffer = f.cmd};
    TEST_SPARQ_OK(api->record_append(f.cache, &ad, &rec));
    sparq_attend_desc at = {.struct_size = sizeof at, .mode = SPARQ_ATTENTION_DENSE, .n_slots = 1, .slots = &slot0,
                            .n_heads = HEADS, .q_device = integration_tensor(&f.buf, 4096, q_bytes),
                            .out_device = integration_tensor(&f.buf, 8192, q_bytes)};
    memset((char *)f.buf.map + 8192, 0xff, q_bytes); /* NaN */
    TEST_SPARQ_OK(api->record_attend(f.cache, &at, &rec));
    fixture_run(&f);
    /* With one position, attention returns that position's V (f16-rounded
     * by the cache's default storage) for every query head. */
    const float *v = (const float *)((char *)f.buf.map + kv_bytes), *out = (const float *)((char *)f.buf.map + 8192);
    for (unsigned h = 0; h < HEADS; h++)
        for (unsigned d = 0; d < DH; d++)
            assert_float_equal(out[h * DH + d], v[(h / (HEADS / KV)) * DH + d], 1e-3);
    fixture_down(&f);
}

int main(void)
{
    api = test_plugin_api();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_features),
        cmocka_unit_test(test_malformed_imports),
        cmocka_unit_test(test_bad_device_tensors),
        cmocka_unit_test(test_bad_recording),
        cmocka_unit_test(test_import_without_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
