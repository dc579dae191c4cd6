#include "report.h"

#include <errno.h>
#include <string.h>

static double gigabytes_per_second(const step_result *s)
{
    return s->gpu_us.median > 0.0 ? s->bytes / (s->gpu_us.median * 1e-6) / 1e9 : 0.0;
}

static double roofline_percent(const run_header *h, const step_result *s)
{
    return h->read_bytes_per_second > 0.0 ? 100.0 * gigabytes_per_second(s) * 1e9 / h->read_bytes_per_second : 0.0;
}

static double sparq_speedup(const config_result *r)
{
    return r->sparq.gpu_us.median > 0.0 ? r->dense.gpu_us.median / r->sparq.gpu_us.median : 0.0;
}

static double transfer_ratio(const config_result *r)
{
    return r->sparq.bytes / r->dense.bytes;
}

static const char *storage_name(sparq_dtype t)
{
    return t == SPARQ_DTYPE_F32 ? "f32" : "f16";
}

static const char *device_type_name(sparq_device_type t)
{
    switch (t) {
    case SPARQ_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case SPARQ_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case SPARQ_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case SPARQ_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

void print_run_header(FILE *f, const run_header *h)
{
    fprintf(f, "plugin   %s\n", h->plugin_path);
    fprintf(f, "         version %s, build %s, ABI %u.%u\n", h->plugin.product_version ? h->plugin.product_version : "?",
            h->plugin.build_id ? h->plugin.build_id : "?", h->plugin.abi_major, h->plugin.abi_minor);
    fprintf(f, "device   %s (%s, %04x:%04x, Vulkan %u.%u)\n", h->device.name, device_type_name(h->device.type),
            h->device.vendor_id, h->device.device_id, h->device.api_version >> 22, (h->device.api_version >> 12) & 0x3ffu);
    fprintf(f, "driver   %s %s\n", h->device.driver_name[0] ? h->device.driver_name : "(unknown)", h->device.driver_info);
    fprintf(f, "memory   %.1f GiB device-local, subgroup %u\n", (double)h->device.device_local_bytes / (1u << 30),
            h->device.subgroup_size);
    fprintf(f, "roofline %.1f GB/s streaming read (measured over %.0f MiB)\n", h->read_bytes_per_second / 1e9,
            (double)h->read_probe_bytes / (1u << 20));
    fprintf(f, "suite    %s, %u+ warm-up steps over %u ms + %u timed steps per figure; times are medians of GPU "
               "timestamps\n\n",
            h->suite, h->warmup, h->warmup_ms, h->reps);
}

void print_table_heading(FILE *f)
{
    fprintf(f, "%-10s %-5s %10s %10s %10s %10s %8s %6s %7s %6s %9s %8s %4s\n", "config", "step", "us", "p10", "p90",
            "MB", "GB/s", "%roof", "speedup", "xfer", "rel.err", "host us", "disp");
}

static void print_step(FILE *f, const run_header *h, const config_result *r, const step_result *s, int is_sparq)
{
    fprintf(f, "%-10s %-5s %10.1f %10.1f %10.1f %10.2f %8.1f %6.1f", r->cfg.name, is_sparq ? "sparq" : "dense",
            s->gpu_us.median, s->gpu_us.p10, s->gpu_us.p90, s->bytes / 1e6, gigabytes_per_second(s),
            roofline_percent(h, s));
    if (is_sparq)
        fprintf(f, " %6.2fx %6.3f %9.2e", sparq_speedup(r), transfer_ratio(r), r->rel_l2_error);
    else
        fprintf(f, " %7s %6s %9s", "", "", "");
    fprintf(f, " %8.1f %4u%s\n", s->host_us.median, s->dispatches, s->wall_clock_only ? " (wall clock)" : "");
    if (s->dispatches > 0 && !s->wall_clock_only) {
        fprintf(f, "%-10s   per stage (us):", "");
        for (uint32_t d = 0; d < 4 && s->dispatch_us[d] > 0.0; d++)
            fprintf(f, " %.1f", s->dispatch_us[d]);
        fprintf(f, "\n");
    }
}

void print_config_rows(FILE *f, const run_header *h, const config_result *r)
{
    const bench_config *c = &r->cfg;
    double tokens_per_s = r->append_seconds > 0.0 ? r->append_tokens / r->append_seconds : 0.0;
    double append_gbps = r->append_seconds > 0.0 ? r->append_bytes / r->append_seconds / 1e9 : 0.0;
    fprintf(f, "# %s: batch %u, heads %u/%u, dh %u, S %u, %s; r %u k %u l %u; %u cache%s rotated; "
               "append %.3g Mtok/s, %.2f GB/s; mean alpha %.3f\n",
            c->name, c->batch, c->n_heads, c->n_kv_heads, c->head_dim, c->context, storage_name(c->storage),
            r->params.r, r->params.k_eff, r->params.l, r->n_caches, r->n_caches == 1 ? "" : "s", tokens_per_s / 1e6,
            append_gbps, r->mean_alpha);
    print_step(f, h, r, &r->dense, 0);
    print_step(f, h, r, &r->sparq, 1);
    fflush(f);
}

static FILE *open_output(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "sparq-bench: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int close_output(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "sparq-bench: error writing %s\n", path);
        return -1;
    }
    return 0;
}

int write_csv(const char *path, const run_header *h, const config_result *results, size_t n)
{
    FILE *f = open_output(path);
    if (!f)
        return -1;
    fprintf(f, "config,batch,n_heads,n_kv_heads,head_dim,context,storage,r,k,l,n_caches,step,reps,timer,"
               "gpu_us_median,gpu_us_p10,gpu_us_p90,gpu_us_min,gpu_us_max,host_us_median,wall_us_median,"
               "dispatches,bytes,gbps,roofline_pct,read_roofline_gbps,speedup,transfer_ratio,rel_l2_error,mean_alpha,"
               "append_tokens_per_s,append_gbps\n");
    for (size_t i = 0; i < n; i++) {
        const config_result *r = &results[i];
        const bench_config *c = &r->cfg;
        for (int is_sparq = 0; is_sparq < 2; is_sparq++) {
            const step_result *s = is_sparq ? &r->sparq : &r->dense;
            fprintf(f, "%s,%u,%u,%u,%u,%u,%s,%u,%u,%u,%u,%s,%u,%s,", c->name, c->batch, c->n_heads, c->n_kv_heads,
                    c->head_dim, c->context, storage_name(c->storage), r->params.r, r->params.k_eff, r->params.l,
                    r->n_caches, is_sparq ? "sparq" : "dense", s->reps, s->wall_clock_only ? "wall" : "gpu");
            fprintf(f, "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%u,%.0f,%.3f,%.3f,%.3f,", s->gpu_us.median, s->gpu_us.p10,
                    s->gpu_us.p90, s->gpu_us.min, s->gpu_us.max, s->host_us.median, s->wall_us.median, s->dispatches,
                    s->bytes, gigabytes_per_second(s), roofline_percent(h, s), h->read_bytes_per_second / 1e9);
            if (is_sparq)
                fprintf(f, "%.4f,%.5f,%.6e,%.6f,", sparq_speedup(r), transfer_ratio(r), r->rel_l2_error, r->mean_alpha);
            else
                fprintf(f, ",,,,");
            fprintf(f, "%.1f,%.4f\n", r->append_seconds > 0 ? r->append_tokens / r->append_seconds : 0.0,
                    r->append_seconds > 0 ? r->append_bytes / r->append_seconds / 1e9 : 0.0);
        }
    }
    return close_output(f, path);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_summary(FILE *f, const char *key, const sample_summary *s)
{
    fprintf(f, "\"%s\": {\"median\": %.3f, \"p10\": %.3f, \"p90\": %.3f, \"min\": %.3f, \"max\": %.3f}", key, s->median,
            s->p10, s->p90, s->min, s->max);
}

static void json_step(FILE *f, const run_header *h, const step_result *s)
{
    fprintf(f, "{\"reps\": %u, \"timer\": \"%s\", \"dispatches\": %u, \"bytes\": %.0f, \"gbps\": %.3f, "
               "\"roofline_pct\": %.3f, ",
            s->reps, s->wall_clock_only ? "wall" : "gpu", s->dispatches, s->bytes, gigabytes_per_second(s),
            roofline_percent(h, s));
    json_summary(f, "gpu_us", &s->gpu_us);
    fputs(", ", f);
    json_summary(f, "host_us", &s->host_us);
    fputs(", ", f);
    json_summary(f, "wall_us", &s->wall_us);
    fputc('}', f);
}

int write_json(const char *path, const run_header *h, const config_result *results, size_t n)
{
    FILE *f = open_output(path);
    if (!f)
        return -1;
    fputs("{\n  \"plugin\": {\"path\": ", f);
    json_string(f, h->plugin_path);
    fputs(", \"version\": ", f);
    json_string(f, h->plugin.product_version);
    fputs(", \"build_id\": ", f);
    json_string(f, h->plugin.build_id);
    fprintf(f, ", \"abi\": \"%u.%u\"},\n  \"device\": {\"name\": ", h->plugin.abi_major, h->plugin.abi_minor);
    json_string(f, h->device.name);
    fprintf(f, ", \"type\": \"%s\", \"driver\": ", device_type_name(h->device.type));
    json_string(f, h->device.driver_name);
    fputs(", \"driver_info\": ", f);
    json_string(f, h->device.driver_info);
    fprintf(f, ", \"vendor_id\": %u, \"device_id\": %u, \"device_local_bytes\": %llu},\n", h->device.vendor_id,
            h->device.device_id, (unsigned long long)h->device.device_local_bytes);
    fprintf(f, "  \"read_roofline_gbps\": %.3f,\n  \"read_probe_bytes\": %llu,\n  \"suite\": ",
            h->read_bytes_per_second / 1e9, (unsigned long long)h->read_probe_bytes);
    json_string(f, h->suite);
    fprintf(f, ",\n  \"warmup\": %u,\n  \"warmup_ms\": %u,\n  \"reps\": %u,\n  \"configs\": [", h->warmup,
            h->warmup_ms, h->reps);
    for (size_t i = 0; i < n; i++) {
        const config_result *r = &results[i];
        const bench_config *c = &r->cfg;
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        json_string(f, c->name);
        fprintf(f, ", \"batch\": %u, \"n_heads\": %u, \"n_kv_heads\": %u, \"head_dim\": %u, \"context\": %u, "
                   "\"storage\": \"%s\", \"r\": %u, \"k\": %u, \"k_eff\": %u, \"l\": %u, \"n_caches\": %u,\n",
                c->batch, c->n_heads, c->n_kv_heads, c->head_dim, c->context, storage_name(c->storage), r->params.r,
                r->params.k, r->params.k_eff, r->params.l, r->n_caches);
        fprintf(f, "     \"append\": {\"seconds\": %.6f, \"tokens\": %.0f, \"bytes\": %.0f},\n", r->append_seconds,
                r->append_tokens, r->append_bytes);
        fputs("     \"dense\": ", f);
        json_step(f, h, &r->dense);
        fputs(",\n     \"sparq\": ", f);
        json_step(f, h, &r->sparq);
        fprintf(f, ",\n     \"speedup\": %.4f, \"transfer_ratio\": %.5f, \"rel_l2_error\": %.6e, \"mean_alpha\": %.6f}",
                sparq_speedup(r), transfer_ratio(r), r->rel_l2_error, r->mean_alpha);
    }
    fputs("\n  ]\n}\n", f);
    return close_output(f, path);
}
