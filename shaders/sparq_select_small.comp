#version 460
// sparq_select_small: SparQ steps 3-4 for slots of at most SMALL_MAX
// positions, one workgroup per (entry, KV head), in one dispatch: the
// ranking keys live in shared memory, so the two radix passes, the
// compaction and alpha need no global histograms, atomics or further
// dispatches. Slots longer than that go through sparq_rank's three phases
// (which skip the short ones), so the choice depends on a slot's length
// alone and a batch sharded over several contexts gives the same result.
//
// The selection is exactly sparq_rank's: keys compared without their low
// LOW_BITS bits, the first ties in position order, positions written in
// ascending order, and alpha_part holding each CHUNK's share of alpha (so
// attend_merge_sparse is the same for both).
// Grid: x = 1, y = KV head, z = entry. pc.n_chunks: the longest slot taken;
// pc.span: the longest slot sparq_score_select takes (those are skipped).
#include "common.glsl"
#include "selection.glsl"

const uint CHUNK = 1024; // sparq_score's chunk: alpha_part's granularity
// Positions a workgroup holds keys for (PARAM): at least the longest slot
// of the call this kernel takes (the backend's limit for those, from the
// device's shared memory, reaches sparq_rank as pc.n_chunks).
const uint SMALL_MAX = PARAM;

shared uint keys_s[SMALL_MAX];
shared float alpha_s[WG_SIZE];

// resolve_digit on the histogram in shared memory.
uint resolve_shared(uint still, out uint still_out)
{
    const uint top = BINS - 1 - wg_ordered_index() * BINS_PER_THREAD;
    uint counts[BINS_PER_THREAD];
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++)
        counts[b] = hist_s[top - b];
    return resolve_digit(counts, still, still_out);
}

void main()
{
    const uint kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = wg_ordered_index();
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    if (S > pc.n_chunks || S > SMALL_MAX || S <= pc.span)
        return; // uniform: sparq_rank's (the second test only guards the arrays), or an earlier kernel's
    const bool take_all = need >= n_cand;
    const bool radix = !take_all && need > 0;
    const uint head = e * pc.n_kv_heads + kv;
    const uint n_chunks = (S + CHUNK - 1) / CHUNK;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;

    // Softmax max and sum of each head over all positions.
    load_head_norm(call.stats + uint64_t(head) * call.score_chunks * GROUP * 8, n_chunks);

    // Radix select of the need-th largest key among the candidates.
    uint threshold = 0, ties = 0;
    if (radix) {
        clear_hist();
        for (uint t = tid; t < n_cand; t += WG_SIZE) {
            const uint key = ranking_key(zb, call.z_stride, t);
            keys_s[t] = key;
            atomicAdd(hist_s[key >> (LOW_BITS + DIGIT_BITS)], 1u);
        }
        barrier();
        uint still;
        const uint d0 = resolve_shared(need, still);
        clear_hist();
        for (uint t = tid; t < n_cand; t += WG_SIZE) {
            const uint key = keys_s[t];
            if ((key >> (LOW_BITS + DIGIT_BITS)) == d0)
                atomicAdd(hist_s[(key >> LOW_BITS) & (BINS - 1)], 1u);
        }
        barrier();
        const uint d1 = resolve_shared(still, ties);
        threshold = (d0 << DIGIT_BITS) | d1;
    }

    // Compaction: each thread takes a run of RUN consecutive positions (a
    // power of two, so no run crosses a CHUNK), counts what it takes, and
    // places its run after the runs before it.
    uint run = 1;
    while (run * WG_SIZE < S)
        run *= 2;
    const uint t0 = tid * run, t1 = min(S, t0 + run);
    uint n_sure = 0, n_tie = 0;
    for (uint t = t0; t < t1; t++) {
        if (t >= n_cand || take_all) {
            n_sure++;
        } else if (radix) {
            const uint key = keys_s[t] >> LOW_BITS;
            n_sure += key > threshold ? 1u : 0u;
            n_tie += key == threshold ? 1u : 0u;
        }
    }
    uint total;
    const uint sure_before = wg_exclusive_scan(n_sure, total);
    uint tie_rank = wg_exclusive_scan(n_tie, total);
    uint place = sure_before + min(tie_rank, ties);

    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
    float alpha_acc[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        alpha_acc[j] = 0.0;
    for (uint t = t0; t < t1; t++) {
        bool take = t >= n_cand || take_all;
        if (!take && radix) {
            const uint key = keys_s[t] >> LOW_BITS;
            const bool tie = key == threshold;
            take = key > threshold || (tie && tie_rank < ties);
            tie_rank += tie ? 1u : 0u;
        }
        if (take) {
            UintRef(selb).v[min(place, call.k_stride - 1)] = t;
            place++;
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                alpha_acc[j] += approx_p(zb, call.z_stride, j, t);
        }
    }

    // Each chunk's share of alpha, added in position order.
    const uint runs_per_chunk = CHUNK / run;
    const uint64_t ab = call.alpha_part + uint64_t(head) * call.score_chunks * GROUP * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        alpha_s[tid] = alpha_acc[j];
        barrier();
        if (tid < n_chunks) {
            float a = 0.0;
            const uint first = tid * runs_per_chunk, last = min(WG_SIZE, first + runs_per_chunk);
            for (uint x = first; x < last; x++)
                a += alpha_s[x];
            FloatRef(ab).v[tid * GROUP + j] = a;
        }
        barrier();
    }
}
