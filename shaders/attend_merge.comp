#version 460
// attend_merge: combines the splits of attend into the output of each query
// head, and for SparQ blends with the running mean of V:
//   y = alpha * attention + (1 - alpha) * vsum / S
// Grid: x = head of the group, y = KV head, z = entry.
//
// Two passes, so that no load waits on the result of another: first the
// workgroup finds the largest split maximum (every split's max is one
// float) and, for SparQ, adds alpha's shares; then groups of LANES threads
// (4 elements each) add every NG-th split's sum and accumulator scaled by
// exp(max - largest), UNROLL splits' loads at a time, so that a long run of
// splits is a few round trips to memory rather than one per split.
#include "common.glsl"

const uint LANES = HEAD_DIM / 4;
const uint NG = WG_SIZE / LANES; // the backend ensures WG_SIZE >= LANES
const uint UNROLL = 4;

shared float l_s[WG_SIZE];
shared vec4 acc_s[WG_SIZE];
shared vec2 red_ma[WG_SIZE]; // per subgroup: (max, alpha)

// The workgroup's largest x and its sum of a (subgroup order, then
// subgroups in order: one order for a given device and workgroup size).
vec2 wg_max_and_sum(float x, float a)
{
    const float m = subgroupMax(x), s = subgroupAdd(a);
    if (subgroupElect())
        red_ma[gl_SubgroupID] = vec2(m, s);
    barrier();
    vec2 t = vec2(NEG_INF, 0.0);
    for (uint i = 0; i < gl_NumSubgroups; i++)
        t = vec2(max(t.x, red_ma[i].x), t.y + red_ma[i].y);
    return t; // called once, so red_ma needs no barrier after the reads
}

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
    float alpha_share = 0.0;
#ifdef SPARSE
    // alpha: the chunks' shares from sparq_rank; 1 by definition when every
    // position was chosen or reallocation is off.
    const bool blend = (pc.flags & FLAG_NO_REALLOC) == 0;
    const bool realloc = blend && ent.k < ent.len;
    if (realloc) {
        const uint n_chunks = (ent.len + PARAM - 1) / PARAM; // PARAM: positions per rank chunk
        for (uint x = tid; x < n_chunks; x += WG_SIZE)
            alpha_share += FloatRef(call.alpha_part).v[(head * call.score_chunks + x) * GROUP + j];
    }
#endif
    const vec2 ma = wg_max_and_sum(mx, alpha_share);
    const float m_all = ma.x; // -inf only if every split is empty, which no entry allows

    float sum = 0.0;
    vec4 acc = vec4(0.0);
    if (g < NG) {
        for (uint s0 = g; s0 < call.splits; s0 += NG * UNROLL) {
            vec2 st[UNROLL];
            vec4 a[UNROLL];
            [[unroll]] for (uint u = 0; u < UNROLL; u++) {
                st[u] = vec2(NEG_INF, 0.0);
                a[u] = vec4(0.0);
                if (s0 + u * NG < call.splits) {
                    const uint at = first + (s0 + u * NG) * GROUP;
                    st[u] = Vec2Ref(call.part_ml).v[at];
                    a[u] = Vec4Ref(call.part_acc).v[at * LANES + lane];
                }
            }
            // In split order; an empty split (or one past the end) adds nothing.
            [[unroll]] for (uint u = 0; u < UNROLL; u++) {
                const float w = st[u].x == NEG_INF ? 0.0 : exp(st[u].x - m_all);
                sum += st[u].y * w;
                acc += a[u] * w;
            }
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
    const float alpha = realloc ? ma.y : 1.0;
    if (lane == 0)
        FloatRef(call.alpha).v[head * GROUP + j] = alpha;
    if (blend) {
        const vec4 vbar = Vec4Ref(pc.vsum_addr).v[((ent.slot * pc.n_kv_heads + kv) * HEAD_DIM >> 2) + lane] / float(ent.len);
        y = alpha * y + (1.0 - alpha) * vbar;
    }
#endif
    Vec4Ref(call.out_).v[(((e * pc.n_kv_heads + kv) * GROUP + j) * HEAD_DIM >> 2) + lane] = y;
}
