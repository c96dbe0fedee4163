//! Frame names by dense id for the phases' frame tables: each group of samples adds its
//! weight to every frame name of its stack, per phase and per thread, so the sums are
//! kept by number and turned into names once at the end.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::analyze::phases::Classifier;
use crate::ingest::intern::{FrameId, FxIndexSet, Interner, StackId};

/// Inclusive weight per (top-level phase, frame name).
pub(super) type PhaseFrames = BTreeMap<String, BTreeMap<String, u64>>;

/// Inclusive weight per (top-level phase, frame name id).
pub(super) type IdFrames = BTreeMap<String, FxHashMap<u32, u64>>;

/// Distinct frame names (lossy UTF-8, as reported), by id.
#[derive(Debug, Default)]
pub(super) struct FrameNames {
    names: FxIndexSet<String>,
    /// By frame id: its name's id, `u32::MAX` until named.
    of_frame: Vec<u32>,
}

impl FrameNames {
    /// The id of a frame's name.
    fn id(&mut self, interner: &Interner, frame: FrameId) -> u32 {
        let slot = frame.0 as usize;
        if slot >= self.of_frame.len() {
            self.of_frame.resize(slot + 1, u32::MAX);
        }
        if self.of_frame[slot] == u32::MAX {
            let name = String::from_utf8_lossy(interner.frame_name(frame).0);
            let id = match self.names.get_index_of(name.as_ref()) {
                Some(i) => i,
                None => self.names.insert_full(name.into_owned()).0,
            };
            self.of_frame[slot] = id as u32;
        }
        self.of_frame[slot]
    }

    /// The name with this id.
    pub(super) fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The ids of the distinct names of a stack's frames that say where its phase's time
    /// went: only frames below the one that put the stack in its phase
    /// (`unmap_page_range` under `exit_mmap`, not the signal delivery that led to
    /// `do_exit`).
    pub(super) fn phase_frames(
        &mut self,
        interner: &Interner,
        classifier: &Classifier<'_>,
        stack: StackId,
        top: &str,
    ) -> Vec<u32> {
        let mut ids: Vec<u32> = interner
            .frames_of(stack)
            .into_iter()
            .map(|f| self.id(interner, f))
            .collect();
        let anchors: Vec<&String> = classifier
            .rules()
            .phases
            .iter()
            .filter(|r| r.name == top)
            .flat_map(|r| r.frames.iter())
            .collect();
        let below = ids
            .iter()
            .rposition(|&id| anchors.iter().any(|a| a.as_str() == self.name(id)))
            .map_or(0, |p| p + 1);
        let mut ids = ids.split_off(below);
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The tables with names for ids.
    pub(super) fn named(&self, frames: &IdFrames) -> PhaseFrames {
        frames
            .iter()
            .map(|(top, per)| {
                let per = per.iter().map(|(&id, &w)| (self.name(id).to_string(), w));
                (top.clone(), per.collect())
            })
            .collect()
    }
}

/// Adds `weight` to each of the frame names `ids` under the top-level phase `top`.
pub(super) fn add(frames: &mut IdFrames, top: &str, ids: &[u32], weight: u64) {
    let per = match frames.get_mut(top) {
        Some(per) => per,
        None => frames.entry(top.to_string()).or_default(),
    };
    for &id in ids {
        *per.entry(id).or_default() += weight;
    }
}

/// Adds the sums of `from` to `into`.
pub(super) fn merge(into: &mut IdFrames, from: &IdFrames) {
    for (top, per) in from {
        let into = into.entry(top.clone()).or_default();
        for (&id, &w) in per {
            *into.entry(id).or_default() += w;
        }
    }
}
