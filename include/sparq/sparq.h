/*
 * sparq.h - the sparq-vk plugin ABI, version 1.
 *
 * sparq-vk is a Vulkan compute backend for decode-time attention: dense
 * (flash-decoding) and SparQ (Ribar et al., ICML 2024), over a KV cache the
 * plugin owns. A host (an inference runtime) loads the plugin with dlopen,
 * looks up exactly one symbol, SPARQ_ENTRY_SYMBOL, and reaches everything
 * else through the function table that entry point returns:
 *
 *     void *so = dlopen("libsparq_vk.so", RTLD_NOW | RTLD_LOCAL);
 *     sparq_entry_fn entry = (sparq_entry_fn)dlsym(so, SPARQ_ENTRY_SYMBOL);
 *     const sparq_api *api = NULL;
 *     const char *why = NULL;
 *     if (!entry || entry(SPARQ_ABI_VERSION_MAJOR, &api, &why) != SPARQ_SUCCESS)
 *         fail(why);
 *
 * This header is the manual. It is self-contained C (C11 and C++17), needs no
 * Vulkan headers, and pins the layout of every struct it releases.
 *
 * Conventions, for every function and struct below:
 *  - Every function returns a sparq_status. SPARQ_SUCCESS is 0; every other
 *    value is an error. After an error, api->last_error() returns a message.
 *  - Descriptor structs start with `struct_size`, which the caller sets to
 *    sizeof(the struct) as its header declares it. Structs only ever grow at
 *    the end; the plugin reads only the fields the caller's size covers and
 *    treats missing fields as zero. A size below the struct's size in ABI
 *    1.0 (its first release) is SPARQ_ERROR_INVALID_ARGUMENT, and so is a
 *    size between two released sizes (it would cut a field in two). A zero field means "default" (each field
 *    says what that default is). Enums are 32-bit and 0 means "unset/default".
 *  - Output structs also start with `struct_size`, set by the caller; the
 *    plugin writes at most that many bytes.
 *  - Whoever allocates frees. The plugin never returns memory for the host to
 *    free; strings it returns are static or owned by an object (see each).
 *  - Nothing runs at dlopen time: no constructors, no Vulkan calls. Vulkan is
 *    loaded on the first call that needs it (enumerate_devices or
 *    context_create); a machine without a Vulkan loader gets
 *    SPARQ_ERROR_NO_VULKAN from those calls, not a failed dlopen.
 *  - Invalid input returns SPARQ_ERROR_INVALID_ARGUMENT (or a more specific
 *    status) and changes nothing already stored. Using an object after
 *    destroying it is undefined behaviour; every other misuse is reported.
 *
 * Thread-safety (stated again per function):
 *  - "thread-safe": may be called from any thread at any time.
 *  - "per cache": calls that take the same sparq_cache must not run
 *    concurrently; calls on different caches may run concurrently from
 *    different threads, also when the caches share a context.
 *  - "per context": calls that take the same sparq_context must not run
 *    concurrently with each other or with any call on that context's caches.
 *
 * Memory layout of tensors passed in host memory (row-major, no padding):
 *  - K, V of an append:    [n_slots][n_tokens][n_kv_heads][head_dim]
 *  - q, out of an attend:  [n_slots][n_heads][head_dim]. Query head `qh`
 *    uses KV head `qh / group_size` (group_size = n_heads / n_kv_heads): the
 *    usual GQA mapping, in which query heads sharing a KV head are adjacent.
 *  The same layouts apply to tensors in host-owned Vulkan buffers (ABI 1.1,
 *  sparq_device_tensor); docs/INTEGRATION.md describes the three ways to
 *  call the plugin (host memory, device tensors, recorded into the host's
 *  command buffers) and their synchronisation.
 */
#ifndef SPARQ_SPARQ_H
#define SPARQ_SPARQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */
/* ------------------------------------------------------------------------ */

