#version 460
// attend: exact softmax attention of the GROUP query heads of one KV head
// over one split of positions, flash-decoding style; attend_merge combines
// the splits. Dense: positions 0..S-1. SPARSE: the positions sparq_rank
// chose (clamped to the slot), so only k whole K and V rows are read.
// Grid: x = split, y = KV head, z = entry. Each K/V row is read once for
// all heads of the group.
//
// Decode attention is bound by memory bandwidth, so the kernel is built to
// keep many loads in flight and to meet no workgroup barrier until the end:
//  - KL lanes of a subgroup form a lane group that reads one K or V row
//    (C chunks of 8 elements per lane, lane kl taking chunks kl, kl + KL, ...),
//    so a row is one contiguous run and the K dot products reduce with
//    KL-wide shuffles;
//  - each lane group walks its own blocks of R rows with an online softmax
//    of its own: it issues the block's K and V loads first (2 * R * C
//    16-byte loads in flight per lane, held as stored), then scores, rescales
//    once per block, and accumulates p * V, unpacking one row at a time (on
//    an H200 at 4 heads: 168 registers instead of 246, 8-14% faster);
//  - at the end the lane groups' (max, sum, acc) are combined through shared
//    memory, head by head and chunk by chunk, into this split's partial result.
#include "common.glsl"

// Lanes per row (KL, PARAM): a power of two no larger than the subgroup or
// the row's NCH chunks of 8 elements, chosen by the backend; each lane takes
// C = ceil(NCH / KL) chunks. Where KL does not divide NCH the last lanes'
// last chunk lies past the row: it is read clamped to the row's last chunk,
// weighted 0 in the scores and never written (ALL_CHUNKS folds the checks
// away once the constants are specialised). Variants built with CHUNKS_N
// have C fixed at compile time, so the per-lane arrays below are plain
// registers; arrays sized by specialization constants can end up in slow
// local memory.
const uint NCH = HEAD_DIM / 8;
const uint KL = PARAM;
#ifdef CHUNKS_N
const uint C = CHUNKS_N; // the backend picks the variant with C == ceil(NCH / KL)
#else
const uint C = (NCH + KL - 1) / KL;
#endif
const bool ALL_CHUNKS = NCH % KL == 0;
const uint NG = WG_SIZE / KL;          // lane groups per workgroup
// Rows per block: the loads of a block are what a lane has in flight. On
// an H200 with 4 query heads per KV head, eight rows beat four by up to 10%
// and four ran twice as fast as two; fewer where per-head registers are
// many. Must match attend_rows_per_block in backend/sq_attend.c.
const uint R = GROUP >= 16 ? 2 : GROUP >= 8 ? 4 : 8;
// q stays in registers while that is affordable; larger groups read it
// from shared memory (more shared-memory traffic, no spills).
const bool Q_IN_REGISTERS = GROUP * C <= 8;

