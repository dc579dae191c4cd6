/*
 * A host with its own Vulkan device for the integration tests: the example
 * host's set-up (tools/example-host/vk_setup.c) plus what the tests need
 * around it: an import descriptor, an imported context, and buffers whose
 * contents the test reads and writes directly (host-visible).
 */
#ifndef SPARQ_INTEGRATION_HOST_H
#define SPARQ_INTEGRATION_HOST_H

#include "vk_setup.h"

#include <sparq/sparq.h>
#include <sparq/sparq_vulkan.h>

/* The import of `vk` with every feature its device has enabled. */
sparq_vulkan_import integration_import(const host_vulkan *vk);

/* An imported context (NULL and a printed reason on failure). */
sparq_context *integration_context(const sparq_vulkan_import *import);

/* A device tensor over bytes [offset, offset + size) of b. */
sparq_device_tensor integration_tensor(const host_buffer *b, VkDeviceSize offset, VkDeviceSize size);

/* cmocka: no validation message of error severity on this host's instance
 * (which sees the plugin's commands too) nor on test_plugin contexts. */
void integration_assert_no_validation_errors(const host_vulkan *vk);

#endif
