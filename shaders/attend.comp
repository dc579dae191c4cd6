#version 460
// attend: exact softmax attention of the GROUP query heads of one KV head
// over one split of positions, flash-decoding style; attend_merge combines
// the splits. Dense: positions 0..S-1. SPARSE: the positions sparq_select
// chose (clamped to the slot), so only k whole K and V rows are read.
// Grid: x = split, y = KV head, z = entry. Each K/V row is read once for
// all heads of the group.
//
// A tile of WG_SIZE positions: each thread scores one position against all
// heads (K row from memory, q from shared memory); then the V rows of the
// tile are read by groups of LANES threads (4 elements each), every group
// keeping its own online-softmax state, merged once at the end.
#include "common.glsl"

const uint LANES = HEAD_DIM / 4;
const uint GROUPS_OF_LANES = WG_SIZE / LANES; // the backend ensures WG_SIZE >= LANES

shared float q_s[GROUP * HEAD_DIM];   // [j][d]
shared float score_s[GROUP * WG_SIZE]; // [j][i]
shared uint pos_s[WG_SIZE];
shared vec4 acc_s[WG_SIZE];
shared vec2 ml_s[WG_SIZE];

void main()
{
    const uint split = gl_WorkGroupID.x, kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len;
    const uint head = e * pc.n_kv_heads + kv;
#ifdef SPARSE
    const uint count = ent.k;
    const uint64_t selb = call.sel + uint64_t(head) * call.k_stride * 4;
#else
    const uint count = S;
#endif
    const uint begin = split * call.split_len;
    const uint end = min(count, begin + call.split_len);

    const uint64_t qb = call.q + uint64_t(head) * GROUP * HEAD_DIM * 4;
    for (uint i = tid; i < GROUP * HEAD_DIM; i += WG_SIZE)
        q_s[i] = FloatRef(qb).v[i] * pc.scale;
    barrier();

    const uint64_t kb = head_block(pc.k_addr, ent.slot, kv);
    const uint64_t vb = head_block(pc.v_addr, ent.slot, kv);
    const uint lg = tid / LANES, lane = tid % LANES;
    float m[GROUP], l[GROUP];
    vec4 acc[GROUP];
    for (uint j = 0; j < GROUP; j++) {
        m[j] = NEG_INF;
        l[j] = 0.0;
        acc[j] = vec4(0.0);
    }

    for (uint tile = begin; tile < end; tile += WG_SIZE) {
        const uint i = tile + tid;
        if (i < end) {
#ifdef SPARSE
            const uint pos = min(UintRef(selb).v[i], S - 1);
#else
            const uint pos = i;
#endif
            pos_s[tid] = pos;
            float s[GROUP];
            for (uint j = 0; j < GROUP; j++)
                s[j] = 0.0;
            for (uint d = 0; d < HEAD_DIM; d += 4) {
                const vec4 k4 = load4(kb, pos * HEAD_DIM + d);
                for (uint j = 0; j < GROUP; j++)
                    s[j] += dot(vec4(q_s[j * HEAD_DIM + d], q_s[j * HEAD_DIM + d + 1],
                                     q_s[j * HEAD_DIM + d + 2], q_s[j * HEAD_DIM + d + 3]), k4);
            }
            for (uint j = 0; j < GROUP; j++)
                score_s[j * WG_SIZE + tid] = s[j];
        }
        barrier();
        if (lg < GROUPS_OF_LANES) {
            const uint n = min(WG_SIZE, end - tile);
            for (uint x = lg; x < n; x += GROUPS_OF_LANES) {
                const vec4 v4 = load4(vb, pos_s[x] * HEAD_DIM + lane * 4);
                for (uint j = 0; j < GROUP; j++) {
                    const float s = score_s[j * WG_SIZE + x];
                    if (s > m[j]) {
                        const float corr = exp(m[j] - s);
                        acc[j] *= corr;
                        l[j] *= corr;
                        m[j] = s;
                    }
                    const float p = exp(s - m[j]);
                    acc[j] += p * v4;
                    l[j] += p;
                }
            }
        }
        barrier();
    }

    // Merge the lane groups' states and write this split's partial result.
    const uint64_t mlb = call.part_ml + (uint64_t(head) * call.splits + split) * GROUP * 8;
    const uint64_t accb = call.part_acc + (uint64_t(head) * call.splits + split) * GROUP * HEAD_DIM * 4;
    for (uint j = 0; j < GROUP; j++) {
        if (lg < GROUPS_OF_LANES) {
            acc_s[tid] = acc[j];
            ml_s[tid] = vec2(m[j], l[j]);
        }
        barrier();
        if (tid < LANES) {
            float mx = NEG_INF;
            for (uint g = 0; g < GROUPS_OF_LANES; g++)
                mx = max(mx, ml_s[g * LANES].x);
            float sum = 0.0;
            vec4 a = vec4(0.0);
            for (uint g = 0; g < GROUPS_OF_LANES; g++) {
                const vec2 st = ml_s[g * LANES];
                if (st.x != NEG_INF) {
                    const float w = exp(st.x - mx);
                    sum += st.y * w;
                    a += acc_s[g * LANES + tid] * w;
                }
            }
            Vec4Ref(accb).v[j * LANES + tid] = a;
            if (tid == 0)
                Vec2Ref(mlb).v[j] = vec2(mx, sum);
        }
        barrier();
    }
}