/* The ABI this header describes. The major changes only when a released
 * struct or function changes incompatibly; the minor grows when a function
 * or a struct field is appended. Neither is the product version (see
 * sparq_plugin_info.product_version). */
#define SPARQ_ABI_VERSION_MAJOR 1u
#define SPARQ_ABI_VERSION_MINOR 1u

/* The one symbol the plugin exports, of type sparq_entry_fn. */
#define SPARQ_ENTRY_SYMBOL "sparq_plugin_entry"

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

typedef enum sparq_status {
    SPARQ_SUCCESS = 0,
    /* A pointer, size, index, count or enum value is not acceptable. */
    SPARQ_ERROR_INVALID_ARGUMENT = 1,
    /* The host asked for an ABI major this plugin does not implement. */
    SPARQ_ERROR_ABI_MISMATCH = 2,
    /* Well-formed, but this plugin or device does not support it (yet). */
    SPARQ_ERROR_NOT_SUPPORTED = 3,
    /* No Vulkan loader could be opened on this machine. */
    SPARQ_ERROR_NO_VULKAN = 4,
    /* No (matching, usable) Vulkan device. */
    SPARQ_ERROR_NO_DEVICE = 5,
    SPARQ_ERROR_OUT_OF_HOST_MEMORY = 6,
    SPARQ_ERROR_OUT_OF_DEVICE_MEMORY = 7,
    /* An append would exceed the slot's capacity; nothing was appended. */
    SPARQ_ERROR_CAPACITY_EXCEEDED = 8,
    /* The Vulkan device was lost, or a blocking call's work did not finish
     * within 120 s (30 min on a CPU driver, which compiles shader variants
     * as they first run), which is taken as a hung device. Destroy the
     * context and create another. */
    SPARQ_ERROR_DEVICE_LOST = 9,
    /* Any other Vulkan failure; the message names the call and VkResult. */
    SPARQ_ERROR_VULKAN = 10,
    /* A bug in the plugin. Please report the message. */
    SPARQ_ERROR_INTERNAL = 11,
    SPARQ_STATUS_MAX_ENUM = 0x7fffffff
} sparq_status;

/* ------------------------------------------------------------------------ */
/* Enumerations                                                             */
/* ------------------------------------------------------------------------ */

/* Element type of a tensor. 0 is "default"; each field says which default. */
typedef enum sparq_dtype {
    SPARQ_DTYPE_DEFAULT = 0,
    SPARQ_DTYPE_F16 = 1, /* IEEE binary16 */
    SPARQ_DTYPE_F32 = 2, /* IEEE binary32 */
    SPARQ_DTYPE_MAX_ENUM = 0x7fffffff
} sparq_dtype;

typedef enum sparq_attention_mode {
    SPARQ_ATTENTION_DEFAULT = 0, /* = SPARQ_ATTENTION_SPARQ */
    SPARQ_ATTENTION_DENSE = 1,   /* exact softmax attention over all positions */
    SPARQ_ATTENTION_SPARQ = 2,   /* SparQ approximate attention */
    SPARQ_ATTENTION_MAX_ENUM = 0x7fffffff
} sparq_attention_mode;

typedef enum sparq_device_type {
    SPARQ_DEVICE_TYPE_OTHER = 0,
    SPARQ_DEVICE_TYPE_INTEGRATED_GPU = 1,
    SPARQ_DEVICE_TYPE_DISCRETE_GPU = 2,
    SPARQ_DEVICE_TYPE_VIRTUAL_GPU = 3,
    SPARQ_DEVICE_TYPE_CPU = 4,
    SPARQ_DEVICE_TYPE_MAX_ENUM = 0x7fffffff
} sparq_device_type;

typedef enum sparq_severity {
    SPARQ_SEVERITY_UNSET = 0,
    SPARQ_SEVERITY_INFO = 1,
    SPARQ_SEVERITY_WARNING = 2,
    SPARQ_SEVERITY_ERROR = 3,
    SPARQ_SEVERITY_MAX_ENUM = 0x7fffffff
} sparq_severity;

