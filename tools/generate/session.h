/*
 * session.h - everything one run needs: the model, its tokenizer, the
 * thread pool, the attention backend and the decode state.
 */
#ifndef SPARQ_GENERATE_SESSION_H
#define SPARQ_GENERATE_SESSION_H

#include <stddef.h>

#include "attention.h"
#include "llama_forward.h"
#include "llama_model.h"
#include "options.h"
#include "thread_pool.h"
#include "tokenizer.h"

typedef struct session {
    llama_model model;
    tokenizer tok;
    thread_pool *pool;
    attention *attn;
    llama_state state;
    uint32_t capacity; /* positions each layer cache holds */
} session;

/* Loads the model and its tokenizer and starts the threads.
 * `capacity` 0 = opt->ctx, else the model's context length. */
int session_open(session *s, const options *opt, uint32_t capacity, char *err, size_t err_size);
/* Makes the attention backend the options ask for, with `n_seqs` slots per
 * layer cache, and the decode state for that many sequences. Once per session. */
int session_start(session *s, const options *opt, uint32_t n_seqs, char *err, size_t err_size);
void session_close(session *s);

/* Reads a whole file into a malloc'd buffer. */
char *read_text_file(const char *path, size_t *len, char *err, size_t err_size);

double now_seconds(void);

#endif
