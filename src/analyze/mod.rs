//! `faultline analyze`: where the time went and what the memory pathology cost.
//!
//! A `perf script` file (or a run directory from `faultline record`) becomes a
//! [`Report`]: the sampling clock and its IRQ-sticky correction, phases per process and
//! for the whole recording (with exit work other tasks did for the workload), time
//! segments from the tracepoint markers, derived per-fault figures, and /proc evidence.

pub mod irq;
pub mod model;
pub mod pagetable;
pub mod phases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::analyze::model::{
    ClockInfo, Derived, InputInfo, IrqSticky, Marker, ModelComparison, Phase, ProcEvidence,
    ProcessPhases, Report, Segment, Series, StickySite, TiedWork, VmaFindings,
};
use crate::analyze::phases::{Classifier, PhaseNode, Rules};
use crate::error::{Error, Result};
use crate::fold::collapse::{self, FoldOptions, StackNamer};
use crate::ingest::input::Input;
use crate::ingest::intern::StackId;
use crate::ingest::profile::{BuildOptions, EventId, Profile, ThreadId};
use crate::ingest::script::SampleClock;
use crate::ingest::script::header::base_name;
use crate::procfs;
use crate::record::runner::{MARKERS, files};

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
    /// Per frame name, for the workload (or the whole recording without one):
    /// (inclusive weight, self weight, samples the frame appears in).
    pub frames: BTreeMap<String, FrameWeights>,
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
    script: PathBuf,
    run_dir: Option<PathBuf>,
    proc_dir: Option<PathBuf>,
}

fn sources(opts: &AnalyzeOptions) -> Sources {
    if opts.input.is_dir() {
        Sources {
            script: opts.input.join(files::PERF_SCRIPT),
            run_dir: Some(opts.input.clone()),
            proc_dir: opts
                .proc_dir
                .clone()
                .or_else(|| Some(opts.input.join(files::PROC_DIR))),
        }
    } else {
        Sources {
            script: opts.input.clone(),
            run_dir: None,
            proc_dir: opts.proc_dir.clone(),
        }
    }
}

/// A run file as a JSON object. A missing file is normal (a killed workload writes no
/// summary); one that exists but is not an object is reported in `warnings`.
fn read_json(path: &Path, warnings: &mut Vec<String>) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) if v.is_object() => Some(v),
        Ok(_) => {
            warnings.push(format!("{}: not a JSON object; ignored", path.display()));
            None
        }
        Err(e) => {
            warnings.push(format!("{}: {e}; ignored", path.display()));
            None
        }
    }
}

