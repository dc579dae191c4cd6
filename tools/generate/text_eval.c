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

uint32_t eval_batch_size(uint32_t requested, uint32_t n_windows)
{
    uint32_t b = requested ? requested : DEFAULT_MAX_BATCH;
    if (b > n_windows)
        b = n_windows;
    return b ? b : 1;
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
    const uint32_t batch = s->state.n_slots;
    /* Window w's predictions go to [first[w], first[w + 1]) of nll and top1,
     * the order an unbatched run makes them in. */
    size_t *first = malloc((n_windows + 1) * sizeof *first);
    uint32_t *slots = malloc(batch * sizeof *slots), *step_tokens = malloc(batch * sizeof *step_tokens);
    if (!first || !slots || !step_tokens) {
        free(first), free(slots), free(step_tokens);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    first[0] = 0;
    for (uint32_t w = 0; w < n_windows; w++)
        first[w + 1] = first[w] + eval_window_length(n_tokens, ctx, w) - 1;
    const size_t total = first[n_windows];
    double *nll = malloc(total * sizeof *nll);
    res->top1 = want_top1 ? malloc(total * sizeof *res->top1) : NULL;
    int rc = -1;
    if (!nll || (want_top1 && !res->top1)) {
        snprintf(err, err_size, "out of memory");
        goto done;
    }
    const uint32_t n_vocab = s->model.hp.n_vocab;
    double t0 = now_seconds(), attn0 = s->attn->seconds, last_report = 0;
    uint64_t done_predictions = 0;
    double running_nll = 0; /* for the progress line only */
    for (uint32_t w0 = 0; w0 < n_windows; w0 += batch) {
        const uint32_t nb = n_windows - w0 < batch ? n_windows - w0 : batch;
        if (llama_state_reset(&s->state, err, err_size))
            goto done;
        /* Windows are cut in order, so the group's first is the longest. */
        const uint32_t longest = eval_window_length(n_tokens, ctx, w0);
        for (uint32_t p = 0; p < longest; p++) {
            /* A finished window just drops out of the step. */
            uint32_t n_active = 0;
            for (uint32_t b = 0; b < nb; b++)
                if (p < eval_window_length(n_tokens, ctx, w0 + b)) {
                    slots[n_active] = b;
                    step_tokens[n_active++] = tokens[(size_t)(w0 + b) * ctx + p];
                }
            if (llama_forward_batch(&s->state, n_active, slots, step_tokens, err, err_size))
                goto done;
            for (uint32_t i = 0; i < n_active; i++) {
                const uint32_t w = w0 + slots[i], len = eval_window_length(n_tokens, ctx, w);
                if (p + 1 >= len)
                    continue;
                const uint32_t next = tokens[(size_t)w * ctx + p + 1];
                uint32_t top1, bytes;
                nll[first[w] + p] = token_nll(s->state.logits + (size_t)i * n_vocab, n_vocab, next, &top1);
                running_nll += nll[first[w] + p];
                tokenizer_token_bytes(&s->tok, next, &bytes);
                res->n_bytes += bytes;
                if (res->top1)
                    res->top1[first[w] + p] = top1;
                done_predictions++;
            }
            double now = now_seconds();
            if (now - last_report > 0.5 || p + 1 == longest) {
                last_report = now;
                fprintf(stderr, "\r%s windows %u-%u/%u  position %u/%u  %.4f bits/byte  %.1f tokens/s   ", label,
                        w0 + 1, w0 + nb, n_windows, p + 1, longest,
                        res->n_bytes ? running_nll / log(2.0) / (double)res->n_bytes : 0.0,
                        (double)done_predictions / (now - t0));
                fflush(stderr);
            }
        }
    }
    fprintf(stderr, "\n");
    /* Summed in the order an unbatched run sums them. */
    for (size_t i = 0; i < total; i++)
        res->nll += nll[i];
    res->n_predicted = total;
    res->seconds = now_seconds() - t0;
    res->attention_seconds = s->attn->seconds - attn0;
    rc = 0;
done:
    if (rc)
        eval_result_free(res);
    free(nll);
    free(first);
    free(slots);
    free(step_tokens);
    return rc;
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
