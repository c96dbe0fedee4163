//! Parsed samples → an interned profile: per (event, thread, stack) sample counts and
//! period sums. Large inputs are parsed on several threads, each on its own pieces
//! of the input, and the partial profiles merged; the result does not depend on the
//! thread count.

use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::Equivalent;
use rustc_hash::FxHashMap;

use crate::ingest::intern::{FxIndexSet, Interner, StackId};
use crate::ingest::script::{self, Diagnostics, Header, Sample};
use crate::units::Nanos;

mod builder;
mod samples;
mod stream;

use builder::{Builder, PieceResult};
pub use samples::{Iter as SampleIter, SampleLog};

/// A worker's builder and what each piece it parsed said, by piece index.
type WorkerResult = (Builder, Vec<(usize, PieceResult)>);

/// Worker threads for `requested` (0: one per available core).
fn worker_count(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Runs `work` on `workers` threads (on this one for a single worker), each with its
/// own builder.
fn run_workers(
    workers: usize,
    opts: BuildOptions,
    work: impl Fn(&mut Builder) -> Vec<(usize, PieceResult)> + Sync,
) -> Vec<WorkerResult> {
    let one = || {
        let mut b = Builder::new(opts);
        let parts = work(&mut b);
        (b, parts)
    };
    if workers <= 1 {
        return vec![one()];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(one)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("profile worker panicked"))
            .collect()
    })
}

/// A thread as named on sample lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thread {
    /// The command name.
    pub comm: Box<[u8]>,
    /// The process id, when perf printed `pid/tid`.
    pub pid: Option<i32>,
    /// The thread id.
    pub tid: i32,
}

/// A borrowed [`Thread`] for lookups; its derived `Hash` matches `Thread`'s.
#[derive(Hash)]
struct ThreadRef<'a> {
    comm: &'a [u8],
    pid: Option<i32>,
    tid: i32,
}

impl Equivalent<Thread> for ThreadRef<'_> {
    fn equivalent(&self, key: &Thread) -> bool {
        *self.comm == *key.comm && self.pid == key.pid && self.tid == key.tid
    }
}

/// A borrowed leaf key; its derived `Hash` matches the `(Box<[u8]>, u64)` tuple's.
#[derive(Hash)]
struct LeafRef<'a> {
    symbol: &'a [u8],
    offset: u64,
}

impl Equivalent<(Box<[u8]>, u64)> for LeafRef<'_> {
    fn equivalent(&self, key: &(Box<[u8]>, u64)) -> bool {
        *self.symbol == *key.0 && self.offset == key.1
    }
}

/// Index of an event in [`Profile::events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u32);

/// Index of a thread in [`Profile::threads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u32);

/// Totals for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStats {
    /// The event name as printed on sample lines.
    pub name: String,
    /// Number of samples.
    pub samples: u64,
    /// Sum of sample periods (1 for samples without a period).
    pub weight: u64,
    /// Where the event first appears: (input piece, line within it).
    first_seen: (usize, u64),
}

/// Samples and period sum of one (event, thread, stack).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Number of samples.
    pub samples: u64,
    /// Sum of sample periods, 1 for samples without a period.
    pub weight: u64,
}

type FxHashMapKey = (EventId, ThreadId, StackId);

/// Options that change how frames are interned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Name unresolved frames by their address (`[unknown <7f…>]`), as `--addrs`.
    pub include_addrs: bool,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Keep every sample's time, thread, stack and leaf offset ([`Profile::samples`])
    /// and tracepoint payloads ([`Profile::markers`]), for analyses over time.
    pub keep_samples: bool,
}

/// Index of an interned leaf site in [`Profile::leaves`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeafId(pub u32);

impl LeafId {
    /// A sample without frames.
    pub const NONE: LeafId = LeafId(u32::MAX);
}

/// One sample, kept with [`BuildOptions::keep_samples`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRecord {
    /// Sample time (CLOCK_MONOTONIC with `perf record -k mono`); 0 when not printed.
    pub time: Nanos,
    /// Its event.
    pub event: EventId,
    /// Its thread.
    pub thread: ThreadId,
    /// Its CPU, when printed.
    pub cpu: Option<u32>,
    /// Its stack.
    pub stack: StackId,
    /// Its innermost frame's raw symbol and offset.
    pub leaf: LeafId,
    /// Its period, 1 when not printed.
    pub weight: u64,
    /// 1-based line of its event line in the input.
    pub line: u64,
}

/// A sample with a tracepoint payload (`oom:mark_victim: pid=… pgtables=…kB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerRecord {
    /// Index of the sample in [`Profile::samples`] ([`SampleLog::get`]).
    pub sample: usize,
    /// The payload text.
    pub payload: String,
}

