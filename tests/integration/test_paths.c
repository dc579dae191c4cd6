/*
 * The same decode sequence (a prefill, then single-token steps, each step a
 * dense and a SparQ attend) through every way of calling the plugin:
 *   host      the plugin's own device, host memory (the reference path)
 *   imported  the host's device, host memory, blocking calls
 *   device    the host's device, device tensors, blocking calls
 *   recorded  record_append / record_attend into the host's command buffers
 *   recorded_host_inputs  the same with K/V (f16 for the steps) and q in
 *             host memory, copied at record time; out still a device tensor
 *   submitted submit_append / submit_attend with timeline semaphores
 * Every path must give bit-identical outputs: the kernels, their inputs and
 * the split plans are the same, only where the bytes come from differs.
 * K/V come in both layouts a device tensor allows (V right after K: read in
 * place; separate buffers: gathered on the GPU). Outputs are poisoned first.
 */
#include "integration_host.h"
#include "test_plugin.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum { SLOTS = 2, KV = 2, HEADS = 4, DH = 64, PREFILL = 24, STEPS = 6, CAPACITY = 64, FRAMES = 4 };
#define ROW (KV * DH)           /* floats of K (or V) per token and slot */
#define QROW (HEADS * DH)       /* floats of q (or out) per slot */
#define PREFILL_FLOATS (SLOTS * PREFILL * ROW)
#define STEP_FLOATS (SLOTS * ROW)
#define Q_FLOATS (SLOTS * QROW)

typedef enum path {
    PATH_HOST,
    PATH_IMPORTED,
    PATH_DEVICE,
    PATH_RECORDED,
    PATH_SUBMITTED,
    PATH_RECORDED_HOST_INPUTS,
    PATH_COUNT
} path;
static const char *const path_names[] = {"host", "imported", "device", "recorded", "submitted",
                                         "recorded_host_inputs"};

/* Inputs of the whole sequence, and the outputs each path produced:
 * out[path][step][mode: 0 dense, 1 SparQ][Q_FLOATS]. */
static float prefill_k[PREFILL_FLOATS], prefill_v[PREFILL_FLOATS];
static float step_k[STEPS][STEP_FLOATS], step_v[STEPS][STEP_FLOATS];
static float step_q[STEPS][Q_FLOATS];
/* The steps' K/V as f16 too, with step_k/step_v holding their f32 values,
 * so the f16 conversion at record time is exercised with equal inputs. */
static uint16_t step_k16[STEPS][STEP_FLOATS], step_v16[STEPS][STEP_FLOATS];
static float outputs[PATH_COUNT][STEPS][2][Q_FLOATS];

static const uint32_t slots[SLOTS] = {1, 0}; /* not in order: entries map to slots */