/* sparq_context_desc.flags */
#define SPARQ_CONTEXT_ENABLE_VALIDATION 0x1u /* Khronos validation + sync validation; also env SPARQ_VALIDATION=1 */

/* sparq_attend_desc.flags */
#define SPARQ_ATTEND_NO_MEAN_REALLOCATION 0x1u /* SparQ: alpha = 1, vbar unused */

/* Marks unused entries of sparq_attend_desc.selected. */
#define SPARQ_NO_POSITION 0xffffffffu

/* Limits of this ABI version (a device may impose lower ones; see the
 * status and message of cache_create). */
#define SPARQ_MAX_HEAD_DIM 256u   /* head_dim: a multiple of 8, 8..256 */
#define SPARQ_MAX_GROUP_SIZE 16u  /* n_heads / n_kv_heads; more is SPARQ_ERROR_INVALID_ARGUMENT */
#define SPARQ_MAX_CAPACITY 1048576u /* positions per slot */
#define SPARQ_MAX_FRAMES_IN_FLIGHT 16u /* sparq_cache_desc.frames_in_flight (ABI 1.1) */
/* sparq_device_tensor.offset must be a multiple of this (ABI 1.1). */
#define SPARQ_DEVICE_TENSOR_ALIGNMENT 16u

/* ------------------------------------------------------------------------ */
/* Opaque objects                                                           */
/* ------------------------------------------------------------------------ */

/* A Vulkan device, its queue and compiled pipelines. */
typedef struct sparq_context sparq_context;
/* The KV cache of one attention layer: n_seqs slots of up to `capacity`
 * positions each, for n_kv_heads heads of head_dim. */
typedef struct sparq_cache sparq_cache;

/* Defined in sparq_vulkan.h (ABI 1.1): only hosts that bring their own
 * Vulkan device need them. */
struct sparq_vulkan_record;
struct sparq_vulkan_submit;

/* ------------------------------------------------------------------------ */
/* Structs                                                                  */
/* ------------------------------------------------------------------------ */

/* Called with messages from the plugin and, when validation is on, from the
 * Vulkan validation layers. `message` lives only during the call. May be
 * called from any thread that is inside a sparq call on that context. */
typedef void (*sparq_message_fn)(void *user_data, sparq_severity severity, const char *message);

typedef struct sparq_plugin_info {
    uint32_t struct_size;     /* in: sizeof(sparq_plugin_info) */
    uint32_t abi_major;       /* out: ABI the plugin implements */
    uint32_t abi_minor;       /* out */
    uint32_t reserved;        /* out: 0 */
    const char *product_version; /* out: static string, e.g. "0.1.0" */
    const char *build_id;        /* out: static string: source revision and build type */
} sparq_plugin_info;

typedef struct sparq_device_info {
    uint32_t struct_size;       /* in: sizeof(sparq_device_info) */
    uint32_t index;             /* out: physical device index, usable as "N" in sparq_context_desc.device */
    char name[256];             /* out: VkPhysicalDeviceProperties.deviceName */
    char driver_name[256];      /* out: VkPhysicalDeviceDriverProperties.driverName ("" if unknown) */
    char driver_info[256];      /* out: VkPhysicalDeviceDriverProperties.driverInfo ("" if unknown) */
    uint8_t uuid[16];           /* out: VkPhysicalDeviceIDProperties.deviceUUID */
    uint32_t vendor_id;         /* out */
    uint32_t device_id;         /* out */
    uint32_t driver_version;    /* out: vendor-encoded */
    uint32_t api_version;       /* out: VK_MAKE_API_VERSION encoded */
    sparq_device_type type;     /* out */
    uint32_t subgroup_size;     /* out: default subgroup size of compute shaders */
    uint32_t max_shared_memory; /* out: maxComputeSharedMemorySize in bytes */
    uint32_t has_float16;       /* out: 1 if shaderFloat16 arithmetic is supported */
    uint32_t has_storage16;     /* out: 1 if 16-bit storage buffer access is supported */
    uint32_t usable;            /* out: 1 if it has everything sparq-vk needs */
    uint32_t is_default;        /* out: 1 for the device a context picks when no device is named */
    uint32_t reserved;          /* out: 0 */
    uint64_t max_storage_buffer_range; /* out: bytes (informational: caches do not depend on it) */
    uint64_t device_local_bytes;       /* out: largest device-local heap */
    char unusable_reason[128];  /* out: why usable is 0 ("" when usable) */
} sparq_device_info;

