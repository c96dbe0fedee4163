//! The kept samples of a profile ([`BuildOptions::keep_samples`]), stored compactly.
//!
//! `analyze` reads every sample in time order, but a recording of a few minutes holds
//! millions of them: as 48-byte records they, not the distinct stacks, set its memory.
//! Consecutive samples mostly share their event, thread, CPU and period, and their
//! times and line numbers grow by small steps, so each sample is stored as the fields
//! that changed from the one before, as LEB128 varints behind a byte of flags: about a
//! dozen bytes a sample. Samples are decoded again, in order, by [`SampleLog::iter`].
//!
//! Each worker encodes the samples of each input piece it parses with its own ids; a
//! merge keeps the encoded pieces as they are, puts them in input order and keeps, per
//! worker, the maps from its ids to the merged profile's, applied while decoding. So the
//! ordering step moves pieces, never copies samples. Every [`CHUNK`] samples the
//! encoding starts afresh, so [`SampleLog::get`] decodes at most a chunk.
//!
//! [`BuildOptions::keep_samples`]: super::BuildOptions::keep_samples

use super::{EventId, LeafId, SampleRecord, ThreadId};
use crate::ingest::intern::StackId;
use crate::units::Nanos;

/// Samples per independently decodable chunk.
const CHUNK: usize = 256;

/// Flag bits: which fields a sample stores; the others are as predicted ([`Context`]).
const EVENT: u8 = 1;
const THREAD: u8 = 1 << 1;
const CPU: u8 = 1 << 2;
const WEIGHT: u8 = 1 << 3;
const LEAF: u8 = 1 << 4;
const STACK: u8 = 1 << 5;
const TIME: u8 = 1 << 6;
/// The CPU is the one before the previous sample's (CPUs taking turns), no bytes.
const SWAP: u8 = 1 << 7;

/// CPUs with a [`Context`] slot of their own; samples of others are predicted from the
/// sample before.
const CPU_SLOTS: usize = 4096;

/// The state a chunk's first sample is encoded against.
const START: SampleRecord = SampleRecord {
    time: Nanos(0),
    event: EventId(0),
    thread: ThreadId(0),
    cpu: None,
    stack: StackId::EMPTY,
    leaf: LeafId::NONE,
    weight: 1,
    line: 0,
};

/// The last sample on one CPU (in the current chunk).
#[derive(Debug, Clone, Copy)]
struct CpuLast {
    seen: bool,
    thread: ThreadId,
    time: u64,
    /// Its time minus that of the sample before it on this CPU.
    step: u64,
}

/// A CPU with no sample yet.
const UNSEEN: CpuLast = CpuLast {
    seen: false,
    thread: ThreadId(0),
    time: 0,
    step: 0,
};

/// What a sample is predicted from, the same while encoding and decoding. In a
/// system-wide recording CPUs take turns: the sample before ran another thread on
/// another CPU, but this CPU's last sample mostly ran the same thread one sampling
/// period earlier. So the thread and time are predicted from the CPU's last sample
/// (the time as one more step of the same length), the CPU as either the previous
/// sample's or the one before that, and the rest as the previous sample's.
#[derive(Debug, Clone)]
struct Context {
    prev: SampleRecord,
    /// The CPU of the last sample on another CPU than `prev`'s.
    other_cpu: Option<u32>,
    /// By CPU slot (`None` at 0, CPU `c` at `c + 1`).
    cpus: Vec<CpuLast>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            prev: START,
            other_cpu: None,
            cpus: Vec::new(),
        }
    }
}

#[inline]
fn cpu_slot(cpu: Option<u32>) -> Option<usize> {
    let slot = cpu.map_or(0, |c| c as usize + 1);
    (slot <= CPU_SLOTS).then_some(slot)
}

impl Context {
    /// Back to the state a chunk starts from.
    fn reset(&mut self) {
        self.prev = START;
        self.other_cpu = None;
        self.cpus.clear();
    }

    /// The thread and time predicted for a sample on `cpu`.
    #[inline]
    fn predict(&self, cpu: Option<u32>) -> (ThreadId, u64) {
        let last = cpu_slot(cpu)
            .and_then(|s| self.cpus.get(s))
            .filter(|c| c.seen);
        match last {
            Some(c) => (c.thread, c.time.wrapping_add(c.step)),
            None => (self.prev.thread, self.prev.time.0),
        }
    }

