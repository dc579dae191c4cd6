#version 460
// sparq_score: SparQ step 1-2 for one chunk of positions of one (entry, KV
// head): picks i1 (the r largest components of sum_j |q_j|; every workgroup
// redoes it, it is dh-sized), computes the approximate logits
//   z_j[t] = scale * sum_{i in i1} q_j[i] K[t][i] / sqrt(frac_j)
// from the position-contiguous Kt (r contiguous runs), writes them, and the
// chunk's per-head max and sum of exp for the softmax over all positions.
// Slots of at most pc.n_chunks positions are left to sparq_score_select.
// Grid: x = PARAM consecutive chunks of CHUNK = 4 * WG_SIZE positions,
// y = KV head, z = entry. A workgroup scores its chunks one after another,
// each exactly as a workgroup of its own would (so PARAM, the backend's
// choice, changes no bit): i1 and the heads' factors are a chain of
// barriers that fewer workgroups pay fewer times.
#include "common.glsl"
#include "query_components.glsl"
#include "head_reductions.glsl"

const uint CHUNK = WG_SIZE * 4;

// The logits and statistics of chunk c (below the slot's end).
// Uniform control flow (contains barriers).
void score_chunk(Entry ent, CallInfo call, uint kv, uint e, uint c, uint r)
{
    const uint tid = gl_LocalInvocationID.x;
    const uint S = ent.len;
    // Approximate logits of 4 consecutive positions per thread.
    const uint t0 = c * CHUNK + tid * 4;
    const uint64_t ktb = head_block(ent.kt_base, kv);
    vec4 z[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        z[j] = vec4(0.0);
    if (t0 < S) {
        // Eight rows at a time, loads first, so eight are in flight per
        // thread (each batch waits one round trip to memory: at r = 16, two
        // instead of four), then four, then one.
        uint m = 0;
        for (; m + 8 <= r; m += 8) {
            uint i[8];
            vec4 k[8];
            [[unroll]] for (uint b = 0; b < 8; b++) {
                i[b] = comp_index[m + b];
                k[b] = load4(ktb, i[b] * pc.capacity + t0);
            }
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                [[unroll]] for (uint b = 0; b < 8; b++)
                    z[j] += q_s[j * HEAD_DIM + i[b]] * k[b];
        }
        for (; m + 4 <= r; m += 4) {
            const uint i0 = comp_index[m], i1 = comp_index[m + 1], i2 = comp_index[m + 2], i3 = comp_index[m + 3];
            const vec4 k0 = load4(ktb, i0 * pc.capacity + t0), k1 = load4(ktb, i1 * pc.capacity + t0);
            const vec4 k2 = load4(ktb, i2 * pc.capacity + t0), k3 = load4(ktb, i3 * pc.capacity + t0);
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                z[j] += q_s[j * HEAD_DIM + i0] * k0 + q_s[j * HEAD_DIM + i1] * k1 + q_s[j * HEAD_DIM + i2] * k2 +
                        q_s[j * HEAD_DIM + i3] * k3;
        }
        for (; m < r; m++) {
            const uint i = comp_index[m];
            const vec4 kt = load4(ktb, i * pc.capacity + t0);
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                z[j] += q_s[j * HEAD_DIM + i] * kt;
        }
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            z[j] *= head_factor[j]; // scale / sqrt(frac_j), once per head
    }
    const bvec4 valid = lessThan(uvec4(t0) + uvec4(0, 1, 2, 3), uvec4(S));
    const uint64_t zb = call.z + (uint64_t(e) * pc.n_kv_heads + kv) * GROUP * call.z_stride * 4;
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        z[j] = mix(vec4(NEG_INF), z[j], valid);
        Vec4Ref(zb).v[(j * call.z_stride + t0) >> 2] = z[j];
    }

    // Chunk statistics per head: max and sum of exp(z - max), every head in
    // one reduction.
    vec2 st[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float mx = max(max(z[j].x, z[j].y), max(z[j].z, z[j].w));
        const vec4 p = exp(z[j] - mx);
        st[j] = vec2(mx, mx == NEG_INF ? 0.0 : p.x + p.y + p.z + p.w);
    }
    wg_softmax_stats_heads(st);
    const uint64_t sb = call.stats + ((uint64_t(e) * pc.n_kv_heads + kv) * call.score_chunks + c) * GROUP * 8;
    if (tid == 0)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            Vec2Ref(sb).v[j] = st[j];
}

void main()
{
    const uint e = gl_WorkGroupID.z, kv = gl_WorkGroupID.y, c0 = gl_WorkGroupID.x * PARAM;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len;
    if (c0 * CHUNK >= S || S <= pc.n_chunks)
        return; // uniform: past the slot, or sparq_score_select's (pc.n_chunks: its limit)
    const uint r = min(pc.r, HEAD_DIM);
    const uint64_t qb = call.q + (uint64_t(e) * pc.n_kv_heads * GROUP + kv * GROUP) * HEAD_DIM * 4;

    load_query_components(qb, r);

    for (uint c = c0; c < c0 + PARAM && c * CHUNK < S; c++) // uniform
        score_chunk(ent, call, kv, e, c, r);
}
