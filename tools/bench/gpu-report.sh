#!/usr/bin/env bash
# One measuring run on a GPU, for docs/PERFORMANCE.md: the attention suites
# on the device (the test binaries run directly, with the variables
# tests/meson.build gives them, so no meson is needed there), the full
# sparq-bench suite, and the SparQ paths that debug variables select,
# against the defaults. Needs a build with tests enabled:
#   meson setup build --buildtype=release -Dtests=enabled && ninja -C build
#   tools/bench/gpu-report.sh [BUILD_DIR [OUT_DIR]]
# BUILD_DIR defaults to build, OUT_DIR to gpu-report; writes there
#   tests.txt                     every suite's result (validation on for attention_sparq)
#   bench.{txt,csv,json}          the full suite, default kernels
#   unfused.{txt,csv}             mha16, paper with SPARQ_DEBUG_FUSED_MAX=0 (previous kernels)
#   regs.{txt,csv}                long1, batch8 with SPARQ_DEBUG_SELECT_REGS_MAX=32768
#   lanes8.{txt,csv}              long1, batch8 with SPARQ_DEBUG_ATTEND_LANES=8 (attend's
#                                 8-lane groups: two chunks per lane, fewer shuffles)
#   info.txt                      the device as the plugin sees it
# and prints the dense and SparQ times of each config under each path.
set -uo pipefail
build=${1:-build}
out=${2:-gpu-report}
mkdir -p "$out"
export SPARQ_PLUGIN_PATH="${SPARQ_PLUGIN_PATH:-$PWD/$build/plugin/libsparq_vk.so}"
export SPARQ_DEBUG_POISON_SCRATCH=1
a="$build/tests/attention"
[ -x "$build/tools/bench/sparq-bench" ] && [ -x "$a/test_attention_sparq" ] ||
    { echo "gpu-report: no $build/tools/bench/sparq-bench or $a (build with -Dtests=enabled)" >&2; exit 2; }

suite() { # name, then VAR=value... for env
    local name=$1; shift
    echo "== $name $*"
    env "$@" timeout 300 "$a/test_$name" 2>&1 | grep -v '^\[ *RUN\|^\[ *OK'
}
{
    suite attention_sparq SPARQ_VALIDATION=1
    suite attention_dense
    suite attention_determinism
    suite attention_cache
    suite attention_sparq_rank SPARQ_DEBUG_FUSED_MAX=0 SPARQ_DEBUG_SELECT_SMALL_MAX=512
    suite attention_sparq_small SPARQ_DEBUG_FUSED_MAX=256
    suite attention_sparq_regs SPARQ_DEBUG_FUSED_MAX=256 SPARQ_DEBUG_SELECT_REGS_MAX=32768
} > "$out/tests.txt" 2>&1
grep -E '^==|PASSED|FAILED  \]' "$out/tests.txt"
unset SPARQ_DEBUG_POISON_SCRATCH

bench="$build/tools/bench/sparq-bench"
"$build/tools/info/sparq-info" > "$out/info.txt" 2>&1
"$bench" --csv "$out/bench.csv" --json "$out/bench.json" > "$out/bench.txt" 2>&1
SPARQ_DEBUG_FUSED_MAX=0 "$bench" --config mha16 --config paper --csv "$out/unfused.csv" > "$out/unfused.txt" 2>&1
SPARQ_DEBUG_SELECT_REGS_MAX=32768 "$bench" --config long1 --config batch8 --csv "$out/regs.csv" > "$out/regs.txt" 2>&1
SPARQ_DEBUG_ATTEND_LANES=8 "$bench" --config long1 --config batch8 --csv "$out/lanes8.csv" > "$out/lanes8.txt" 2>&1

python3 - "$out" <<'PY'
import csv, os, sys
out = sys.argv[1]
def times(name, step):
    path = os.path.join(out, name + ".csv")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["config"]: float(r["gpu_us_median"]) for r in csv.DictReader(f) if r["step"] == step}
cols = [("dense", "bench", "dense"), ("dense lanes8", "lanes8", "dense"), ("sparq", "bench", "sparq"),
        ("sparq unfused", "unfused", "sparq"), ("sparq regs", "regs", "sparq"), ("sparq lanes8", "lanes8", "sparq")]
got = [times(f, step) for _, f, step in cols]
print("%-10s" % "config" + "".join("%15s" % c[0] for c in cols) + "   (GPU us, medians)")
for name in got[0]:
    print("%-10s" % name + "".join("%15s" % ("-" if g.get(name) is None else "%.1f" % g[name]) for g in got))
PY
