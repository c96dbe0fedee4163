//! `zero-page`: one read per stride of a PROT_READ mapping; only page tables grow.

use std::fs;
use std::path::PathBuf;

use super::mapping::Mapping;
use super::run::Run;
use super::{ACCESS_TIMES_FILE, MAX_TIMESTAMP_BYTES, RUN_DIR_ENV, Workload, invalid, io_err};
use super::{RunContext, Summary, WorkloadError};
use crate::analyze::pagetable::{self, PAGE_SIZE, PMD_TABLE_SPAN};
use crate::sys::monotonic_ns as mono_ns;
use crate::units::Bytes;

pub(super) fn run(
    w: &Workload,
    stride: Bytes,
    span: Bytes,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let reads = span.0.div_ceil(stride.0);
    let times_path = if ctx.timestamps {
        Some(access_times_path(w.name(), ctx, reads)?)
    } else {
        None
    };
    let mut run = Run::start(w, ctx, Some(reads))?;
    // Allocated and touched before mapping, so no fault of its own lands in the read loop.
    let mut times = times_path.as_ref().map(|_| prefaulted_vec(reads as usize));
    // 1 GiB alignment makes every 1 GiB region read lie inside this mapping, so its PMD
    // tables are new and the prediction is exact up to the shared PUD table; it also lets
    // THP map huge zero pages from the first read.
    let map = Mapping::aligned(w.name(), span, PMD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    match times.as_mut() {
        None => zero_page_reads::<false>(&mut run, &map, stride, span, &mut Vec::new())?,
        Some(t) => zero_page_reads::<true>(&mut run, &map, stride, span, t)?,
    }
    let prediction = pagetable::predict_zero_page_at(map.base as u64, span, stride);
    let what = format!("read {} pages at {stride} stride over {span}", run.faults);
    let summary = run.finish(map, Some(prediction), what)?;
    if let (Some(path), Some(times)) = (times_path, times) {
        let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
        fs::write(&path, bytes).map_err(io_err(&path))?;
    }
    Ok(summary)
}

/// The zero-page read loop. With `STAMP` it pushes CLOCK_MONOTONIC onto `times` just before
/// each read (`times` has room for all of them); without, the clock is not read at all.
#[inline(always)]
fn zero_page_reads<const STAMP: bool>(
    run: &mut Run<'_>,
    map: &Mapping,
    stride: Bytes,
    span: Bytes,
    times: &mut Vec<u64>,
) -> Result<(), WorkloadError> {
    let mut offset = 0;
    while offset < span.0 {
        // SAFETY: offset < span and the mapping holds `span` readable bytes from `base`.
        let p = unsafe { map.base.add(offset as usize) };
        // The address is ready before the clock is read and the time is stored after the
        // read, so only the end of the clock call separates the stamp from the fault.
        let t = if STAMP { mono_ns() } else { 0 };
        // SAFETY: as above.
        unsafe { std::ptr::read_volatile(p) };
        if STAMP {
            times.push(t);
        }
        run.faults += 1;
        run.maybe_checkpoint()?;
        offset += stride.0;
    }
    Ok(())
}

/// Where the access timestamps of `reads` reads go, after checking they fit in
/// [`MAX_TIMESTAMP_BYTES`] and that there is a run directory to put them in.
fn access_times_path(
    workload: &'static str,
    ctx: &RunContext,
    reads: u64,
) -> Result<PathBuf, WorkloadError> {
    let bytes = reads.saturating_mul(8);
    if bytes > MAX_TIMESTAMP_BYTES {
        return Err(invalid(
            workload,
            format!(
                "timestamps for {reads} reads would take {} MiB, more than the {} MiB allowed; \
                 use a smaller span or a larger stride (at most {} reads)",
                bytes >> 20,
                MAX_TIMESTAMP_BYTES >> 20,
                MAX_TIMESTAMP_BYTES / 8
            ),
        ));
    }
    let dir = ctx.checkpoint_dir.as_ref().ok_or_else(|| {
        invalid(
            workload,
            format!("timestamps need a run directory to write {ACCESS_TIMES_FILE} to (set {RUN_DIR_ENV})"),
        )
    })?;
    Ok(dir.join(ACCESS_TIMES_FILE))
}

/// An empty vector with room for `n` values whose pages are already faulted in, so that
/// filling it causes no page faults.
pub(super) fn prefaulted_vec(n: usize) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(n);
    let per_page = PAGE_SIZE as usize / std::mem::size_of::<u64>();
    for slot in v.spare_capacity_mut().iter_mut().step_by(per_page) {
        // SAFETY: `slot` is a valid, writable (if uninitialised) element of the allocation;
        // the volatile write keeps the compiler from dropping a store it cannot see read.
        unsafe { std::ptr::write_volatile(slot.as_mut_ptr(), 0) };
    }
    v
}
