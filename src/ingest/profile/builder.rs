//! One worker's partial profile: samples in, interned frames, stacks and counts out.
//!
//! The hot path of every command. A recording repeats a few thousand distinct callchain
//! lines millions of times, so each distinct printed frame gets a dense id once and
//! everything after that is indexing flat vectors: line id → the frames it interns to,
//! stack → the child it last had. Hash lookups happen only for lines and pushes not seen
//! before.

use rustc_hash::FxHashMap;

use super::{
    BuildOptions, EventId, EventStats, LeafId, LeafRef, Profile, SampleRecord, Thread, ThreadId,
    ThreadRef, add_weight,
};
use crate::ingest::intern::{FRAME_INLINED, FRAME_JIT, FRAME_KERNEL, FrameId, StackId};
use crate::ingest::memo::{LineId, LineMemo};
use crate::ingest::script::{self, Diagnostics, Header, RawFrame, Sample};
use crate::ingest::symbols;

/// What parsing one piece of the input said besides samples.
#[derive(Debug, Clone)]
pub(super) struct PieceResult {
    pub(super) diagnostics: Diagnostics,
    pub(super) header: Option<Header>,
}

/// No run interned yet for this (line, java) slot.
const NO_RUN: (u32, u32) = (u32::MAX, 0);

/// No single frame known for this line.
const NO_FRAME: FrameId = FrameId(u32::MAX);

/// Builds one worker's partial profile, piece after piece.
pub(super) struct Builder {
    pub(super) profile: Profile,
    opts: BuildOptions,
    key: Vec<u8>,
    /// The sample's frames, innermost first.
    ids: Vec<FrameId>,
    part_ids: Vec<FrameId>,
    last_thread: Option<ThreadId>,
    last_event: Option<EventId>,
    /// Event names as printed, by id ([`EventStats::name`] is lossy UTF-8).
    event_raw: Vec<Box<[u8]>>,
    event_names: FxHashMap<Box<[u8]>, EventId>,
    /// Callchain lines by content, with dense ids; kept from piece to piece.
    memo: LineMemo,
    /// Per (line id, comm is a JVM's): a range of `frame_runs`, the ids the printed frame
    /// interns to, caller first.
    line_runs: Vec<(u32, u32)>,
    frame_runs: Vec<FrameId>,
    /// Per line id, for comms that are not a JVM's: the one frame the printed line
    /// interns to, [`NO_FRAME`] until seen or when it is several. The common case, kept
    /// in a small flat vector: one load per frame, no run to follow.
    line_frames: Vec<FrameId>,
    /// Per stack (the root at index 0, stack `i` at `i + 1`): the last frame pushed on
    /// it and the stack that made. Below a stack seen before, the next frame is mostly
    /// the one seen last time.
    last_child: Vec<(FrameId, StackId)>,
    /// Per line id: the leaf site of its frame, [`LeafId::NONE`] until seen.
    line_leaves: Vec<LeafId>,
    piece: usize,
}

impl Builder {
    pub(super) fn new(opts: BuildOptions) -> Self {
        Builder {
            profile: Profile::default(),
            opts,
            key: Vec::with_capacity(256),
            ids: Vec::with_capacity(128),
            part_ids: Vec::new(),
            last_thread: None,
            last_event: None,
            event_raw: Vec::new(),
            event_names: FxHashMap::default(),
            memo: LineMemo::default(),
            line_runs: Vec::new(),
            frame_runs: Vec::new(),
            line_frames: Vec::new(),
            last_child: Vec::new(),
            line_leaves: Vec::new(),
            piece: 0,
        }
    }

    pub(super) fn parse_piece(&mut self, data: &[u8], piece: usize) -> PieceResult {
        self.piece = piece;
        let mut header = Header::default();
        let mut diagnostics = Diagnostics::default();
        let mut memo = std::mem::take(&mut self.memo);
        script::parse_with(data, &mut memo, &mut header, &mut diagnostics, |s| {
            self.add(s)
        });
        self.memo = memo;
        PieceResult {
            diagnostics,
            header: (piece == 0).then_some(header),
        }
    }

    pub(super) fn add(&mut self, s: &Sample<'_>) {
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
        s: &Sample<'_>,
        event: EventId,
        thread: ThreadId,
        stack: StackId,
        weight: u64,
    ) {
        let leaf = match s.frames.first() {
            Some(f) => self.leaf(f, s.lines[0]),
            None => LeafId::NONE,
        };
        let samples = &mut self.profile.samples;
        let local = samples.piece_len(self.piece);
        samples.push(
            self.piece,
            &SampleRecord {
                time: s.head.time.unwrap_or_default(),
                event,
                thread,
                cpu: s.head.cpu,
                stack,
                leaf,
                weight,
                line: s.line,
            },
        );
        if !s.head.payload.is_empty() {
            self.profile.pending_payloads.push((
                self.piece,
                local,
                String::from_utf8_lossy(s.head.payload).into_owned(),
            ));
        }
    }

