//! The analysis result as data: one serialisable model ([`Report`], the `report.json` keys
//! documented in the README). Renderings live in `crate::report`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ingest::clock::SampleClock;

/// Everything `faultline analyze` found. Field names are the stable `report.json` keys.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What was analysed.
    pub input: InputInfo,
    /// How samples were taken.
    pub clock: ClockInfo,
    /// Samples per event name.
    pub events: BTreeMap<String, u64>,
    /// The IRQ-sticky correction.
    pub irq_sticky: IrqSticky,
    /// Phase tree for the whole recording (sampling event only), by phase name.
    pub phases: BTreeMap<String, Phase>,
    /// Per process: the workload first, then others by weight.
    pub processes: Vec<ProcessPhases>,
    /// Tracepoint markers in time order.
    pub markers: Vec<Marker>,
    /// Time segments of the workload's life, from the markers.
    pub segments: Vec<Segment>,
    /// Ratios and per-fault figures.
    pub derived: Derived,
    /// /proc evidence.
    pub proc: ProcEvidence,
    /// Plain-sentence findings, most important first.
    pub findings: Vec<String>,
}

/// The input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputInfo {
    /// The path given.
    pub path: String,
    /// `run_dir` or `perf_script`.
    pub kind: String,
    /// The workload or command, when a run manifest says.
    pub target: Option<serde_json::Value>,
    /// Kernel release of the recording.
    pub kernel: Option<String>,
    /// perf version of the recording.
    pub perf_version: Option<String>,
    /// Lines of the script that could not be used.
    pub skipped_lines: u64,
    /// Run files that could not be used (a corrupt manifest, say), one sentence each.
    pub warnings: Vec<String>,
}

/// The sampling clock.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClockInfo {
    /// The sampling event analysed.
    pub event: String,
    /// The clock; serialised as `hrtimer`, `nmi` or `unknown`.
    pub kind: SampleClock,
    /// How the kind was decided (`perf header: type 1 config 0`, `event name`).
    pub source: String,
    /// Mean sample period in the event's unit (ns for cpu-clock).
    pub mean_period: f64,
    /// Sampling frequency from the header, if recorded with -F.
    pub frequency_hz: Option<u64>,
    /// Whether the header shows no CPU PMU (a VM).
    pub no_cpu_pmu: Option<bool>,
}

/// The IRQ-sticky correction summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IrqSticky {
    /// Whether samples were moved.
    pub applied: bool,
    /// Why (or why not).
    pub reason: String,
    /// Samples moved to `[irqs-off]` pseudo-frames.
    pub moved_samples: u64,
    /// Share of the sampling event's samples moved.
    pub moved_share: f64,
    /// One entry per site.
    pub sites: Vec<StickySite>,
    /// What the correction cannot do.
    pub caveat: String,
}

/// A re-enable site where IRQs-off time piles up.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StickySite {
    /// `symbol+0xoffset` (or the function for pure enable functions).
    pub site: String,
    /// The IRQs-off region it stands for (`page-fault entry`, `syscall entry`, ...).
    pub kind: String,
    /// Samples moved from it.
    pub samples: u64,
    /// `table` (a known re-enable function) or `statistics` (one offset holding most
    /// of its function's leaf samples).
    pub detected_by: String,
    /// The share of the function's leaf samples at this offset.
    pub share_of_function: f64,
}

/// A node of the phase tree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phase {
    /// Samples.
    pub samples: u64,
    /// Period-weighted total (ns for cpu-clock).
    pub weight: u64,
    /// Share of the total weight of the scope (recording or process).
    pub share: f64,
    /// Sub-phases.
    pub children: BTreeMap<String, Phase>,
    /// The heaviest frames inside this phase (inclusive weight share within it).
    pub top_frames: Vec<(String, f64)>,
}

