#version 460
// kv_vsum: the running V sum of each entry's slot, from the stored V rows.
//   FLAG_VSUM_ADD set:   sum += V[len .. len + pc.span)   (after an append)
//   FLAG_VSUM_ADD clear: sum  = V[0 .. len)               (after a truncate)
// Both add the stored (storage-rounded) values in position order, one
// thread per element, so the sum of a slot is bit-identical however its
// tokens were appended, truncated and appended again.
// Grid: x = ceil(HEAD_DIM / WG_SIZE), y = KV head, z = entry.
#include "common.glsl"

void main()
{
    const uint kv = gl_WorkGroupID.y;
    const uint d = gl_WorkGroupID.x * WG_SIZE + gl_LocalInvocationID.x;
    const Entry ent = get_entry(gl_WorkGroupID.z);
    if (d >= HEAD_DIM)
        return;
    const uint64_t vb = head_block(ent.v_base, kv);
    const bool add = (pc.flags & FLAG_VSUM_ADD) != 0;
    const uint at = (ent.slot * pc.n_kv_heads + kv) * HEAD_DIM + d;
    float s = add ? FloatRef(pc.vsum_addr).v[at] : 0.0;
    const uint first = add ? ent.len : 0, last = add ? ent.len + pc.span : ent.len;
    for (uint pos = first; pos < last; pos++) {
        const uint i = pos * HEAD_DIM + d;
#ifdef STORAGE_F16
        s += unpackHalf2x16(UintRef(vb).v[i >> 1])[i & 1];
#else
        s += FloatRef(vb).v[i];
#endif
    }
    FloatRef(pc.vsum_addr).v[at] = s;
}
