#version 460
// attend: exact softmax attention of the GROUP query heads of one KV head
// over one split of positions, flash-decoding style; attend_merge combines
// the splits. Dense: positions 0..S-1. SPARSE: the positions sparq_select
// chose (clamped to the slot), so only k whole K and V rows are read.
// Grid: x = split, y = KV head, z = entry. Each K/V row is read once for
// all heads of the group.
//
// Per tile of WG_SIZE positions:
//  1. scores: KL lanes of a subgroup share a K row (16-byte loads, so a
//     subgroup reads whole rows contiguously), each dots its part with every
//     head's q from shared memory, and shuffles add the parts;
//  2. the tile's max per head (subgroup max, then across subgroups) moves
//     the workgroup's running max; each thread turns its scores into
//     probabilities relative to it, once;
//  3. V: groups of LANES threads (8 elements each, 16-byte loads) sum p * V
//     over the tile's rows. All groups share the running max, so their sums
//     simply add up at the end.
#include "common.glsl"

const uint LANES = HEAD_DIM / 8;
const uint KL = PARAM; // lanes per K row: a power of two <= the subgroup size, set by the backend
const uint GROUPS_OF_LANES = WG_SIZE / LANES; // the backend ensures WG_SIZE >= LANES
const uint MAX_SUBGROUPS = WG_SIZE / 4;       // devices with subgroups under 4 are refused

shared float q_s[GROUP * HEAD_DIM];     // [j][d], pre-scaled
shared float p_s[GROUP * WG_SIZE];      // [j][i]: probabilities of the tile
shared uint pos_s[WG_SIZE];
shared float sg_max[GROUP * MAX_SUBGROUPS];
shared vec4 acc_s[WG_SIZE * 2];

