#version 460
// sparq_select: SparQ step 3-4 for one (entry, KV head), one workgroup:
//  - merges the chunk statistics into each head's softmax max and sum,
//  - ranks positions by rho[t] = sum_j p_j[t] as order-preserving uint keys
//    (rho >= 0, so its float bits order like the values; NaN ranks lowest),
//  - finds the (k - l)-th largest key with a 4-pass radix select (8-bit
//    digits, shared-memory histograms, workgroup scans),
//  - compacts the chosen positions in position order: the forced local
//    window, every key above the threshold, and the first ties at it,
//  - and sums alpha_j = sum of p_j over the chosen positions.
// Grid: x = KV head, y = entry.
#include "common.glsl"

shared vec2 head_norm[GROUP];   // (max, 1 / sum exp) of z_j over all positions
// Ranking keys cluster (most positions have tiny, similar probabilities), so
// many lanes of a subgroup add to the same bin; HIST_COPIES copies, picked by
// lane, divide that serialisation, and are summed before each scan.
const uint HIST_COPIES = 8;
shared uint hist[256 * HIST_COPIES];

shared uint radix_state[3];     // prefix, still needed, digit found

void main()
{
    const uint kv = gl_WorkGroupID.x, e = gl_WorkGroupID.y;
    const uint tid = gl_LocalInvocationID.x;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    const uint head = e * pc.n_kv_heads + kv;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;
    const uint64_t keyb = call.keys + uint64_t(head) * call.z_stride * 4;
    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
    const uint n_chunks = (S + PARAM - 1) / PARAM; // PARAM: positions per score chunk

    // Softmax max and sum of each head over all positions, from the chunk
    // statistics: the threads share the chunks, then reduce.
    const uint64_t sb = call.stats + uint64_t(head) * call.score_chunks * GROUP * 8;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        float m = NEG_INF;
        for (uint c = tid; c < n_chunks; c += WG_SIZE)
            m = max(m, Vec2Ref(sb).v[c * GROUP + j].x);
        m = wg_max(m);
        float sum = 0.0;
        for (uint c = tid; c < n_chunks; c += WG_SIZE) {
            const vec2 st = Vec2Ref(sb).v[c * GROUP + j];
            sum += st.x == NEG_INF ? 0.0 : st.y * exp(st.x - m);
        }
        sum = wg_sum(sum);
        if (tid == 0)
            head_norm[j] = vec2(m, 1.0 / sum);
    }
    barrier();

    // all: every candidate is chosen (k >= S); otherwise radix-select the
    // threshold key and how many ties at it to take.
    const bool take_all = need >= n_cand;
    uint threshold = 0, ties = 0;
    if (!take_all && need > 0) {
        for (uint i = tid; i < 256 * HIST_COPIES; i += WG_SIZE)
            hist[i] = 0;
        barrier();
        const uint copy = (gl_SubgroupInvocationID % HIST_COPIES) * 256;
        for (uint t = tid; t < n_cand; t += WG_SIZE) {
            float rho = 0.0;
            [[unroll]] for (uint j = 0; j < GROUP; j++) {
                const vec2 hn = head_norm[j];
                rho += exp(FloatRef(zb).v[j * call.z_stride + t] - hn.x) * hn.y;
            }
            const uint key = isnan(rho) ? 0u : floatBitsToUint(max(rho, 0.0));
            UintRef(keyb).v[t] = key;
            atomicAdd(hist[copy + (key >> 24)], 1u);
        }
        if (tid == 0) {
            radix_state[0] = 0;    // prefix of the threshold found so far
            radix_state[1] = need; // how many still to take at or below it
        }
        barrier();
        for (uint pass = 0; pass < 4; pass++) {
            const uint shift = 24 - 8 * pass;
            if (pass > 0) {
                for (uint i = tid; i < 256 * HIST_COPIES; i += WG_SIZE)
                    hist[i] = 0;
                barrier();
                const uint prefix = radix_state[0];
                const uint high_mask = ~0u << (shift + 8);
                for (uint t = tid; t < n_cand; t += WG_SIZE) {
                    const uint key = UintRef(keyb).v[t];
                    if ((key & high_mask) == prefix)
                        atomicAdd(hist[copy + ((key >> shift) & 255u)], 1u);
                }
                barrier();
            }
            // Suffix sums over digits (largest digit first) by scanning the
            // reversed histogram; the digit where the count reaches `need`.
            uint total;
            const uint still = radix_state[1]; // read before the scan's barriers
            const uint digit = 255 - min(tid, 255);
            uint count = 0;
            if (tid < 256)
                for (uint h = 0; h < HIST_COPIES; h++)
                    count += hist[h * 256 + digit];
            const uint above = wg_exclusive_scan(count, total); // keys with a larger digit
            if (tid < 256 && above < still && above + count >= still) {
                radix_state[2] = digit;
                radix_state[1] = still - above;
            }
            barrier();
            if (tid == 0)
                radix_state[0] |= radix_state[2] << shift;
            barrier();
        }
        threshold = radix_state[0];
        ties = radix_state[1];
    }

    // Compaction in position order. Each subgroup owns a contiguous run of
    // positions and walks it in coalesced tiles of one position per lane:
    // a first walk counts what it takes, one workgroup scan places every
    // subgroup (and ranks its ties), and a second walk writes, lanes ranked
    // by ballots.
    const uint sg_size = gl_SubgroupSize;
    const uint span = ((S + gl_NumSubgroups - 1) / gl_NumSubgroups + sg_size - 1) / sg_size * sg_size;
    const uint sg_begin = min(gl_SubgroupID * span, S), sg_end = min(sg_begin + span, S);
    uint lane_sure = 0, lane_tie = 0;
    for (uint t0 = sg_begin; t0 < sg_end; t0 += sg_size) {
        const uint t = t0 + gl_SubgroupInvocationID;
        if (t >= sg_end)
            continue;
        if (t >= n_cand || take_all) {
            lane_sure++;
        } else if (need > 0) {
            const uint key = UintRef(keyb).v[t];
            lane_sure += key > threshold ? 1u : 0u;
            lane_tie += key == threshold ? 1u : 0u;
        }
    }
    const uint n_sure = subgroupAdd(lane_sure), n_tie = subgroupAdd(lane_tie);
    uint total;
    const uint tie_rank = subgroupBroadcastFirst(wg_exclusive_scan(subgroupElect() ? n_tie : 0u, total));
    const uint my_ties = tie_rank >= ties ? 0u : min(n_tie, ties - tie_rank);
    uint slot = subgroupBroadcastFirst(wg_exclusive_scan(subgroupElect() ? n_sure + my_ties : 0u, total));

    float alpha_acc[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        alpha_acc[j] = 0.0;
    uint ties_left = my_ties;
    for (uint t0 = sg_begin; t0 < sg_end; t0 += sg_size) {
        const uint t = t0 + gl_SubgroupInvocationID;
        bool sure = false, tie = false;
        if (t < sg_end) {
            if (t >= n_cand || take_all) {
                sure = true;
            } else if (need > 0) {
                const uint key = UintRef(keyb).v[t];
                sure = key > threshold;
                tie = key == threshold;
            }
        }
        const uvec4 tie_ballot = subgroupBallot(tie);
        const bool take = sure || (tie && subgroupBallotExclusiveBitCount(tie_ballot) < ties_left);
        ties_left -= min(subgroupBallotBitCount(tie_ballot), ties_left);
        const uvec4 take_ballot = subgroupBallot(take);
        if (take) {
            UintRef(selb).v[min(slot + subgroupBallotExclusiveBitCount(take_ballot), call.k_stride - 1)] = t;
            [[unroll]] for (uint j = 0; j < GROUP; j++) {
                const vec2 hn = head_norm[j];
                alpha_acc[j] += exp(FloatRef(zb).v[j * call.z_stride + t] - hn.x) * hn.y;
            }
        }
        slot += subgroupBallotBitCount(take_ballot);
    }

    const uint64_t ab = call.alpha + uint64_t(head) * GROUP * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float a = wg_sum(alpha_acc[j]);
        if (tid == 0) {
            // Every position chosen: alpha is 1 by definition, not by rounding.
            FloatRef(ab).v[j] = ((pc.flags & FLAG_NO_REALLOC) != 0 || take_all) ? 1.0 : a;
        }
    }
}
