//! Every sample of the sampling event classified into its phase, grouped per thread and
//! per (thread, stack, phase) so each distinct group is classified and counted once;
//! phase trees per process and for the workload.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::exit_work::Tied;
use super::frame_names::{self, FrameNames, IdFrames, PhaseFrames};
use super::groups::SampleGroups;
use super::irq::Relabel;
use super::ratio;
use crate::analyze::FrameWeights;
use crate::analyze::model::{Phase, ProcessPhases};
use crate::analyze::phases::{Classifier, PhaseNode};
use crate::ingest::intern::StackId;
use crate::ingest::profile::{EventId, Profile, SampleRecord, ThreadId};

/// Inclusive and self weights per frame over the workload's (corrected) stacks.
pub(super) fn scope_frames(
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

/// Phase of every sample of the sampling event, with per-thread trees. A sample's phase
/// is a function of its event and corrected stack, kept per distinct stack, so nothing
/// here grows with the number of samples.
pub(super) struct Phased {
    /// The sampling events.
    events: Vec<EventId>,
    /// Each sample's stack after the IRQ-sticky correction.
    relabel: Relabel,
    /// Phase path id per corrected stack (the empty stack at 0, stack `i` at `i + 1`),
    /// `NO_PATH` for stacks no sample of the sampling events has.
    path_of_stack: Vec<u32>,
    /// Phase paths by id.
    pub(super) path_names: Vec<String>,
    /// The phase tree of the whole recording.
    pub(super) total: PhaseNode,
    /// Frames per top-level phase, for the whole recording.
    pub(super) total_frames: PhaseFrames,
    /// Frame names of `per_thread`'s tables.
    names: FrameNames,
    per_thread: FxHashMap<ThreadId, (PhaseNode, IdFrames)>,
    /// Samples and weight per (thread, corrected stack, path id).
    pub(super) groups: FxHashMap<(ThreadId, StackId, u32), (u64, u64)>,
}

const NO_PATH: u32 = u32::MAX;

/// What the later stages look at: the classified samples, the workload and the exit work
/// other tasks did for it.
pub(super) struct Scope<'a> {
    /// The recording.
    pub(super) profile: &'a Profile,
    /// Its samples by phase.
    pub(super) phased: &'a Phased,
    /// The workload's pid, when known.
    pub(super) workload: Option<i32>,
    /// Exit work tied to the workload.
    pub(super) tied: &'a Tied,
}

impl Phased {
    /// The sample's stack after the IRQ-sticky correction.
    pub(super) fn stack(&self, r: &SampleRecord) -> StackId {
        self.relabel.stack(r)
    }

    /// The sample's phase path id, `None` for samples of other events.
    pub(super) fn path_id(&self, r: &SampleRecord) -> Option<u32> {
        if !self.events.contains(&r.event) {
            return None;
        }
        let slot = self.stack(r).0.wrapping_add(1) as usize;
        Some(self.path_of_stack[slot]).filter(|&id| id != NO_PATH)
    }

    /// The sample's phase path (empty for samples of other events).
    pub(super) fn path(&self, r: &SampleRecord) -> &str {
        match self.path_id(r) {
            None => "",
            Some(id) => &self.path_names[id as usize],
        }
    }
}

/// Classifies every sample of `events` (summed in `samples`) by its stack after
/// `relabel`, once per distinct stack.
pub(super) fn phase_samples(
    profile: &Profile,
    events: &[EventId],
    samples: &SampleGroups,
    relabel: Relabel,
    classifier: &mut Classifier<'_>,
) -> Phased {
    let mut p = Phased {
        events: events.to_vec(),
        relabel,
        path_of_stack: vec![NO_PATH; profile.interner.stack_count() + 1],
        path_names: Vec::new(),
        total: PhaseNode::default(),
        total_frames: BTreeMap::new(),
        names: FrameNames::default(),
        per_thread: FxHashMap::default(),
        groups: FxHashMap::default(),
    };
    // Per group only ids and sums: the trees are built once per distinct group.
    for (g, sums) in samples.iter() {
        let stack = p.relabel.stack_of(g.stack, g.leaf);
        let slot = stack.0.wrapping_add(1) as usize;
        if p.path_of_stack[slot] == NO_PATH {
            let name = classifier.classify(&profile.interner, stack);
            p.path_of_stack[slot] = match p.path_names.iter().position(|n| n == name) {
                Some(k) => k as u32,
                None => {
                    p.path_names.push(name.to_string());
                    (p.path_names.len() - 1) as u32
                }
            };
        }
        let id = p.path_of_stack[slot];
        let e = p.groups.entry((g.thread, stack, id)).or_default();
        e.0 += sums.samples;
        e.1 += sums.weight;
    }
    build_trees(&mut p, profile, classifier);
    p
}

