/*
 * attention.h - where the forward pass sends its attention: the plugin
 * (through the ABI, as a runtime would) or a CPU implementation inside this
 * program. One KV cache per layer with n_seqs sequence slots, so several
 * sequences can be decoded together, one token per slot per step.
 */
#ifndef SPARQ_GENERATE_ATTENTION_H
#define SPARQ_GENERATE_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

typedef enum attention_mode {
    ATTENTION_DENSE = 1,
    ATTENTION_SPARQ = 2,
} attention_mode;

typedef enum attention_storage {
    STORAGE_F16 = 1,
    STORAGE_F32 = 2,
} attention_storage;

typedef struct attention_config {
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t capacity; /* positions per slot of each layer cache */
    uint32_t n_seqs;   /* sequence slots per layer cache (0 = 1) */
    attention_storage storage;
    attention_mode mode;
    uint32_t r, k, l;  /* SparQ; 0 = the plugin's defaults */
    int no_realloc;    /* SparQ without mean reallocation (alpha = 1) */
    const char *device;      /* plugin only: sparq_context_desc.device (NULL = default) */
    const char *plugin_path; /* plugin only */
    int validation;          /* plugin only: SPARQ_CONTEXT_ENABLE_VALIDATION */
    /* plugin only, optional: receives the plugin's (and validation layers')
     * messages with severity 1 info, 2 warning, 3 error; NULL = warnings and
     * errors to stderr. */
    void (*message)(void *user_data, int severity, const char *text);
    void *message_user_data;
} attention_config;

typedef struct attention attention;

typedef struct attention_ops {
    /* Empties every slot of every layer's cache. */
    int (*reset)(attention *a);
    /* Appends one position to each of the n_slots distinct slots `slots` of
     * layer `layer`: k, v are [n_slots][n_head_kv][head_dim] (k after rope). */
    int (*append)(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *k,
                  const float *v);
    /* out[s][n_head][head_dim] = attention of q[s][n_head][head_dim] over
     * slot slots[s] of the layer's cache, for s < n_slots. */
    int (*attend)(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *q,
                  float *out);
    /* Switches between dense and SparQ and changes r, k, l (caches kept). */
    int (*set_mode)(attention *a, attention_mode mode, uint32_t r, uint32_t k, uint32_t l, int no_realloc);
    void (*destroy)(attention *a);
} attention_ops;

struct attention {
    const attention_ops *ops;
    attention_config config;
    char error[1024];  /* message of the last failure */
    double seconds;    /* wall time spent inside append and attend */
    char description[256];
};

/* Loads the plugin (dlopen + entry + function table) and makes a context
 * and one cache per layer. NULL on failure, with the reason in err. */
attention *attention_plugin_create(const attention_config *config, char *err, size_t err_size);

/* Dense and SparQ attention on the CPU in double precision over K/V rounded
 * to the storage type, following the algorithm in the design document. */
attention *attention_cpu_create(const attention_config *config, char *err, size_t err_size);

/* The plugin path a host uses when none is given: env SPARQ_PLUGIN_PATH,
 * else the installed location. */
const char *attention_default_plugin_path(void);

#endif