/* A tensor in a host-owned VkBuffer (ABI 1.1), on a context created with
 * sparq_context_desc.vulkan_import. Elements are f32 in the layout the
 * host-memory pointer would have (see the top of this header). All zero
 * (buffer 0) = not used: the host-memory pointer of the same field is used.
 * Requirements, checked where Vulkan allows (a violation is
 * SPARQ_ERROR_INVALID_ARGUMENT, never a GPU fault):
 *  - buffer: a VkBuffer of the imported VkDevice, created with
 *    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT
 *    (+ TRANSFER_SRC_BIT for K/V of an append, see sparq_append_desc), and
 *    bound to memory allocated with VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT.
 *    Kernels reach it through vkGetBufferDeviceAddress. Vulkan cannot tell
 *    the plugin a buffer's usage flags or whether it is bound: those are
 *    the host's promise (the validation layers report a violation).
 *  - offset: bytes from the start of the buffer, a multiple of
 *    SPARQ_DEVICE_TENSOR_ALIGNMENT.
 *  - size: bytes from offset that the plugin may access, at most the rest
 *    of the buffer. Vulkan cannot query a buffer's size, so the host states
 *    it; it must be at least the bytes the call reads or writes. The plugin
 *    never touches bytes outside [offset, offset + size).
 * The plugin holds no reference to the buffer after the call (for a
 * recorded call: after the command buffer finished executing). */
typedef struct sparq_device_tensor {
    uint64_t buffer; /* VkBuffer handle (SPARQ_VK_HANDLE in sparq_vulkan.h); 0 = not used */
    uint64_t offset; /* bytes, multiple of SPARQ_DEVICE_TENSOR_ALIGNMENT */
    uint64_t size;   /* bytes available from offset */
} sparq_device_tensor;

/* How a context chooses its device. Pass the whole struct zeroed except
 * struct_size for the defaults. */
typedef struct sparq_context_desc {
    uint32_t struct_size; /* required: sizeof(sparq_context_desc) */
    uint32_t flags;       /* optional: SPARQ_CONTEXT_* bits; 0 = none */
    /* optional: which physical device. NULL or "" = the environment
     * variable SPARQ_DEVICE if set, else the first usable discrete GPU, then
     * integrated, virtual, other, CPU. The string is a decimal index
     * ("1"), a device UUID in hex (32 digits, dashes allowed), or a
     * case-insensitive substring of the device name ("llvmpipe"). Copied;
     * need not outlive the call. */
    const char *device;
    sparq_message_fn message_callback; /* optional: NULL = errors and warnings go to stderr */
    void *message_user_data;           /* optional: passed to message_callback */
    /* optional: a host-owned Vulkan device to run on instead of creating
     * one: a const sparq_vulkan_import * (see sparq_vulkan.h; ABI 1.1).
     * NULL = the plugin creates its own. ABI 1.0 plugins return
     * SPARQ_ERROR_NOT_SUPPORTED when it is set. With an import, `device`
     * must be NULL or "" and SPARQ_CONTEXT_ENABLE_VALIDATION is ignored:
     * validation is whatever the host's instance enabled. */
    const void *vulkan_import;
} sparq_context_desc;

