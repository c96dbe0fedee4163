//! Parsed samples → an interned profile: per (event, thread, stack) sample counts and
//! period sums. Large inputs are parsed on several threads, each on its own pieces
//! of the input, and the partial profiles merged; the result does not depend on the
//! thread count.

use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::Equivalent;
use rustc_hash::FxHashMap;

use crate::ingest::intern::{
    FRAME_INLINED, FRAME_JIT, FRAME_KERNEL, FrameId, FxIndexSet, Interner, StackId,
};
use crate::ingest::script::{self, Diagnostics, Header, RawFrame, Sample};
use crate::ingest::symbols;
use crate::units::Nanos;

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
    /// Index of the sample in [`Profile::samples`].
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
    pub samples: Vec<SampleRecord>,
    /// Leaf sites: (raw symbol, offset), with [`BuildOptions::keep_samples`].
    pub leaves: FxIndexSet<(Box<[u8]>, u64)>,
    /// Samples with payloads, in input order, with [`BuildOptions::keep_samples`].
    pub markers: Vec<MarkerRecord>,
    /// Whether a sum of sample periods passed `u64::MAX`; sums stop there. See
    /// [`Profile::check_weights`].
    pub weight_overflow: bool,
    /// Payloads of kept samples by (piece, line) while pieces are merged.
    pending_payloads: Vec<((usize, u64), String)>,
    /// (piece, line) of each kept sample while pieces are merged.
    sample_origin: Vec<(usize, u64)>,
}

impl Profile {
    /// Builds a profile from `perf script` text.
    pub fn build<'a>(
        data: &'a [u8],
        opts: BuildOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Profile {
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // Pieces of a few MiB keep both cores busy to the end and progress smooth.
        const PIECE: usize = 4 << 20;
        let pieces = if threads == 1 {
            vec![data]
        } else {
            script::split_at_records(data, (data.len() / PIECE).max(threads))
        };
        let next = AtomicUsize::new(0);
        let work = |builder: &mut Builder<'a>| run_pieces(&pieces, &next, progress, builder);
        let workers = threads.min(pieces.len());
        let mut results: Vec<(Builder<'a>, Vec<(usize, PieceResult)>)> = if workers <= 1 {
            let mut b = Builder::new(opts);
            let parts = work(&mut b);
            vec![(b, parts)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut b = Builder::new(opts);
                            let parts = work(&mut b);
                            (b, parts)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("profile worker panicked"))
                    .collect()
            })
        };

        let mut pieces_out: Vec<Option<PieceResult>> = vec![None; pieces.len()];
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
    /// orders the samples and ties payloads to them. The slices a sample borrows must
    /// not change while the profile is built (frames are cached by address).
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
        for r in &other.samples {
            self.samples.push(SampleRecord {
                event: events[r.event.0 as usize],
                thread: threads[r.thread.0 as usize],
                stack: remap_stack(r.stack),
                leaf: if r.leaf == LeafId::NONE {
                    r.leaf
                } else {
                    leaves[r.leaf.0 as usize]
                },
                ..*r
            });
        }
        self.sample_origin.extend(other.sample_origin);
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
    }

    /// Puts kept samples in input order, gives them absolute line numbers, and ties
    /// payloads to them.
    fn order_samples(&mut self, line_offsets: &[u64]) {
        if self.samples.is_empty() {
            return;
        }
        // Each worker's samples come piece by piece, in order within a piece: order the
        // runs of equal piece, not the samples.
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for (i, &(piece, _)) in self.sample_origin.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if r.0 == piece && r.2 == i => r.2 = i + 1,
                _ => runs.push((piece, i, i + 1)),
            }
        }
        runs.sort_unstable();
        let order: Vec<usize> = runs.iter().flat_map(|&(_, a, b)| a..b).collect();
        let origin = std::mem::take(&mut self.sample_origin);
        self.samples = order
            .iter()
            .map(|&i| {
                let (piece, line) = origin[i];
                SampleRecord {
                    line: line + line_offsets.get(piece).copied().unwrap_or(0),
                    ..self.samples[i]
                }
            })
            .collect();
        let mut payloads = std::mem::take(&mut self.pending_payloads);
        payloads.sort();
        let mut sorted_origin: Vec<(usize, u64)> = order.iter().map(|&i| origin[i]).collect();
        sorted_origin.dedup();
        self.markers = payloads
            .into_iter()
            .filter_map(|(o, payload)| {
                let sample = sorted_origin.binary_search(&o).ok()?;
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
        for r in &mut self.samples {
            r.event = new_id[r.event.0 as usize];
        }
    }

    /// The event with this exact name.
    pub fn event_id(&self, name: &str) -> Option<EventId> {
        self.events
            .iter()
            .position(|e| e.name == name)
            .map(|i| EventId(i as u32))
    }
}

