/*
 * The host side of the data the kernels read: the push-constant block, the
 * per-entry records and the per-call scratch directory. Each mirrors a GLSL
 * declaration in shaders/common.glsl; the asserts pin the std430 layout.
 */
#ifndef SQ_PUSH_H
#define SQ_PUSH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* push_constant block `Push` */
struct sq_push {
    uint64_t k_addr, kt_addr, v_addr, vsum_addr;
    uint64_t in_addr, out_addr, step_addr, scratch_addr;
    uint32_t capacity;
    uint32_t n_kv_heads;
    uint32_t n_entries;
    uint32_t r;
    float scale;
    uint32_t flags;
    uint32_t n_chunks;
    uint32_t span;
};
static_assert(sizeof(struct sq_push) == 96, "push constants: must match shaders/common.glsl");
static_assert(sizeof(struct sq_push) <= 128, "the portable push-constant limit");

/* struct Entry */
struct sq_entry {
    uint32_t slot;
    uint32_t len;
    uint32_t k;
    uint32_t l;
    uint64_t k_base, kt_base, v_base;
    uint64_t pad;
};
static_assert(sizeof(struct sq_entry) == 48, "Entry: must match shaders/common.glsl");

/* struct CallInfo; entries follow at SQ_CALL_INFO_BYTES */
struct sq_call_info {
    uint64_t q, z, stats, keys, sel, alpha, part_ml, part_acc, out;
    uint64_t hist, counts, alpha_part;
    uint32_t z_stride, k_stride, score_chunks, splits, split_len;
    uint32_t pad[3]; /* to SQ_CALL_INFO_BYTES */
};
#define SQ_CALL_INFO_BYTES 128u
static_assert(sizeof(struct sq_call_info) == SQ_CALL_INFO_BYTES, "CallInfo: must match shaders/common.glsl");
static_assert(offsetof(struct sq_call_info, z_stride) == 96, "CallInfo layout");

/* Flags shared with the kernels */
#define SQ_FLAG_NO_REALLOC 1u
#define SQ_FLAG_VSUM_ADD 2u

/* Allocated positions per (slot, KV head) are a multiple of this, so the
 * kernels' 4-wide loads of Kt rows stay aligned and in bounds. */
#define SQ_CAPACITY_ALIGN 64u

/* Positions per workgroup of sparq_score (4 per thread, 256 threads);
 * sparq_rank's workgroups take 4, 8 or 16 per thread. */
#define SQ_SCORE_WG 256u
#define SQ_SCORE_CHUNK (SQ_SCORE_WG * 4u)
#define SQ_RANK_PHASES 3u
/* Bins of each of sparq_rank's two radix histograms: [heads][SQ_RANK_BINS]
 * (cleared by the host), then [heads][SQ_RANK_BINS + 4] (cleared by the
 * kernel), followed by each head's softmax normalisation ([heads][group]
 * float pairs); and entries of each of its per-chunk tables, [heads][chunks]
 * [SQ_RANK_BINS] (in the counts region). */
#define SQ_RANK_BINS 2048u

#endif