typedef struct sparq_cache_desc {
    uint32_t struct_size; /* required: sizeof(sparq_cache_desc) */
    uint32_t n_seqs;      /* required: sequence slots, >= 1 */
    uint32_t n_kv_heads;  /* required: >= 1 */
    uint32_t head_dim;    /* required: multiple of 8, 8..SPARQ_MAX_HEAD_DIM */
    uint32_t capacity;    /* required: positions per slot, 1..SPARQ_MAX_CAPACITY */
    sparq_dtype storage;  /* optional: element type K and V are stored in; 0 = F16 */
    /* ABI 1.1, optional: sets of per-call scratch (staging, device scratch,
     * command buffer) for recorded and submitted calls, 1..
     * SPARQ_MAX_FRAMES_IN_FLIGHT; 0 = 1. A recorded or submitted call names
     * its set (sparq_vulkan_record.frame); the host must not record into a
     * set again before the GPU finished the work that last used it. */
    uint32_t frames_in_flight;
} sparq_cache_desc;

/* Appends n_tokens positions to each of n_slots slots. The new tokens take
 * positions len..len+n_tokens-1 of each slot. All-or-nothing: if any slot
 * would exceed its capacity, nothing is appended and the call returns
 * SPARQ_ERROR_CAPACITY_EXCEEDED. */
typedef struct sparq_append_desc {
    uint32_t struct_size;  /* required: sizeof(sparq_append_desc) */
    uint32_t n_slots;      /* required: >= 1 */
    const uint32_t *slots; /* required: [n_slots] distinct slot indices < n_seqs */
    uint32_t n_tokens;     /* required: tokens per slot, >= 1 */
    sparq_dtype dtype;     /* optional: element type of k and v; 0 = F32 */
    const void *k;         /* required unless k_device: [n_slots][n_tokens][n_kv_heads][head_dim] */
    const void *v;         /* required unless v_device: same shape as k */
    /* ABI 1.1, optional: k and v in host-owned VkBuffers instead (imported
     * contexts only; the pointer of the same tensor must then be NULL; dtype
     * must be F32 (0)). Both or neither. When v starts exactly where k ends
     * in the same buffer (v_device.offset = k_device.offset + k bytes), the
     * append kernel reads them in place; otherwise the plugin first copies
     * them on the GPU into its scratch (then the buffers also need
     * VK_BUFFER_USAGE_TRANSFER_SRC_BIT). Either way nothing passes through
     * host memory. */
    sparq_device_tensor k_device;
    sparq_device_tensor v_device;
} sparq_append_desc;

/* Reads stored keys and values back (converted to f32), for checking and
 * for hosts that page sequences out. */
typedef struct sparq_read_desc {
    uint32_t struct_size; /* required: sizeof(sparq_read_desc) */
    uint32_t slot;        /* required: < n_seqs */
    uint32_t first;       /* required: first position */
    uint32_t count;       /* required: first + count <= the slot's length; may be 0 */
    float *k;             /* optional: out [count][n_kv_heads][head_dim] */
    float *v;             /* optional: out, same shape */
    float *v_sum;         /* optional: out [n_kv_heads][head_dim], the running sum of V (over all positions < length) */
} sparq_read_desc;

/* Timing of one attend call, for benchmarks. */
typedef struct sparq_attend_stats {
    uint32_t struct_size; /* in: sizeof(sparq_attend_stats) */
    uint32_t dispatches;  /* out: compute dispatches recorded */
    uint64_t gpu_ns;      /* out: GPU time of the attention work (timestamps around it) */
    uint64_t host_ns;     /* out: host time from entry until the work was submitted */
    /* out: GPU time of each stage, in order. Dense: attend, merge (then 0, 0).
     * SparQ: approximate scores, selection, attend, merge; where one kernel
     * scores and selects a short slot, its time counts as scores and the
     * selection stage holds only the longer slots' selection (near 0 when
     * every slot is short). */
    uint64_t dispatch_ns[4];
} sparq_attend_stats;

/* One decode step of attention for n_slots sequences, one query token each:
 *   out[s][qh] = attention(q[s][qh], K/V of slot slots[s], positions 0..len-1)
 * where len is the slot's current length (append the current token first).
 * Blocking: returns when out (and selected, alpha) are written. */
