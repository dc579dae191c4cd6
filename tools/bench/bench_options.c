#include "bench_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_usage(FILE *f)
{
    fputs("usage: sparq-bench [options]\n"
          "Times dense and SparQ decode attention through the sparq-vk plugin ABI.\n\n"
          "  --plugin PATH       plugin to load (default: $SPARQ_PLUGIN_PATH, else the installed one)\n"
          "  --device STR        device index, UUID or name substring (default: $SPARQ_DEVICE, else the best)\n"
          "  --suite S           small | full | auto (default auto: small on a CPU driver, full on a GPU)\n"
          "  --config NAME       run only this built-in config (repeatable; any suite)\n"
          "  --custom SPEC       run this config: name,batch,heads,kvheads,dh,S,f16|f32[,r,k,l]\n"
          "                      (r, k, l of 0 take the plugin's defaults; repeatable)\n"
          "  --reps N            timed steps per figure (default 50 on a GPU, 5 on a CPU)\n"
          "  --warmup N          untimed steps first (default 10 on a GPU, 2 on a CPU)\n"
          "  --warmup-ms N       and warm-up steps until N ms have passed, so the GPU has left its\n"
          "                      idle clock (default 1000 on a GPU, 0 on a CPU)\n"
          "  --rotate-mib N      rotate copies of small caches until the steps cycle through N MiB,\n"
          "                      so data is read from memory, not the last-level cache\n"
          "                      (default 256 on a GPU, 64 on a CPU; 0 = never)\n"
          "  --seed N            random inputs' seed (default 1)\n"
          "  --validation        turn on the Vulkan validation layers (slow)\n"
          "  --path P            host | recorded (default host): blocking calls with host arrays on the\n"
          "                      plugin's device, or record_attend into the bench's own command buffer\n"
          "                      on a device the bench creates and imports; host_us is then the cost of\n"
          "                      recording one step\n"
          "  --csv FILE          write the raw figures as CSV\n"
          "  --json FILE         write the raw figures as JSON\n"
          "  --list              list the built-in configs and exit\n"
          "  --help              this text\n",
          f);
}

static void print_builtin_configs(void)
{
    for (int full = 0; full < 2; full++) {
        size_t n = 0;
        const bench_config *suite = bench_suite(full, &n);
        printf("%s suite:\n", full ? "full" : "small");
        for (size_t i = 0; i < n; i++) {
            const bench_config *c = &suite[i];
            printf("  %-10s batch %3u, heads %2u/%2u, dh %3u, S %6u, %s, r %u k %u l %u%s\n", c->name, c->batch,
                   c->n_heads, c->n_kv_heads, c->head_dim, c->context,
                   c->storage == SPARQ_DTYPE_F32 ? "f32" : "f16", c->r, c->k, c->l,
                   c->r || c->k || c->l ? "" : " (defaults)");
        }
    }
}

static int parse_number(const char *flag, const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = text ? strtoull(text, &end, 10) : 0;
    if (!text || end == text || *end != '\0' || text[0] == '-' || v > max) {
        fprintf(stderr, "sparq-bench: %s wants a number up to %llu, not '%s'\n", flag, (unsigned long long)max,
                text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

int parse_bench_options(int argc, char **argv, bench_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->rotate_mib = -1;
    opts->warmup_ms = -1;
    opts->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;
        uint64_t n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return 1;
        } else if (strcmp(a, "--list") == 0) {
            print_builtin_configs();
            return 1;
        } else if (strcmp(a, "--validation") == 0) {
            opts->validation = 1;
            takes_value = 0;
        } else if (!value) {
            fprintf(stderr, "sparq-bench: unknown option or missing value: %s\n", a);
            print_usage(stderr);
            return -1;
        } else if (strcmp(a, "--plugin") == 0) {
            opts->plugin_path = value;
        } else if (strcmp(a, "--device") == 0) {
            opts->device = value;
        } else if (strcmp(a, "--csv") == 0) {
            opts->csv_path = value;
        } else if (strcmp(a, "--json") == 0) {
            opts->json_path = value;
        } else if (strcmp(a, "--path") == 0) {
            if (strcmp(value, "host") == 0)
                opts->path = PATH_HOST;
            else if (strcmp(value, "recorded") == 0)
                opts->path = PATH_RECORDED;
            else {
                fprintf(stderr, "sparq-bench: --path wants host or recorded, not '%s'\n", value);
                return -1;
            }
        } else if (strcmp(a, "--suite") == 0) {
            if (strcmp(value, "small") == 0)
                opts->suite = SUITE_SMALL;
            else if (strcmp(value, "full") == 0)
                opts->suite = SUITE_FULL;
            else if (strcmp(value, "auto") == 0)
                opts->suite = SUITE_AUTO;
            else {
                fprintf(stderr, "sparq-bench: --suite wants small, full or auto, not '%s'\n", value);
                return -1;
            }
        } else if (strcmp(a, "--config") == 0) {
            if (!bench_find_builtin(value)) {
                fprintf(stderr, "sparq-bench: no built-in config '%s' (see --list)\n", value);
                return -1;
            }
            if (opts->n_config_names == BENCH_MAX_SELECTED) {
                fprintf(stderr, "sparq-bench: at most %d --config\n", BENCH_MAX_SELECTED);
                return -1;
            }
            opts->config_names[opts->n_config_names++] = value;
        } else if (strcmp(a, "--custom") == 0) {
            char why[256];
            if (opts->n_custom == BENCH_MAX_SELECTED) {
                fprintf(stderr, "sparq-bench: at most %d --custom\n", BENCH_MAX_SELECTED);
                return -1;
            }
            if (bench_config_parse(value, &opts->custom[opts->n_custom], why, sizeof why) != 0) {
                fprintf(stderr, "sparq-bench: %s\n", why);
                return -1;
            }
            opts->n_custom++;
        } else if (strcmp(a, "--reps") == 0) {
            if (parse_number(a, value, 1000000, &n) != 0)
                return -1;
            if (n == 0) {
                fprintf(stderr, "sparq-bench: --reps must be at least 1\n");
                return -1;
            }
            opts->reps = (uint32_t)n;
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_number(a, value, 1000000, &n) != 0)
                return -1;
            opts->warmup = (uint32_t)n;
            opts->warmup_set = 1;
        } else if (strcmp(a, "--warmup-ms") == 0) {
            if (parse_number(a, value, 600000, &n) != 0)
                return -1;
            opts->warmup_ms = (int64_t)n;
        } else if (strcmp(a, "--rotate-mib") == 0) {
            if (parse_number(a, value, 1u << 24, &n) != 0)
                return -1;
            opts->rotate_mib = (int64_t)n;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_number(a, value, UINT64_MAX, &n) != 0)
                return -1;
            opts->seed = n;
        } else {
            fprintf(stderr, "sparq-bench: unknown option %s\n", a);
            print_usage(stderr);
            return -1;
        }
        i += takes_value;
    }
    return 0;
}
