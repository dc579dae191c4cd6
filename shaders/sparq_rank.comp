#version 460
// sparq_rank: SparQ steps 3-4 spread over every chunk of every (entry, KV
// head), in three phases (pc.span), one dispatch each:
//   0  keys: rho[t] = sum_j p_j[t] as order-preserving uint keys (rho >= 0,
//      so its float bits order like the values; NaN ranks lowest), and the
//      histogram of their first DIGIT_BITS-bit digit (bits 30..20);
//   1  the histogram of the second digit (bits 19..9) of the keys whose
//      first digit d0 is the one that holds the (k - l)-th largest key,
//      and per chunk a table of what it would take for each second digit
//      (below);
//   2  per chunk: the threshold resolved from the second histogram, its
//      place from the tables of the chunks before it, the chosen
//      positions written in position order (ties: the first in position
//      order), and the chunk's share of alpha.
// The threshold compares keys without their low 9 bits: keys that differ
// only there (rho within 2^-14 of each other, relatively) count as equal,
// and the first of them in position order are taken. Every such selection
// is a valid top-k within that tolerance; two digits instead of four save
// two dispatches. Chunk 0 of each head stores, for the later phases, each
// head's softmax normalisation (phase 0) and the first digit with how many
// keys are still to take (phase 1); phase 0 also clears the second
// histogram, so the host clears only the first.
// Why the tables: a chunk's place needs the counts of the chunks before it
// at the final threshold, which only the second histogram decides. Phase 1
// already holds its chunk's histogram of second digits, so it writes, for
// every digit d1, the positions the chunk takes for sure if the threshold's
// second digit is d1 (the window, first digits above d0, second digits
// above d1) and its ties there; phase 2 then reads one entry per chunk
// before it. A separate counting phase (one more dispatch, whose time is
// round trips and barriers, not work) is what this saves. The tables are
// stored so that each store of a workgroup is one contiguous run
// (table_index): with each invocation's 8 entries consecutive, phase 1 was
// slow enough on an H200 that three phases took longer than four.
// Slots of at most pc.n_chunks positions are left to sparq_select_small.
// Each invocation owns PER_INV consecutive positions of its chunk (in
// wg_ordered_index order, so a scan over invocations is in position
// order), and each phase reduces or scans once: the per-head statistics are
// merged per subgroup (logit_norm.glsl's subgroup_head_norm, the same bits
// in every workgroup whatever its width), and phase 2 adds alpha's shares
// in a fixed order of its own (part_s below), so that PER_INV changes no
// bit of alpha.
// Why more than 4: each phase's time is a few round trips to memory and a
// few barriers per workgroup, whatever its work, so the fewer waves of
// workgroups the better, as long as there are enough to fill the device.
// Grid: x = chunk of CHUNK positions, y = KV head, z = entry.
#include "common.glsl"
#include "selection.glsl"

// Positions per invocation (PARAM: 4, 8 or 16, the backend's choice for
// the call, backend/sq_attend.c rank_positions_per_invocation).
const uint PER_INV = PARAM;
const uint CHUNK = WG_SIZE * PER_INV; // the backend runs this with WG_SIZE = 256
const uint SCORE_CHUNK = WG_SIZE * 4; // sparq_score's: the stats' and alpha_part's granularity
// call.hist holds the first histogram of every head ([head][BINS], cleared
// by the host), then per head the second histogram and the state resolved
// by phase 1 ([head][BINS + 4]), then each head's softmax normalisation
// (head_norm, [head][GROUP] vec2). call.counts holds phase 1's tables,
// [head][chunk][BINS], one uint per second digit: taken for sure in the
// low 16 bits, ties in the high 16 (a chunk has at most 4096 positions).
// Both must match SQ_RANK_BINS in backend/sq_push.h.

// resolve_digit on the global histogram at histb.
uint resolve(uint64_t histb, uint still, out uint still_out)
{
    const uint top = BINS - 1 - wg_ordered_index() * BINS_PER_THREAD;
    uint counts[BINS_PER_THREAD];
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++)
        counts[b] = UintRef(histb).v[top - b];
    return resolve_digit(counts, still, still_out);
}

// Phase 2's alpha shares, added in one order whatever PER_INV is (so the
// backend's choice of it changes no bit): each quad (4 consecutive
// positions) in position order, each hexad (16) as (q0 + q1) + (q2 + q3),
// each octet of hexads (128 positions) and each score chunk's 8 octets in
// order. part_s: each invocation's part of a hexad (all of it at 16 per
// invocation, a pair of quads at 8, a quad at 4), [head][invocation];
// octet_s: the octets' sums, [head][octet].
const uint PARTS_PER_HEXAD = 16 / PER_INV;
const uint OCTETS = CHUNK / 128;
shared float part_s[GROUP * WG_SIZE];
shared float octet_s[GROUP * OCTETS];

