/*
 * Stand-ins for plugins a host must refuse cleanly, built as shared modules
 * from this one file with one of these defined:
 *   FAKE_ABI_2_ONLY       implements ABI 2 and refuses every other major, as
 *                         a plugin from a future, incompatible release would;
 *   FAKE_WRONG_TABLE      says yes to any major but hands back an ABI 2
 *                         table: a broken plugin the host must catch itself;
 *   FAKE_NO_ENTRY         a shared object that exports something else.
 * Only the public header is used, as a third-party plugin would.
 */
#include <stdio.h>

#include <sparq/sparq.h>

#if defined(FAKE_NO_ENTRY)

int fake_plugin_not_an_entry(void);
int fake_plugin_not_an_entry(void)
{
    return 42;
}

#else

static const char *fake_last_error(void)
{
    return "fake plugin: nothing here works";
}

static const sparq_api abi_2_table = {
    .struct_size = sizeof(sparq_api),
    .abi_major = 2,
    .abi_minor = 0,
    .last_error = fake_last_error,
};

sparq_status sparq_plugin_entry(uint32_t abi_major, const sparq_api **api, const char **message);

sparq_status sparq_plugin_entry(uint32_t abi_major, const sparq_api **api, const char **message)
{
    /* Only ever called from one thread in the tests that use it. */
    static char refusal[160];
    if (!api) {
        if (message)
            *message = "fake plugin: api pointer is NULL";
        return SPARQ_ERROR_INVALID_ARGUMENT;
    }
#if defined(FAKE_ABI_2_ONLY)
    if (abi_major != 2) {
        *api = NULL;
        snprintf(refusal, sizeof refusal, "fake plugin implements ABI 2 only; the host asked for ABI %u",
                 (unsigned)abi_major);
        if (message)
            *message = refusal;
        return SPARQ_ERROR_ABI_MISMATCH;
    }
#else
    (void)abi_major;
    (void)refusal;
#endif
    *api = &abi_2_table;
    if (message)
        *message = "fake plugin: ok";
    return SPARQ_SUCCESS;
}

#endif
