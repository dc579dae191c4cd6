/*
 * sparq-info: loads the sparq-vk plugin the way a host does and reports what
 * it sees: the plugin's versions, then every Vulkan device with the fields
 * sparq-vk cares about, marking the one a context would pick by default.
 *
 * It is also the reference for how a host loads the plugin: see
 * plugin_loader.c for the dlopen/negotiation half and main() below for the
 * order of calls. A host needs only <sparq/sparq.h> and libdl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sparq/sparq.h>

#include "device_report.h"
#include "plugin_loader.h"

/* Where `meson install` puts the plugin; set by tools/info/meson.build. */
#ifndef SPARQ_INFO_INSTALLED_PLUGIN
#define SPARQ_INFO_INSTALLED_PLUGIN "/usr/local/lib/sparq/libsparq_vk.so"
#endif
/* Last resort: let the dynamic loader search LD_LIBRARY_PATH, the cache etc. */
#define SPARQ_INFO_PLUGIN_SONAME "libsparq_vk.so"

enum exit_code {
    EXIT_OK = 0,
    EXIT_NO_PLUGIN = 1, /* could not be loaded, is not a plugin, or refused our ABI */
    EXIT_USAGE = 2,
    EXIT_NO_DEVICE = 3, /* no Vulkan loader, no device, or no usable device */
};

static void print_usage(FILE *to, const char *argv0)
{
    fprintf(to,
            "usage: %s [--plugin PATH]\n"
            "\n"
            "Loads the sparq-vk plugin, negotiates ABI %u and lists the plugin's\n"
            "versions and every Vulkan device it sees, marking the default one.\n"
            "\n"
            "options:\n"
            "  --plugin PATH   the plugin to load. Without it: $SPARQ_PLUGIN_PATH if set,\n"
            "                  else %s,\n"
            "                  else %s through the dynamic loader's search path.\n"
            "  -h, --help      this text\n"
            "\n"
            "environment:\n"
            "  SPARQ_PLUGIN_PATH  plugin path when --plugin is not given\n"
            "  SPARQ_DEVICE       device a context picks by default (index, UUID or name)\n"
            "\n"
            "exit status:\n"
            "  0  the plugin loaded and at least one usable device was found\n"
            "  1  the plugin could not be loaded, is not a sparq plugin, or refused ABI %u\n"
            "  2  usage error\n"
            "  3  no Vulkan loader, no Vulkan device, or no device sparq-vk can use\n",
            argv0, SPARQ_ABI_VERSION_MAJOR, SPARQ_INFO_INSTALLED_PLUGIN, SPARQ_INFO_PLUGIN_SONAME,
            SPARQ_ABI_VERSION_MAJOR);
}

/* Returns EXIT_OK and sets *plugin_path (NULL if not given), or a usage exit
 * code (with *show_help set for --help, which is not an error). */
static int parse_arguments(int argc, char **argv, const char **plugin_path, int *show_help)
{
    *plugin_path = NULL;
    *show_help = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            *show_help = 1;
            return EXIT_OK;
        }
        if (strcmp(arg, "--plugin") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "%s: --plugin needs a path\n", argv[0]);
                return EXIT_USAGE;
            }
            *plugin_path = argv[++i];
        } else if (strncmp(arg, "--plugin=", 9) == 0 && arg[9] != '\0') {
            *plugin_path = arg + 9;
        } else {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", argv[0], arg);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* Lists devices. Returns the exit code. */
static int report_devices(const sparq_api *api)
{
    /* Errors go to stderr; flush first so that, with both streams in one
     * pipe, they appear after what was printed before them. */
    fflush(stdout);
    /* Ask for the count first, then for the entries: the usual two-call
     * pattern. Each element's struct_size says which fields this host knows. */
    uint32_t count = 0;
    sparq_status status = api->enumerate_devices(NULL, 0, &count);
    if (status != SPARQ_SUCCESS) {
        fprintf(stderr, "cannot list Vulkan devices: %s (%d): %s\n", sparq_status_name(status), (int)status,
                api->last_error());
        return EXIT_NO_DEVICE;
    }
    if (count == 0) {
        printf("\nno Vulkan devices\n");
        fprintf(stderr, "no Vulkan device found: %s\n", api->last_error());
        return EXIT_NO_DEVICE;
    }

    sparq_device_info *infos = calloc(count, sizeof *infos);
    if (!infos) {
        fprintf(stderr, "out of memory listing %u devices\n", (unsigned)count);
        return EXIT_NO_DEVICE;
    }
    for (uint32_t i = 0; i < count; i++)
        infos[i].struct_size = sizeof infos[i];
    uint32_t written = count;
    status = api->enumerate_devices(infos, count, &written);
    if (status != SPARQ_SUCCESS) {
        fprintf(stderr, "cannot list Vulkan devices: %s (%d): %s\n", sparq_status_name(status), (int)status,
                api->last_error());
        free(infos);
        return EXIT_NO_DEVICE;
    }
    /* The list can change between the calls (a device hot-plugged or gone). */
    if (written < count)
        count = written;

    const char *chosen = getenv("SPARQ_DEVICE");
    printf("\n%u Vulkan device%s", (unsigned)count, count == 1 ? "" : "s");
    if (chosen && chosen[0])
        printf(" (SPARQ_DEVICE=%s sets the default)", chosen);
    printf("\n");
    unsigned usable = 0;
    unsigned defaults = 0;
    for (uint32_t i = 0; i < count; i++) {
        printf("\n");
        print_device_info(stdout, &infos[i]);
        usable += infos[i].usable != 0;
        defaults += infos[i].is_default != 0;
    }
    free(infos);

    if (usable == 0) {
        fprintf(stderr, "no Vulkan device has what sparq-vk needs (see 'usable' above)\n");
        return EXIT_NO_DEVICE;
    }
    if (defaults == 0)
        printf("\nno device matches the default selection%s\n",
               chosen && chosen[0] ? ": check SPARQ_DEVICE" : "");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *plugin_path = NULL;
    int show_help = 0;
    int code = parse_arguments(argc, argv, &plugin_path, &show_help);
    if (code != EXIT_OK)
        return code;
    if (show_help) {
        print_usage(stdout, argv[0]);
        return EXIT_OK;
    }

    /* An explicit path is the only candidate: silently loading some other
     * plugin instead would make the tool lie about the one asked for. */
    const char *candidates[2];
    size_t n_candidates = 0;
    const char *from_env = getenv("SPARQ_PLUGIN_PATH");
    if (plugin_path) {
        candidates[n_candidates++] = plugin_path;
    } else if (from_env && from_env[0]) {
        candidates[n_candidates++] = from_env;
    } else {
        candidates[n_candidates++] = SPARQ_INFO_INSTALLED_PLUGIN;
        candidates[n_candidates++] = SPARQ_INFO_PLUGIN_SONAME;
    }

    loaded_plugin plugin;
    char why[8192];
    if (load_plugin(candidates, n_candidates, &plugin, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return EXIT_NO_PLUGIN;
    }
    const sparq_api *api = plugin.api;

    sparq_plugin_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    sparq_status status = api->get_plugin_info(&info);
    if (status != SPARQ_SUCCESS) {
        fprintf(stderr, "%s: get_plugin_info failed: %s (%d): %s\n", plugin.path, sparq_status_name(status),
                (int)status, api->last_error());
        unload_plugin(&plugin);
        return EXIT_NO_PLUGIN;
    }
    print_plugin_info(stdout, plugin.path, api, &info);

    code = report_devices(api);
    fflush(stdout);
    unload_plugin(&plugin);
    return code;
}
