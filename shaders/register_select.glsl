// The selection of SparQ step 4 when every invocation holds its positions'
// ranking keys in registers: RUNS runs of 8 consecutive positions, run b of
// invocation inv (wg_ordered_index) starting at 8 * (inv + WG_SIZE * b).
// Shared by sparq_score_select (keys from the logits it computes) and
// sparq_select_regs (keys from sparq_score's logits), so that both choose
// exactly the positions sparq_rank and sparq_select_small choose: keys
// compared without their low LOW_BITS bits, the first ties in position
// order, positions written in ascending order.
//
// The threshold is found by a 4-ary search on the KEY_BITS compared key
// bits, each step three counts summed over the workgroup: no histogram,
// atomics or contention. Counts are packed in 16-bit halves: the slot holds
// at most 65535 positions. Include after common.glsl and ranking_key.glsl,
// with RUNS defined.
#ifndef SPARQ_REGISTER_SELECT_GLSL
#define SPARQ_REGISTER_SELECT_GLSL

shared uvec2 sum2_s[2][WG_SIZE];        // per-subgroup partial sums, double-buffered
shared uint run_s[RUNS * WG_SIZE];      // per-subgroup run counts for the compaction

// The sum over the workgroup of v, with one barrier: two calls in a row
// must alternate `buf` (a buffer is reused only after the next barrier).
uvec2 wg_sum2(uvec2 v, uint buf)
{
    v = subgroupAdd(v);
    if (subgroupElect())
        sum2_s[buf][gl_SubgroupID] = v;
    barrier();
    uvec2 t = uvec2(0);
    for (uint i = 0; i < gl_NumSubgroups; i++)
        t += sum2_s[buf][i];
    return t;
}

// Position u of run b of invocation inv.
uint run_position(uint inv, uint b, uint u)
{
    return 8 * (inv + WG_SIZE * b) + u;
}

// Of a slot of S positions, takes the local window (positions n_cand and
// later) and the need candidates (positions before n_cand) with the largest
// keys, all of them if need >= n_cand, and writes the positions in ascending
// order to selb (k_stride entries). take_mask[b], bit u: whether position u
// of run b was taken. Uniform control flow (contains barriers).
void select_in_registers(const uint key[RUNS][8], uint inv, uint S, uint n_cand, uint need, uint64_t selb,
                         uint k_stride, out uint take_mask[RUNS])
{
    // The compared bits of the need-th largest candidate key: a 4-ary
    // search from the top bits, keeping the largest prefix that at least
    // `need` candidates reach.
    const bool take_all = need >= n_cand;
    const bool radix = !take_all && need > 0;
    uint threshold = 0, ties = 0;
    if (radix) {
        // upper: how many candidates lie above the range the prefix still
        // spans (those of a larger prefix); at the end, above the
        // threshold. It comes from the same sums as the threshold, so the
        // two always agree: ties = need - upper is in [1, equal keys].
        uint buf = 0, upper = 0;
        for (int bit = int(KEY_BITS) - 2; bit >= 0; bit -= 2) {
            const uint c1 = threshold | (1u << bit), c2 = threshold | (2u << bit), c3 = threshold | (3u << bit);
            uvec2 n = uvec2(0);
            [[unroll]] for (uint b = 0; b < RUNS; b++)
                [[unroll]] for (uint u = 0; u < 8; u++) {
                    // Arithmetic, not branches: every lane reaches the sums.
                    const uint t = run_position(inv, b, u);
                    const uint kk = (key[b][u] >> LOW_BITS) * uint(t < n_cand);
                    n += uvec2(uint(kk >= c1) | (uint(kk >= c2) << 16), uint(kk >= c3));
                }
            n = wg_sum2(n, buf);
            buf ^= 1u;
            const uint n1 = n.x & 0xffffu, n2 = n.x >> 16, n3 = n.y;
            if (n3 >= need) {
                threshold = c3;
            } else if (n2 >= need) {
                threshold = c2;
                upper = n3;
            } else if (n1 >= need) {
                threshold = c1;
                upper = n2;
            } else {
                upper = n1;
            }
        }
        ties = need - upper;
    }

    // Compaction in position order (run-major, then invocation, then within
    // the run). Each run's positions taken for sure and its ties at the
    // threshold, as 8-bit masks; their counts, packed in 16-bit halves,
    // place the run after every earlier run's with one barrier.
    uint sure_mask[RUNS], tie_mask[RUNS], run_count[RUNS];
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        sure_mask[b] = tie_mask[b] = 0;
        [[unroll]] for (uint u = 0; u < 8; u++) {
            const uint t = run_position(inv, b, u);
            const uint kk = key[b][u] >> LOW_BITS;
            const bool sure = t >= n_cand || take_all || (radix && kk > threshold);
            if (t < S)
                sure_mask[b] |= (sure ? 1u : 0u) << u;
            if (t < S && !sure && radix && kk == threshold)
                tie_mask[b] |= 1u << u;
        }
        run_count[b] = bitCount(sure_mask[b]) | (bitCount(tie_mask[b]) << 16);
    }
    uint run_before[RUNS];
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        run_before[b] = subgroupExclusiveAdd(run_count[b]);
        const uint total = subgroupAdd(run_count[b]);
        if (subgroupElect())
            run_s[b * gl_NumSubgroups + gl_SubgroupID] = total;
    }
    barrier();
    uint earlier = 0;
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        uint in_run = 0;
        for (uint sg = 0; sg < gl_NumSubgroups; sg++) {
            const uint v = run_s[b * gl_NumSubgroups + sg];
            run_before[b] += sg < gl_SubgroupID ? v : 0u;
            in_run += v;
        }
        run_before[b] += earlier;
        earlier += in_run;
    }

    const uint n_taken = min(need, n_cand); // candidates selected
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        take_mask[b] = 0;
        uint tie_rank = run_before[b] >> 16;
        uint place = (run_before[b] & 0xffffu) + min(tie_rank, ties);
        [[unroll]] for (uint u = 0; u < 8; u++) {
            const uint t = run_position(inv, b, u);
            bool take = (sure_mask[b] & (1u << u)) != 0;
            if ((tie_mask[b] & (1u << u)) != 0) {
                take = tie_rank < ties;
                tie_rank++;
            }
            if (take) {
                // The window has fixed places after the candidates: nothing
                // a candidate's place could be wrong by can displace it.
                const uint at = t >= n_cand ? n_taken + (t - n_cand) : min(place, n_taken - 1);
                UintRef(selb).v[min(at, k_stride - 1)] = t;
                place++;
                take_mask[b] |= 1u << u;
            }
        }
    }
}

// alpha_j, the sum over the workgroup of alpha_acc[j], whole in chunk 0's
// share of the n_chunks shares at ab, the others 0, so that
// attend_merge_sparse adds the same shares for every selection kernel.
// Uniform control flow (contains barriers).
void write_alpha_whole(const float alpha_acc[GROUP], uint64_t ab, uint n_chunks)
{
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float a = wg_sum(alpha_acc[j]);
        for (uint x = gl_LocalInvocationID.x; x < n_chunks; x += WG_SIZE)
            FloatRef(ab).v[x * GROUP + j] = x == 0 ? a : 0.0;
    }
}

#endif
