#include "plugin_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

const char *sparq_status_name(sparq_status status)
{
    switch (status) {
    case SPARQ_SUCCESS: return "SPARQ_SUCCESS";
    case SPARQ_ERROR_INVALID_ARGUMENT: return "SPARQ_ERROR_INVALID_ARGUMENT";
    case SPARQ_ERROR_ABI_MISMATCH: return "SPARQ_ERROR_ABI_MISMATCH";
    case SPARQ_ERROR_NOT_SUPPORTED: return "SPARQ_ERROR_NOT_SUPPORTED";
    case SPARQ_ERROR_NO_VULKAN: return "SPARQ_ERROR_NO_VULKAN";
    case SPARQ_ERROR_NO_DEVICE: return "SPARQ_ERROR_NO_DEVICE";
    case SPARQ_ERROR_OUT_OF_HOST_MEMORY: return "SPARQ_ERROR_OUT_OF_HOST_MEMORY";
    case SPARQ_ERROR_OUT_OF_DEVICE_MEMORY: return "SPARQ_ERROR_OUT_OF_DEVICE_MEMORY";
    case SPARQ_ERROR_CAPACITY_EXCEEDED: return "SPARQ_ERROR_CAPACITY_EXCEEDED";
    case SPARQ_ERROR_DEVICE_LOST: return "SPARQ_ERROR_DEVICE_LOST";
    case SPARQ_ERROR_VULKAN: return "SPARQ_ERROR_VULKAN";
    case SPARQ_ERROR_INTERNAL: return "SPARQ_ERROR_INTERNAL";
    case SPARQ_STATUS_MAX_ENUM: break;
    }
    return "unknown status";
}

/* The table entries this host calls. A plugin of a later minor may have more;
 * one of an earlier minor may lack entries appended since, which is why a
 * host checks each one it needs rather than comparing minor versions. */
static const char *missing_entry(const sparq_api *api)
{
    if (!SPARQ_API_HAS(api, last_error))
        return "last_error";
    if (!SPARQ_API_HAS(api, get_plugin_info))
        return "get_plugin_info";
    if (!SPARQ_API_HAS(api, enumerate_devices))
        return "enumerate_devices";
    return NULL;
}

/* Negotiates with an opened module. On failure the module stays open; the
 * caller closes it. */
static int negotiate(void *handle, const char *path, const sparq_api **api, char *why, size_t why_size)
{
    /* dlsym returns void *; going through a union keeps the object-to-function
     * pointer conversion out of ISO C's sight without a cast warning. */
    union {
        void *object;
        sparq_entry_fn entry;
    } symbol;
    dlerror();
    symbol.object = dlsym(handle, SPARQ_ENTRY_SYMBOL);
    if (!symbol.object) {
        const char *detail = dlerror();
        snprintf(why, why_size, "%s is not a sparq plugin: it does not export %s (%s)", path,
                 SPARQ_ENTRY_SYMBOL, detail ? detail : "symbol is NULL");
        return -1;
    }

    const char *message = NULL;
    *api = NULL;
    sparq_status status = symbol.entry(SPARQ_ABI_VERSION_MAJOR, api, &message);
    if (status != SPARQ_SUCCESS) {
        snprintf(why, why_size, "%s refused ABI %u: %s (%d): %s", path, SPARQ_ABI_VERSION_MAJOR,
                 sparq_status_name(status), (int)status, message ? message : "(no message)");
        return -1;
    }
    /* A plugin that says yes must still hand back a table this host can use. */
    if (!*api) {
        snprintf(why, why_size, "%s accepted ABI %u but returned no function table", path,
                 SPARQ_ABI_VERSION_MAJOR);
        return -1;
    }
    if ((*api)->abi_major != SPARQ_ABI_VERSION_MAJOR) {
        snprintf(why, why_size, "%s accepted ABI %u but its table is for ABI %u", path,
                 SPARQ_ABI_VERSION_MAJOR, (unsigned)(*api)->abi_major);
        return -1;
    }
    const char *missing = missing_entry(*api);
    if (missing) {
        snprintf(why, why_size, "%s has an ABI %u table without %s (table size %u bytes)", path,
                 SPARQ_ABI_VERSION_MAJOR, missing, (unsigned)(*api)->struct_size);
        return -1;
    }
    return 0;
}

int load_plugin(const char *const *paths, size_t n_paths, loaded_plugin *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    if (why_size)
        why[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n_paths; i++) {
        /* RTLD_LOCAL: the plugin's internals must not satisfy, or be satisfied
         * by, symbols of anything else in the process. */
        void *handle = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            /* Keep every candidate's reason: when the last one fails too, the
             * user needs to see why each was rejected. */
            const char *detail = dlerror();
            int n = snprintf(why + used, why_size - used, "%scannot load plugin %s: %s", used ? "\n" : "",
                             paths[i], detail ? detail : "unknown dlopen error");
            if (n > 0 && used + (size_t)n < why_size)
                used += (size_t)n;
            continue;
        }
        if (negotiate(handle, paths[i], &out->api, why, why_size) != 0) {
            dlclose(handle);
            out->api = NULL;
            return -1;
        }
        out->handle = handle;
        snprintf(out->path, sizeof out->path, "%s", paths[i]);
        return 0;
    }
    if (n_paths == 0)
        snprintf(why, why_size, "no plugin path to try");
    return -1;
}

void unload_plugin(loaded_plugin *plugin)
{
    if (plugin->handle)
        dlclose(plugin->handle);
    memset(plugin, 0, sizeof *plugin);
}
