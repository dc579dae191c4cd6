// Shared by the two SparQ selection kernels, sparq_rank (long slots, spread
// over every chunk) and sparq_select_small (short slots, one workgroup per
// head), which must choose exactly the same positions: the radix digits
// and the resolve step (the softmax normalisation is logit_norm.glsl's).
// Include after common.glsl; both kernels run with WG_SIZE = 256.
//
// Keys are ranking_key.glsl's (sparq_score_select compares the same ones).
// The radix select looks at two DIGIT_BITS-bit digits, bits 30..20 and
// 19..9, the KEY_BITS compared bits.

#include "ranking_key.glsl"
#include "logit_norm.glsl"

const uint DIGIT_BITS = 11;
const uint BINS = 1u << DIGIT_BITS;
const uint BINS_PER_THREAD = BINS / WG_SIZE;

shared uint hist_s[BINS];
shared uint found_digit, found_still;

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