static double gaussian(unsigned long long *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
        u[i] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* K with two outlier channels, V plain, q heavy-tailed. */
static void fill_k(unsigned long long *s, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(gaussian(s) * (i % DH == 5 || i % DH == 50 ? 5.0 : 1.0));
}

/* Round to nearest even binary16 (inputs here are normal and small). */
static uint16_t to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffffu;
    if (exp <= 0)
        return (uint16_t)sign; /* not reached by these inputs: flush */
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static float from_half(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t x = exp == 0 ? sign : sign | ((exp - 15 + 127) << 23) | (mant << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static void round_through_half(float *x, uint16_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = to_half(x[i]);
        x[i] = from_half(h[i]);
    }
}

static void fill_inputs(void)
{
    unsigned long long s = 0x1234abcdULL;
    fill_k(&s, prefill_k, PREFILL_FLOATS);
    for (size_t i = 0; i < PREFILL_FLOATS; i++)
        prefill_v[i] = (float)gaussian(&s);
    for (int t = 0; t < STEPS; t++) {
        fill_k(&s, step_k[t], STEP_FLOATS);
        for (size_t i = 0; i < STEP_FLOATS; i++)
            step_v[t][i] = (float)gaussian(&s);
        for (size_t i = 0; i < Q_FLOATS; i++)
            step_q[t][i] = (float)(gaussian(&s) * (1.0 + 2.0 * fabs(gaussian(&s))));
        round_through_half(step_k[t], step_k16[t], STEP_FLOATS);
        round_through_half(step_v[t], step_v16[t], STEP_FLOATS);
    }
}

static sparq_attend_desc attend_desc(int sparq)
{
    /* SparQ with k < S: the selection kernels really choose. */
    sparq_attend_desc d = {.struct_size = sizeof d, .mode = sparq ? SPARQ_ATTENTION_SPARQ : SPARQ_ATTENTION_DENSE,
                           .n_slots = SLOTS, .slots = slots, .n_heads = HEADS};
    if (sparq)
        d.r = 8, d.k = 12, d.l = 3;
    return d;
}

/* The host's buffers of the device-tensor paths (host-visible, so the
 * test reads and writes them directly). */
typedef struct tensors {
    host_buffer kv;     /* prefill K then V; then per step K then V: V right after K */
    host_buffer v_apart; /* the same V data at the same offsets, for the gathered layout */
    host_buffer q;      /* [STEPS][Q_FLOATS] */
    host_buffer out;    /* [STEPS][2][Q_FLOATS] */
} tensors;

static VkDeviceSize prefill_at(int which) /* 0 = K, 1 = V */
{
    return (VkDeviceSize)which * PREFILL_FLOATS * sizeof(float);
}

static VkDeviceSize step_at(int t, int which)
{
    return (2 * (VkDeviceSize)PREFILL_FLOATS + (2 * (VkDeviceSize)t + which) * STEP_FLOATS) * sizeof(float);
}

static VkDeviceSize out_at(int t, int mode)
{
    return ((VkDeviceSize)t * 2 + mode) * Q_FLOATS * sizeof(float);
}

static void make_tensors(host_vulkan *vk, tensors *x)
{
    const VkDeviceSize kv_bytes = step_at(STEPS, 0);
    assert_int_equal(host_buffer_create(vk, kv_bytes, true, &x->kv), 0);
    assert_int_equal(host_buffer_create(vk, kv_bytes, true, &x->v_apart), 0);
    assert_int_equal(host_buffer_create(vk, (VkDeviceSize)STEPS * Q_FLOATS * sizeof(float), true, &x->q), 0);
    assert_int_equal(host_buffer_create(vk, out_at(STEPS, 0), true, &x->out), 0);
    char *kv = x->kv.map, *va = x->v_apart.map;
    memcpy(kv + prefill_at(0), prefill_k, sizeof prefill_k);
    memcpy(kv + prefill_at(1), prefill_v, sizeof prefill_v);
    memcpy(va + prefill_at(1), prefill_v, sizeof prefill_v);
    for (int t = 0; t < STEPS; t++) {
        memcpy(kv + step_at(t, 0), step_k[t], sizeof step_k[t]);
        memcpy(kv + step_at(t, 1), step_v[t], sizeof step_v[t]);
        memcpy(va + step_at(t, 1), step_v[t], sizeof step_v[t]);
    }
    memcpy(x->q.map, step_q, sizeof step_q);
    memset(x->out.map, 0xff, out_at(STEPS, 0)); /* NaN */
}

static void free_tensors(host_vulkan *vk, tensors *x)
{
    host_buffer_destroy(vk, &x->kv);
    host_buffer_destroy(vk, &x->v_apart);
    host_buffer_destroy(vk, &x->q);
    host_buffer_destroy(vk, &x->out);
}

/* The append of the prefill (t < 0) or of step t as device tensors. The
 * prefill reads V in place on odd `variant`s, steps on even ones. */
static sparq_append_desc device_append(const tensors *x, int t, int in_place)
{
    const VkDeviceSize bytes = (t < 0 ? PREFILL_FLOATS : STEP_FLOATS) * sizeof(float);
    const VkDeviceSize k_at = t < 0 ? prefill_at(0) : step_at(t, 0), v_at = t < 0 ? prefill_at(1) : step_at(t, 1);
    sparq_append_desc d = {.struct_size = sizeof d, .n_slots = SLOTS, .slots = slots,
                           .n_tokens = t < 0 ? PREFILL : 1,
                           .k_device = integration_tensor(&x->kv, k_at, bytes),
                           .v_device = integration_tensor(in_place ? &x->kv : &x->v_apart, v_at, bytes)};
    return d;
}

static sparq_cache *make_cache(sparq_context *ctx)
{
    const sparq_api *api = test_plugin_api();
    sparq_cache_desc kd = {.struct_size = sizeof kd, .n_seqs = SLOTS, .n_kv_heads = KV, .head_dim = DH,
                           .capacity = CAPACITY, .frames_in_flight = FRAMES};
    sparq_cache *cache = NULL;
    TEST_SPARQ_OK(api->cache_create(ctx, &kd, &cache));
    return cache;
}

/* Host memory, blocking: the plugin's own device or the imported one. */
static void run_host_memory(sparq_context *ctx, float out[STEPS][2][Q_FLOATS])
{
    const sparq_api *api = test_plugin_api();
    sparq_cache *cache = make_cache(ctx);
    sparq_append_desc ad = {.struct_size = sizeof ad, .n_slots = SLOTS, .slots = slots, .n_tokens = PREFILL,
                            .k = prefill_k, .v = prefill_v};
    TEST_SPARQ_OK(api->cache_append(cache, &ad));
    for (int t = 0; t < STEPS; t++) {
        ad.n_tokens = 1, ad.k = step_k[t], ad.v = step_v[t];
        TEST_SPARQ_OK(api->cache_append(cache, &ad));
        for (int mode = 0; mode < 2; mode++) {
            sparq_attend_desc at = attend_desc(mode);
            at.q = step_q[t];
            at.out = out[t][mode];
            TEST_SPARQ_OK(api->attend(cache, &at));
        }
    }
    TEST_SPARQ_OK(api->cache_destroy(cache));
}

/* Device tensors, blocking calls. */
static void run_device(sparq_context *ctx, tensors *x)
{
    const sparq_api *api = test_plugin_api();
    sparq_cache *cache = make_cache(ctx);
    sparq_append_desc ad = device_append(x, -1, 0);
    TEST_SPARQ_OK(api->cache_append(cache, &ad));
    for (int t = 0; t < STEPS; t++) {
        ad = device_append(x, t, 1);
        TEST_SPARQ_OK(api->cache_append(cache, &ad));
        for (int mode = 0; mode < 2; mode++) {
            sparq_attend_desc at = attend_desc(mode);
            at.q_device = integration_tensor(&x->q, (VkDeviceSize)t * Q_FLOATS * sizeof(float), Q_FLOATS * 4);
            at.out_device = integration_tensor(&x->out, out_at(t, mode), Q_FLOATS * sizeof(float));
            TEST_SPARQ_OK(api->attend(cache, &at));
        }
    }
    TEST_SPARQ_OK(api->cache_destroy(cache));
}

/* Recorded into the host's command buffer: one submit per step, frames
 * rotating: the step's append and dense attend in frame 2t % FRAMES, its
 * SparQ attend in the next one. */
static void run_recorded(host_vulkan *vk, sparq_context *ctx, tensors *x, int host_inputs)
{
    const sparq_api *api = test_plugin_api();
    sparq_cache *cache = make_cache(ctx);
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .queueFamilyIndex = vk->queue_family};
    assert_int_equal(vkCreateCommandPool(vk->device, &pi, NULL, &pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    assert_int_equal(vkAllocateCommandBuffers(vk->device, &ai, &cmd), VK_SUCCESS);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    assert_int_equal(vkCreateFence(vk->device, &fi, NULL, &fence), VK_SUCCESS);

    for (int t = -1; t < STEPS; t++) {
        assert_int_equal(vkResetCommandPool(vk->device, pool, 0), VK_SUCCESS);
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        assert_int_equal(vkBeginCommandBuffer(cmd, &bi), VK_SUCCESS);
        const uint32_t frame = (uint32_t)(2 * (t + 1)) % FRAMES;
        sparq_vulkan_record rec = {.struct_size = sizeof rec, .frame = frame, .command_buffer = cmd};
        sparq_append_desc ad = device_append(x, t, t < 0); /* prefill in place, steps gathered */
        if (host_inputs) {
            ad.k_device = ad.v_device = (sparq_device_tensor){0};
            if (t < 0)
                ad.k = prefill_k, ad.v = prefill_v;
            else
                ad.k = step_k16[t], ad.v = step_v16[t], ad.dtype = SPARQ_DTYPE_F16;
        }
        TEST_SPARQ_OK(api->record_append(cache, &ad, &rec));
        for (int mode = 0; mode < 2 && t >= 0; mode++) {
            sparq_attend_desc at = attend_desc(mode);
            if (host_inputs)
                at.q = step_q[t];
            else
                at.q_device = integration_tensor(&x->q, (VkDeviceSize)t * Q_FLOATS * sizeof(float), Q_FLOATS * 4);
            at.out_device = integration_tensor(&x->out, out_at(t, mode), Q_FLOATS * sizeof(float));
            rec.frame = (frame + (uint32_t)mode) % FRAMES;
            TEST_SPARQ_OK(api->record_attend(cache, &at, &rec));
        }
        assert_int_equal(vkEndCommandBuffer(cmd), VK_SUCCESS);
        VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
        assert_int_equal(vkQueueSubmit(vk->queue, 1, &si, fence), VK_SUCCESS);
        assert_int_equal(vkWaitForFences(vk->device, 1, &fence, VK_TRUE, UINT64_MAX), VK_SUCCESS);
        assert_int_equal(vkResetFences(vk->device, 1, &fence), VK_SUCCESS);
    }
    vkDestroyFence(vk->device, fence, NULL);
    vkDestroyCommandPool(vk->device, pool, NULL);
    TEST_SPARQ_OK(api->cache_destroy(cache));
}

/* Submitted by the plugin, chained by one timeline semaphore; the host
 * waits once, at the end. */
static void run_submitted(host_vulkan *vk, sparq_context *ctx, tensors *x)
{
    const sparq_api *api = test_plugin_api();
    sparq_cache *cache = make_cache(ctx);
    VkSemaphoreTypeCreateInfo type = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                      .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE};
    VkSemaphoreCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &type};
    VkSemaphore timeline;
    assert_int_equal(vkCreateSemaphore(vk->device, &si, NULL, &timeline), VK_SUCCESS);
    const uint64_t sem = SPARQ_VK_HANDLE(timeline);
    uint64_t value = 0;
    for (int t = -1; t < STEPS; t++) {
        const uint32_t frame = (uint32_t)(t + 1) % FRAMES;
        uint64_t wait = value, signal = ++value;
        sparq_vulkan_submit sub = {.struct_size = sizeof sub, .frame = frame, .wait_count = wait ? 1 : 0,
                                   .signal_count = 1, .wait_semaphores = &sem, .wait_values = &wait,
                                   .signal_semaphores = &sem, .signal_values = &signal};
        sparq_append_desc ad = device_append(x, t, t >= 0);
        TEST_SPARQ_OK(api->submit_append(cache, &ad, &sub));
        for (int mode = 0; mode < 2 && t >= 0; mode++) {
            wait = value, signal = ++value;
            sub.wait_count = 1;
            sparq_attend_desc at = attend_desc(mode);
            at.q_device = integration_tensor(&x->q, (VkDeviceSize)t * Q_FLOATS * sizeof(float), Q_FLOATS * 4);
            at.out_device = integration_tensor(&x->out, out_at(t, mode), Q_FLOATS * sizeof(float));
            /* Dense and SparQ attends of a step use different frames. */
            sub.frame = (frame + (uint32_t)mode * 2) % FRAMES;
            TEST_SPARQ_OK(api->submit_attend(cache, &at, &sub));
        }
    }
    VkSemaphoreWaitInfo wi = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1,
                              .pSemaphores = &timeline, .pValues = &value};
    assert_int_equal(vkWaitSemaphores(vk->device, &wi, UINT64_MAX), VK_SUCCESS);
    TEST_SPARQ_OK(api->cache_destroy(cache));
    /* Every batch that used the semaphore has completed (cache_destroy
     * waited for the plugin's fences), so destroying it now is valid. With
     * the validation layers of this Debian release (1.3.239) on lavapipe,
     * doing so right away leaves the next submission on the queue hung
     * about one run in eight; never without the layers, never after an
     * idle wait. The wait is for that, not for the plugin. */
    vkQueueWaitIdle(vk->queue);
    vkDestroySemaphore(vk->device, timeline, NULL);
}

