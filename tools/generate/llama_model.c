/*
 * llama_model.c - reads the llama.* keys and the blk.N.* tensors and checks
 * every shape against the hyperparameters, so the forward pass can trust
 * them.
 */
#include "llama_model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static int required_u32(const gguf_file *f, const char *key, uint32_t *v, char *err, size_t err_size)
{
    int r = gguf_get_u32(f, key, v, err, err_size);
    if (r > 0)
        return fail(err, err_size, "metadata key '%s' is missing", key);
    if (r == 0 && *v == 0)
        return fail(err, err_size, "metadata key '%s' is 0", key);
    return r;
}

static const gguf_tensor *find_tensor(const gguf_file *f, const char *name, char *err, size_t err_size)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t)
        fail(err, err_size, "tensor '%s' is missing", name);
    return t;
}

static int load_matrix(const gguf_file *f, const char *name, uint32_t n_in, uint32_t n_out, weight *w, char *err,
                       size_t err_size)
{
    const gguf_tensor *t = find_tensor(f, name, err, err_size);
    if (!t)
        return -1;
    if (t->n_dims != 2 || t->dims[0] != n_in || t->dims[1] != n_out)
        return fail(err, err_size, "tensor '%s' has shape (%llu, %llu, %llu, %llu); expected (%u, %u) from the metadata",
                    name, (unsigned long long)t->dims[0], (unsigned long long)t->dims[1],
                    (unsigned long long)t->dims[2], (unsigned long long)t->dims[3], n_in, n_out);
    if (!weight_type_supported(t->type))
        return fail(err, err_size, "tensor '%s' has type %s; only F32, F16 and Q8_0 are supported", name,
                    gguf_tensor_type_name(t->type));
    weight_from_tensor(w, t);
    return 0;
}

static int load_vector(const gguf_file *f, const char *name, uint32_t n, float **out, char *err, size_t err_size)
{
    const gguf_tensor *t = find_tensor(f, name, err, err_size);
    if (!t)
        return -1;
    if (t->n_elements != n || t->dims[0] != n)
        return fail(err, err_size, "tensor '%s' has %llu elements; expected a vector of %u", name,
                    (unsigned long long)t->n_elements, n);
    if (!weight_type_supported(t->type))
        return fail(err, err_size, "tensor '%s' has type %s; only F32, F16 and Q8_0 are supported", name,
                    gguf_tensor_type_name(t->type));
    *out = malloc((size_t)n * sizeof(float));
    if (!*out)
        return fail(err, err_size, "out of memory for tensor '%s'", name);
    weight w = {t->type, t->data, n, 1, (size_t)t->n_bytes};
    weight_row_to_f32(&w, 0, *out);
    return 0;
}

static int read_hparams(const gguf_file *f, llama_hparams *hp, char *err, size_t err_size)
{
    gguf_str arch;
    int r = gguf_get_string(f, "general.architecture", &arch, err, err_size);
    if (r < 0)
        return -1;
    if (r == 0 && !gguf_str_eq(arch, "llama"))
        return fail(err, err_size, "metadata key 'general.architecture' is '%.*s'; only 'llama' is supported",
                    (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);

    if (required_u32(f, "llama.block_count", &hp->n_layer, err, err_size) ||
        required_u32(f, "llama.embedding_length", &hp->n_embd, err, err_size) ||
        required_u32(f, "llama.attention.head_count", &hp->n_head, err, err_size) ||
        required_u32(f, "llama.feed_forward_length", &hp->n_ff, err, err_size) ||
        required_u32(f, "llama.context_length", &hp->n_ctx, err, err_size))
        return -1;

    hp->n_head_kv = hp->n_head;
    if (gguf_get_u32(f, "llama.attention.head_count_kv", &hp->n_head_kv, err, err_size) < 0)
        return -1;
    if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv)
        return fail(err, err_size, "metadata key 'llama.attention.head_count_kv' is %u, which does not divide the %u query heads",
                    hp->n_head_kv, hp->n_head);

    if (hp->n_embd % hp->n_head)
        return fail(err, err_size, "metadata key 'llama.embedding_length' (%u) is not a multiple of 'llama.attention.head_count' (%u)",
                    hp->n_embd, hp->n_head);
    hp->head_dim = hp->n_embd / hp->n_head;
    uint32_t key_length = hp->head_dim, value_length = hp->head_dim;
    if (gguf_get_u32(f, "llama.attention.key_length", &key_length, err, err_size) < 0 ||
        gguf_get_u32(f, "llama.attention.value_length", &value_length, err, err_size) < 0)
        return -1;
    if (key_length != value_length || key_length == 0)
        return fail(err, err_size, "metadata keys 'llama.attention.key_length' (%u) and 'llama.attention.value_length' (%u) must be equal and nonzero",
                    key_length, value_length);
    hp->head_dim = key_length;

    hp->n_rot = hp->head_dim;
    if (gguf_get_u32(f, "llama.rope.dimension_count", &hp->n_rot, err, err_size) < 0)
        return -1;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return fail(err, err_size, "metadata key 'llama.rope.dimension_count' is %u; it must be even and at most the head dimension %u",
                    hp->n_rot, hp->head_dim);

    hp->rope_base = 10000.0f;
    if (gguf_get_f32(f, "llama.rope.freq_base", &hp->rope_base, err, err_size) < 0)
        return -1;
    if (!(hp->rope_base > 0.0f) || !isfinite(hp->rope_base))
        return fail(err, err_size, "metadata key 'llama.rope.freq_base' is %g; it must be positive", hp->rope_base);
    r = gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &hp->norm_eps, err, err_size);
    if (r < 0)
        return -1;
    if (r > 0)
        return fail(err, err_size, "metadata key 'llama.attention.layer_norm_rms_epsilon' is missing");
    if (!(hp->norm_eps >= 0.0f) || !isfinite(hp->norm_eps))
        return fail(err, err_size, "metadata key 'llama.attention.layer_norm_rms_epsilon' is %g; it must be >= 0",
                    hp->norm_eps);
    return 0;
}

