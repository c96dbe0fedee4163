//! `vma-fragment`: seed 003's mprotect pattern, one VMA per cell.

use std::io;

use super::mapping::Mapping;
use super::run::Run;
use super::{MAP_COUNT_MARGIN, Workload, proc_self};
use super::{RunContext, Summary, WorkloadError};
use crate::analyze::pagetable::PAGE_SIZE;
use crate::units::Bytes;

pub(super) fn run(
    w: &Workload,
    cells: u64,
    prefault: bool,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let name = w.name();
    if !prefault {
        check_map_count(name, cells)?;
    }
    let mut run = Run::start(w, ctx, Some(2 * cells))?;
    let page = PAGE_SIZE as usize;
    let len = Bytes(3 * cells * PAGE_SIZE);
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let map = if prefault {
        // Seed 003's workaround: fault one page while the mapping is a single VMA so it gets
        // an anon_vma; every VMA later split off it shares that anon_vma, so they can merge.
        let map = Mapping::new(name, len.0, rw)?;
        // SAFETY: the first page of a fresh read-write mapping.
        unsafe { std::ptr::write_volatile(map.base, 1) };
        mprotect(name, map.base, len.0 as usize, libc::PROT_NONE)?;
        map
    } else {
        Mapping::new(name, len.0, libc::PROT_NONE)?
    };
    run.mapped(&map)?;
    for cell in 0..cells as usize {
        // SAFETY: cell < cells, so the cell's three pages lie inside the 3 × cells pages.
        let (p0, p1, p2) = unsafe {
            let p0 = map.base.add(cell * 3 * page);
            (p0, p0.add(page), p0.add(2 * page))
        };
        // Page 0 first: it faults in alone and gets its own anon_vma (or its left
        // neighbour's, when it merged with the previous cell's read-write tail).
        mprotect(name, p0, page, rw)?;
        // SAFETY: p0 is inside the mapping and was just made read-write.
        unsafe { std::ptr::write_volatile(p0, 1) };
        run.faults += 1;
        // Page 2 next: its neighbours are PROT_NONE, so it gets a fresh anon_vma.
        mprotect(name, p2, page, rw)?;
        // SAFETY: p2 is inside the mapping and was just made read-write.
        unsafe { std::ptr::write_volatile(p2, 1) };
        run.faults += 1;
        // Page 1 last: it can join one neighbour but not both, their anon_vmas differ.
        mprotect(name, p1, page, rw)?;
        run.maybe_checkpoint()?;
    }
    let what = format!(
        "{cells} cells of 3 pages{}",
        if prefault { ", prefaulted" } else { "" }
    );
    run.finish(map, None, what)
}

fn mprotect(
    workload: &'static str,
    addr: *mut u8,
    len: usize,
    prot: libc::c_int,
) -> Result<(), WorkloadError> {
    // SAFETY: callers pass ranges inside a mapping they own and do not hold references into
    // it; changing protection cannot invalidate Rust-visible memory.
    if unsafe { libc::mprotect(addr.cast(), len, prot) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    let hint = if source.raw_os_error() == Some(libc::ENOMEM) {
        " (ENOMEM from mprotect usually means vm.max_map_count was reached)"
    } else {
        ""
    };
    Err(WorkloadError::Sys {
        workload,
        call: format!("mprotect({addr:p}, {len}, {prot}){hint}"),
        source,
    })
}

fn check_map_count(workload: &'static str, cells: u64) -> Result<(), WorkloadError> {
    let max = proc_self::max_map_count().map_err(|e| WorkloadError::Io {
        path: e.path().to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    let existing = proc_self::maps_stats(None).0;
    let needed = cells
        .saturating_mul(3)
        .saturating_add(existing)
        .saturating_add(MAP_COUNT_MARGIN);
    if needed > max {
        return Err(WorkloadError::MapCount {
            workload,
            cells,
            needed,
            existing,
            margin: MAP_COUNT_MARGIN,
            max,
            max_cells: max.saturating_sub(existing + MAP_COUNT_MARGIN) / 3,
        });
    }
    Ok(())
}
