#version 460
// attend_merge: combines the splits of attend into the output of each query
// head, and for SparQ blends with the running mean of V:
//   y = alpha * attention + (1 - alpha) * vsum / S
// Grid: x = head of the group, y = KV head, z = entry; thread = 4 elements.
#include "common.glsl"

const uint LANES = HEAD_DIM / 4;

void main()
{
    const uint j = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint lane = gl_LocalInvocationID.x;
    if (lane >= LANES)
        return;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint head = e * pc.n_kv_heads + kv;

    float mx = NEG_INF;
    for (uint s = 0; s < call.splits; s++)
        mx = max(mx, Vec2Ref(call.part_ml).v[(head * call.splits + s) * GROUP + j].x);
    float sum = 0.0;
    vec4 acc = vec4(0.0);
    for (uint s = 0; s < call.splits; s++) {
        const uint at = (head * call.splits + s) * GROUP + j;
        const vec2 st = Vec2Ref(call.part_ml).v[at];
        if (st.x != NEG_INF) {
            const float w = exp(st.x - mx);
            sum += st.y * w;
            acc += Vec4Ref(call.part_acc).v[at * LANES + lane] * w;
        }
    }
    vec4 y = acc / sum;
#ifdef SPARSE
    if ((pc.flags & FLAG_NO_REALLOC) == 0) {
        const float alpha = FloatRef(call.alpha).v[head * GROUP + j];
        const vec4 vbar = Vec4Ref(pc.vsum_addr).v[((ent.slot * pc.n_kv_heads + kv) * HEAD_DIM >> 2) + lane] / float(ent.len);
        y = alpha * y + (1.0 - alpha) * vbar;
    }
#endif
    Vec4Ref(call.out_).v[(((e * pc.n_kv_heads + kv) * GROUP + j) * HEAD_DIM >> 2) + lane] = y;
}
