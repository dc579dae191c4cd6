#version 460
// sparq_score_select: SparQ steps 1-4 for a whole short slot in one
// workgroup per (entry, KV head), in one dispatch: i1 and the approximate
// logits z_j (as sparq_score), the softmax over all positions, the ranking
// keys, the threshold of the (k - l)-th largest, the compaction and alpha.
// Every value stays in registers: no logits, statistics or keys go through
// device memory and no second dispatch waits for them. While one workgroup
// selects, the others on the same core are still loading Kt, so the
// selection mostly hides behind the read it depends on.
//
// Each invocation holds RUNS runs of 8 consecutive positions, run b of
// invocation i starting at 8 * (i + WG_SIZE * b): each run is one 16-byte
// load of f16 Kt per row, and a subgroup's loads are contiguous. The
// backend runs it with WG_SIZE = 256 for slots of at most
// 8 * WG_SIZE * RUNS positions (and RUNS * 8 * (GROUP + 1) registers of
// values), and leaves longer slots to sparq_score and the selection kernels.
//
// The selection is the one sparq_rank and sparq_select_small make: keys
// compared without their low LOW_BITS bits, the first ties in position
// order, positions written in ascending order. The threshold is found by a
// 4-ary search on the 22 compared key bits, each step three counts summed
// over the workgroup: no histogram, atomics or contention.
// Grid: x = 1, y = KV head, z = entry. pc.n_chunks: the longest slot taken.
#include "common.glsl"
// The serial form of the query components' set-up: this kernel's measured one
// (query_components.glsl says why).
#define QUERY_COMPONENTS_SERIAL
#include "query_components.glsl"
#include "ranking_key.glsl"

#ifndef RUNS_N
#error "sparq_score_select needs RUNS_N (runs of 8 positions per invocation)"
#endif
const uint RUNS = RUNS_N;
const uint N = RUNS * 8;           // positions per invocation
const uint CHUNK = 1024;           // sparq_score's chunk: alpha_part's granularity

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

