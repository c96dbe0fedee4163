//! Folded stacks (`comm;root;…;leaf count`), byte-compatible with inferno-collapse-perf
//! where inferno is right.

use std::io::{self, Write};

use rustc_hash::FxHashMap;

use crate::error::Error;
use crate::ingest::intern::{FRAME_INLINED, FRAME_JIT, FRAME_KERNEL, FrameId, FxIndexSet, StackId};
use crate::ingest::profile::{EventId, Profile, Thread, ThreadId};
use crate::ingest::script::EventType;
use crate::ingest::script::header::{base_name, looks_like_tracepoint};

/// How folded stacks are named and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldOptions {
    /// Root each stack at `comm-PID` (`?` when perf printed only the tid).
    pub include_pid: bool,
    /// Root each stack at `comm-PID/TID`.
    pub include_tid: bool,
    /// Suffix kernel frames with `_[k]`.
    pub annotate_kernel: bool,
    /// Suffix JIT frames with `_[j]`.
    pub annotate_jit: bool,
    /// Count samples rather than summing their periods.
    pub count_samples: bool,
    /// The event to fold: a full name or its base (`cpu-clock` for `cpu-clock/freq=1999/`).
    /// `None` picks the first sampling event in the input.
    pub event: Option<String>,
}

/// Folded stacks of one event, sorted bytewise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The events folded (usually one).
    pub events: Vec<String>,
    /// (stack, count) pairs, sorted by stack.
    pub stacks: Vec<(Vec<u8>, u64)>,
    /// Samples of the folded events whose stacks had no usable frame (inferno drops these).
    pub empty_samples: u64,
    /// Samples folded.
    pub samples: u64,
}

