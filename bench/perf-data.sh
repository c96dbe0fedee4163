#!/usr/bin/env bash
# Reading perf.data directly against going through `perf script`, on a system-wide
# recording (>= 10 MB) made while a small build runs:
#
#   perf script -i X | faultline collapse -                       vs  faultline collapse X
#   perf script -i X | inferno-collapse-perf | inferno-flamegraph  vs  faultline flamegraph X
#
# Reports the median wall time and CPU time (user+sys of every process in the
# pipeline) of each, and whether the folded stacks are the same.
#
# usage: bench/perf-data.sh [perf.data]     (no argument: records one, needs root)
# env:   BENCH_RUNS (default 3), BENCH_SECONDS (recording length, default 45),
#        SKIP_BUILD=1 (use target/release/faultline as it is)
# Run it under the machine-wide lock when recording: flock /tmp/faultline-live.lock bench/perf-data.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-3}
work=${TMPDIR:-/tmp}/faultline-bench-perf-data
mkdir -p "$work"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && cargo build --release -q --locked)
fi
fl="$root/target/release/faultline"

if ! command -v inferno-collapse-perf >/dev/null || ! command -v inferno-flamegraph >/dev/null; then
    echo "installing inferno 0.12.8 for the comparison" >&2
    cargo install -q --locked inferno@0.12.8
fi

data=${1:-}
if [ -z "$data" ]; then
    data="$work/big.data"
    secs=${BENCH_SECONDS:-45}
    g++ --version >/dev/null
    # The "build": one loop of C++ compiles of a fixture program, light on a shared machine.
    perf record -q -a -g -F 999 -k mono -e cpu-clock -o "$data" -- sh -c "
        end=\$((\$(date +%s) + $secs))
        while [ \$(date +%s) -lt \$end ]; do
            g++ -O2 -g -pthread -c '$root/fixtures/programs/threads.cpp' -o '$work/threads.o'
        done"
fi
size=$(stat -c %s "$data")
echo "input: $data ($((size / 1000000)) MB)"
[ "$size" -ge 10000000 ] || echo "warning: smaller than 10 MB; set BENCH_SECONDS higher" >&2

python3 - "$fl" "$data" "$runs" "$work" <<'PY'
import os, resource, statistics, subprocess, sys, time

fl, data, runs, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def run(cmd):
    """Wall and CPU seconds of a shell pipeline (CPU of every process in it)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu

def med(cmd):
    run(cmd)  # warm-up: page cache, symbol files
    rs = [run(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)

def folded(path):
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            out[stack] = out.get(stack, 0) + int(n)
    return out

def same_share(a, b):
    total = max(sum(a.values()), sum(b.values()), 1)
    return sum(min(v, b.get(k, 0)) for k, v in a.items()) / total

p = lambda name: os.path.join(work, name)
rows = [
    ("collapse", f"perf script -i {data} | {fl} collapse - > {p('text.folded')}",
                 f"{fl} collapse {data} > {p('data.folded')}"),
    ("flame graph", f"perf script -i {data} | inferno-collapse-perf | inferno-flamegraph > {p('inferno.svg')}",
                    f"{fl} flamegraph {data} -o {p('faultline.svg')}"),
]
print(f"{runs} runs each after a warm-up, medians")
print(f"| task | via perf script: wall s | CPU s | perf.data: wall s | CPU s | wall × | CPU × |")
print(f"|---|--:|--:|--:|--:|--:|--:|")
for name, slow, fast in rows:
    (sw, sc), (fw, fc) = med(slow), med(fast)
    print(f"| {name} | {sw:.3f} | {sc:.3f} | {fw:.3f} | {fc:.3f} | {sw/fw:.1f} | {sc/fc:.1f} |")

subprocess.run(["bash", "-c", f"perf script -i {data} | inferno-collapse-perf > {p('inferno.folded')}"],
               check=True, stderr=subprocess.DEVNULL)
d = folded(p("data.folded"))
for label, path in [("faultline collapse of perf script", p("text.folded")),
                    ("inferno-collapse-perf of perf script", p("inferno.folded"))]:
    t = folded(path)
    exact = "identical" if t == d else f"{same_share(t, d) * 100:.3f}% of the weight the same"
    print(f"folded from perf.data vs {label}: {exact}")
PY
