// Workgroup reduction of the softmax statistics of every query head of the
// group at once: one subgroup reduction per head, then a single
// shared-memory exchange for all of them. The per-head form (common.glsl's
// wg_max and wg_sum, GROUP times) costs two barriers per head and
// reduction; this costs two per pass, and a pass holds WG_SIZE / gl_NumSubgroups heads (32
// at 32-wide subgroups and 256 invocations, so one pass for every GROUP).
// Every invocation gets the results, in the same order of operations, so
// they are identical across the workgroup. Include after common.glsl; call
// from uniform control flow.
#ifndef SPARQ_HEAD_REDUCTIONS_GLSL
#define SPARQ_HEAD_REDUCTIONS_GLSL

shared vec2 red_heads[WG_SIZE]; // [head in pass][subgroup]

// (max, sum of exp(x - max)) pairs: `a` merged with `b`. A max of -inf means
// no element (its sum is ignored).
vec2 softmax_stats_merge(vec2 a, vec2 b)
{
    const float m = max(a.x, b.x);
    if (m == NEG_INF)
        return vec2(NEG_INF, 0.0);
    const float sa = a.x == NEG_INF ? 0.0 : a.y * exp(a.x - m);
    const float sb = b.x == NEG_INF ? 0.0 : b.y * exp(b.x - m);
    return vec2(m, sa + sb);
}

// st[j]: this invocation's (max, sum exp(x - max)) of head j; on return,
// the workgroup's.
void wg_softmax_stats_heads(inout vec2 st[GROUP])
{
    const uint per_pass = WG_SIZE / gl_NumSubgroups, n_sg = gl_NumSubgroups;
    for (uint j0 = 0; j0 < GROUP; j0 += per_pass) {
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            if (j >= j0 && j < j0 + per_pass) { // uniform
                const float m = subgroupMax(st[j].x);
                const float s = subgroupAdd(st[j].x == NEG_INF ? 0.0 : st[j].y * exp(st[j].x - m));
                if (subgroupElect())
                    red_heads[(j - j0) * n_sg + gl_SubgroupID] = vec2(m, s);
            }
        }
        barrier();
        [[unroll]] for (uint j = 0; j < GROUP; j++) {
            if (j >= j0 && j < j0 + per_pass) {
                float m = NEG_INF;
                for (uint i = 0; i < n_sg; i++)
                    m = max(m, red_heads[(j - j0) * n_sg + i].x);
                float s = 0.0;
                for (uint i = 0; i < n_sg; i++) {
                    const vec2 p = red_heads[(j - j0) * n_sg + i];
                    s += p.x == NEG_INF ? 0.0 : p.y * exp(p.x - m);
                }
                st[j] = vec2(m, m == NEG_INF ? 0.0 : s);
            }
        }
        barrier();
    }
}

#endif
