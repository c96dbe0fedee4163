//! When the workload's exit began.
//!
//! `sched:sched_process_exit` of an OOM victim was missing from 5 of 8 recordings.
//! The cause is in how perf sampled the tracepoints: `perf record -F N` puts every
//! event, tracepoints included, in frequency mode (`sample_freq = N, freq = 1` in the
//! header), so the kernel raises their period when they fire often (every exit on the
//! machine, system-wide) and skips occurrences, the victim's among them. Recording the
//! tracepoints with period 1 (`-c 1` with the clock as `cpu-clock/freq=N/`) fixes new
//! recordings; for existing ones the boundary is derived from what is always there.

use super::phased::{Scope, is_workload};
use crate::analyze::model::Marker;

/// The marker name a derived boundary is reported under.
pub const FIRST_EXIT_SAMPLE: &str = "first exit sample";

/// Where the workload's teardown starts: its `sched:sched_process_exit`, else the first
/// of its own samples in the exit phase (`do_exit`, `exit_mmap`, ...) after its
/// `oom:mark_victim` (when it has one), since the victim tears down its own mm before
/// anything is deferred to other tasks. Returns (boundary name, time in seconds).
pub(super) fn exit_boundary(
    scope: &Scope<'_>,
    pid: i32,
    mine: &[&Marker],
) -> Option<(&'static str, f64)> {
    let (profile, phased) = (scope.profile, scope.phased);
    if let Some(m) = mine.iter().find(|m| m.name == "sched:sched_process_exit") {
        return Some(("sched:sched_process_exit", m.time));
    }
    let after = mine
        .iter()
        .find(|m| m.name == "oom:mark_victim")
        .map_or(f64::NEG_INFINITY, |m| m.time);
    profile
        .samples
        .iter()
        .filter(|r| {
            phased.path(r).starts_with("exit")
                && r.time.as_secs_f64() >= after
                && is_workload(profile, r.thread, Some(pid))
        })
        .map(|r| r.time.as_secs_f64())
        .reduce(f64::min)
        .map(|t| (FIRST_EXIT_SAMPLE, t))
}
