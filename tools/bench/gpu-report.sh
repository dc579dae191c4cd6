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
#   info.txt                      the device as the plugin sees it
#   pipelines.txt                 each pipeline's registers, spills and shared memory, as the
#                                 driver reports them (SPARQ_DEBUG_PIPELINE_STATS)
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
} > "$out/tests.txt" 2>&1
grep -E '^==|PASSED|FAILED  \]' "$out/tests.txt"
unset SPARQ_DEBUG_POISON_SCRATCH

bench="$build/tools/bench/sparq-bench"
"$build/tools/info/sparq-info" > "$out/info.txt" 2>&1
"$bench" --csv "$out/bench.csv" --json "$out/bench.json" > "$out/bench.txt" 2>&1
SPARQ_DEBUG_FUSED_MAX=0 "$bench" --config mha16 --config paper --csv "$out/unfused.csv" > "$out/unfused.txt" 2>&1
SPARQ_DEBUG_PIPELINE_STATS=1 "$bench" --reps 1 --warmup 1 --warmup-ms 0 --rotate-mib 0 2>&1 |
    grep '^sparq-vk: pipeline' > "$out/pipelines.txt"

python3 - "$out" <<'PY'
import csv, os, sys
out = sys.argv[1]
def rows(name, step):
    path = os.path.join(out, name + ".csv")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["config"]: r for r in csv.DictReader(f) if r["step"] == step}
def times(name, step):
    return {c: float(r["gpu_us_median"]) for c, r in rows(name, step).items()}
cols = [("dense", "bench", "dense"), ("sparq", "bench", "sparq"), ("sparq unfused", "unfused", "sparq")]
got = [times(f, step) for _, f, step in cols]
print("%-10s" % "config" + "".join("%15s" % c[0] for c in cols) + "   (GPU us, medians)")
for name in got[0]:
    print("%-10s" % name + "".join("%15s" % ("-" if g.get(name) is None else "%.1f" % g[name]) for g in got))
# The SparQ error against dense on the same inputs: at the suite's settings
# it is a few 1e-3; far more means a wrong selection, which no time excuses.
for name, r in rows("bench", "sparq").items():
    err = float(r["rel_l2_error"])
    if err > 2e-2:
        print("WARNING: %s: SparQ relative error %.3g (mean alpha %s): check the selection" % (name, err, r["mean_alpha"]))
PY