/// The phase trees and frame tables of the whole recording and of each thread, from
/// the classified groups.
fn build_trees(p: &mut Phased, profile: &Profile, classifier: &Classifier<'_>) {
    // By stack, then thread: groups of one stack differ only by thread, so its frames
    // are named once (only sums follow, in any order).
    let mut groups: Vec<_> = p
        .groups
        .iter()
        .map(|(&(thread, stack, id), &v)| ((stack, id, thread), v))
        .collect();
    groups.sort_unstable();
    let mut total_frames = IdFrames::new();
    let mut ids = Vec::new();
    let mut named = None;
    for ((stack, id, thread), (n, weight)) in groups {
        let path = &p.path_names[id as usize];
        let top = path.split('/').next().unwrap_or_default();
        if named != Some((stack, id)) {
            ids = p
                .names
                .phase_frames(&profile.interner, classifier, stack, top);
            named = Some((stack, id));
        }
        p.total.add_n(path, n, weight);
        let entry = p.per_thread.entry(thread).or_default();
        entry.0.add_n(path, n, weight);
        frame_names::add(&mut total_frames, top, &ids, weight);
        frame_names::add(&mut entry.1, top, &ids, weight);
    }
    p.total_frames = p.names.named(&total_frames);
}

/// Converts a phase tree to report phases with shares of the tree's total.
pub(super) fn to_phases(
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

/// Whether a thread belongs to the workload `pid`.
pub(super) fn is_workload(profile: &Profile, thread: ThreadId, pid: Option<i32>) -> bool {
    let t = &profile.threads[thread.0 as usize];
    pid.is_some_and(|p| t.tid == p || t.pid == Some(p))
}

/// Phase trees per process (threads grouped by pid and comm), the workload first with
/// its tied exit work, then the 19 heaviest others.
pub(super) fn processes(
    profile: &Profile,
    phased: &Phased,
    workload: Option<i32>,
    tied: &Tied,
) -> Vec<ProcessPhases> {
    // Group threads by pid (or tid when perf printed only that) and comm.
    let mut groups: BTreeMap<(i32, String), (PhaseNode, Vec<ThreadId>)> = BTreeMap::new();
    for (&th, (node, _)) in &phased.per_thread {
        let t = &profile.threads[th.0 as usize];
        let key = (
            t.pid.unwrap_or(t.tid),
            String::from_utf8_lossy(&t.comm).into_owned(),
        );
        let g = groups.entry(key).or_default();
        merge_node(&mut g.0, node);
        g.1.push(th);
    }
    let mut heaviest: Vec<_> = groups
        .into_iter()
        .map(|((pid, comm), (mut node, threads))| {
            let is_w = workload == Some(pid);
            if is_w {
                tied.add_to(&mut node, phased);
            }
            (pid, comm, is_w, node, threads)
        })
        .collect();
    // Stable: processes that tie keep their (pid, comm) order.
    heaviest.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.3.weight.cmp(&a.3.weight))
            .then(a.0.cmp(&b.0))
    });
    heaviest.truncate(20);
    // Frame tables only for the processes reported.
    heaviest
        .into_iter()
        .map(|(pid, comm, is_w, node, threads)| {
            let mut frames = IdFrames::new();
            for th in threads {
                frame_names::merge(&mut frames, &phased.per_thread[&th].1);
            }
            ProcessPhases {
                pid,
                comm,
                workload: is_w,
                weight: node.weight,
                samples: node.samples,
                phases: to_phases(&node, &phased.names.named(&frames)),
                tied: if is_w {
                    tied.summary.clone()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

fn merge_node(into: &mut PhaseNode, from: &PhaseNode) {
    into.samples += from.samples;
    into.weight += from.weight;
    for (k, c) in &from.children {
        merge_node(into.children.entry(k.clone()).or_default(), c);
    }
}

/// The workload's phase tree with its tied exit work (the whole recording without one).
pub(super) fn workload_node(scope: &Scope<'_>) -> PhaseNode {
    let Scope {
        profile,
        phased,
        workload,
        tied,
    } = *scope;
    match workload {
        Some(pid) => {
            let mut node = PhaseNode::default();
            for r in profile.samples.iter() {
                let path = phased.path(&r);
                if !path.is_empty() && is_workload(profile, r.thread, Some(pid)) {
                    node.add(path, r.weight);
                }
            }
            tied.add_to(&mut node, phased);
            node
        }
        None => phased.total.clone(),
    }
}
