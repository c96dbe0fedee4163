//! `faultline analyze`: where the time went and what the memory pathology cost.
//!
//! A `perf script` file (or a run directory from `faultline record`) becomes a
//! [`Report`]: the sampling clock and its IRQ-sticky correction, phases per process and
//! for the whole recording (with exit work other tasks did for the workload), time
//! segments from the tracepoint markers, derived per-fault figures, and /proc evidence.

mod boundary;
mod clock;
mod evidence;
mod exit_work;
pub mod export_view;
pub mod faults;
mod findings;
mod frame_names;
mod graphs;
pub mod groups;
pub mod irq;
pub mod model;
pub mod pagetable;
mod phased;
pub mod phases;
mod segments;
mod teardown;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::analyze::model::{InputInfo, Report};
use crate::analyze::phases::{Classifier, Rules};
use crate::error::{Error, Result};
use crate::fold::collapse;
use crate::ingest::input::Input;
use crate::ingest::load::{self, LoadOptions, LoadSummary, Located};
use crate::ingest::profile::{BuildOptions, EventId, Profile};
use crate::record::run_dir::{Manifest, RunDir, RunFileError, WorkloadExit, WorkloadSummary};

pub use segments::payload_field;

/// `faultline analyze` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// A run directory or a `perf script` file.
    pub input: PathBuf,
    /// A directory of /proc evidence (`timeline.jsonl`, `maps.*`) for plain scripts.
    pub proc_dir: Option<PathBuf>,
    /// Leave hrtimer samples where they landed.
    pub no_irq_correction: bool,
    /// A JSON rules file extending or overriding the built-in phases.
    pub rules: Option<PathBuf>,
    /// The sampling event (default: the first non-tracepoint event).
    pub event: Option<String>,
    /// Parser threads (0: one per core).
    pub threads: usize,
    /// Fail on the first unusable line of the recording instead of skipping it.
    pub strict: bool,
}

/// What analysis produced besides the report: folded stacks for the flame graphs.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// The report.
    pub report: Report,
    /// Folded stacks as recorded.
    pub raw: Vec<(Vec<u8>, u64)>,
    /// Folded stacks after the IRQ-sticky correction.
    pub corrected: Vec<(Vec<u8>, u64)>,
    /// Folded stacks rooted at their phase path, for the phase-coloured graph.
    pub by_phase: Vec<(Vec<u8>, u64)>,
    /// A colour for each frame name in `by_phase`, by its heaviest phase.
    pub phase_colors: Vec<(String, [u8; 3])>,
    /// The workload's corrected stacks with the exit work tied to it, under one root
    /// frame: the report's default view (empty without a workload).
    pub workload: Vec<(Vec<u8>, u64)>,
    /// A colour for each frame name in `workload`, by its heaviest phase there.
    pub workload_colors: Vec<(String, [u8; 3])>,
    /// Per frame name, for the workload (or the whole recording without one):
    /// (inclusive weight, self weight, samples the frame appears in).
    pub frames: BTreeMap<String, FrameWeights>,
    /// What loading the recording left out, for the caller to report.
    pub load: LoadSummary,
}

/// A frame's weights in one recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameWeights {
    /// Weight of samples with the frame anywhere on the stack.
    pub inclusive: u64,
    /// Weight of samples with the frame as the leaf.
    pub self_weight: u64,
    /// Samples with the frame anywhere on the stack.
    pub samples: u64,
}

/// Where the pieces of a recording are.
struct Sources {
    run_dir: Option<PathBuf>,
    proc_dir: Option<PathBuf>,
}

/// Whether `path` starts with perf.data's magic.
fn is_perf_data_file(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && crate::ingest::perf_data::is_perf_data(&magic)
}

fn sources(opts: &AnalyzeOptions, located: &Located) -> Sources {
    let run_dir = located.run_dir.clone();
    let proc_dir = opts
        .proc_dir
        .clone()
        .or_else(|| Some(RunDir::new(run_dir.as_ref()?).proc_dir()));
    Sources { run_dir, proc_dir }
}

/// The run's own files, each `None` when absent or unusable.
struct RunFiles {
    manifest: Option<Manifest>,
    workload_summary: Option<WorkloadSummary>,
    exit_info: Option<WorkloadExit>,
    /// Files that exist but could not be used, one sentence each.
    warnings: Vec<String>,
}

