/*
 * fuzz_abi.c - drives the public ABI with programs read from fuzz inputs.
 *
 * Each input is a short program: create caches with arbitrary descriptors,
 * append, truncate, reset, read, attend with arbitrary arguments, NULL
 * pointers and odd struct sizes. The harness keeps its own model of every
 * slot's length and checks, after every call:
 *  - the status is success or an error the ABI documents for bad input;
 *    SPARQ_ERROR_INTERNAL and Vulkan errors are bugs;
 *  - a failed call left a message and changed no length;
 *  - a call the model knows is valid succeeded, one it knows is invalid
 *    failed, and a successful one changed the lengths as documented;
 *  - attend on finite data wrote every output element, within the range of
 *    the stored values, and selected positions that exist.
 * Host buffers are always exactly as large as the descriptor claims (see
 * fuzz_host_memory.h), so any out-of-bounds access is the plugin's.
 *
 * ABI 1.1 on this plugin-created context: opcodes 240..247 (byte values no
 * stored input uses as an opcode, so the older corpus decodes as before)
 * drive cache_create with frames_in_flight, append and attend with device
 * tensors, record_append / record_attend / submit_append / submit_attend,
 * and the 1.0 and in-between sizes of the structs that grew. Device tensors
 * and recorded or submitted calls need an imported context, so here they
 * must all be refused, change no length, and never touch the command
 * buffers and semaphores the input makes up.
 *
 * The plugin is loaded once (SPARQ_PLUGIN_PATH) with one context on the
 * CPU device, which lives for the whole process; caches live for one input.
 */
#include "fuzz_bytes.h"
#include "fuzz_host_memory.h"

#include <sparq/sparq.h>
#include <sparq/sparq_vulkan.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    MAX_CACHES = 4,
    MAX_SLOT_LIST = 64,   /* slot lists longer than this are not worth the time */
    CHECKED_SLOTS = 64,   /* lengths compared after every call */
    DESC_ROOM = 256,      /* bytes behind every descriptor pointer */
    MAX_OPS = 48,
};
/* Caches the plugin would legitimately allocate for are kept to this many
 * elements per K/V tensor; invalid descriptors are passed as they are. */
#define MAX_CACHE_ELEMENTS (1u << 20)

#define FUZZ_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_abi: invariant broken at %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n  last_error: %s\n", api->last_error());                        \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

typedef struct model_cache {
    sparq_cache *cache;
    uint32_t n_seqs, n_kv_heads, head_dim, capacity;
    uint32_t frames;   /* frames_in_flight as created (0 counted as 1) */
    uint32_t *lengths; /* [n_seqs] what every slot's length must be */
    int finite;        /* every stored K/V value is finite and in [-1, 1] */
} model_cache;

static const sparq_api *api;
static sparq_context *context;
static model_cache caches[MAX_CACHES];
static int trace; /* SPARQ_FUZZ_TRACE=1: print every call and its status */
static int has11; /* the table has the four ABI 1.1 entries */

/* The sizes the grown structs had in ABI 1.0; the header pins the 1.1 ones. */
enum {
    CACHE_DESC_SIZE_1_0 = 24,
    APPEND_DESC_SIZE_1_0 = 40,
    ATTEND_DESC_SIZE_1_0 = 104,
};
_Static_assert(offsetof(sparq_cache_desc, frames_in_flight) == CACHE_DESC_SIZE_1_0, "1.0 size of sparq_cache_desc");
_Static_assert(offsetof(sparq_append_desc, k_device) == APPEND_DESC_SIZE_1_0, "1.0 size of sparq_append_desc");
_Static_assert(offsetof(sparq_attend_desc, q_device) == ATTEND_DESC_SIZE_1_0, "1.0 size of sparq_attend_desc");

/* How an append or attend descriptor is passed: the 1.0 blocking call as
 * the older corpus drives it, or one of the ways ABI 1.1 added. */
typedef enum call_kind {
    CALL_BLOCKING,   /* 1.0 sizes and fields, as before */
    CALL_BLOCKING11, /* the blocking call with device tensors and any size */
    CALL_RECORD,     /* record_append / record_attend */
    CALL_SUBMIT,     /* submit_append / submit_attend */
} call_kind;

/* ------------------------------------------------------------------------ */
/* Setup, once per process                                                  */
/* ------------------------------------------------------------------------ */

static void on_message(void *user, sparq_severity severity, const char *message)
{
    (void)user;
    if (severity >= SPARQ_SEVERITY_ERROR) {
        fprintf(stderr, "fuzz_abi: error message from the plugin: %s\n", message);
        abort();
    }
}

