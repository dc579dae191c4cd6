/*
 * sparq-generate - a reference host for the sparq-vk plugin: runs a
 * Llama-architecture GGUF model on the CPU and sends every attention call to
 * the plugin through its ABI (dlopen, entry point, function table), exactly
 * as an inference runtime would.
 */
#include "commands.h"
#include "half.h"

int main(int argc, char **argv)
{
    options opt;
    int r = options_parse(&opt, argc, argv);
    if (r)
        return r > 0 ? 0 : 2;
    half_init();
    switch (opt.cmd) {
    case COMMAND_GENERATE:
        return command_generate(&opt);
    case COMMAND_PERPLEXITY:
        return command_perplexity(&opt);
    case COMMAND_COMPARE:
        return command_compare(&opt);
    }
    return 2;
}
