#include "sq_pipeline_stats.h"

#include "sq_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sq_pipeline_stats_supported(VkPhysicalDevice physical_device,
                                 VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR *feature)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(physical_device, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *ext = malloc(n * sizeof *ext);
    bool found = false;
    if (ext && vkEnumerateDeviceExtensionProperties(physical_device, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(ext[i].extensionName, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME) == 0;
    free(ext);
    if (!found) {
        fprintf(stderr, "sparq-vk: SPARQ_DEBUG_PIPELINE_STATS: the device has no %s\n",
                VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
        return false;
    }
    *feature = (VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR){
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE,
    };
    return true;
}

static void print_statistic(const VkPipelineExecutableStatisticKHR *s)
{
    switch (s->format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
        fprintf(stderr, " %s=%s", s->name, s->value.b32 ? "yes" : "no");
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
        fprintf(stderr, " %s=%lld", s->name, (long long)s->value.i64);
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
        fprintf(stderr, " %s=%llu", s->name, (unsigned long long)s->value.u64);
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
        fprintf(stderr, " %s=%g", s->name, s->value.f64);
        break;
    default:
        break;
    }
}

void sq_pipeline_stats_print(const sparq_context *ctx, VkPipeline pipeline, const char *label)
{
    VkPipelineInfoKHR info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = pipeline};
    uint32_t n_exec = 0;
    if (ctx->vk.vkGetPipelineExecutablePropertiesKHR(ctx->device, &info, &n_exec, NULL) != VK_SUCCESS)
        return;
    for (uint32_t e = 0; e < n_exec; e++) {
        VkPipelineExecutableInfoKHR ei = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, .pipeline = pipeline, .executableIndex = e};
        uint32_t n = 0;
        if (ctx->vk.vkGetPipelineExecutableStatisticsKHR(ctx->device, &ei, &n, NULL) != VK_SUCCESS || n == 0)
            continue;
        VkPipelineExecutableStatisticKHR *stats = calloc(n, sizeof *stats);
        if (!stats)
            return;
        for (uint32_t i = 0; i < n; i++)
            stats[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
        if (ctx->vk.vkGetPipelineExecutableStatisticsKHR(ctx->device, &ei, &n, stats) == VK_SUCCESS) {
            fprintf(stderr, "sparq-vk: pipeline %s:", label);
            for (uint32_t i = 0; i < n; i++)
                print_statistic(&stats[i]);
            fputc('\n', stderr);
        }
        free(stats);
    }
}