typedef struct sparq_attend_desc {
    uint32_t struct_size;      /* required: sizeof(sparq_attend_desc) */
    sparq_attention_mode mode; /* optional: 0 = SPARQ */
    uint32_t n_slots;          /* required: >= 1 */
    const uint32_t *slots;     /* required: [n_slots] slot indices < n_seqs, each of length >= 1; repeats allowed */
    uint32_t n_heads;          /* required: query heads, a multiple of n_kv_heads, group <= SPARQ_MAX_GROUP_SIZE */
    sparq_dtype dtype;         /* optional: element type of q and out; 0 = F32 */
    const void *q;             /* required: [n_slots][n_heads][head_dim] */
    void *out;                 /* required: [n_slots][n_heads][head_dim]; must not overlap q */
    float scale;               /* optional: softmax scale; 0 = 1/sqrt(head_dim) */
    uint32_t flags;            /* optional: SPARQ_ATTEND_* bits */
    /* SparQ parameters, per slot of length S (ignored in dense mode):
     * r: query components used for the approximate scores, 1..head_dim;
     *    0 = head_dim / 8 (at least 1).
     * k: positions attended exactly; 0 = max(64, S / 16). Values above S
     *    mean S: every position is read and the result is dense attention.
     * l: local window, the last l positions are always among the k; must be
     *    <= k when both are given; 0 = k / 4 (of the k in use).
     * The defaults move about 1/8 of the bytes dense attention moves:
     * S*r + 2*k*head_dim against 2*S*head_dim. */
    uint32_t r;
    uint32_t k;
    uint32_t l;
    /* optional (SparQ only; ignored in dense mode): the positions the GPU
     * chose, ascending, [n_slots][n_kv_heads][selected_stride]; entries past
     * min(k, S) are SPARQ_NO_POSITION. NULL = not wanted. */
    uint32_t *selected;
    uint32_t selected_stride; /* required with selected: >= the largest min(k, S) of the call */
    uint32_t reserved;        /* must be 0 */
    /* optional (SparQ only): alpha per query head, [n_slots][n_heads]:
     * the approximate probability mass of the chosen positions (1 with
     * SPARQ_ATTEND_NO_MEAN_REALLOCATION). NULL = not wanted. */
    float *alpha;
    /* optional: timing of this call. NULL = not measured. */
    sparq_attend_stats *stats;
    /* ABI 1.1, optional: q and/or out in host-owned VkBuffers instead of
     * the q and out pointers (imported contexts only; the pointer of the
     * same tensor must then be NULL; dtype must be F32 (0): f16 device
     * tensors are SPARQ_ERROR_NOT_SUPPORTED). The kernels read q from and
     * write out to the buffers directly. out_device must not overlap
     * q_device. Recorded and submitted calls (sparq_vulkan.h) need
     * out_device, since their results cannot reach host memory without a
     * wait. */
    sparq_device_tensor q_device;
    sparq_device_tensor out_device;
} sparq_attend_desc;

/* ------------------------------------------------------------------------ */
/* The function table                                                       */
/* ------------------------------------------------------------------------ */

