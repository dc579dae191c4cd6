/*
 * attention_plugin.c - attention through the sparq-vk plugin, reached the
 * way any runtime reaches it: dlopen, the one exported entry point, the
 * function table. One cache per layer with n_seqs sequence slots.
 */
#include "attention.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sparq/sparq.h>

#ifndef SPARQ_GENERATE_PLUGIN_DEFAULT
#define SPARQ_GENERATE_PLUGIN_DEFAULT "libsparq_vk.so"
#endif

typedef struct plugin_attention {
    attention base;
    void *library;
    const sparq_api *api;
    sparq_context *context;
    sparq_cache **caches; /* [n_layer] */
} plugin_attention;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *attention_default_plugin_path(void)
{
    const char *env = getenv("SPARQ_PLUGIN_PATH");
    return env && *env ? env : SPARQ_GENERATE_PLUGIN_DEFAULT;
}

static int report(plugin_attention *p, const char *call, uint32_t layer, sparq_status status)
{
    snprintf(p->base.error, sizeof p->base.error, "%s (layer %u) failed with status %d: %s", call, layer,
             (int)status, p->api->last_error());
    return -1;
}

static int plugin_reset(attention *a)
{
    plugin_attention *p = (plugin_attention *)a;
    for (uint32_t i = 0; i < a->config.n_layer; i++)
        for (uint32_t slot = 0; slot < a->config.n_seqs; slot++) {
            sparq_status s = p->api->cache_reset(p->caches[i], slot);
            if (s != SPARQ_SUCCESS)
                return report(p, "cache_reset", i, s);
        }
    return 0;
}

static int plugin_append(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *k,
                         const float *v)
{
    plugin_attention *p = (plugin_attention *)a;
    sparq_append_desc desc = {
        .struct_size = sizeof desc,
        .n_slots = n_slots,
        .slots = slots,
        .n_tokens = 1,
        .dtype = SPARQ_DTYPE_F32,
        .k = k,
        .v = v,
    };
    double t0 = now_seconds();
    sparq_status s = p->api->cache_append(p->caches[layer], &desc);
    a->seconds += now_seconds() - t0;
    return s == SPARQ_SUCCESS ? 0 : report(p, "cache_append", layer, s);
}

static int plugin_attend(attention *a, uint32_t layer, uint32_t n_slots, const uint32_t *slots, const float *q,
                         float *out)
{
    plugin_attention *p = (plugin_attention *)a;
    const attention_config *cfg = &a->config;
    sparq_attend_desc desc = {
        .struct_size = sizeof desc,
        .mode = cfg->mode == ATTENTION_DENSE ? SPARQ_ATTENTION_DENSE : SPARQ_ATTENTION_SPARQ,
        .n_slots = n_slots,
        .slots = slots,
        .n_heads = cfg->n_head,
        .dtype = SPARQ_DTYPE_F32,
        .q = q,
        .out = out,
        .flags = cfg->no_realloc ? SPARQ_ATTEND_NO_MEAN_REALLOCATION : 0u,
        .r = cfg->r,
        .k = cfg->k,
        .l = cfg->l,
    };
    double t0 = now_seconds();
    sparq_status s = p->api->attend(p->caches[layer], &desc);
    a->seconds += now_seconds() - t0;
    return s == SPARQ_SUCCESS ? 0 : report(p, "attend", layer, s);
}

static int plugin_set_mode(attention *a, attention_mode mode, uint32_t r, uint32_t k, uint32_t l, int no_realloc)
{
    a->config.mode = mode;
    a->config.r = r;
    a->config.k = k;
    a->config.l = l;
    a->config.no_realloc = no_realloc;
    return 0;
}

static void plugin_destroy(attention *a)
{
    plugin_attention *p = (plugin_attention *)a;
    if (!p)
        return;
    if (p->caches)
        for (uint32_t i = 0; i < a->config.n_layer; i++)
            if (p->caches[i])
                p->api->cache_destroy(p->caches[i]);
    free(p->caches);
    if (p->context)
        p->api->context_destroy(p->context);
    if (p->library)
        dlclose(p->library);
    free(p);
}