shared vec4 q_s[GROUP * HEAD_DIM / 4]; // [j][d / 4], pre-scaled
// One 8-element chunk per invocation: the combine goes chunk by chunk, so
// its shared memory does not grow with head_dim (where head_dim / 8 is odd,
// lanes take several chunks each).
shared vec4 red_acc[WG_SIZE * 2];
shared float red_m[NG], red_l[NG];

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
    for (uint i = tid; i < GROUP * HEAD_DIM / 4; i += WG_SIZE)
        q_s[i] = Vec4Ref(qb).v[i] * pc.scale;
    barrier();

    // Lane groups never straddle a subgroup: KL divides the subgroup size.
    const uint kl = gl_SubgroupInvocationID % KL;
    const uint lg = gl_SubgroupID * (gl_SubgroupSize / KL) + gl_SubgroupInvocationID / KL;
    const uint n_lg = gl_NumSubgroups * (gl_SubgroupSize / KL); // == NG unless the subgroup is partial

    vec4 q_reg[Q_IN_REGISTERS ? GROUP * C * 2 : 1];
    if (Q_IN_REGISTERS) {
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            [[unroll]] for (uint c = 0; c < C; c++) {
                const bool ok = ALL_CHUNKS || kl + c * KL < NCH;
                const uint o = (j * HEAD_DIM + min(kl + c * KL, NCH - 1) * 8) / 4;
                q_reg[(j * C + c) * 2] = ok ? q_s[o] : vec4(0.0);
                q_reg[(j * C + c) * 2 + 1] = ok ? q_s[o + 1] : vec4(0.0);
            }
    }

    const uint64_t kb = head_block(ent.k_base, kv);
    const uint64_t vb = head_block(ent.v_base, kv);
    float m_run[GROUP], l_run[GROUP];
    vec4 acc[GROUP * C * 2]; // [j][c][lo/hi]
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        m_run[j] = NEG_INF;
        l_run[j] = 0.0;
        [[unroll]] for (uint c = 0; c < C * 2; c++)
            acc[j * C * 2 + c] = vec4(0.0);
    }

    // Trip counts are uniform over a lane group, so every shuffle partner is
    // active; rows past the split are loaded clamped and weighted 0.
    for (uint base = begin + lg * R; base < end; base += n_lg * R) {
        uint pos[R];
        [[unroll]] for (uint r = 0; r < R; r++) {
            const uint x = min(base + r, end - 1);
#ifdef SPARSE
            pos[r] = min(UintRef(selb).v[x], S - 1);
#else
            pos[r] = x;
#endif
        }
        // Every load of the block first, as stored; each row is unpacked
        // only while it is used, so the block's f32 values are never all
        // live at once (registers decide how many workgroups fit a core).
        Raw8 k_raw[R * C], v_raw[R * C];
        [[unroll]] for (uint r = 0; r < R; r++)
            [[unroll]] for (uint c = 0; c < C; c++)
                k_raw[r * C + c] = load_raw8(kb, pos[r] * HEAD_DIM + min(kl + c * KL, NCH - 1) * 8);
        [[unroll]] for (uint r = 0; r < R; r++)
            [[unroll]] for (uint c = 0; c < C; c++)
                v_raw[r * C + c] = load_raw8(vb, pos[r] * HEAD_DIM + min(kl + c * KL, NCH - 1) * 8);

        // Scores, row by row: one row's K unpacked, dotted with every head.
        float s[GROUP * R]; // [j][r]
        [[unroll]] for (uint r = 0; r < R; r++) {
            float part[GROUP];
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                part[j] = 0.0;
            [[unroll]] for (uint c = 0; c < C; c++) {
                vec4 k_lo, k_hi;
                raw8_unpack(k_raw[r * C + c], k_lo, k_hi);
                [[unroll]] for (uint j = 0; j < GROUP; j++) {
                    vec4 qa, qb4;
                    if (Q_IN_REGISTERS) {
                        qa = q_reg[(j * C + c) * 2];
                        qb4 = q_reg[(j * C + c) * 2 + 1];
                    } else {
                        const bool ok = ALL_CHUNKS || kl + c * KL < NCH;
                        const uint o = (j * HEAD_DIM + min(kl + c * KL, NCH - 1) * 8) / 4;
                        qa = ok ? q_s[o] : vec4(0.0);
                        qb4 = ok ? q_s[o + 1] : vec4(0.0);
                    }
                    part[j] += dot(qa, k_lo) + dot(qb4, k_hi);
                }
            }
            [[unroll]] for (uint j = 0; j < GROUP; j++) {
                [[unroll]] for (uint o = KL / 2; o > 0; o >>= 1)
                    part[j] += subgroupShuffleXor(part[j], o);
                s[j * R + r] = base + r < end ? part[j] : NEG_INF;
            }
        }

        // Each head's running max and rescale, then its weights in place of
        // the scores.
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            float m_blk = s[j * R];
            [[unroll]] for (uint r = 1; r < R; r++)
                m_blk = max(m_blk, s[j * R + r]);
            const float m_new = max(m_run[j], m_blk);
            // m_new is -inf only while every score so far was -inf.
            const float corr = m_new == NEG_INF ? 1.0 : exp(m_run[j] - m_new);
            m_run[j] = m_new;
            l_run[j] *= corr;
            [[unroll]] for (uint c = 0; c < C * 2; c++)
                acc[j * C * 2 + c] *= corr;
            [[unroll]] for (uint r = 0; r < R; r++) {
                const float p = s[j * R + r] == NEG_INF ? 0.0 : exp(s[j * R + r] - m_new);
                l_run[j] += p;
                s[j * R + r] = p;
            }
        }

        // Values, row by row: one row's V unpacked, added to every head
        // (per head in row order, as before).
        [[unroll]] for (uint r = 0; r < R; r++)
            [[unroll]] for (uint c = 0; c < C; c++) {
                vec4 v_lo, v_hi;
                raw8_unpack(v_raw[r * C + c], v_lo, v_hi);
                [[unroll]] for (uint j = 0; j < GROUP; j++) {
                    acc[(j * C + c) * 2] += s[j * R + r] * v_lo;
                    acc[(j * C + c) * 2 + 1] += s[j * R + r] * v_hi;
                }
            }
    }

    // Combine the lane groups, head by head, relative to the split's max.
    const uint64_t mlb = call.part_ml + (uint64_t(head) * call.splits + split) * GROUP * 8;
    const uint64_t accb = call.part_acc + (uint64_t(head) * call.splits + split) * GROUP * HEAD_DIM * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        if (kl == 0 && lg < NG) {
            red_m[lg] = m_run[j];
            red_l[lg] = l_run[j];
        }
        barrier();
        float m_all = NEG_INF;
        for (uint g = 0; g < n_lg; g++)
            m_all = max(m_all, red_m[g]);
        if (tid == 0) {
            float l_all = 0.0;
            for (uint g = 0; g < n_lg; g++)
                l_all += red_m[g] == NEG_INF ? 0.0 : red_l[g] * exp(red_m[g] - m_all);
            Vec2Ref(mlb).v[j] = vec2(m_all, l_all);
        }
        const float w = m_run[j] == NEG_INF ? 0.0 : exp(m_run[j] - m_all);
        [[unroll]] for (uint c = 0; c < C; c++) {
            // Chunk c of every lane: red_acc[lane group][kl][lo/hi].
            if (lg < NG) {
                const uint o = (lg * KL + kl) * 2;
                red_acc[o] = acc[(j * C + c) * 2] * w;
                red_acc[o + 1] = acc[(j * C + c) * 2 + 1] * w;
            }
            barrier();
            for (uint x = tid; x < KL * 2; x += WG_SIZE) {
                vec4 sum = vec4(0.0);
                for (uint g = 0; g < n_lg; g++)
                    sum += red_acc[g * KL * 2 + x];
                // x = (kl, lo/hi) of chunk c: elements (kl + c * KL) * 8 + 4 * (x % 2)
                if (ALL_CHUNKS || x / 2 + c * KL < NCH)
                    Vec4Ref(accb).v[j * (HEAD_DIM / 4) + ((x / 2) + c * KL) * 2 + (x % 2)] = sum;
            }
            barrier();
        }
    }
}