typedef struct sparq_api {
    /* sizeof(sparq_api) as the plugin was built. A host built against a
     * newer header checks SPARQ_API_HAS() before calling a later entry. */
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved;

    /* The message of the last failed call on this thread ("" if none). Valid
     * until the next sparq call on the same thread. Thread-safe. */
    const char *(*last_error)(void);

    /* Fills `info`. Thread-safe. */
    sparq_status (*get_plugin_info)(sparq_plugin_info *info);

    /* Lists Vulkan physical devices. Writes min(capacity, n) entries to
     * `infos` (each element's struct_size must be set; infos may be NULL when
     * capacity is 0) and the total n to *count. Thread-safe. */
    sparq_status (*enumerate_devices)(sparq_device_info *infos, uint32_t capacity, uint32_t *count);

    /* Creates a context on the chosen device. *context is NULL on error.
     * Thread-safe. */
    sparq_status (*context_create)(const sparq_context_desc *desc, sparq_context **context);
    /* Destroys a context. All its caches must be destroyed first, or the
     * call fails with SPARQ_ERROR_INVALID_ARGUMENT. NULL is a no-op.
     * Per context. */
    sparq_status (*context_destroy)(sparq_context *context);
    /* Describes the context's device. Per context. */
    sparq_status (*context_get_device_info)(sparq_context *context, sparq_device_info *info);

    /* Creates a KV cache with every slot empty. Per context. */
    sparq_status (*cache_create)(sparq_context *context, const sparq_cache_desc *desc, sparq_cache **cache);
    /* Destroys a cache. NULL is a no-op. Per context. */
    sparq_status (*cache_destroy)(sparq_cache *cache);
    /* Appends tokens (see sparq_append_desc). Blocking. Per cache. */
    sparq_status (*cache_append)(sparq_cache *cache, const sparq_append_desc *desc);
    /* Shortens a slot to `length` (<= its length). The running V sum is
     * recomputed from the positions kept, so it equals the sum a slot that
     * never held the dropped tokens would have. Blocking. Per cache. */
    sparq_status (*cache_truncate)(sparq_cache *cache, uint32_t slot, uint32_t length);
    /* Empties a slot (length 0, V sum 0). Per cache. */
    sparq_status (*cache_reset)(sparq_cache *cache, uint32_t slot);
    /* Writes the lengths of slots first..first+count-1 to lengths[]. Per cache. */
    sparq_status (*cache_get_lengths)(sparq_cache *cache, uint32_t first, uint32_t count, uint32_t *lengths);
    /* Reads stored K/V back (see sparq_read_desc). Blocking. Per cache. */
    sparq_status (*cache_read)(sparq_cache *cache, const sparq_read_desc *desc);

    /* One decode attention step (see sparq_attend_desc). Blocking. Per cache. */
    sparq_status (*attend)(sparq_cache *cache, const sparq_attend_desc *desc);

    /* Measures the device's streaming read bandwidth with a plain kernel
     * over a buffer of `bytes` (0 = 1 GiB, or a quarter of device memory
     * if less), median of `iterations` (0 = 20) timed passes after warm-up.
     * For benchmarks. Per context. */
    sparq_status (*measure_read_bandwidth)(sparq_context *context, uint64_t bytes, uint32_t iterations,
                                           double *bytes_per_second);

    /* ---- ABI 1.1: hosts that bring their own Vulkan device (sparq_vulkan.h).
     * Check SPARQ_API_HAS(api, record_append) before calling these. Each
     * needs a context created with sparq_context_desc.vulkan_import, else
     * SPARQ_ERROR_INVALID_ARGUMENT. */

    /* Records the append into the host's command buffer instead of
     * running it (see sparq_vulkan_record for the synchronisation). The
     * slots' lengths advance when this call returns, not when the GPU runs
     * it: later calls on the cache see the new length. Host-memory k/v are
     * copied into the frame's staging memory during the call. Per cache. */
    sparq_status (*record_append)(sparq_cache *cache, const sparq_append_desc *desc,
                                  const struct sparq_vulkan_record *record);
    /* Records one attention step into the host's command buffer.
     * desc->out_device is required; selected, alpha and stats must be NULL.
     * The lengths used are the slots' lengths at record time (including
     * recorded appends). Host-memory q is copied during the call. Per cache. */
    sparq_status (*record_attend)(sparq_cache *cache, const sparq_attend_desc *desc,
                                  const struct sparq_vulkan_record *record);
    /* As record_append, into a command buffer the plugin owns (one per
     * frame), submitted to the imported queue with the host's timeline
     * semaphore waits and signals; returns without waiting for the GPU.
     * Needs the import's queue. Per cache, and the queue must not be used
     * by other threads during the call (Vulkan's rule for queues). */
    sparq_status (*submit_append)(sparq_cache *cache, const sparq_append_desc *desc,
                                  const struct sparq_vulkan_submit *submit);
    /* As record_attend, submitted like submit_append. Per cache. */
    sparq_status (*submit_attend)(sparq_cache *cache, const sparq_attend_desc *desc,
                                  const struct sparq_vulkan_submit *submit);
} sparq_api;

