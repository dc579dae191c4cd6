/*
 * gguf_builder.c - little-endian writers (the tests run on little-endian
 * hosts, as GGUF files are little-endian) and the tiny model generator.
 */
#include "gguf_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"

void gb_free(gguf_builder *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void gb_bytes(gguf_builder *b, const void *p, size_t n)
{
    if (b->size + n > b->capacity) {
        size_t c = b->capacity ? b->capacity : 1024;
        while (c < b->size + n)
            c *= 2;
        uint8_t *d = realloc(b->data, c);
        if (!d) {
            fprintf(stderr, "gguf_builder: out of memory\n");
            abort();
        }
        b->data = d;
        b->capacity = c;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

void gb_u8(gguf_builder *b, uint8_t v) { gb_bytes(b, &v, 1); }
void gb_u32(gguf_builder *b, uint32_t v) { gb_bytes(b, &v, 4); }
void gb_u64(gguf_builder *b, uint64_t v) { gb_bytes(b, &v, 8); }
void gb_f32(gguf_builder *b, float v) { gb_bytes(b, &v, 4); }

void gb_str(gguf_builder *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_align(gguf_builder *b, size_t alignment)
{
    while (b->size % alignment)
        gb_u8(b, 0);
}

void gb_header(gguf_builder *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_kv_u32(gguf_builder *b, const char *key, uint32_t v)
{
    gb_str(b, key);
    gb_u32(b, 4);
    gb_u32(b, v);
}

void gb_kv_f32(gguf_builder *b, const char *key, float v)
{
    gb_str(b, key);
    gb_u32(b, 6);
    gb_f32(b, v);
}

void gb_kv_str(gguf_builder *b, const char *key, const char *v)
{
    gb_str(b, key);
    gb_u32(b, 8);
    gb_str(b, v);
}

void gb_kv_str_array(gguf_builder *b, const char *key, const char *const *v, uint64_t n)
{
    gb_str(b, key);
    gb_u32(b, 9);
    gb_u32(b, 8);
    gb_u64(b, n);
    for (uint64_t i = 0; i < n; i++)
        gb_str(b, v[i]);
}

void gb_tensor_info(gguf_builder *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                    uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        gb_u64(b, dims[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

/* --- tiny model ---------------------------------------------------------- */

static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

typedef struct tensor_plan {
    char name[64];
    uint64_t dims[2];
    uint32_t n_dims;
    uint32_t type; /* 0 F32, 1 F16, 8 Q8_0 */
    uint64_t offset, bytes;
} tensor_plan;

static uint64_t tensor_bytes(const tensor_plan *t)
{
    uint64_t n = t->dims[0] * (t->n_dims > 1 ? t->dims[1] : 1);
    return t->type == 0 ? n * 4 : t->type == 1 ? n * 2 : n / 32 * 34;
}

static void write_tensor_data(gguf_builder *b, const tensor_plan *t, uint64_t *rng, int is_norm)
{
    uint64_t n = t->dims[0] * (t->n_dims > 1 ? t->dims[1] : 1);
    double amp = 1.0 / sqrt((double)t->dims[0]);
    for (uint64_t i = 0; i < n;) {
        if (t->type == 8) {
            uint16_t d = f32_to_half((float)(amp / 64.0));
            gb_bytes(b, &d, 2);
            for (int j = 0; j < 32; j++, i++)
                gb_u8(b, (uint8_t)(int8_t)(int)floor(uniform(rng) * 255.0 - 127.0));
            continue;
        }
        float v = is_norm ? (float)(0.5 + uniform(rng)) : (float)((uniform(rng) * 2.0 - 1.0) * 2.0 * amp);
        if (t->type == 0) {
            gb_f32(b, v);
        } else {
            uint16_t h = f32_to_half(v);
            gb_bytes(b, &h, 2);
        }
        i++;
    }
}

void gb_tiny_model(gguf_builder *b, const tiny_model_spec *sp)
{
    enum { N_VOCAB = 257 };
    tensor_plan plans[64];
    uint32_t n = 0;
    uint32_t dh = sp->n_embd / sp->n_head;
    uint32_t q_dim = sp->n_head * dh, kv_dim = sp->n_head_kv * dh;
#define PLAN(nm, nd, d0, d1, ty)                                        \
    do {                                                                \
        tensor_plan *t_ = &plans[n++];                                  \
        snprintf(t_->name, sizeof t_->name, "%s", nm);                  \
        t_->n_dims = nd;                                                \
        t_->dims[0] = d0;                                               \
        t_->dims[1] = d1;                                               \
        t_->type = ty;                                                  \
    } while (0)
    PLAN("token_embd.weight", 2, sp->n_embd, N_VOCAB, 1);
    PLAN("output_norm.weight", 1, sp->n_embd, 1, 0);
    PLAN("output.weight", 2, sp->n_embd, N_VOCAB, 8);
    for (uint32_t l = 0; l < sp->n_layer; l++) {
        char nm[64];
#define LAYER(suffix, nd, d0, d1, ty)                      \
    do {                                                   \
        snprintf(nm, sizeof nm, "blk.%u." suffix, l);      \
        PLAN(nm, nd, d0, d1, ty);                          \
    } while (0)
        LAYER("attn_norm.weight", 1, sp->n_embd, 1, 0);
        LAYER("attn_q.weight", 2, sp->n_embd, q_dim, l % 2 ? 8 : 1);
        LAYER("attn_k.weight", 2, sp->n_embd, kv_dim, 1);
        LAYER("attn_v.weight", 2, sp->n_embd, kv_dim, 0);
        LAYER("attn_output.weight", 2, q_dim, sp->n_embd, 8);
        LAYER("ffn_norm.weight", 1, sp->n_embd, 1, 1);
        LAYER("ffn_gate.weight", 2, sp->n_embd, sp->n_ff, 1);
        LAYER("ffn_up.weight", 2, sp->n_embd, sp->n_ff, l % 2 ? 1 : 8);
        LAYER("ffn_down.weight", 2, sp->n_ff, sp->n_embd, 0);
#undef LAYER
    }
#undef PLAN
    uint64_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        plans[i].offset = off;
        plans[i].bytes = tensor_bytes(&plans[i]);
        off = (off + plans[i].bytes + 31) / 32 * 32;
    }

    /* The vocabulary: GPT-2 byte stand-ins, then the end-of-text token. */
    static char storage[N_VOCAB][16];
    const char *tokens[N_VOCAB];
    uint32_t extra = 0;
    for (unsigned byte = 0; byte < 256; byte++) {
        int printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
        unsigned cp = printable ? byte : 256 + extra++;
        if (cp < 0x80) {
            storage[byte][0] = (char)cp;
            storage[byte][1] = 0;
        } else {
            storage[byte][0] = (char)(0xc0 | (cp >> 6));
            storage[byte][1] = (char)(0x80 | (cp & 0x3f));
            storage[byte][2] = 0;
        }
        tokens[byte] = storage[byte];
    }
    tokens[256] = "<|endoftext|>";

    gb_header(b, 3, n, 13);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_u32(b, "llama.block_count", sp->n_layer);
    gb_kv_u32(b, "llama.embedding_length", sp->n_embd);
    gb_kv_u32(b, "llama.attention.head_count", sp->n_head);
    gb_kv_u32(b, "llama.attention.head_count_kv", sp->n_head_kv);
    gb_kv_u32(b, "llama.feed_forward_length", sp->n_ff);
    gb_kv_u32(b, "llama.context_length", sp->n_ctx);
    gb_kv_f32(b, "llama.rope.freq_base", sp->rope_base);
    gb_kv_f32(b, "llama.attention.layer_norm_rms_epsilon", sp->eps);
    gb_kv_u32(b, "llama.rope.dimension_count", dh);
    gb_kv_str(b, "tokenizer.ggml.model", "gpt2");
    gb_kv_str_array(b, "tokenizer.ggml.tokens", tokens, N_VOCAB);
    gb_kv_u32(b, "tokenizer.ggml.eos_token_id", 256);
    for (uint32_t i = 0; i < n; i++)
        gb_tensor_info(b, plans[i].name, plans[i].n_dims, plans[i].dims, plans[i].type, plans[i].offset);
    gb_align(b, 32);
    size_t base = b->size;
    uint64_t rng = sp->seed;
    for (uint32_t i = 0; i < n; i++) {
        while (b->size < base + plans[i].offset)
            gb_u8(b, 0);
        write_tensor_data(b, &plans[i], &rng, strstr(plans[i].name, "norm") != NULL);
    }
}
