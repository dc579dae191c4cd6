/*
 * text_eval.c - windows, log-likelihoods and the progress line.
 */
#include "text_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t eval_window_count(size_t n_tokens, uint32_t ctx, uint32_t windows)
{
    /* A window needs two tokens to predict anything. */
    size_t full = n_tokens / ctx, rest = n_tokens % ctx;
    size_t count = full + (rest >= 2 ? 1 : 0);
    if (windows && count > windows)
        count = windows;
    return (uint32_t)count;
}

uint32_t eval_window_length(size_t n_tokens, uint32_t ctx, uint32_t index)
{
    size_t start = (size_t)index * ctx;
    size_t len = n_tokens - start;
    return (uint32_t)(len < ctx ? len : ctx);
}

/* -ln softmax(logits)[target] and the argmax, in double. */
static double token_nll(const float *logits, uint32_t n, uint32_t target, uint32_t *top1)
{
    float max = logits[0];
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > max) {
            max = logits[i];
            best = i;
        }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    *top1 = best;
    return log(sum) - ((double)logits[target] - max);
}

int eval_windows(session *s, const uint32_t *tokens, size_t n_tokens, uint32_t ctx, uint32_t windows,
                 const char *label, int want_top1, eval_result *res, char *err, size_t err_size)
{
    memset(res, 0, sizeof *res);
    uint32_t n_windows = eval_window_count(n_tokens, ctx, windows);
    if (n_windows == 0) {
        snprintf(err, err_size, "the text has too few tokens (%zu) for one window", n_tokens);
        return -1;
    }
    size_t total = 0;
    for (uint32_t w = 0; w < n_windows; w++)
        total += eval_window_length(n_tokens, ctx, w) - 1;
    if (want_top1) {
        res->top1 = malloc(total * sizeof *res->top1);
        if (!res->top1) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
    }
    const uint32_t n_vocab = s->model.hp.n_vocab;
    double t0 = now_seconds(), attn0 = s->attn->seconds, last_report = 0;
    for (uint32_t w = 0; w < n_windows; w++) {
        const uint32_t *win = tokens + (size_t)w * ctx;
        uint32_t len = eval_window_length(n_tokens, ctx, w);
        if (llama_state_reset(&s->state, err, err_size))
            return -1;
        for (uint32_t p = 0; p < len; p++) {
            if (llama_forward(&s->state, win[p], err, err_size))
                return -1;
            if (p + 1 < len) {
                uint32_t top1, bytes;
                res->nll += token_nll(s->state.logits, n_vocab, win[p + 1], &top1);
                tokenizer_token_bytes(&s->tok, win[p + 1], &bytes);
                res->n_bytes += bytes;
                if (res->top1)
                    res->top1[res->n_predicted] = top1;
                res->n_predicted++;
            }
            double now = now_seconds();
            if (now - last_report > 0.5 || p + 1 == len) {
                last_report = now;
                fprintf(stderr, "\r%s window %u/%u  position %u/%u  %.4f bits/byte  %.1f tokens/s   ", label, w + 1,
                        n_windows, p + 1, len, res->n_bytes ? bits_per_byte(res) : 0.0,
                        (double)(res->n_predicted + w + 1) / (now - t0));
                fflush(stderr);
            }
        }
    }
    fprintf(stderr, "\n");
    res->seconds = now_seconds() - t0;
    res->attention_seconds = s->attn->seconds - attn0;
    return 0;
}

void eval_result_free(eval_result *res)
{
    free(res->top1);
    memset(res, 0, sizeof *res);
}

double bits_per_byte(const eval_result *res)
{
    return res->n_bytes ? res->nll / log(2.0) / (double)res->n_bytes : 0.0;
}

double perplexity(const eval_result *res)
{
    return res->n_predicted ? exp(res->nll / (double)res->n_predicted) : 0.0;
}
