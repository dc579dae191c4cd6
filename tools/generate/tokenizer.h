/*
 * tokenizer.h - GPT-2 style byte-level BPE from the GGUF vocabulary
 * (tokenizer.ggml.tokens) and merge list (tokenizer.ggml.merges). Each byte
 * is first written as one printable character (GPT-2's byte-to-unicode map);
 * merges then join adjacent pieces by rank. With no merges every byte is its
 * own token.
 *
 * Pre-tokenisation follows GPT-2's pattern with ASCII character classes;
 * bytes >= 0x80 count as letters (close to \p{L} for most scripts).
 */
#ifndef SPARQ_GENERATE_TOKENIZER_H
#define SPARQ_GENERATE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

#define TOKENIZER_NONE UINT32_MAX

typedef struct str_map str_map;

typedef struct tokenizer {
    uint32_t n_vocab;
    const gguf_str *tokens; /* [n_vocab], into the file */
    char **token_bytes;     /* [n_vocab]: the bytes each token stands for */
    uint32_t *token_len;    /* [n_vocab] */
    str_map *vocab;         /* token text -> id */
    str_map *merges;        /* "left right" -> rank */
    uint32_t n_merges;
    uint32_t eos_id;        /* TOKENIZER_NONE if the file names none */
    uint32_t byte_token[256]; /* the single-byte token of each byte (TOKENIZER_NONE if absent) */
    char byte_char[256][3];   /* UTF-8 of each byte's printable stand-in */
    uint8_t byte_char_len[256];
} tokenizer;

/* Reads the vocabulary of a gpt2-model GGUF file (which must outlive the
 * tokenizer). n_vocab_model is the embedding row count; the vocabulary must
 * not be larger. */
int tokenizer_init(tokenizer *tok, const gguf_file *file, uint32_t n_vocab_model, char *err, size_t err_size);
void tokenizer_free(tokenizer *tok);

/* Encodes len bytes of text. *ids is malloc'd (the caller frees it). */
int tokenizer_encode(const tokenizer *tok, const char *text, size_t len, uint32_t **ids, size_t *n_ids, char *err,
                     size_t err_size);

/* The bytes of token `id` (length in *len); NULL for an id out of range. */
const char *tokenizer_token_bytes(const tokenizer *tok, uint32_t id, uint32_t *len);

#endif
