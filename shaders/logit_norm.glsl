// The softmax normalisation of sparq_score's logits and the ranking keys
// built from them, for the kernels that select from those logits in memory
// (sparq_rank, sparq_select_small): each head's maximum
// and sum over all positions from sparq_score's per-chunk statistics, p_j at
// a position, and its ranking key. Include after common.glsl and
// ranking_key.glsl.
#ifndef SPARQ_LOGIT_NORM_GLSL
#define SPARQ_LOGIT_NORM_GLSL

shared vec2 head_norm[GROUP]; // (max, 1 / sum exp) of z_j over all positions

// head_norm from the per-chunk (max, sum exp) of sparq_score at sb, for
// n_chunks chunks. Uniform control flow (contains barriers).
void load_head_norm(uint64_t sb, uint n_chunks)
{
    const uint tid = wg_ordered_index();
    [[unroll]] for (uint j = 0; j < GROUP; j++) {
        float m = NEG_INF;
        for (uint x = tid; x < n_chunks; x += WG_SIZE)
            m = max(m, Vec2Ref(sb).v[x * GROUP + j].x);
        m = wg_max(m);
        float sum = 0.0;
        for (uint x = tid; x < n_chunks; x += WG_SIZE) {
            const vec2 st = Vec2Ref(sb).v[x * GROUP + j];
            sum += st.x == NEG_INF ? 0.0 : st.y * exp(st.x - m);
        }
        sum = wg_sum(sum);
        if (tid == 0)
            head_norm[j] = vec2(m, 1.0 / sum);
    }
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

#endif
