/*
 * How a host loads the sparq-vk plugin: dlopen the module, look up its one
 * exported symbol, ask for the ABI major this host was compiled against, and
 * check the table it gets back before calling anything in it.
 *
 * Every failure produces a sentence a user can act on (the dlerror() text,
 * the missing symbol, or the plugin's own message), never a crash.
 */
#ifndef SPARQ_INFO_PLUGIN_LOADER_H
#define SPARQ_INFO_PLUGIN_LOADER_H

#include <stddef.h>

#include <sparq/sparq.h>

typedef struct loaded_plugin {
    void *handle;          /* from dlopen; kept open while api is in use */
    const sparq_api *api;  /* the negotiated table, ABI SPARQ_ABI_VERSION_MAJOR */
    char path[4096];       /* the path that was opened */
} loaded_plugin;

/*
 * Tries each of `n_paths` candidate paths in order and keeps the first that
 * dlopen accepts. A candidate that opens but is not a usable plugin (no entry
 * symbol, ABI refused, malformed table) ends the search: loading a different
 * file after that would hide the problem. Returns 0 on success; otherwise
 * fills `why` with the reason and returns -1.
 */
int load_plugin(const char *const *paths, size_t n_paths, loaded_plugin *out, char *why, size_t why_size);

/* dlcloses the module. The table must not be used afterwards. */
void unload_plugin(loaded_plugin *plugin);

/* "SPARQ_ERROR_NO_DEVICE" etc.; "unknown status" for values this header does not name. */
const char *sparq_status_name(sparq_status status);

#endif