/// Runs the analysis.
pub fn analyze(opts: &AnalyzeOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Analysis> {
    let src = sources(opts);
    let rules = match &opts.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            Rules::builtin()
                .with_overrides(&text)
                .map_err(|message| Error::Rules {
                    path: path.clone(),
                    message,
                })?
        }
        None => Rules::builtin(),
    };
    let input = Input::open(Some(&src.script))?;
    let build = BuildOptions {
        threads: opts.threads,
        keep_samples: true,
        ..BuildOptions::default()
    };
    let mut profile = Profile::build(input.bytes(), build, progress);
    if profile.diagnostics.samples == 0 {
        return Err(Error::NoSamples {
            path: src.script.clone(),
            lines: profile.diagnostics.lines,
            line: profile.diagnostics.first_skipped().map_or(0, |e| e.line),
            text: profile
                .diagnostics
                .first_skipped()
                .map_or_else(String::new, |e| e.text.clone()),
        });
    }
    let mut warnings: Vec<String> = input.changed().into_iter().collect();
    let mut run_file = |name: &str| {
        let dir = src.run_dir.as_ref()?;
        read_json(&dir.join(name), &mut warnings)
    };
    let manifest = run_file(files::MANIFEST);
    let workload_summary = run_file("workload.json");
    let exit_info = run_file(files::EXIT);

    // A run's manifest names the sampling event it recorded.
    let requested = opts.event.clone().or_else(|| {
        manifest
            .as_ref()?
            .get("event")?
            .as_str()
            .map(str::to_string)
    });
    let events = collapse::select_events(&profile, requested.as_deref())?;
    let event_name = events
        .first()
        .map(|e| profile.events[e.0 as usize].name.clone())
        .unwrap_or_default();

    let mut report = Report {
        input: InputInfo {
            path: opts.input.display().to_string(),
            kind: if src.run_dir.is_some() {
                "run_dir"
            } else {
                "perf_script"
            }
            .into(),
            target: manifest.as_ref().and_then(|m| m.get("target").cloned()),
            kernel: profile.header.os_release.clone(),
            perf_version: profile.header.perf_version.clone(),
            skipped_lines: profile.diagnostics.total_skipped(),
            warnings,
        },
        ..Report::default()
    };
    report.events = profile
        .events
        .iter()
        .map(|e| (e.name.clone(), e.samples))
        .collect();
    let estimated = estimate_missing_periods(&mut profile, &events, &event_name);
    profile.check_weights(&src.script)?;
    report.clock = clock_info(&profile, &events, &event_name);
    if let Some(period) = estimated {
        report.clock.source.push_str(&format!(
            "; periods not printed, so each sample counts as the recorded period, {period} (1/frequency)"
        ));
    }

    // IRQ-sticky correction, hrtimer samples only.
    let hrtimer = report.clock.kind == "hrtimer";
    let (stacks, sticky) = if opts.no_irq_correction {
        (
            profile.samples.iter().map(|r| r.stack).collect(),
            IrqSticky {
                reason: "disabled by --no-irq-correction".into(),
                ..IrqSticky::default()
            },
        )
    } else if !hrtimer {
        (
            profile.samples.iter().map(|r| r.stack).collect(),
            IrqSticky {
                reason: format!(
                    "not applied: {} samples are {} (only hrtimer samples pile up after IRQs-off regions)",
                    event_name, report.clock.kind
                ),
                ..IrqSticky::default()
            },
        )
    } else {
        let sites = irq::detect(&profile, &events);
        let c = irq::correct(&mut profile, &events, &sites);
        let total: u64 = profile
            .samples
            .iter()
            .filter(|r| events.contains(&r.event))
            .count() as u64;
        let reason = if c.total_moved > 0 {
            format!(
                "{event_name} samples come from an hrtimer that cannot fire while IRQs are off; \
                 they land on the first instruction after re-enable and are moved to the region they stand for"
            )
        } else {
            format!(
                "{event_name} samples come from an hrtimer, but no leaf is a known or detectable re-enable site"
            )
        };
        let sticky = IrqSticky {
            applied: c.total_moved > 0,
            reason,
            moved_samples: c.total_moved,
            moved_share: ratio(c.total_moved, total),
            sites: c
                .moved
                .iter()
                .map(|(i, label, n)| StickySite {
                    site: sites[*i].name(),
                    kind: label.clone(),
                    samples: *n,
                    detected_by: sites[*i].detected_by.into(),
                    share_of_function: sites[*i].share_of_function,
                })
                .collect(),
            caveat: "an IRQs-off stretch longer than one sample period yields at most one sample: \
                     such regions are undercounted, and the correction does not invent the missing time"
                .into(),
        };
        (c.stacks, sticky)
    };
    report.irq_sticky = sticky;

    // The workload: from the run, else the OOM victim.
    let victim_from_marker = profile.markers.iter().find_map(|m| {
        let r = profile.samples[m.sample];
        (profile.events[r.event.0 as usize].name == "oom:mark_victim")
            .then(|| payload_field(&m.payload, "pid").and_then(|p| p.parse::<i32>().ok()))
            .flatten()
    });
    let workload_pid = exit_info
        .as_ref()
        .and_then(|e| e["pid"].as_i64())
        .map(|p| p as i32)
        .or(victim_from_marker);

    report.markers = markers(&profile);
    let mut classifier = Classifier::new(&rules);
    let phased = phase_samples(&profile, &events, &stacks, &mut classifier);
    let tied = tie_exit_work(&profile, &phased, workload_pid, &report.markers);
    report.phases = to_phases(&phased.total, &phased.total_frames);
    report.processes = processes(&profile, &phased, workload_pid, &tied);
    report.segments = segments(
        &profile,
        &phased,
        workload_pid,
        &tied,
        &report.markers,
        &exit_info,
    );
    report.derived = derived(
        &profile,
        &phased,
        workload_pid,
        &tied,
        &workload_summary,
        &src,
    );
    report.proc = proc_evidence(
        &profile,
        &src,
        &manifest,
        &workload_summary,
        workload_pid,
        &report.markers,
    );
    report.findings = findings(&report);

    // Folded stacks for the flame graphs.
    let fold_opts = FoldOptions::default();
    let mut namer = StackNamer::new(&profile, &fold_opts);
    let mut raw_groups: FxHashMap<(ThreadId, StackId), u64> = FxHashMap::default();
    for r in profile.samples.iter().filter(|r| events.contains(&r.event)) {
        if r.stack != StackId::EMPTY {
            *raw_groups.entry((r.thread, r.stack)).or_default() += r.weight;
        }
    }
    let raw: Vec<_> = raw_groups
        .into_iter()
        .map(|((t, st), w)| (namer.line(t, st), w))
        .collect();
    let mut corrected = Vec::new();
    let mut by_phase = Vec::new();
    for (&(thread, stack, id), &(_, weight)) in &phased.groups {
        if stack == StackId::EMPTY {
            continue;
        }
        let line = namer.line(thread, stack);
        let mut phased_line = Vec::new();
        for part in phased.path_names[id as usize].split('/') {
            phased_line.extend_from_slice(format!("[{part}];").as_bytes());
        }
        phased_line.extend_from_slice(&line);
        corrected.push((line, weight));
        by_phase.push((phased_line, weight));
    }
    let by_phase = collapse::merge_sorted(by_phase);
    let phase_colors = phase_colors(&by_phase);
    let frames = scope_frames(&profile, &phased, workload_pid);
    Ok(Analysis {
        report,
        raw: collapse::merge_sorted(raw),
        corrected: collapse::merge_sorted(corrected),
        by_phase,
        phase_colors,
        frames,
    })
}

