//! The corrected samples behind an analysis, one by one, for the exports (pprof,
//! speedscope, Firefox Profiler, Pyroscope): each sample of the sampling event with its
//! time, thread, stack after the IRQ-sticky correction, weight and phase, whether it
//! counts for the workload, plus the tracepoint markers and the run's /proc timeline
//! on the same clock.

use std::path::Path;

use crate::analyze::exit_work::Tied;
use crate::analyze::model::{ClockInfo, Marker};
use crate::analyze::phased::{Phased, is_workload};
use crate::analyze::{Analysis, AnalyzeOptions, Sources};
use crate::error::Result;
use crate::ingest::intern::StackId;
use crate::ingest::profile::{Profile, Thread, ThreadId};
use crate::record::run_dir::files;
use crate::units::Nanos;

/// One sample of the sampling event, as the analysis counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewSample {
    /// Sample time on the recording's clock (CLOCK_MONOTONIC for `faultline record`).
    pub time: Nanos,
    /// The thread that ran it.
    pub thread: ThreadId,
    /// The stack after the IRQ-sticky correction (as recorded with it off).
    pub stack: StackId,
    /// Its period in the event's unit.
    pub weight: u64,
    /// Index of its phase path in [`ExportView::phases`].
    pub phase: u32,
    /// Whether it counts for the workload: its own samples, and exit work other tasks
    /// did for it (OOM reaping, deferred page-table frees).
    pub workload: bool,
}

/// One line of the run's `proc/timeline.jsonl`, in kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelinePoint {
    /// When it was read, on the recording's clock.
    pub time: Nanos,
    /// The workload's `VmPTE` (its page tables), when the line has its status.
    pub vm_pte_kb: Option<u64>,
    /// The workload's `VmRSS`.
    pub vm_rss_kb: Option<u64>,
    /// System-wide `PageTables` from /proc/meminfo.
    pub page_tables_kb: Option<u64>,
}

/// The corrected, phase-labelled samples of one recording.
#[derive(Debug, Clone, Default)]
pub struct ExportView {
    /// The parsed recording: frame names, threads, header.
    pub profile: Profile,
    /// Samples of the sampling event with a non-empty stack, in input order.
    pub samples: Vec<ViewSample>,
    /// Phase paths (`fault/table-alloc`) by [`ViewSample::phase`].
    pub phases: Vec<String>,
    /// The workload's pid, when the run or an OOM marker names it.
    pub workload_pid: Option<i32>,
    /// The sampling clock.
    pub clock: ClockInfo,
    /// Tracepoint markers in time order.
    pub markers: Vec<Marker>,
    /// The run's /proc timeline (empty without one).
    pub timeline: Vec<TimelinePoint>,
}

impl ExportView {
    /// Collects the view from the analysis pipeline's intermediate results.
    pub(super) fn new(
        profile: Profile,
        phased: &Phased,
        workload_pid: Option<i32>,
        tied: &Tied,
        report: &crate::analyze::model::Report,
        src: &Sources,
    ) -> ExportView {
        let samples = profile
            .samples
            .iter()
            .filter(|r| phased.stack(r) != StackId::EMPTY)
            .filter_map(|r| {
                let phase = phased.path_id(&r)?;
                let path = &phased.path_names[phase as usize];
                Some(ViewSample {
                    time: r.time,
                    thread: r.thread,
                    stack: phased.stack(&r),
                    weight: r.weight,
                    phase,
                    workload: tied.contains(&profile, &r, path)
                        || is_workload(&profile, r.thread, workload_pid),
                })
            })
            .collect();
        let timeline = src
            .proc_dir
            .as_ref()
            .map(|dir| read_timeline(&dir.join(files::TIMELINE), workload_pid))
            .unwrap_or_default();
        ExportView {
            samples,
            phases: phased.path_names.clone(),
            workload_pid,
            clock: report.clock.clone(),
            markers: report.markers.clone(),
            timeline,
            profile,
        }
    }

    /// The thread a sample ran on.
    pub fn thread(&self, id: ThreadId) -> &Thread {
        &self.profile.threads[id.0 as usize]
    }

    /// A sample's frame names, root first.
    pub fn frame_names(&self, stack: StackId) -> Vec<String> {
        self.profile
            .interner
            .frames_of(stack)
            .into_iter()
            .map(|f| String::from_utf8_lossy(self.profile.interner.frame_name(f).0).into_owned())
            .collect()
    }

    /// Keeps only the samples that count for the workload, and the markers its threads
    /// fired or that name its pid (`oom:mark_victim pid=…` in another task); a no-op
    /// without a workload.
    pub fn retain_workload(&mut self) {
        let Some(pid) = self.workload_pid else { return };
        self.samples.retain(|s| s.workload);
        let tids: Vec<i32> = self
            .profile
            .threads
            .iter()
            .filter(|t| t.tid == pid || t.pid == Some(pid))
            .map(|t| t.tid)
            .collect();
        self.markers.retain(|m| {
            tids.contains(&m.pid) || m.pid == pid || super::segments::names_pid(m, pid)
        });
    }

    /// Sum of the samples' weights.
    pub fn total_weight(&self) -> u64 {
        self.samples.iter().map(|s| s.weight).sum()
    }
}

/// Runs the analysis and keeps its corrected samples for an export.
pub fn export_view(
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Analysis, ExportView)> {
    let (analysis, view) = super::run(opts, progress, super::Want::View)?;
    Ok((analysis, view.unwrap_or_default()))
}

/// The timeline's points; lines for other pids keep only their system-wide figure.
/// Lossy: one bad line or byte must not hide the whole series.
fn read_timeline(path: &Path, workload: Option<i32>) -> Vec<TimelinePoint> {
    let lines = crate::record::run_dir::read_timeline(path).unwrap_or_default();
    let mut points: Vec<TimelinePoint> = lines
        .into_iter()
        .map(|v| {
            let mine = match (workload, v.pid) {
                (Some(w), Some(p)) => p == w,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let status = |key: &str| mine.then(|| v.status.as_ref()?.get(key).copied()).flatten();
            TimelinePoint {
                time: Nanos(v.mono_ns),
                vm_pte_kb: status("VmPTE"),
                vm_rss_kb: status("VmRSS"),
                page_tables_kb: v
                    .meminfo
                    .as_ref()
                    .and_then(|m| m.get("PageTables").copied()),
            }
        })
        .collect();
    points.sort_by_key(|p| p.time);
    points
}
