#include "plugin_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SPARQ_BENCH_INSTALLED_PLUGIN
#define SPARQ_BENCH_INSTALLED_PLUGIN ""
#endif
#ifndef SPARQ_BENCH_BUILD_TREE_PLUGIN
#define SPARQ_BENCH_BUILD_TREE_PLUGIN ""
#endif

static const char *choose_path(const char *explicit_path)
{
    if (explicit_path && explicit_path[0])
        return explicit_path;
    const char *env = getenv("SPARQ_PLUGIN_PATH");
    if (env && env[0])
        return env;
    /* The build-tree copy only matters when running uninstalled, so it is
     * the last resort, after what `meson install` put in place. */
    if (SPARQ_BENCH_INSTALLED_PLUGIN[0] && access(SPARQ_BENCH_INSTALLED_PLUGIN, R_OK) == 0)
        return SPARQ_BENCH_INSTALLED_PLUGIN;
    if (SPARQ_BENCH_BUILD_TREE_PLUGIN[0] && access(SPARQ_BENCH_BUILD_TREE_PLUGIN, R_OK) == 0)
        return SPARQ_BENCH_BUILD_TREE_PLUGIN;
    return SPARQ_BENCH_INSTALLED_PLUGIN;
}

int load_plugin(const char *explicit_path, loaded_plugin *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    const char *path = choose_path(explicit_path);
    if (!path[0]) {
        snprintf(why, why_size, "no plugin path: pass --plugin PATH or set SPARQ_PLUGIN_PATH");
        return -1;
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    out->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!out->handle) {
        snprintf(why, why_size, "cannot load plugin %s: %s (pass --plugin PATH or set SPARQ_PLUGIN_PATH)", path,
                 dlerror());
        return -1;
    }
    sparq_entry_fn entry = (sparq_entry_fn)dlsym(out->handle, SPARQ_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(why, why_size, "%s does not export %s: not a sparq-vk plugin", path, SPARQ_ENTRY_SYMBOL);
        unload_plugin(out);
        return -1;
    }
    const char *message = NULL;
    sparq_status status = entry(SPARQ_ABI_VERSION_MAJOR, &out->api, &message);
    if (status != SPARQ_SUCCESS || !out->api) {
        snprintf(why, why_size, "%s refused ABI %u (status %d): %s", path, SPARQ_ABI_VERSION_MAJOR, (int)status,
                 message ? message : "no message");
        unload_plugin(out);
        return -1;
    }
    if (!SPARQ_API_HAS(out->api, measure_read_bandwidth)) {
        snprintf(why, why_size, "%s: function table too old (struct_size %u) for this benchmark", path,
                 out->api->struct_size);
        unload_plugin(out);
        return -1;
    }
    return 0;
}

void unload_plugin(loaded_plugin *plugin)
{
    if (plugin->handle)
        dlclose(plugin->handle);
    plugin->handle = NULL;
    plugin->api = NULL;
}
