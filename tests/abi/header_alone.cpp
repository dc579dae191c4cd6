/*
 * sparq.h must compile on its own as strict C++17 (a host written in C++
 * includes it directly): first and only include, built with -std=c++17
 * -Wall -Wextra -pedantic -Werror. Running it checks that the macros behave.
 */
#include <sparq/sparq.h>

namespace {

const char *stub_last_error()
{
    return "";
}

sparq_status stub_entry(uint32_t abi_major, const sparq_api **api, const char **message)
{
    static_cast<void>(abi_major);
    static_cast<void>(message);
    *api = nullptr;
    return SPARQ_ERROR_ABI_MISMATCH;
}

} // namespace

int main()
{
    sparq_api table{};
    table.struct_size = static_cast<uint32_t>(offsetof(sparq_api, get_plugin_info));
    table.abi_major = SPARQ_ABI_VERSION_MAJOR;
    table.last_error = stub_last_error;
    const sparq_api *api = &table;

    sparq_entry_fn entry = stub_entry;
    const sparq_api *negotiated = api;
    bool refused = entry(SPARQ_ABI_VERSION_MAJOR + 1u, &negotiated, nullptr) == SPARQ_ERROR_ABI_MISMATCH;

    sparq_attend_desc desc{};
    desc.struct_size = sizeof(sparq_attend_desc);
    desc.flags = SPARQ_ATTEND_NO_MEAN_REALLOCATION;

    bool ok = SPARQ_API_HAS(api, last_error) && !SPARQ_API_HAS(api, get_plugin_info) && refused &&
              negotiated == nullptr && desc.mode == SPARQ_ATTENTION_DEFAULT &&
              sizeof(SPARQ_ENTRY_SYMBOL) == sizeof("sparq_plugin_entry");
    return ok ? 0 : 1;
}
