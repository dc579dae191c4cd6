#include "sparq_api_impl.h"
#include "sq_cache.h"
#include "sq_error.h"
#include "sq_record.h"

#include <stdlib.h>
#include <string.h>

/* Grid extents stay far below the 65535 every device supports. */
#define SPARQ_MAX_SEQS 65535u
#define SPARQ_MAX_KV_HEADS 1024u

static sparq_status check_dtype(sparq_dtype t, const char *function, const char *field)
{
    if (t == SPARQ_DTYPE_DEFAULT || t == SPARQ_DTYPE_F16 || t == SPARQ_DTYPE_F32)
        return SPARQ_SUCCESS;
    return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s is %d, not a sparq_dtype", function, field, (int)t);
}

static sparq_status check_slot(const sparq_cache *c, uint32_t slot, const char *function)
{
    if (slot < c->n_seqs)
        return SPARQ_SUCCESS;
    return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: slot %u is out of range (the cache has %u slots)", function,
                   slot, c->n_seqs);
}

sparq_status sparq_api_cache_create(sparq_context *context, const sparq_cache_desc *user_desc, sparq_cache **cache)
{
    sq_clear_error();
    sparq_cache_desc d;
    sparq_status st = sparq_require(cache, "cache_create", "cache");
    if (st != SPARQ_SUCCESS)
        return st;
    *cache = NULL;
    if ((st = sparq_require(context, "cache_create", "context")) != SPARQ_SUCCESS ||
        (st = SPARQ_COPY_DESC_GROWN(user_desc, &d, SPARQ_CACHE_DESC_SIZE_1_0, "sparq_cache_desc")) != SPARQ_SUCCESS ||
        (st = check_dtype(d.storage, "cache_create", "storage")) != SPARQ_SUCCESS)
        return st;
    if (d.n_seqs < 1 || d.n_seqs > SPARQ_MAX_SEQS)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_create: n_seqs is %u; it must be 1..%u", d.n_seqs,
                       SPARQ_MAX_SEQS);
    if (d.n_kv_heads < 1 || d.n_kv_heads > SPARQ_MAX_KV_HEADS)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_create: n_kv_heads is %u; it must be 1..%u",
                       d.n_kv_heads, SPARQ_MAX_KV_HEADS);
    if (d.head_dim < 8 || d.head_dim > SPARQ_MAX_HEAD_DIM || d.head_dim % 8 != 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_create: head_dim is %u; it must be a multiple of 8 in 8..%u",
                       d.head_dim, SPARQ_MAX_HEAD_DIM);
    if (d.capacity < 1 || d.capacity > SPARQ_MAX_CAPACITY)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_create: capacity is %u; it must be 1..%u", d.capacity,
                       SPARQ_MAX_CAPACITY);
    if (d.frames_in_flight > SPARQ_MAX_FRAMES_IN_FLIGHT)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_create: frames_in_flight is %u; it must be 0..%u",
                       d.frames_in_flight, SPARQ_MAX_FRAMES_IN_FLIGHT);
    return sq_cache_create(context, &d, cache);
}

sparq_status sparq_api_cache_destroy(sparq_cache *cache)
{
    sq_clear_error();
    sq_cache_destroy(cache);
    return SPARQ_SUCCESS;
}

/* K or V: host memory or a device tensor, exactly one of them. */
static sparq_status check_kv(const sparq_append_desc *d, const char *fn)
{
    const bool k_dev = d->k_device.buffer != 0, v_dev = d->v_device.buffer != 0;
    if (k_dev != v_dev)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: k_device and v_device must be given together", fn);
    if (!k_dev) {
        sparq_status st = sparq_require(d->k, fn, "k");
        return st != SPARQ_SUCCESS ? st : sparq_require(d->v, fn, "v");
    }
    if (d->k || d->v)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: k_device/v_device are given, so k and v must be NULL", fn);
    if (d->dtype == SPARQ_DTYPE_F16)
        return sq_fail(SPARQ_ERROR_NOT_SUPPORTED, "%s: device tensors of K/V must be F32 (dtype F16 is host memory only)",
                       fn);
    return SPARQ_SUCCESS;
}

