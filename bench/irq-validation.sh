#!/usr/bin/env bash
# Validate the IRQ-sticky attribution of page-fault entry without a PMU (docs: domain.md §3).
#
# A 4 KiB-stride zero-page run is recorded with cpu-clock (an hrtimer, which cannot fire
# while IRQs are off and so lands on the first instruction after the re-enable) plus the
# `page-faults` software event (which fires just after the re-enable), with `-k mono`. The
# workload stamps CLOCK_MONOTONIC just before every read (FAULTLINE_TIMESTAMPS=1, written to
# access-times.u64le). Then:
#
#   gap        = page-faults sample time - latest access stamp <= it   (gaps > 50 us dropped)
#   predicted  = median gap x faults_attempted
#   attributed = cpu-clock samples at the page-fault re-enable site x mean cpu-clock period
#   PASS when |attributed - predicted| / predicted <= TOLERANCE
#
# The site and period come from `faultline analyze RUN --json --event cpu-clock`
# (irq_sticky.sites[kind == "page-fault entry"], clock.mean_period); if the analyzer fails
# or finds no such site, the script falls back to its own rule (the exc_page_fault+0xNN leaf
# offset holding most of exc_page_fault's leaf samples) and says so. Its own count, limited
# to the workload pid, is printed in both cases as a cross-check.
#
# Usage: sudo bench/irq-validation.sh
#
# Environment:
#   IRQV_SPAN        zero-page span (default 2g = 524,288 faults; keep <= 4g)
#   IRQV_FREQ        cpu-clock frequency, Hz (default 1999)
#   IRQV_PF_PERIOD   page-faults sample period (default 8)
#   IRQV_RUNS        recordings to make (default 1)
#   IRQV_TOLERANCE   allowed relative difference (default 0.25)
#   IRQV_KEEP=1      keep the run directories (default: deleted)
#   SKIP_BUILD=1     do not run `cargo build --release`
#
# Exit status: 0 when every run passes, 1 when one fails, 2 on a setup error.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SPAN="${IRQV_SPAN:-2g}"
FREQ="${IRQV_FREQ:-1999}"
PF_PERIOD="${IRQV_PF_PERIOD:-8}"
RUNS="${IRQV_RUNS:-1}"
TOLERANCE="${IRQV_TOLERANCE:-0.25}"

die() { echo "irq-validation.sh: error: $*" >&2; exit 2; }
log() { echo "==> $*" >&2; }

[[ "$(id -u)" == 0 ]] || die "must run as root (perf record of kernel stacks, tracepoints)"
command -v perf >/dev/null 2>&1 || die "perf is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    command -v cargo >/dev/null 2>&1 || die "cargo is required (or SKIP_BUILD=1)"
    log "cargo build --release"
    (cd "$REPO_ROOT" && cargo build --release --quiet)
