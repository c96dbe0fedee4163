//! Folded stacks and colours for the flame graphs `analyze` draws.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::phased::Phased;
use crate::fold::collapse::{self, FoldOptions, StackNamer};
use crate::ingest::intern::StackId;
use crate::ingest::profile::{EventId, Profile, ThreadId};

/// Folded stacks for the three flame graphs, each merged and sorted.
pub(super) struct Graphs {
    /// As recorded.
    pub(super) raw: Vec<(Vec<u8>, u64)>,
    /// After the IRQ-sticky correction.
    pub(super) corrected: Vec<(Vec<u8>, u64)>,
    /// Rooted at their phase path.
    pub(super) by_phase: Vec<(Vec<u8>, u64)>,
    /// A colour per frame name of `by_phase`.
    pub(super) phase_colors: Vec<(String, [u8; 3])>,
}

/// Folds the sampling event's stacks as recorded, as corrected, and by phase.
pub(super) fn folded(profile: &Profile, events: &[EventId], phased: &Phased) -> Graphs {
    let fold_opts = FoldOptions::default();
    let mut namer = StackNamer::new(profile, &fold_opts);
    let mut raw_groups: FxHashMap<(ThreadId, StackId), u64> = FxHashMap::default();
    // Samples without a callchain count under their process alone, as in FlameGraph.
    for r in profile.samples.iter().filter(|r| events.contains(&r.event)) {
        *raw_groups.entry((r.thread, r.stack)).or_default() += r.weight;
    }
    let raw: Vec<_> = raw_groups
        .into_iter()
        .map(|((t, st), w)| (namer.line(t, st), w))
        .collect();
    let mut corrected = Vec::new();
    let mut by_phase = Vec::new();
    for (&(thread, stack, id), &(_, weight)) in &phased.groups {
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
    Graphs {
        raw: collapse::merge_sorted(raw),
        corrected: collapse::merge_sorted(corrected),
        phase_colors: phase_colors(&by_phase),
        by_phase,
    }
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