/// Inclusive and self weights per frame over the workload's (corrected) stacks.
fn scope_frames(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
) -> BTreeMap<String, FrameWeights> {
    let mut out: BTreeMap<String, FrameWeights> = BTreeMap::new();
    for (&(thread, stack, _), &(n, weight)) in &phased.groups {
        if workload.is_some() && !is_workload(profile, thread, workload) {
            continue;
        }
        let frames = profile.interner.frames_of(stack);
        let mut names: Vec<String> = frames
            .iter()
            .map(|f| String::from_utf8_lossy(profile.interner.frame_name(*f).0).into_owned())
            .collect();
        if let Some(leaf) = names.last() {
            out.entry(leaf.clone()).or_default().self_weight += weight;
        }
        names.sort();
        names.dedup();
        for name in names {
            let e = out.entry(name).or_default();
            e.inclusive += weight;
            e.samples += n;
        }
    }
    out
}

/// Old perf output omits the period column, so every sample weighs 1. When the header
/// gives the sampling event's fixed period or frequency, each sample stands for one
/// period (for `-F`, 1e9/frequency ns for the hrtimer clocks). Returns the period used.
fn estimate_missing_periods(profile: &mut Profile, events: &[EventId], name: &str) -> Option<u64> {
    let printed = profile
        .samples
        .iter()
        .any(|r| events.contains(&r.event) && r.weight != 1);
    if printed {
        return None;
    }
    let desc = profile.header.event(name).or_else(|| {
        profile
            .header
            .events
            .iter()
            .find(|e| base_name(&e.name) == base_name(name))
    })?;
    let period = match (desc.sample_period, desc.sample_freq, desc.clock()) {
        (Some(p), _, _) if p > 1 => p,
        (_, Some(f), SampleClock::Hrtimer) if f > 0 => 1_000_000_000 / f,
        _ => return None,
    };
    for r in profile
        .samples
        .iter_mut()
        .filter(|r| events.contains(&r.event))
    {
        r.weight = period;
    }
    for e in events {
        let stats = &mut profile.events[e.0 as usize];
        stats.weight = stats.samples.checked_mul(period).unwrap_or_else(|| {
            profile.weight_overflow = true;
            u64::MAX
        });
    }
    Some(period)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `pid=123` → `123` in a tracepoint payload.
pub fn payload_field<'a>(payload: &'a str, key: &str) -> Option<&'a str> {
    payload.split([' ', ',']).find_map(|w| {
        let (k, v) = w.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Whether a marker's payload names `pid` (`pid=1234`): OOM markers fire in other tasks.
fn names_pid(m: &Marker, pid: i32) -> bool {
    payload_field(&m.payload, "pid").and_then(|p| p.parse::<i32>().ok()) == Some(pid)
}

fn clock_info(profile: &Profile, events: &[EventId], name: &str) -> ClockInfo {
    let desc = profile.header.event(name).or_else(|| {
        profile
            .header
            .events
            .iter()
            .find(|e| base_name(&e.name) == base_name(name))
    });
    let (kind, source) = match desc.map(|d| (d.clock(), d)) {
        Some((SampleClock::Hrtimer, d)) => (
            "hrtimer",
            format!(
                "perf header: {name} is type 1 (software) config {}, an hrtimer",
                d.config.unwrap_or(0)
            ),
        ),
        Some((SampleClock::Nmi, _)) => (
            "nmi",
            "perf header: a hardware event, sampled by NMI".into(),
        ),
        Some((SampleClock::Event, _)) => (
            "unknown",
            "perf header: a software or tracepoint event that fires at a code location".into(),
        ),
        _ => match base_name(name) {
            "cpu-clock" | "task-clock" => ("hrtimer", format!("event name {name} (no header)")),
            "cycles" | "instructions" | "ref-cycles" => (
                "nmi",
                format!("event name {name} (no header): hardware events sample by NMI on x86"),
            ),
            _ => (
                "unknown",
                "no --header and an event name that does not tell".into(),
            ),
        },
    };
    let (mut n, mut w) = (0u64, 0u64);
    for e in events {
        n += profile.events[e.0 as usize].samples;
        w += profile.events[e.0 as usize].weight;
    }
    ClockInfo {
        event: name.to_string(),
        kind: kind.into(),
        source,
        mean_period: if n == 0 { 0.0 } else { w as f64 / n as f64 },
        frequency_hz: desc.and_then(|d| d.sample_freq),
        no_cpu_pmu: profile.header.lacks_cpu_pmu(),
    }
}

fn markers(profile: &Profile) -> Vec<Marker> {
    profile
        .markers
        .iter()
        .filter_map(|m| {
            let r = profile.samples[m.sample];
            let name = &profile.events[r.event.0 as usize].name;
            if !MARKERS.contains(&name.as_str()) {
                return None;
            }
            let t = &profile.threads[r.thread.0 as usize];
            Some(Marker {
                name: name.clone(),
                time: r.time.as_secs_f64(),
                pid: t.tid,
                comm: String::from_utf8_lossy(&t.comm).into_owned(),
                cpu: r.cpu,
                payload: m.payload.clone(),
            })
        })
        .collect()
}

/// Inclusive weight per (top-level phase, frame name).
type PhaseFrames = BTreeMap<String, BTreeMap<String, u64>>;

/// Phase of every sample of the sampling event, with per-thread trees.
struct Phased {
    /// Phase path id per sample index (`NO_PATH` for samples of other events).
    path_ids: Vec<u32>,
    /// Phase paths by id.
    path_names: Vec<String>,
    total: PhaseNode,
    total_frames: PhaseFrames,
    per_thread: FxHashMap<ThreadId, (PhaseNode, PhaseFrames)>,
    /// Samples and weight per (thread, corrected stack, path id).
    groups: FxHashMap<(ThreadId, StackId, u32), (u64, u64)>,
}

const NO_PATH: u32 = u32::MAX;

impl Phased {
    /// The phase path of sample `i` (empty for samples of other events).
    fn path(&self, i: usize) -> &str {
        match self.path_ids[i] {
            NO_PATH => "",
            id => &self.path_names[id as usize],
        }
    }
}

fn phase_samples(
    profile: &Profile,
    events: &[EventId],
    stacks: &[StackId],
    classifier: &mut Classifier<'_>,
) -> Phased {
    let mut p = Phased {
        path_ids: vec![NO_PATH; profile.samples.len()],
        path_names: Vec::new(),
        total: PhaseNode::default(),
        total_frames: BTreeMap::new(),
        per_thread: FxHashMap::default(),
        groups: FxHashMap::default(),
    };
    let mut path_of_stack: FxHashMap<StackId, u32> = FxHashMap::default();
    // Per sample only ids and sums: the trees are built once per distinct group.
    for (i, r) in profile.samples.iter().enumerate() {
        if !events.contains(&r.event) {
            continue;
        }
        let id = *path_of_stack.entry(stacks[i]).or_insert_with(|| {
            let name = classifier.classify(&profile.interner, stacks[i]);
            match p.path_names.iter().position(|n| n == name) {
                Some(k) => k as u32,
                None => {
                    p.path_names.push(name.to_string());
                    (p.path_names.len() - 1) as u32
                }
            }
        });
        p.path_ids[i] = id;
        let g = p.groups.entry((r.thread, stacks[i], id)).or_default();
        g.0 += 1;
        g.1 += r.weight;
    }
    let mut groups: Vec<_> = p.groups.iter().map(|(k, v)| (*k, *v)).collect();
    groups.sort_unstable();
    for ((thread, stack, id), (n, weight)) in groups {
        let path = &p.path_names[id as usize];
        let top = path.split('/').next().unwrap_or_default();
        // Only frames below the one that put the stack in its phase say where the
        // phase's time went (`unmap_page_range` under `exit_mmap`, not the signal
        // delivery that led to `do_exit`).
        let all: Vec<String> = profile
            .interner
            .frames_of(stack)
            .into_iter()
            .map(|f| String::from_utf8_lossy(profile.interner.frame_name(f).0).into_owned())
            .collect();
        let anchors: Vec<&String> = classifier
            .rules()
            .phases
            .iter()
            .filter(|r| r.name == top)
            .flat_map(|r| r.frames.iter())
            .collect();
        let below = all
            .iter()
            .rposition(|f| anchors.contains(&f))
            .map_or(0, |p| p + 1);
        let mut names = all[below..].to_vec();
        names.sort();
        names.dedup();
        p.total.add_n(path, n, weight);
        let entry = p.per_thread.entry(thread).or_default();
        entry.0.add_n(path, n, weight);
        let total_top = p.total_frames.entry(top.to_string()).or_default();
        for name in &names {
            *total_top.entry(name.clone()).or_default() += weight;
        }
        let thread_top = entry.1.entry(top.to_string()).or_default();
        for name in names {
            *thread_top.entry(name).or_default() += weight;
        }
    }
    p
}

/// Converts a phase tree to report phases with shares of the tree's total.
fn to_phases(
    root: &PhaseNode,
    frames: &BTreeMap<String, BTreeMap<String, u64>>,
) -> BTreeMap<String, Phase> {
    fn convert(node: &PhaseNode, total: u64) -> Phase {
        Phase {
            samples: node.samples,
            weight: node.weight,
            share: ratio(node.weight, total),
            children: node
                .children
                .iter()
                .map(|(k, c)| (k.clone(), convert(c, total)))
                .collect(),
            top_frames: Vec::new(),
        }
    }
    root.children
        .iter()
        .map(|(name, node)| {
            let mut phase = convert(node, root.weight);
            if let Some(f) = frames.get(name) {
                let mut top: Vec<(String, u64)> = f
                    .iter()
                    .filter(|(_, w)| **w < node.weight)
                    .map(|(n, w)| (n.clone(), *w))
                    .collect();
                top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                phase.top_frames = top
                    .into_iter()
                    .take(5)
                    .map(|(n, w)| (n, ratio(w, node.weight)))
                    .collect();
            }
            (name.clone(), phase)
        })
        .collect()
}

/// Frames of exit work that runs on behalf of a dying mm in other tasks.
const DEFERRED_EXIT_FRAMES: [&[u8]; 4] = [
    b"__oom_reap_task_mm",
    b"oom_reaper",
    b"tlb_remove_table_rcu",
    b"__tlb_remove_table_free",
];

/// How long after the workload's last sample deferred frees are still counted for it
/// (the runner keeps recording 1 s after the workload is reaped).
const TIE_WINDOW_SECONDS: f64 = 1.0;

/// Exit work that other tasks did for the workload: samples in `exit` phases on
/// other threads, tied by the OOM reaper's markers or by the time window after the
/// workload began to exit.
struct Tied {
    /// Sample indexes counted for the workload though another task ran them.
    samples: Vec<usize>,
    summary: Vec<TiedWork>,
}

fn tie_exit_work(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    markers: &[Marker],
) -> Tied {
    let mut tied = Tied {
        samples: Vec::new(),
        summary: Vec::new(),
    };
    let Some(pid) = workload else { return tied };
    let exit_start = markers
        .iter()
        .filter(|m| m.pid == pid || names_pid(m, pid))
        .filter(|m| m.name == "oom:mark_victim" || m.name == "sched:sched_process_exit")
        .map(|m| m.time)
        .fold(f64::INFINITY, f64::min);
    if !exit_start.is_finite() {
        return tied;
    }
    let reaping: Vec<(f64, f64)> = {
        let times = |name: &str| -> Vec<f64> {
            markers
                .iter()
                .filter(|m| m.name == name && names_pid(m, pid))
                .map(|m| m.time)
                .collect()
        };
        let (starts, ends) = (
            times("oom:start_task_reaping"),
            times("oom:finish_task_reaping"),
        );
        starts
            .iter()
            .map(|&s| {
                (
                    s,
                    ends.iter()
                        .copied()
                        .find(|&e| e >= s)
                        .unwrap_or(f64::INFINITY),
                )
            })
            .collect()
    };
    // Deferred work ends soon after the workload's last sample; later frees belong to
    // whatever exits next.
    let workload_end = profile
        .samples
        .iter()
        .filter(|r| is_workload(profile, r.thread, Some(pid)))
        .map(|r| r.time.as_secs_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let window_end = workload_end + TIE_WINDOW_SECONDS;
    let mut by: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut deferred_memo: FxHashMap<StackId, bool> = FxHashMap::default();
    for (i, r) in profile.samples.iter().enumerate() {
        if !phased.path(i).starts_with("exit") {
            continue;
        }
        let t = &profile.threads[r.thread.0 as usize];
        if t.tid == pid || t.pid == Some(pid) {
            continue;
        }
        let time = r.time.as_secs_f64();
        // Another task's own exit (`do_exit`, `exit_mmap`) is its own cost; only the
        // OOM reaper and deferred frees (RCU callbacks freeing page tables) run for
        // someone else.
        let deferred = *deferred_memo.entry(r.stack).or_insert_with(|| {
            let frames = profile.interner.frames_of(r.stack);
            let names: Vec<&[u8]> = frames
                .iter()
                .map(|f| profile.interner.frame_name(*f).0)
                .collect();
            names.iter().any(|n| DEFERRED_EXIT_FRAMES.contains(n))
        });
        if !deferred {
            continue;
        }
        let how = if reaping.iter().any(|&(s, e)| time >= s && time <= e) {
            "OOM reaping between oom:start_task_reaping and oom:finish_task_reaping for the workload's pid"
        } else if time >= exit_start && time <= window_end {
            "deferred page-table frees (RCU callbacks) or OOM reaping on another task, from the workload's oom:mark_victim or sched:sched_process_exit to 1 s after its last sample"
        } else {
            continue;
        };
        tied.samples.push(i);
        let e = by
            .entry((
                String::from_utf8_lossy(&t.comm).into_owned(),
                how.to_string(),
            ))
            .or_default();
        e.0 += 1;
        e.1 += r.weight;
    }
    tied.summary = by
        .into_iter()
        .map(|((comm, how), (samples, weight))| TiedWork {
            comm,
            samples,
            weight,
            how,
        })
        .collect();
    tied
}

fn is_workload(profile: &Profile, thread: ThreadId, pid: Option<i32>) -> bool {
    let t = &profile.threads[thread.0 as usize];
    pid.is_some_and(|p| t.tid == p || t.pid == Some(p))
}

fn processes(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    tied: &Tied,
) -> Vec<ProcessPhases> {
    // Group threads by pid (or tid when perf printed only that) and comm.
    let mut groups: BTreeMap<(i32, String), (PhaseNode, PhaseFrames)> = BTreeMap::new();
    for (th, (node, frames)) in &phased.per_thread {
        let t = &profile.threads[th.0 as usize];
        let key = (
            t.pid.unwrap_or(t.tid),
            String::from_utf8_lossy(&t.comm).into_owned(),
        );
        let g = groups.entry(key).or_default();
        merge_node(&mut g.0, node);
        for (phase, f) in frames {
            for (n, w) in f {
                *g.1.entry(phase.clone())
                    .or_default()
                    .entry(n.clone())
                    .or_default() += w;
            }
        }
    }
    let mut out: Vec<ProcessPhases> = groups
        .into_iter()
        .map(|((pid, comm), (mut node, mut frames))| {
            let is_w = workload == Some(pid);
            if is_w {
                for &i in &tied.samples {
                    let r = profile.samples[i];
                    node.add(phased.path(i), r.weight);
                    let _ = &mut frames;
                }
            }
            ProcessPhases {
                pid,
                comm,
                workload: is_w,
                weight: node.weight,
                samples: node.samples,
                phases: to_phases(&node, &frames),
                tied: if is_w {
                    tied.summary.clone()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.workload
            .cmp(&a.workload)
            .then(b.weight.cmp(&a.weight))
            .then(a.pid.cmp(&b.pid))
    });
    out.truncate(20);
    out
}

fn merge_node(into: &mut PhaseNode, from: &PhaseNode) {
    into.samples += from.samples;
    into.weight += from.weight;
    for (k, c) in &from.children {
        merge_node(into.children.entry(k.clone()).or_default(), c);
    }
}

fn segments(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    tied: &Tied,
    markers: &[Marker],
    exit_info: &Option<Value>,
) -> Vec<Segment> {
    let Some(pid) = workload else {
        return Vec::new();
    };
    let mine = |m: &&Marker| m.pid == pid || names_pid(m, pid);
    let first = |name: &str| {
        markers
            .iter()
            .filter(mine)
            .find(|m| m.name == name)
            .map(|m| m.time)
    };
    // The workload's samples and the tied ones, with their times.
    let mut work: Vec<(f64, u64, bool)> = profile
        .samples
        .iter()
        .enumerate()
        .filter(|(i, r)| !phased.path(*i).is_empty() && is_workload(profile, r.thread, Some(pid)))
        .map(|(i, r)| {
            (
                r.time.as_secs_f64(),
                r.weight,
                phased.path(i).starts_with("exit"),
            )
        })
        .collect();
    work.extend(tied.samples.iter().map(|&i| {
        let r = profile.samples[i];
        (r.time.as_secs_f64(), r.weight, true)
    }));
    if work.is_empty() {
        return Vec::new();
    }
    let start = exit_info
        .as_ref()
        .and_then(|e| e["start_mono_ns"].as_u64())
        .map(|ns| ns as f64 / 1e9)
        .unwrap_or_else(|| work.iter().map(|w| w.0).fold(f64::INFINITY, f64::min));
    let last_exit = work
        .iter()
        .filter(|w| w.2)
        .map(|w| w.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let last = work.iter().map(|w| w.0).fold(f64::NEG_INFINITY, f64::max);
    let mut points: Vec<(&str, f64)> = vec![("start", start)];
    for marker in ["oom:mark_victim", "sched:sched_process_exit"] {
        if let Some(t) = first(marker) {
            points.push((marker, t));
        }
    }
    let end = if last_exit.is_finite() && last_exit >= last {
        ("last exit work", last_exit)
    } else {
        ("last sample", last)
    };
    // Markers after the last sample end the story themselves.
    points.retain(|p| p.1 <= end.1 || p.0 == "start");
    points.push(end);
    points.sort_by(|a, b| a.1.total_cmp(&b.1));
    let names = |from: &str, to: &str| match (from, to) {
        ("start", _) => "run",
        ("oom:mark_victim", _) => "dying",
        ("sched:sched_process_exit", _) => "teardown",
        _ => "segment",
    };
    points
        .windows(2)
        .map(|w| {
            let (from, s) = w[0];
            let (to, e) = w[1];
            let inside = work
                .iter()
                .filter(|x| x.0 >= s && (x.0 < e || (to == points.last().unwrap().0 && x.0 <= e)));
            let (samples, weight) = inside.fold((0, 0), |(n, wt), x| (n + 1, wt + x.1));
            Segment {
                name: names(from, to).into(),
                from: from.into(),
                to: to.into(),
                start: s,
                end: e,
                wall_seconds: e - s,
                samples,
                weight,
            }
        })
        .collect()
}

fn workload_node(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    tied: &Tied,
) -> PhaseNode {
    match workload {
        Some(pid) => {
            let mut node = PhaseNode::default();
            for (i, r) in profile.samples.iter().enumerate() {
                if !phased.path(i).is_empty() && is_workload(profile, r.thread, Some(pid)) {
                    node.add(phased.path(i), r.weight);
                }
            }
            for &i in &tied.samples {
                node.add(phased.path(i), profile.samples[i].weight);
            }
            node
        }
        None => phased.total.clone(),
    }
}

fn derived(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    tied: &Tied,
    summary: &Option<Value>,
    src: &Sources,
) -> Derived {
    let node = workload_node(profile, phased, workload, tied);
    let (fault, exit) = (node.weight_of("fault"), node.weight_of("exit"));
    let mut d = Derived {
        exit_fault_ratio: (fault > 0).then(|| exit as f64 / fault as f64),
        ..Derived::default()
    };
    // Fault counts, best source first.
    if let Some(n) = summary
        .as_ref()
        .and_then(|s| s["faults_attempted"].as_u64())
    {
        d.faults = Some(n);
        d.faults_source = Some("workload summary (faults attempted)".into());
    } else {
        let page_faults: Vec<bool> = profile
            .events
            .iter()
            .map(|e| base_name(&e.name) == "page-faults")
            .collect();
        let pf: u64 = profile
            .samples
            .iter()
            .filter(|r| page_faults[r.event.0 as usize])
            .filter(|r| workload.is_none() || is_workload(profile, r.thread, workload))
            .map(|r| r.weight)
            .sum();
        let checkpoint = src
            .proc_dir
            .as_ref()
            .and_then(|p| last_checkpoint(p)?["faults"].as_u64());
        if pf > 0 {
            d.faults = Some(pf);
            d.faults_source = Some("page-faults event (sum of periods)".into());
        } else if let Some(n) = checkpoint.filter(|n| *n > 0) {
            d.faults = Some(n);
            d.faults_source = Some(
                "the workload's last checkpoint (a lower bound: it ran on until killed)".into(),
            );
        } else if let Some((first, last)) = src.proc_dir.as_ref().and_then(|p| {
            timeline_range(&p.join("timeline.jsonl"), |v| {
                v["vmstat"]["pgfault"].as_u64()
            })
        }) {
            d.faults = Some(last.saturating_sub(first));
            d.faults_source = Some("/proc/vmstat pgfault delta (system-wide)".into());
        }
    }
    if let Some(n) = d.faults.filter(|n| *n > 0) {
        d.cpu_per_fault_ns = Some(fault as f64 / n as f64);
        if let Some(s) = summary {
            if let (Some(end), Some(start)) =
                (s["vm_pte_kb"].as_u64(), s["vm_pte_kb_start"].as_u64())
            {
                d.table_bytes_per_fault =
                    Some(end.saturating_sub(start) as f64 * 1024.0 / n as f64);
            }
        }
    }
    d
}

/// The workload's last complete checkpoint line: a kill can cut the last one short.
fn last_checkpoint(proc_dir: &Path) -> Option<Value> {
    let text = std::fs::read(proc_dir.join("checkpoints.jsonl")).ok()?;
    text.split(|&b| b == b'\n').rev().find_map(|l| {
        serde_json::from_slice::<Value>(l)
            .ok()
            .filter(Value::is_object)
    })
}

/// First and last values of a timeline field.
fn timeline_range(path: &Path, field: impl Fn(&Value) -> Option<u64>) -> Option<(u64, u64)> {
    // Lossy: one bad byte must not hide the whole series.
    let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
    let values: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| field(&v))
        .collect();
    Some((*values.first()?, *values.last()?))
}

fn series(path: &Path, pid: Option<i32>, key: &str) -> Option<Series> {
    // Lossy: one bad byte must not hide the whole series.
    let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
    let mut s = Series::default();
    for v in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if pid.is_some_and(|p| v["pid"].as_i64() != Some(p as i64)) {
            continue;
        }
        let Some(x) = v["status"][key].as_u64() else {
            continue;
        };
        if s.points == 0 {
            s.first = x;
        }
        if s.points == 0 || x > s.max {
            s.max = x;
            s.max_time = v["mono_ns"].as_u64().unwrap_or(0) as f64 / 1e9;
        }
        s.last = x;
        s.points += 1;
    }
    (s.points > 0).then_some(s)
}

fn proc_evidence(
    profile: &Profile,
    src: &Sources,
    manifest: &Option<Value>,
    summary: &Option<Value>,
    workload: Option<i32>,
    markers: &[Marker],
) -> ProcEvidence {
    let _ = profile;
    let mut e = ProcEvidence::default();
    if let Some(dir) = &src.proc_dir {
        let timeline = dir.join("timeline.jsonl");
        e.vm_pte = series(&timeline, workload, "VmPTE");
        e.vm_rss = series(&timeline, workload, "VmRSS");
    }
    if let Some(s) = summary {
        if let (Some(faults), Some(pred), Some(end), Some(start)) = (
            s["faults_attempted"].as_u64(),
            s["predicted_table_bytes"].as_u64(),
            s["vm_pte_kb"].as_u64(),
            s["vm_pte_kb_start"].as_u64(),
        ) {
            let measured = end.saturating_sub(start);
            let predicted = pred / 1024;
            e.model = Some(ModelComparison {
                faults,
                predicted_kb: predicted,
                measured_kb: measured,
                error: if predicted == 0 {
                    0.0
                } else {
                    (measured as f64 - predicted as f64) / predicted as f64
                },
                bytes_per_fault: if faults == 0 {
                    0.0
                } else {
                    measured as f64 * 1024.0 / faults as f64
                },
            });
        }
    }
    e.mark_victim_pgtables_kb = markers
        .iter()
        .filter(|m| m.name == "oom:mark_victim")
        .find_map(|m| {
            payload_field(&m.payload, "pgtables")?
                .trim_end_matches("kB")
                .parse()
                .ok()
        });
    // VMAs: the workload's last checkpoint, else the sampler's last maps.
    let maps = src.proc_dir.as_ref().and_then(|dir| {
        let last_checkpoint =
            last_checkpoint(dir).and_then(|v| v["dir"].as_str().map(|d| dir.join(d).join("maps")));
        [last_checkpoint, Some(dir.join("maps.last"))]
            .into_iter()
            .flatten()
            .find(|p| p.is_file())
    });
    if let Some(path) = maps {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(vmas) = procfs::parse_maps(&text, &path) {
                let runs = procfs::unmerged_runs(&vmas);
                e.vmas = Some(VmaFindings {
                    source: path.display().to_string(),
                    count: vmas.len(),
                    max_map_count: manifest
                        .as_ref()
                        .and_then(|m| m["vm"]["max_map_count"].as_u64()),
                    unmerged_runs: runs.runs,
                    longest_run: runs.longest,
                    mergeable_savings: runs.mergeable_savings,
                });
            }
        }
    }
    e.settings = manifest.as_ref().map(|m| {
        serde_json::json!({
            "thp": m.get("thp"),
            "vm": m.get("vm"),
            "cgroup": m.get("cgroup"),
        })
    });
    e
}

fn findings(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let scope = r.processes.iter().find(|p| p.workload);
    let phases = scope.map_or(&r.phases, |p| &p.phases);
    let who = scope.map_or_else(
        || "the recording".to_string(),
        |p| format!("{} ({})", p.comm, p.pid),
    );
    let w = |name: &str| phases.get(name).map_or(0, |p| p.weight);
    let (fault, exit) = (w("fault"), w("exit"));
    if fault > 0 && exit > 0 {
        let top = phases["exit"]
            .top_frames
            .first()
            .map(|(f, s)| format!(": {f} {:.0}% of exit", s * 100.0))
            .unwrap_or_default();
        let verdict = if exit > fault {
            "more CPU dying than faulting"
        } else {
            "less CPU dying than faulting"
        };
        out.push(format!(
            "exit cost {:.1}× fault cost for {who} ({verdict}){top}",
            exit as f64 / fault as f64
        ));
    } else if fault > 0 {
        out.push(format!(
            "{who}: page faults take {:.0}% of its CPU",
            phases["fault"].share * 100.0
        ));
    }
    if r.irq_sticky.applied {
        // Idle halts are where an idle CPU wakes: name the largest site that is not.
        let site = r
            .irq_sticky
            .sites
            .iter()
            .find(|s| s.kind != "idle")
            .unwrap_or(&r.irq_sticky.sites[0]);
        let idle: u64 = r
            .irq_sticky
            .sites
            .iter()
            .filter(|s| s.kind == "idle")
            .map(|s| s.samples)
            .sum();
        let total = r.events.get(&r.clock.event).copied().unwrap_or(0);
        let busy_share = ratio(r.irq_sticky.moved_samples - idle, total);
        out.push(format!(
            "{:.0}% of {} samples sat on IRQ re-enable sites outside idle and were moved; the largest, {} ({}), held {} samples",
            busy_share * 100.0,
            r.clock.event,
            site.site,
            site.kind,
            site.samples
        ));
    }
    if let Some(tb) = phases
        .get("fault")
        .and_then(|f| f.children.get("table-alloc"))
    {
        if tb.weight > 0 {
            out.push(format!(
                "page-table allocation is {:.0}% of {who}'s CPU",
                tb.share * 100.0
            ));
        }
    }
    if let Some(m) = &r.proc.model {
        out.push(format!(
            "page tables grew {} kB over {} faults ({:.0} bytes per fault), {:+.1}% against the model's {} kB",
            m.measured_kb,
            m.faults,
            m.bytes_per_fault,
            m.error * 100.0,
            m.predicted_kb
        ));
    }
    if let Some(pt) = r.proc.mark_victim_pgtables_kb {
        out.push(format!(
            "the OOM killer found {pt} kB of page tables in its victim"
        ));
    }
    if let Some(v) = &r.proc.vmas {
        if v.unmerged_runs > 0 && v.mergeable_savings >= 100 {
            out.push(format!(
                "{} VMAs{}: {} runs of adjacent same-permission anonymous VMAs did not merge (longest {}); merging would save {}",
                v.count,
                v.max_map_count.map(|m| format!(" of max_map_count {m}")).unwrap_or_default(),
                v.unmerged_runs,
                v.longest_run,
                v.mergeable_savings
            ));
        }
    }
    if let (Some(n), Some(c)) = (r.derived.faults, r.derived.cpu_per_fault_ns) {
        if r.clock.kind == "hrtimer" {
            out.push(format!(
                "{c:.0} ns of fault-phase CPU per fault over {n} faults"
            ));
        }
    }
    out
}

/// Colours for the phase graph: each frame takes its heaviest phase's colour.
fn phase_colors(stacks: &[(Vec<u8>, u64)]) -> Vec<(String, [u8; 3])> {
    let color = |phase: &str| -> [u8; 3] {
        match phase.split('/').next().unwrap_or("") {
            "fault" => [230, 120, 50],
            "exit" => [200, 60, 60],
            "syscall" => [90, 140, 210],
            "user" => [110, 180, 90],
            _ => [170, 170, 170],
        }
    };
    let mut best: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut per: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (line, n) in stacks {
        let text = String::from_utf8_lossy(line);
        let mut parts = text.split(';');
        let mut phase = String::new();
        for part in parts.by_ref() {
            match part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                Some(p) if phase.is_empty() || !p.contains(' ') => {
                    if !phase.is_empty() {
                        phase.push('/');
                    }
                    phase.push_str(p);
                    *per.entry((part.to_string(), phase.clone())).or_default() += n;
                }
                _ => {
                    *per.entry((part.to_string(), phase.clone())).or_default() += n;
                    break;
                }
            }
        }
        for part in parts {
            *per.entry((part.to_string(), phase.clone())).or_default() += n;
        }
    }
    for ((frame, phase), n) in per {
        let e = best.entry(frame).or_insert((phase.clone(), 0));
        if n > e.1 {
            *e = (phase, n);
        }
    }
    best.into_iter().map(|(f, (p, _))| (f, color(&p))).collect()
}