    /// Moves on past sample `r`.
    #[inline]
    fn advance(&mut self, r: &SampleRecord) {
        if r.cpu != self.prev.cpu {
            self.other_cpu = self.prev.cpu;
        }
        if let Some(slot) = cpu_slot(r.cpu) {
            if slot >= self.cpus.len() {
                self.cpus.resize(slot + 1, UNSEEN);
            }
            let c = &mut self.cpus[slot];
            c.step = if c.seen {
                r.time.0.wrapping_sub(c.time)
            } else {
                0
            };
            c.seen = true;
            c.thread = r.thread;
            c.time = r.time.0;
        }
        self.prev = *r;
    }
}

/// No map: ids as they are.
static NO_MAPS: IdMaps = IdMaps {
    events: None,
    threads: None,
    stacks: None,
    leaves: None,
};

/// Maps from one worker's ids to the merged profile's; `None` keeps ids as they are.
#[derive(Debug, Clone, Default)]
pub(super) struct IdMaps {
    pub(super) events: Option<Vec<EventId>>,
    pub(super) threads: Option<Vec<ThreadId>>,
    /// Indexed by stack id; [`StackId::EMPTY`] always maps to itself.
    pub(super) stacks: Option<Vec<StackId>>,
    /// Indexed by leaf id; [`LeafId::NONE`] always maps to itself.
    pub(super) leaves: Option<Vec<LeafId>>,
}

/// `map[id]`, or `id` without a map.
fn mapped<T: Copy>(map: &Option<Vec<T>>, id: usize, same: T) -> T {
    match map {
        Some(m) => m[id],
        None => same,
    }
}

impl IdMaps {
    /// `self` followed by `then`: the map from this worker's ids to `then`'s targets.
    fn then(&self, then: &IdMaps) -> IdMaps {
        /// `second[first[x]]`, leaving `keep` (the empty stack, no leaf) as it is.
        fn compose<T: Copy + PartialEq>(
            first: &Option<Vec<T>>,
            second: &Option<Vec<T>>,
            index: impl Fn(T) -> usize,
            keep: Option<T>,
        ) -> Option<Vec<T>> {
            let Some(second) = second else {
                return first.clone();
            };
            Some(match first {
                Some(f) => f
                    .iter()
                    .map(|&x| if Some(x) == keep { x } else { second[index(x)] })
                    .collect(),
                None => second.clone(),
            })
        }
        IdMaps {
            events: compose(&self.events, &then.events, |e| e.0 as usize, None),
            threads: compose(&self.threads, &then.threads, |t| t.0 as usize, None),
            stacks: compose(
                &self.stacks,
                &then.stacks,
                |s| s.0 as usize,
                Some(StackId::EMPTY),
            ),
            leaves: compose(
                &self.leaves,
                &then.leaves,
                |l| l.0 as usize,
                Some(LeafId::NONE),
            ),
        }
    }

    /// A worker's record in the merged profile's ids.
    #[inline]
    fn apply(&self, r: &mut SampleRecord) {
        r.event = mapped(&self.events, r.event.0 as usize, r.event);
        r.thread = mapped(&self.threads, r.thread.0 as usize, r.thread);
        if r.stack != StackId::EMPTY {
            r.stack = mapped(&self.stacks, r.stack.0 as usize, r.stack);
        }
        if r.leaf != LeafId::NONE {
            r.leaf = mapped(&self.leaves, r.leaf.0 as usize, r.leaf);
        }
    }
}

/// The samples of one input piece, as one worker encoded them.
#[derive(Debug, Clone)]
struct PieceLog {
    /// The input piece.
    piece: usize,
    /// Index of its worker's maps in [`SampleLog::maps`].
    maps: usize,
    /// Lines of the pieces before, added to every sample's line.
    line_offset: u64,
    /// Encoded chunks of [`CHUNK`] samples (the last may hold fewer).
    chunks: Vec<Box<[u8]>>,
    /// Samples in the piece.
    len: usize,
}

/// The chunk being encoded and what its next sample is predicted from.
#[derive(Debug, Clone, Default)]
struct Encoder {
    open: Vec<u8>,
    context: Context,
}

/// Every kept sample of a profile in input order, about a dozen bytes each; see the
/// module notes.
#[derive(Debug, Clone, Default)]
pub struct SampleLog {
    /// Per worker whose pieces are here: its ids → the profile's.
    maps: Vec<IdMaps>,
    /// In input order once the profile is built.
    pieces: Vec<PieceLog>,
    /// Samples in the pieces before each piece, once the profile is built.
    starts: Vec<usize>,
    len: usize,
    /// By event id: the weight every sample of the event has instead of its own (the
    /// period `analyze` estimates when perf did not print one).
    weights: Vec<Option<u64>>,
    encoder: Encoder,
}