fi
FAULTLINE="$REPO_ROOT/target/release/faultline"
[[ -x "$FAULTLINE" ]] || die "$FAULTLINE not found"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/faultline-irqv.XXXXXX")"
cleanup() {
    if [[ "${IRQV_KEEP:-0}" == 1 ]]; then
        echo "run directories kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# The analysis: reads RUN/{workload.json,workload.exit.json,access-times.u64le}, runs
# `perf script --ns` on RUN/perf.data, and the analyzer JSON in RUN/analyze.json if present.
ANALYSIS="$WORK/analyze.py"
cat >"$ANALYSIS" <<'PY'
import bisect, collections, json, re, struct, subprocess, sys

run, tolerance = sys.argv[1], float(sys.argv[2])
MAX_GAP_NS = 50_000


def load(name):
    with open(f"{run}/{name}") as f:
        return json.load(f)


pid = load("workload.exit.json")["pid"]
faults = load("workload.json")["faults_attempted"]
with open(f"{run}/access-times.u64le", "rb") as f:
    raw = f.read()
access = list(struct.unpack(f"<{len(raw) // 8}Q", raw))
if not access:
    sys.exit("no access timestamps (was FAULTLINE_TIMESTAMPS=1 passed to the workload?)")
if any(b < a for a, b in zip(access, access[1:])):
    sys.exit("access timestamps are not in order")

script = subprocess.run(
    ["perf", "script", "--ns", "-F", "tid,time,event,period,ip,sym,symoff",
     "-i", f"{run}/perf.data"],
    capture_output=True, text=True, check=True).stdout
# " 5859  2312.123456789:     500250   cpu-clock: " then tab-indented frames "\taddr sym+off"
head = re.compile(r"^\s*(-?\d+)\s+(\d+)\.(\d{9}):\s+(?:(\d+)\s+)?(\S+?):(?:\s|$)")
gaps, periods, skipped = [], [], 0
pf_names = collections.Counter()
leaf = collections.Counter()
want_leaf = False
for line in script.splitlines():
    m = head.match(line)
    if m:
        want_leaf = False
        if int(m.group(1)) != pid:
            continue
        t = int(m.group(2)) * 1_000_000_000 + int(m.group(3))
        event = m.group(5)
        if event.startswith("page-faults"):
            pf_names[event] += 1
            i = bisect.bisect_right(access, t) - 1
            if i >= 0:
                gaps.append(t - access[i])
        elif event == "cpu-clock":
            periods.append(int(m.group(4) or 0))
            want_leaf = True
        continue
    if want_leaf and line.strip():
        parts = line.split()
        leaf[parts[1] if len(parts) > 1 else "?"] += 1
        want_leaf = False
    elif line.strip() and not line.startswith(("\t", " ")):
        skipped += 1

if not pf_names:
    sys.exit("no page-faults samples of the workload pid")
if not periods:
    sys.exit("no cpu-clock samples of the workload pid")
kept = sorted(g for g in gaps if g <= MAX_GAP_NS)
if len(kept) < 100:
    sys.exit(f"only {len(kept)} usable gaps")


def pct(p):
    return kept[min(len(kept) - 1, int(p * len(kept)))]


median = kept[len(kept) // 2]
mean = sum(kept) / len(kept)

# Own rule for the site: the exc_page_fault+0xNN offset holding most of its leaf samples.
epf = collections.Counter({s: n for s, n in leaf.items() if s.startswith("exc_page_fault+")})
own_site, own_samples = epf.most_common(1)[0] if epf else ("(none)", 0)
own_period = sum(periods) / len(periods)

source = "own computation (analyzer unavailable)"
site, samples, mean_period = own_site, own_samples, own_period
try:
    rep = load("analyze.json")
    pf_sites = [s for s in rep["irq_sticky"]["sites"] if s.get("kind") == "page-fault entry"]
    if pf_sites and rep["clock"].get("mean_period"):
        best = max(pf_sites, key=lambda s: s["samples"])
        site, samples = best["site"], sum(s["samples"] for s in pf_sites)
        mean_period = float(rep["clock"]["mean_period"])
        source = "faultline analyze --json"
    else:
        source = "own computation (analyzer found no page-fault entry site)"
except (OSError, KeyError, ValueError, TypeError):
    pass

predicted_ms = median * faults / 1e6
attributed_ms = samples * mean_period / 1e6
ratio = attributed_ms / predicted_ms
ok = abs(attributed_ms - predicted_ms) / predicted_ms <= tolerance
print(f"  page-faults event:   {', '.join(f'{k} ({v})' for k, v in pf_names.items())}")
print(f"  gaps:                {len(kept)} of {len(gaps)} matched (<= 50 us); "
      f"median {median} ns, mean {mean:.0f} ns, p10 {pct(0.10)} ns, p90 {pct(0.90)} ns")
print(f"  faults:              {faults}")
print(f"  predicted IRQs-off:  {predicted_ms:.1f} ms (median gap x faults)")
print(f"  sticky site:         {site}: {samples} cpu-clock samples x {mean_period:.0f} ns "
      f"[{source}]")
print(f"  cross-check:         own rule, workload pid only: {own_site}: {own_samples} samples "
      f"of {len(periods)} ({own_samples * own_period / 1e6:.1f} ms)")
print(f"  attributed IRQs-off: {attributed_ms:.1f} ms")
print(f"  ratio:               {ratio:.3f} (attributed / predicted; "
      f"+/-{tolerance:.0%} allowed)")
print(f"  result:              {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY

failed=0
for ((i = 1; i <= RUNS; i++)); do
    run="$WORK/run-$i"
    log "run $i/$RUNS: zero-page 4k over $SPAN, cpu-clock at $FREQ Hz, page-faults period $PF_PERIOD"
    FAULTLINE_TIMESTAMPS=1 "$FAULTLINE" record -o "$run" -F "$FREQ" \
        --extra-event "page-faults/period=$PF_PERIOD,call-graph=no/" \
        --workload zero-page --stride 4k --span "$SPAN" >"$WORK/record-$i.log" 2>&1 ||
        { cat "$WORK/record-$i.log" >&2; die "faultline record failed"; }
    [[ -s "$run/access-times.u64le" ]] ||
        die "no access-times.u64le: this faultline ignores FAULTLINE_TIMESTAMPS"
    if ! "$FAULTLINE" analyze "$run" --json --event cpu-clock >"$run/analyze.json" \
        2>"$WORK/analyze-$i.log"; then
        log "faultline analyze failed (see below); using the script's own site rule"
        cat "$WORK/analyze-$i.log" >&2
        rm -f "$run/analyze.json"
    fi
    echo "run $i:"
    python3 "$ANALYSIS" "$run" "$TOLERANCE" || failed=1
done
exit "$failed"
