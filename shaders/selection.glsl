// Shared by the two SparQ selection kernels, sparq_rank (long slots, spread
// over every chunk) and sparq_select_small (short slots, one workgroup per
// head), which must choose exactly the same positions: the ranking keys,
// the radix digits, the resolve step and the softmax normalisation.
// Include after common.glsl; both kernels run with WG_SIZE = 256.
//
// Keys are ranking_key.glsl's (sparq_score_select compares the same ones).
// The radix select looks at two DIGIT_BITS-bit digits, bits 30..20 and
// 19..9, the KEY_BITS compared bits.

#include "ranking_key.glsl"

const uint DIGIT_BITS = 11;
const uint BINS = 1u << DIGIT_BITS;
const uint BINS_PER_THREAD = BINS / WG_SIZE;

shared vec2 head_norm[GROUP]; // (max, 1 / sum exp) of z_j over all positions
shared uint hist_s[BINS];
shared uint found_digit, found_still;

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

// The digit that holds the still-th largest key, given this thread's
// counts[b] of digit BINS - 1 - tid * BINS_PER_THREAD - b (thread 0 owns the
// top digits): the largest digit whose keys, with those of larger digits,
// reach `still`; still_out gets how many keys of that digit are still to
// take. Uniform control flow (contains barriers).
uint resolve_digit(uint counts[BINS_PER_THREAD], uint still, out uint still_out)
{
    const uint top = BINS - 1 - wg_ordered_index() * BINS_PER_THREAD;
    uint mine = 0;
    [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++)
        mine += counts[b];
    uint total;
    uint above = wg_exclusive_scan(mine, total);
    if (above < still && above + mine >= still) {
        [[unroll]] for (uint b = 0; b < BINS_PER_THREAD; b++) {
            if (above < still && above + counts[b] >= still) {
                found_digit = top - b;
                found_still = still - above;
            }
            above += counts[b];
        }
    }
    barrier();
    const uint digit = found_digit;
    still_out = found_still;
    barrier();
    return digit;
}

void clear_hist()
{
    for (uint i = wg_ordered_index(); i < BINS; i += WG_SIZE)
        hist_s[i] = 0;
    barrier();
}
