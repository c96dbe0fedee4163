//! What a workload reads about itself and the host, through the `procfs` parsers.

use crate::analyze::pagetable;
use crate::procfs::{Status, Vma, live};
use crate::units::Bytes;

/// This process's `/proc/self/status`, `None` if unreadable.
pub(super) fn status() -> Option<Status> {
    live::read_status(None).ok()
}

/// `MemAvailable` of the host.
pub(super) fn mem_available() -> Option<Bytes> {
    live::read_meminfo().ok()?.mem_available()
}

/// This process's VMAs (empty if unreadable).
fn maps() -> Vec<Vma> {
    live::read_maps(None).unwrap_or_default()
}

/// Lines of `/proc/self/maps`, and how many of them overlap `range`.
pub(super) fn maps_stats(range: Option<(u64, u64)>) -> (u64, Option<u64>) {
    let vmas = maps();
    let inside =
        range.map(|(lo, hi)| vmas.iter().filter(|v| v.start < hi && v.end > lo).count() as u64);
    (vmas.len() as u64, inside)
}

/// The largest unmapped range below the 128 TiB user limit: what one mmap can still get.
pub(super) fn largest_free_range() -> Option<u64> {
    let mut ranges: Vec<(u64, u64)> = live::read_maps(None)
        .ok()?
        .iter()
        .map(|v| (v.start, v.end))
        .filter(|&(start, _)| start < pagetable::USER_ADDRESS_SPACE)
        .collect();
    ranges.sort_unstable();
    // mmap never hands out the first 64 KiB (vm.mmap_min_addr).
    let mut prev_end = 0x10000;
    let mut best = 0;
    for (start, end) in ranges {
        best = best.max(start.saturating_sub(prev_end));
        prev_end = prev_end.max(end);
    }
    Some(best.max(pagetable::USER_ADDRESS_SPACE.saturating_sub(prev_end)))
}

/// The THP `enabled` mode in force.
pub(super) fn thp_mode() -> Option<String> {
    live::read_thp().ok().map(|t| t.enabled)
}

/// `vm.max_map_count`.
pub(super) fn max_map_count() -> Result<u64, crate::procfs::ProcError> {
    live::read_vm_sysctls().map(|v| v.max_map_count)
}
