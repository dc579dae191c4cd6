/*
 * options.h - the command line of sparq-generate.
 */
#ifndef SPARQ_GENERATE_OPTIONS_H
#define SPARQ_GENERATE_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "attention.h"

typedef enum command {
    COMMAND_GENERATE = 1,
    COMMAND_PERPLEXITY,
    COMMAND_COMPARE,
} command;

#define MAX_SETTINGS 16
#define DEFAULT_MAX_BATCH 16

typedef struct sparq_setting {
    uint32_t r, k, l;
} sparq_setting;

typedef struct options {
    command cmd;
    const char *model_path;
    const char *prompt;
    const char *text_path;
    uint32_t n_predict;
    double temperature; /* 0 = greedy */
    uint64_t seed;
    uint32_t windows; /* 0 = every window of the text */
    uint32_t ctx;     /* 0 = the model's context length */
    uint32_t batch;   /* windows decoded together; 0 = all, at most DEFAULT_MAX_BATCH */
    attention_mode mode;
    uint32_t r, k, l;
    int no_realloc;
    attention_storage storage;
    const char *device;
    const char *plugin_path;
    int cpu_attention;
    int validation;
    unsigned threads; /* 0 = number of CPUs */
    sparq_setting settings[MAX_SETTINGS];
    uint32_t n_settings;
} options;

/* Parses argv; on error prints the reason and the usage to stderr and
 * returns -1. Returns 1 (after printing the usage to stdout) for --help. */
int options_parse(options *opt, int argc, char **argv);

/* Parses "r,k,l;r,k,l;..." into opt->settings. */
int options_parse_settings(options *opt, const char *text);

void options_usage(FILE *out);

#endif
