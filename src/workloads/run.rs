//! A workload run's bookkeeping: touches counted, clocks, the start and end /proc
//! figures, and the checkpoints.

use super::checkpoints::Checkpoints;
use super::mapping::Mapping;
use super::{RunContext, Summary, Workload, WorkloadError, proc_self};
use crate::analyze::pagetable::Prediction;
use crate::procfs::Status;
use crate::sys::monotonic_ns as mono_ns;

pub(super) struct Run<'a> {
    pub(super) workload: &'a Workload,
    /// Touches so far.
    pub(super) faults: u64,
    pub(super) mono_start_ns: u64,
    pub(super) mono_end_ns: u64,
    pub(super) vm_pte_kb_start: Option<u64>,
    pub(super) mapping: Option<(u64, u64)>,
    pub(super) end: Option<EndState>,
    pub(super) checkpoints: Checkpoints,
}

/// Measurements taken after the last touch, before anything is freed.
pub(super) struct EndState {
    pub(super) status: Option<Status>,
    pub(super) maps_lines: u64,
    pub(super) mapping_vmas: Option<u64>,
}

impl<'a> Run<'a> {
    pub(super) fn start(
        workload: &'a Workload,
        ctx: &RunContext,
        expected_faults: Option<u64>,
    ) -> Result<Self, WorkloadError> {
        Ok(Run {
            workload,
            faults: 0,
            mono_start_ns: mono_ns(),
            mono_end_ns: 0,
            vm_pte_kb_start: None,
            mapping: None,
            end: None,
            checkpoints: Checkpoints::new(ctx, expected_faults)?,
        })
    }

    pub(super) fn mapped(&mut self, map: &Mapping) -> Result<(), WorkloadError> {
        self.mapping = Some(map.range());
        self.checkpoint("mapped")
    }

    pub(super) fn checkpoint(&mut self, label: &str) -> Result<(), WorkloadError> {
        // The first checkpoint comes after mapping and before the first touch: the baseline.
        if self.vm_pte_kb_start.is_none() {
            self.vm_pte_kb_start = proc_self::status().and_then(|s| s.kb("VmPTE"));
        }
        self.checkpoints.take(label, self.faults, true)
    }

    #[inline]
    pub(super) fn maybe_checkpoint(&mut self) -> Result<(), WorkloadError> {
        if self.faults >= self.checkpoints.next_at {
            self.checkpoints.periodic(self.faults)?;
        }
        Ok(())
    }

    /// Records the end of the fill: the clock, `/proc` figures and the last checkpoint.
    pub(super) fn end_fill(&mut self) -> Result<(), WorkloadError> {
        self.mono_end_ns = mono_ns();
        let status = proc_self::status();
        let (maps_lines, mapping_vmas) = proc_self::maps_stats(self.mapping);
        self.end = Some(EndState {
            status,
            maps_lines,
            mapping_vmas,
        });
        self.checkpoints.take("end", self.faults, true)
    }

    pub(super) fn finish(
        mut self,
        map: Mapping,
        prediction: Option<Prediction>,
        what: String,
    ) -> Result<Summary, WorkloadError> {
        self.end_fill()?;
        drop(map);
        Ok(self.summarize(prediction, what))
    }
}
