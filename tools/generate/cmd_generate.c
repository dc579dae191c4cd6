/*
 * cmd_generate.c - feeds the prompt one token at a time (decode attention
 * only: the plugin's attend takes one query per sequence), then samples and
 * streams new tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "session.h"

/* splitmix64: a small, well-mixed generator, so a seed reproduces a run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t sample(const float *logits, uint32_t n, double temperature, uint64_t *rng)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    if (temperature <= 0)
        return best;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += exp(((double)logits[i] - logits[best]) / temperature);
    double u = (double)(next_random(rng) >> 11) * 0x1.0p-53 * sum, acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += exp(((double)logits[i] - logits[best]) / temperature);
        if (u < acc)
            return i;
    }
    return best;
}

static void print_token(const session *s, uint32_t id)
{
    uint32_t len;
    const char *bytes = tokenizer_token_bytes(&s->tok, id, &len);
    if (bytes)
        fwrite(bytes, 1, len, stdout);
    fflush(stdout);
}

int command_generate(const options *opt)
{
    char err[1024];
    session s;
    if (session_open(&s, opt, 0, err, sizeof err) || session_start(&s, opt, 1, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        session_close(&s);
        return 1;
    }
    uint32_t *prompt = NULL;
    size_t n_prompt = 0;
    int rc = 1;
    if (tokenizer_encode(&s.tok, opt->prompt, strlen(opt->prompt), &prompt, &n_prompt, err, sizeof err)) {
        fprintf(stderr, "sparq-generate: %s\n", err);
        goto done;
    }
    if (n_prompt == 0) {
        fprintf(stderr, "sparq-generate: the prompt is empty\n");
        goto done;
    }
    if (n_prompt >= s.capacity) {
        fprintf(stderr, "sparq-generate: the prompt has %zu tokens; the cache holds %u\n", n_prompt, s.capacity);
        goto done;
    }
    fprintf(stderr, "attention: %s, %s", s.attn->description, opt->mode == ATTENTION_DENSE ? "dense" : "SparQ");
    if (opt->mode == ATTENTION_SPARQ)
        fprintf(stderr, " r=%u k=%u l=%u%s (0 = default)", opt->r, opt->k, opt->l,
                opt->no_realloc ? " without reallocation" : "");
    fprintf(stderr, "\n");

    double t0 = now_seconds();
    for (size_t i = 0; i < n_prompt; i++) {
        print_token(&s, prompt[i]);
        if (llama_forward(&s.state, prompt[i], err, sizeof err)) {
            fprintf(stderr, "\nsparq-generate: %s\n", err);
            goto done;
        }
    }
    double t1 = now_seconds(), attn_prompt = s.attn->seconds;

    uint64_t rng = opt->seed;
    uint32_t n_generated = 0;
    while (n_generated < opt->n_predict && s.state.pos[0] < s.capacity) {
        uint32_t next = sample(s.state.logits, s.model.hp.n_vocab, opt->temperature, &rng);
        if (next == s.tok.eos_id)
            break;
        print_token(&s, next);
        n_generated++;
        if (s.state.pos[0] == s.capacity)
            break;
        if (llama_forward(&s.state, next, err, sizeof err)) {
            fprintf(stderr, "\nsparq-generate: %s\n", err);
            goto done;
        }
    }
    double t2 = now_seconds();
    printf("\n");
    fprintf(stderr, "prompt: %zu tokens in %.2f s (%.1f tokens/s)\n", n_prompt, t1 - t0, (double)n_prompt / (t1 - t0));
    fprintf(stderr, "generated: %u tokens in %.2f s (%.1f tokens/s)\n", n_generated, t2 - t1,
            n_generated ? (double)n_generated / (t2 - t1) : 0.0);
    fprintf(stderr, "time in attention calls: %.1f%% (prompt %.1f%%, generation %.1f%%)\n",
            100.0 * s.attn->seconds / (t2 - t0), 100.0 * attn_prompt / (t1 - t0),
            t2 > t1 ? 100.0 * (s.attn->seconds - attn_prompt) / (t2 - t1) : 0.0);
    rc = 0;
done:
    free(prompt);
    fflush(stdout); /* the results are out even if teardown fails */
    session_close(&s);
    return rc;
}