static void expect_identical(path p)
{
    unsigned differ = 0, unwritten = 0;
    for (int t = 0; t < STEPS; t++)
        for (int mode = 0; mode < 2; mode++)
            for (int i = 0; i < Q_FLOATS; i++) {
                const float a = outputs[PATH_HOST][t][mode][i], b = outputs[p][t][mode][i];
                unwritten += !isfinite(b);
                if (memcmp(&a, &b, sizeof a) != 0 && differ++ < 5)
                    print_error("%s: step %d %s element %d is %.9g, the host-memory path gave %.9g\n", path_names[p],
                                t, mode ? "SparQ" : "dense", i, (double)b, (double)a);
            }
    print_message("  %s path: %u of %u outputs differ from the host-memory path, %u unwritten\n", path_names[p], differ,
                  STEPS * 2 * Q_FLOATS, unwritten);
    assert_int_equal(unwritten, 0);
    assert_int_equal(differ, 0);
}

static void test_every_path_is_bit_identical(void **state)
{
    (void)state;
    fill_inputs();
    memset(outputs, 0xff, sizeof outputs);

    /* The host's instance first: the loader unloads the validation layer
     * when its last instance goes, and this layer version does not always
     * survive being unloaded and loaded again in one process (see
     * docs/RELIABILITY.md), so one instance stays for the whole test. */
    host_vulkan vk;
    assert_int_equal(host_vulkan_create(&vk, NULL), 0);

    sparq_context *own = test_plugin_context(NULL);
    assert_non_null(own);
    run_host_memory(own, outputs[PATH_HOST]);
    TEST_SPARQ_OK(test_plugin_api()->context_destroy(own));
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < Q_FLOATS; i++)
            assert_true(isfinite(outputs[PATH_HOST][t][0][i]) && isfinite(outputs[PATH_HOST][t][1][i]));

    sparq_vulkan_import import = integration_import(&vk);
    sparq_context *ctx = integration_context(&import);
    assert_non_null(ctx);

    run_host_memory(ctx, outputs[PATH_IMPORTED]);
    expect_identical(PATH_IMPORTED);

    const path device_paths[] = {PATH_DEVICE, PATH_RECORDED, PATH_SUBMITTED, PATH_RECORDED_HOST_INPUTS};
    for (int r = 0; r < 4; r++) {
        tensors x;
        make_tensors(&vk, &x);
        if (device_paths[r] == PATH_DEVICE)
            run_device(ctx, &x);
        else if (device_paths[r] == PATH_SUBMITTED)
            run_submitted(&vk, ctx, &x);
        else
            run_recorded(&vk, ctx, &x, device_paths[r] == PATH_RECORDED_HOST_INPUTS);
        memcpy(outputs[device_paths[r]], x.out.map, sizeof outputs[0]);
        free_tensors(&vk, &x);
        expect_identical(device_paths[r]);
    }

    TEST_SPARQ_OK(test_plugin_api()->context_destroy(ctx));
    integration_assert_no_validation_errors(&vk);
    host_vulkan_destroy(&vk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_path_is_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