void main()
{
    const uint kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    // Positions go by subgroup order (subgroup, then lane), not by
    // gl_LocalInvocationID: Vulkan does not tie the two together, and the
    // compaction's subgroup scans must walk positions in order. With full
    // subgroups (the usual case) this is a permutation of 0..WG_SIZE-1.
    const uint inv = gl_NumSubgroups * gl_SubgroupSize == WG_SIZE
                         ? gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID : tid;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    if (S > pc.n_chunks || S > N * WG_SIZE)
        return; // uniform: sparq_score's (the second test only guards the registers)
    const uint r = min(pc.r, HEAD_DIM);
    const uint head = e * pc.n_kv_heads + kv;
    const uint64_t qb = call.q + uint64_t(head) * GROUP * HEAD_DIM * 4;

    load_query_components(qb, r);

    // Approximate logits of this invocation's runs, every row's loads of a
    // group of four rows in flight together. Runs past S are not read (a
    // run starts on a multiple of 8 and the capacity is one of 64, so a run
    // that starts before S lies inside the slot's row).
    const uint64_t ktb = head_block(ent.kt_base, kv);
    vec4 z[GROUP][RUNS][2];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        [[unroll]] for (uint b = 0; b < RUNS; b++)
            z[j][b][0] = z[j][b][1] = vec4(0.0);
    uint m = 0;
    for (; m + 4 <= r; m += 4) {
        const uint i0 = comp_index[m], i1 = comp_index[m + 1], i2 = comp_index[m + 2], i3 = comp_index[m + 3];
        [[unroll]] for (uint b = 0; b < RUNS; b++) {
            const uint t0 = 8 * (inv + WG_SIZE * b);
            if (t0 < S) {
                vec4 k0[2], k1[2], k2[2], k3[2];
                load8(ktb, i0 * pc.capacity + t0, k0[0], k0[1]);
                load8(ktb, i1 * pc.capacity + t0, k1[0], k1[1]);
                load8(ktb, i2 * pc.capacity + t0, k2[0], k2[1]);
                load8(ktb, i3 * pc.capacity + t0, k3[0], k3[1]);
                [[unroll]] for (uint j = 0; j < GROUP; j++)
                    [[unroll]] for (uint h = 0; h < 2; h++)
                        z[j][b][h] += q_s[j * HEAD_DIM + i0] * k0[h] + q_s[j * HEAD_DIM + i1] * k1[h] +
                                      q_s[j * HEAD_DIM + i2] * k2[h] + q_s[j * HEAD_DIM + i3] * k3[h];
            }
        }
    }
    for (; m < r; m++) {
        const uint i = comp_index[m];
        [[unroll]] for (uint b = 0; b < RUNS; b++) {
            const uint t0 = 8 * (inv + WG_SIZE * b);
            if (t0 < S) {
                vec4 k[2];
                load8(ktb, i * pc.capacity + t0, k[0], k[1]);
                [[unroll]] for (uint j = 0; j < GROUP; j++)
                    [[unroll]] for (uint h = 0; h < 2; h++)
                        z[j][b][h] += q_s[j * HEAD_DIM + i] * k[h];
            }
        }
    }
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        [[unroll]] for (uint b = 0; b < RUNS; b++)
            [[unroll]] for (uint h = 0; h < 2; h++) {
                const uint t0 = 8 * (inv + WG_SIZE * b) + 4 * h;
                const bvec4 valid = lessThan(uvec4(t0) + uvec4(0, 1, 2, 3), uvec4(S));
                z[j][b][h] = mix(vec4(NEG_INF), z[j][b][h] * head_factor[j], valid);
            }

    // p_j = softmax over all S positions: head_norm[j] = (max, 1 / sum exp).
    vec2 head_norm[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        float mx = NEG_INF;
        [[unroll]] for (uint b = 0; b < RUNS; b++)
            [[unroll]] for (uint h = 0; h < 2; h++)
                mx = max(mx, max(max(z[j][b][h].x, z[j][b][h].y), max(z[j][b][h].z, z[j][b][h].w)));
        mx = wg_max(mx);
        float sm = 0.0;
        [[unroll]] for (uint b = 0; b < RUNS; b++)
            [[unroll]] for (uint h = 0; h < 2; h++) {
                const vec4 p = exp(z[j][b][h] - mx);
                sm += p.x + p.y + p.z + p.w;
            }
        sm = wg_sum(mx == NEG_INF ? 0.0 : sm);
        head_norm[j] = vec2(mx, 1.0 / sm);
    }

    // Ranking keys rho = sum_j p_j (float bits, NaN lowest), compared
    // without the low bits; positions that are no candidates get none.
    uint key[RUNS][8];
    [[unroll]] for (uint b = 0; b < RUNS; b++)
        [[unroll]] for (uint u = 0; u < 8; u++) {
            float rho = 0.0;
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                rho += exp(z[j][b][u >> 2][u & 3] - head_norm[j].x) * head_norm[j].y;
            key[b][u] = rho_key(rho);
        }

    // The compared bits of the need-th largest candidate key: a 4-ary
    // search from the top bits, keeping the largest prefix that at least
    // `need` candidates reach. Counts fit 16 bits (S <= N * WG_SIZE).
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
                    const uint t = 8 * (inv + WG_SIZE * b) + u;
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
            const uint t = 8 * (inv + WG_SIZE * b) + u;
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

    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
    const uint n_taken = min(need, n_cand); // candidates selected
    float alpha_acc[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        alpha_acc[j] = 0.0;
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        uint tie_rank = run_before[b] >> 16;
        uint place = (run_before[b] & 0xffffu) + min(tie_rank, ties);
        [[unroll]] for (uint u = 0; u < 8; u++) {
            const uint t = 8 * (inv + WG_SIZE * b) + u;
            bool take = (sure_mask[b] & (1u << u)) != 0;
            if ((tie_mask[b] & (1u << u)) != 0) {
                take = tie_rank < ties;
                tie_rank++;
            }
            if (take) {
                // The window has fixed places after the candidates: nothing
                // a candidate's place could be wrong by can displace it.
                const uint at = t >= n_cand ? n_taken + (t - n_cand) : min(place, n_taken - 1);
                UintRef(selb).v[min(at, call.k_stride - 1)] = t;
                place++;
                if (GROUP == 1) // p_0 is the key's own value: z need not stay live
                    alpha_acc[0] += uintBitsToFloat(key[b][u]);
                else
                    [[unroll]] for (uint j = 0; j < GROUP; j++)
                        alpha_acc[j] += exp(z[j][b][u >> 2][u & 3] - head_norm[j].x) * head_norm[j].y;
            }
        }
    }

    // alpha_j whole in chunk 0's share, the other chunks' shares 0, so that
    // attend_merge_sparse adds the same shares for every selection kernel.
    const uint n_chunks = (S + CHUNK - 1) / CHUNK;
    const uint64_t ab = call.alpha_part + uint64_t(head) * call.score_chunks * GROUP * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float a = wg_sum(alpha_acc[j]);
        for (uint x = tid; x < n_chunks; x += WG_SIZE)
            FloatRef(ab).v[x * GROUP + j] = x == 0 ? a : 0.0;
    }
}