impl RunFiles {
    fn read(src: &Sources) -> RunFiles {
        let mut warnings = Vec::new();
        let run = src.run_dir.as_ref().map(RunDir::new);
        let manifest = run
            .as_ref()
            .and_then(|r| run_file(r.read_manifest(), &mut warnings));
        let workload_summary = run
            .as_ref()
            .and_then(|r| run_file(r.read_summary(), &mut warnings));
        let exit_info = run
            .as_ref()
            .and_then(|r| run_file(r.read_exit(), &mut warnings));
        if let (Some(m), Some(r)) = (&manifest, &run)
            && m.interrupted
        {
            warnings.push(format!(
                "{}: the recording was interrupted{}; it is partial",
                r.manifest().display(),
                m.stop_signal
                    .map(|s| format!(" (signal {s})"))
                    .unwrap_or_default()
            ));
        }
        RunFiles {
            manifest,
            workload_summary,
            exit_info,
            warnings,
        }
    }
}

/// A run file, typed. A missing file is normal (a killed workload writes no summary);
/// one that exists but does not read is reported in `warnings`.
fn run_file<T>(read: Result<Option<T>, RunFileError>, warnings: &mut Vec<String>) -> Option<T> {
    read.unwrap_or_else(|e| {
        warnings.push(format!("{e}; ignored"));
        None
    })
}