/// An interned profile of a whole `perf script` input.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The `--header` block, empty when the input had none.
    pub header: Header,
    /// Interned frames and stacks.
    pub interner: Interner,
    /// Threads seen, in no particular order.
    pub threads: FxIndexSet<Thread>,
    /// Events, in order of first appearance in the input.
    pub events: Vec<EventStats>,
    /// Counts per (event, thread, stack). Samples with no usable frame are under
    /// [`StackId::EMPTY`].
    pub counts: FxHashMap<FxHashMapKey, Counts>,
    /// Lines skipped and other parse facts.
    pub diagnostics: Diagnostics,
    /// Every sample in input order, with [`BuildOptions::keep_samples`].
    pub samples: SampleLog,
    /// Leaf sites: (raw symbol, offset), with [`BuildOptions::keep_samples`].
    pub leaves: FxIndexSet<(Box<[u8]>, u64)>,
    /// Samples with payloads, in input order, with [`BuildOptions::keep_samples`].
    pub markers: Vec<MarkerRecord>,
    /// Whether a sum of sample periods passed `u64::MAX`; sums stop there. See
    /// [`Profile::check_weights`].
    pub weight_overflow: bool,
    /// Payloads of kept samples by (piece, index of the sample in the piece) while
    /// pieces are merged.
    pending_payloads: Vec<(usize, usize, String)>,
}

impl Profile {
    /// A profile of `perf script` text with every sample kept, parsed on one thread:
    /// what unit tests of the analyses start from.
    #[cfg(test)]
    pub(crate) fn kept(text: &str) -> Profile {
        let opts = BuildOptions {
            keep_samples: true,
            threads: 1,
            ..BuildOptions::default()
        };
        Profile::build(text.as_bytes(), opts, &|_| {})
    }

