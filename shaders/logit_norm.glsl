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

// head_norm from the per-chunk (max, sum exp) of sparq_score at sb, for
// n_chunks chunks: every head's in one reduction (head_reductions.glsl).
// Uniform control flow (contains barriers).
void load_head_norm(uint64_t sb, uint n_chunks)
{
    const uint tid = wg_ordered_index();
    vec2 st[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        st[j] = vec2(NEG_INF, 0.0);
    for (uint x = tid; x < n_chunks; x += WG_SIZE)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            st[j] = softmax_stats_merge(st[j], Vec2Ref(sb).v[x * GROUP + j]);
    wg_softmax_stats_heads(st);
    if (tid == 0)
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            head_norm[j] = vec2(st[j].x, 1.0 / st[j].y);
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

// The ranking keys of four consecutive positions from their logits z[j]:
// ranking_key's sum, four at a time.
uvec4 ranking_keys4(vec4 z[GROUP])
{
    vec4 rho = vec4(0.0);
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        rho += exp(z[j] - head_norm[j].x) * head_norm[j].y;
    return uvec4(rho_key(rho.x), rho_key(rho.y), rho_key(rho.z), rho_key(rho.w));
}

#endif
