#!/usr/bin/env python3
"""Runs a meson build's tests without meson, from the build's own test list
(meson-info/intro-tests.json), with the commands, variables and timeouts
meson would give them: for a GPU machine that has the built tree but no
meson. The tree may sit at another path than where it was configured; the
configured source and build paths are rewritten to where they are now.

  run-meson-tests.py BUILD_DIR [--suite NAME]... [--skip NAME]... [--validation]

Prints one line per test (name, status, seconds) and each failing test's
last lines; exits 1 if any test failed (exit status 77 is "skipped", as in
meson). LD_LIBRARY_PATH from the caller is kept after the build's own
(libraries missing on that machine, such as cmocka, can be put there).
--validation turns the Vulkan validation layers on for every test
(SPARQ_VALIDATION=1).
"""
import argparse
import json
import os
import subprocess
import sys
import time

SKIP_EXIT = 77  # meson's "skipped" (a test whose inputs are absent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--suite", action="append", default=[], help="run only tests of this suite (repeatable)")
    ap.add_argument("--skip", action="append", default=[], help="leave this test out (repeatable)")
    ap.add_argument("--validation", action="store_true", help="SPARQ_VALIDATION=1 for every test")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    info = os.path.join(build, "meson-info")
    with open(os.path.join(info, "meson-info.json")) as f:
        dirs = json.load(f)["directories"]
    with open(os.path.join(info, "intro-tests.json")) as f:
        tests = json.load(f)
    # The configured paths, longest first (the build dir usually lies inside the source dir).
    source = os.path.dirname(build) if os.path.dirname(dirs["build"]) == dirs["source"] else os.getcwd()
    moves = sorted([(dirs["build"], build), (dirs["source"], source)], key=lambda m: -len(m[0]))

    def here(text):
        for old, new in moves:
            text = text.replace(old, new)
        return text

    failed = skipped = 0
    for t in tests:
        suites = [s.split(":")[-1] for s in t["suite"]]
        if (args.suite and not set(args.suite) & set(suites)) or t["name"] in args.skip:
            continue
        env = dict(os.environ)
        for k, v in t["env"].items():
            env[k] = here(v)
        if "LD_LIBRARY_PATH" in t["env"] and os.environ.get("LD_LIBRARY_PATH"):
            env["LD_LIBRARY_PATH"] = here(t["env"]["LD_LIBRARY_PATH"]) + ":" + os.environ["LD_LIBRARY_PATH"]
        if args.validation:
            env["SPARQ_VALIDATION"] = "1"
        cmd = [here(c) for c in t["cmd"]]
        cwd = here(t["workdir"]) if t.get("workdir") else build
        start = time.monotonic()
        try:
            p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=t.get("timeout") or 30)
            out, rc = p.stdout.decode(errors="replace"), p.returncode
            status = "ok" if rc == 0 else "skipped" if rc == SKIP_EXIT else "FAIL (exit %d)" % rc
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode(errors="replace"), -1
            status = "FAIL (timed out)"
        except OSError as e:
            out, rc = str(e), -1
            status = "FAIL (%s)" % e.strerror
        print("%-32s %-18s %6.1f s" % (t["name"], status, time.monotonic() - start), flush=True)
        if rc == SKIP_EXIT:
            skipped += 1
        elif rc != 0:
            failed += 1
            print("".join("    " + line + "\n" for line in out.splitlines()[-25:]), end="", flush=True)
    print("%d failed, %d skipped" % (failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
