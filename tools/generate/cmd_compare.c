/*
 * cmd_compare.c - the same text with dense attention and with each SparQ
 * setting; a table of transfer ratio, bits per byte and top-1 agreement.
 * Each setting is a separate pass (hidden states differ once attention
 * does, so nothing can be shared after the first layer).
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "text_eval.h"

/* Elements SparQ reads over those dense attention reads, for one KV head at
 * S positions: (S*r + 2*min(k,S)*dh) / (2*S*dh). */
static double transfer_ratio(uint32_t S, const sparq_setting *st, uint32_t dh)
{
    double k = st->k < S ? st->k : S;
    return ((double)S * st->r + 2.0 * k * dh) / (2.0 * S * dh);
}

/* Mean over every attend call of the evaluated windows (S = 1..len). */
static double mean_transfer_ratio(size_t n_tokens, uint32_t ctx, uint32_t n_windows, const sparq_setting *st,
                                  uint32_t dh)
{
    double sum = 0;
    uint64_t n = 0;
    for (uint32_t w = 0; w < n_windows; w++) {
        uint32_t len = eval_window_length(n_tokens, ctx, w);
        for (uint32_t S = 1; S <= len; S++, n++)
            sum += transfer_ratio(S, st, dh);
    }
    return n ? sum / (double)n : 0.0;
}

int command_compare(const options *opt)
{
    char err[1024];
    session s;
    options dense_opt = *opt;
    dense_opt.mode = ATTENTION_DENSE;
    if (session_open(&s, &dense_opt, 0, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        return 1;
    }
    int rc = 1;
    size_t len = 0, n_tokens = 0;
    uint32_t *tokens = NULL;
    eval_result dense = {0}, sparq = {0};
    char *text = read_text_file(opt->text_path, &len, err, sizeof err);
    if (!text || tokenizer_encode(&s.tok, text, len, &tokens, &n_tokens, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    uint32_t ctx = s.capacity;
    uint32_t batch = eval_batch_size(opt->batch, eval_window_count(n_tokens, ctx, opt->windows));
    if (session_start(&s, &dense_opt, batch, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    uint32_t dh = s.model.hp.head_dim;
    uint32_t n_windows = eval_window_count(n_tokens, ctx, opt->windows);
    fprintf(stderr, "attention: %s; text %s: %zu tokens; %u window(s) of up to %u tokens, %u at a time\n",
            s.attn->description, opt->text_path, n_tokens, n_windows, ctx, batch);

    if (eval_windows(&s, tokens, n_tokens, ctx, opt->windows, "dense", 1, &dense, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    printf("model %s, head_dim %u, %u window(s) of up to %u tokens, %llu predictions, %s%s\n", opt->model_path, dh,
           n_windows, ctx, (unsigned long long)dense.n_predicted, s.attn->description,
           opt->no_realloc ? ", no mean reallocation" : "");
    printf("%-16s %10s %12s %10s %12s %12s %10s\n", "setting r,k,l", "transfer", "at S=ctx", "bits/byte",
           "vs dense", "top-1 agree", "attn s");
    printf("%-16s %10.4f %12.4f %10.4f %12s %11.2f%% %10.1f\n", "dense", 1.0, 1.0, bits_per_byte(&dense), "-",
           100.0, dense.attention_seconds);
    fflush(stdout);

    for (uint32_t i = 0; i < opt->n_settings; i++) {
        const sparq_setting *st = &opt->settings[i];
        char label[64];
        snprintf(label, sizeof label, "%u,%u,%u", st->r, st->k, st->l);
        s.attn->ops->set_mode(s.attn, ATTENTION_SPARQ, st->r, st->k, st->l, opt->no_realloc);
        if (eval_windows(&s, tokens, n_tokens, ctx, opt->windows, label, 1, &sparq, err, sizeof err)) {
            fprintf(stderr, "sparq-generate: setting %s: %s\n", label, err);
            goto done;
        }
        uint64_t agree = 0;
        for (uint64_t p = 0; p < sparq.n_predicted; p++)
            agree += sparq.top1[p] == dense.top1[p];
        double bpb = bits_per_byte(&sparq), base = bits_per_byte(&dense);
        printf("%-16s %10.4f %12.4f %10.4f %+11.2f%% %11.2f%% %10.1f\n", label,
               mean_transfer_ratio(n_tokens, ctx, n_windows, st, dh), transfer_ratio(ctx, st, dh), bpb,
               100.0 * (bpb - base) / base, 100.0 * (double)agree / (double)sparq.n_predicted,
               sparq.attention_seconds);
        fflush(stdout);
        eval_result_free(&sparq);
    }
    rc = 0;
done:
    eval_result_free(&dense);
    eval_result_free(&sparq);
    free(tokens);
    free(text);
    fflush(stdout); /* the results are out even if teardown fails */
    session_close(&s);
    return rc;
}
