#version 460
// sparq_rank: SparQ steps 3-4 spread over every chunk of every (entry, KV
// head), in six phases (pc.span), one dispatch each:
//   0     keys: rho[t] = sum_j p_j[t] as order-preserving uint keys (rho >= 0,
//         so its float bits order like the values; NaN ranks lowest), and the
//         histogram of their top 8 bits;
//   1..3  the histogram of the next 8 bits of the keys that share the digits
//         found so far: a radix select of the (k - l)-th largest key;
//   4     per chunk: positions taken for sure (key above the threshold, or in
//         the local window) and ties at the threshold;
//   5     per chunk: its place from the counts of the chunks before it, the
//         chosen positions written in position order (ties: the first in
//         position order), and the chunk's share of alpha.
// Every workgroup re-derives the digits found so far from the histograms of
// the earlier phases, so no workgroup waits for another, and the result is
// the same whatever order they run in.
// Grid: x = chunk of CHUNK positions (as sparq_score), y = KV head, z = entry.
#include "common.glsl"

const uint CHUNK = WG_SIZE * 4; // the backend runs this with WG_SIZE = 256
const uint COPIES = 4;          // shared histogram copies, picked by lane, to spread contended bins

shared vec2 head_norm[GROUP];   // (max, 1 / sum exp) of z_j over all positions
shared uint hist_s[256 * COPIES];
shared uint found_digit, found_still;

struct Radix {
    uint prefix; // digits found so far, in place
    uint still;  // how many keys sharing `prefix` are still to take
};

// Pass d's digit: the largest digit whose keys, with those of larger digits,
// reach `still`. Uniform control flow (contains barriers).
Radix resolve(uint64_t histb, uint d, Radix st)
{
    const uint digit = 255 - gl_LocalInvocationID.x;
    const uint count = UintRef(histb).v[d * 256 + digit];
    uint total;
    const uint above = wg_exclusive_scan(count, total);
    if (above < st.still && above + count >= st.still) {
        found_digit = digit;
        found_still = st.still - above;
    }
    barrier();
    Radix next = Radix(st.prefix | (found_digit << (24 - 8 * d)), found_still);
    barrier();
    return next;
}

void clear_hist()
{
    for (uint i = gl_LocalInvocationID.x; i < 256 * COPIES; i += WG_SIZE)
        hist_s[i] = 0;
    barrier();
}

void flush_hist(uint64_t histb, uint d)
{
    barrier();
    const uint bin = gl_LocalInvocationID.x;
    uint n = 0;
    for (uint c = 0; c < COPIES; c++)
        n += hist_s[c * 256 + bin];
    if (n != 0)
        atomicAdd(UintRef(histb).v[d * 256 + bin], n);
}

