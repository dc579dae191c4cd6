/* Human-readable text for what the plugin reports about itself and the devices it sees. */
#ifndef SPARQ_INFO_DEVICE_REPORT_H
#define SPARQ_INFO_DEVICE_REPORT_H

#include <stdio.h>

#include <sparq/sparq.h>

void print_plugin_info(FILE *to, const char *path, const sparq_api *api, const sparq_plugin_info *info);

/* One device, every field of sparq_device_info, with a marker on the one a
 * context picks when no device is named. */
void print_device_info(FILE *to, const sparq_device_info *info);

#endif
