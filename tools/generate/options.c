/*
 * options.c - command-line parsing. Numbers are parsed strictly (the whole
 * argument must be a number in range) so a typo is an error, not a zero.
 */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef SPARQ_GENERATE_MODEL_DEFAULT
#define SPARQ_GENERATE_MODEL_DEFAULT "tiny-bytes-gqa.gguf"
#endif
#ifndef SPARQ_GENERATE_TEXT_DEFAULT
#define SPARQ_GENERATE_TEXT_DEFAULT "war-and-peace-tail.txt"
#endif

void options_usage(FILE *out)
{
    fprintf(out,
            "usage:\n"
            "  sparq-generate generate   [--model F] --prompt TEXT [-n N] [--temp T] [--seed S] [common]\n"
            "  sparq-generate perplexity [--model F] [--text FILE] [--windows N] [--ctx N] [--batch N] [common]\n"
            "  sparq-generate compare    [--model F] [--text FILE] [--windows N] [--ctx N] [--batch N]\n"
            "                            [--settings \"r,k,l;r,k,l;...\"] [common]\n"
            "\n"
            "Runs a Llama-architecture GGUF model (F32/F16/Q8_0) on the CPU with every attention call\n"
            "sent to the sparq-vk plugin (or, with --cpu-attention, to a CPU implementation).\n"
            "\n"
            "perplexity and compare cut the text into windows of --ctx tokens, each starting from an\n"
            "empty cache, and decode --batch windows together: each window is a slot of one cache per\n"
            "layer, and each step appends one token to every unfinished window and attends for all of\n"
            "them in one call, as a runtime's batched decode step does; the matrix products then read\n"
            "each weight once per step for the whole batch. The results do not depend on --batch.\n"
            "  --windows N               evaluate the first N windows (default: all)\n"
            "  --batch N                 windows decoded together (default: all, at most %d; 1 = one\n"
            "                            at a time). Memory grows with N: N slots of --ctx positions.\n"
            "\n"
            "common options:\n"
            "  --attention dense|sparq   attention mode (default dense)\n"
            "  --r N --k N --l N         SparQ parameters (0 = the plugin's defaults)\n"
            "  --no-realloc              SparQ without mean-value reallocation\n"
            "  --storage f16|f32         K/V storage in the cache (default f16)\n"
            "  --device STR              device index, UUID or name substring for the plugin\n"
            "  --plugin PATH             plugin to load (default: $SPARQ_PLUGIN_PATH, else the installed one)\n"
            "  --cpu-attention           attention on the CPU inside this program, not the plugin\n"
            "  --validation              turn on the Vulkan validation layers\n"
            "  --threads N               threads for the matrix products (default: number of CPUs)\n"
            "  --ctx N                   cache capacity and window length (default: the model's context)\n"
            "\n"
            "defaults: --model $SPARQ_MODEL, else %s\n"
            "          --text  $SPARQ_TEXT, else %s\n"
            "          -n 256, --temp 0 (greedy), --seed 1, --settings \"32,1024,256;16,512,128;8,256,64\"\n",
            DEFAULT_MAX_BATCH, SPARQ_GENERATE_MODEL_DEFAULT, SPARQ_GENERATE_TEXT_DEFAULT);
}

