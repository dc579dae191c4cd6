#!/bin/sh
# Second opinion on the plugin's export list, from binutils: the defined
# dynamic symbols must be exactly the entry point (absolute "A" entries are
# version-node names from the linker version script, not exports).
# usage: check_exports_nm.sh NM PLUGIN
set -u
nm_tool=$1
plugin=$2

if ! listing=$("$nm_tool" -D --defined-only "$plugin"); then
    echo "FAIL: $nm_tool -D --defined-only $plugin failed"
    exit 1
fi
echo "$listing"
exports=$(printf '%s\n' "$listing" | awk 'NF >= 2 && $(NF-1) != "A" { print $NF }' | sed 's/@.*//')
if [ "$exports" != "sparq_plugin_entry" ]; then
    echo "FAIL: expected exactly one export, sparq_plugin_entry; got:"
    printf '%s\n' "$exports"
    exit 1
fi
if "$nm_tool" -D "$plugin" | awk '{ print $NF }' | grep -q '^vk'; then
    echo "FAIL: dynamic symbols named vk*:"
    "$nm_tool" -D "$plugin" | awk '{ print $NF }' | grep '^vk'
    exit 1
fi
echo "ok: only sparq_plugin_entry is exported"
