/*
 * attention_cpu.c - the attention the plugin computes, done on the CPU in
 * double precision, for checking the plugin inside a real decode loop and
 * for running the model without a GPU. K and V are rounded to the storage
 * type exactly as the plugin stores them, so the only differences left are
 * in the arithmetic.
 */
#include "attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "half.h"

typedef struct cpu_layer {
    float *k;     /* [capacity][n_head_kv][head_dim] */
    float *v;     /* same */
    double *vsum; /* [n_head_kv][head_dim] */
    uint32_t len;
} cpu_layer;

typedef struct ranked {
    double value;
    uint32_t index;
} ranked;

typedef struct cpu_attention {
    attention base;
    cpu_layer *layers; /* [n_layer][n_seqs]: one per slot of each layer */
    /* Scratch for one KV head. */
    double *probs;  /* [group][capacity]: approximate (SparQ) probabilities */
    double *rho;    /* [capacity] */
    ranked *cand;   /* [capacity] */
    uint32_t *sel;  /* [capacity] selected positions */
    double *logits; /* [capacity] exact logits over the selection */
} cpu_attention;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cpu_reset(attention *a)
{
    cpu_attention *c = (cpu_attention *)a;
    const attention_config *cfg = &a->config;
    for (size_t i = 0; i < (size_t)cfg->n_layer * cfg->n_seqs; i++) {
        c->layers[i].len = 0;
        memset(c->layers[i].vsum, 0, (size_t)cfg->n_head_kv * cfg->head_dim * sizeof(double));
    }
    return 0;
}

/* The cache of one slot of one layer, or NULL (with the error set) for a bad slot. */
static cpu_layer *slot_cache(cpu_attention *c, uint32_t layer, uint32_t slot)
{
    const attention_config *cfg = &c->base.config;
    if (slot >= cfg->n_seqs) {
        snprintf(c->base.error, sizeof c->base.error, "layer %u: slot %u is outside the %u slot(s)", layer, slot,
                 cfg->n_seqs);
        return NULL;
    }
    return &c->layers[(size_t)layer * cfg->n_seqs + slot];
}

static int cpu_append(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *k,
                      const float *v)
{
    cpu_attention *c = (cpu_attention *)a;
    const attention_config *cfg = &a->config;
    /* All or nothing, as the plugin does: check every slot first. */
    for (uint32_t s = 0; s < n_slots; s++) {
        const cpu_layer *L = slot_cache(c, layer, slots[s]);
        if (!L)
            return -1;
        if (L->len >= cfg->capacity) {
            snprintf(a->error, sizeof a->error, "layer %u slot %u: the cache is full (%u positions)", layer, slots[s],
                     cfg->capacity);
            return -1;
        }
    }
    double t0 = now_seconds();
    size_t row = (size_t)cfg->n_head_kv * cfg->head_dim;
    for (uint32_t s = 0; s < n_slots; s++) {
        cpu_layer *L = slot_cache(c, layer, slots[s]);
        const float *ks = k + (size_t)s * row, *vs = v + (size_t)s * row;
        float *kd = L->k + (size_t)L->len * row, *vd = L->v + (size_t)L->len * row;
        for (size_t i = 0; i < row; i++) {
            kd[i] = cfg->storage == STORAGE_F16 ? half_round(ks[i]) : ks[i];
            vd[i] = cfg->storage == STORAGE_F16 ? half_round(vs[i]) : vs[i];
            L->vsum[i] += vd[i];
        }
        L->len++;
    }
    a->seconds += now_seconds() - t0;
    return 0;
}

/* Hoare partition in descending order: afterwards [lo, p] >= pivot >= [p+1, hi]
 * with lo <= p < hi, so both sides shrink. */
static size_t partition_desc(ranked *r, size_t lo, size_t hi)
{
    double pivot = r[lo + (hi - lo) / 2].value;
    size_t i = lo, j = hi;
    for (;;) {
        while (r[i].value > pivot)
            i++;
        while (r[j].value < pivot)
            j--;
        if (i >= j)
            return j;
        ranked t = r[i];
        r[i] = r[j];
        r[j] = t;
        i++;
        j--;
    }
}

/* Puts the n largest values of r[0..m) first, in no particular order (the
 * algorithm leaves ties free). */
static void select_largest(ranked *r, size_t m, size_t n)
{
    if (n == 0 || n >= m)
        return;
    size_t lo = 0, hi = m - 1;
    while (lo < hi) {
        size_t p = partition_desc(r, lo, hi);
        if (n - 1 <= p)
            hi = p;
        else
            lo = p + 1;
    }
}

