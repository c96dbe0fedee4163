//! `breadth-first`: seed 000's pgd/pud/pmd-ordered reads.

use super::Workload;
use super::mapping::Mapping;
use super::run::Run;
use super::{RunContext, Summary, WorkloadError};
use crate::analyze::pagetable::{self, BreadthFirstOrder, PUD_TABLE_SPAN};
use crate::units::Bytes;

pub(super) fn run(
    w: &Workload,
    faults: Option<u64>,
    span: Bytes,
    ctx: &RunContext,
) -> Result<Summary, WorkloadError> {
    let limit = faults.unwrap_or_else(|| BreadthFirstOrder::total(span));
    let mut run = Run::start(w, ctx, faults)?;
    let map = Mapping::aligned(w.name(), span, PUD_TABLE_SPAN, libc::PROT_READ)?;
    run.mapped(&map)?;
    for offset in BreadthFirstOrder::new(span).take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        // SAFETY: the order yields offsets below `span`; the mapping is readable there.
        unsafe { std::ptr::read_volatile(map.base.add(offset as usize)) };
        run.faults += 1;
        run.maybe_checkpoint()?;
    }
    let prediction = pagetable::predict_breadth_first_span(run.faults, span);
    let what = format!(
        "read {} addresses breadth-first over {span} ({} PGD slots)",
        run.faults,
        span.0.div_ceil(PUD_TABLE_SPAN)
    );
    run.finish(map, Some(prediction), what)
}
