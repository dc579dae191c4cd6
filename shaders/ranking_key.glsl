// The ranking key every SparQ selection kernel compares (sparq_rank,
// sparq_select_small, sparq_score_select), defined once so that all of them
// choose the same positions: the bits of rho = sum_j p_j >= 0 as an
// unsigned integer, which orders like the value (NaN ranks lowest), compared
// without its low LOW_BITS bits (rho within 2^-14 relatively counts as
// equal). Bit 31 is 0 (rho >= 0), so KEY_BITS bits are compared.
#ifndef SPARQ_RANKING_KEY_GLSL
#define SPARQ_RANKING_KEY_GLSL

const uint LOW_BITS = 9;
const uint KEY_BITS = 31 - LOW_BITS;

uint rho_key(float rho)
{
    return isnan(rho) ? 0u : floatBitsToUint(max(rho, 0.0));
}

#endif