static int compare_desc_then_index(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int compare_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

/* Attention for the query heads of one KV head (see DESIGN.md, "The algorithm, exactly"). */
static void attend_group(cpu_attention *c, const cpu_layer *L, uint32_t kvh, const float *q, float *out)
{
    const attention_config *cfg = &c->base.config;
    const uint32_t dh = cfg->head_dim, g = cfg->n_head / cfg->n_head_kv, S = L->len;
    const size_t row = (size_t)cfg->n_head_kv * dh;
    const double scale = 1.0 / sqrt((double)dh);
    const float *K = L->k + (size_t)kvh * dh, *V = L->v + (size_t)kvh * dh;
    uint32_t n_sel = S;
    double alpha[64];

    int sparq = cfg->mode == ATTENTION_SPARQ;
    uint32_t k_use = cfg->k ? cfg->k : (S / 16 > 64 ? S / 16 : 64);
    if (sparq && k_use < S) {
        uint32_t r = cfg->r ? (cfg->r < dh ? cfg->r : dh) : (dh / 8 ? dh / 8 : 1);
        uint32_t l = cfg->l ? cfg->l : k_use / 4;
        if (l > S)
            l = S;
        /* Step 1: the r components where the group's |q| is largest. */
        ranked comp[256];
        for (uint32_t i = 0; i < dh; i++) {
            double a = 0;
            for (uint32_t j = 0; j < g; j++)
                a += fabs((double)q[(size_t)j * dh + i]);
            comp[i].value = a;
            comp[i].index = i;
        }
        qsort(comp, dh, sizeof comp[0], compare_desc_then_index);
        /* Step 2: approximate probabilities per head. */
        memset(c->rho, 0, (size_t)S * sizeof(double));
        for (uint32_t j = 0; j < g; j++) {
            const float *qj = q + (size_t)j * dh;
            double num = 0, den = 0;
            for (uint32_t i = 0; i < dh; i++)
                den += fabs((double)qj[i]);
            for (uint32_t i = 0; i < r; i++)
                num += fabs((double)qj[comp[i].index]);
            double frac = den > 0 ? num / den : 1.0;
            double zscale = scale / sqrt(frac);
            double *p = c->probs + (size_t)j * cfg->capacity, zmax = -INFINITY, sum = 0;
            for (uint32_t t = 0; t < S; t++) {
                const float *kt = K + (size_t)t * row;
                double z = 0;
                for (uint32_t i = 0; i < r; i++)
                    z += (double)qj[comp[i].index] * (double)kt[comp[i].index];
                p[t] = z * zscale;
                if (p[t] > zmax)
                    zmax = p[t];
            }
            for (uint32_t t = 0; t < S; t++)
                sum += (p[t] = exp(p[t] - zmax));
            for (uint32_t t = 0; t < S; t++) {
                p[t] /= sum;
                c->rho[t] += p[t];
            }
        }
        /* Step 3: the local window, then the largest rho among the rest. */
        uint32_t n_free = S - l, want = k_use - l;
        for (uint32_t t = 0; t < n_free; t++) {
            c->cand[t].value = c->rho[t];
            c->cand[t].index = t;
        }
        select_largest(c->cand, n_free, want);
        n_sel = 0;
        for (uint32_t t = 0; t < want; t++)
            c->sel[n_sel++] = c->cand[t].index;
        for (uint32_t t = n_free; t < S; t++)
            c->sel[n_sel++] = t;
        qsort(c->sel, n_sel, sizeof c->sel[0], compare_u32);
        /* Step 4: the approximate mass the selection covers. */
        for (uint32_t j = 0; j < g; j++) {
            double a = 0;
            const double *p = c->probs + (size_t)j * cfg->capacity;
            for (uint32_t s = 0; s < n_sel; s++)
                a += p[c->sel[s]];
            alpha[j] = cfg->no_realloc ? 1.0 : a;
        }
    } else {
        for (uint32_t t = 0; t < S; t++)
            c->sel[t] = t;
        for (uint32_t j = 0; j < g; j++)
            alpha[j] = 1.0;
    }

    /* Steps 5 and 6: exact softmax over the selection, blended with mean V. */
    for (uint32_t j = 0; j < g; j++) {
        const float *qj = q + (size_t)j * dh;
        double zmax = -INFINITY, sum = 0, acc[256] = {0};
        for (uint32_t s = 0; s < n_sel; s++) {
            const float *kt = K + (size_t)c->sel[s] * row;
            double z = 0;
            for (uint32_t i = 0; i < dh; i++)
                z += (double)qj[i] * (double)kt[i];
            c->logits[s] = z * scale;
            if (c->logits[s] > zmax)
                zmax = c->logits[s];
        }
        for (uint32_t s = 0; s < n_sel; s++) {
            double w = exp(c->logits[s] - zmax);
            sum += w;
            const float *vt = V + (size_t)c->sel[s] * row;
            for (uint32_t i = 0; i < dh; i++)
                acc[i] += w * (double)vt[i];
        }
        const double *vsum = L->vsum + (size_t)kvh * dh;
        for (uint32_t i = 0; i < dh; i++)
            out[(size_t)j * dh + i] = (float)(alpha[j] * acc[i] / sum + (1.0 - alpha[j]) * vsum[i] / S);
    }
}

static int cpu_attend(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *q,
                      float *out)
{
    cpu_attention *c = (cpu_attention *)a;
    const attention_config *cfg = &a->config;
    for (uint32_t s = 0; s < n_slots; s++) {
        const cpu_layer *L = slot_cache(c, layer, slots[s]);
        if (!L)
            return -1;
        if (L->len == 0) {
            snprintf(a->error, sizeof a->error, "layer %u slot %u: attend on an empty cache", layer, slots[s]);
            return -1;
        }
    }
    double t0 = now_seconds();
    uint32_t g = cfg->n_head / cfg->n_head_kv;
    size_t q_row = (size_t)cfg->n_head * cfg->head_dim;
    for (uint32_t s = 0; s < n_slots; s++) {
        const cpu_layer *L = slot_cache(c, layer, slots[s]);
        for (uint32_t h = 0; h < cfg->n_head_kv; h++)
            attend_group(c, L, h, q + s * q_row + (size_t)h * g * cfg->head_dim,
                         out + s * q_row + (size_t)h * g * cfg->head_dim);
    }
    a->seconds += now_seconds() - t0;
    return 0;
}

static int cpu_set_mode(attention *a, attention_mode mode, uint32_t r, uint32_t k, uint32_t l, int no_realloc)
{
    a->config.mode = mode;
    a->config.r = r;
    a->config.k = k;
    a->config.l = l;
    a->config.no_realloc = no_realloc;
    return 0;
}

static void cpu_destroy(attention *a)
{
    cpu_attention *c = (cpu_attention *)a;
    if (!c)
        return;
    if (c->layers)
        for (size_t i = 0; i < (size_t)a->config.n_layer * a->config.n_seqs; i++) {
            free(c->layers[i].k);
            free(c->layers[i].v);
            free(c->layers[i].vsum);
        }
    free(c->layers);
    free(c->probs);
    free(c->rho);
    free(c->cand);
    free(c->sel);
    free(c->logits);
    free(c);
}

static const attention_ops cpu_ops = {cpu_reset, cpu_append, cpu_attend, cpu_set_mode, cpu_destroy};

attention *attention_cpu_create(const attention_config *config, char *err, size_t err_size)
{
    const attention_config *cfg = config;
    if (cfg->head_dim == 0 || cfg->head_dim > 256 || cfg->n_head_kv == 0 || cfg->n_head % cfg->n_head_kv ||
        cfg->n_head / cfg->n_head_kv > 64 || cfg->capacity == 0) {
        snprintf(err, err_size, "CPU attention: unsupported shape (heads %u, KV heads %u, head dim %u, capacity %u)",
                 cfg->n_head, cfg->n_head_kv, cfg->head_dim, cfg->capacity);
        return NULL;
    }
    half_init();
    cpu_attention *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    c->base.ops = &cpu_ops;
    c->base.config = *cfg;
    c->base.config.device = NULL;
    c->base.config.plugin_path = NULL;
    if (c->base.config.n_seqs == 0)
        c->base.config.n_seqs = 1;
    const size_t n_caches = (size_t)cfg->n_layer * c->base.config.n_seqs;
    uint32_t g = cfg->n_head / cfg->n_head_kv;
    size_t row = (size_t)cfg->n_head_kv * cfg->head_dim;
    c->layers = calloc(n_caches, sizeof *c->layers);
    c->probs = malloc((size_t)g * cfg->capacity * sizeof(double));
    c->rho = malloc((size_t)cfg->capacity * sizeof(double));
    c->cand = malloc((size_t)cfg->capacity * sizeof(ranked));
    c->sel = malloc((size_t)cfg->capacity * sizeof(uint32_t));
    c->logits = malloc((size_t)cfg->capacity * sizeof(double));
    int ok = c->layers && c->probs && c->rho && c->cand && c->sel && c->logits;
    for (size_t i = 0; ok && i < n_caches; i++) {
        c->layers[i].k = malloc((size_t)cfg->capacity * row * sizeof(float));
        c->layers[i].v = malloc((size_t)cfg->capacity * row * sizeof(float));
        c->layers[i].vsum = calloc(row, sizeof(double));
        ok = c->layers[i].k && c->layers[i].v && c->layers[i].vsum;
    }
    if (!ok) {
        snprintf(err, err_size, "CPU attention: out of memory for %u layers of %u slot(s) of %u positions",
                 cfg->n_layer, c->base.config.n_seqs, cfg->capacity);
        cpu_destroy(&c->base);
        return NULL;
    }
    snprintf(c->base.description, sizeof c->base.description, "CPU (double precision, %s K/V)",
             cfg->storage == STORAGE_F32 ? "f32" : "f16");
    return &c->base;
}
