/*
 * SPARQ_DEBUG_PIPELINE_STATS=1: each compute pipeline, when built, prints
 * the driver's own statistics of its code (registers, spills, shared
 * memory: whatever VK_KHR_pipeline_executable_properties reports) to
 * stderr. For tuning the kernels' register-held arrays on a real GPU,
 * where the compiled code cannot be read otherwise. Only on contexts that
 * create their own device, and only where the driver has the extension.
 */
#ifndef SQ_PIPELINE_STATS_H
#define SQ_PIPELINE_STATS_H

#include <stdbool.h>
#include <volk.h>

typedef struct sparq_context sparq_context;

/* Whether physical_device can give the statistics (if not, says so on
 * stderr); then *feature is filled in, for the caller to chain into the
 * device's create info with the extension. Called only when the variable
 * asks for them. */
bool sq_pipeline_stats_supported(VkPhysicalDevice physical_device,
                                 VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR *feature);

/* Prints the statistics of every executable of pipeline, labelled. */
void sq_pipeline_stats_print(const sparq_context *ctx, VkPipeline pipeline, const char *label);

#endif