shared uvec2 red_uvec2[WG_SIZE];

// Sum of a uvec2 over the workgroup; every invocation gets it.
uvec2 wg_sum_uvec2(uvec2 v)
{
    const uvec2 s = subgroupAdd(v);
    if (subgroupElect())
        red_uvec2[gl_SubgroupID] = s;
    barrier();
    uvec2 t = uvec2(0);
    for (uint i = 0; i < gl_NumSubgroups; i++)
        t += red_uvec2[i];
    barrier();
    return t;
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

// Positions of chunk c that are in the local window [n_cand, S).
uint window_positions(uint c, uint S, uint n_cand)
{
    const uint start = max(c * CHUNK, n_cand), end = min(S, (c + 1) * CHUNK);
    return end > start ? end - start : 0u;
}

// Where a table keeps digit d: [b][invocation] for the invocation that owns
// d and its place b among that invocation's bins, so that each of
// write_chunk_table's stores is one contiguous run over the workgroup.
uint table_index(uint d)
{
    const uint from_top = BINS - 1 - d;
    return (from_top % BINS_PER_THREAD) * WG_SIZE + from_top / BINS_PER_THREAD;
}

// Phase 1's table of this chunk at tableb, from its histogram of second
// digits in hist_s (complete: flush_hist's barrier has passed): for each
// second digit d, the positions taken for sure if the threshold ends in d
// (`window` + `above` summed over the workgroup + the keys of second digit
// above d) and the ties (the keys of second digit d). Each invocation owns
// BINS_PER_THREAD bins, the top ones first, as resolve_digit does, so one
// scan counts the keys above its bins; `above` rides in its high 16 bits.
// Uniform control flow (contains barriers).
void write_chunk_table(uint64_t tableb, uint window, uint above)
{
    const uint top = BINS - 1 - wg_ordered_index() * BINS_PER_THREAD;
    uint counts[BINS_PER_THREAD];
    uint mine = 0;
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++) {
        counts[b] = hist_s[top - b];
        mine += counts[b];
    }
    uint total;
    const uint ex = wg_exclusive_scan(mine | (above << 16), total);
    uint sure = window + (total >> 16) + (ex & 0xffffu);
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++) {
        UintRef(tableb).v[table_index(top - b)] = sure | (counts[b] << 16);
        sure += counts[b];
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
    const uint n_score_chunks = (S + SCORE_CHUNK - 1) / SCORE_CHUNK;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;
    const uint64_t keyb = call.keys + uint64_t(head) * call.z_stride * 4;
    const uint64_t hist0b = call.hist + uint64_t(head) * BINS * 4;
    const uint64_t hist1b = call.hist + (uint64_t(pc.n_entries) * pc.n_kv_heads * BINS + uint64_t(head) * (BINS + 4)) * 4;
    const uint64_t stateb = hist1b + BINS * 4; // uvec2 (d0, still) after phase 1
    // This invocation's positions t0 .. t0 + PER_INV - 1, read 4 at a time
    // (z and keys are stored for whole score chunks, so a vec4 at a
    // position below S is in bounds).
    const uint t0 = c * CHUNK + tid * PER_INV;

    // Each head's softmax max and sum over all positions: phase 0 merges the
    // chunk statistics and chunk 0 stores the result, which phase 2 reads
    // (the same bits, without the merge's loads).
    const uint64_t normb = call.hist + uint64_t(pc.n_entries) * pc.n_kv_heads * (2 * BINS + 4) * 4 + uint64_t(head) * GROUP * 8;
    if (phase == 0) {
        // The statistics are merged per subgroup (no barrier), and all of
        // this invocation's logits load before the first key is stored (a
        // store may alias a later load, as far as the compiler knows).
        // This phase's time on an H200 was neither its atomics nor its
        // stores: removing either changed nothing, while the norms'
        // workgroup-wide merge was a third of it (docs/NOTES.md, entry 31);
        // merged per subgroup instead, the phase took 0.4-1.8 us less
        // (entry 32). Issuing the logits' loads before the statistics'
        // changed nothing.
        vec2 norm[GROUP];
        subgroup_head_norm(call.stats + uint64_t(head) * call.score_chunks * GROUP * 8, n_score_chunks, norm);
        vec4 zq[PER_INV / 4][GROUP];
        [[unroll]] for (uint u = 0; u < PER_INV / 4; u++)
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                zq[u][j] = t0 + 4 * u < n_cand ? Vec4Ref(zb).v[(j * call.z_stride + t0 + 4 * u) >> 2] : vec4(0.0);
        if (c == 0 && tid == 0)
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                Vec2Ref(normb).v[j] = norm[j];
        if (c == 0) // phase 1 adds into the second histogram
            for (uint i = tid; i < BINS; i += WG_SIZE)
                UintRef(hist1b).v[i] = 0;
        clear_hist();
        [[unroll]] for (uint u = 0; u < PER_INV / 4; u++) {
            const uint q = t0 + 4 * u;
            const uvec4 key = ranking_keys4(zq[u], norm);
            if (q < n_cand)
                Uvec4Ref(keyb).v[q >> 2] = key;
            [[unroll]] for (uint i = 0; i < 4; i++)
                if (q + i < n_cand)
                    atomicAdd(hist_s[key[i] >> (LOW_BITS + DIGIT_BITS)], 1u);
        }
        flush_hist(hist0b);
        return;
    }
    if (phase == 1) {
        // The keys load in the same round trip as the first histogram.
        uvec4 keys[PER_INV / 4];
        [[unroll]] for (uint u = 0; u < PER_INV / 4; u++)
            keys[u] = t0 + 4 * u < n_cand ? Uvec4Ref(keyb).v[(t0 >> 2) + u] : uvec4(0);
        uint still;
        const uint d0 = resolve(hist0b, need, still);
        if (c == 0 && tid == 0)
            Uvec2Ref(stateb).v[0] = uvec2(d0, still);
        clear_hist();
        uint above = 0; // this invocation's keys whose first digit is above d0
        [[unroll]] for (uint u = 0; u < PER_INV / 4; u++) {
            [[unroll]] for (uint i = 0; i < 4; i++) {
                const uint digit = keys[u][i] >> (LOW_BITS + DIGIT_BITS);
                const bool valid = t0 + 4 * u + i < n_cand;
                above += valid && digit > d0 ? 1u : 0u;
                if (valid && digit == d0)
                    atomicAdd(hist_s[(keys[u][i] >> LOW_BITS) & (BINS - 1)], 1u);
            }
        }
        flush_hist(hist1b);
        write_chunk_table(call.counts + (uint64_t(head) * gl_NumWorkGroups.x + c) * BINS * 4,
                          window_positions(c, S, n_cand), above);
        return;
    }
    // Phase 2: keys >> LOW_BITS above `threshold` are taken, and the first
    // `ties` equal to it. Its loads go in two round trips: first all that
    // depends on nothing (the norms, the state, the second histogram's bins
    // and the keys), then, once the threshold is known, the tables of the
    // chunks before and the logits of the quads that may be taken.
    // head_norm is read only after resolve_digit's or the scan's barriers.
    if (tid < GROUP)
        head_norm[tid] = Vec2Ref(normb).v[tid];
    uvec4 keys[PER_INV / 4];
    [[unroll]] for (uint u = 0; u < PER_INV / 4; u++)
        keys[u] = radix && t0 + 4 * u < n_cand ? Uvec4Ref(keyb).v[(t0 >> 2) + u] >> LOW_BITS : uvec4(0);
    uint threshold = 0, ties = 0, d1 = 0;
    if (radix) {
        const uvec2 st0 = Uvec2Ref(stateb).v[0];
        d1 = resolve(hist1b, st0.y, ties);
        threshold = (st0.x << DIGIT_BITS) | d1;
    }
    // Bit i of `sure`: position t0 + i is taken for sure (above the
    // threshold, in the local window, or every position taken); of `tie`:
    // it ties at the threshold.
    uint sure = 0, tie = 0;
    [[unroll]] for (uint u = 0; u < PER_INV / 4; u++) {
        [[unroll]] for (uint i = 0; i < 4; i++) {
            const uint t = t0 + 4 * u + i, bit = 1u << (4 * u + i);
            if (t >= S)
                continue;
            if (t >= n_cand || take_all) {
                sure |= bit;
            } else if (radix) {
                sure |= keys[u][i] > threshold ? bit : 0u;
                tie |= keys[u][i] == threshold ? bit : 0u;
            }
        }
    }
    // The logits of every quad that holds a position that may be taken,
    // loaded together with the tables (alpha's shares mask out the rest).
    vec4 zq[PER_INV / 4][GROUP];
    [[unroll]] for (uint u = 0; u < PER_INV / 4; u++)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            zq[u][j] = (((sure | tie) >> (4 * u)) & 0xfu) != 0 ? Vec4Ref(zb).v[(j * call.z_stride + t0 + 4 * u) >> 2] : vec4(0.0);
    uvec2 before; // taken for sure and ties in the chunks before this one
    if (radix) {
        before = uvec2(0);
        const uint64_t tableb = call.counts + uint64_t(head) * gl_NumWorkGroups.x * BINS * 4;
        for (uint x = tid; x < c; x += WG_SIZE) {
            const uint entry = UintRef(tableb).v[x * BINS + table_index(d1)];
            before += uvec2(entry & 0xffffu, entry >> 16);
        }
        before = wg_sum_uvec2(before);
    } else {
        // Every position, or the window alone: the chunks before hold c * CHUNK
        // positions, and the window starts at n_cand.
        before = uvec2(take_all ? c * CHUNK : c * CHUNK - min(c * CHUNK, n_cand), 0);
    }
    const uvec2 mine = uvec2(bitCount(sure), bitCount(tie));

    // Place each invocation after the invocations before it (counts of at
    // most CHUNK fit 16 bits: sure and ties go through one scan).
    uint total;
    const uint packed_before = wg_exclusive_scan(mine.x | (mine.y << 16), total);
    uint sure_rank = before.x + (packed_before & 0xffffu), tie_rank = before.y + (packed_before >> 16);

    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
    uint taken = 0; // bit i: position t0 + i is chosen
    [[unroll]] for (uint i = 0; i < PER_INV; i++) {
        const uint bit = 1u << i;
        // Taken positions in position order: the sure ones and the first
        // `ties` ties.
        if ((sure & bit) != 0 || ((tie & bit) != 0 && tie_rank < ties)) {
            taken |= bit;
            UintRef(selb).v[min(sure_rank + min(tie_rank, ties), call.k_stride - 1)] = t0 + i;
        }
        sure_rank += (sure & bit) != 0 ? 1u : 0u;
        tie_rank += (tie & bit) != 0 ? 1u : 0u;
    }
    // Alpha's shares, from the logits loaded above.
    float quad_sum[PER_INV / 4][GROUP];
    [[unroll]] for (uint u = 0; u < PER_INV / 4; u++) {
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            const vec4 p = exp(zq[u][j] - head_norm[j].x) * head_norm[j].y;
            float sum = 0.0; // in position order; a position not chosen adds nothing (+0.0 keeps every bit)
            [[unroll]] for (uint b = 0; b < 4; b++)
                sum += (taken & (1u << (4 * u + b))) != 0 ? p[b] : 0.0;
            quad_sum[u][j] = sum;
        }
    }
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        float part = quad_sum[0][j];
        if (PER_INV == 8)
            part = quad_sum[0][j] + quad_sum[1][j];
        else if (PER_INV == 16)
            part = (quad_sum[0][j] + quad_sum[1][j]) + (quad_sum[2][j] + quad_sum[3][j]);
        part_s[j * WG_SIZE + tid] = part;
    }
    barrier();
    // One invocation per (head, octet): its 8 hexads, each from its parts.
    for (uint x = tid; x < GROUP * OCTETS; x += WG_SIZE) { // up to 512 (16 heads at 16 per invocation)
        const uint j = x / OCTETS, o = x % OCTETS;
        float s = 0.0;
        [[unroll]] for (uint h = 0; h < 8; h++) {
            const uint p = j * WG_SIZE + (o * 8 + h) * PARTS_PER_HEXAD;
            float hexad = part_s[p];
            if (PER_INV == 8)
                hexad = part_s[p] + part_s[p + 1];
            else if (PER_INV == 4)
                hexad = (part_s[p] + part_s[p + 1]) + (part_s[p + 2] + part_s[p + 3]);
            s += hexad;
        }
        octet_s[x] = s;
    }
    barrier();
    // One invocation per (head, score chunk): its 8 octets.
    if (tid < GROUP * (CHUNK / SCORE_CHUNK)) { // at most 64
        const uint j = tid / (CHUNK / SCORE_CHUNK), sub = tid % (CHUNK / SCORE_CHUNK);
        const uint chunk = c * (CHUNK / SCORE_CHUNK) + sub;
        float a = 0.0;
        [[unroll]] for (uint o = 0; o < 8; o++)
            a += octet_s[j * OCTETS + sub * 8 + o];
        if (chunk < call.score_chunks)
            FloatRef(call.alpha_part + (uint64_t(head) * call.score_chunks + chunk) * GROUP * 4).v[j] = a;
    }
}