impl Folded {
    /// Writes `stack count` lines.
    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        let mut buf = itoa::Buffer::new();
        for (stack, count) in &self.stacks {
            w.write_all(stack)?;
            w.write_all(b" ")?;
            w.write_all(buf.format(*count).as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }
}

/// Picks the events to fold: those matching `requested` (full name first, else base
/// name), or by default the first event that is not a tracepoint, with any others of
/// the same base name (inferno takes the first event of any kind, and compares only the
/// text before the first colon, which merges all tracepoints of a subsystem).
pub fn select_events(profile: &Profile, requested: Option<&str>) -> Result<Vec<EventId>, Error> {
    let ids = |pred: &dyn Fn(&str) -> bool| -> Vec<EventId> {
        (0..profile.events.len())
            .filter(|&i| pred(&profile.events[i].name))
            .map(|i| EventId(i as u32))
            .collect()
    };
    match requested {
        Some(req) => {
            let exact = ids(&|n| n == req);
            if !exact.is_empty() {
                return Ok(exact);
            }
            let by_base = ids(&|n| base_name(n) == req);
            if !by_base.is_empty() {
                return Ok(by_base);
            }
            Err(Error::NoSuchEvent {
                requested: req.to_string(),
                available: profile
                    .events
                    .iter()
                    .map(|e| e.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        None => {
            let is_tracepoint = |name: &str| match profile.header.event(name) {
                Some(desc) if desc.event_type.is_some() => {
                    desc.event_type == Some(EventType::Tracepoint)
                }
                _ => looks_like_tracepoint(name),
            };
            // Events recorded without callchains (`page-faults/…,call-graph=no/`) only
            // count: their one-frame stacks are no profile. Take one only if nothing else.
            let sampling = |e: &&crate::ingest::profile::EventStats| {
                !is_tracepoint(&e.name) && !e.name.contains("call-graph=no")
            };
            let first = profile
                .events
                .iter()
                .find(sampling)
                .or_else(|| profile.events.iter().find(|e| !is_tracepoint(&e.name)));
            let Some(first) = first else {
                return Ok(profile
                    .events
                    .first()
                    .map(|_| vec![EventId(0)])
                    .unwrap_or_default());
            };
            // `cycles:u` and `cycles` are one event with different modifiers.
            let base = base_name(&first.name);
            Ok(ids(&|n| base_name(n) == base))
        }
    }
}

/// Renders (thread, stack) pairs as folded-stack text, caching each thread's root and
/// each frame's rendered name (frames recur in thousands of stacks).
pub struct StackNamer<'p> {
    profile: &'p Profile,
    opts: &'p FoldOptions,
    roots: FxHashMap<u32, Vec<u8>>,
    /// Per frame id: where its text (`;name` and any suffix) is in `names`, once rendered.
    frame_text: Vec<Option<(u32, u32)>>,
    names: Vec<u8>,
    /// The frames of the stack being rendered, leaf first.
    chain: Vec<FrameId>,
}

impl<'p> StackNamer<'p> {
    /// A namer for this profile and these options.
    pub fn new(profile: &'p Profile, opts: &'p FoldOptions) -> Self {
        StackNamer {
            profile,
            opts,
            roots: FxHashMap::default(),
            frame_text: Vec::new(),
            names: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// `comm;root;…;leaf` for a thread's stack.
    pub fn line(&mut self, thread: ThreadId, stack: StackId) -> Vec<u8> {
        let (profile, opts) = (self.profile, self.opts);
        let root = self
            .roots
            .entry(thread.0)
            .or_insert_with(|| root_name(&profile.threads[thread.0 as usize], opts))
            .clone();
        self.line_under(root, stack)
    }

    /// `root;frame;…;leaf`: a stack under a root already rendered.
    fn line_under(&mut self, mut line: Vec<u8>, mut stack: StackId) -> Vec<u8> {
        self.chain.clear();
        while stack != StackId::EMPTY {
            let (parent, frame) = self.profile.interner.stack(stack);
            self.chain.push(frame);
            stack = parent;
        }
        for i in (0..self.chain.len()).rev() {
            let (start, len) = self.frame_text(self.chain[i]);
            line.extend_from_slice(&self.names[start..start + len]);
        }
        line
    }

    /// Where a frame's rendered text is in `names`, rendering it the first time.
    fn frame_text(&mut self, frame: FrameId) -> (usize, usize) {
        let i = frame.0 as usize;
        if i >= self.frame_text.len() {
            self.frame_text.resize(i + 1, None);
        }
        if let Some((start, len)) = self.frame_text[i] {
            return (start as usize, len as usize);
        }
        let start = self.names.len();
        let (name, flags) = self.profile.interner.frame_name(frame);
        let (opts, line) = (self.opts, &mut self.names);
        line.push(b';');
        push_lossy(line, name);
        if flags & FRAME_INLINED != 0 {
            if memchr::memmem::find(name, b"_[i]").is_none() {
                line.extend_from_slice(b"_[i]");
            }
        } else if opts.annotate_kernel && flags & FRAME_KERNEL != 0 {
            line.extend_from_slice(b"_[k]");
        } else if opts.annotate_jit
            && flags & FRAME_JIT != 0
            && memchr::memmem::find(name, b"_[j]").is_none()
        {
            line.extend_from_slice(b"_[j]");
        }
        let len = self.names.len() - start;
        self.frame_text[i] = Some((start as u32, len as u32));
        (start, len)
    }
}

/// Merges repeated lines and sorts them bytewise.
pub fn merge_sorted(lines: impl IntoIterator<Item = (Vec<u8>, u64)>) -> Vec<(Vec<u8>, u64)> {
    let mut stacks: Vec<(Vec<u8>, u64)> = lines.into_iter().collect();
    stacks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    stacks.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    stacks
}

/// Folds the profile's stacks for the selected events. Samples without a callchain are
/// left out and counted in [`Folded::empty_samples`], as inferno leaves them out.
pub fn fold(profile: &Profile, events: &[EventId], opts: &FoldOptions) -> Folded {
    fold_stacks(profile, events, opts, false)
}

/// Like [`fold`], but samples without a callchain count under their process alone
/// (`comm count`), as FlameGraph's stackcollapse-perf.pl counts them.
pub fn fold_keeping_empty(profile: &Profile, events: &[EventId], opts: &FoldOptions) -> Folded {
    fold_stacks(profile, events, opts, true)
}

fn fold_stacks(
    profile: &Profile,
    events: &[EventId],
    opts: &FoldOptions,
    keep_empty: bool,
) -> Folded {
    // Threads that render to the same root (one comm, without --pid) fold together:
    // sum their counts by (root, stack) first, and render each pair once.
    let mut roots: FxIndexSet<Vec<u8>> = FxIndexSet::default();
    let thread_root: Vec<u32> = profile
        .threads
        .iter()
        .map(|t| roots.insert_full(root_name(t, opts)).0 as u32)
        .collect();
    let mut empty_samples = 0;
    let mut samples = 0;
    let mut sums: FxHashMap<(u32, StackId), u64> = FxHashMap::default();
    for (&(ev, th, st), c) in &profile.counts {
        if !events.contains(&ev) {
            continue;
        }
        samples += c.samples;
        if st == StackId::EMPTY {
            empty_samples += c.samples;
            if !keep_empty {
                continue;
            }
        }
        let count = if opts.count_samples {
            c.samples
        } else {
            c.weight
        };
        *sums.entry((thread_root[th.0 as usize], st)).or_insert(0) += count;
    }
    let mut namer = StackNamer::new(profile, opts);
    let lines = sums.into_iter().map(|((root, st), count)| {
        let root = roots[root as usize].clone();
        (namer.line_under(root, st), count)
    });
    Folded {
        events: events
            .iter()
            .map(|e| profile.events[e.0 as usize].name.clone())
            .collect(),
        stacks: merge_sorted(lines),
        empty_samples,
        samples,
    }
}

/// `comm` with spaces as underscores, then `-PID` or `-PID/TID` as asked.
fn root_name(t: &Thread, opts: &FoldOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.comm.len() + 16);
    push_lossy(&mut out, &t.comm);
    for b in &mut out {
        if *b == b' ' {
            *b = b'_';
        }
    }
    if opts.include_pid || opts.include_tid {
        out.push(b'-');
        match t.pid {
            Some(pid) => out.extend_from_slice(pid.to_string().as_bytes()),
            None => out.push(b'?'),
        }
        if opts.include_tid {
            out.push(b'/');
            out.extend_from_slice(t.tid.to_string().as_bytes());
        }
    }
    out
}

/// Appends `bytes`, replacing invalid UTF-8 with U+FFFD as inferno does.
fn push_lossy(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes());
}
