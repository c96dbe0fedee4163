//! Folded stacks and colours for the flame graphs `analyze` draws.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::exit_work::Tied;
use super::groups::SampleGroups;
use super::phased::{Phased, is_workload};
use crate::fold::collapse::{self, FoldOptions, StackNamer};
use crate::ingest::intern::StackId;
use crate::ingest::profile::{Profile, ThreadId};

/// Folded stacks for the three flame graphs, each merged and sorted.
#[derive(Default)]
pub(super) struct Graphs {
    /// As recorded.
    pub(super) raw: Vec<(Vec<u8>, u64)>,
    /// After the IRQ-sticky correction.
    pub(super) corrected: Vec<(Vec<u8>, u64)>,
    /// Rooted at their phase path.
    pub(super) by_phase: Vec<(Vec<u8>, u64)>,
    /// A colour per frame name of `by_phase`.
    pub(super) phase_colors: Vec<(String, [u8; 3])>,
    /// The workload's corrected stacks, its tied exit work included, all under one
    /// root frame (empty without a workload).
    pub(super) workload: Vec<(Vec<u8>, u64)>,
    /// A colour per frame name of `workload`, by its heaviest phase in the workload.
    pub(super) workload_colors: Vec<(String, [u8; 3])>,
}

/// What the workload's graph needs beyond the phased samples.
pub(super) struct Scope<'a> {
    pub(super) profile: &'a Profile,
    pub(super) phased: &'a Phased,
    pub(super) workload: Option<i32>,
    pub(super) tied: &'a Tied,
}

/// Folds the sampling event's stacks as recorded, as corrected, by phase, and the
/// workload's alone.
pub(super) fn folded(scope: &Scope<'_>, samples: &SampleGroups) -> Graphs {
    let (profile, phased) = (scope.profile, scope.phased);
    let fold_opts = FoldOptions::default();
    let mut namer = StackNamer::new(profile, &fold_opts);
    let mut raw_groups: FxHashMap<(ThreadId, StackId), u64> = FxHashMap::default();
    // Samples without a callchain count under their process alone, as in FlameGraph.
    for (g, sums) in samples.iter() {
        *raw_groups.entry((g.thread, g.stack)).or_default() += sums.weight;
    }
    let raw: Vec<_> = raw_groups
        .into_iter()
        .map(|((t, st), w)| (namer.line(t, st), w))
        .collect();
    let mut corrected = Vec::new();
    let mut by_phase = Vec::new();
    for (&(thread, stack, id), &(_, weight)) in &phased.groups {
        let line = namer.line(thread, stack);
        let phased_line = under_phase(&phased.path_names[id as usize], &line);
        corrected.push((line, weight));
        by_phase.push((phased_line, weight));
    }
    let by_phase = collapse::merge_sorted(by_phase);
    let (workload, workload_by_phase) = workload_lines(scope, &mut namer);
    Graphs {
        raw: collapse::merge_sorted(raw),
        corrected: collapse::merge_sorted(corrected),
        phase_colors: phase_colors(&by_phase),
        by_phase,
        workload,
        workload_colors: phase_colors(&workload_by_phase),
    }
}