void main()
{
    const uint c = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint phase = pc.span;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    if (c * CHUNK >= S)
        return; // uniform: past this entry's positions
    const bool take_all = need >= n_cand;
    const bool radix = !take_all && need > 0;
    if (phase <= 3 && !radix)
        return;
    const uint head = e * pc.n_kv_heads + kv;
    const uint n_chunks = (S + CHUNK - 1) / CHUNK;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;
    const uint64_t keyb = call.keys + uint64_t(head) * call.z_stride * 4;
    const uint64_t histb = call.hist + uint64_t(head) * 4 * 256 * 4;
    const uint copy = (gl_SubgroupInvocationID % COPIES) * 256;

    if (phase == 0 || phase == 5) {
        // Softmax max and sum of each head over all positions.
        const uint64_t sb = call.stats + uint64_t(head) * call.score_chunks * GROUP * 8;
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            float m = NEG_INF;
            for (uint x = tid; x < n_chunks; x += WG_SIZE)
                m = max(m, Vec2Ref(sb).v[x * GROUP + j].x);
            m = wg_max(m);
            float sum = 0.0;
            for (uint x = tid; x < n_chunks; x += WG_SIZE) {
                const vec2 st = Vec2Ref(sb).v[x * GROUP + j];
                sum += st.x == NEG_INF ? 0.0 : st.y * exp(st.x - m);
            }
            sum = wg_sum(sum);
            if (tid == 0)
                head_norm[j] = vec2(m, 1.0 / sum);
        }
        barrier();
    }

    Radix st = Radix(0u, need);
    if (radix)
        for (uint d = 0; d < min(phase, 4u); d++)
            st = resolve(histb, d, st);

    if (phase == 0) {
        clear_hist();
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t < n_cand) {
                float rho = 0.0;
                [[unroll]] for (uint j = 0; j < GROUP; j++)
                    rho += exp(FloatRef(zb).v[j * call.z_stride + t] - head_norm[j].x) * head_norm[j].y;
                const uint key = isnan(rho) ? 0u : floatBitsToUint(max(rho, 0.0));
                UintRef(keyb).v[t] = key;
                atomicAdd(hist_s[copy + (key >> 24)], 1u);
            }
        }
        flush_hist(histb, 0);
        return;
    }
    if (phase <= 3) {
        clear_hist();
        const uint shift = 24 - 8 * phase;
        const uint high_mask = ~0u << (shift + 8);
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t < n_cand) {
                const uint key = UintRef(keyb).v[t];
                if ((key & high_mask) == st.prefix)
                    atomicAdd(hist_s[copy + ((key >> shift) & 255u)], 1u);
            }
        }
        flush_hist(histb, phase);
        return;
    }

    // Phases 4 and 5: the threshold is st.prefix; st.still ties at it are taken.
    const uint threshold = st.prefix, ties = st.still;
    const uint64_t countb = call.counts + uint64_t(head) * call.score_chunks * 8;
    if (phase == 4) {
        uint n_sure = 0, n_tie = 0;
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t >= S)
                continue;
            if (t >= n_cand || take_all) {
                n_sure++;
            } else if (radix) {
                const uint key = UintRef(keyb).v[t];
                n_sure += key > threshold ? 1u : 0u;
                n_tie += key == threshold ? 1u : 0u;
            }
        }
        uint total_sure, total_tie;
        wg_exclusive_scan(n_sure, total_sure);
        wg_exclusive_scan(n_tie, total_tie);
        if (tid == 0) {
            UintRef(countb).v[c * 2] = total_sure;
            UintRef(countb).v[c * 2 + 1] = total_tie;
        }
        return;
    }

    // Phase 5: place this chunk after the chunks before it.
    uint before_sure = 0, before_tie = 0;
    for (uint x = tid; x < c; x += WG_SIZE) {
        before_sure += UintRef(countb).v[x * 2];
        before_tie += UintRef(countb).v[x * 2 + 1];
    }
    uint total;
    wg_exclusive_scan(before_sure, total);
    before_sure = total;
    wg_exclusive_scan(before_tie, total);
    uint tie_rank = total;
    uint slot = before_sure + min(tie_rank, ties);

    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
    float alpha_acc[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        alpha_acc[j] = 0.0;
    for (uint i = 0; i < 4; i++) {
        const uint t = c * CHUNK + i * WG_SIZE + tid;
        bool sure = false, tie = false;
        if (t < S) {
            if (t >= n_cand || take_all) {
                sure = true;
            } else if (radix) {
                const uint key = UintRef(keyb).v[t];
                sure = key > threshold;
                tie = key == threshold;
            }
        }
        uint n_ties, n_take;
        const uint my_tie = tie_rank + wg_exclusive_scan(tie ? 1u : 0u, n_ties);
        const bool take = sure || (tie && my_tie < ties);
        const uint place = slot + wg_exclusive_scan(take ? 1u : 0u, n_take);
        if (take) {
            UintRef(selb).v[min(place, call.k_stride - 1)] = t;
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                alpha_acc[j] += exp(FloatRef(zb).v[j * call.z_stride + t] - head_norm[j].x) * head_norm[j].y;
        }
        slot += n_take;
        tie_rank += n_ties;
    }
    const uint64_t ab = call.alpha_part + (uint64_t(head) * call.score_chunks + c) * GROUP * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float a = wg_sum(alpha_acc[j]);
        if (tid == 0)
            FloatRef(ab).v[j] = a;
    }
}
