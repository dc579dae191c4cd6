// SparQ steps 1-2's per-query work, shared by sparq_score and
// sparq_score_select (which must give the same logits): q of the group in
// shared memory, i1 (the r largest components of sum_j |q_j|, ties by
// index) and each head's factor scale / sqrt(frac_j). dh-sized, so every
// workgroup redoes it rather than wait for another dispatch.
// Include after common.glsl.

shared float q_s[GROUP * HEAD_DIM];     // [j][i]
shared float comp_score[HEAD_DIM];      // sum_j |q_j[i]|, NaN mapped to -1
shared uint comp_index[HEAD_DIM];       // i1, by rank
shared float head_factor[GROUP];

#ifndef QUERY_COMPONENTS_SERIAL
shared uint comp_rank[HEAD_DIM];         // i1's inverse, counted in parts
#endif

// Fills q_s, comp_index and head_factor from the GROUP query heads at qb.
// Every workgroup of sparq_score does this before its first load of Kt (the
// loads need comp_index), so it is spread over the whole workgroup: each
// component's rank is counted in WG_SIZE / HEAD_DIM parts, and each head's
// sums by one subgroup. QUERY_COMPONENTS_SERIAL keeps the earlier form, in
// which 128 invocations count the ranks alone and one invocation per head
// sums: sparq_score_select uses it, because on an H200 the parallel form
// made that kernel leave short slots' candidates unwritten (docs/NOTES.md,
// entry 24). Both give the same comp_index; the sums may differ in the
// last bits. Uniform control flow (contains barriers).
void load_query_components(uint64_t qb, uint r)
{
    const uint tid = gl_LocalInvocationID.x;
    for (uint i = tid; i < GROUP * HEAD_DIM; i += WG_SIZE)
        q_s[i] = FloatRef(qb).v[i];
    barrier();

    // i1: rank every component by its score (ties by index: a strict order,
    // so ranks are a permutation and every slot of comp_index is written).
    for (uint i = tid; i < HEAD_DIM; i += WG_SIZE) {
        float a = 0.0;
        [[unroll]] for (uint j = 0; j < GROUP; j++)
            a += abs(q_s[j * HEAD_DIM + i]);
        comp_score[i] = isnan(a) ? -1.0 : a;
#ifndef QUERY_COMPONENTS_SERIAL
        comp_rank[i] = 0;
#endif
    }
    barrier();
#ifdef QUERY_COMPONENTS_SERIAL
    for (uint i = tid; i < HEAD_DIM; i += WG_SIZE) {
        const float a = comp_score[i];
        uint rank = 0;
        for (uint o = 0; o < HEAD_DIM; o++) {
            const float b = comp_score[o];
            rank += (b > a || (b == a && o < i)) ? 1u : 0u;
        }
        comp_index[rank] = i;
    }
    barrier();
    // frac_j = sum_{i in i1} |q_j[i]| / sum_i |q_j[i]|; a zero numerator
    // gives z = 0 (the selected components of q_j are all zero).
    for (uint j = tid; j < GROUP; j += WG_SIZE) {
        float num = 0.0, den = 0.0;
        for (uint i = 0; i < HEAD_DIM; i++)
            den += abs(q_s[j * HEAD_DIM + i]);
        for (uint m = 0; m < r; m++)
            num += abs(q_s[j * HEAD_DIM + comp_index[m]]);
        const float frac = den > 0.0 ? num / den : 1.0;
        head_factor[j] = frac > 0.0 ? pc.scale / sqrt(frac) : 0.0;
    }
    barrier();
#else
    const uint parts = max(1u, WG_SIZE / HEAD_DIM), part_len = (HEAD_DIM + parts - 1) / parts;
    for (uint x = tid; x < HEAD_DIM * parts; x += WG_SIZE) {
        const uint i = x % HEAD_DIM, o0 = (x / HEAD_DIM) * part_len, o1 = min(HEAD_DIM, o0 + part_len);
        const float a = comp_score[i];
        uint above = 0;
        for (uint o = o0; o < o1; o++) {
            const float b = comp_score[o];
            above += (b > a || (b == a && o < i)) ? 1u : 0u;
        }
        atomicAdd(comp_rank[i], above);
    }
    barrier();
    for (uint i = tid; i < HEAD_DIM; i += WG_SIZE)
        comp_index[comp_rank[i]] = i;
    barrier();
    // frac_j = sum_{i in i1} |q_j[i]| / sum_i |q_j[i]|; a zero numerator
    // gives z = 0 (the selected components of q_j are all zero).
    for (uint j = gl_SubgroupID; j < GROUP; j += gl_NumSubgroups) { // subgroup-uniform
        float num = 0.0, den = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < HEAD_DIM; i += gl_SubgroupSize)
            den += abs(q_s[j * HEAD_DIM + i]);
        for (uint m = gl_SubgroupInvocationID; m < r; m += gl_SubgroupSize)
            num += abs(q_s[j * HEAD_DIM + comp_index[m]]);
        num = subgroupAdd(num);
        den = subgroupAdd(den);
        const float frac = den > 0.0 ? num / den : 1.0;
        if (subgroupElect())
            head_factor[j] = frac > 0.0 ? pc.scale / sqrt(frac) : 0.0;
    }
    barrier();
#endif
}