/// The workload's stacks (its own samples and the exit work tied to it), rooted at the
/// workload's name so its graph is one tower as wide as the image: other tasks' tied
/// work sits under `[exit work in COMM]`. Also the same lines rooted at their phase
/// path, for the colours.
type Folded = Vec<(Vec<u8>, u64)>;
fn workload_lines(scope: &Scope<'_>, namer: &mut StackNamer<'_>) -> (Folded, Folded) {
    let (profile, phased) = (scope.profile, scope.phased);
    let Some(pid) = scope.workload else {
        return (Vec::new(), Vec::new());
    };
    let thread_of = |t: &crate::ingest::profile::Thread| t.tid == pid || t.pid == Some(pid);
    let root = profile
        .threads
        .iter()
        .find(|t| t.tid == pid)
        .or_else(|| profile.threads.iter().find(|t| thread_of(t)))
        .map_or_else(
            || format!("pid {pid}"),
            |t| String::from_utf8_lossy(&t.comm).into_owned(),
        );
    // Summed per group first: one line per distinct (thread, stack, phase, tied).
    let mut groups: BTreeMap<(u32, StackId, u32, bool), u64> = BTreeMap::new();
    for r in profile.samples.iter() {
        let Some(id) = phased.path_id(&r) else {
            continue;
        };
        let own = is_workload(profile, r.thread, Some(pid));
        if own
            || scope
                .tied
                .contains(profile, &r, &phased.path_names[id as usize])
        {
            *groups
                .entry((r.thread.0, phased.stack(&r), id, !own))
                .or_default() += r.weight;
        }
    }
    let (mut lines, mut by_phase) = (Vec::new(), Vec::new());
    for ((thread, stack, id, other), weight) in groups {
        let named = namer.line(ThreadId(thread), stack);
        // The namer's first frame is the thread's own root: replaced by the workload's.
        let frames = memchr::memchr(b';', &named).map_or(&[][..], |i| &named[i..]);
        let mut line = root.clone().into_bytes();
        if other {
            let comm = String::from_utf8_lossy(&profile.threads[thread as usize].comm);
            line.extend_from_slice(format!(";[exit work in {comm}]").as_bytes());
        }
        line.extend_from_slice(frames);
        let phased_line = under_phase(&phased.path_names[id as usize], &line);
        lines.push((line, weight));
        by_phase.push((phased_line, weight));
    }
    (
        collapse::merge_sorted(lines),
        collapse::merge_sorted(by_phase),
    )
}

/// `line` under its phase path's frames: `[fault];[table-alloc];line`.
fn under_phase(path: &str, line: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in path.split('/') {
        out.extend_from_slice(format!("[{part}];").as_bytes());
    }
    out.extend_from_slice(line);
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
    // Lines are folded from valid UTF-8 already; borrow their parts rather than copy them.
    let texts: Vec<_> = stacks
        .iter()
        .map(|(l, _)| String::from_utf8_lossy(l))
        .collect();
    let mut phases: FxHashMap<String, u32> = FxHashMap::default();
    let mut per: FxHashMap<(&str, u32), u64> = FxHashMap::default();
    for (text, (_, n)) in texts.iter().zip(stacks) {
        let mut parts = text.split(';');
        let mut phase = String::new();
        let mut id = phase_id(&mut phases, &phase);
        for part in parts.by_ref() {
            match part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                Some(p) if phase.is_empty() || !p.contains(' ') => {
                    if !phase.is_empty() {
                        phase.push('/');
                    }
                    phase.push_str(p);
                    id = phase_id(&mut phases, &phase);
                    *per.entry((part, id)).or_default() += n;
                }
                _ => {
                    *per.entry((part, id)).or_default() += n;
                    break;
                }
            }
        }
        for part in parts {
            *per.entry((part, id)).or_default() += n;
        }
    }
    let mut names = vec![""; phases.len()];
    for (name, &id) in &phases {
        names[id as usize] = name;
    }
    // Each frame's heaviest phase; of equally heavy ones, the first by name.
    let mut best: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    for ((frame, id), n) in per {
        let phase = names[id as usize];
        let e = best.entry(frame).or_insert((phase, n));
        if n > e.1 || n == e.1 && phase < e.0 {
            *e = (phase, n);
        }
    }
    best.into_iter()
        .map(|(f, (p, _))| (f.to_string(), color(p)))
        .collect()
}

/// The id of a phase path, numbered in order of first use.
fn phase_id(phases: &mut FxHashMap<String, u32>, phase: &str) -> u32 {
    if let Some(&id) = phases.get(phase) {
        return id;
    }
    let id = phases.len() as u32;
    phases.insert(phase.to_string(), id);
    id
}
