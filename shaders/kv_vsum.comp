#version 460
// kv_vsum: recomputes the running V sum of one slot from the stored V rows
// 0..len-1, adding in position order exactly as kv_append does, so a
// truncated slot holds the sum it would have had without the dropped tokens.
// Grid: x = ceil(HEAD_DIM / WG_SIZE), y = KV head. Entry 0 names the slot.
#include "common.glsl"

void main()
{
    const uint kv = gl_WorkGroupID.y;
    const uint d = gl_WorkGroupID.x * WG_SIZE + gl_LocalInvocationID.x;
    const Entry ent = get_entry(0);
    if (d >= HEAD_DIM)
        return;
    const uint64_t vb = head_block(pc.v_addr, ent.slot, kv);
    float s = 0.0;
    for (uint pos = 0; pos < ent.len; pos++) {
        const uint i = pos * HEAD_DIM + d;
#ifdef STORAGE_F16
        s += unpackHalf2x16(UintRef(vb).v[i >> 1])[i & 1];
#else
        s += FloatRef(vb).v[i];
#endif
    }
    FloatRef(pc.vsum_addr).v[(ent.slot * pc.n_kv_heads + kv) * HEAD_DIM + d] = s;
}
