#!/usr/bin/env bash
# One measuring run on a GPU, for docs/PERFORMANCE.md and RELIABILITY.md:
# every test of the build (run-meson-tests.py: the commands and variables
# meson gives them, so no meson is needed there; validation layers on), the
# full sparq-bench suite on both paths, the previous SparQ kernels for short
# slots, and the driver's statistics of each pipeline. Needs a build with
# tests enabled (and, on the GPU machine, its plugin/, tools/, tests/ and
# meson-info/ folders):
#   meson setup build --buildtype=release -Dtests=enabled && ninja -C build
#   tools/bench/gpu-report.sh [BUILD_DIR [OUT_DIR]]
# BUILD_DIR defaults to build, OUT_DIR to gpu-report; writes there
#   tests.txt                     every test's result, and the last lines of each failure
#   bench.{txt,csv,json}          the full suite, default kernels, blocking host path
#   recorded.{txt,csv}            the same on the recorded path (host cost of record_attend)
#   unfused.{txt,csv}             mha16, paper with SPARQ_DEBUG_FUSED_MAX=0 (previous kernels)
#   info.txt                      the device as the plugin sees it
#   pipelines.txt                 each pipeline's registers, spills and shared memory, as the
#                                 driver reports them (SPARQ_DEBUG_PIPELINE_STATS)
# and prints the dense and SparQ times of each config under each path.
# All of it should take about 10 minutes on an H200 (estimated from its
# parts: the tests about 2, each full bench about 2); GPU_REPORT_PARTS (default
# "tests bench variants stats") runs some parts only, so that a run can be
# split where a command's time is capped; the table reads whatever CSVs
# OUT_DIR holds.
set -uo pipefail
parts=" ${GPU_REPORT_PARTS:-tests bench variants stats} "
want() { [[ "$parts" == *" $1 "* ]]; }
build=${1:-build}
out=${2:-gpu-report}
here=$(dirname "$0")
mkdir -p "$out"
export SPARQ_PLUGIN_PATH="${SPARQ_PLUGIN_PATH:-$PWD/$build/plugin/libsparq_vk.so}"
[ -x "$build/tools/bench/sparq-bench" ] && [ -f "$build/meson-info/intro-tests.json" ] ||
    { echo "gpu-report: no $build/tools/bench/sparq-bench or $build/meson-info (build with -Dtests=enabled)" >&2; exit 2; }

if want tests; then
    # bench_recorded_path is the recorded bench below, with its figures kept.
    python3 "$here/run-meson-tests.py" "$build" --skip bench_recorded_path > "$out/tests.txt" 2>&1
    grep -E 'FAIL|^[0-9]+ failed' "$out/tests.txt"
fi

bench="$build/tools/bench/sparq-bench"
quick=(--reps 1 --warmup 1 --warmup-ms 0 --rotate-mib 0) # pipelines built, nothing timed
if want bench; then
    "$build/tools/info/sparq-info" > "$out/info.txt" 2>&1
    "$bench" --csv "$out/bench.csv" --json "$out/bench.json" > "$out/bench.txt" 2>&1
    "$bench" --path recorded --csv "$out/recorded.csv" > "$out/recorded.txt" 2>&1
fi
if want variants; then
    SPARQ_DEBUG_FUSED_MAX=0 "$bench" --config mha16 --config paper --csv "$out/unfused.csv" > "$out/unfused.txt" 2>&1
fi
if want stats; then
    SPARQ_DEBUG_PIPELINE_STATS=1 "$bench" "${quick[@]}" 2>&1 | grep '^sparq-vk: pipeline' > "$out/pipelines.txt"
fi

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
cols = [("dense", "bench", "dense"), ("sparq", "bench", "sparq"), ("sparq unfused", "unfused", "sparq"),
        ("dense recorded", "recorded", "dense"), ("sparq recorded", "recorded", "sparq")]
got = [times(f, step) for _, f, step in cols]
print("%-10s" % "config" + "".join("%15s" % c[0] for c in cols) + "   (GPU us, medians)")
for name in got[0]:
    print("%-10s" % name + "".join("%15s" % ("-" if g.get(name) is None else "%.1f" % g[name]) for g in got))
# Host cost per call (us, medians): blocking host path, then recorded path.
host = [(label, {c: float(r["host_us_median"]) for c, r in rows(f, step).items()})
        for label, f, step in [("dense host", "bench", "dense"), ("sparq host", "bench", "sparq"),
                               ("dense rec.", "recorded", "dense"), ("sparq rec.", "recorded", "sparq")]]
print("%-10s" % "config" + "".join("%15s" % h[0] for h in host) + "   (host us per call, medians)")
for name in got[0]:
    print("%-10s" % name + "".join("%15s" % ("-" if h[1].get(name) is None else "%.1f" % h[1][name]) for h in host))
# The SparQ error against dense on the same inputs: at the suite's settings
# it is a few 1e-3; far more means a wrong selection, which no time excuses.
for name, r in rows("bench", "sparq").items():
    err = float(r["rel_l2_error"])
    if err > 2e-2:
        print("WARNING: %s: SparQ relative error %.3g (mean alpha %s): check the selection" % (name, err, r["mean_alpha"]))
PY
