#version 460
// attend_merge: combines the splits of attend into the output of each query
// head, and for SparQ blends with the running mean of V:
//   y = alpha * attention + (1 - alpha) * vsum / S
// Grid: x = head of the group, y = KV head, z = entry.
//
// Two passes, so that no load waits on the result of another: first the
// workgroup finds the largest split maximum (every split's max is one
// float), then groups of LANES threads (4 elements each) add every NG-th
// split's sum and accumulator scaled by exp(max - largest), which are
// independent loads the GPU can have in flight together.
#include "common.glsl"

const uint LANES = HEAD_DIM / 4;
const uint NG = WG_SIZE / LANES; // the backend ensures WG_SIZE >= LANES

shared float l_s[WG_SIZE];
shared vec4 acc_s[WG_SIZE];

void main()
{
    const uint j = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint g = tid / LANES, lane = tid % LANES;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint head = e * pc.n_kv_heads + kv;
    const uint first = (head * call.splits) * GROUP + j; // split s at first + s * GROUP

    float mx = NEG_INF;
    for (uint s = tid; s < call.splits; s += WG_SIZE)
        mx = max(mx, Vec2Ref(call.part_ml).v[first + s * GROUP].x);
    const float m_all = wg_max(mx); // -inf only if every split is empty, which no entry allows

    float sum = 0.0;
    vec4 acc = vec4(0.0);
    if (g < NG) {
        for (uint s = g; s < call.splits; s += NG) {
            const uint at = first + s * GROUP;
            const vec2 st = Vec2Ref(call.part_ml).v[at];
            const vec4 a = Vec4Ref(call.part_acc).v[at * LANES + lane];
            const float w = st.x == NEG_INF ? 0.0 : exp(st.x - m_all); // an empty split adds nothing
            sum += st.y * w;
            acc += a * w;
        }
    }
    l_s[tid] = sum;
    acc_s[tid] = acc;
    barrier();
    if (tid >= LANES)
        return;
    float l_all = 0.0;
    vec4 y = vec4(0.0);
    for (uint k = 0; k < NG; k++) {
        l_all += l_s[k * LANES + lane];
        y += acc_s[k * LANES + lane];
    }
    y /= l_all;
#ifdef SPARSE
    // alpha: the chunks' shares from sparq_rank, added in chunk order; 1 by
    // definition when every position was chosen or reallocation is off.
    float alpha = 1.0;
    if ((pc.flags & FLAG_NO_REALLOC) == 0 && ent.k < ent.len) {
        alpha = 0.0;
        const uint n_chunks = (ent.len + PARAM - 1) / PARAM; // PARAM: positions per rank chunk
        for (uint x = 0; x < n_chunks; x++)
            alpha += FloatRef(call.alpha_part).v[(head * call.score_chunks + x) * GROUP + j];
    }
    if (lane == 0)
        FloatRef(call.alpha).v[head * GROUP + j] = alpha;
    if ((pc.flags & FLAG_NO_REALLOC) == 0) {
        const vec4 vbar = Vec4Ref(pc.vsum_addr).v[((ent.slot * pc.n_kv_heads + kv) * HEAD_DIM >> 2) + lane] / float(ent.len);
        y = alpha * y + (1.0 - alpha) * vbar;
    }
#endif
    Vec4Ref(call.out_).v[(((e * pc.n_kv_heads + kv) * GROUP + j) * HEAD_DIM >> 2) + lane] = y;
}
