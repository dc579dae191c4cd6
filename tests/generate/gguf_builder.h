/*
 * gguf_builder.h - writes small GGUF files in memory for the tests: valid
 * ones to start from, and broken ones made by changing a few fields.
 */
#ifndef SPARQ_TEST_GGUF_BUILDER_H
#define SPARQ_TEST_GGUF_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gguf_builder {
    uint8_t *data;
    size_t size, capacity;
} gguf_builder;

void gb_free(gguf_builder *b);
void gb_bytes(gguf_builder *b, const void *p, size_t n);
void gb_u8(gguf_builder *b, uint8_t v);
void gb_u32(gguf_builder *b, uint32_t v);
void gb_u64(gguf_builder *b, uint64_t v);
void gb_f32(gguf_builder *b, float v);
void gb_str(gguf_builder *b, const char *s);
/* Zero bytes up to a multiple of `alignment`. */
void gb_align(gguf_builder *b, size_t alignment);

/* Header: magic, version, tensor count, metadata count. */
void gb_header(gguf_builder *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* Metadata entries of the common kinds. */
void gb_kv_u32(gguf_builder *b, const char *key, uint32_t v);
void gb_kv_f32(gguf_builder *b, const char *key, float v);
void gb_kv_str(gguf_builder *b, const char *key, const char *v);
void gb_kv_str_array(gguf_builder *b, const char *key, const char *const *v, uint64_t n);
/* Tensor info: dims[0] is the contiguous dimension. */
void gb_tensor_info(gguf_builder *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                    uint64_t offset);

/* A tiny random Llama model (see the .c for its sizes), with or without
 * merges in the vocabulary. Matrices alternate F16, Q8_0 and F32 so every
 * conversion is exercised. */
typedef struct tiny_model_spec {
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base, eps;
    uint64_t seed;
} tiny_model_spec;

void gb_tiny_model(gguf_builder *b, const tiny_model_spec *spec);

#endif