impl SampleLog {
    /// Appends a sample of input piece `piece`, in the ids of the worker encoding it.
    pub(super) fn push(&mut self, piece: usize, r: &SampleRecord) {
        if self.pieces.last().is_none_or(|p| p.piece != piece) {
            self.seal();
            if self.maps.is_empty() {
                self.maps.push(IdMaps::default());
            }
            self.pieces.push(PieceLog {
                piece,
                maps: self.maps.len() - 1,
                line_offset: 0,
                chunks: Vec::new(),
                len: 0,
            });
        }
        let p = self.pieces.last_mut().expect("a piece was just opened");
        let enc = &mut self.encoder;
        if p.len % CHUNK == 0 {
            if p.len > 0 {
                p.chunks.push(enc.open.as_slice().into());
                enc.open.clear();
            }
            enc.context.reset();
        }
        encode(&mut enc.open, &enc.context, r);
        enc.context.advance(r);
        p.len += 1;
        self.len += 1;
    }

    /// Stores the chunk being encoded with its piece.
    fn seal(&mut self) {
        let enc = &mut self.encoder;
        if let Some(p) = self.pieces.last_mut()
            && !enc.open.is_empty()
        {
            p.chunks.push(enc.open.as_slice().into());
            enc.open.clear();
        }
    }

    /// Takes another worker's samples, whose ids `then` maps to this profile's.
    pub(super) fn absorb(&mut self, mut other: SampleLog, then: &IdMaps) {
        self.seal();
        other.seal();
        let base = self.maps.len();
        self.maps.extend(other.maps.iter().map(|m| m.then(then)));
        self.pieces.extend(other.pieces.into_iter().map(|mut p| {
            p.maps += base;
            p
        }));
        self.len += other.len;
    }

    /// Renumbers events: event `e` becomes `new_id[e]`.
    pub(super) fn renumber_events(&mut self, new_id: &[EventId]) {
        let then = IdMaps {
            events: Some(new_id.to_vec()),
            ..IdMaps::default()
        };
        for m in &mut self.maps {
            *m = m.then(&then);
        }
    }

    /// Puts the pieces in input order; `line_offsets[piece]` is the number of lines
    /// before each piece.
    pub(super) fn finish(&mut self, line_offsets: &[u64]) {
        self.seal();
        self.pieces.sort_unstable_by_key(|p| p.piece);
        let mut start = 0;
        self.starts.clear();
        for p in &mut self.pieces {
            p.line_offset = line_offsets.get(p.piece).copied().unwrap_or(0);
            self.starts.push(start);
            start += p.len;
        }
        self.encoder = Encoder::default();
        self.encoder.open.shrink_to_fit();
    }

    /// The index in the finished log of sample `local` of input piece `piece`.
    pub(super) fn index_of(&self, piece: usize, local: usize) -> Option<usize> {
        let k = self.pieces.binary_search_by_key(&piece, |p| p.piece).ok()?;
        (local < self.pieces[k].len).then(|| self.starts[k] + local)
    }

    /// Samples of input piece `piece` pushed so far.
    pub(super) fn piece_len(&self, piece: usize) -> usize {
        self.pieces
            .last()
            .filter(|p| p.piece == piece)
            .map_or(0, |p| p.len)
    }

    /// From now on every sample of `events` weighs `weight`.
    pub fn set_weight(&mut self, events: &[EventId], weight: u64) {
        for e in events {
            let i = e.0 as usize;
            if i >= self.weights.len() {
                self.weights.resize(i + 1, None);
            }
            self.weights[i] = Some(weight);
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the encoded samples take.
    pub fn encoded_bytes(&self) -> usize {
        let sealed: usize = self
            .pieces
            .iter()
            .flat_map(|p| p.chunks.iter())
            .map(|c| c.len())
            .sum();
        sealed + self.encoder.open.len()
    }

    /// The samples in input order.
    pub fn iter(&self) -> Iter<'_> {
        self.range((0, 0), (self.pieces.len(), 0))
    }

    /// The samples in `parts` runs of about equal length, in order, each cut at a chunk
    /// boundary, to be read on several threads (fewer runs when there are few samples).
    pub fn parts(&self, parts: usize) -> Vec<Iter<'_>> {
        let parts = parts.max(1);
        let mut bounds: Vec<(usize, usize)> = (0..=parts)
            .map(|j| self.chunk_start(self.len * j / parts))
            .collect();
        bounds.dedup();
        bounds.windows(2).map(|w| self.range(w[0], w[1])).collect()
    }

