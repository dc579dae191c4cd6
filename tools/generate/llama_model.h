/*
 * llama_model.h - the hyperparameters and weights of a Llama-architecture
 * model in a GGUF file. Matrices stay in the file mapping; norm vectors are
 * converted to f32 copies.
 */
#ifndef SPARQ_GENERATE_LLAMA_MODEL_H
#define SPARQ_GENERATE_LLAMA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "matvec.h"

typedef struct llama_hparams {
    uint32_t n_layer;
    uint32_t n_embd;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t n_ff;
    uint32_t n_ctx;   /* training context length */
    uint32_t n_rot;   /* rotated dimensions per head (even, <= head_dim) */
    uint32_t n_vocab;
    float rope_base;
    float norm_eps;
} llama_hparams;

typedef struct llama_layer {
    float *attn_norm; /* [n_embd] */
    weight wq, wk, wv, wo;
    float *ffn_norm; /* [n_embd] */
    weight w_gate, w_up, w_down;
} llama_layer;

typedef struct llama_model {
    gguf_file file;
    llama_hparams hp;
    weight token_embd;
    float *output_norm;
    weight output; /* token_embd when the file has no output.weight */
    llama_layer *layers;
} llama_model;

/* Loads a model; on failure returns -1 with err naming the key or tensor. */
int llama_model_load(llama_model *model, const char *path, char *err, size_t err_size);
/* Builds a model from an already parsed file (takes ownership of it). */
int llama_model_from_gguf(llama_model *model, gguf_file *file, char *err, size_t err_size);
void llama_model_free(llama_model *model);

#endif
