//! `memory-hog`: malloc(4096)+memset until stopped (seed 001).

use std::io;

use super::run::Run;
use super::{HOG_CHUNK, RunContext, Summary, Workload, WorkloadError};
use crate::units::Bytes;

pub(super) fn run(
    w: &Workload,
    limit: Option<Bytes>,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let chunks = limit.map(|l| l.0 / HOG_CHUNK as u64);
    let mut run = Run::start(w, ctx, chunks)?;
    run.checkpoint("start")?;
    // The chunks form a singly linked list through their first word, so they stay
    // reachable (nothing optimises them away) and can all be freed at the end without a
    // second allocation that would blur the RSS figures.
    let mut head: *mut u8 = std::ptr::null_mut();
    let mut failure = None;
    let mut fill = || -> Result<(), WorkloadError> {
        while chunks.is_none_or(|c| run.faults < c) {
            // SAFETY: plain malloc; checked for NULL below.
            let p = unsafe { libc::malloc(HOG_CHUNK) }.cast::<u8>();
            if p.is_null() {
                failure = Some(io::Error::last_os_error());
                break;
            }
            // SAFETY: p points to HOG_CHUNK writable bytes, aligned for a pointer (malloc
            // guarantees max_align_t alignment).
            unsafe {
                std::ptr::write_bytes(p, b'X', HOG_CHUNK);
                p.cast::<*mut u8>().write(head);
            }
            head = p;
            run.faults += 1;
            run.maybe_checkpoint()?;
        }
        run.end_fill()
    };
    let filled = fill();
    // Freed on every path, so an error (a failed checkpoint write) leaks nothing either.
    free_chain(head);
    filled?;
    if let Some(source) = failure {
        return Err(WorkloadError::Sys {
            workload: w.name(),
            call: format!("malloc({HOG_CHUNK}) after {} allocations", run.faults),
            source,
        });
    }
    let what = format!(
        "malloc({HOG_CHUNK})+memset {} times ({} MiB)",
        run.faults,
        (run.faults * HOG_CHUNK as u64) >> 20
    );
    Ok(run.summarize(None, what))
}

fn free_chain(mut head: *mut u8) {
    while !head.is_null() {
        // SAFETY: every node came from malloc in run_memory_hog and stores the next node in
        // its first word; each is freed exactly once.
        unsafe {
            let next = head.cast::<*mut u8>().read();
            libc::free(head.cast());
            head = next;
        }
    }
}