    /// (piece, index in it) of the start of the chunk holding sample `i`; the end of
    /// the log for `i >= len`.
    fn chunk_start(&self, i: usize) -> (usize, usize) {
        if i >= self.len {
            return (self.pieces.len(), 0);
        }
        let k = self.starts.partition_point(|&s| s <= i) - 1;
        let local = i - self.starts[k];
        (k, local - local % CHUNK)
    }

    /// The samples from `start` up to `end`, each (piece, index in it), `start` at a
    /// chunk boundary.
    fn range(&self, start: (usize, usize), end: (usize, usize)) -> Iter<'_> {
        Iter {
            log: self,
            piece: start.0,
            index: start.1,
            end,
            piece_end: 0,
            maps: &NO_MAPS,
            line_offset: 0,
            bytes: &[],
            pos: 0,
            context: Context::default(),
        }
    }

    /// Sample `i` (decoding at most one chunk).
    pub fn get(&self, i: usize) -> Option<SampleRecord> {
        if i >= self.len {
            return None;
        }
        let k = self.starts.partition_point(|&s| s <= i) - 1;
        let local = i - self.starts[k];
        let p = &self.pieces[k];
        let bytes = &p.chunks[local / CHUNK];
        let (mut pos, mut context) = (0, Context::default());
        for _ in 0..=local % CHUNK {
            decode(bytes, &mut pos, &mut context);
        }
        Some(self.finish_record(p, context.prev))
    }

    /// A decoded record in the profile's ids, line numbers and weights.
    #[inline]
    fn finish_record(&self, p: &PieceLog, mut r: SampleRecord) -> SampleRecord {
        self.maps[p.maps].apply(&mut r);
        r.line += p.line_offset;
        if let Some(&Some(w)) = self.weights.get(r.event.0 as usize) {
            r.weight = w;
        }
        r
    }
}

impl<'a> IntoIterator for &'a SampleLog {
    type Item = SampleRecord;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The samples of a [`SampleLog`], decoded in order.
pub struct Iter<'a> {
    log: &'a SampleLog,
    /// Index of the current piece.
    piece: usize,
    /// Index of the next sample in the piece.
    index: usize,
    /// (piece, index) where the samples end.
    end: (usize, usize),
    /// Where the samples end in the current piece, and its maps and line offset (set on
    /// entering it).
    piece_end: usize,
    maps: &'a IdMaps,
    line_offset: u64,
    /// The current chunk and the position of the next sample in it.
    bytes: &'a [u8],
    pos: usize,
    /// What the next sample is predicted from.
    context: Context,
}

impl Iterator for Iter<'_> {
    type Item = SampleRecord;

    #[inline]
    fn next(&mut self) -> Option<SampleRecord> {
        if self.index >= self.piece_end && !self.enter_piece() {
            return None;
        }
        if self.index % CHUNK == 0 {
            self.bytes = &self.log.pieces[self.piece].chunks[self.index / CHUNK];
            self.pos = 0;
            self.context.reset();
        }
        decode(self.bytes, &mut self.pos, &mut self.context);
        self.index += 1;
        let mut r = self.context.prev;
        self.maps.apply(&mut r);
        r.line += self.line_offset;
        if let Some(&Some(w)) = self.log.weights.get(r.event.0 as usize) {
            r.weight = w;
        }
        Some(r)
    }
}

impl<'a> Iter<'a> {
    /// Moves to the next piece with samples left before the end, if any.
    fn enter_piece(&mut self) -> bool {
        let log: &'a SampleLog = self.log;
        loop {
            if (self.piece, self.index) >= self.end {
                return false;
            }
            let Some(p) = log.pieces.get(self.piece) else {
                return false;
            };
            self.piece_end = if self.piece == self.end.0 {
                p.len.min(self.end.1)
            } else {
                p.len
            };
            if self.index < self.piece_end {
                self.maps = &log.maps[p.maps];
                self.line_offset = p.line_offset;
                return true;
            }
            self.piece += 1;
            self.index = 0;
        }
    }
}