/// Parses pieces, taking the next unclaimed one each time, into one builder.
fn run_pieces<'a>(
    pieces: &[&'a [u8]],
    next: &AtomicUsize,
    progress: &(dyn Fn(u64) + Sync),
    builder: &mut Builder<'a>,
) -> Vec<(usize, PieceResult)> {
    let mut parts = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(piece) = pieces.get(i) else { break };
        parts.push((i, builder.parse_piece(piece, i)));
        progress(piece.len() as u64);
    }
    parts
}

#[derive(Debug, Clone)]
struct PieceResult {
    diagnostics: Diagnostics,
    header: Option<Header>,
}

/// A printed frame's symbol and DSO as (address, length) in the input, and whether its
/// comm is a JVM's. Addresses suffice because the input does not change while it is
/// borrowed, and the parser hands out the same slices for repeated lines.
type FrameCacheKey = (usize, usize, usize, usize, bool);

fn frame_cache_key(f: &RawFrame<'_>, java: bool) -> FrameCacheKey {
    (
        f.symbol.as_ptr() as usize,
        f.symbol.len(),
        f.dso.as_ptr() as usize,
        f.dso.len(),
        java,
    )
}

/// Entries in the frame cache at most: inputs whose lines rarely repeat skip it.
const FRAME_CACHE_CAPACITY: usize = 1 << 16;

