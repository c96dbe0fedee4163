#!/usr/bin/env bash
# Speed and memory of faultline on a real, diverse profile (issue 10), with the
# repetitive input of bench/compare.sh as a second row. Every ratio compares runs made
# by this invocation, so a busy machine skews both sides alike.
#
# Usage: bench/diverse.sh
#
# Environment:
#   BENCH_RUNS      timed runs per command (default 5; medians; one untimed warm-up)
#   BENCH_MEM_RUNS  runs per memory row at ~1.2 GB (default 1)
#   BENCH_NO_BIG=1  skip the ~1.2 GB memory rows
#   SKIP_BUILD=1    do not run `cargo build --release`
#   BENCH_STRICT=1  exit 3 if a target is missed
#
# Inputs (built on first use in ${TMPDIR:-/tmp}/faultline-bench, reused after):
#   diverse     ../shared/bench/build-b-24m.perf.txt.xz unpacked, concatenated x7 (~168 MB)
#   big         the same, x50 (~1.2 GB), for the memory rows
#   repetitive  fixtures/zero-page-4k.perf.txt repeated to 160 MiB (as bench/compare.sh)
set -euo pipefail

INFERNO_VERSION="0.12.8"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
die() { echo "diverse.sh: error: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

for tool in python3 cargo xz wc; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# The shared bench inputs sit beside the repository (or its worktree) in ../shared.
SHARED_XZ=""
for d in "$REPO_ROOT/../shared/bench" "$REPO_ROOT/../../shared/bench" /work/shared/bench; do
    if [[ -f "$d/build-b-24m.perf.txt.xz" ]]; then SHARED_XZ="$d/build-b-24m.perf.txt.xz"; break; fi
done
[[ -n "$SHARED_XZ" ]] || die "build-b-24m.perf.txt.xz not found in ../shared/bench"

# ---------------------------------------------------------------- inferno
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
INFERNO_BIN="$CARGO_BIN/inferno-collapse-perf"
have_ver="$(cargo install --list 2>/dev/null | sed -nE 's/^inferno v([0-9][^:]*):$/\1/p' | head -n1 || true)"
if [[ ! -x "$INFERNO_BIN" || "$have_ver" != "$INFERNO_VERSION" ]]; then
    log "installing inferno $INFERNO_VERSION (found: ${have_ver:-none})"
    cargo install inferno --version "$INFERNO_VERSION" --locked --force \
        || die "cargo install inferno --version $INFERNO_VERSION failed"
fi
[[ -x "$INFERNO_BIN" ]] || die "inferno-collapse-perf not found at $INFERNO_BIN"

# ---------------------------------------------------------------- faultline
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "cargo build --release --locked"
    (cd "$REPO_ROOT" && cargo build --release --locked) || die "cargo build --release failed"
fi
FL_BIN="$REPO_ROOT/target/release/faultline"
[[ -x "$FL_BIN" ]] || die "faultline binary not found at $FL_BIN"

export BENCH_XZ="$SHARED_XZ" BENCH_FL="$FL_BIN" BENCH_INFERNO="$INFERNO_BIN" \
       BENCH_REPETITIVE_SRC="$REPO_ROOT/fixtures/zero-page-4k.perf.txt" \
       BENCH_WORK="${TMPDIR:-/tmp}/faultline-bench"
mkdir -p "$BENCH_WORK"
exec python3 "$SCRIPT_DIR/diverse.py"
