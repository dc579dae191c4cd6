/* The readable table on stdout and the raw figures as CSV and JSON. */
#ifndef SPARQ_BENCH_REPORT_H
#define SPARQ_BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <sparq/sparq.h>

#include "config_run.h"

typedef struct run_header {
    const char *plugin_path;
    sparq_plugin_info plugin;
    sparq_device_info device;
    double read_bytes_per_second; /* measured streaming read roofline */
    uint64_t read_probe_bytes;    /* buffer the roofline was measured over */
    const char *suite;
    uint32_t warmup;
    uint32_t warmup_ms;
    uint32_t reps;
} run_header;

void print_run_header(FILE *f, const run_header *h);
void print_table_heading(FILE *f);
void print_config_rows(FILE *f, const run_header *h, const config_result *r);

int write_csv(const char *path, const run_header *h, const config_result *results, size_t n);
int write_json(const char *path, const run_header *h, const config_result *results, size_t n);

#endif