sparq_status sparq_check_append(sparq_cache *c, const sparq_append_desc *user_desc, const char *fn,
                                sq_append_params *p)
{
    sparq_append_desc d;
    sparq_status st = sparq_require(c, fn, "cache");
    if (st != SPARQ_SUCCESS ||
        (st = SPARQ_COPY_DESC_GROWN(user_desc, &d, SPARQ_APPEND_DESC_SIZE_1_0, "sparq_append_desc")) != SPARQ_SUCCESS ||
        (st = check_dtype(d.dtype, fn, "dtype")) != SPARQ_SUCCESS || (st = sparq_require(d.slots, fn, "slots")) ||
        (st = check_kv(&d, fn)) != SPARQ_SUCCESS)
        return st;
    if (d.n_slots < 1 || d.n_slots > c->n_seqs)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: n_slots is %u; it must be 1..%u (distinct slots)", fn,
                       d.n_slots, c->n_seqs);
    if (d.n_tokens < 1)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: n_tokens is 0", fn);
    if (d.n_tokens > c->capacity)
        return sq_fail(SPARQ_ERROR_CAPACITY_EXCEEDED, "%s: %u tokens exceed the capacity of %u (nothing appended)", fn,
                       d.n_tokens, c->capacity);
    /* Distinct slots, checked with a bit per slot on the stack (8 KiB at
     * most, only the cache's slots cleared): per-step calls allocate nothing. */
    uint64_t seen[(SPARQ_MAX_SEQS + 63) / 64];
    memset(seen, 0, (c->n_seqs + 63) / 64 * sizeof seen[0]);
    for (uint32_t i = 0; i < d.n_slots && st == SPARQ_SUCCESS; i++) {
        if ((st = check_slot(c, d.slots[i], fn)) != SPARQ_SUCCESS)
            break;
        const uint64_t bit = 1ull << (d.slots[i] % 64);
        if (seen[d.slots[i] / 64] & bit)
            st = sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: slot %u appears twice in slots", fn, d.slots[i]);
        seen[d.slots[i] / 64] |= bit;
    }
    if (st != SPARQ_SUCCESS)
        return st;
    *p = (sq_append_params){
        .n_slots = d.n_slots,
        .slots = d.slots,
        .n_tokens = d.n_tokens,
        .dtype = d.dtype == SPARQ_DTYPE_F16 ? SPARQ_DTYPE_F16 : SPARQ_DTYPE_F32,
        .k = d.k,
        .v = d.v,
    };
    if (d.k_device.buffer) {
        /* One dispatch reads the whole tensor (see SQ_RECORD_MAX_TOKENS). */
        if (d.n_tokens > SQ_RECORD_MAX_TOKENS)
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                           "%s: %u tokens from device tensors; at most %u per call (split the prefill)", fn,
                           d.n_tokens, SQ_RECORD_MAX_TOKENS);
        const VkDeviceSize bytes = (VkDeviceSize)d.n_slots * d.n_tokens * c->n_kv_heads * c->head_dim * sizeof(float);
        if ((st = sq_device_tensor_resolve(c->ctx, &d.k_device, bytes, fn, "k_device", &p->k_dev)) != SPARQ_SUCCESS ||
            (st = sq_device_tensor_resolve(c->ctx, &d.v_device, bytes, fn, "v_device", &p->v_dev)) != SPARQ_SUCCESS)
            return st;
    }
    return SPARQ_SUCCESS;
}

sparq_status sparq_api_cache_append(sparq_cache *c, const sparq_append_desc *user_desc)
{
    sq_clear_error();
    sq_append_params p;
    sparq_status st = sparq_check_append(c, user_desc, "cache_append", &p);
    if (st != SPARQ_SUCCESS)
        return st;
    if (sq_tensor_is_device(&p.k_dev))
        return sq_cache_append_device(c, &p);
    return sq_cache_append(c, p.n_slots, p.slots, p.n_tokens, p.dtype, p.k, p.v);
}

sparq_status sparq_api_cache_truncate(sparq_cache *c, uint32_t slot, uint32_t length)
{
    sq_clear_error();
    sparq_status st = sparq_require(c, "cache_truncate", "cache");
    if (st != SPARQ_SUCCESS || (st = check_slot(c, slot, "cache_truncate")) != SPARQ_SUCCESS)
        return st;
    if (length > c->lengths[slot])
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_truncate: slot %u holds %u positions; cannot grow to %u",
                       slot, c->lengths[slot], length);
    return sq_cache_truncate(c, slot, length);
}

sparq_status sparq_api_cache_reset(sparq_cache *c, uint32_t slot)
{
    sq_clear_error();
    sparq_status st = sparq_require(c, "cache_reset", "cache");
    if (st != SPARQ_SUCCESS || (st = check_slot(c, slot, "cache_reset")) != SPARQ_SUCCESS)
        return st;
    return sq_cache_reset(c, slot);
}

sparq_status sparq_api_cache_get_lengths(sparq_cache *c, uint32_t first, uint32_t count, uint32_t *lengths)
{
    sq_clear_error();
    sparq_status st = sparq_require(c, "cache_get_lengths", "cache");
    if (st != SPARQ_SUCCESS)
        return st;
    if ((uint64_t)first + count > c->n_seqs)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_get_lengths: slots %u..%llu are out of range (%u slots)",
                       first, (unsigned long long)first + count, c->n_seqs);
    if (count > 0 && (st = sparq_require(lengths, "cache_get_lengths", "lengths")) != SPARQ_SUCCESS)
        return st;
    if (count > 0)
        memcpy(lengths, c->lengths + first, count * sizeof *lengths);
    return SPARQ_SUCCESS;
}

sparq_status sparq_api_cache_read(sparq_cache *c, const sparq_read_desc *user_desc)
{
    sq_clear_error();
    sparq_read_desc d;
    sparq_status st = sparq_require(c, "cache_read", "cache");
    if (st != SPARQ_SUCCESS || (st = SPARQ_COPY_DESC(user_desc, &d, "sparq_read_desc")) != SPARQ_SUCCESS ||
        (st = check_slot(c, d.slot, "cache_read")) != SPARQ_SUCCESS)
        return st;
    if ((uint64_t)d.first + d.count > c->lengths[d.slot])
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "cache_read: positions %u..%llu are past the length %u of slot %u",
                       d.first, (unsigned long long)d.first + d.count, c->lengths[d.slot], d.slot);
    if (d.count > 0 && !d.k && !d.v && !d.v_sum)
        return SPARQ_SUCCESS;
    return sq_cache_read(c, &d);
}
