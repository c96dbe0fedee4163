#!/usr/bin/env bash
# Times `faultline analyze --json` against `faultline collapse` on the same large input
# (the one bench/compare.sh builds; run that first or pass a file). Target: analyze at
# most 2x collapse.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
input=${1:-$(ls "${TMPDIR:-/tmp}"/faultline-bench/*MiB.txt 2>/dev/null | head -n 1)}
[ -f "$input" ] || { echo "no input: run bench/compare.sh first or pass a perf script file" >&2; exit 2; }
runs=${BENCH_RUNS:-5}
(cd "$root" && cargo build --release -q)
fl="$root/target/release/faultline"
python3 - "$fl" "$input" "$runs" <<'PY'
import subprocess, sys, time, statistics
fl, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def med(args):
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)
import os
size = os.path.getsize(path) / 2**20
c = med([fl, "collapse", path])
a = med([fl, "analyze", path, "--json"])
print(f"input {path} ({size:.1f} MiB), {runs} runs each, medians")
print(f"collapse {c:.3f} s  analyze {a:.3f} s  analyze/collapse {a/c:.2f}x  target <= 2x: {'PASS' if a <= 2*c else 'FAIL'}")
PY