static int parse_u32(const char *name, const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > UINT32_MAX || s[0] == '-') {
        fprintf(stderr, "sparq-generate: %s expects a non-negative integer, got '%s'\n", name, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *name, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= 0)) {
        fprintf(stderr, "sparq-generate: %s expects a non-negative number, got '%s'\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

int options_parse_settings(options *opt, const char *text)
{
    opt->n_settings = 0;
    const char *p = text;
    while (*p) {
        if (opt->n_settings == MAX_SETTINGS) {
            fprintf(stderr, "sparq-generate: --settings takes at most %d settings\n", MAX_SETTINGS);
            return -1;
        }
        unsigned r, k, l;
        int used = 0;
        if (sscanf(p, " %u , %u , %u %n", &r, &k, &l, &used) != 3 || used == 0 || r == 0 || k == 0 || l > k) {
            fprintf(stderr,
                    "sparq-generate: bad --settings entry at '%s': expected r,k,l with r >= 1, k >= 1, l <= k\n", p);
            return -1;
        }
        opt->settings[opt->n_settings++] = (sparq_setting){r, k, l};
        p += used;
        if (*p == ';')
            p++;
        else if (*p) {
            fprintf(stderr, "sparq-generate: bad --settings separator at '%s' (use ';')\n", p);
            return -1;
        }
    }
    if (opt->n_settings == 0) {
        fprintf(stderr, "sparq-generate: --settings is empty\n");
        return -1;
    }
    return 0;
}

int options_parse(options *opt, int argc, char **argv)
{
    memset(opt, 0, sizeof *opt);
    opt->n_predict = 256;
    opt->seed = 1;
    opt->mode = ATTENTION_DENSE;
    opt->storage = STORAGE_F16;
    const char *env_model = getenv("SPARQ_MODEL"), *env_text = getenv("SPARQ_TEXT");
    opt->model_path = env_model && *env_model ? env_model : SPARQ_GENERATE_MODEL_DEFAULT;
    opt->text_path = env_text && *env_text ? env_text : SPARQ_GENERATE_TEXT_DEFAULT;
    if (options_parse_settings(opt, "32,1024,256;16,512,128;8,256,64"))
        return -1;

    if (argc < 2) {
        options_usage(stderr);
        return -1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        options_usage(stdout);
        return 1;
    }
    if (!strcmp(argv[1], "generate"))
        opt->cmd = COMMAND_GENERATE;
    else if (!strcmp(argv[1], "perplexity"))
        opt->cmd = COMMAND_PERPLEXITY;
    else if (!strcmp(argv[1], "compare"))
        opt->cmd = COMMAND_COMPARE;
    else {
        fprintf(stderr, "sparq-generate: unknown command '%s'\n", argv[1]);
        options_usage(stderr);
        return -1;
    }

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            options_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--no-realloc")) {
            opt->no_realloc = 1;
            continue;
        }
        if (!strcmp(a, "--cpu-attention")) {
            opt->cpu_attention = 1;
            continue;
        }
        if (!strcmp(a, "--validation")) {
            opt->validation = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sparq-generate: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        uint32_t u = 0;
        int rc = 0;
        if (!strcmp(a, "--model"))
            opt->model_path = v;
        else if (!strcmp(a, "--prompt"))
            opt->prompt = v;
        else if (!strcmp(a, "--text"))
            opt->text_path = v;
        else if (!strcmp(a, "-n"))
            rc = parse_u32(a, v, &opt->n_predict);
        else if (!strcmp(a, "--temp"))
            rc = parse_double(a, v, &opt->temperature);
        else if (!strcmp(a, "--seed"))
            rc = parse_u32(a, v, &u), opt->seed = u;
        else if (!strcmp(a, "--windows"))
            rc = parse_u32(a, v, &opt->windows);
        else if (!strcmp(a, "--batch"))
            rc = parse_u32(a, v, &opt->batch);
        else if (!strcmp(a, "--ctx"))
            rc = parse_u32(a, v, &opt->ctx);
        else if (!strcmp(a, "--r"))
            rc = parse_u32(a, v, &opt->r);
        else if (!strcmp(a, "--k"))
            rc = parse_u32(a, v, &opt->k);
        else if (!strcmp(a, "--l"))
            rc = parse_u32(a, v, &opt->l);
        else if (!strcmp(a, "--threads"))
            rc = parse_u32(a, v, &u), opt->threads = u;
        else if (!strcmp(a, "--device"))
            opt->device = v;
        else if (!strcmp(a, "--plugin"))
            opt->plugin_path = v;
        else if (!strcmp(a, "--settings"))
            rc = options_parse_settings(opt, v);
        else if (!strcmp(a, "--attention")) {
            if (!strcmp(v, "dense"))
                opt->mode = ATTENTION_DENSE;
            else if (!strcmp(v, "sparq"))
                opt->mode = ATTENTION_SPARQ;
            else {
                fprintf(stderr, "sparq-generate: --attention expects dense or sparq, got '%s'\n", v);
                rc = -1;
            }
        } else if (!strcmp(a, "--storage")) {
            if (!strcmp(v, "f16"))
                opt->storage = STORAGE_F16;
            else if (!strcmp(v, "f32"))
                opt->storage = STORAGE_F32;
            else {
                fprintf(stderr, "sparq-generate: --storage expects f16 or f32, got '%s'\n", v);
                rc = -1;
            }
        } else {
            fprintf(stderr, "sparq-generate: unknown option '%s'\n", a);
            rc = -1;
        }
        if (rc)
            return -1;
    }
    if (opt->cmd == COMMAND_GENERATE && !opt->prompt) {
        fprintf(stderr, "sparq-generate: generate needs --prompt TEXT\n");
        return -1;
    }
    if (opt->k && opt->l > opt->k) {
        fprintf(stderr, "sparq-generate: --l (%u) must not exceed --k (%u)\n", opt->l, opt->k);
        return -1;
    }
    return 0;
}