/// Appends `r` as the fields that differ from their prediction.
#[inline]
fn encode(vec: &mut Vec<u8>, context: &Context, r: &SampleRecord) {
    let prev = &context.prev;
    // Into a buffer on the stack, then appended at once: one capacity check a sample.
    let out = &mut Encoded {
        bytes: [0; 64],
        len: 1,
    };
    let mut flags = 0;
    if r.event != prev.event {
        flags |= EVENT;
        put(out, r.event.0.into());
    }
    if r.cpu != prev.cpu {
        if r.cpu == context.other_cpu {
            flags |= SWAP;
        } else {
            flags |= CPU;
            put(out, r.cpu.map_or(0, |c| u64::from(c) + 1));
        }
    }
    let (thread, time) = context.predict(r.cpu);
    if r.thread != thread {
        flags |= THREAD;
        put(out, r.thread.0.into());
    }
    if r.weight != prev.weight {
        flags |= WEIGHT;
        put(out, r.weight);
    }
    if r.leaf != prev.leaf {
        flags |= LEAF;
        put(out, r.leaf.0.wrapping_add(1).into());
    }
    if r.stack != prev.stack {
        flags |= STACK;
        put(out, r.stack.0.wrapping_add(1).into());
    }
    if r.time.0 != time {
        flags |= TIME;
        put(out, zigzag(r.time.0.wrapping_sub(time)));
    }
    put(out, zigzag(r.line.wrapping_sub(prev.line)));
    out.bytes[0] = flags;
    vec.extend_from_slice(&out.bytes[..out.len]);
}

/// Reads the sample at `pos` and moves `context` past it (`context.prev` is the sample).
#[inline]
fn decode(b: &[u8], pos: &mut usize, context: &mut Context) {
    let flags = b[*pos];
    *pos += 1;
    let mut r = context.prev;
    if flags & EVENT != 0 {
        r.event = EventId(take(b, pos) as u32);
    }
    if flags & SWAP != 0 {
        r.cpu = context.other_cpu;
    } else if flags & CPU != 0 {
        r.cpu = (take(b, pos) as u32).checked_sub(1);
    }
    let (thread, time) = context.predict(r.cpu);
    r.thread = if flags & THREAD != 0 {
        ThreadId(take(b, pos) as u32)
    } else {
        thread
    };
    if flags & WEIGHT != 0 {
        r.weight = take(b, pos);
    }
    if flags & LEAF != 0 {
        r.leaf = LeafId((take(b, pos) as u32).wrapping_sub(1));
    }
    if flags & STACK != 0 {
        r.stack = StackId((take(b, pos) as u32).wrapping_sub(1));
    }
    r.time = Nanos(if flags & TIME != 0 {
        time.wrapping_add(unzigzag(take(b, pos)))
    } else {
        time
    });
    r.line = r.line.wrapping_add(unzigzag(take(b, pos)));
    context.advance(&r);
}

/// A difference of two u64s, small in either direction, as a small number.
#[inline]
fn zigzag(delta: u64) -> u64 {
    let d = delta as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

#[inline]
fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}

