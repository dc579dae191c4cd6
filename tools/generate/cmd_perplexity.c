/*
 * cmd_perplexity.c - bits per byte and perplexity of a text file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "text_eval.h"

int command_perplexity(const options *opt)
{
    char err[1024];
    session s;
    if (session_open(&s, opt, 0, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        return 1;
    }
    int rc = 1;
    size_t len = 0, n_tokens = 0;
    uint32_t *tokens = NULL;
    eval_result res = {0};
    char *text = read_text_file(opt->text_path, &len, err, sizeof err);
    if (!text || tokenizer_encode(&s.tok, text, len, &tokens, &n_tokens, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    uint32_t ctx = s.capacity;
    uint32_t batch = eval_batch_size(opt->batch, eval_window_count(n_tokens, ctx, opt->windows));
    if (session_start(&s, opt, batch, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    };
    fprintf(stderr, "attention: %s, %s; text %s: %zu bytes, %zu tokens; windows of %u tokens, %u at a time\n",
            s.attn->description, opt->mode == ATTENTION_DENSE ? "dense" : "SparQ", opt->text_path, len, n_tokens, ctx,
            batch);
    if (eval_windows(&s, tokens, n_tokens, ctx, opt->windows, "perplexity", 0, &res, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    printf("windows: %u of up to %u tokens\n", eval_window_count(n_tokens, ctx, opt->windows), ctx);
    printf("predicted tokens: %llu (%llu bytes)\n", (unsigned long long)res.n_predicted,
           (unsigned long long)res.n_bytes);
    printf("bits per byte: %.4f\n", bits_per_byte(&res));
    printf("perplexity (per token): %.4f\n", perplexity(&res));
    printf("time: %.1f s, %.1f tokens/s, %.1f%% in attention calls\n", res.seconds,
           (double)res.n_predicted / res.seconds, 100.0 * res.attention_seconds / res.seconds);
    rc = 0;
done:
    eval_result_free(&res);
    free(tokens);
    free(text);
    fflush(stdout); /* the results are out even if teardown fails */
    session_close(&s);
    return rc;
}
