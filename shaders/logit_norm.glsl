// The softmax normalisation of sparq_score's logits and the ranking keys
// built from them, for the kernels that select from those logits in memory
// (sparq_rank, sparq_select_small): each head's maximum
// and sum over all positions from sparq_score's per-chunk statistics, p_j at
// a position, and its ranking key. Include after common.glsl and
// ranking_key.glsl.
#ifndef SPARQ_LOGIT_NORM_GLSL
#define SPARQ_LOGIT_NORM_GLSL

#include "head_reductions.glsl"

shared vec2 head_norm[GROUP]; // (max, 1 / sum exp) of z_j over all positions

// Each head's (max, 1 / sum exp) from the per-chunk (max, sum exp) of
// sparq_score at sb, for n_chunks chunks, in every invocation's registers:
// each subgroup reduces on its own, with no barrier or shared memory, so
// the loads overlap whatever else the caller has in flight. Every subgroup
// reads the same chunks in the same lanes and reduces them in the same
// order, so every invocation of every workgroup gets the same bits. (The
// workgroup-wide form it replaced, head_reductions.glsl's, with its
// barriers, was about a third of sparq_rank's phase 0 on an H200; this one
// took that phase 7.1 -> 6.1-6.2 us on long1 and 14.4-15.2 -> 13.0-14.4
// on long1x and batch8. Loading 4 chunks per lane at once cost 8 registers
// and 2.5-3.2 us: docs/NOTES.md, entries 31 and 32.)
void subgroup_head_norm(uint64_t sb, uint n_chunks, out vec2 norm[GROUP])
{
    vec2 st[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        st[j] = vec2(NEG_INF, 0.0);
    for (uint x = gl_SubgroupInvocationID; x < n_chunks; x += gl_SubgroupSize)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            st[j] = softmax_stats_merge(st[j], Vec2Ref(sb).v[x * GROUP + j]);
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        const float m = subgroupMax(st[j].x);
        const float s = subgroupAdd(st[j].x == NEG_INF ? 0.0 : st[j].y * exp(st[j].x - m));
        norm[j] = vec2(m, 1.0 / (m == NEG_INF ? 0.0 : s));
    }
}

// head_norm from subgroup_head_norm. Uniform control flow (contains a
// barrier).
void load_head_norm(uint64_t sb, uint n_chunks)
{
    vec2 norm[GROUP];
    subgroup_head_norm(sb, n_chunks, norm);
    if (wg_ordered_index() == 0)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            head_norm[j] = norm[j];
    barrier();
}

// p_j[t], the approximate probability of head j at position t (z at zb).
float approx_p(uint64_t zb, uint z_stride, uint j, uint t)
{
    return exp(FloatRef(zb).v[j * z_stride + t] - head_norm[j].x) * head_norm[j].y;
}

// The ranking key of position t.
uint ranking_key(uint64_t zb, uint z_stride, uint t)
{
    float rho = 0.0;
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        rho += approx_p(zb, z_stride, j, t);
    return rho_key(rho);
}

// The ranking keys of four consecutive positions from their logits z[j]
// and the heads' norms (head_norm's values): ranking_key's sum, four at a
// time.
uvec4 ranking_keys4(vec4 z[GROUP], vec2 norm[GROUP])
{
    vec4 rho = vec4(0.0);
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        rho += exp(z[j] - norm[j].x) * norm[j].y;
    return uvec4(rho_key(rho.x), rho_key(rho.y), rho_key(rho.z), rho_key(rho.w));
}

#endif
