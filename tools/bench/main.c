/* sparq-bench: loads the sparq-vk plugin as a host would and measures dense
 * and SparQ decode attention against the device's own read roofline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sparq/sparq.h>

#include "bench_config.h"
#include "bench_options.h"
#include "config_run.h"
#include "plugin_loader.h"
#include "recorded_steps.h"
#include "report.h"

#define MIB (1ull << 20)

typedef struct bench_plan {
    bench_config configs[2 * BENCH_MAX_SELECTED + 16];
    size_t n_configs;
    const char *suite_name;
} bench_plan;

static int fail_call(const sparq_api *api, const char *call, sparq_status status)
{
    fprintf(stderr, "sparq-bench: %s failed (status %d): %s\n", call, (int)status, api->last_error());
    return -1;
}

static void plan_configs(const bench_options *opts, int is_cpu, bench_plan *plan)
{
    plan->n_configs = 0;
    if (opts->n_config_names || opts->n_custom) {
        for (size_t i = 0; i < opts->n_config_names; i++)
            plan->configs[plan->n_configs++] = *bench_find_builtin(opts->config_names[i]);
        for (size_t i = 0; i < opts->n_custom; i++)
            plan->configs[plan->n_configs++] = opts->custom[i];
        plan->suite_name = "selected";
        return;
    }
    int full = opts->suite == SUITE_FULL || (opts->suite == SUITE_AUTO && !is_cpu);
    size_t n = 0;
    const bench_config *suite = bench_suite(full, &n);
    for (size_t i = 0; i < n; i++)
        plan->configs[plan->n_configs++] = suite[i];
    plan->suite_name = full ? "full" : "small";
}

static int run_all(const loaded_plugin *plugin, const bench_options *opts)
{
    const sparq_api *api = plugin->api;
    run_header header;
    memset(&header, 0, sizeof header);
    header.plugin_path = plugin->path;
    header.plugin.struct_size = sizeof header.plugin;
    sparq_status status = api->get_plugin_info(&header.plugin);
    if (status != SPARQ_SUCCESS)
        return fail_call(api, "get_plugin_info", status);

    sparq_context_desc desc = {
        .struct_size = sizeof desc,
        .flags = opts->validation ? SPARQ_CONTEXT_ENABLE_VALIDATION : 0u,
        .device = opts->device,
    };
    /* --path recorded: the bench makes its own device, as a runtime on
     * Vulkan would, and gives it to the plugin. */
    bench_vulkan *own = NULL;
    if (opts->path == PATH_RECORDED) {
        char why[256];
        if (opts->device)
            setenv("SPARQ_DEVICE", opts->device, 1);
        if (opts->validation)
            setenv("SPARQ_VALIDATION", "1", 1);
        if (!SPARQ_API_HAS(api, record_attend)) {
            fprintf(stderr, "sparq-bench: --path recorded needs an ABI 1.1 plugin (this one is %u.%u)\n",
                    api->abi_major, api->abi_minor);
            return -1;
        }
        if (!(own = bench_vulkan_open(why, sizeof why))) {
            fprintf(stderr, "sparq-bench: %s\n", why);
            return -1;
        }
        desc.device = NULL;
        desc.flags = 0; /* validation is the bench's instance's */
        desc.vulkan_import = bench_vulkan_import(own);
    }
    sparq_context *ctx = NULL;
    status = api->context_create(&desc, &ctx);
    if (status != SPARQ_SUCCESS) {
        bench_vulkan_close(own);
        return fail_call(api, "context_create", status);
    }

    int result = -1;
    config_result *results = NULL;
    header.device.struct_size = sizeof header.device;
    status = api->context_get_device_info(ctx, &header.device);
    if (status != SPARQ_SUCCESS) {
        fail_call(api, "context_get_device_info", status);
        goto done;
    }
    /* A CPU driver (lavapipe) gets a small suite, a small roofline probe and
     * few repetitions, so the whole run stays under a minute on 2 cores. */
    const int is_cpu = header.device.type == SPARQ_DEVICE_TYPE_CPU;
    bench_plan plan;
    plan_configs(opts, is_cpu, &plan);
    header.suite = plan.suite_name;
    header.reps = opts->reps ? opts->reps : (is_cpu ? 5u : 50u);
    header.warmup = opts->warmup_set ? opts->warmup : (is_cpu ? 2u : 10u);
    header.warmup_ms = (uint32_t)(opts->warmup_ms >= 0 ? opts->warmup_ms : (is_cpu ? 0 : 1000));

    uint64_t probe = is_cpu ? 64 * MIB : 1024 * MIB;
    if (header.device.device_local_bytes && probe > header.device.device_local_bytes / 4)
        probe = header.device.device_local_bytes / 4;
    header.read_probe_bytes = probe;
    fprintf(stderr, "measuring streaming read bandwidth over %.0f MiB\n", (double)probe / MIB);
    status = api->measure_read_bandwidth(ctx, probe, is_cpu ? 5u : 20u, &header.read_bytes_per_second);
    if (status != SPARQ_SUCCESS) {
        fail_call(api, "measure_read_bandwidth", status);
        goto done;
    }

    run_options run = {
        .warmup = header.warmup,
        .warmup_seconds = header.warmup_ms * 1e-3,
        .reps = header.reps,
        .rotate_bytes = (uint64_t)(opts->rotate_mib >= 0 ? opts->rotate_mib : (is_cpu ? 64 : 256)) * MIB,
        .memory_fraction = 0.4,
        .device_local_bytes = header.device.device_local_bytes,
        .append_chunk = is_cpu ? 256u : 1024u,
        .seed = opts->seed,
        .recorded = own,
    };
    results = calloc(plan.n_configs, sizeof *results);
    if (!results) {
        fprintf(stderr, "sparq-bench: out of host memory\n");
        goto done;
    }

    printf("path: %s\n", own ? "recorded (record_attend into the bench's command buffer; host_us = recording)"
                               : "host (blocking attend with host arrays)");
    print_run_header(stdout, &header);
    print_table_heading(stdout);
    size_t n_done = 0;
    for (size_t i = 0; i < plan.n_configs; i++) {
        char why[1024];
        fprintf(stderr, "[%s] config %zu of %zu\n", plan.configs[i].name, i + 1, plan.n_configs);
        if (run_config(api, ctx, &plan.configs[i], &run, &results[i], why, sizeof why) != 0) {
            fprintf(stderr, "sparq-bench: %s\n", why);
            goto write_files;
        }
        print_config_rows(stdout, &header, &results[i]);
        n_done++;
    }
    result = 0;
write_files:
    /* Figures of the configs that did finish are still worth keeping. */
    if (opts->csv_path && write_csv(opts->csv_path, &header, results, n_done) != 0)
        result = -1;
    if (opts->json_path && write_json(opts->json_path, &header, results, n_done) != 0)
        result = -1;
done:
    free(results);
    status = api->context_destroy(ctx);
    if (status != SPARQ_SUCCESS) {
        fail_call(api, "context_destroy", status);
        result = -1;
    }
    if (own && bench_vulkan_validation_errors(own) > 0) {
        fprintf(stderr, "sparq-bench: %u validation errors\n", bench_vulkan_validation_errors(own));
        result = -1;
    }
    bench_vulkan_close(own);
    return result;
}

int main(int argc, char **argv)
{
    bench_options opts;
    int parsed = parse_bench_options(argc, argv, &opts);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    loaded_plugin plugin;
    char why[4096 + 512];
    if (load_plugin(opts.plugin_path, &plugin, why, sizeof why) != 0) {
        fprintf(stderr, "sparq-bench: %s\n", why);
        return 1;
    }
    int result = run_all(&plugin, &opts);
    unload_plugin(&plugin);
    return result == 0 ? 0 : 1;
}
