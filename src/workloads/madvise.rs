//! `madvise`: read a page, then advise it away, page after page.

use std::io;

use super::mapping::Mapping;
use super::run::Run;
use super::{Advice, MADVISE_LEN, MADVISE_SPAN, Workload};
use super::{RunContext, Summary, WorkloadError};
use crate::analyze::pagetable::{self, BreadthFirstOrder, PUD_TABLE_SPAN};

pub(super) fn run(
    w: &Workload,
    advice: Advice,
    faults: u64,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let span = MADVISE_SPAN;
    let mut run = Run::start(w, ctx, Some(faults))?;
    let map = Mapping::aligned(w.name(), span, PUD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    for offset in BreadthFirstOrder::new(span).take(faults as usize) {
        // SAFETY: offset < span inside the readable mapping.
        let page = unsafe { map.base.add(offset as usize) };
        // SAFETY: as above; a volatile read so the fault really happens.
        unsafe { std::ptr::read_volatile(page) };
        // SAFETY: `page` is 2 MiB aligned and, since the mapping extends a whole 512 GiB past
        // the span, the 2 MiB after it lie inside our own private anonymous mapping, whose
        // contents nobody relies on.
        let rc = unsafe { libc::madvise(page.cast(), MADVISE_LEN.0 as usize, advice.flag()) };
        if rc != 0 {
            return Err(WorkloadError::Sys {
                workload: w.name(),
                call: format!(
                    "madvise({page:p}, {}, {})",
                    MADVISE_LEN.0,
                    advice.kernel_name()
                ),
                source: io::Error::last_os_error(),
            });
        }
        run.faults += 1;
        run.maybe_checkpoint()?;
    }
    let prediction = match advice {
        Advice::Free => Some(pagetable::predict_breadth_first_span(run.faults, span)),
        Advice::DontNeed => None,
    };
    let what = format!(
        "read and {}'d {} pages breadth-first over {span}",
        advice.kernel_name(),
        run.faults
    );
    run.finish(map, prediction, what)
}