int llama_model_from_gguf(llama_model *model, gguf_file *file, char *err, size_t err_size)
{
    memset(model, 0, sizeof *model);
    model->file = *file;
    memset(file, 0, sizeof *file);
    half_init();
    const gguf_file *f = &model->file;
    llama_hparams *hp = &model->hp;
    if (read_hparams(f, hp, err, err_size))
        goto fail;

    const gguf_tensor *embd = find_tensor(f, "token_embd.weight", err, err_size);
    if (!embd)
        goto fail;
    if (embd->n_dims != 2 || embd->dims[0] != hp->n_embd || embd->dims[1] > UINT32_MAX) {
        fail(err, err_size, "tensor 'token_embd.weight' has shape (%llu, %llu); expected (%u, n_vocab)",
             (unsigned long long)embd->dims[0], (unsigned long long)embd->dims[1], hp->n_embd);
        goto fail;
    }
    hp->n_vocab = (uint32_t)embd->dims[1];
    if (load_matrix(f, "token_embd.weight", hp->n_embd, hp->n_vocab, &model->token_embd, err, err_size) ||
        load_vector(f, "output_norm.weight", hp->n_embd, &model->output_norm, err, err_size))
        goto fail;
    if (gguf_find_tensor(f, "output.weight")) {
        if (load_matrix(f, "output.weight", hp->n_embd, hp->n_vocab, &model->output, err, err_size))
            goto fail;
    } else {
        model->output = model->token_embd; /* tied embeddings */
    }

    model->layers = calloc(hp->n_layer, sizeof *model->layers);
    if (!model->layers) {
        fail(err, err_size, "out of memory for %u layers", hp->n_layer);
        goto fail;
    }
    uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    for (uint32_t i = 0; i < hp->n_layer; i++) {
        llama_layer *l = &model->layers[i];
        char name[96];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%u." suffix, i), name)
        if (load_vector(f, NAME("attn_norm.weight"), hp->n_embd, &l->attn_norm, err, err_size) ||
            load_matrix(f, NAME("attn_q.weight"), hp->n_embd, q_dim, &l->wq, err, err_size) ||
            load_matrix(f, NAME("attn_k.weight"), hp->n_embd, kv_dim, &l->wk, err, err_size) ||
            load_matrix(f, NAME("attn_v.weight"), hp->n_embd, kv_dim, &l->wv, err, err_size) ||
            load_matrix(f, NAME("attn_output.weight"), q_dim, hp->n_embd, &l->wo, err, err_size) ||
            load_vector(f, NAME("ffn_norm.weight"), hp->n_embd, &l->ffn_norm, err, err_size) ||
            load_matrix(f, NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, &l->w_gate, err, err_size) ||
            load_matrix(f, NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, &l->w_up, err, err_size) ||
            load_matrix(f, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd, &l->w_down, err, err_size))
            goto fail;
#undef NAME
    }
    return 0;
fail:
    llama_model_free(model);
    return -1;
}

int llama_model_load(llama_model *model, const char *path, char *err, size_t err_size)
{
    gguf_file file;
    memset(model, 0, sizeof *model);
    if (gguf_open(path, &file, err, err_size))
        return -1;
    if (llama_model_from_gguf(model, &file, err, err_size)) {
        size_t n = strlen(err);
        if (n + 1 < err_size)
            snprintf(err + n, err_size - n, " (in '%s')", path);
        return -1;
    }
    return 0;
}

void llama_model_free(llama_model *model)
{
    if (model->layers) {
        for (uint32_t i = 0; i < model->hp.n_layer; i++) {
            free(model->layers[i].attn_norm);
            free(model->layers[i].ffn_norm);
        }
    }
    free(model->layers);
    free(model->output_norm);
    gguf_close(&model->file);
    memset(model, 0, sizeof *model);
}
