/*
 * sparq.h must compile on its own as strict C11: it is the first and only
 * include here, and this file is built with -std=c11 -Wall -Wextra
 * -pedantic -Werror. Running it checks that the macros behave.
 */
#include <sparq/sparq.h>

static const char *stub_last_error(void)
{
    return "";
}

int main(void)
{
    sparq_api table = {0};
    table.struct_size = (uint32_t)offsetof(sparq_api, get_plugin_info);
    table.abi_major = SPARQ_ABI_VERSION_MAJOR;
    table.last_error = stub_last_error;
    const sparq_api *api = &table;

    sparq_cache_desc desc = {.struct_size = sizeof(sparq_cache_desc), .head_dim = SPARQ_MAX_HEAD_DIM};
    const char entry_name[] = SPARQ_ENTRY_SYMBOL;

    int ok = SPARQ_API_HAS(api, last_error) && !SPARQ_API_HAS(api, get_plugin_info) &&
             !SPARQ_API_HAS(api, measure_read_bandwidth) && desc.storage == SPARQ_DTYPE_DEFAULT &&
             sizeof entry_name == sizeof "sparq_plugin_entry" && SPARQ_NO_POSITION == 0xffffffffu;
    return ok ? 0 : 1;
}
