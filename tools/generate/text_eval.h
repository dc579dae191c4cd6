/*
 * text_eval.h - teacher-forced evaluation of a token sequence in windows:
 * each window starts from an empty cache; every position but the last
 * predicts the next token.
 */
#ifndef SPARQ_GENERATE_TEXT_EVAL_H
#define SPARQ_GENERATE_TEXT_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

typedef struct eval_result {
    double nll;            /* sum of -ln p(next token), nats */
    uint64_t n_predicted;  /* predictions made */
    uint64_t n_bytes;      /* bytes of the predicted tokens */
    uint32_t *top1;        /* [n_predicted] argmax of each prediction, or NULL if not asked for */
    double seconds;        /* wall time */
    double attention_seconds;
} eval_result;

/* Windows of `ctx` tokens from the start of `tokens` (the last one may be
 * shorter); at most `windows` of them (0 = all). The session's slots
 * (s->state.n_slots) are the batch: that many windows are decoded together,
 * one token of each per step. Results are kept and summed in window order,
 * so they do not depend on the batch size. Writes a progress line to
 * stderr, prefixed with `label`. */
int eval_windows(session *s, const uint32_t *tokens, size_t n_tokens, uint32_t ctx, uint32_t windows,
                 const char *label, int want_top1, eval_result *res, char *err, size_t err_size);

/* Number of windows eval_windows would use, and their lengths (lens may be NULL). */
uint32_t eval_window_count(size_t n_tokens, uint32_t ctx, uint32_t windows);
uint32_t eval_window_length(size_t n_tokens, uint32_t ctx, uint32_t index);

/* Windows to decode together: `requested` (0 = all, at most
 * DEFAULT_MAX_BATCH), never more than there are windows, at least 1. */
uint32_t eval_batch_size(uint32_t requested, uint32_t n_windows);

void eval_result_free(eval_result *res);

double bits_per_byte(const eval_result *res);
double perplexity(const eval_result *res);

#endif