/* Nonzero if `api` (a const sparq_api *) has the entry `member`. */
#define SPARQ_API_HAS(api, member) \
    ((api)->struct_size >= offsetof(sparq_api, member) + sizeof((api)->member) && (api)->member != NULL)

/* The exported entry point. Returns the table for ABI `abi_major` in *api.
 * On SPARQ_ERROR_ABI_MISMATCH *api is set to NULL; a NULL api gives
 * SPARQ_ERROR_INVALID_ARGUMENT. *message (if message is non-NULL) gets a
 * string saying what happened, owned by the plugin and valid until the same
 * thread calls the entry again. Does not touch Vulkan. Thread-safe. */
typedef sparq_status (*sparq_entry_fn)(uint32_t abi_major, const sparq_api **api, const char **message);

/* ------------------------------------------------------------------------ */
/* Layout pins (LP64 and LLP64 targets)                                     */
/* ------------------------------------------------------------------------ */

#if defined(__cplusplus)
#define SPARQ_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SPARQ_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#if UINTPTR_MAX == 0xffffffffffffffffu
SPARQ_STATIC_ASSERT(sizeof(sparq_status) == 4, "enums are 32-bit");
SPARQ_STATIC_ASSERT(sizeof(sparq_dtype) == 4, "enums are 32-bit");
SPARQ_STATIC_ASSERT(sizeof(sparq_plugin_info) == 32, "sparq_plugin_info layout is released");
SPARQ_STATIC_ASSERT(sizeof(sparq_device_info) == 984, "sparq_device_info layout is released");
SPARQ_STATIC_ASSERT(offsetof(sparq_device_info, max_storage_buffer_range) == 840, "sparq_device_info layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_context_desc) == 40, "sparq_context_desc layout is released");
SPARQ_STATIC_ASSERT(offsetof(sparq_context_desc, vulkan_import) == 32, "sparq_context_desc layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_device_tensor) == 24, "sparq_device_tensor layout is released (1.1)");
SPARQ_STATIC_ASSERT(offsetof(sparq_cache_desc, storage) == 20, "sparq_cache_desc 1.0 layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_cache_desc) == 28, "sparq_cache_desc layout is released (1.1)");
SPARQ_STATIC_ASSERT(offsetof(sparq_append_desc, v) == 32, "sparq_append_desc 1.0 layout");
SPARQ_STATIC_ASSERT(offsetof(sparq_append_desc, k_device) == 40, "sparq_append_desc 1.1 layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_append_desc) == 88, "sparq_append_desc layout is released (1.1)");
SPARQ_STATIC_ASSERT(sizeof(sparq_read_desc) == 40, "sparq_read_desc layout is released");
SPARQ_STATIC_ASSERT(sizeof(sparq_attend_stats) == 56, "sparq_attend_stats layout is released");
SPARQ_STATIC_ASSERT(offsetof(sparq_attend_desc, stats) == 96, "sparq_attend_desc 1.0 layout");
SPARQ_STATIC_ASSERT(offsetof(sparq_attend_desc, q_device) == 104, "sparq_attend_desc 1.1 layout");
SPARQ_STATIC_ASSERT(sizeof(sparq_attend_desc) == 152, "sparq_attend_desc layout is released (1.1)");
SPARQ_STATIC_ASSERT(offsetof(sparq_api, last_error) == 16, "sparq_api layout");
SPARQ_STATIC_ASSERT(offsetof(sparq_api, measure_read_bandwidth) == 16 + 14 * 8, "sparq_api 1.0 layout");
SPARQ_STATIC_ASSERT(offsetof(sparq_api, submit_attend) == 16 + 18 * 8, "sparq_api 1.1 layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* SPARQ_SPARQ_H */
