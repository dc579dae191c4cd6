/* Command-line options of sparq-bench. */
#ifndef SPARQ_BENCH_OPTIONS_H
#define SPARQ_BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "bench_config.h"

#define BENCH_MAX_SELECTED 32

typedef enum bench_suite_choice { SUITE_AUTO = 0, SUITE_SMALL, SUITE_FULL } bench_suite_choice;

/* How each step reaches the plugin (docs/INTEGRATION.md). */
typedef enum bench_path {
    PATH_HOST = 0, /* blocking attend with host arrays, on the plugin's own device */
    PATH_RECORDED, /* record_attend into the bench's command buffer, on the bench's own device */
} bench_path;

typedef struct bench_options {
    const char *plugin_path;
    const char *device;
    const char *csv_path;
    const char *json_path;
    bench_suite_choice suite;
    uint32_t reps;        /* 0 = by device type */
    uint32_t warmup;      /* valid when warmup_set */
    int warmup_set;
    int64_t warmup_ms;    /* -1 = by device type */
    int64_t rotate_mib;   /* -1 = by device type */
    uint64_t seed;
    int validation;
    bench_path path;
    /* Named built-in configs and custom ones; when any is given only they run. */
    const char *config_names[BENCH_MAX_SELECTED];
    size_t n_config_names;
    bench_config custom[BENCH_MAX_SELECTED];
    size_t n_custom;
} bench_options;

/* 0: run; 1: help was printed, exit 0; -1: bad usage, message printed. */
int parse_bench_options(int argc, char **argv, bench_options *opts);

#endif