/// One encoded sample: at most a flags byte and eight varints of up to 10 bytes.
struct Encoded {
    bytes: [u8; 64],
    len: usize,
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
#[inline]
fn put(out: &mut Encoded, mut v: u64) {
    while v >= 0x80 {
        out.bytes[out.len] = v as u8 | 0x80;
        out.len += 1;
        v >>= 7;
    }
    out.bytes[out.len] = v as u8;
    out.len += 1;
}

#[inline]
fn take(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A varied sample: fields change at different rates, times go back now and then
    /// (concatenated recordings), some samples have no stack, leaf, CPU or time.
    fn record(i: u64) -> SampleRecord {
        SampleRecord {
            time: Nanos(if i % 97 == 0 {
                0
            } else {
                5_000_000 + i * 333_667 - (i % 5) * 900_000
            }),
            event: EventId((i / 300 % 3) as u32),
            thread: ThreadId((i / 7 % 11) as u32),
            cpu: (i % 13 != 0).then_some((i % 2) as u32),
            stack: if i % 17 == 0 {
                StackId::EMPTY
            } else {
                StackId((i * 7919 % 5000) as u32)
            },
            leaf: if i % 17 == 0 {
                LeafId::NONE
            } else {
                LeafId((i * 31 % 900) as u32)
            },
            weight: if i % 50 == 0 { u64::MAX - i } else { 333_667 },
            line: 1 + i * 17 + i % 3,
        }
    }

    fn log_of(piece: usize, records: &[SampleRecord]) -> SampleLog {
        let mut log = SampleLog::default();
        for r in records {
            log.push(piece, r);
        }
        log
    }

    #[test]
    fn samples_read_back_as_written_across_chunks_and_pieces() {
        let first: Vec<_> = (0..700).map(record).collect();
        let second: Vec<_> = (700..1000).map(record).collect();
        let mut log = log_of(3, &first);
        for r in &second {
            log.push(5, r);
        }
        // Pieces 3 and 5 start after 100 and 7000 lines.
        let mut offsets = vec![0; 6];
        offsets[3] = 100;
        offsets[5] = 7000;
        log.finish(&offsets);
        let want: Vec<_> = first
            .iter()
            .map(|r| (100, r))
            .chain(second.iter().map(|r| (7000, r)))
            .map(|(off, r)| SampleRecord {
                line: r.line + off,
                ..*r
            })
            .collect();
        assert_eq!(log.len(), 1000);
        assert_eq!(log.iter().collect::<Vec<_>>(), want);
        for i in [0, 1, 255, 256, 257, 699, 700, 701, 999] {
            assert_eq!(log.get(i), Some(want[i]), "sample {i}");
        }
        assert_eq!(log.get(1000), None);
        for n in [1, 2, 3, 7, 100] {
            let parts = log.parts(n);
            assert!(parts.len() <= n);
            let joined: Vec<_> = parts.into_iter().flatten().collect();
            assert_eq!(joined, want, "{n} parts");
        }
        assert_eq!(log.index_of(5, 3), Some(703));
        assert_eq!(log.index_of(4, 0), None);
    }

    #[test]
    fn merged_pieces_are_read_in_input_order_with_the_merged_ids() {
        let a: Vec<_> = (0..300).map(record).collect();
        let b: Vec<_> = (300..600).map(record).collect();
        // Worker 1 parsed piece 1, worker 0 piece 0.
        let mut merged = log_of(1, &b);
        let maps = IdMaps {
            events: Some(vec![EventId(2), EventId(0), EventId(1)]),
            threads: Some((0..11).map(|t| ThreadId(t + 100)).collect()),
            stacks: Some((0..5000).map(|s| StackId(4999 - s)).collect()),
            leaves: Some((0..900).map(|l| LeafId(l * 2)).collect()),
        };
        merged.absorb(log_of(0, &a), &maps);
        // Events are then renumbered by first appearance.
        merged.renumber_events(&[EventId(1), EventId(0), EventId(2)]);
        merged.finish(&[0, 0]);
        let renumber = |e: EventId| [EventId(1), EventId(0), EventId(2)][e.0 as usize];
        let want: Vec<_> = a
            .iter()
            .map(|r| SampleRecord {
                event: renumber(maps.events.as_ref().unwrap()[r.event.0 as usize]),
                thread: ThreadId(r.thread.0 + 100),
                stack: if r.stack == StackId::EMPTY {
                    r.stack
                } else {
                    StackId(4999 - r.stack.0)
                },
                leaf: if r.leaf == LeafId::NONE {
                    r.leaf
                } else {
                    LeafId(r.leaf.0 * 2)
                },
                ..*r
            })
            .chain(b.iter().map(|r| SampleRecord {
                event: renumber(r.event),
                ..*r
            }))
            .collect();
        assert_eq!(merged.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn a_set_weight_replaces_the_weights_of_its_events_only() {
        let records: Vec<_> = (0..900).map(record).collect();
        let mut log = log_of(0, &records);
        log.finish(&[0]);
        log.set_weight(&[EventId(1)], 7);
        for (got, r) in log.iter().zip(&records) {
            let want = if r.event == EventId(1) { 7 } else { r.weight };
            assert_eq!(got.weight, want);
        }
    }

    #[test]
    fn typical_samples_take_a_few_bytes() {
        // A steady clock on two CPUs, a few threads, stacks changing every sample.
        let records: Vec<_> = (0..10_000u64)
            .map(|i| SampleRecord {
                time: Nanos(5_000_000_000 + i * 166_750),
                event: EventId(0),
                thread: ThreadId((i / 40 % 4) as u32),
                cpu: Some((i % 2) as u32),
                stack: StackId((i * 7919 % 60_000) as u32),
                leaf: LeafId((i * 31 % 3000) as u32),
                weight: 333_667,
                line: 1 + i * 18,
            })
            .collect();
        let mut log = log_of(0, &records);
        log.finish(&[0]);
        let per_sample = log.encoded_bytes() as f64 / records.len() as f64;
        assert!(per_sample < 9.0, "{per_sample} bytes a sample");
        assert_eq!(log.iter().collect::<Vec<_>>(), records);
    }
}
