#!/usr/bin/env bash
# Times SparQ with the fused score and selection for short slots
# (sparq_score_select, the default) against the unfused kernels
# (sparq_score + sparq_select_small or sparq_rank, SPARQ_DEBUG_FUSED_MAX=0)
# in one run, on the default device: the full suite on a GPU, the small one
# on a CPU driver. Extra arguments go to both sparq-bench runs.
#   tools/bench/compare-selection.sh [BUILD_DIR [OUT_DIR]] [-- sparq-bench options]
# BUILD_DIR defaults to build-release (as .ci/bench), OUT_DIR to the current
# directory; writes selection-fused.{txt,csv} and selection-unfused.{txt,csv}.
set -euo pipefail
build=build-release
out=.
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then out=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
bench="$build/tools/bench/sparq-bench"
export SPARQ_PLUGIN_PATH="${SPARQ_PLUGIN_PATH:-$build/plugin/libsparq_vk.so}"
[ -x "$bench" ] || { echo "compare-selection: no $bench (build first: bash .ci/bench builds build-release)" >&2; exit 2; }
mkdir -p "$out"
"$bench" --csv "$out/selection-fused.csv" "$@" > "$out/selection-fused.txt"
SPARQ_DEBUG_FUSED_MAX=0 "$bench" --csv "$out/selection-unfused.csv" "$@" > "$out/selection-unfused.txt"
# One line per config: SparQ GPU time with each, and the ratio.
python3 - "$out/selection-fused.csv" "$out/selection-unfused.csv" <<'PY'
import csv, sys
def sparq_us(path):
    with open(path) as f:
        return {r["config"]: float(r["gpu_us_median"]) for r in csv.DictReader(f) if r["step"] == "sparq"}
fused, unfused = sparq_us(sys.argv[1]), sparq_us(sys.argv[2])
print("%-10s %12s %12s %8s" % ("config", "fused us", "unfused us", "ratio"))
for name in fused:
    if name in unfused:
        print("%-10s %12.1f %12.1f %7.2fx" % (name, fused[name], unfused[name], unfused[name] / fused[name]))
PY
