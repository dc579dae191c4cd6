#version 460
// sparq_rank: SparQ steps 3-4 spread over every chunk of every (entry, KV
// head), in four phases (pc.span), one dispatch each:
//   0  keys: rho[t] = sum_j p_j[t] as order-preserving uint keys (rho >= 0,
//      so its float bits order like the values; NaN ranks lowest), and the
//      histogram of their first DIGIT_BITS-bit digit (bits 30..20);
//   1  the histogram of the second digit (bits 19..9) of the keys whose
//      first digit is the one that holds the (k - l)-th largest key;
//   2  per chunk: positions taken for sure (key above the threshold, or in
//      the local window) and ties at the threshold;
//   3  per chunk: its place from the counts of the chunks before it, the
//      chosen positions written in position order (ties: the first in
//      position order), and the chunk's share of alpha.
// The threshold compares keys without their low 9 bits: keys that differ
// only there (rho within 2^-14 of each other, relatively) count as equal,
// and the first of them in position order are taken. Every such selection
// is a valid top-k within that tolerance; two digits instead of four save
// two dispatches. Chunk 0 of each head stores what the phases resolved (the
// digits so far and how many keys are still to take) for the next phase,
// and phase 0 clears the second histogram, so the host clears only the first.
// Slots of at most pc.n_chunks positions are left to sparq_select_small.
// Grid: x = chunk of CHUNK positions (as sparq_score), y = KV head, z = entry.
#include "common.glsl"
#include "selection.glsl"

const uint CHUNK = WG_SIZE * 4; // the backend runs this with WG_SIZE = 256
// call.hist holds the first histogram of every head ([head][BINS], cleared
// by the host), then per head the second histogram and the state resolved
// by phases 1 and 2 ([head][BINS + 4]). Must match SQ_RANK_BINS in
// backend/sq_push.h.

// resolve_digit on the global histogram at histb.
uint resolve(uint64_t histb, uint still, out uint still_out)
{
    const uint top = BINS - 1 - wg_ordered_index() * BINS_PER_THREAD;
    uint counts[BINS_PER_THREAD];
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++)
        counts[b] = UintRef(histb).v[top - b];
    return resolve_digit(counts, still, still_out);
}

void flush_hist(uint64_t histb)
{
    barrier();
    for (uint bin = wg_ordered_index(); bin < BINS; bin += WG_SIZE) {
        const uint n = hist_s[bin];
        if (n != 0)
            atomicAdd(UintRef(histb).v[bin], n);
    }
}

void main()
{
    const uint c = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = wg_ordered_index();
    const uint phase = pc.span;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    if (c * CHUNK >= S || S <= pc.n_chunks)
        return; // uniform: past this entry's positions, or sparq_select_small's (pc.n_chunks: its limit)
    const bool take_all = need >= n_cand;
    const bool radix = !take_all && need > 0;
    if (phase <= 1 && !radix)
        return;
    const uint head = e * pc.n_kv_heads + kv;
    const uint n_chunks = (S + CHUNK - 1) / CHUNK;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;
    const uint64_t keyb = call.keys + uint64_t(head) * call.z_stride * 4;
    const uint64_t hist0b = call.hist + uint64_t(head) * BINS * 4;
    const uint64_t hist1b = call.hist + (uint64_t(pc.n_entries) * pc.n_kv_heads * BINS + uint64_t(head) * (BINS + 4)) * 4;
    const uint64_t stateb = hist1b + BINS * 4; // uvec2 after phase 1, uvec2 after phase 2

    if (phase == 0 || phase == 3) // softmax max and sum of each head over all positions
        load_head_norm(call.stats + uint64_t(head) * call.score_chunks * GROUP * 8, n_chunks);

    if (phase == 0) {
        if (c == 0) // phase 1 adds into the second histogram
            for (uint i = tid; i < BINS; i += WG_SIZE)
                UintRef(hist1b).v[i] = 0;
        clear_hist();
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t < n_cand) {
                const uint key = ranking_key(zb, call.z_stride, t);
                UintRef(keyb).v[t] = key;
                atomicAdd(hist_s[key >> (LOW_BITS + DIGIT_BITS)], 1u);
            }
        }
        flush_hist(hist0b);
        return;
    }
    if (phase == 1) {
        uint still;
        const uint d0 = resolve(hist0b, need, still);
        if (c == 0 && tid == 0)
            Uvec2Ref(stateb).v[0] = uvec2(d0, still);
        clear_hist();
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t < n_cand) {
                const uint key = UintRef(keyb).v[t];
                if ((key >> (LOW_BITS + DIGIT_BITS)) == d0)
                    atomicAdd(hist_s[(key >> LOW_BITS) & (BINS - 1)], 1u);
            }
        }
        flush_hist(hist1b);
        return;
    }

    // Phases 2 and 3: keys >> LOW_BITS above `threshold` are taken, and the
    // first `ties` equal to it.
    uint threshold = 0, ties = 0;
    if (radix) {
        if (phase == 2) {
            const uvec2 st0 = Uvec2Ref(stateb).v[0];
            const uint d1 = resolve(hist1b, st0.y, ties);
            threshold = (st0.x << DIGIT_BITS) | d1;
            if (c == 0 && tid == 0)
                Uvec2Ref(stateb).v[1] = uvec2(threshold, ties);
        } else {
            const uvec2 st1 = Uvec2Ref(stateb).v[1];
            threshold = st1.x;
            ties = st1.y;
        }
    }
    const uint64_t countb = call.counts + uint64_t(head) * call.score_chunks * 8;
    if (phase == 2) {
        uint n_sure = 0, n_tie = 0;
        for (uint i = 0; i < 4; i++) {
            const uint t = c * CHUNK + i * WG_SIZE + tid;
            if (t >= S)
                continue;
            if (t >= n_cand || take_all) {
                n_sure++;
            } else if (radix) {
                const uint key = UintRef(keyb).v[t] >> LOW_BITS;
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

    // Phase 3: place this chunk after the chunks before it.
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
                const uint key = UintRef(keyb).v[t] >> LOW_BITS;
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
                alpha_acc[j] += approx_p(zb, call.z_stride, j, t);
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
