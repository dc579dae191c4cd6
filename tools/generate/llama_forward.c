/*
 * llama_forward.c - the Llama block: RMSNorm, Q/K/V projections, rotary
 * embedding (llama.cpp's "normal" mode: adjacent pairs), attention,
 * output projection, RMSNorm, SwiGLU MLP; then the final norm and the
 * vocabulary projection, for a batch of tokens of different sequences.
 */
#include "llama_forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
    double ss = 0;
    for (uint32_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (uint32_t i = 0; i < n; i++)
        out[i] = x[i] * inv * w[i];
}

void llama_rope(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, const float *freq, uint32_t pos)
{
    for (uint32_t h = 0; h < n_heads; h++) {
        float *xh = x + (size_t)h * head_dim;
        for (uint32_t i = 0; i < n_rot / 2; i++) {
            /* The angle in double: positions reach 1e5+ and a float product
             * would lose the low bits that matter for the fast pairs. */
            double theta = (double)pos * freq[i];
            float c = (float)cos(theta), s = (float)sin(theta);
            float a = xh[2 * i], b = xh[2 * i + 1];
            xh[2 * i] = a * c - b * s;
            xh[2 * i + 1] = a * s + b * c;
        }
    }
}

int llama_state_init(llama_state *st, const llama_model *model, attention *attn, thread_pool *pool)
{
    memset(st, 0, sizeof *st);
    const llama_hparams *hp = &model->hp;
    st->model = model;
    st->attn = attn;
    const size_t B = attn->config.n_seqs ? attn->config.n_seqs : 1;
    st->n_slots = (uint32_t)B;
    uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    uint32_t max_in = hp->n_embd > q_dim ? hp->n_embd : q_dim;
    if (hp->n_ff > max_in)
        max_in = hp->n_ff;
    if (matvec_ctx_init(&st->mv, pool, max_in))
        return -1;
    st->pos = calloc(B, sizeof *st->pos);
    st->rope_freq = malloc((hp->n_rot / 2 + 1) * sizeof(float));
    st->x = malloc(B * hp->n_embd * sizeof(float));
    st->xn = malloc(B * hp->n_embd * sizeof(float));
    st->q = malloc(B * q_dim * sizeof(float));
    st->k = malloc(B * kv_dim * sizeof(float));
    st->v = malloc(B * kv_dim * sizeof(float));
    st->att = malloc(B * q_dim * sizeof(float));
    st->proj = malloc(B * hp->n_embd * sizeof(float));
    st->gate = malloc(B * hp->n_ff * sizeof(float));
    st->up = malloc(B * hp->n_ff * sizeof(float));
    st->ffn_out = malloc(B * hp->n_embd * sizeof(float));
    st->logits = malloc(B * hp->n_vocab * sizeof(float));
    if (!st->pos || !st->rope_freq || !st->x || !st->xn || !st->q || !st->k || !st->v || !st->att || !st->proj ||
        !st->gate || !st->up || !st->ffn_out || !st->logits) {
        llama_state_free(st);
        return -1;
    }
    for (uint32_t i = 0; i < hp->n_rot / 2; i++)
        st->rope_freq[i] = (float)pow((double)hp->rope_base, -2.0 * i / (double)hp->n_rot);
    return 0;
}

void llama_state_free(llama_state *st)
{
    matvec_ctx_free(&st->mv);
    free(st->pos);
    free(st->rope_freq);
    free(st->x);
    free(st->xn);
    free(st->q);
    free(st->k);
    free(st->v);
    free(st->att);
    free(st->proj);
    free(st->gate);
    free(st->up);
    free(st->ffn_out);
    free(st->logits);
    memset(st, 0, sizeof *st);
}

int llama_state_reset(llama_state *st, char *err, size_t err_size)
{
    memset(st->pos, 0, st->n_slots * sizeof *st->pos);
    if (st->attn->ops->reset(st->attn)) {
        snprintf(err, err_size, "%s", st->attn->error);
        return -1;
    }
    return 0;
}

int llama_forward(llama_state *st, uint32_t token, char *err, size_t err_size)
{
    const uint32_t slot = 0;
    return llama_forward_batch(st, 1, &slot, &token, err, err_size);
}