void main()
{
    const uint split = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len;
    const uint head = e * pc.n_kv_heads + kv;
#ifdef SPARSE
    const uint count = ent.k;
    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
#else
    const uint count = S;
#endif
    const uint begin = split * call.split_len;
    const uint end = min(count, begin + call.split_len);

    const uint64_t qb = call.q + uint64_t(head) * GROUP * HEAD_DIM * 4;
    for (uint i = tid; i < GROUP * HEAD_DIM; i += WG_SIZE)
        q_s[i] = FloatRef(qb).v[i] * pc.scale;
    barrier();

    // Each lane always meets the same K chunks (kl, kl + KL), so when there
    // are at most two it keeps its slice of every head's q in registers:
    // reading q from shared memory per row would cost more shared-memory
    // bandwidth than the K rows cost device memory.
    const bool Q_IN_REGISTERS = GROUP <= 8 && (HEAD_DIM / 8 + KL - 1) / KL <= 2;
    vec4 q_reg[GROUP * 4]; // [j][chunk 0/1][lo/hi]
    {
        const uint kl = gl_SubgroupInvocationID % KL;
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            [[unroll]] for (uint ci = 0; ci < 2; ci++) {
                const uint c = min(kl + ci * KL, HEAD_DIM / 8 - 1);
                const uint o = j * HEAD_DIM + c * 8;
                q_reg[(j * 2 + ci) * 2] = vec4(q_s[o], q_s[o + 1], q_s[o + 2], q_s[o + 3]);
                q_reg[(j * 2 + ci) * 2 + 1] = vec4(q_s[o + 4], q_s[o + 5], q_s[o + 6], q_s[o + 7]);
            }
    }

    const uint64_t kb = head_block(ent.k_base, kv);
    const uint64_t vb = head_block(ent.v_base, kv);
    const uint lg = tid / LANES, lane = tid % LANES;
    float m_run[GROUP], l_part[GROUP];
    vec4 acc_lo[GROUP], acc_hi[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        m_run[j] = NEG_INF;
        l_part[j] = 0.0;
        acc_lo[j] = vec4(0.0);
        acc_hi[j] = vec4(0.0);
    }

    for (uint tile = begin; tile < end; tile += WG_SIZE) {
        // 1. scores
        const uint n = min(WG_SIZE, end - tile);
        {
            const uint rows_per_subgroup = gl_SubgroupSize / KL;
            const uint kl = gl_SubgroupInvocationID % KL;
            const uint n_rows = gl_NumSubgroups * rows_per_subgroup;
            const uint row0 = gl_SubgroupID * rows_per_subgroup + gl_SubgroupInvocationID / KL;
            // Trip count is uniform over the subgroup, so the shuffles see
            // every lane; rows past the tile are computed on a clamped row
            // and dropped.
            for (uint base = 0; base < WG_SIZE; base += n_rows) {
                const uint x = base + row0;
                const bool row_valid = x < n;
#ifdef SPARSE
                const uint pos = min(UintRef(selb).v[tile + min(x, n - 1)], S - 1);
#else
                const uint pos = tile + min(x, n - 1);
#endif
                float part[GROUP];
                [[unroll]] for (uint j = 0; j < GROUP; j++)
                    part[j] = 0.0;
                if (Q_IN_REGISTERS) {
                    [[unroll]] for (uint ci = 0; ci < 2; ci++) {
                        const uint c = kl + ci * KL;
                        if (c < HEAD_DIM / 8) {
                            vec4 k_lo, k_hi;
                            load8(kb, pos * HEAD_DIM + c * 8, k_lo, k_hi);
                            [[unroll]] for (uint j = 0; j < GROUP; j++)
                                part[j] += dot(q_reg[(j * 2 + ci) * 2], k_lo) + dot(q_reg[(j * 2 + ci) * 2 + 1], k_hi);
                        }
                    }
                } else {
                    for (uint c = kl; c < HEAD_DIM / 8; c += KL) {
                        vec4 k_lo, k_hi;
                        load8(kb, pos * HEAD_DIM + c * 8, k_lo, k_hi);
                        [[unroll]] for (uint j = 0; j < GROUP; j++) {
                            const uint o = j * HEAD_DIM + c * 8;
                            part[j] += dot(vec4(q_s[o], q_s[o + 1], q_s[o + 2], q_s[o + 3]), k_lo) +
                                       dot(vec4(q_s[o + 4], q_s[o + 5], q_s[o + 6], q_s[o + 7]), k_hi);
                        }
                    }
                }
                [[unroll]] for (uint j = 0; j < GROUP; j++)
                    [[unroll]] for (uint o = KL / 2; o > 0; o >>= 1)
                        part[j] += subgroupShuffleXor(part[j], o);
                if (row_valid && kl == 0) {
                    pos_s[x] = pos;
                    [[unroll]] for (uint j = 0; j < GROUP; j++)
                        p_s[j * WG_SIZE + x] = part[j];
                }
            }
        }
        barrier();
        const bool valid = tid < n;
        float s[GROUP];
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            s[j] = valid ? p_s[j * WG_SIZE + tid] : NEG_INF;
        // 2. tile max, running max, probabilities
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            const float m = subgroupMax(s[j]);
            if (subgroupElect())
                sg_max[j * MAX_SUBGROUPS + gl_SubgroupID] = m;
        }
        barrier();
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            float m = m_run[j];
            for (uint g = 0; g < gl_NumSubgroups; g++)
                m = max(m, sg_max[j * MAX_SUBGROUPS + g]);
            const float corr = m == NEG_INF ? 1.0 : exp(m_run[j] - m);
            m_run[j] = m;
            l_part[j] *= corr;
            acc_lo[j] *= corr;
            acc_hi[j] *= corr;
            const float p = valid && m != NEG_INF ? exp(s[j] - m) : 0.0;
            l_part[j] += p;
            p_s[j * WG_SIZE + tid] = p;
        }
        barrier();
        // 3. V rows of the tile
        if (lg < GROUPS_OF_LANES) {
            for (uint x = lg; x < n; x += GROUPS_OF_LANES) {
                vec4 v_lo, v_hi;
                load8(vb, pos_s[x] * HEAD_DIM + lane * 8, v_lo, v_hi);
                [[unroll]] for (uint j = 0; j < GROUP; j++) {
                    const float p = p_s[j * WG_SIZE + x];
                    acc_lo[j] += p * v_lo;
                    acc_hi[j] += p * v_hi;
                }
            }
        }
        barrier();
    }

    // Sum the lane groups and the threads' probability sums; write this
    // split's partial result relative to its running max.
    const uint64_t mlb = call.part_ml + (uint64_t(head) * call.splits + split) * GROUP * 8;
    const uint64_t accb = call.part_acc + (uint64_t(head) * call.splits + split) * GROUP * HEAD_DIM * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float l_total = wg_sum(l_part[j]);
        if (lg < GROUPS_OF_LANES) {
            acc_s[2 * tid] = acc_lo[j];
            acc_s[2 * tid + 1] = acc_hi[j];
        }
        barrier();
        if (tid < LANES) {
            vec4 lo = vec4(0.0), hi = vec4(0.0);
            for (uint g = 0; g < GROUPS_OF_LANES; g++) {
                lo += acc_s[2 * (g * LANES + tid)];
                hi += acc_s[2 * (g * LANES + tid) + 1];
            }
            Vec4Ref(accb).v[(j * HEAD_DIM >> 2) + 2 * tid] = lo;
            Vec4Ref(accb).v[(j * HEAD_DIM >> 2) + 2 * tid + 1] = hi;
            if (tid == 0)
                Vec2Ref(mlb).v[j] = vec2(m_run[j], l_total);
        }
        barrier();
    }
}
