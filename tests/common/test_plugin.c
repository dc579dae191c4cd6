#include "test_plugin.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static const sparq_api *loaded_api;
static atomic_uint validation_errors;

const sparq_api *test_plugin_api(void)
{
    if (loaded_api)
        return loaded_api;
    const char *path = getenv("SPARQ_PLUGIN_PATH");
    if (!path) {
        fprintf(stderr, "test_plugin: SPARQ_PLUGIN_PATH is not set (run through meson test)\n");
        exit(1);
    }
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "test_plugin: dlopen(%s): %s\n", path, dlerror());
        exit(1);
    }
    sparq_entry_fn entry = (sparq_entry_fn)dlsym(so, SPARQ_ENTRY_SYMBOL);
    const char *why = NULL;
    if (!entry || entry(SPARQ_ABI_VERSION_MAJOR, &loaded_api, &why) != SPARQ_SUCCESS) {
        fprintf(stderr, "test_plugin: no usable entry in %s: %s\n", path, why ? why : "symbol missing");
        exit(1);
    }
    return loaded_api;
}

static void count_messages(void *user, sparq_severity severity, const char *message)
{
    (void)user;
    if (severity >= SPARQ_SEVERITY_ERROR) {
        atomic_fetch_add(&validation_errors, 1u);
        fprintf(stderr, "VALIDATION ERROR: %s\n", message);
    } else if (severity == SPARQ_SEVERITY_WARNING) {
        fprintf(stderr, "validation warning: %s\n", message);
    }
}

sparq_context *test_plugin_context(const char *device)
{
    const sparq_api *api = test_plugin_api();
    sparq_context_desc desc = {
        .struct_size = sizeof desc,
        .flags = SPARQ_CONTEXT_ENABLE_VALIDATION,
        .device = device,
        .message_callback = count_messages,
    };
    sparq_context *ctx = NULL;
    if (api->context_create(&desc, &ctx) != SPARQ_SUCCESS) {
        fprintf(stderr, "test_plugin: context_create: %s\n", api->last_error());
        return NULL;
    }
    return ctx;
}

unsigned test_plugin_validation_errors(void)
{
    return atomic_load(&validation_errors);
}

void test_plugin_assert_no_validation_errors(void)
{
    assert_int_equal(test_plugin_validation_errors(), 0);
}
