//! The sampling event's samples summed per distinct (thread, stack, leaf), in one
//! reading of the samples. The IRQ-sticky correction and the phases depend on nothing
//! else, so they work on these few thousand groups instead of millions of samples.
//! Groups keep the order of their first samples, so whatever those stages number in
//! order of first appearance (pseudo-frames, phase paths) comes out as it would sample
//! by sample.

use std::hash::BuildHasherDefault;

use indexmap::IndexMap;
use rustc_hash::FxHasher;

use crate::ingest::intern::StackId;
use crate::ingest::profile::{EventId, LeafId, Profile, ThreadId};

/// Samples and their summed weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Number of samples.
    pub samples: u64,
    /// Sum of their weights.
    pub weight: u64,
}

/// One distinct (thread, stack, leaf) of the sampling events' samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The thread.
    pub thread: ThreadId,
    /// The stack as recorded.
    pub stack: StackId,
    /// The innermost frame's raw symbol and offset.
    pub leaf: LeafId,
}

/// The sampling events' samples per (thread, stack, leaf), in order of first sample.
#[derive(Debug, Clone, Default)]
pub struct SampleGroups {
    groups: IndexMap<GroupKey, Sums, BuildHasherDefault<FxHasher>>,
}

impl SampleGroups {
    /// Sums the samples of `events`.
    pub fn new(profile: &Profile, events: &[EventId]) -> SampleGroups {
        let mut groups: IndexMap<GroupKey, Sums, BuildHasherDefault<FxHasher>> =
            IndexMap::default();
        for r in profile.samples.iter() {
            if !events.contains(&r.event) {
                continue;
            }
            let key = GroupKey {
                thread: r.thread,
                stack: r.stack,
                leaf: r.leaf,
            };
            let g = groups.entry(key).or_default();
            g.samples += 1;
            g.weight += r.weight;
        }
        SampleGroups { groups }
    }

    /// The groups in order of their first sample.
    pub fn iter(&self) -> impl Iterator<Item = (GroupKey, Sums)> + '_ {
        self.groups.iter().map(|(k, s)| (*k, *s))
    }
}
