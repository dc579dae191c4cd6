/*
 * session.c - wires the parts together from the options.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int session_open(session *s, const options *opt, uint32_t capacity, char *err, size_t err_size)
{
    memset(s, 0, sizeof *s);
    if (llama_model_load(&s->model, opt->model_path, err, err_size))
        return -1;
    const llama_hparams *hp = &s->model.hp;
    if (tokenizer_init(&s->tok, &s->model.file, hp->n_vocab, err, err_size))
        goto fail;
    if (capacity == 0)
        capacity = opt->ctx ? opt->ctx : hp->n_ctx;
    s->capacity = capacity;
    s->pool = thread_pool_create(opt->threads);
    if (!s->pool) {
        snprintf(err, err_size, "cannot start %u threads", opt->threads);
        goto fail;
    }
    return 0;
fail:
    session_close(s);
    return -1;
}

int session_start(session *s, const options *opt, uint32_t n_seqs, char *err, size_t err_size)
{
    const llama_hparams *hp = &s->model.hp;
    attention_config cfg = {
        .n_layer = hp->n_layer,
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .head_dim = hp->head_dim,
        .capacity = s->capacity,
        .n_seqs = n_seqs,
        .storage = opt->storage,
        .mode = opt->mode,
        .r = opt->r,
        .k = opt->k,
        .l = opt->l,
        .no_realloc = opt->no_realloc,
        .device = opt->device,
        .plugin_path = opt->plugin_path,
        .validation = opt->validation,
    };
    s->attn = opt->cpu_attention ? attention_cpu_create(&cfg, err, err_size)
                                 : attention_plugin_create(&cfg, err, err_size);
    if (!s->attn)
        return -1;
    if (llama_state_init(&s->state, &s->model, s->attn, s->pool)) {
        snprintf(err, err_size, "out of memory for the activations");
        return -1;
    }
    return 0;
}

void session_close(session *s)
{
    if (s->state.model)
        llama_state_free(&s->state);
    if (s->attn)
        s->attn->ops->destroy(s->attn);
    thread_pool_destroy(s->pool);
    tokenizer_free(&s->tok);
    llama_model_free(&s->model);
    memset(s, 0, sizeof *s);
}

char *read_text_file(const char *path, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err, err_size, "cannot read '%s'", path);
        return NULL;
    }
    *len = n;
    return buf;
}
