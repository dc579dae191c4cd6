#include "ref_attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t row_stride(const sparq_ref_problem *problem)
{
    return problem->kv_stride ? problem->kv_stride : problem->head_dim;
}

static double problem_scale(const sparq_ref_problem *problem)
{
    return problem->scale != 0.0 ? problem->scale : 1.0 / sqrt((double)problem->head_dim);
}

static bool problem_ok(const sparq_ref_problem *problem)
{
    return problem && problem->head_dim >= 1 && problem->group_size >= 1 && problem->length >= 1 && problem->q &&
           problem->k && problem->v && row_stride(problem) >= problem->head_dim;
}

/* Softmax of logits[0..n) into probs, in double, max-subtracted. */
static void softmax(const double *logits, double *probs, size_t n)
{
    double max = -INFINITY;
    for (size_t t = 0; t < n; t++)
        if (logits[t] > max)
            max = logits[t];
    double sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        probs[t] = exp(logits[t] - max);
        sum += probs[t];
    }
    for (size_t t = 0; t < n; t++)
        probs[t] /= sum;
}

sparq_ref_params sparq_ref_resolve_params(uint32_t head_dim, uint32_t length, uint32_t r, uint32_t k, uint32_t l)
{
    sparq_ref_params params;
    params.r = r ? r : (head_dim / 8 > 0 ? head_dim / 8 : 1);
    if (params.r > head_dim)
        params.r = head_dim;
    params.k = k ? k : (length / 16 > 64 ? length / 16 : 64);
    if (params.k > length)
        params.k = length;
    params.l = l ? l : params.k / 4;
    if (params.l > params.k)
        params.l = params.k;
    return params;
}

/* Sort helpers: qsort has no context argument, so the key travels with the index. */
typedef struct keyed_index {
    double key;
    uint32_t index;
} keyed_index;