int llama_forward_batch(llama_state *st, uint32_t nb, const uint32_t *slots, const uint32_t *tokens, char *err,
                        size_t err_size)
{
    const llama_model *m = st->model;
    const llama_hparams *hp = &m->hp;
    const uint32_t n = hp->n_embd, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    if (nb == 0 || nb > st->n_slots) {
        snprintf(err, err_size, "a step of %u tokens does not fit the %u slot(s)", nb, st->n_slots);
        return -1;
    }
    for (uint32_t b = 0; b < nb; b++) {
        if (slots[b] >= st->n_slots) {
            snprintf(err, err_size, "slot %u is outside the %u slot(s)", slots[b], st->n_slots);
            return -1;
        }
        for (uint32_t c = 0; c < b; c++)
            if (slots[c] == slots[b]) {
                snprintf(err, err_size, "slot %u appears twice in one step", slots[b]);
                return -1;
            }
        if (tokens[b] >= hp->n_vocab) {
            snprintf(err, err_size, "token %u is outside the vocabulary (%u)", tokens[b], hp->n_vocab);
            return -1;
        }
        weight_row_to_f32(&m->token_embd, tokens[b], st->x + (size_t)b * n);
    }

    for (uint32_t li = 0; li < hp->n_layer; li++) {
        const llama_layer *L = &m->layers[li];
        for (uint32_t b = 0; b < nb; b++)
            rmsnorm(st->xn + (size_t)b * n, st->x + (size_t)b * n, L->attn_norm, n, hp->norm_eps);
        matvec_job qkv[3] = {{&L->wq, st->xn, st->q, nb}, {&L->wk, st->xn, st->k, nb}, {&L->wv, st->xn, st->v, nb}};
        matvec_run(&st->mv, qkv, 3);
        for (uint32_t b = 0; b < nb; b++) {
            uint32_t pos = st->pos[slots[b]];
            llama_rope(st->q + (size_t)b * q_dim, hp->n_head, hp->head_dim, hp->n_rot, st->rope_freq, pos);
            llama_rope(st->k + (size_t)b * kv_dim, hp->n_head_kv, hp->head_dim, hp->n_rot, st->rope_freq, pos);
        }

        if (st->attn->ops->append(st->attn, li, nb, slots, st->k, st->v) ||
            st->attn->ops->attend(st->attn, li, nb, slots, st->q, st->att)) {
            snprintf(err, err_size, "position %u: %s", st->pos[slots[0]], st->attn->error);
            return -1;
        }

        matvec_job o = {&L->wo, st->att, st->proj, nb};
        matvec_run(&st->mv, &o, 1);
        for (size_t i = 0; i < (size_t)nb * n; i++)
            st->x[i] += st->proj[i];

        for (uint32_t b = 0; b < nb; b++)
            rmsnorm(st->xn + (size_t)b * n, st->x + (size_t)b * n, L->ffn_norm, n, hp->norm_eps);
        matvec_job gu[2] = {{&L->w_gate, st->xn, st->gate, nb}, {&L->w_up, st->xn, st->up, nb}};
        matvec_run(&st->mv, gu, 2);
        for (size_t i = 0; i < (size_t)nb * hp->n_ff; i++) {
            float g = st->gate[i];
            st->gate[i] = g / (1.0f + expf(-g)) * st->up[i]; /* SiLU(gate) * up */
        }
        matvec_job d = {&L->w_down, st->gate, st->ffn_out, nb};
        matvec_run(&st->mv, &d, 1);
        for (size_t i = 0; i < (size_t)nb * n; i++)
            st->x[i] += st->ffn_out[i];
    }

    for (uint32_t b = 0; b < nb; b++)
        rmsnorm(st->xn + (size_t)b * n, st->x + (size_t)b * n, m->output_norm, n, hp->norm_eps);
    matvec_job out = {&m->output, st->xn, st->logits, nb};
    matvec_run(&st->mv, &out, 1);
    for (uint32_t b = 0; b < nb; b++)
        st->pos[slots[b]]++;
    return 0;
}
