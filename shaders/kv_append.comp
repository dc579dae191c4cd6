#version 460
// kv_append: stores T new tokens of K and V for each entry (slot) of the
// call: K and V rows and the position-contiguous copy Kt. (kv_vsum then adds
// the stored V rows to the running sum.)
// Grid: x = role blocks (see below), y = KV head, z = entry.
//   x <  nA           : K/V rows of TOKENS_PER_WG tokens (thread = 4 elements)
//   nA <= x < nA + nB : Kt, in pairs of positions (f16 packs two positions
//                       per 32-bit word, so a pair has exactly one writer)
// pc.span = T, pc.n_chunks = nA, pc.r = nB. Input (f32) at pc.in_addr:
// K [entry][T][kv][dh], then V of the same shape.
#include "common.glsl"

const uint TOKENS_PER_WG = 16;

void main()
{
    const uint e = gl_WorkGroupID.z, kv = gl_WorkGroupID.y, x = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const Entry ent = get_entry(e);
    const uint T = pc.span, nA = pc.n_chunks, nB = pc.r;
    const uint64_t in_k = pc.in_addr;
    const uint64_t in_v = pc.in_addr + uint64_t(pc.n_entries) * T * pc.n_kv_heads * HEAD_DIM * 4;
    // element index of (entry, token t, kv head, d) in the input
    #define IN_INDEX(t, d) (((e * T + (t)) * pc.n_kv_heads + kv) * HEAD_DIM + (d))

    if (x < nA) {
        const uint64_t kb = head_block(ent.k_base, kv);
        const uint64_t vb = head_block(ent.v_base, kv);
        for (uint d = tid * 4; d < HEAD_DIM; d += WG_SIZE * 4) {
            const uint t_end = min(T, (x + 1) * TOKENS_PER_WG);
            for (uint t = x * TOKENS_PER_WG; t < t_end; t++) {
                const uint pos = ent.len + t;
                store4(kb, pos * HEAD_DIM + d, Vec4Ref(in_k).v[IN_INDEX(t, d) >> 2]);
                store4(vb, pos * HEAD_DIM + d, Vec4Ref(in_v).v[IN_INDEX(t, d) >> 2]);
            }
        }
    } else {
        const uint first_pair = ent.len >> 1;
        const uint n_pairs = ((ent.len + T - 1) >> 1) - first_pair + 1;
        const uint idx = (x - nA) * WG_SIZE + tid;
        if (idx >= n_pairs * HEAD_DIM)
            return;
        const uint d = idx / n_pairs;
        const uint pos0 = (first_pair + idx % n_pairs) * 2;
        const uint64_t ktb = head_block(ent.kt_base, kv);
        const uint row = d * pc.capacity + pos0; // even: pos0 and pos0+1 share a word
        float k0, k1;
#ifdef STORAGE_F16
        vec2 old = unpackHalf2x16(UintRef(ktb).v[row >> 1]);
        k0 = old.x;
        k1 = old.y;
#else
        k0 = FloatRef(ktb).v[row];
        k1 = FloatRef(ktb).v[row + 1];
#endif
        if (pos0 >= ent.len && pos0 < ent.len + T)
            k0 = FloatRef(in_k).v[IN_INDEX(pos0 - ent.len, d)];
        if (pos0 + 1 >= ent.len && pos0 + 1 < ent.len + T)
            k1 = FloatRef(in_k).v[IN_INDEX(pos0 + 1 - ent.len, d)];
#ifdef STORAGE_F16
        UintRef(ktb).v[row >> 1] = packHalf2x16(vec2(k0, k1));
#else
        FloatRef(ktb).v[row] = k0;
        FloatRef(ktb).v[row + 1] = k1;
#endif
    }
}