/* Larger key first; equal keys: lower index first. */
static int by_key_descending(const void *pa, const void *pb)
{
    const keyed_index *a = pa, *b = pb;
    if (a->key > b->key)
        return -1;
    if (a->key < b->key)
        return 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int by_value_ascending(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

void sparq_ref_ranking_free(sparq_ref_ranking *ranking)
{
    free(ranking->i1);
    free(ranking->frac);
    free(ranking->p);
    free(ranking->rho);
    memset(ranking, 0, sizeof *ranking);
}

int sparq_ref_rank(const sparq_ref_problem *problem, uint32_t r, sparq_ref_ranking *ranking)
{
    memset(ranking, 0, sizeof *ranking);
    if (!problem_ok(problem) || r < 1 || r > problem->head_dim)
        return -1;
    const uint32_t dh = problem->head_dim, g = problem->group_size, S = problem->length;
    const size_t stride = row_stride(problem);
    const double scale = problem_scale(problem);

    ranking->head_dim = dh;
    ranking->group_size = g;
    ranking->length = S;
    ranking->r = r;
    ranking->i1 = malloc(r * sizeof(uint32_t));
    ranking->frac = malloc(g * sizeof(double));
    ranking->p = malloc((size_t)g * S * sizeof(double));
    ranking->rho = calloc(S, sizeof(double));
    keyed_index *order = malloc(dh * sizeof(keyed_index));
    double *logits = malloc(S * sizeof(double));
    if (!ranking->i1 || !ranking->frac || !ranking->p || !ranking->rho || !order || !logits) {
        free(order);
        free(logits);
        sparq_ref_ranking_free(ranking);
        return -1;
    }

    /* Step 1: i1 = the r largest entries of a = sum_j |q_j|, shared by the group. */
    for (uint32_t i = 0; i < dh; i++) {
        double a = 0.0;
        for (uint32_t j = 0; j < g; j++)
            a += fabs((double)problem->q[(size_t)j * dh + i]);
        order[i] = (keyed_index){a, i};
    }
    qsort(order, dh, sizeof *order, by_key_descending);
    for (uint32_t i = 0; i < r; i++)
        ranking->i1[i] = order[i].index;
    qsort(ranking->i1, r, sizeof(uint32_t), by_value_ascending);
    if (r == dh)
        ranking->i1_margin = INFINITY;
    else if (order[r - 1].key > 0.0)
        ranking->i1_margin = (order[r - 1].key - order[r].key) / order[r - 1].key;
    else
        ranking->i1_margin = 0.0;

    /* Step 2: approximate logits from the i1 components, softmax over all S. */
    for (uint32_t j = 0; j < g; j++) {
        const float *q = problem->q + (size_t)j * dh;
        double kept = 0.0, total = 0.0;
        for (uint32_t i = 0; i < dh; i++)
            total += fabs((double)q[i]);
        for (uint32_t i = 0; i < r; i++)
            kept += fabs((double)q[ranking->i1[i]]);
        double frac = total > 0.0 ? kept / total : 1.0;
        ranking->frac[j] = frac;
        /* frac = 0 means every used component of q_j is 0, so every logit is
         * 0 whatever the divisor; 1 avoids 0/0. */
        double divisor = frac > 0.0 ? sqrt(frac) : 1.0;
        for (uint32_t t = 0; t < S; t++) {
            const float *krow = problem->k + (size_t)t * stride;
            double dot = 0.0;
            for (uint32_t i = 0; i < r; i++)
                dot += (double)q[ranking->i1[i]] * (double)krow[ranking->i1[i]];
            logits[t] = scale * dot / divisor;
        }
        double *p = ranking->p + (size_t)j * S;
        softmax(logits, p, S);
        /* Step 3's ranking. */
        for (uint32_t t = 0; t < S; t++)
            ranking->rho[t] += p[t];
    }
    free(order);
    free(logits);
    return 0;
}

uint32_t sparq_ref_select(const sparq_ref_ranking *ranking, sparq_ref_params params, uint32_t *selected)
{
    const uint32_t S = ranking->length;
    if (params.k < 1 || params.k > S || params.l > params.k)
        return 0;
    const uint32_t window_start = S - params.l;
    keyed_index *order = malloc((size_t)window_start * sizeof(keyed_index) + 1);
    if (!order)
        return 0;
    for (uint32_t t = 0; t < window_start; t++)
        order[t] = (keyed_index){ranking->rho[t], t};
    qsort(order, window_start, sizeof *order, by_key_descending);
    uint32_t n = 0;
    for (uint32_t i = 0; i < params.k - params.l; i++)
        selected[n++] = order[i].index;
    for (uint32_t t = window_start; t < S; t++)
        selected[n++] = t;
    free(order);
    qsort(selected, n, sizeof(uint32_t), by_value_ascending);
    return n;
}

const char *sparq_ref_check_selection(const sparq_ref_ranking *ranking, sparq_ref_params params,
                                      const uint32_t *selected, uint32_t n, double rel_tol, double abs_tol,
                                      char *message, size_t message_size)
{
    const uint32_t S = ranking->length;
    if (n != params.k) {
        snprintf(message, message_size, "selected %u positions, expected min(k, S) = %u (S = %u)", n, params.k, S);
        return message;
    }
    unsigned char *chosen = calloc(S, 1);
    if (!chosen) {
        snprintf(message, message_size, "out of memory checking a selection");
        return message;
    }
    const char *verdict = NULL;
    for (uint32_t i = 0; i < n && !verdict; i++) {
        if (selected[i] >= S) {
            snprintf(message, message_size, "entry %u is position %u, out of range (S = %u)", i, selected[i], S);
            verdict = message;
        } else if (chosen[selected[i]]) {
            snprintf(message, message_size, "position %u is selected twice (entry %u)", selected[i], i);
            verdict = message;
        } else {
            chosen[selected[i]] = 1;
        }
    }
    const uint32_t window_start = S - params.l;
    for (uint32_t t = window_start; t < S && !verdict; t++)
        if (!chosen[t]) {
            snprintf(message, message_size, "position %u of the local window [%u, %u) is not selected", t,
                     window_start, S);
            verdict = message;
        }
    if (!verdict) {
        /* Outside the window, the weakest chosen must not lose clearly to the strongest left out. */
        uint32_t weakest = UINT32_MAX, strongest = UINT32_MAX;
        for (uint32_t t = 0; t < window_start; t++) {
            if (chosen[t]) {
                if (weakest == UINT32_MAX || ranking->rho[t] < ranking->rho[weakest])
                    weakest = t;
            } else if (strongest == UINT32_MAX || ranking->rho[t] > ranking->rho[strongest]) {
                strongest = t;
            }
        }
        if (weakest != UINT32_MAX && strongest != UINT32_MAX) {
            double beaten_by = ranking->rho[strongest] - ranking->rho[weakest];
            if (beaten_by > abs_tol + rel_tol * ranking->rho[strongest]) {
                snprintf(message, message_size,
                         "position %u (rho %.9g) is left out while position %u (rho %.9g) is selected "
                         "(k = %u, l = %u, S = %u)",
                         strongest, ranking->rho[strongest], weakest, ranking->rho[weakest], params.k, params.l, S);
                verdict = message;
            }
        }
    }
    free(chosen);
    return verdict;
}

void sparq_ref_mean_v(const sparq_ref_problem *problem, double *vbar)
{
    const uint32_t dh = problem->head_dim;
    const size_t stride = row_stride(problem);
    for (uint32_t i = 0; i < dh; i++)
        vbar[i] = 0.0;
    for (uint32_t t = 0; t < problem->length; t++)
        for (uint32_t i = 0; i < dh; i++)
            vbar[i] += problem->v[(size_t)t * stride + i];
    for (uint32_t i = 0; i < dh; i++)
        vbar[i] /= problem->length;
}

/* Exact softmax attention of every query head over the listed positions:
 * out[j] = sum_t softmax_t(scale q_j . K[t]) V[t]. */
static int exact_attention(const sparq_ref_problem *problem, const uint32_t *positions, uint32_t n, double *out)
{
    const uint32_t dh = problem->head_dim;
    const size_t stride = row_stride(problem);
    const double scale = problem_scale(problem);
    double *logits = malloc(n * sizeof(double));
    double *weights = malloc(n * sizeof(double));
    if (!logits || !weights) {
        free(logits);
        free(weights);
        return -1;
    }
    for (uint32_t j = 0; j < problem->group_size; j++) {
        const float *q = problem->q + (size_t)j * dh;
        for (uint32_t s = 0; s < n; s++) {
            const float *krow = problem->k + (size_t)positions[s] * stride;
            double dot = 0.0;
            for (uint32_t i = 0; i < dh; i++)
                dot += (double)q[i] * (double)krow[i];
            logits[s] = scale * dot;
        }
        softmax(logits, weights, n);
        double *y = out + (size_t)j * dh;
        for (uint32_t i = 0; i < dh; i++)
            y[i] = 0.0;
        for (uint32_t s = 0; s < n; s++) {
            const float *vrow = problem->v + (size_t)positions[s] * stride;
            for (uint32_t i = 0; i < dh; i++)
                y[i] += weights[s] * (double)vrow[i];
        }
    }
    free(logits);
    free(weights);
    return 0;
}

int sparq_ref_dense(const sparq_ref_problem *problem, double *out)
{
    if (!problem_ok(problem))
        return -1;
    uint32_t *all = malloc(problem->length * sizeof(uint32_t));
    if (!all)
        return -1;
    for (uint32_t t = 0; t < problem->length; t++)
        all[t] = t;
    int status = exact_attention(problem, all, problem->length, out);
    free(all);
    return status;
}

int sparq_ref_sparq_output(const sparq_ref_problem *problem, const sparq_ref_ranking *ranking,
                           const uint32_t *selected, uint32_t n, bool mean_reallocation, double *out,
                           double *alpha)
{
    if (!problem_ok(problem) || n < 1 || ranking->length != problem->length ||
        ranking->group_size != problem->group_size)
        return -1;
    for (uint32_t s = 0; s < n; s++)
        if (selected[s] >= problem->length)
            return -1;
    const uint32_t dh = problem->head_dim, S = problem->length;
    if (exact_attention(problem, selected, n, out) != 0)
        return -1;
    double *vbar = malloc(dh * sizeof(double));
    if (!vbar)
        return -1;
    sparq_ref_mean_v(problem, vbar);
    for (uint32_t j = 0; j < problem->group_size; j++) {
        /* Step 4: the approximate mass the selection covers. */
        double a = 1.0;
        if (mean_reallocation) {
            a = 0.0;
            for (uint32_t s = 0; s < n; s++)
                a += ranking->p[(size_t)j * S + selected[s]];
        }
        if (alpha)
            alpha[j] = a;
        /* Step 6: blend with the mean of V. */
        double *y = out + (size_t)j * dh;
        for (uint32_t i = 0; i < dh; i++)
            y[i] = a * y[i] + (1.0 - a) * vbar[i];
    }
    free(vbar);
    return 0;
}

int sparq_ref_sparq(const sparq_ref_problem *problem, sparq_ref_params params, bool mean_reallocation, double *out,
                    double *alpha, uint32_t *selected)
{
    sparq_ref_ranking ranking;
    if (sparq_ref_rank(problem, params.r, &ranking) != 0)
        return -1;
    uint32_t *chosen = malloc(problem->length * sizeof(uint32_t));
    int status = -1;
    if (chosen) {
        uint32_t n = sparq_ref_select(&ranking, params, chosen);
        if (n > 0 && sparq_ref_sparq_output(problem, &ranking, chosen, n, mean_reallocation, out, alpha) == 0) {
            if (selected)
                memcpy(selected, chosen, n * sizeof(uint32_t));
            status = 0;
        }
    }
    free(chosen);
    sparq_ref_ranking_free(&ranking);
    return status;
}
