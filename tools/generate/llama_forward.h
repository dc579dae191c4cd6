/*
 * llama_forward.h - one decode step of a Llama model on the CPU: token in,
 * next-token logits out, with every attention call sent to an `attention`.
 */
#ifndef SPARQ_GENERATE_LLAMA_FORWARD_H
#define SPARQ_GENERATE_LLAMA_FORWARD_H

#include "attention.h"
#include "llama_model.h"
#include "matvec.h"

typedef struct llama_state {
    const llama_model *model;
    attention *attn;
    matvec_ctx mv;
    uint32_t pos; /* position of the next token */
    float *rope_freq; /* [n_rot / 2] */
    /* Activations of the current token. */
    float *x, *xn, *q, *k, *v, *att, *proj, *gate, *up, *ffn_out, *logits;
} llama_state;

int llama_state_init(llama_state *st, const llama_model *model, attention *attn, thread_pool *pool);
void llama_state_free(llama_state *st);

/* Forgets the sequence (position 0, empty caches). */
int llama_state_reset(llama_state *st, char *err, size_t err_size);

/* Runs `token` at position st->pos and advances it; st->logits holds the
 * next-token logits afterwards. 0 on success; -1 with err on failure. */
int llama_forward(llama_state *st, uint32_t token, char *err, size_t err_size);

/* The rotary embedding, exposed for tests: rotates adjacent pairs
 * (x[2i], x[2i+1]) of each head by pos * freq[i]. */
void llama_rope(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, const float *freq, uint32_t pos);

#endif
