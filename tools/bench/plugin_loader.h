/* Loads the plugin exactly as a host does: dlopen, one symbol, version
 * negotiation, then only the function table. */
#ifndef SPARQ_BENCH_PLUGIN_LOADER_H
#define SPARQ_BENCH_PLUGIN_LOADER_H

#include <stddef.h>

#include <sparq/sparq.h>

typedef struct loaded_plugin {
    void *handle;
    const sparq_api *api;
    char path[4096];
} loaded_plugin;

/* Tries `explicit_path` if given, else $SPARQ_PLUGIN_PATH, else the
 * installed location, else the plugin in the build tree this program was
 * built in. 0 on success; otherwise `why` says what failed. */
int load_plugin(const char *explicit_path, loaded_plugin *out, char *why, size_t why_size);
void unload_plugin(loaded_plugin *plugin);

#endif
