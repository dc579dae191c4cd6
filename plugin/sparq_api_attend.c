#include "sparq_api_impl.h"
#include "sq_cache.h"
#include "sq_error.h"

#include <math.h>
#include <string.h>

static bool overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + b_bytes && y < x + a_bytes;
}

/* One of a host pointer and a device tensor (with_device: the device
 * tensor is required). */
static sparq_status check_tensor(const void *ptr, const sparq_device_tensor *dev, const char *fn, const char *name,
                                 const char *dev_name, bool need_device)
{
    if (dev->buffer && ptr)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: both %s and %s are given; pass one", fn, name, dev_name);
    if (need_device && !dev->buffer)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: %s is required (a recorded or submitted call cannot write host memory)", fn, dev_name);
    if (!dev->buffer && !ptr)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %s is NULL (and no %s is given)", fn, name, dev_name);
    return SPARQ_SUCCESS;
}

sparq_status sparq_check_attend(sparq_cache *c, const sparq_attend_desc *user_desc, const char *fn, bool recorded,
                                sq_attend_params *out_params)
{
    sparq_attend_desc d;
    sparq_status st = sparq_require(c, fn, "cache");
    if (st != SPARQ_SUCCESS ||
        (st = SPARQ_COPY_DESC_GROWN(user_desc, &d, SPARQ_ATTEND_DESC_SIZE_1_0, "sparq_attend_desc")) != SPARQ_SUCCESS ||
        (st = sparq_require(d.slots, fn, "slots")) ||
        (st = check_tensor(d.q, &d.q_device, fn, "q", "q_device", false)) != SPARQ_SUCCESS ||
        (st = check_tensor(d.out, &d.out_device, fn, "out", "out_device", recorded)) != SPARQ_SUCCESS)
        return st;
    if (recorded && (d.selected || d.alpha || d.stats))
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: selected, alpha and stats are not produced by recorded or submitted calls; pass NULL", fn);
    if (d.mode != SPARQ_ATTENTION_DEFAULT && d.mode != SPARQ_ATTENTION_DENSE && d.mode != SPARQ_ATTENTION_SPARQ)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: mode is %d, not a sparq_attention_mode", fn, (int)d.mode);
    if (d.dtype != SPARQ_DTYPE_DEFAULT && d.dtype != SPARQ_DTYPE_F16 && d.dtype != SPARQ_DTYPE_F32)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: dtype is %d, not a sparq_dtype", fn, (int)d.dtype);
    if (d.n_slots < 1 || d.n_slots > 65535)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: n_slots is %u; it must be 1..65535", fn, d.n_slots);
    if (d.n_heads < 1 || d.n_heads % c->n_kv_heads != 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: n_heads %u is not a positive multiple of n_kv_heads %u", fn,
                       d.n_heads, c->n_kv_heads);
    const uint32_t group = d.n_heads / c->n_kv_heads;
    if (group > SPARQ_MAX_GROUP_SIZE)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: %u query heads per KV head; at most %u are supported", fn, group,
                       SPARQ_MAX_GROUP_SIZE);
    if (d.flags & ~SPARQ_ATTEND_NO_MEAN_REALLOCATION)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                       d.flags & ~SPARQ_ATTEND_NO_MEAN_REALLOCATION);
    if (!isfinite(d.scale) || d.scale < 0.0f)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: scale %g must be finite and >= 0 (0 = 1/sqrt(head_dim))", fn,
                       (double)d.scale);
    const bool sparq = d.mode != SPARQ_ATTENTION_DENSE;
    /* The SparQ parameters are ignored (so not checked) in dense mode. */
    if (sparq && d.r > c->head_dim)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: r is %u; it must be <= head_dim %u (0 = default)", fn, d.r,
                       c->head_dim);
    if (sparq && d.k && d.l > d.k)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: the local window l = %u exceeds k = %u", fn, d.l, d.k);
    if (d.reserved != 0)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: reserved must be 0", fn);
    if (d.stats && (st = sparq_check_out(d.stats, sizeof(sparq_attend_stats), "sparq_attend_stats")) != SPARQ_SUCCESS)
        return st;

    uint32_t k_max = 0;
    for (uint32_t i = 0; i < d.n_slots; i++) {
        if (d.slots[i] >= c->n_seqs)
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: slots[%u] = %u is out of range (%u slots)", fn, i,
                           d.slots[i], c->n_seqs);
        const uint32_t S = c->lengths[d.slots[i]];
        if (S == 0)
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: slot %u is empty: append the current token first", fn,
                           d.slots[i]);
        uint32_t r, k, l;
        sq_resolve_sparq(c->head_dim, S, d.r, d.k, d.l, &r, &k, &l);
        k_max = k > k_max ? k : k_max;
    }
    if (sparq && d.selected && d.selected_stride < k_max)
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT,
                       "%s: selected_stride is %u but up to %u positions are selected in this call", fn,
                       d.selected_stride, k_max);
    const size_t elem = d.dtype == SPARQ_DTYPE_F16 ? 2 : 4;
    const size_t bytes = (size_t)d.n_slots * d.n_heads * c->head_dim * elem;
    if (d.q && d.out && overlaps(d.q, bytes, d.out, bytes))
        return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: out overlaps q", fn);
    sq_tensor_ref q_dev = {0}, out_dev = {0};
    if (d.q_device.buffer || d.out_device.buffer) {
        if (d.dtype == SPARQ_DTYPE_F16)
            return sq_fail(SPARQ_ERROR_NOT_SUPPORTED,
                           "%s: q_device/out_device must be F32 (dtype F16 is supported for host memory only)", fn);
        if (d.q_device.buffer &&
            (st = sq_device_tensor_resolve(c->ctx, &d.q_device, bytes, fn, "q_device", &q_dev)) != SPARQ_SUCCESS)
            return st;
        if (d.out_device.buffer &&
            (st = sq_device_tensor_resolve(c->ctx, &d.out_device, bytes, fn, "out_device", &out_dev)) != SPARQ_SUCCESS)
            return st;
        if (d.q_device.buffer && d.out_device.buffer && q_dev.buffer == out_dev.buffer &&
            q_dev.offset < out_dev.offset + bytes && out_dev.offset < q_dev.offset + bytes)
            return sq_fail(SPARQ_ERROR_INVALID_ARGUMENT, "%s: out_device overlaps q_device", fn);
    }

    *out_params = (sq_attend_params){
        .sparq = sparq,
        .n_slots = d.n_slots,
        .slots = d.slots,
        .group = group,
        .dtype = d.dtype == SPARQ_DTYPE_F16 ? SPARQ_DTYPE_F16 : SPARQ_DTYPE_F32,
        .q = d.q,
        .out = d.out,
        .scale = d.scale > 0.0f ? d.scale : 1.0f / sqrtf((float)c->head_dim),
        .flags = d.flags,
        .r = d.r,
        .k = d.k,
        .l = d.l,
        .selected = d.selected,
        .selected_stride = d.selected_stride,
        .alpha = d.alpha,
        .stats = d.stats,
        .q_dev = q_dev,
        .out_dev = out_dev,
    };
    return SPARQ_SUCCESS;
}

sparq_status sparq_api_attend(sparq_cache *c, const sparq_attend_desc *desc)
{
    sq_clear_error();
    sq_attend_params p;
    sparq_status st = sparq_check_attend(c, desc, "attend", false, &p);
    return st != SPARQ_SUCCESS ? st : sq_attend(c, &p);
}
