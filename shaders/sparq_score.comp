#version 460
// sparq_score: SparQ step 1-2 for one chunk of positions of one (entry, KV
// head): picks i1 (the r largest components of sum_j |q_j|; every workgroup
// redoes it, it is dh-sized), computes the approximate logits
//   z_j[t] = scale * sum_{i in i1} q_j[i] K[t][i] / sqrt(frac_j)
// from the position-contiguous Kt (r contiguous runs), writes them, and the
// chunk's per-head max and sum of exp for the softmax over all positions.
// Slots of at most pc.n_chunks positions are left to sparq_score_select.
// Grid: x = chunk of CHUNK = 4 * WG_SIZE positions, y = KV head, z = entry.
#include "common.glsl"
#include "query_components.glsl"

const uint CHUNK = WG_SIZE * 4;

shared vec2 chunk_stats[GROUP];

void main()
{
    const uint e = gl_WorkGroupID.z, kv = gl_WorkGroupID.y, c = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len;
    if (c * CHUNK >= S || S <= pc.n_chunks)
        return; // uniform: past the slot, or sparq_score_select's (pc.n_chunks: its limit)
    const uint r = min(pc.r, HEAD_DIM);
    const uint64_t qb = call.q + (uint64_t(e) * pc.n_kv_heads * GROUP + kv * GROUP) * HEAD_DIM * 4;

    load_query_components(qb, r);

    // Approximate logits of 4 consecutive positions per thread.
    const uint t0 = c * CHUNK + tid * 4;
    const uint64_t ktb = head_block(ent.kt_base, kv);
    vec4 z[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        z[j] = vec4(0.0);
    if (t0 < S) {
        // Four rows at a time, loads first, so four are in flight per thread.
        uint m = 0;
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

    // Chunk statistics per head: max and sum of exp(z - max).
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float mx = wg_max(max(max(z[j].x, z[j].y), max(z[j].z, z[j].w)));
        const vec4 p = exp(z[j] - mx);
        const float sm = wg_sum(mx == NEG_INF ? 0.0 : p.x + p.y + p.z + p.w);
        if (tid == 0)
            chunk_stats[j] = vec2(mx, sm);
    }
    barrier();
    const uint64_t sb = call.stats + ((uint64_t(e) * pc.n_kv_heads + kv) * call.score_chunks + c) * GROUP * 8;
    for (uint j = tid; j < GROUP; j += WG_SIZE)
        Vec2Ref(sb).v[j] = chunk_stats[j];
}