/// The phase rules: built in, with a `--rules` file's overrides.
fn load_rules(path: Option<&Path>) -> Result<Rules> {
    let Some(path) = path else {
        return Ok(Rules::builtin());
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Rules::builtin()
        .with_overrides(&text)
        .map_err(|message| Error::Rules {
            path: path.to_path_buf(),
            message,
        })
}

/// The sampling event's ids and name: `--event`, else the one the run's manifest names,
/// else the first sampling event.
fn sampling_events(
    profile: &Profile,
    requested: Option<&str>,
    run: &RunFiles,
) -> Result<(Vec<EventId>, String)> {
    // A run's manifest names the sampling event it recorded.
    let from_manifest = || run.manifest.as_ref().map(|m| m.event.as_str());
    let events = collapse::select_events(profile, requested.or_else(from_manifest))?;
    let name = events
        .first()
        .map(|e| profile.events[e.0 as usize].name.clone())
        .unwrap_or_default();
    Ok((events, name))
}

fn input_info(
    opts: &AnalyzeOptions,
    src: &Sources,
    profile: &Profile,
    run: &mut RunFiles,
) -> InputInfo {
    InputInfo {
        path: opts.input.display().to_string(),
        kind: if src.run_dir.is_some() {
            "run_dir"
        } else if profile.diagnostics.frame_lines == 0 && is_perf_data_file(&opts.input) {
            "perf_data"
        } else {
            "perf_script"
        }
        .into(),
        target: run
            .manifest
            .as_ref()
            .and_then(|m| serde_json::to_value(&m.target).ok()),
        kernel: profile.header.os_release.clone(),
        perf_version: profile.header.perf_version.clone(),
        skipped_lines: profile.diagnostics.total_skipped(),
        warnings: std::mem::take(&mut run.warnings),
    }
}

/// The workload's pid: from the run's exit file, else the OOM victim's marker.
fn workload_pid(profile: &Profile, run: &RunFiles) -> Option<i32> {
    let from_run = run.exit_info.map(|e| e.pid);
    from_run.or_else(|| segments::victim_pid(profile))
}

/// Runs the analysis: load, choose the event and clock, correct IRQ-sticky samples,
/// classify phases, tie deferred exit work, then segments, evidence and findings.
pub fn analyze(opts: &AnalyzeOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Analysis> {
    run(opts, progress, Want::Graphs).map(|(analysis, _)| analysis)
}

/// The analysis without the flame graphs' folded stacks and the frame table (left
/// empty): all the terminal and JSON reports need, in less time.
pub fn analyze_report(opts: &AnalyzeOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Analysis> {
    run(opts, progress, Want::Report).map(|(analysis, _)| analysis)
}

/// What a caller needs beyond the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The report alone.
    Report,
    /// The report, the flame graphs' folded stacks and the frame table.
    Graphs,
    /// All that and the corrected samples for the exports.
    View,
}

/// The analysis, and with [`Want::View`] the corrected samples behind it for the
/// exports.
fn run(
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(u64) + Sync),
    want: Want,
) -> Result<(Analysis, Option<export_view::ExportView>)> {
    let rules = load_rules(opts.rules.as_deref())?;
    let (loaded, release) = load_input(opts, progress)?;
    let src = sources(opts, &loaded.located);
    let mut profile = loaded.profile;
    let mut summary = loaded.summary;
    let mut run = RunFiles::read(&src);
    // A file that changed while read is said in the report, first.
    run.warnings.splice(0..0, summary.take_changed());
    let (events, event_name) = sampling_events(&profile, opts.event.as_deref(), &run)?;

    let mut report = Report {
        input: input_info(opts, &src, &profile, &mut run),
        ..Report::default()
    };
    report.events = profile
        .events
        .iter()
        .map(|e| (e.name.clone(), e.samples))
        .collect();
    report.clock = sampling_clock(&mut profile, &events, &event_name, &summary.path)?;
    // The one reading of every sample the correction and the phases need.
    let groups = groups::SampleGroups::new(&profile, &events, opts.threads);
    let (relabel, sticky) = clock::correct_irq_sticky(
        &mut profile,
        &events,
        &groups,
        &report.clock,
        opts.no_irq_correction,
    );
    report.irq_sticky = sticky;

    let workload = workload_pid(&profile, &run);
    report.markers = segments::markers(&profile);
    let mut classifier = Classifier::new(&rules);
    let phased = phased::phase_samples(&profile, &events, &groups, relabel, &mut classifier);
    let tied = exit_work::tie_exit_work(&profile, &phased, workload, &report.markers);
    report.phases = phased::to_phases(&phased.total, &phased.total_frames);
    report.processes = phased::processes(&profile, &phased, workload, &tied);
    let scope = phased::Scope {
        profile: &profile,
        phased: &phased,
        workload,
        tied: &tied,
    };
    report.segments = segments::segments(&scope, &report.markers, run.exit_info.as_ref());
    report.derived = evidence::derived(&scope, &run, &src);
    report.proc = evidence::proc_evidence(&src, &run, workload, &report.markers);
    report.findings = findings::findings(&report);

    let scope = graphs::Scope {
        profile: &profile,
        phased: &phased,
        workload,
        tied: &tied,
    };
    let graphs = match want {
        Want::Report => graphs::Graphs::default(),
        Want::Graphs | Want::View => graphs::folded(&scope, &groups),
    };
    let frames = match want {
        Want::Report => BTreeMap::new(),
        Want::Graphs | Want::View => phased::scope_frames(&profile, &phased, workload),
    };
    let view = (want == Want::View)
        .then(|| export_view::ExportView::new(profile, &phased, workload, &tied, &report, &src));
    let analysis = Analysis {
        report,
        raw: graphs.raw,
        corrected: graphs.corrected,
        by_phase: graphs.by_phase,
        phase_colors: graphs.phase_colors,
        workload: graphs.workload,
        workload_colors: graphs.workload_colors,
        frames,
        load: summary,
    };
    if let Some(release) = release {
        let _ = release.join();
    }
    Ok((analysis, view))
}

/// Loads the recording, keeping every sample: the analysis needs them in order. The
/// input is released on another thread, overlapping the analysis (unmapping a large
/// file clears a page-table entry per 4 KiB page: tens of milliseconds at 168 MB);
/// join the handle when done.
fn load_input(
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(load::Loaded, Option<std::thread::JoinHandle<()>>)> {
    let load_opts = LoadOptions {
        strict: opts.strict,
        allow_empty: false,
        build: BuildOptions {
            threads: opts.threads,
            keep_samples: true,
            ..BuildOptions::default()
        },
    };
    let located = load::locate(Some(&opts.input))?;
    let input = Input::open(Some(&located.recording))?;
    let (profile, summary) = load::parse(&input, &load_opts, progress)?;
    let release = input.release_in_background();
    let loaded = load::Loaded {
        profile,
        located,
        summary,
    };
    Ok((loaded, release))
}

/// The sampling clock, after estimating periods the text did not print.
fn sampling_clock(
    profile: &mut Profile,
    events: &[EventId],
    event_name: &str,
    path: &Path,
) -> Result<model::ClockInfo> {
    let estimated = clock::estimate_missing_periods(profile, events, event_name);
    // Estimated periods multiply sample counts: check the sums again.
    profile.check_weights(path)?;
    let mut info = clock::clock_info(profile, events, event_name);
    if let Some(period) = estimated {
        info.source.push_str(&format!(
            "; periods not printed, so each sample counts as the recorded period, {period} (1/frequency)"
        ));
    }
    Ok(info)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    /// The reader finds a run's recording under the name the recorder writes it.
    #[test]
    fn reader_and_recorder_agree_on_the_recording_name() {
        assert_eq!(
            crate::ingest::load::RUN_DIR_RECORDING,
            crate::record::run_dir::files::PERF_SCRIPT
        );
    }
}
