#!/usr/bin/env bash
# Benchmark `faultline collapse` against `inferno-collapse-perf` 0.12.8.
#
# Usage: bench/compare.sh [SOURCE_PERF_SCRIPT_TXT]
#
# Environment:
#   BENCH_MB        target input size in MiB (default 160; must be >= 150)
#   BENCH_RUNS      timed runs per tool (default 5; one extra untimed warm-up)
#   FAULTLINE_ARGS  extra args appended to `faultline collapse FILE`
#   INFERNO_ARGS    extra args appended to `inferno-collapse-perf FILE`
#   FAULTLINE_CMD   override the faultline command prefix (default:
#                   "<repo>/target/release/faultline collapse"); e.g.
#                   FAULTLINE_CMD=inferno-collapse-perf to dry-run the harness
#   SKIP_BUILD=1    do not run `cargo build --release`
#   BENCH_STRICT=1  exit 3 if any target is missed
#
# See bench/README.md.
set -euo pipefail

INFERNO_VERSION="0.12.8"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

die() { echo "compare.sh: error: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
command -v cargo >/dev/null 2>&1 || die "cargo is required"

BENCH_MB="${BENCH_MB:-160}"
BENCH_RUNS="${BENCH_RUNS:-5}"
[[ "$BENCH_MB" =~ ^[0-9]+$ ]] || die "BENCH_MB must be an integer (got '$BENCH_MB')"
[[ "$BENCH_RUNS" =~ ^[0-9]+$ && "$BENCH_RUNS" -ge 1 ]] || die "BENCH_RUNS must be a positive integer (got '$BENCH_RUNS')"
(( BENCH_MB >= 150 )) || echo "compare.sh: warning: BENCH_MB=$BENCH_MB is below the 150 MiB the benchmark is specified for" >&2

# ---------------------------------------------------------------- source file
SRC="${1:-fixtures/zero-page-4k.perf.txt}"
if [[ "$SRC" != /* ]]; then
    # Relative paths: try CWD first, then the repo root.
    if [[ -f "$SRC" ]]; then SRC="$(cd "$(dirname "$SRC")" && pwd)/$(basename "$SRC")"
    else SRC="$REPO_ROOT/$SRC"; fi
fi
[[ -f "$SRC" ]] || die "source recording not found: $SRC
  (pass a perf script text file as the first argument, e.g.
   bench/compare.sh /work/shared/corpus/collapse-perf/inputs/example-perf-stacks.txt)"
[[ -s "$SRC" ]] || die "source recording is empty: $SRC"

# ---------------------------------------------------------------- 1. inferno
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
inferno_installed_version() {
    # inferno-collapse-perf 0.12.8 has no --version flag; try it anyway (newer
    # releases may add one), then fall back to cargo's install registry.
    local v=""
    if v="$("$1" --version 2>/dev/null)"; then
        v="$(grep -oE '[0-9]+\.[0-9]+\.[0-9]+' <<<"$v" | head -n1 || true)"
    else
        v=""
    fi
    if [[ -z "$v" ]]; then
        v="$(cargo install --list 2>/dev/null | sed -nE 's/^inferno v([0-9][^:]*):$/\1/p' | head -n1 || true)"
    fi
    echo "$v"
}

INFERNO_BIN=""
if [[ -x "$CARGO_BIN/inferno-collapse-perf" ]]; then
    INFERNO_BIN="$CARGO_BIN/inferno-collapse-perf"
elif command -v inferno-collapse-perf >/dev/null 2>&1; then
    INFERNO_BIN="$(command -v inferno-collapse-perf)"
fi
have_ver=""
[[ -n "$INFERNO_BIN" ]] && have_ver="$(inferno_installed_version "$INFERNO_BIN")"
if [[ -z "$INFERNO_BIN" || "$have_ver" != "$INFERNO_VERSION" ]]; then
    log "installing inferno $INFERNO_VERSION (found: ${have_ver:-none})"
    cargo install inferno --version "$INFERNO_VERSION" --locked --force \
        || die "cargo install inferno --version $INFERNO_VERSION failed"
    INFERNO_BIN="$CARGO_BIN/inferno-collapse-perf"
    [[ -x "$INFERNO_BIN" ]] || die "inferno-collapse-perf not found at $INFERNO_BIN after install"
    have_ver="$(inferno_installed_version "$INFERNO_BIN")"
    [[ "$have_ver" == "$INFERNO_VERSION" ]] || die "inferno version is '$have_ver' after install, expected $INFERNO_VERSION"
fi
log "inferno-collapse-perf $have_ver: $INFERNO_BIN"

# ---------------------------------------------------------------- 2. faultline
if [[ -n "${FAULTLINE_CMD:-}" ]]; then
    log "using FAULTLINE_CMD override: $FAULTLINE_CMD"
    read -r -a FAULTLINE_PREFIX <<<"$FAULTLINE_CMD"
else
    if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
        log "cargo build --release (in $REPO_ROOT)"
        (cd "$REPO_ROOT" && cargo build --release) || die "cargo build --release failed"
    fi
    FL_BIN="$REPO_ROOT/target/release/faultline"
    [[ -x "$FL_BIN" ]] || die "faultline binary not found at $FL_BIN"
    FAULTLINE_PREFIX=("$FL_BIN" "collapse")
fi

read -r -a FL_EXTRA <<<"${FAULTLINE_ARGS:-}"
read -r -a INF_EXTRA <<<"${INFERNO_ARGS:-}"

# ---------------------------------------------------------------- 3-5. python runner
WORK_DIR="${TMPDIR:-/tmp}/faultline-bench"
mkdir -p "$WORK_DIR"

# Commands are passed as NUL-free JSON arrays so arguments with spaces survive.
to_json() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@"; }
FL_JSON="$(to_json "${FAULTLINE_PREFIX[@]}" @INPUT@ ${FL_EXTRA[@]+"${FL_EXTRA[@]}"})"
INF_JSON="$(to_json "$INFERNO_BIN" @INPUT@ ${INF_EXTRA[@]+"${INF_EXTRA[@]}"})"

export BENCH_SRC="$SRC" BENCH_MB BENCH_RUNS BENCH_WORK_DIR="$WORK_DIR" \
       BENCH_FL_CMD="$FL_JSON" BENCH_INF_CMD="$INF_JSON" BENCH_STRICT="${BENCH_STRICT:-0}"

exec python3 - <<'PY'
import hashlib, json, os, re, shlex, statistics, subprocess, sys, threading, time

MIB = 1 << 20
SRC = os.environ["BENCH_SRC"]
TARGET = int(os.environ["BENCH_MB"]) * MIB
RUNS = int(os.environ["BENCH_RUNS"])
WORK = os.environ["BENCH_WORK_DIR"]
STRICT = os.environ.get("BENCH_STRICT") == "1"
POLL = 0.005

def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)

# ------------------------------------------------------------ 3. build input
def normalize(text: bytes) -> bytes:
    """Strip trailing newlines, then terminate with exactly one blank line."""
    return text.rstrip(b"\r\n") + b"\n\n"

with open(SRC, "rb") as f:
    raw = f.read()
# Header = the leading block of '#' lines (plus blank lines around it).
lines = raw.splitlines(keepends=True)
i = 0
while i < len(lines) and (lines[i].startswith(b"#") or not lines[i].strip()):
    i += 1
first = normalize(raw)
body = normalize(b"".join(lines[i:]))
if not body.strip():
    sys.exit(f"compare.sh: error: {SRC} contains no samples after its header")

copies = 1 + max(0, -(-(TARGET - len(first)) // len(body)))
expected = len(first) + (copies - 1) * len(body)
digest = hashlib.sha256(raw).hexdigest()[:12]
stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(SRC))
INPUT = os.path.join(WORK, f"{stem}-{digest}-{TARGET // MIB}MiB.txt")

if os.path.isfile(INPUT) and os.path.getsize(INPUT) == expected:
    log(f"reusing {INPUT} ({expected / MIB:.1f} MiB, {copies} copies)")
else:
    log(f"building {INPUT}: {copies} copies of {SRC} -> {expected / MIB:.1f} MiB")
    tmp = f"{INPUT}.tmp.{os.getpid()}"
    with open(tmp, "wb") as out:
        out.write(first)
        chunk_copies = max(1, (8 * MIB) // len(body))
        chunk = body * chunk_copies
        left = copies - 1
        while left >= chunk_copies:
            out.write(chunk); left -= chunk_copies
        out.write(body * left)
    os.replace(tmp, INPUT)
    assert os.path.getsize(INPUT) == expected
SIZE = expected

# ------------------------------------------------------------ 4. runner
def read_status(pid):
    rss_anon = hwm = None
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    rss_anon = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        pass
    return rss_anon, hwm   # kB, or None once the process is a zombie/gone

def run_once(argv, stdout):
    """Run argv; return (wall s, peak RssAnon kB, peak VmHWM kB, user+sys s)."""
    err = open(os.path.join(WORK, "stderr.log"), "w+b")
    stop = threading.Event()
    peak = {"anon": 0, "hwm": 0}

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err)

    def sampler():
        while not stop.is_set():
            anon, hwm = read_status(proc.pid)
            if anon is not None:
                peak["anon"] = max(peak["anon"], anon)
            if hwm is not None:
                peak["hwm"] = hwm   # VmHWM is monotonic: last successful read is the peak seen
            stop.wait(POLL)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    # Main thread blocks in wait4 so the end timestamp is exact, not poll-quantized.
    _, status, ru = os.wait4(proc.pid, 0)
    t1 = time.perf_counter()
    stop.set(); th.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err.seek(0)
        msg = err.read().decode(errors="replace")[-4000:]
        sys.exit(f"compare.sh: error: command failed (exit {proc.returncode}): "
                 f"{shlex.join(argv)}\n{msg}")
    err.close()
    # NB: ru.ru_maxrss is NOT used: Linux carries the forked python parent's
    # pre-exec RSS high-water mark into it, inflating small children.
    return t1 - t0, peak["anon"], peak["hwm"], ru.ru_utime + ru.ru_stime

TOOLS = [
    ("faultline", json.loads(os.environ["BENCH_FL_CMD"])),
    ("inferno",   json.loads(os.environ["BENCH_INF_CMD"])),
]
results = {}
outputs = {}
for name, tmpl in TOOLS:
    argv = [INPUT if a == "@INPUT@" else a for a in tmpl]
    log(f"{name}: {shlex.join(argv)}")
    # Warm-up (also warms the page cache); keep its output for a sanity diff.
    outpath = os.path.join(WORK, f"out-{name}.folded")
    with open(outpath, "wb") as out:
        w = run_once(argv, out)
    outputs[name] = outpath
    log(f"  warm-up: {w[0]:.3f} s")
    runs = []
    with open(os.devnull, "wb") as devnull:
        for r in range(RUNS):
            res = run_once(argv, devnull)
            runs.append(res)
            log(f"  run {r + 1}/{RUNS}: {res[0]:.3f} s  RssAnon {res[1] / 1024:.1f} MB  "
                f"VmHWM {res[2] / 1024:.1f} MB  cpu {res[3]:.3f} s")
    results[name] = runs

# ------------------------------------------------------------ 5. report
def summary(runs):
    walls = [r[0] for r in runs]
    med = statistics.median(walls)
    return {
        "median": med, "min": min(walls),
        "mbps": SIZE / MIB / med,
        "anon": max(r[1] for r in runs) / 1024,
        "hwm": max(r[2] for r in runs) / 1024,
        "cpu": statistics.median(r[3] for r in runs),
    }

S = {n: summary(r) for n, r in results.items()}
print()
print(f"input: {INPUT}")
print(f"       {SIZE:,} bytes ({SIZE / MIB:.1f} MiB), {copies} copies of {SRC}")
print(f"runs:  {RUNS} per tool after 1 warm-up; MB = MiB = 2^20 bytes; "
      f"memory is the max over timed runs")
print()
hdr = f"{'tool':<10} {'median s':>9} {'min s':>8} {'MB/s':>9} {'RssAnon MB':>11} {'VmHWM MB':>9} {'cpu s':>7}"
print(hdr)
print("-" * len(hdr))
for n in ("faultline", "inferno"):
    s = S[n]
    print(f"{n:<10} {s['median']:>9.3f} {s['min']:>8.3f} {s['mbps']:>9.1f} "
          f"{s['anon']:>11.1f} {s['hwm']:>9.1f} {s['cpu']:>7.3f}")
print()

ratio = S["faultline"]["mbps"] / S["inferno"]["mbps"]
print(f"faultline/inferno throughput ratio: {ratio:.2f}\u00d7")

def same_output(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    if da == db:
        return "identical"
    if sorted(da.splitlines()) == sorted(db.splitlines()):
        return "same lines, different order"
    return "DIFFERENT"
print(f"warm-up outputs (faultline vs inferno): "
      f"{same_output(outputs['faultline'], outputs['inferno'])} "
      f"({outputs['faultline']}, {outputs['inferno']})")
print()

checks = [
    ("faultline >= 5x inferno throughput", ratio >= 5.0, f"{ratio:.2f}\u00d7"),
    ("faultline >= 1000 MB/s", S["faultline"]["mbps"] >= 1000.0, f"{S['faultline']['mbps']:.1f} MB/s"),
    ("faultline peak RssAnon <= 32 MB", S["faultline"]["anon"] <= 32.0, f"{S['faultline']['anon']:.1f} MB"),
]
for label, ok, val in checks:
    print(f"[{'PASS' if ok else 'FAIL'}] {label:<38} ({val})")
all_ok = all(ok for _, ok, _ in checks)
print(f"targets: {'all met' if all_ok else 'NOT all met'}")
sys.exit(3 if (STRICT and not all_ok) else 0)
PY
