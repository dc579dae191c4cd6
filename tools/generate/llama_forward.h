/*
 * llama_forward.h - decode steps of a Llama model on the CPU: tokens in,
 * next-token logits out, with every attention call sent to an `attention`.
 * One step takes one token for each of a batch of sequences (the attention's
 * slots), so the weights are read once per step for the whole batch.
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
    uint32_t n_slots; /* sequences: the attention's n_seqs; also the largest batch */
    uint32_t *pos;    /* [n_slots] position of each slot's next token */
    float *rope_freq; /* [n_rot / 2] */
    /* Activations of the current step, one row per token of the batch:
     * x is [n_slots][n_embd], and so on; logits is [n_slots][n_vocab]. */
    float *x, *xn, *q, *k, *v, *att, *proj, *gate, *up, *ffn_out, *logits;
} llama_state;

int llama_state_init(llama_state *st, const llama_model *model, attention *attn, thread_pool *pool);
void llama_state_free(llama_state *st);

/* Forgets every sequence (positions 0, empty caches). */
int llama_state_reset(llama_state *st, char *err, size_t err_size);

/* Runs `token` at slot 0's position and advances it; st->logits holds the
 * next-token logits afterwards. 0 on success; -1 with err on failure. */
int llama_forward(llama_state *st, uint32_t token, char *err, size_t err_size);

/* One step for n distinct slots: tokens[i] goes to slot slots[i] at that
 * slot's position, which then advances; row i of st->logits holds its
 * next-token logits. n <= st->n_slots. */
int llama_forward_batch(llama_state *st, uint32_t n, const uint32_t *slots, const uint32_t *tokens, char *err,
                        size_t err_size);

/* The rotary embedding, exposed for tests: rotates adjacent pairs
 * (x[2i], x[2i+1]) of each head by pos * freq[i]. */
void llama_rope(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, const float *freq, uint32_t pos);

#endif