    /// The leaf site of a sample's innermost frame, printed on `line`.
    fn leaf(&mut self, f: &RawFrame<'_>, line: LineId) -> LeafId {
        let slot = line.0 as usize;
        if line != LineId::NONE
            && let Some(&id) = self.line_leaves.get(slot)
            && id != LeafId::NONE
        {
            return id;
        }
        let offset = std::str::from_utf8(f.offset)
            .ok()
            .and_then(|o| u64::from_str_radix(o, 16).ok())
            .unwrap_or(0);
        let key = LeafRef {
            symbol: f.symbol,
            offset,
        };
        let leaves = &mut self.profile.leaves;
        let id = match leaves.get_index_of(&key) {
            Some(i) => LeafId(i as u32),
            None => LeafId(leaves.insert_full((f.symbol.into(), offset)).0 as u32),
        };
        if line != LineId::NONE {
            if slot >= self.line_leaves.len() {
                self.line_leaves.resize(slot + 1, LeafId::NONE);
            }
            self.line_leaves[slot] = id;
        }
        id
    }

    fn event(&mut self, s: &Sample<'_>) -> EventId {
        let name = s.head.event;
        if let Some(id) = self.last_event
            && *self.event_raw[id.0 as usize] == *name
        {
            return id;
        }
        let id = match self.event_names.get(name) {
            Some(&id) => id,
            None => {
                let id = EventId(self.profile.events.len() as u32);
                self.event_names.insert(name.into(), id);
                self.event_raw.push(name.into());
                self.profile.events.push(EventStats {
                    name: String::from_utf8_lossy(name).into_owned(),
                    samples: 0,
                    weight: 0,
                    first_seen: (self.piece, s.line),
                });
                id
            }
        };
        self.last_event = Some(id);
        id
    }

    fn thread(&mut self, s: &Sample<'_>) -> ThreadId {
        let h = &s.head;
        let threads = &mut self.profile.threads;
        if let Some(id) = self.last_thread
            && let Some(t) = threads.get_index(id.0 as usize)
            && *t.comm == *h.comm
            && t.pid == h.pid
            && t.tid == h.tid
        {
            return id;
        }
        let key = ThreadRef {
            comm: h.comm,
            pid: h.pid,
            tid: h.tid,
        };
        let id = match threads.get_index_of(&key) {
            Some(i) => i,
            None => {
                threads
                    .insert_full(Thread {
                        comm: h.comm.into(),
                        pid: h.pid,
                        tid: h.tid,
                    })
                    .0
            }
        };
        let id = ThreadId(id as u32);
        self.last_thread = Some(id);
        id
    }

    /// Interns the sample's frames (leaf first in `self.ids`) and returns its stack.
    fn stack(&mut self, s: &Sample<'_>) -> StackId {
        let java = s.head.comm.starts_with(b"java");
        self.ids.clear();
        for (i, f) in s.frames.iter().enumerate() {
            let line = s.lines[i];
            // Only cacheable lines are ever stored, so a hit needs no test of the frame.
            if !java
                && let Some(&id) = self.line_frames.get(line.0 as usize)
                && id != NO_FRAME
            {
                self.ids.push(id);
                continue;
            }
            // The name depends only on the printed line and comm, except for inlined
            // frames (their caller's DSO) and `--addrs` names of unknown frames.
            let cacheable =
                !(f.is_inlined() || self.opts.include_addrs && f.symbol == b"[unknown]");
            let slot = (cacheable && line != LineId::NONE).then(|| self.line_slot(line, java));
            if let Some(slot) = slot
                && self.line_runs[slot] != NO_RUN
            {
                let (start, len) = self.line_runs[slot];
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
            if let Some(slot) = slot {
                let start = self.frame_runs.len() as u32;
                self.frame_runs.extend_from_slice(&self.part_ids);
                self.line_runs[slot] = (start, self.part_ids.len() as u32);
                if let (false, [one]) = (java, &self.part_ids[..]) {
                    let at = line.0 as usize;
                    if at >= self.line_frames.len() {
                        self.line_frames.resize(at + 1, NO_FRAME);
                    }
                    self.line_frames[at] = *one;
                }
            }
        }
        let mut stack = StackId::EMPTY;
        for i in (0..self.ids.len()).rev() {
            stack = self.push(stack, self.ids[i]);
        }
        stack
    }

    /// The `line_runs` slot of a remembered line for a comm that is (not) a JVM's.
    fn line_slot(&mut self, line: LineId, java: bool) -> usize {
        let slot = line.0 as usize * 2 + java as usize;
        if slot >= self.line_runs.len() {
            self.line_runs.resize(slot + 2, NO_RUN);
        }
        slot
    }

    /// `parent` with `frame` called from its innermost frame.
    fn push(&mut self, parent: StackId, frame: FrameId) -> StackId {
        let i = parent.0.wrapping_add(1) as usize;
        if i >= self.last_child.len() {
            self.last_child
                .resize(i + 1, (FrameId(u32::MAX), StackId::EMPTY));
        }
        let (last_frame, last) = self.last_child[i];
        if last_frame == frame && last != StackId::EMPTY {
            return last;
        }
        let stack = self.profile.interner.push(parent, frame);
        self.last_child[i] = (frame, stack);
        stack
    }

    /// Interns the names one printed frame stands for into `self.part_ids`, caller
    /// first (a Java `a->b` chain gives several).
    fn intern_frame(&mut self, f: &RawFrame<'_>, annotation_dso: &[u8], java: bool) {
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
        match symbols::find_short(r, b"->") {
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