/// One process's phases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessPhases {
    /// Process (or thread) id.
    pub pid: i32,
    /// Command name.
    pub comm: String,
    /// Whether this is the recorded workload.
    pub workload: bool,
    /// Total weight.
    pub weight: u64,
    /// Total samples.
    pub samples: u64,
    /// Its phases.
    pub phases: BTreeMap<String, Phase>,
    /// Work done by other tasks tied to this process, and how it was tied.
    pub tied: Vec<TiedWork>,
}

/// Work of other tasks counted for a process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TiedWork {
    /// The other task (`ksoftirqd/0`, `oom_reaper`).
    pub comm: String,
    /// Its samples.
    pub samples: u64,
    /// Their weight.
    pub weight: u64,
    /// How it was tied.
    pub how: String,
}

/// A tracepoint marker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Marker {
    /// Event name.
    pub name: String,
    /// CLOCK_MONOTONIC seconds (as perf prints them).
    pub time: f64,
    /// Thread id.
    pub pid: i32,
    /// Command name.
    pub comm: String,
    /// CPU, when recorded.
    pub cpu: Option<u32>,
    /// The tracepoint payload.
    pub payload: String,
}

/// A time segment of the workload's life.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Segment {
    /// `run`, `oom-kill`, `exit`, `teardown`, ...
    pub name: String,
    /// Where it starts (a marker name or `start`).
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Wall time, seconds.
    pub wall_seconds: f64,
    /// Samples of the workload (and tied work) in the segment.
    pub samples: u64,
    /// Their weight.
    pub weight: u64,
}

/// Derived figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Derived {
    /// exit weight / fault weight, for the workload (or the whole recording).
    pub exit_fault_ratio: Option<f64>,
    /// Page faults, when known.
    pub faults: Option<u64>,
    /// Where the fault count came from.
    pub faults_source: Option<String>,
    /// Fault-phase CPU per fault, ns.
    pub cpu_per_fault_ns: Option<f64>,
    /// Page-table bytes per fault.
    pub table_bytes_per_fault: Option<f64>,
    /// Weight of the workload's `munmap` of its own mapping after its last fault (a
    /// bounded run tears down there, not in `exit_mmap`): counted as exit work in
    /// `exit_fault_ratio`, since it is the same unmap and table freeing done early.
    pub munmap_teardown_weight: u64,
}

/// Evidence from /proc and the run manifest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcEvidence {
    /// VmPTE over time (kB).
    pub vm_pte: Option<Series>,
    /// VmRSS over time (kB).
    pub vm_rss: Option<Series>,
    /// The page-table model against the measurement.
    pub model: Option<ModelComparison>,
    /// `pgtables=` from `oom:mark_victim`, kB.
    pub mark_victim_pgtables_kb: Option<u64>,
    /// VMA findings.
    pub vmas: Option<VmaFindings>,
    /// THP, overcommit and map-count settings in force.
    pub settings: Option<serde_json::Value>,
}

/// A summarised time series.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// Points.
    pub points: usize,
    /// First value.
    pub first: u64,
    /// Last value.
    pub last: u64,
    /// Largest value.
    pub max: u64,
    /// Time of the largest value, seconds.
    pub max_time: f64,
}

/// Page-table model versus VmPTE.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelComparison {
    /// Faults the model was fed.
    pub faults: u64,
    /// Predicted table bytes, kB.
    pub predicted_kb: u64,
    /// Measured VmPTE growth, kB.
    pub measured_kb: u64,
    /// (measured − predicted) / predicted.
    pub error: f64,
    /// Measured bytes of tables per fault.
    pub bytes_per_fault: f64,
}

/// VMA findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VmaFindings {
    /// Which maps snapshot.
    pub source: String,
    /// VMAs.
    pub count: usize,
    /// vm.max_map_count.
    pub max_map_count: Option<u64>,
    /// Runs of adjacent same-permission anonymous VMAs that did not merge.
    pub unmerged_runs: usize,
    /// The longest such run.
    pub longest_run: usize,
    /// VMAs merging would save.
    pub mergeable_savings: usize,
}