/// Builds one thread's partial profile.
struct Builder<'a> {
    profile: Profile,
    opts: BuildOptions,
    key: Vec<u8>,
    ids: Vec<FrameId>,
    part_ids: Vec<FrameId>,
    last_thread: Option<(&'a [u8], Option<i32>, i32, ThreadId)>,
    last_event: Option<(&'a [u8], EventId)>,
    event_names: FxHashMap<&'a [u8], EventId>,
    /// (symbol, DSO, java) → a range of `frame_runs`: the ids a printed frame interns to.
    frame_cache: FxHashMap<FrameCacheKey, (u32, u32)>,
    frame_runs: Vec<FrameId>,
    /// Leaf slices' (address, length) of symbol and offset → leaf id.
    leaf_cache: FxHashMap<(usize, usize, usize, usize), LeafId>,
    /// Whole callchains already interned (innermost first) → their stack.
    stack_cache: FxHashMap<Box<[FrameId]>, StackId>,
    piece: usize,
}

/// `sum + w`, stopping at `u64::MAX` and noting that it did.
fn add_weight(sum: u64, w: u64, overflow: &mut bool) -> u64 {
    sum.checked_add(w).unwrap_or_else(|| {
        *overflow = true;
        u64::MAX
    })
}

impl<'a> Builder<'a> {
    fn new(opts: BuildOptions) -> Self {
        Builder {
            profile: Profile::default(),
            opts,
            key: Vec::with_capacity(256),
            ids: Vec::with_capacity(128),
            part_ids: Vec::new(),
            last_thread: None,
            last_event: None,
            event_names: FxHashMap::default(),
            frame_cache: FxHashMap::default(),
            frame_runs: Vec::new(),
            stack_cache: FxHashMap::default(),
            leaf_cache: FxHashMap::default(),
            piece: 0,
        }
    }

    fn parse_piece(&mut self, data: &'a [u8], piece: usize) -> PieceResult {
        self.piece = piece;
        let mut header = Header::default();
        let mut diagnostics = Diagnostics::default();
        script::parse(data, &mut header, &mut diagnostics, |s| self.add(s));
        PieceResult {
            diagnostics,
            header: (piece == 0).then_some(header),
        }
    }

    fn add(&mut self, s: &Sample<'a>) {
        let event = self.event(s);
        let thread = self.thread(s);
        let stack = self.stack(s);
        let weight = s.head.period.unwrap_or(1);
        let p = &mut self.profile;
        let stats = &mut p.events[event.0 as usize];
        stats.samples += 1;
        stats.weight = add_weight(stats.weight, weight, &mut p.weight_overflow);
        let c = p.counts.entry((event, thread, stack)).or_default();
        c.samples += 1;
        c.weight = add_weight(c.weight, weight, &mut p.weight_overflow);
        if self.opts.keep_samples {
            self.keep(s, event, thread, stack, weight);
        }
    }

    fn keep(
        &mut self,
        s: &Sample<'a>,
        event: EventId,
        thread: ThreadId,
        stack: StackId,
        weight: u64,
    ) {
        let leaf = match s.frames.first() {
            Some(f) => {
                // Repeated lines share their slices (the parser's memo), so the slices'
                // addresses find most leaves without hashing their text.
                let ptr_key = (
                    f.symbol.as_ptr() as usize,
                    f.symbol.len(),
                    f.offset.as_ptr() as usize,
                    f.offset.len(),
                );
                match self.leaf_cache.get(&ptr_key) {
                    Some(&id) => id,
                    None => {
                        let offset = std::str::from_utf8(f.offset)
                            .ok()
                            .and_then(|o| u64::from_str_radix(o, 16).ok())
                            .unwrap_or(0);
                        let key = LeafRef {
                            symbol: f.symbol,
                            offset,
                        };
                        let id = match self.profile.leaves.get_index_of(&key) {
                            Some(i) => LeafId(i as u32),
                            None => LeafId(
                                self.profile.leaves.insert_full((f.symbol.into(), offset)).0 as u32,
                            ),
                        };
                        if self.leaf_cache.len() < FRAME_CACHE_CAPACITY {
                            self.leaf_cache.insert(ptr_key, id);
                        }
                        id
                    }
                }
            }
            None => LeafId::NONE,
        };
        self.profile.samples.push(SampleRecord {
            time: s.head.time.unwrap_or_default(),
            event,
            thread,
            cpu: s.head.cpu,
            stack,
            leaf,
            weight,
            line: s.line,
        });
        self.profile.sample_origin.push((self.piece, s.line));
        if !s.head.payload.is_empty() {
            self.profile.pending_payloads.push((
                (self.piece, s.line),
                String::from_utf8_lossy(s.head.payload).into_owned(),
            ));
        }
    }

    fn event(&mut self, s: &Sample<'a>) -> EventId {
        let name = s.head.event;
        if let Some((last, id)) = self.last_event
            && last == name
        {
            return id;
        }
        let next = EventId(self.profile.events.len() as u32);
        let id = *self.event_names.entry(name).or_insert(next);
        if id == next {
            self.profile.events.push(EventStats {
                name: String::from_utf8_lossy(name).into_owned(),
                samples: 0,
                weight: 0,
                first_seen: (self.piece, s.line),
            });
        }
        self.last_event = Some((name, id));
        id
    }

    fn thread(&mut self, s: &Sample<'a>) -> ThreadId {
        let h = &s.head;
        if let Some((comm, pid, tid, id)) = self.last_thread
            && comm == h.comm
            && pid == h.pid
            && tid == h.tid
        {
            return id;
        }
        let key = ThreadRef {
            comm: h.comm,
            pid: h.pid,
            tid: h.tid,
        };
        let id = match self.profile.threads.get_index_of(&key) {
            Some(i) => i,
            None => {
                self.profile
                    .threads
                    .insert_full(Thread {
                        comm: h.comm.into(),
                        pid: h.pid,
                        tid: h.tid,
                    })
                    .0
            }
        };
        let id = ThreadId(id as u32);
        self.last_thread = Some((h.comm, h.pid, h.tid, id));
        id
    }

    /// Interns the sample's frames (leaf first in `self.ids`) and returns its stack.
    fn stack(&mut self, s: &Sample<'a>) -> StackId {
        let java = s.head.comm.starts_with(b"java");
        self.ids.clear();
        for (i, f) in s.frames.iter().enumerate() {
            // The name depends only on symbol, DSO and comm, except for inlined frames
            // (their caller's DSO) and `--addrs` names of unknown frames.
            let cacheable =
                !(f.is_inlined() || self.opts.include_addrs && f.symbol == b"[unknown]");
            if cacheable
                && let Some(&(start, len)) = self.frame_cache.get(&frame_cache_key(f, java))
            {
                let run = &self.frame_runs[start as usize..(start + len) as usize];
                self.ids.extend(run.iter().rev());
                continue;
            }
            // An inlined frame runs in its caller's DSO, the next frame that is not inlined.
            let dso = if f.is_inlined() {
                s.frames[i + 1..]
                    .iter()
                    .find(|g| !g.is_inlined())
                    .map_or(f.dso, |g| g.dso)
            } else {
                f.dso
            };
            self.intern_frame(f, dso, java);
            self.ids.extend(self.part_ids.iter().rev());
            if cacheable && self.frame_cache.len() < FRAME_CACHE_CAPACITY {
                let start = self.frame_runs.len() as u32;
                self.frame_runs.extend_from_slice(&self.part_ids);
                let len = self.part_ids.len() as u32;
                self.frame_cache
                    .insert(frame_cache_key(f, java), (start, len));
            }
        }
        if let Some(&stack) = self.stack_cache.get(&self.ids[..]) {
            return stack;
        }
        let mut stack = StackId::EMPTY;
        for &frame in self.ids.iter().rev() {
            stack = self.profile.interner.push(stack, frame);
        }
        self.stack_cache.insert(self.ids.as_slice().into(), stack);
        stack
    }

    /// Interns the names one printed frame stands for into `self.part_ids`, caller
    /// first (a Java `a->b` chain gives several).
    fn intern_frame(&mut self, f: &RawFrame<'a>, annotation_dso: &[u8], java: bool) {
        let mut flags = 0;
        // An inlined frame is kernel code only if its caller is: inferno's looser test
        // (any `[…]` DSO) would tag user code inlined into a `[heap]` JIT frame.
        let kernel = if f.is_inlined() {
            symbols::is_kernel_code(annotation_dso)
        } else {
            symbols::is_kernel(annotation_dso)
        };
        if kernel {
            flags |= FRAME_KERNEL;
        }
        if symbols::is_jit(annotation_dso) {
            flags |= FRAME_JIT;
        }
        let symbol = symbols::fix_rust_symbol(f.symbol);
        self.part_ids.clear();
        for (j, part) in split_arrows(&symbol).enumerate() {
            self.key.clear();
            self.key
                .push(if j > 0 { flags | FRAME_INLINED } else { flags });
            symbols::push_unknown_fallback(
                &mut self.key,
                part,
                f.dso,
                f.addr,
                self.opts.include_addrs,
            );
            symbols::tidy_generic(&mut self.key, 1);
            if java {
                symbols::tidy_java(&mut self.key, 1);
            }
            let id = self.profile.interner.frame(&self.key);
            self.profile.interner.set_dso(id, annotation_dso);
            self.part_ids.push(id);
        }
    }
}

/// Splits a Java symbol at `->` (perf-map-agent's inline chains).
fn split_arrows(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memmem::find(r, b"->") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}