    /// Builds a profile from `perf script` text.
    pub fn build(data: &[u8], opts: BuildOptions, progress: &(dyn Fn(u64) + Sync)) -> Profile {
        let threads = worker_count(opts.threads);
        // Each worker keeps its caches from piece to piece, so pieces can be small
        // enough to keep every core busy to the end and progress smooth.
        const PIECE: usize = 4 << 20;
        let pieces = if threads == 1 {
            vec![data]
        } else {
            script::split_at_records(data, (data.len() / PIECE).max(threads))
        };
        let next = AtomicUsize::new(0);
        let results = run_workers(threads.min(pieces.len()), opts, |b| {
            let mut parts = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(piece) = pieces.get(i) else { break };
                parts.push((i, b.parse_piece(piece, i)));
                progress(piece.len() as u64);
            }
            parts
        });
        Profile::merge(results)
    }

    /// Merges the workers' partial profiles, in the order of the pieces they parsed.
    fn merge(mut results: Vec<WorkerResult>) -> Profile {
        let count = results
            .iter()
            .flat_map(|(_, parts)| parts.iter().map(|(i, _)| i + 1))
            .max()
            .unwrap_or(0);
        let mut pieces_out: Vec<Option<PieceResult>> = vec![None; count];
        for (_, parts) in &mut results {
            for (i, r) in parts.drain(..) {
                pieces_out[i] = Some(r);
            }
        }
        let mut iter = results.into_iter().map(|(b, _)| b.profile);
        let mut profile = iter.next().unwrap_or_default();
        for other in iter {
            profile.absorb(other);
        }
        let mut line_offsets = Vec::with_capacity(pieces_out.len());
        let mut line_offset = 0;
        for r in pieces_out.into_iter().flatten() {
            if let Some(h) = r.header {
                profile.header = h;
            }
            profile.diagnostics.merge(&r.diagnostics, line_offset);
            line_offsets.push(line_offset);
            line_offset += r.diagnostics.lines;
        }
        profile.order_events();
        profile.order_samples(&line_offsets);
        profile
    }

    /// Fails when the sample periods of all events together pass `u64::MAX`. Every sum
    /// faultline makes (per stack, per phase, per event) is part of that total, so
    /// when it fits none of them wraps; when it does not, the periods are corrupt.
    pub fn check_weights(&self, path: &std::path::Path) -> crate::Result<()> {
        let total = self
            .events
            .iter()
            .try_fold(0u64, |sum, e| sum.checked_add(e.weight));
        if self.weight_overflow || total.is_none() {
            return Err(crate::Error::Overflow {
                path: path.to_path_buf(),
                line: None,
                what: "sample periods",
            });
        }
        Ok(())
    }

    /// Builds a profile from samples another reader produced (perf.data), fed in
    /// order by `feed`. Each sample's `line` must grow from one sample to the next: it
    /// orders the samples and ties payloads to them. Frames with the same id in
    /// [`Sample::lines`] must be the same frame (their names are cached by id).
    pub fn from_samples<'a>(
        header: Header,
        opts: BuildOptions,
        feed: impl FnOnce(&mut dyn FnMut(&Sample<'a>)),
    ) -> Profile {
        let mut builder = Builder::new(opts);
        let mut n = 0;
        feed(&mut |s| {
            n += 1;
            builder.add(s);
        });
        let mut profile = builder.profile;
        profile.header = header;
        profile.diagnostics.samples = n;
        profile.diagnostics.lines = n;
        profile.order_events();
        profile.order_samples(&[0]);
        profile
    }

    fn absorb(&mut self, other: Profile) {
        self.weight_overflow |= other.weight_overflow;
        let (_, stacks) = self.interner.absorb(&other.interner);
        let remap_stack = |st: StackId| {
            if st == StackId::EMPTY {
                st
            } else {
                stacks[st.0 as usize]
            }
        };
        let leaves: Vec<LeafId> = other
            .leaves
            .into_iter()
            .map(|l| LeafId(self.leaves.insert_full(l).0 as u32))
            .collect();
        let threads: Vec<ThreadId> = other
            .threads
            .into_iter()
            .map(|t| ThreadId(self.threads.insert_full(t).0 as u32))
            .collect();
        let events: Vec<EventId> = other
            .events
            .into_iter()
            .map(|e| {
                let id = match self.events.iter().position(|m| m.name == e.name) {
                    Some(i) => {
                        let m = &mut self.events[i];
                        m.samples += e.samples;
                        m.weight = add_weight(m.weight, e.weight, &mut self.weight_overflow);
                        m.first_seen = m.first_seen.min(e.first_seen);
                        i
                    }
                    None => {
                        self.events.push(e);
                        self.events.len() - 1
                    }
                };
                EventId(id as u32)
            })
            .collect();
        self.pending_payloads.extend(other.pending_payloads);
        for ((ev, th, st), c) in other.counts {
            let st = remap_stack(st);
            let e = self
                .counts
                .entry((events[ev.0 as usize], threads[th.0 as usize], st))
                .or_default();
            e.samples += c.samples;
            e.weight = add_weight(e.weight, c.weight, &mut self.weight_overflow);
        }
        // Samples keep their worker's ids, mapped as they are read.
        let maps = samples::IdMaps {
            events: Some(events),
            threads: Some(threads),
            stacks: Some(stacks),
            leaves: Some(leaves),
        };
        self.samples.absorb(other.samples, &maps);
    }

    /// Puts kept samples in input order, gives them absolute line numbers, and ties
    /// payloads to them.
    fn order_samples(&mut self, line_offsets: &[u64]) {
        self.samples.finish(line_offsets);
        let mut payloads = std::mem::take(&mut self.pending_payloads);
        payloads.sort_unstable_by_key(|&(piece, local, _)| (piece, local));
        self.markers = payloads
            .into_iter()
            .filter_map(|(piece, local, payload)| {
                let sample = self.samples.index_of(piece, local)?;
                Some(MarkerRecord { sample, payload })
            })
            .collect();
    }

    /// The raw symbol and offset of a leaf site.
    pub fn leaf(&self, id: LeafId) -> Option<(&[u8], u64)> {
        self.leaves
            .get_index(id.0 as usize)
            .map(|(s, o)| (&s[..], *o))
    }

    /// Sorts events by first appearance and renumbers the counts to match.
    fn order_events(&mut self) {
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|&i| self.events[i].first_seen);
        if order.iter().enumerate().all(|(a, &b)| a == b) {
            return;
        }
        let mut new_id = vec![EventId(0); order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old] = EventId(new as u32);
        }
        let mut events: Vec<Option<EventStats>> = self.events.drain(..).map(Some).collect();
        self.events = order
            .iter()
            .map(|&i| events[i].take().expect("each once"))
            .collect();
        self.counts = std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((e, t, s), c)| ((new_id[e.0 as usize], t, s), c))
            .collect();
        self.samples.renumber_events(&new_id);
    }

    /// The event with this exact name.
    pub fn event_id(&self, name: &str) -> Option<EventId> {
        self.events
            .iter()
            .position(|e| e.name == name)
            .map(|i| EventId(i as u32))
    }
}

/// `sum + w`, stopping at `u64::MAX` and noting that it did.
fn add_weight(sum: u64, w: u64, overflow: &mut bool) -> u64 {
    sum.checked_add(w).unwrap_or_else(|| {
        *overflow = true;
        u64::MAX
    })
}
