//! The sampling event's samples summed per distinct (thread, stack, leaf), in one
//! reading of the samples. The IRQ-sticky correction and the phases depend on nothing
//! else, so they work on these few thousand groups instead of millions of samples.
//! Groups keep the order of their first samples, so whatever those stages number in
//! order of first appearance (pseudo-frames, phase paths) comes out as it would sample
//! by sample. The reading is split among threads; their partial sums are merged in
//! input order, which keeps the order of first samples.

use std::hash::BuildHasherDefault;

use indexmap::IndexMap;
use rustc_hash::FxHasher;

use crate::ingest::intern::StackId;
use crate::ingest::profile::{EventId, LeafId, Profile, SampleIter, ThreadId};

type GroupMap = IndexMap<GroupKey, Sums, BuildHasherDefault<FxHasher>>;

/// Samples below which one thread reads them all: threads would cost more than they
/// save.
const MIN_PARALLEL: usize = 1 << 16;

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
    groups: GroupMap,
}

impl SampleGroups {
    /// Sums the samples of `events`, on `threads` threads (0: one per core).
    pub fn new(profile: &Profile, events: &[EventId], threads: usize) -> SampleGroups {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let parts = if profile.samples.len() < MIN_PARALLEL {
            1
        } else {
            threads
        };
        SampleGroups::in_parts(profile, events, parts)
    }

    /// Sums the samples of `events` read in `parts` parts, each on its own thread.
    fn in_parts(profile: &Profile, events: &[EventId], parts: usize) -> SampleGroups {
        let parts = profile.samples.parts(parts);
        let partial: Vec<GroupMap> = if parts.len() <= 1 {
            parts.into_iter().map(|part| sum(part, events)).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = parts
                    .into_iter()
                    .map(|part| scope.spawn(move || sum(part, events)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("sample group worker panicked"))
                    .collect()
            })
        };
        // Later parts add their new groups after the earlier parts' ones.
        let mut partial = partial.into_iter();
        let mut groups = partial.next().unwrap_or_default();
        for part in partial {
            for (key, s) in part {
                let g = groups.entry(key).or_default();
                g.samples += s.samples;
                g.weight += s.weight;
            }
        }
        SampleGroups { groups }
    }

    /// The groups in order of their first sample.
    pub fn iter(&self) -> impl Iterator<Item = (GroupKey, Sums)> + '_ {
        self.groups.iter().map(|(k, s)| (*k, *s))
    }
}

/// The samples of `events` among `samples`, summed per group in order of first sample.
fn sum(samples: SampleIter<'_>, events: &[EventId]) -> GroupMap {
    let mut groups = GroupMap::default();
    // A thread running one loop repeats its group: no hashing then.
    let mut last: Option<(GroupKey, usize)> = None;
    for r in samples {
        if !events.contains(&r.event) {
            continue;
        }
        let key = GroupKey {
            thread: r.thread,
            stack: r.stack,
            leaf: r.leaf,
        };
        let i = match last {
            Some((k, i)) if k == key => i,
            _ => {
                let entry = groups.entry(key);
                let i = entry.index();
                entry.or_default();
                last = Some((key, i));
                i
            }
        };
        let g = &mut groups[i];
        g.samples += 1;
        g.weight += r.weight;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_on_threads_sum_as_one_reading() {
        // Enough samples for several chunks; stacks, threads and leaves recur at
        // different rates, so later parts meet groups the earlier ones have.
        let mut text = String::new();
        for i in 0..3000 {
            let (tid, fun) = (i % 7, i % 13);
            text.push_str(&format!(
                "app {tid} [00{}] 1.{i:06}: {} cpu-clock:\n\tffff f{fun}+0x{:x} ([kernel.kallsyms])\n\t1 main+0x10 (/bin/app)\n\n",
                i % 2,
                1000 + i % 3,
                i % 5
            ));
        }
        let p = Profile::kept(&text);
        assert_eq!(p.samples.len(), 3000);
        let ev = [EventId(0)];
        let one: Vec<_> = SampleGroups::in_parts(&p, &ev, 1).iter().collect();
        assert_eq!(one.len(), 7 * 13 * 5);
        assert_eq!(one.iter().map(|(_, s)| s.samples).sum::<u64>(), 3000);
        for parts in [2, 3, 5] {
            assert_eq!(p.samples.parts(parts).len(), parts);
            let many: Vec<_> = SampleGroups::in_parts(&p, &ev, parts).iter().collect();
            assert_eq!(many, one, "{parts} parts");
        }
    }
}