static void load_plugin_once(void)
{
    if (api)
        return;
    trace = getenv("SPARQ_FUZZ_TRACE") && atoi(getenv("SPARQ_FUZZ_TRACE")) != 0;
    const char *path = getenv("SPARQ_PLUGIN_PATH");
    if (!path || !*path) {
        fprintf(stderr, "fuzz_abi: set SPARQ_PLUGIN_PATH to libsparq_vk.so\n");
        exit(2);
    }
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "fuzz_abi: dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    sparq_entry_fn entry = (sparq_entry_fn)dlsym(so, SPARQ_ENTRY_SYMBOL);
    const char *why = NULL;
    if (!entry || entry(SPARQ_ABI_VERSION_MAJOR, &api, &why) != SPARQ_SUCCESS) {
        fprintf(stderr, "fuzz_abi: no ABI %u table: %s\n", SPARQ_ABI_VERSION_MAJOR, why ? why : "no entry");
        exit(2);
    }
    /* The CPU device keeps runs comparable between machines; validation
     * only when SPARQ_VALIDATION=1 asks for it (the replay test does). */
    sparq_context_desc desc = {
        .struct_size = sizeof desc,
        .device = "llvmpipe",
        .message_callback = on_message,
    };
    /* The 1.1 opcodes are skipped (not failed) on a 1.0 table, so the
     * harness still runs against an older plugin. */
    has11 = SPARQ_API_HAS(api, record_append) && SPARQ_API_HAS(api, record_attend) &&
            SPARQ_API_HAS(api, submit_append) && SPARQ_API_HAS(api, submit_attend);
    if (api->context_create(&desc, &context) != SPARQ_SUCCESS) {
        desc.device = NULL;
        if (api->context_create(&desc, &context) != SPARQ_SUCCESS) {
            fprintf(stderr, "fuzz_abi: no context: %s\n", api->last_error());
            exit(2);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Invariants shared by every call                                          */
/* ------------------------------------------------------------------------ */

/* Errors that bad input may legitimately produce. */
static int is_input_error(sparq_status s)
{
    return s == SPARQ_ERROR_INVALID_ARGUMENT || s == SPARQ_ERROR_NOT_SUPPORTED || s == SPARQ_ERROR_CAPACITY_EXCEEDED ||
           s == SPARQ_ERROR_OUT_OF_HOST_MEMORY || s == SPARQ_ERROR_OUT_OF_DEVICE_MEMORY;
}

static void check_status(sparq_status s, const char *call)
{
    if (trace)
        fprintf(stderr, "  %s -> %d%s%s\n", call, (int)s, s ? ": " : "", s ? api->last_error() : "");
    if (s == SPARQ_SUCCESS)
        return;
    FUZZ_CHECK(is_input_error(s), "%s returned status %d", call, (int)s);
    const char *message = api->last_error();
    FUZZ_CHECK(message && *message, "%s failed with status %d and no message", call, (int)s);
}

static void check_lengths(const model_cache *m, const char *after)
{
    if (!m->cache)
        return;
    uint32_t count = m->n_seqs < CHECKED_SLOTS ? m->n_seqs : CHECKED_SLOTS;
    uint32_t lengths[CHECKED_SLOTS];
    sparq_status s = api->cache_get_lengths(m->cache, 0, count, lengths);
    FUZZ_CHECK(s == SPARQ_SUCCESS, "cache_get_lengths(0, %u) after %s: status %d", count, after, (int)s);
    for (uint32_t i = 0; i < count; i++)
        FUZZ_CHECK(lengths[i] == m->lengths[i], "after %s slot %u has length %u, expected %u", after, i, lengths[i],
                   m->lengths[i]);
}

static model_cache *pick_cache(fuzz_bytes *in)
{
    return &caches[fuzz_u8(in) % MAX_CACHES];
}

static int dtype_is_valid(uint32_t dtype)
{
    return dtype <= SPARQ_DTYPE_F32;
}

static uint32_t fuzz_dtype(fuzz_bytes *in)
{
    uint8_t pick = fuzz_u8(in);
    return pick < 240 ? pick % 3u : fuzz_u32(in);
}

static uint64_t dtype_bytes(uint32_t dtype)
{
    return dtype == SPARQ_DTYPE_F16 ? 2 : 4;
}

/* ------------------------------------------------------------------------ */
/* ABI 1.1 inputs                                                           */
/* ------------------------------------------------------------------------ */

/* A struct that grew in 1.1 is readable at exactly its 1.0 size (the new
 * fields then read as 0) or at least its 1.1 size; anything between would
 * cut a new field in two and is INVALID_ARGUMENT. */
static int grown_size_ok(uint32_t size, uint32_t size_1_0, uint32_t size_1_1)
{
    return size == size_1_0 || size >= size_1_1;
}

static int grown_size_between(uint32_t size, uint32_t size_1_0, uint32_t size_1_1)
{
    return size > size_1_0 && size < size_1_1;
}

/* A struct_size for a grown struct: the 1.1 size, the 1.0 size, any size
 * between them, below 1.0, larger than 1.1, or arbitrary (at most `room`). */
static uint32_t fuzz_grown_size(fuzz_bytes *in, uint32_t size_1_0, uint32_t size_1_1, uint32_t room)
{
    uint8_t pick = fuzz_u8(in);
    uint32_t v;
    if (pick < 160)
        v = size_1_1;
    else if (pick < 184)
        v = size_1_0;
    else if (pick < 208)
        v = size_1_0 + 1u + fuzz_u8(in) % (size_1_1 - size_1_0 - 1u);
    else if (pick < 216)
        v = size_1_0 - 1u - (pick & 3u);
    else if (pick < 232)
        v = size_1_1 + 8u * (pick & 7u);
    else
        v = fuzz_raw32(in);
    return v > room ? room : v;
}

static uint64_t fuzz_raw64(fuzz_bytes *in)
{
    uint64_t lo = fuzz_raw32(in);
    return lo | (uint64_t)fuzz_raw32(in) << 32;
}

/* Heap blocks that were freed at once: a plugin that dereferences a handle
 * made from one is reported by AddressSanitizer as a use after free. */
static uintptr_t dangling_address(void)
{
    void *p = malloc(16);
    FUZZ_CHECK(p != NULL, "host out of memory");
    uintptr_t address = (uintptr_t)p;
    free(p);
    return address;
}

/* A Vulkan handle value (VkBuffer, VkSemaphore) the host never created:
 * small integers, addresses that look like real handles, edges, anything.
 * Zero is VK_NULL_HANDLE. */
static uint64_t fuzz_handle(fuzz_bytes *in)
{
    uint8_t pick = fuzz_u8(in);
    if (pick < 32)
        return 0;
    if (pick < 128)
        return 1u + (pick & 15u);
    if (pick < 192)
        return dangling_address();
    if (pick < 224)
        return fuzz_u32(in);
    return fuzz_raw64(in);
}

/* A device tensor: unused (all zero), buffer 0 with stray offset/size, or
 * a made-up buffer with an offset and size that are aligned and large
 * enough or not. */
static sparq_device_tensor fuzz_device_tensor(fuzz_bytes *in)
{
    sparq_device_tensor t = {0};
    uint8_t pick = fuzz_u8(in);
    if (pick < 96)
        return t;
    t.buffer = pick < 112 ? 0 : fuzz_handle(in);
    if (pick < 240) {
        t.offset = (uint64_t)fuzz_u32(in) * (pick & 1 ? 1u : SPARQ_DEVICE_TENSOR_ALIGNMENT);
        t.size = (uint64_t)fuzz_u32(in) << ((pick & 6u) * 4u);
    } else {
        t.offset = fuzz_raw64(in);
        t.size = fuzz_raw64(in);
    }
    return t;
}

static int tensor_is_zero(const sparq_device_tensor *t)
{
    return t->buffer == 0 && t->offset == 0 && t->size == 0;
}

/* A VkCommandBuffer (a dispatchable handle, so a pointer) the host never
 * created: NULL, a 1-byte heap block (the loader would read a dispatch
 * table pointer out of it: a heap overflow), a freed block, or any value. */
static void *fuzz_command_buffer(fuzz_bytes *in)
{
    uint8_t pick = fuzz_u8(in);
    if (pick < 32)
        return NULL;
    if (pick < 128)
        return fuzz_host_buffer(1);
    if (pick < 192)
        return (void *)dangling_address();
    return (void *)(uintptr_t)(pick < 224 ? fuzz_u32(in) : fuzz_raw64(in));
}

/* A frame index: mostly one the cache has, sometimes past it. */
static uint32_t fuzz_frame(fuzz_bytes *in, const model_cache *m)
{
    uint8_t pick = fuzz_u8(in);
    uint32_t frames = m->frames ? m->frames : 1;
    return pick < 192 ? pick % frames : fuzz_u32(in);
}

/* An array of `count` semaphores or values in exactly that much host
 * memory (the plugin may read it), or NULL. Returns 0 if the harness
 * cannot provide it (the call is then not made). */
static int fuzz_u64_array(fuzz_bytes *in, uint32_t count, int null, int handles, const uint64_t **out)
{
    *out = NULL;
    if (null)
        return 1;
    uint64_t *a = fuzz_host_buffer(fuzz_mul(count, sizeof *a));
    if (!a)
        return 0;
    if (!fuzz_host_is_shared(a))
        for (uint32_t i = 0; i < count; i++)
            a[i] = handles ? fuzz_handle(in) : fuzz_raw64(in);
    *out = a;
    return 1;
}

/* The record or submit struct of a recorded or submitted call, in `room`
 * (DESC_ROOM bytes, zero past the struct). Returns 0 if the harness cannot
 * provide the semaphore arrays, and sets *null_struct when the call is to
 * get NULL instead. */
static int fuzz_vulkan_struct(fuzz_bytes *in, const model_cache *m, call_kind kind, uint8_t *room, int *null_struct)
{
    if (kind == CALL_RECORD) {
        sparq_vulkan_record record = {
            .struct_size = fuzz_struct_size(in, sizeof record, DESC_ROOM),
            .frame = fuzz_frame(in, m),
            .command_buffer = fuzz_command_buffer(in),
        };
        memcpy(room, &record, sizeof record);
    } else {
        sparq_vulkan_submit submit = {
            .struct_size = fuzz_struct_size(in, sizeof submit, DESC_ROOM),
            .frame = fuzz_frame(in, m),
        };
        uint8_t flags = fuzz_u8(in);
        /* Counts: mostly 0..SPARQ_VK_MAX_SEMAPHORES + 1, sometimes any. */
        submit.wait_count = flags & 0x40 ? fuzz_u32(in) : fuzz_u8(in) % (SPARQ_VK_MAX_SEMAPHORES + 2u);
        submit.signal_count = flags & 0x80 ? fuzz_u32(in) : fuzz_u8(in) % (SPARQ_VK_MAX_SEMAPHORES + 2u);
        if (!fuzz_u64_array(in, submit.wait_count, flags & 1, 1, &submit.wait_semaphores) ||
            !fuzz_u64_array(in, submit.wait_count, flags & 2, 0, &submit.wait_values) ||
            !fuzz_u64_array(in, submit.signal_count, flags & 4, 1, &submit.signal_semaphores) ||
            !fuzz_u64_array(in, submit.signal_count, flags & 8, 0, &submit.signal_values))
            return 0;
        memcpy(room, &submit, sizeof submit);
    }
    *null_struct = fuzz_u8(in) >= 240;
    return 1;
}

/* Recorded and submitted calls on a context that owns its device: the
 * header says INVALID_ARGUMENT ("each needs a context created with
 * sparq_context_desc.vulkan_import, else SPARQ_ERROR_INVALID_ARGUMENT"),
 * whatever else is wrong; they never succeed here, and the lengths are
 * checked by the caller afterwards. */
static void check_refused_vulkan_call(sparq_status s, const char *call)
{
    check_status(s, call);
    FUZZ_CHECK(s == SPARQ_ERROR_INVALID_ARGUMENT, "%s on a plugin-created context returned %d", call, (int)s);
}

/* record_* or submit_* of an append (`attend` 0) or an attend (1) with a
 * Vulkan struct from the input; on this context it must be refused and
 * store nothing. */
static void try_vulkan_call(fuzz_bytes *in, const model_cache *m, call_kind kind, int attend, const void *desc)
{
    _Alignas(8) uint8_t vk_room[DESC_ROOM] = {0};
    int null_struct = 0;
    if (!fuzz_vulkan_struct(in, m, kind, vk_room, &null_struct))
        return;
    const void *vk = null_struct ? NULL : vk_room;
    static const char *const names[2][2] = {{"record_append", "submit_append"}, {"record_attend", "submit_attend"}};
    const char *name = names[attend][kind == CALL_RECORD ? 0 : 1];
    sparq_status s;
    if (attend)
        s = kind == CALL_RECORD ? api->record_attend(m->cache, desc, vk) : api->submit_attend(m->cache, desc, vk);
    else
        s = kind == CALL_RECORD ? api->record_append(m->cache, desc, vk) : api->submit_append(m->cache, desc, vk);
    check_refused_vulkan_call(s, name);
    check_lengths(m, name);
}

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 11;
}

static uint16_t half_from_unit(double x)
{
    /* Exact halves of the form +-m * 2^-10, m < 1024: enough variety, and no
     * conversion code to get wrong. */
    int m = (int)(fabs(x) * 1023.0);
    uint16_t bits = 0;
    if (m > 0) {
        int e = 0;
        while (m < 1024) {
            m <<= 1;
            e++;
        }
        /* value = m * 2^(-10 - e) with 1024 <= m < 2048 */
        bits = (uint16_t)(((15 - e) << 10) | (m & 1023));
    }
    return (uint16_t)(bits | (x < 0 ? 0x8000u : 0u));
}

/* Fills a host buffer: finite values in [-1, 1], or (when `wild`) arbitrary
 * bit patterns, NaN and infinity included. Returns whether it is finite. */
static int fill(void *p, uint64_t bytes, uint32_t dtype, uint8_t seed, int wild)
{
    if (!p || fuzz_host_is_shared(p))
        return 1;
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    if (dtype == SPARQ_DTYPE_F16) {
        uint16_t *h = p;
        for (uint64_t i = 0; i < bytes / 2; i++) {
            uint64_t r = next_random(&state);
            h[i] = wild ? (uint16_t)r : half_from_unit((double)(r % 2001) / 1000.0 - 1.0);
        }
    } else {
        float *f = p;
        for (uint64_t i = 0; i < bytes / 4; i++) {
            uint64_t r = next_random(&state);
            if (wild) {
                uint32_t bits = (uint32_t)r;
                memcpy(&f[i], &bits, sizeof bits);
            } else {
                f[i] = (float)((double)(r % 2001) / 1000.0 - 1.0);
            }
        }
    }
    return !wild;
}

/* ------------------------------------------------------------------------ */
/* Cache lifetime                                                           */
/* ------------------------------------------------------------------------ */

static void forget_cache(model_cache *m)
{
    free(m->lengths);
    memset(m, 0, sizeof *m);
}

/* with11: the struct_size is any of the 1.0, in-between and 1.1 sizes, and
 * frames_in_flight comes from the input (read last, so that the rest of the
 * descriptor decodes as in the 1.0 opcode). */
static void op_create(fuzz_bytes *in, int with11)
{
    model_cache *m = pick_cache(in);
    _Alignas(8) uint8_t room[DESC_ROOM] = {0};
    sparq_cache_desc desc = {
        .struct_size = with11 ? fuzz_grown_size(in, CACHE_DESC_SIZE_1_0, sizeof desc, DESC_ROOM)
                              : fuzz_struct_size(in, sizeof desc, DESC_ROOM),
        .n_seqs = fuzz_u32(in),
        .n_kv_heads = fuzz_u32(in),
        .head_dim = 8u * (fuzz_u8(in) % 33u),
        .capacity = fuzz_u32(in),
        .storage = (sparq_dtype)fuzz_dtype(in),
    };
    if (fuzz_u8(in) >= 240)
        desc.head_dim = fuzz_u32(in);
    if (with11) {
        uint8_t pick = fuzz_u8(in);
        desc.frames_in_flight = pick < 160 ? pick % (SPARQ_MAX_FRAMES_IN_FLIGHT + 1u)
                                : pick < 224 ? SPARQ_MAX_FRAMES_IN_FLIGHT + 1u + (pick & 15u)
                                             : fuzz_u32(in);
    }
    /* frames_in_flight only counts where the size covers it. */
    uint32_t frames = desc.struct_size >= sizeof desc ? desc.frames_in_flight : 0;
    int between = grown_size_between(desc.struct_size, CACHE_DESC_SIZE_1_0, sizeof desc);
    int valid = grown_size_ok(desc.struct_size, CACHE_DESC_SIZE_1_0, sizeof desc) &&
                frames <= SPARQ_MAX_FRAMES_IN_FLIGHT && desc.n_seqs >= 1 && desc.n_kv_heads >= 1 && desc.head_dim >= 8 &&
                desc.head_dim <= SPARQ_MAX_HEAD_DIM && desc.head_dim % 8 == 0 && desc.capacity >= 1 &&
                desc.capacity <= SPARQ_MAX_CAPACITY && dtype_is_valid(desc.storage);
    if (valid) {
        /* Keep the memory a valid cache takes small: shrink capacity first,
         * then slots, then heads. */
        uint64_t per_position = fuzz_mul(fuzz_mul(desc.n_seqs, desc.n_kv_heads), desc.head_dim);
        if (fuzz_mul(per_position, desc.capacity) > MAX_CACHE_ELEMENTS) {
            if (per_position > MAX_CACHE_ELEMENTS)
                desc.n_seqs = 1 + desc.n_seqs % 8u;
            if ((uint64_t)desc.n_seqs * desc.head_dim * desc.n_kv_heads > MAX_CACHE_ELEMENTS)
                desc.n_kv_heads = 1 + desc.n_kv_heads % 8u;
            per_position = (uint64_t)desc.n_seqs * desc.n_kv_heads * desc.head_dim;
            uint64_t fit = MAX_CACHE_ELEMENTS / per_position;
            if (desc.capacity > fit)
                desc.capacity = (uint32_t)(fit ? fit : 1);
        }
    }
    memcpy(room, &desc, sizeof desc);
    int null_out = fuzz_u8(in) >= 250;

    sparq_cache *cache = (sparq_cache *)(uintptr_t)0x1;
    if (trace && with11)
        fprintf(stderr, "  cache_create: struct_size %u, frames_in_flight %u\n", desc.struct_size,
                desc.frames_in_flight);
    sparq_status s = api->cache_create(context, (const sparq_cache_desc *)room, null_out ? NULL : &cache);
    check_status(s, "cache_create");
    FUZZ_CHECK(!between || s == SPARQ_ERROR_INVALID_ARGUMENT, "cache_create with struct_size %u returned %d",
               desc.struct_size, (int)s);
    if (null_out) {
        FUZZ_CHECK(s != SPARQ_SUCCESS, "cache_create with a NULL output succeeded");
        return;
    }
    if (s != SPARQ_SUCCESS) {
        /* The ABI lets a device (or plugin) impose lower limits than the
         * header's, with any input error status; refusing is always safe.
         * But frames_in_flight in range must not be what is refused: the
         * same cache with the default must then fail too (out of memory
         * aside, which more frames may honestly cause). */
        if (valid && frames != 0 && s != SPARQ_ERROR_OUT_OF_HOST_MEMORY && s != SPARQ_ERROR_OUT_OF_DEVICE_MEMORY) {
            const uint32_t no_frames = 0;
            memcpy(room + offsetof(sparq_cache_desc, frames_in_flight), &no_frames, sizeof no_frames);
            sparq_cache *plain = NULL;
            sparq_status s0 = api->cache_create(context, (const sparq_cache_desc *)room, &plain);
            check_status(s0, "cache_create");
            if (s0 == SPARQ_SUCCESS)
                FUZZ_CHECK(api->cache_destroy(plain) == SPARQ_SUCCESS, "cache_destroy failed");
            FUZZ_CHECK(s0 != SPARQ_SUCCESS, "cache_create refused frames_in_flight %u (status %d) but accepts 0",
                       frames, (int)s);
        }
        return;
    }
    /* Fields past the ones this ABI knows are zero, so a larger
     * struct_size changes nothing about validity. */
    FUZZ_CHECK(valid, "cache_create accepted n_seqs %u, n_kv_heads %u, head_dim %u, capacity %u, storage %u, struct_size %u",
               desc.n_seqs, desc.n_kv_heads, desc.head_dim, desc.capacity, (unsigned)desc.storage, desc.struct_size);
    FUZZ_CHECK(cache != NULL, "cache_create succeeded with a NULL cache");
    if (m->cache) {
        FUZZ_CHECK(api->cache_destroy(m->cache) == SPARQ_SUCCESS, "cache_destroy failed");
        forget_cache(m);
    }
    m->cache = cache;
    m->n_seqs = desc.n_seqs;
    m->n_kv_heads = desc.n_kv_heads;
    m->head_dim = desc.head_dim;
    m->capacity = desc.capacity;
    m->frames = frames ? frames : 1;
    m->lengths = calloc(desc.n_seqs, sizeof *m->lengths);
    m->finite = 1;
    FUZZ_CHECK(m->lengths != NULL, "host out of memory");
    check_lengths(m, "cache_create");
}

static void op_destroy(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    sparq_status s = api->cache_destroy(m->cache);
    FUZZ_CHECK(s == SPARQ_SUCCESS, "cache_destroy(%p) returned %d", (void *)m->cache, (int)s);
    forget_cache(m);
}

/* ------------------------------------------------------------------------ */
/* Slot lists                                                               */
/* ------------------------------------------------------------------------ */

/* A list of n slot indices, mostly in range. Lists longer than
 * MAX_SLOT_LIST live in the shared mapping and read as slot 0 repeated. */
static uint32_t *fuzz_slot_list(fuzz_bytes *in, const model_cache *m, uint32_t n)
{
    uint32_t *slots = fuzz_host_buffer(fuzz_mul(n, sizeof *slots));
    if (!slots || fuzz_host_is_shared(slots))
        return slots;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t pick = fuzz_u8(in);
        slots[i] = pick < 224 && m->n_seqs ? pick % m->n_seqs : fuzz_u32(in);
    }
    return slots;
}

static uint32_t fuzz_slot_count(fuzz_bytes *in)
{
    uint8_t pick = fuzz_u8(in);
    if (pick < 250)
        return pick % 5u;
    return pick == 255 ? fuzz_u32(in) : fuzz_u8(in) % (MAX_SLOT_LIST + 1u);
}

static int slot_list_in_range(const model_cache *m, const uint32_t *slots, uint32_t n)
{
    if (!slots || fuzz_host_is_shared(slots))
        return slots && m->n_seqs >= 1; /* all zeros */
    for (uint32_t i = 0; i < n; i++)
        if (slots[i] >= m->n_seqs)
            return 0;
    return 1;
}

static int slot_list_distinct(const uint32_t *slots, uint32_t n)
{
    if (fuzz_host_is_shared(slots))
        return n <= 1;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (slots[i] == slots[j])
                return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Append, truncate, reset, read, lengths                                   */
/* ------------------------------------------------------------------------ */

/* kind CALL_BLOCKING decodes exactly as before ABI 1.1; the other kinds
 * choose the struct_size among the grown sizes and read the device tensors
 * (and the record or submit struct) after the 1.0 fields. */
static void op_append(fuzz_bytes *in, call_kind kind)
{
    model_cache *m = pick_cache(in);
    uint32_t n_slots = fuzz_slot_count(in);
    uint32_t n_tokens = fuzz_u32(in);
    uint32_t dtype = fuzz_dtype(in);
    uint8_t seed = fuzz_u8(in);
    uint8_t flags = fuzz_u8(in);
    uint32_t *slots = (flags & 1) ? NULL : fuzz_slot_list(in, m, n_slots);
    if (!(flags & 1) && !slots)
        return;
    /* Shape as the host knows it; a NULL cache gets a plausible one. */
    uint64_t row = m->cache ? (uint64_t)m->n_kv_heads * m->head_dim : 64;
    uint64_t bytes = fuzz_mul(fuzz_mul(fuzz_mul(n_slots, n_tokens), row), dtype_bytes(dtype));
    void *k = (flags & 2) ? NULL : fuzz_host_buffer(bytes);
    void *v = (flags & 4) ? NULL : fuzz_host_buffer(bytes);
    if ((!(flags & 2) && !k) || (!(flags & 4) && !v))
        return;
    int wild = (flags & 0x38) == 0x38;
    int finite = fill(k, bytes, dtype, seed, wild) & fill(v, bytes, dtype, (uint8_t)(seed + 1), wild);

    _Alignas(8) uint8_t room[DESC_ROOM] = {0};
    sparq_append_desc desc = {
        .struct_size = kind == CALL_BLOCKING ? fuzz_struct_size(in, sizeof desc, DESC_ROOM)
                                             : fuzz_grown_size(in, APPEND_DESC_SIZE_1_0, sizeof desc, DESC_ROOM),
        .n_slots = n_slots,
        .slots = slots,
        .n_tokens = n_tokens,
        .dtype = (sparq_dtype)dtype,
        .k = k,
        .v = v,
    };
    int null_desc = fuzz_u8(in) >= 250;
    if (kind != CALL_BLOCKING) {
        desc.k_device = fuzz_device_tensor(in);
        desc.v_device = fuzz_device_tensor(in);
    }
    memcpy(room, &desc, sizeof desc);
    /* The device tensors as the plugin sees them: only where the size
     * covers them. A buffer makes the call need an imported context; stray
     * offset/size with buffer 0 may be ignored or refused. */
    int covered = desc.struct_size >= sizeof desc;
    int device = covered && (desc.k_device.buffer || desc.v_device.buffer);
    int stray = covered && !device && !(tensor_is_zero(&desc.k_device) && tensor_is_zero(&desc.v_device));
    int between = grown_size_between(desc.struct_size, APPEND_DESC_SIZE_1_0, sizeof desc);

    int valid = m->cache && grown_size_ok(desc.struct_size, APPEND_DESC_SIZE_1_0, sizeof desc) && n_slots >= 1 &&
                slots && n_tokens >= 1 && dtype_is_valid(dtype) && k && v && slot_list_in_range(m, slots, n_slots) &&
                slot_list_distinct(slots, n_slots) && !null_desc && !device;
    int fits = 1;
    if (valid)
        for (uint32_t i = 0; i < n_slots; i++)
            fits &= (uint64_t)m->lengths[slots[i]] + n_tokens <= m->capacity;

    const sparq_append_desc *pass = null_desc ? NULL : (const sparq_append_desc *)room;
    if (trace && kind != CALL_BLOCKING)
        fprintf(stderr, "  append (kind %d): struct_size %u, k_device %#llx, v_device %#llx%s\n", (int)kind,
                desc.struct_size, (unsigned long long)desc.k_device.buffer, (unsigned long long)desc.v_device.buffer,
                null_desc ? ", NULL desc" : "");
    if (kind == CALL_RECORD || kind == CALL_SUBMIT) {
        try_vulkan_call(in, m, kind, 0, pass);
        return;
    }

    sparq_status s = api->cache_append(m->cache, pass);
    check_status(s, "cache_append");
    FUZZ_CHECK(!between || s == SPARQ_ERROR_INVALID_ARGUMENT, "cache_append with struct_size %u returned %d",
               desc.struct_size, (int)s);
    FUZZ_CHECK(!device || s != SPARQ_SUCCESS, "cache_append with device tensors succeeded on a plugin-created context");
    if (s == SPARQ_SUCCESS) {
        FUZZ_CHECK(valid, "cache_append accepted invalid input");
        FUZZ_CHECK(fits, "cache_append past capacity %u succeeded", m->capacity);
        for (uint32_t i = 0; i < n_slots; i++)
            m->lengths[slots[i]] += n_tokens;
        m->finite &= finite;
    } else if (valid && !stray && (desc.struct_size == sizeof desc || desc.struct_size == APPEND_DESC_SIZE_1_0)) {
        FUZZ_CHECK(!fits || s == SPARQ_ERROR_CAPACITY_EXCEEDED || s == SPARQ_ERROR_INVALID_ARGUMENT,
                   "cache_append past capacity returned %d", (int)s);
        FUZZ_CHECK(!fits || s == SPARQ_ERROR_OUT_OF_DEVICE_MEMORY || s == SPARQ_ERROR_OUT_OF_HOST_MEMORY,
                   "valid cache_append of %u slots x %u tokens returned %d", n_slots, n_tokens, (int)s);
    }
    check_lengths(m, "cache_append");
}

static void op_truncate(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    uint32_t slot = fuzz_u32(in);
    uint32_t length = fuzz_u32(in);
    if (m->cache && m->n_seqs && fuzz_u8(in) < 200) {
        slot %= m->n_seqs;
        if (m->lengths[slot])
            length %= m->lengths[slot] + 1u;
    }
    int valid = m->cache && slot < m->n_seqs && length <= m->lengths[slot];
    sparq_status s = api->cache_truncate(m->cache, slot, length);
    check_status(s, "cache_truncate");
    FUZZ_CHECK((s == SPARQ_SUCCESS) == valid, "cache_truncate(slot %u, length %u) returned %d", slot, length, (int)s);
    if (valid)
        m->lengths[slot] = length;
    check_lengths(m, "cache_truncate");
}

static void op_reset(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    uint32_t slot = fuzz_u32(in);
    int valid = m->cache && slot < m->n_seqs;
    sparq_status s = api->cache_reset(m->cache, slot);
    check_status(s, "cache_reset");
    FUZZ_CHECK((s == SPARQ_SUCCESS) == valid, "cache_reset(slot %u) returned %d", slot, (int)s);
    if (valid)
        m->lengths[slot] = 0;
    check_lengths(m, "cache_reset");
}

static void op_get_lengths(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    uint32_t first = fuzz_u32(in);
    uint32_t count = fuzz_u32(in);
    int null_out = fuzz_u8(in) >= 240;
    uint32_t *lengths = null_out ? NULL : fuzz_host_buffer(fuzz_mul(count, sizeof *lengths));
    if (!null_out && !lengths)
        return;
    int valid = m->cache && (uint64_t)first + count <= m->n_seqs && (lengths || count == 0);
    sparq_status s = api->cache_get_lengths(m->cache, first, count, lengths);
    check_status(s, "cache_get_lengths");
    if (s == SPARQ_SUCCESS) {
        FUZZ_CHECK(m->cache && (uint64_t)first + count <= m->n_seqs && (lengths || count == 0),
                   "cache_get_lengths(first %u, count %u) accepted", first, count);
        for (uint32_t i = 0; i < count; i++)
            FUZZ_CHECK(lengths[i] == m->lengths[first + i], "slot %u length %u, expected %u", first + i, lengths[i],
                       m->lengths[first + i]);
    } else {
        FUZZ_CHECK(!valid || (count == 0 && !lengths), "cache_get_lengths(first %u, count %u) returned %d", first,
                   count, (int)s);
    }
}

static void op_read(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    uint32_t slot = fuzz_u32(in);
    uint32_t first = fuzz_u32(in);
    uint32_t count = fuzz_u32(in);
    uint8_t flags = fuzz_u8(in);
    if (m->cache && m->n_seqs && flags < 192) {
        slot %= m->n_seqs;
        uint32_t len = m->lengths[slot];
        first %= len + 1u;
        count %= len - first + 1u;
    }
    uint64_t row = m->cache ? (uint64_t)m->n_kv_heads * m->head_dim : 64;
    float *k = (flags & 1) ? fuzz_host_buffer(fuzz_mul(fuzz_mul(count, row), sizeof(float))) : NULL;
    float *v = (flags & 2) ? fuzz_host_buffer(fuzz_mul(fuzz_mul(count, row), sizeof(float))) : NULL;
    float *v_sum = (flags & 4) ? fuzz_host_buffer(fuzz_mul(row, sizeof(float))) : NULL;
    if (((flags & 1) && !k) || ((flags & 2) && !v) || ((flags & 4) && !v_sum))
        return;

    _Alignas(8) uint8_t room[DESC_ROOM] = {0};
    sparq_read_desc desc = {
        .struct_size = fuzz_struct_size(in, sizeof desc, DESC_ROOM),
        .slot = slot,
        .first = first,
        .count = count,
        .k = k,
        .v = v,
        .v_sum = v_sum,
    };
    memcpy(room, &desc, sizeof desc);
    int valid = m->cache && desc.struct_size >= sizeof desc && slot < m->n_seqs &&
                (uint64_t)first + count <= m->lengths[slot];
    sparq_status s = api->cache_read(m->cache, (const sparq_read_desc *)room);
    check_status(s, "cache_read");
    if (s == SPARQ_SUCCESS)
        FUZZ_CHECK(valid, "cache_read(slot %u, first %u, count %u, struct_size %u) accepted", slot, first, count,
                   desc.struct_size);
    else
        FUZZ_CHECK(!valid || desc.struct_size != sizeof desc, "valid cache_read returned %d", (int)s);
    check_lengths(m, "cache_read");
}

/* ------------------------------------------------------------------------ */
/* Attend                                                                   */
/* ------------------------------------------------------------------------ */

static float fuzz_scale(fuzz_bytes *in, int *moderate)
{
    static const float odd[] = {-1.0f, 1e-30f, 1e30f, INFINITY, -INFINITY, NAN, 3.4e38f, -0.0f};
    uint8_t pick = fuzz_u8(in);
    *moderate = pick < 224;
    if (pick < 128)
        return 0.0f;
    if (pick < 224)
        return (float)(pick - 127) / 64.0f;
    return odd[pick % 8];
}

/* Positions are ascending, exist, and are padded with SPARQ_NO_POSITION. */
static void check_selected(const uint32_t *selected, uint32_t stride, uint32_t len)
{
    uint32_t used = 0;
    while (used < stride && selected[used] != SPARQ_NO_POSITION) {
        FUZZ_CHECK(selected[used] < len, "selected position %u of a slot of length %u", selected[used], len);
        FUZZ_CHECK(used == 0 || selected[used] > selected[used - 1], "selected positions not ascending");
        used++;
    }
    for (uint32_t i = used; i < stride; i++)
        FUZZ_CHECK(selected[i] == SPARQ_NO_POSITION, "selected entry %u after padding is %u", i, selected[i]);
    FUZZ_CHECK(used >= 1 || len == 0, "no position selected");
}

static void check_outputs(const void *out, uint32_t dtype, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        float x;
        if (dtype == SPARQ_DTYPE_F16) {
            uint16_t h = ((const uint16_t *)out)[i];
            int finite = (h & 0x7c00u) != 0x7c00u;
            FUZZ_CHECK(finite, "out[%llu] is not finite (f16 0x%04x)", (unsigned long long)i, h);
            x = (h & 0x7c00u) == 0 ? 0.0f : ldexpf(1.0f + (h & 1023u) / 1024.0f, (int)((h >> 10) & 31u) - 15);
        } else {
            x = ((const float *)out)[i];
        }
        /* A softmax average of values in [-1, 1] stays there (f16 rounding aside). */
        FUZZ_CHECK(isfinite(x) && fabsf(x) <= 1.01f, "out[%llu] = %g", (unsigned long long)i, (double)x);
    }
}

/* Kinds as for op_append. */
static void op_attend(fuzz_bytes *in, call_kind kind)
{
    model_cache *m = pick_cache(in);
    uint32_t mode = fuzz_u8(in) < 250 ? fuzz_u8(in) % 3u : fuzz_u32(in);
    uint32_t n_slots = fuzz_slot_count(in);
    uint8_t heads_pick = fuzz_u8(in);
    uint32_t n_heads = heads_pick < 224 && m->cache ? m->n_kv_heads * (1u + heads_pick % 17u) : fuzz_u32(in);
    uint32_t dtype = fuzz_dtype(in);
    int moderate_scale;
    float scale = fuzz_scale(in, &moderate_scale);
    uint32_t attend_flags = fuzz_u8(in) < 240 ? fuzz_u8(in) & 1u : fuzz_u32(in);
    uint32_t r = fuzz_u32(in), k = fuzz_u32(in), l = fuzz_u32(in);
    uint8_t flags = fuzz_u8(in);
    uint32_t stride = fuzz_u32(in);
    uint32_t reserved = fuzz_u8(in) < 250 ? 0u : fuzz_u32(in);
    uint8_t seed = fuzz_u8(in);
    uint32_t *slots = (flags & 1) ? NULL : fuzz_slot_list(in, m, n_slots);
    if (!(flags & 1) && !slots)
        return;

    uint64_t dim = m->cache ? m->head_dim : 64;
    uint64_t kv_heads = m->cache ? m->n_kv_heads : 1;
    uint64_t q_count = fuzz_mul(fuzz_mul(n_slots, n_heads), dim);
    void *q = (flags & 2) ? NULL : fuzz_host_buffer(fuzz_mul(q_count, dtype_bytes(dtype)));
    /* A valid call writes all of these (selected up to its stride), so they
     * are always real memory, and calls needing more are not made. */
    void *out = (flags & 4) ? NULL : fuzz_host_output(fuzz_mul(q_count, dtype_bytes(dtype)));
    uint32_t *selected = (flags & 8) ? fuzz_host_output(fuzz_mul(fuzz_mul(n_slots, kv_heads), fuzz_mul(stride, 4))) : NULL;
    float *alpha = (flags & 16) ? fuzz_host_output(fuzz_mul(fuzz_mul(n_slots, n_heads), sizeof(float))) : NULL;
    _Alignas(8) uint8_t stats_room[DESC_ROOM] = {0};
    uint32_t stats_size = fuzz_struct_size(in, sizeof(sparq_attend_stats), DESC_ROOM);
    memcpy(stats_room, &stats_size, sizeof stats_size);
    if ((!(flags & 2) && !q) || (!(flags & 4) && !out) || ((flags & 8) && !selected) || ((flags & 16) && !alpha))
        return;
    int wild = (flags & 0xc0) == 0xc0;
    int finite = fill(q, fuzz_mul(q_count, dtype_bytes(dtype)), dtype, seed, wild);
    if (out && !fuzz_host_is_shared(out))
        memset(out, 0xff, q_count * dtype_bytes(dtype)); /* NaN in both dtypes: unwritten elements show */

    _Alignas(8) uint8_t room[DESC_ROOM] = {0};
    sparq_attend_desc desc = {
        .struct_size = kind == CALL_BLOCKING ? fuzz_struct_size(in, sizeof desc, DESC_ROOM)
                                             : fuzz_grown_size(in, ATTEND_DESC_SIZE_1_0, sizeof desc, DESC_ROOM),
        .mode = (sparq_attention_mode)mode,
        .n_slots = n_slots,
        .slots = slots,
        .n_heads = n_heads,
        .dtype = (sparq_dtype)dtype,
        .q = q,
        .out = out,
        .scale = scale,
        .flags = attend_flags,
        .r = r,
        .k = k,
        .l = l,
        .selected = selected,
        .selected_stride = stride,
        .reserved = reserved,
        .alpha = alpha,
        .stats = (flags & 32) ? (sparq_attend_stats *)stats_room : NULL,
    };
    int null_desc = fuzz_u8(in) >= 250;
    if (kind != CALL_BLOCKING) {
        desc.q_device = fuzz_device_tensor(in);
        desc.out_device = fuzz_device_tensor(in);
    }
    memcpy(room, &desc, sizeof desc);
    /* As in op_append: device tensors count where the size covers them. */
    int covered = desc.struct_size >= sizeof desc;
    int device = covered && (desc.q_device.buffer || desc.out_device.buffer);
    int stray = covered && !device && !(tensor_is_zero(&desc.q_device) && tensor_is_zero(&desc.out_device));
    int between = grown_size_between(desc.struct_size, ATTEND_DESC_SIZE_1_0, sizeof desc);

    /* What every successful call needs. */
    int required = m->cache && !null_desc && grown_size_ok(desc.struct_size, ATTEND_DESC_SIZE_1_0, sizeof desc) &&
                   !device && mode <= SPARQ_ATTENTION_SPARQ &&
                   n_slots >= 1 && slots && slot_list_in_range(m, slots, n_slots) && n_heads >= 1 &&
                   n_heads % m->n_kv_heads == 0 && n_heads / m->n_kv_heads <= SPARQ_MAX_GROUP_SIZE &&
                   dtype_is_valid(dtype) && q && out && reserved == 0;
    uint32_t max_len = 0, min_len = UINT32_MAX;
    if (required) {
        /* A shared (all-zero) slot list names slot 0 only. */
        uint32_t distinct = fuzz_host_is_shared(slots) ? 1 : n_slots;
        for (uint32_t i = 0; i < distinct; i++) {
            uint32_t len = m->lengths[fuzz_host_is_shared(slots) ? 0 : slots[i]];
            required &= len >= 1;
            max_len = len > max_len ? len : max_len;
            min_len = len < min_len ? len : min_len;
        }
    }
    /* Plainly valid: nothing a careful plugin could argue about. */
    int sparq = mode != SPARQ_ATTENTION_DENSE;
    uint32_t k_used = k ? k : (max_len / 16 > 64 ? max_len / 16 : 64);
    k_used = k_used < max_len ? k_used : max_len;
    int plainly_valid = required && !stray &&
                        (desc.struct_size == sizeof desc || desc.struct_size == ATTEND_DESC_SIZE_1_0) && moderate_scale && attend_flags <= 1 &&
                        (!sparq || (r <= dim && k <= 4096 && (l == 0 || (k != 0 && l <= k && l <= min_len)) &&
                                    (!selected || stride >= k_used)));

    const sparq_attend_desc *pass = null_desc ? NULL : (const sparq_attend_desc *)room;
    if (trace)
        fprintf(stderr,
                "  attend: mode %u, %u slots (longest %u), %u heads over %llu KV heads, head_dim %llu, dtype %u, "
                "r %u k %u l %u, flags %#x, stride %u\n",
                mode, n_slots, max_len, n_heads, (unsigned long long)kv_heads, (unsigned long long)dim, dtype, r, k,
                l, attend_flags, stride);
    if (trace && kind != CALL_BLOCKING)
        fprintf(stderr, "  attend (kind %d): struct_size %u, q_device %#llx, out_device %#llx%s\n", (int)kind,
                desc.struct_size, (unsigned long long)desc.q_device.buffer, (unsigned long long)desc.out_device.buffer,
                null_desc ? ", NULL desc" : "");
    if (kind == CALL_RECORD || kind == CALL_SUBMIT) {
        try_vulkan_call(in, m, kind, 1, pass);
        return;
    }

    sparq_status s = api->attend(m->cache, pass);
    check_status(s, "attend");
    FUZZ_CHECK(!between || s == SPARQ_ERROR_INVALID_ARGUMENT, "attend with struct_size %u returned %d",
               desc.struct_size, (int)s);
    FUZZ_CHECK(!device || s != SPARQ_SUCCESS, "attend with device tensors succeeded on a plugin-created context");
    if (s != SPARQ_SUCCESS) {
        FUZZ_CHECK(!plainly_valid || s == SPARQ_ERROR_OUT_OF_DEVICE_MEMORY || s == SPARQ_ERROR_OUT_OF_HOST_MEMORY,
                   "valid attend (mode %u, %u slots, %u heads, r %u k %u l %u, stride %u) returned %d", mode, n_slots,
                   n_heads, r, k, l, stride, (int)s);
    } else {
        FUZZ_CHECK(required, "attend accepted invalid input (mode %u, %u slots, %u heads, dtype %u, reserved %u)",
                   mode, n_slots, n_heads, dtype, reserved);
        if (!fuzz_host_is_shared(out) && finite && m->finite && moderate_scale)
            check_outputs(out, dtype, q_count);
        if (sparq && selected && !fuzz_host_is_shared(selected) && !fuzz_host_is_shared(slots))
            for (uint32_t i = 0; i < n_slots; i++)
                for (uint64_t h = 0; h < kv_heads; h++)
                    check_selected(selected + (i * kv_heads + h) * stride, stride, m->lengths[slots[i]]);
    }
    check_lengths(m, "attend");
}

/* ------------------------------------------------------------------------ */
/* Misuse that needs no arguments                                           */
/* ------------------------------------------------------------------------ */

static void op_misuse(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    _Alignas(8) uint8_t room[4096] = {0};
    uint32_t size;
    sparq_status s;
    switch (fuzz_u8(in) % 6) {
    case 0: /* a context with live caches cannot go */
        if (!m->cache)
            return;
        s = api->context_destroy(context);
        FUZZ_CHECK(s == SPARQ_ERROR_INVALID_ARGUMENT, "context_destroy with live caches returned %d", (int)s);
        check_status(s, "context_destroy");
        break;
    case 1:
        size = fuzz_struct_size(in, sizeof(sparq_plugin_info), sizeof room);
        memcpy(room, &size, sizeof size);
        s = api->get_plugin_info((sparq_plugin_info *)room);
        check_status(s, "get_plugin_info");
        FUZZ_CHECK((s == SPARQ_SUCCESS) == (size >= sizeof(sparq_plugin_info)) || size > sizeof(sparq_plugin_info),
                   "get_plugin_info with struct_size %u returned %d", size, (int)s);
        break;
    case 2:
        size = fuzz_struct_size(in, sizeof(sparq_device_info), sizeof room);
        memcpy(room, &size, sizeof size);
        s = api->context_get_device_info(context, (sparq_device_info *)room);
        check_status(s, "context_get_device_info");
        FUZZ_CHECK(s != SPARQ_SUCCESS || size >= sizeof(sparq_device_info),
                   "context_get_device_info with struct_size %u succeeded", size);
        break;
    case 3:
        s = api->cache_create(context, NULL, NULL);
        FUZZ_CHECK(s == SPARQ_ERROR_INVALID_ARGUMENT, "cache_create(NULL, NULL) returned %d", (int)s);
        check_status(s, "cache_create");
        break;
    case 4:
        s = api->cache_read(m->cache, NULL);
        FUZZ_CHECK(s == SPARQ_ERROR_INVALID_ARGUMENT, "cache_read(NULL desc) returned %d", (int)s);
        check_status(s, "cache_read");
        break;
    default:
        s = api->context_get_device_info(NULL, (sparq_device_info *)room);
        FUZZ_CHECK(s == SPARQ_ERROR_INVALID_ARGUMENT, "context_get_device_info(NULL) returned %d", (int)s);
        check_status(s, "context_get_device_info");
        break;
    }
    check_lengths(m, "misuse");
}

/* The four 1.1 entries with nothing but the cache (NULL descriptor and
 * NULL record or submit struct), or nothing at all. */
static void op_null11(fuzz_bytes *in)
{
    model_cache *m = pick_cache(in);
    sparq_cache *cache = fuzz_u8(in) < 128 ? m->cache : NULL;
    check_refused_vulkan_call(api->record_append(cache, NULL, NULL), "record_append");
    check_refused_vulkan_call(api->record_attend(cache, NULL, NULL), "record_attend");
    check_refused_vulkan_call(api->submit_append(cache, NULL, NULL), "submit_append");
    check_refused_vulkan_call(api->submit_attend(cache, NULL, NULL), "submit_attend");
    check_lengths(m, "the 1.1 calls with NULL structs");
}

/* ------------------------------------------------------------------------ */
/* The program                                                              */
/* ------------------------------------------------------------------------ */

/* Opcodes 240..247: ABI 1.1. The 1.0 opcodes are the byte's value mod 10
 * for every other byte, as they were before 1.1. */
static void op_abi11(fuzz_bytes *in, uint8_t opcode)
{
    if (!has11)
        return;
    switch (opcode) {
    case 240:
        op_create(in, 1);
        break;
    case 241:
        op_append(in, CALL_BLOCKING11);
        break;
    case 242:
        op_attend(in, CALL_BLOCKING11);
        break;
    case 243:
        op_append(in, CALL_RECORD);
        break;
    case 244:
        op_attend(in, CALL_RECORD);
        break;
    case 245:
        op_append(in, CALL_SUBMIT);
        break;
    case 246:
        op_attend(in, CALL_SUBMIT);
        break;
    default:
        op_null11(in);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_plugin_once();
    fuzz_bytes in = {data, size, 0};
    for (int ops = 0; ops < MAX_OPS && !fuzz_done(&in); ops++) {
        uint8_t opcode = fuzz_u8(&in);
        if (opcode >= 240 && opcode <= 247) {
            op_abi11(&in, opcode);
            fuzz_host_release_all();
            continue;
        }
        switch (opcode % 10) {
        case 0:
        case 1:
            op_create(&in, 0);
            break;
        case 2:
            op_destroy(&in);
            break;
        case 3:
        case 4:
            op_append(&in, CALL_BLOCKING);
            break;
        case 5:
            op_truncate(&in);
            break;
        case 6:
            op_reset(&in);
            break;
        case 7:
            op_get_lengths(&in);
            break;
        case 8:
            op_read(&in);
            break;
        default:
            if (fuzz_u8(&in) < 192)
                op_attend(&in, CALL_BLOCKING);
            else
                op_misuse(&in);
            break;
        }
        fuzz_host_release_all();
    }
    for (int i = 0; i < MAX_CACHES; i++) {
        if (caches[i].cache)
            FUZZ_CHECK(api->cache_destroy(caches[i].cache) == SPARQ_SUCCESS, "cache_destroy failed");
        forget_cache(&caches[i]);
    }
    return 0;
}
