//! A bounded run's teardown of its own mapping.
//!
//! A workload that stops after N faults unmaps its mapping itself: the unmap and the
//! freeing of its page tables run in `munmap`, and `exit_mmap` later finds almost
//! nothing to do. Reporting only the `exit` phase then says "exit cost 0.1× fault cost"
//! while munmap takes 39% of the workload's CPU. The munmap between the workload's
//! last fault and the moment it reports its mapping gone is the same work as an exit's
//! teardown, done early, so it counts as exit work.

use super::phased::{Scope, is_workload};
use crate::record::run_dir::WorkloadSummary;

/// Weight of the workload's samples in `syscall/munmap` between the end of its faults
/// (`mono_end_ns` in its summary) and its mapping being gone (`mono_unmapped_ns`);
/// 0 without a summary saying so.
pub(super) fn own_munmap_weight(scope: &Scope<'_>, summary: Option<&WorkloadSummary>) -> u64 {
    let (Some(pid), Some(s)) = (scope.workload, summary) else {
        return 0;
    };
    let (from, to) = (s.mono_end_ns, s.mono_unmapped_ns);
    if to <= from {
        return 0;
    }
    let profile = scope.profile;
    profile
        .samples
        .iter()
        .filter(|r| {
            let t = r.time.0;
            t >= from
                && t <= to
                && scope.phased.path(r).starts_with("syscall/munmap")
                && is_workload(profile, r.thread, Some(pid))
        })
        .map(|r| r.weight)
        .sum()
}
