/*
 * float64 reference of decode attention for one (sequence, KV head): dense,
 * and SparQ exactly as DESIGN.md "The algorithm, exactly" describes it, split
 * into the pieces a test needs when the device may break ties differently:
 *   sparq_ref_rank            steps 1-3: i1, approximate probabilities p_j, ranking rho
 *   sparq_ref_select          step 3 with one fixed tie-break (lower position first)
 *   sparq_ref_check_selection whether a selection made elsewhere is a valid step 3
 *   sparq_ref_sparq_output    steps 4-6 for a given selection
 * Inputs are floats (already rounded as stored); all arithmetic is double.
 */
#ifndef SPARQ_REF_ATTENTION_H
#define SPARQ_REF_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One (sequence, KV head) attention problem. */
typedef struct sparq_ref_problem {
    uint32_t head_dim;   /* dh >= 1 */
    uint32_t group_size; /* g >= 1 query heads sharing this KV head */
    uint32_t length;     /* S >= 1 positions */
    size_t kv_stride;    /* floats from one position's row to the next; 0 = head_dim */
    const float *q;      /* [group_size][head_dim] */
    const float *k;      /* [length] rows of head_dim, kv_stride apart */
    const float *v;      /* same layout as k */
    double scale;        /* softmax scale; 0 = 1/sqrt(head_dim) */
} sparq_ref_problem;

/* SparQ parameters after the ABI's defaults and clamps (see sparq_attend_desc). */
typedef struct sparq_ref_params {
    uint32_t r; /* 1..head_dim */
    uint32_t k; /* positions selected: 1..S */
    uint32_t l; /* local window: 0..k */
} sparq_ref_params;

/* Applies the ABI's rules: r 0 -> max(1, dh/8), then min(r, dh); k 0 ->
 * max(64, S/16), then min(k, S); l 0 -> k/4 of that k, then min(l, k).
 * (With k < 4 and l = 0 the window is empty; tests pass l explicitly there.) */
sparq_ref_params sparq_ref_resolve_params(uint32_t head_dim, uint32_t length, uint32_t r, uint32_t k, uint32_t l);

/* Steps 1-3 of SparQ. Owns its arrays: free with sparq_ref_ranking_free. */
typedef struct sparq_ref_ranking {
    uint32_t head_dim, group_size, length, r;
    uint32_t *i1;     /* [r] the chosen query components, ascending */
    /* How clearly i1 is determined: (a_r - a_{r+1}) / a_r for the r-th and
     * (r+1)-th largest entries of a = sum_j |q_j|; +inf when r = head_dim.
     * Near 0 means a device's fp32 sum may pick a different i1 legitimately,
     * so tests redraw such queries rather than judge the device on them. */
    double i1_margin;
    double *frac;     /* [group_size] frac_j */
    double *p;        /* [group_size][length] approximate probabilities */
    double *rho;      /* [length] sum_j p_j */
} sparq_ref_ranking;

/* Returns 0, or -1 when out of memory or the problem is malformed. */
int sparq_ref_rank(const sparq_ref_problem *problem, uint32_t r, sparq_ref_ranking *ranking);
void sparq_ref_ranking_free(sparq_ref_ranking *ranking);

/* Step 3 with ties to the lower position: writes params.k positions,
 * ascending, to selected[]. Returns the count, or 0 on bad parameters. */
uint32_t sparq_ref_select(const sparq_ref_ranking *ranking, sparq_ref_params params, uint32_t *selected);

/* Whether `selected` (n entries, any order) is a valid step 3 for `params`:
 * exactly params.k distinct positions < S, the last params.l positions
 * among them, and no unselected position outside the window whose rho beats
 * the smallest selected rho outside the window by more than
 * abs_tol + rel_tol * rho. Returns NULL when valid, else `message` filled with
 * what is wrong. */
const char *sparq_ref_check_selection(const sparq_ref_ranking *ranking, sparq_ref_params params,
                                      const uint32_t *selected, uint32_t n, double rel_tol, double abs_tol,
                                      char *message, size_t message_size);

/* Steps 4-6 for the positions in selected[0..n): out [group_size][head_dim]
 * and alpha [group_size] (alpha may be NULL). mean_reallocation false means
 * alpha = 1. Returns 0, or -1 on bad input / out of memory. */
int sparq_ref_sparq_output(const sparq_ref_problem *problem, const sparq_ref_ranking *ranking,
                           const uint32_t *selected, uint32_t n, bool mean_reallocation, double *out,
                           double *alpha);

/* The whole of SparQ with sparq_ref_select's tie-break. selected (optional)
 * receives params.k positions. Returns 0 or -1. */
int sparq_ref_sparq(const sparq_ref_problem *problem, sparq_ref_params params, bool mean_reallocation, double *out,
                    double *alpha, uint32_t *selected);

/* Dense attention: out [group_size][head_dim]. Returns 0 or -1. */
int sparq_ref_dense(const sparq_ref_problem *problem, double *out);

/* vbar = mean over all positions of V, [head_dim]. */
void sparq_ref_mean_v(const sparq_ref_problem *problem, double *vbar);

#endif