static const attention_ops plugin_ops = {plugin_reset, plugin_append, plugin_attend, plugin_set_mode,
                                         plugin_destroy};

static void forward_message(void *user_data, sparq_severity severity, const char *message)
{
    const plugin_attention *p = user_data;
    if (p->base.config.message)
        p->base.config.message(p->base.config.message_user_data, (int)severity, message);
    else if (severity >= SPARQ_SEVERITY_WARNING)
        fprintf(stderr, "sparq: %s\n", message);
}

attention *attention_plugin_create(const attention_config *config, char *err, size_t err_size)
{
    plugin_attention *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    p->base.ops = &plugin_ops;
    p->base.config = *config;
    p->base.config.device = NULL; /* not kept: may not outlive this call */
    p->base.config.plugin_path = NULL;
    if (p->base.config.n_seqs == 0)
        p->base.config.n_seqs = 1;
    const char *path = config->plugin_path ? config->plugin_path : attention_default_plugin_path();

    p->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->library) {
        snprintf(err, err_size, "cannot load the plugin '%s': %s (set --plugin or SPARQ_PLUGIN_PATH)", path,
                 dlerror());
        goto fail;
    }
    sparq_entry_fn entry;
    /* dlsym returns void *; converting through memcpy avoids the
     * object-to-function pointer cast ISO C leaves undefined. */
    void *sym = dlsym(p->library, SPARQ_ENTRY_SYMBOL);
    if (!sym) {
        snprintf(err, err_size, "'%s' does not export %s", path, SPARQ_ENTRY_SYMBOL);
        goto fail;
    }
    memcpy(&entry, &sym, sizeof entry);
    const char *why = NULL;
    sparq_status s = entry(SPARQ_ABI_VERSION_MAJOR, &p->api, &why);
    if (s != SPARQ_SUCCESS || !p->api) {
        snprintf(err, err_size, "'%s' refused ABI %u: status %d: %s", path, SPARQ_ABI_VERSION_MAJOR, (int)s,
                 why ? why : "(no message)");
        p->api = NULL;
        goto fail;
    }
    if (!SPARQ_API_HAS(p->api, attend)) {
        snprintf(err, err_size, "'%s' has a function table without attend", path);
        goto fail;
    }

    sparq_context_desc cdesc = {
        .struct_size = sizeof cdesc,
        .flags = config->validation ? SPARQ_CONTEXT_ENABLE_VALIDATION : 0u,
        .device = config->device,
        .message_callback = forward_message,
        .message_user_data = p,
    };
    s = p->api->context_create(&cdesc, &p->context);
    if (s != SPARQ_SUCCESS) {
        snprintf(err, err_size, "context_create failed with status %d: %s", (int)s, p->api->last_error());
        goto fail;
    }

    p->caches = calloc(config->n_layer, sizeof *p->caches);
    if (!p->caches) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < config->n_layer; i++) {
        sparq_cache_desc desc = {
            .struct_size = sizeof desc,
            .n_seqs = p->base.config.n_seqs,
            .n_kv_heads = config->n_head_kv,
            .head_dim = config->head_dim,
            .capacity = config->capacity,
            .storage = config->storage == STORAGE_F32 ? SPARQ_DTYPE_F32 : SPARQ_DTYPE_F16,
        };
        s = p->api->cache_create(p->context, &desc, &p->caches[i]);
        if (s != SPARQ_SUCCESS) {
            snprintf(err, err_size, "cache_create (layer %u) failed with status %d: %s", i, (int)s,
                     p->api->last_error());
            goto fail;
        }
    }

    sparq_device_info info = {.struct_size = sizeof info};
    if (SPARQ_API_HAS(p->api, context_get_device_info) &&
        p->api->context_get_device_info(p->context, &info) == SPARQ_SUCCESS)
        snprintf(p->base.description, sizeof p->base.description, "plugin on %.200s (%s K/V)", info.name,
                 config->storage == STORAGE_F32 ? "f32" : "f16");
    else
        snprintf(p->base.description, sizeof p->base.description, "plugin (%s K/V)",
                 config->storage == STORAGE_F32 ? "f32" : "f16");
    return &p->base;
fail:
    plugin_destroy(&p->base);
    return NULL;
}
