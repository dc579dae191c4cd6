#include "device_report.h"

#include <inttypes.h>

static const char *device_type_name(sparq_device_type type)
{
    switch (type) {
    case SPARQ_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case SPARQ_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case SPARQ_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case SPARQ_DEVICE_TYPE_CPU: return "CPU";
    case SPARQ_DEVICE_TYPE_OTHER: return "other";
    case SPARQ_DEVICE_TYPE_MAX_ENUM: break;
    }
    return "unknown";
}

static const char *yes_no(uint32_t flag)
{
    return flag ? "yes" : "no";
}

/* Bytes as an exact count plus a rounded binary unit, so both scripts and
 * people can read it. */
static void print_bytes(FILE *to, const char *label, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    unsigned unit = 0;
    while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024.0;
        unit++;
    }
    fprintf(to, "    %-22s %" PRIu64 " bytes (%.4g %s)\n", label, bytes, value, units[unit]);
}

/* VK_MAKE_API_VERSION packs variant:3, major:7, minor:10, patch:12. Decoded
 * here by hand because this tool, like any host, needs no Vulkan headers. */
static void print_api_version(FILE *to, uint32_t version)
{
    unsigned variant = version >> 29;
    unsigned major = (version >> 22) & 0x7fu;
    unsigned minor = (version >> 12) & 0x3ffu;
    unsigned patch = version & 0xfffu;
    if (variant)
        fprintf(to, "    %-22s %u.%u.%u (variant %u)\n", "Vulkan API version", major, minor, patch, variant);
    else
        fprintf(to, "    %-22s %u.%u.%u\n", "Vulkan API version", major, minor, patch);
}

static void print_uuid(FILE *to, const uint8_t uuid[16])
{
    fprintf(to, "    %-22s ", "UUID");
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            fputc('-', to);
        fprintf(to, "%02x", uuid[i]);
    }
    fputc('\n', to);
}

void print_plugin_info(FILE *to, const char *path, const sparq_api *api, const sparq_plugin_info *info)
{
    fprintf(to, "plugin\n");
    fprintf(to, "    %-22s %s\n", "path", path);
    fprintf(to, "    %-22s %u.%u (this host was built for %u.%u)\n", "ABI version", (unsigned)info->abi_major,
            (unsigned)info->abi_minor, SPARQ_ABI_VERSION_MAJOR, SPARQ_ABI_VERSION_MINOR);
    fprintf(to, "    %-22s %u bytes\n", "function table", (unsigned)api->struct_size);
    fprintf(to, "    %-22s %s\n", "product version", info->product_version ? info->product_version : "(none)");
    fprintf(to, "    %-22s %s\n", "build id", info->build_id ? info->build_id : "(none)");
}

void print_device_info(FILE *to, const sparq_device_info *info)
{
    fprintf(to, "device %u: %.*s%s\n", (unsigned)info->index, (int)sizeof info->name, info->name,
            info->is_default ? "    <- default selection" : "");
    fprintf(to, "    %-22s %s\n", "type", device_type_name(info->type));
    fprintf(to, "    %-22s 0x%04x\n", "vendor id", (unsigned)info->vendor_id);
    fprintf(to, "    %-22s 0x%04x\n", "device id", (unsigned)info->device_id);
    fprintf(to, "    %-22s %.*s\n", "driver name", (int)sizeof info->driver_name,
            info->driver_name[0] ? info->driver_name : "(unknown)");
    fprintf(to, "    %-22s %.*s\n", "driver info", (int)sizeof info->driver_info,
            info->driver_info[0] ? info->driver_info : "(unknown)");
    fprintf(to, "    %-22s 0x%08x (vendor-encoded)\n", "driver version", (unsigned)info->driver_version);
    print_api_version(to, info->api_version);
    print_uuid(to, info->uuid);
    fprintf(to, "    %-22s %u\n", "subgroup size", (unsigned)info->subgroup_size);
    print_bytes(to, "shared memory", info->max_shared_memory);
    fprintf(to, "    %-22s %s\n", "float16 arithmetic", yes_no(info->has_float16));
    fprintf(to, "    %-22s %s\n", "16-bit storage", yes_no(info->has_storage16));
    print_bytes(to, "max storage buffer", info->max_storage_buffer_range);
    print_bytes(to, "device-local memory", info->device_local_bytes);
    if (info->usable)
        fprintf(to, "    %-22s yes\n", "usable");
    else
        fprintf(to, "    %-22s no: %.*s\n", "usable", (int)sizeof info->unusable_reason,
                info->unusable_reason[0] ? info->unusable_reason : "(no reason given)");
    fprintf(to, "    %-22s %s\n", "default selection", yes_no(info->is_default));
}
