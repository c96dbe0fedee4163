//! `perf script` text → samples that borrow from the input.
//!
//! A sample is an event line, then its callchain lines, then a blank line:
//!
//! ```text
//!               pf  3327    84.072112:    1001001                  cpu-clock:
//! <TAB>ffffffff8157bab0 perf_swevent_event+0x160 ([kernel.kallsyms])
//! <TAB>           d4409 _exit+0x29 (/usr/lib/x86_64-linux-gnu/libc.so.6)
//!
//! ```
//!
//! (`<TAB>` stands for a tab character.) Events recorded without callchains print their ip and symbol on the event line and
//! need no blank line before the next sample. The state machine follows inferno's
//! (and so stackcollapse-perf.pl's), so that folded output matches it byte for byte,
//! except that nothing is skipped without being counted.

pub mod event;
pub mod header;
pub mod line;

use std::fmt;

use rustc_hash::FxHashMap;

use crate::ingest::memo::{LineId, LineMemo};

pub use event::{EventRead, Sideband};
pub use header::{EventDesc, EventType, Header};
pub use line::{EventLine, RawFrame};

/// One parsed sample. Frames are leaf first, as perf prints them.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// The event line.
    pub head: EventLine<'a>,
    /// The callchain, innermost frame first.
    pub frames: Vec<RawFrame<'a>>,
    /// For each frame, an id naming it: frames with the same id are the same printed
    /// frame (the id of its callchain line in the parser's [`LineMemo`], or of the frame
    /// in another reader's table). [`LineId::NONE`] for frames nothing vouches for (on
    /// the event line, inlined by a srcline, or a memo full).
    pub lines: Vec<LineId>,
    /// The 1-based line number of the event line, counted from the start of the parsed text.
    pub line: u64,
}

/// Kinds of lines the parser could not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipKind {
    /// A line where an event line was expected but none could be read (this includes
    /// callchain lines whose event line was lost).
    EventLine,
    /// A line inside a callchain that is not a frame.
    StackLine,
    /// An event line whose pid or tid does not fit in 32 bits, with its callchain.
    PidOutOfRange,
}

impl SkipKind {
    /// All kinds, in report order.
    pub const ALL: [SkipKind; 3] = [
        SkipKind::EventLine,
        SkipKind::StackLine,
        SkipKind::PidOutOfRange,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SkipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipKind::EventLine => "unreadable event lines",
            SkipKind::StackLine => "unreadable callchain lines",
            SkipKind::PidOutOfRange => "lines of samples whose pid or tid is out of range",
        })
    }
}

/// A skipped line kept as an example for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// What kind of line it was.
    pub kind: SkipKind,
    /// The 1-based line number.
    pub line: u64,
    /// The line's text, shortened to 120 bytes and made valid UTF-8.
    pub text: String,
}

/// What the parser met besides samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Skipped lines per [`SkipKind`].
    pub skipped: [u64; 3],
    /// The first few skipped lines of each kind.
    pub examples: Vec<SkippedLine>,
    /// `-F +srcline` source lines, understood and set aside.
    pub srclines: u64,
    /// Callchain lines read as frames (not counting frames on event lines).
    pub frame_lines: u64,
    /// Comment, blank and side-band lines.
    pub ignored_lines: u64,
    /// Side-band records (`PERF_RECORD_COMM`, `…_MMAP2`, …), also in `ignored_lines`.
    pub sideband: u64,
    /// Event lines read by guessing where the comm ends (see [`event`]'s rules).
    pub guessed: u64,
    /// The first few guessed lines (their kind is [`SkipKind::EventLine`], though they
    /// were read).
    pub guessed_examples: Vec<SkippedLine>,
    /// Lines read: samples + frame_lines + srclines + ignored_lines + skipped lines.
    pub lines: u64,
    /// Samples read.
    pub samples: u64,
}

/// How many example lines to keep per kind.
const EXAMPLES_PER_KIND: usize = 3;

impl Diagnostics {
    fn skip(&mut self, kind: SkipKind, line_no: u64, text: &[u8]) {
        let n = &mut self.skipped[kind.index()];
        *n += 1;
        if *n as usize <= EXAMPLES_PER_KIND {
            let text = &text[..text.len().min(120)];
            self.examples.push(SkippedLine {
                kind,
                line: line_no,
                text: String::from_utf8_lossy(text).into_owned(),
            });
        }
    }

    fn guess(&mut self, line_no: u64, text: &[u8]) {
        self.guessed += 1;
        if self.guessed_examples.len() < EXAMPLES_PER_KIND {
            self.guessed_examples.push(SkippedLine {
                kind: SkipKind::EventLine,
                line: line_no,
                text: String::from_utf8_lossy(&text[..text.len().min(120)]).into_owned(),
            });
        }
    }

    /// Lines skipped, all kinds together.
    pub fn total_skipped(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Skipped lines of one kind.
    pub fn skipped(&self, kind: SkipKind) -> u64 {
        self.skipped[kind.index()]
    }

    /// Adds another part's diagnostics, whose line numbers start after `line_offset` lines.
    pub fn merge(&mut self, other: &Diagnostics, line_offset: u64) {
        for k in SkipKind::ALL {
            self.skipped[k.index()] += other.skipped[k.index()];
        }
        self.examples
            .extend(other.examples.iter().map(|e| SkippedLine {
                line: e.line + line_offset,
                ..e.clone()
            }));
        self.examples.sort_by_key(|e| (e.kind, e.line));
        let mut seen = [0usize; SkipKind::ALL.len()];
        self.examples.retain(|e| {
            seen[e.kind.index()] += 1;
            seen[e.kind.index()] <= EXAMPLES_PER_KIND
        });
        self.sideband += other.sideband;
        self.guessed += other.guessed;
        self.guessed_examples
            .extend(other.guessed_examples.iter().map(|e| SkippedLine {
                line: e.line + line_offset,
                ..e.clone()
            }));
        self.guessed_examples.sort_by_key(|e| e.line);
        self.guessed_examples.truncate(EXAMPLES_PER_KIND);
        self.srclines += other.srclines;
        self.frame_lines += other.frame_lines;
        self.ignored_lines += other.ignored_lines;
        self.lines += other.lines;
        self.samples += other.samples;
    }

    /// The earliest skipped line.
    pub fn first_skipped(&self) -> Option<&SkippedLine> {
        self.examples.iter().min_by_key(|e| e.line)
    }
}

/// Parses `data`, calling `sink` for every sample. `#` lines before the first sample
/// feed `header`; later ones are ignored, as perf prints them only in the header.
///
/// Lines end in LF, CRLF or CR alone (the first line end decides). Linear in the input.
pub fn parse<'a>(
    data: &'a [u8],
    header: &mut Header,
    diag: &mut Diagnostics,
    sink: impl FnMut(&Sample<'a>),
) {
    parse_with(data, &mut LineMemo::default(), header, diag, sink);
}

/// [`parse`], remembering callchain lines in `memo`, which may come from earlier calls:
/// a worker parsing many pieces parses each distinct line once, and the ids in
/// [`Sample::lines`] are the memo's.
pub fn parse_with<'a>(
    data: &'a [u8],
    memo: &mut LineMemo,
    header: &mut Header,
    diag: &mut Diagnostics,
    sink: impl FnMut(&Sample<'a>),
) {
    let mut p = Parser {
        sample: Sample {
            head: EventLine::default(),
            frames: Vec::new(),
            lines: Vec::new(),
            line: 0,
        },
        memo,
        open: false,
        orphans: SkipKind::EventLine,
        comms: FxHashMap::default(),
        sink,
    };
    let eol = line_end(data);
    let mut in_header = true;
    let mut line_no = 0u64;
    let mut pos = 0;
    // One scan for line ends over the whole input: cheaper than a search per line.
    let ends = LineEnds::new(data, eol).chain((!data.ends_with(&[eol])).then_some(data.len()));
    for end in ends {
        if pos >= data.len() {
            break;
        }
        let raw = &data[pos..end];
        pos = end + 1;
        line_no += 1;
        if raw.first() == Some(&b'#') {
            if in_header {
                header.parse_line(line::trim_end(raw));
            }
            diag.ignored_lines += 1;
            continue;
        }
        let at = At {
            text: line::trim_end(raw),
            no: line_no,
            next: &data[pos.min(data.len())..],
            eol,
        };
        if p.open {
            p.in_sample(&at, diag);
        } else {
            in_header &= at.text.is_empty();
            p.outside(&at, diag);
        }
    }
    if p.open {
        p.emit(diag);
    }
    diag.lines += line_no;
}

/// Offsets of one byte in a buffer, in order. Lines are tens of bytes, so a search per
/// line spends more on starting than on searching: this compares 64 bytes at a time into
/// a bit mask and hands out its bits.
struct LineEnds<'a> {
    data: &'a [u8],
    byte: u8,
    /// Offset of the block `mask` covers.
    block: usize,
    /// Bits of the block's matches not handed out yet.
    mask: u64,
}

/// Bytes [`LineEnds`] compares at a time: one bit each in a `u64`.
const LINE_BLOCK: usize = 64;

impl<'a> LineEnds<'a> {
    fn new(data: &'a [u8], byte: u8) -> Self {
        LineEnds {
            data,
            byte,
            block: 0,
            mask: block_matches(data, byte),
        }
    }
}

/// The bit mask of `byte` in the first 64 bytes of `chunk` (fewer at its end).
#[inline]
fn block_matches(chunk: &[u8], byte: u8) -> u64 {
    match chunk.first_chunk::<LINE_BLOCK>() {
        Some(block) => block_mask(block, byte),
        None => chunk
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == byte)
            .fold(0, |m, (i, _)| m | 1 << i),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_mask(block: &[u8; LINE_BLOCK], byte: u8) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of every x86_64 CPU, so its intrinsics can run; each load
    // reads the 16 bytes at 16k of a 64-byte array, and unaligned loads are allowed.
    unsafe {
        let needle = _mm_set1_epi8(byte as i8);
        for k in 0..LINE_BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)) as u32 & 0xFFFF;
            mask |= u64::from(bits) << (16 * k);
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_mask(block: &[u8; LINE_BLOCK], byte: u8) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | u64::from(b == byte) << i)
}

impl Iterator for LineEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block += LINE_BLOCK;
            if self.block >= self.data.len() {
                return None;
            }
            self.mask = block_matches(&self.data[self.block..], self.byte);
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.block + bit)
    }
}

/// One line and what follows it.
struct At<'a> {
    /// The line without its end.
    text: &'a [u8],
    /// Its 1-based number.
    no: u64,
    /// The input after it.
    next: &'a [u8],
    /// The byte that ends lines.
    eol: u8,
}

/// The parser's state between lines.
struct Parser<'a, 'm, F> {
    /// The sample being read; its frames vector is reused from sample to sample.
    sample: Sample<'a>,
    memo: &'m mut LineMemo,
    /// Whether `sample` is waiting for more callchain lines.
    open: bool,
    /// How to count lines that belong to no sample: callchains of skipped event lines.
    orphans: SkipKind,
    /// Thread names from `PERF_RECORD_COMM` records, for samples printed without a comm.
    comms: FxHashMap<i32, &'a [u8]>,
    sink: F,
}

impl<'a, F: FnMut(&Sample<'a>)> Parser<'a, '_, F> {
    /// A line inside a sample's callchain.
    fn in_sample(&mut self, at: &At<'a>, diag: &mut Diagnostics) {
        let line = at.text;
        if line.is_empty() {
            diag.ignored_lines += 1;
            self.emit(diag);
        } else if let Some((mut id, mut frame)) = self.memo.frame(line, line::parse_stack_line) {
            // `-F +srcline --inline` moves an inlined frame's `(inlined)` to its srcline.
            if frame.dso.is_empty() && next_is_inlined_srcline(at.next, at.eol) {
                frame.dso = b"inlined";
                // The line alone no longer says what the frame is.
                id = LineId::NONE;
            }
            diag.frame_lines += 1;
            self.sample.frames.push(frame);
            self.sample.lines.push(id);
        } else if line::parse_srcline(line).is_some() {
            diag.srclines += 1;
        } else if !matches!(event::read_event_line(line), EventRead::Unreadable) {
            // A new sample without the blank line before it.
            self.emit(diag);
            self.outside(at, diag);
        } else {
            diag.skip(SkipKind::StackLine, at.no, line);
        }
    }

    /// A line outside any sample: an event line, a side-band record, or a stray line.
    fn outside(&mut self, at: &At<'a>, diag: &mut Diagnostics) {
        let (line, line_no) = (at.text, at.no);
        if line.is_empty() {
            diag.ignored_lines += 1;
            self.orphans = SkipKind::EventLine;
            return;
        }
        match event::read_event_line(line) {
            EventRead::Sample {
                line: head,
                guessed,
                rest,
            } => {
                if guessed {
                    diag.guess(line_no, line);
                }
                self.start(head, rest, at, diag);
            }
            EventRead::Sideband(s) => {
                diag.sideband += 1;
                diag.ignored_lines += 1;
                if let Some((tid, comm)) = s.rename {
                    self.comms.insert(tid, comm);
                }
            }
            EventRead::PidOutOfRange => {
                self.orphans = SkipKind::PidOutOfRange;
                diag.skip(SkipKind::PidOutOfRange, line_no, line);
            }
            EventRead::Unreadable if line::parse_srcline(line).is_some() => diag.srclines += 1,
            EventRead::Unreadable => diag.skip(self.orphans, line_no, line),
        }
    }

    /// Starts a sample at its event line. A frame printed on the event line ends the
    /// sample, unless a callchain follows: then that text was a tracepoint payload.
    fn start(
        &mut self,
        mut head: EventLine<'a>,
        rest: &'a [u8],
        at: &At<'a>,
        diag: &mut Diagnostics,
    ) {
        if head.comm.is_empty()
            && let Some(comm) = self.comms.get(&head.tid)
        {
            head.comm = comm;
        }
        self.sample.head = head;
        self.sample.line = at.no;
        self.sample.frames.clear();
        self.sample.lines.clear();
        self.orphans = SkipKind::EventLine;
        match head.frame {
            Some(frame) if !next_is_callchain(at.next, at.eol) => {
                self.sample.frames.push(frame);
                self.sample.lines.push(LineId::NONE);
                self.emit(diag);
            }
            Some(_) => {
                // Give the frame's text back to the payload.
                self.sample.head.frame = None;
                self.sample.head.payload = rest;
                self.open = true;
            }
            None => self.open = true,
        }
    }

    fn emit(&mut self, diag: &mut Diagnostics) {
        diag.samples += 1;
        self.open = false;
        (self.sink)(&self.sample);
    }
}

/// The byte that ends lines: `\r` for files with CR alone (no `\n` in the first 64 KiB),
/// else `\n` (CRLF lines keep their `\r`, which trimming removes; a `\r` inside a line,
/// as in a hostile comm, stays part of it).
fn line_end(data: &[u8]) -> u8 {
    let head = &data[..data.len().min(1 << 16)];
    if memchr::memchr(b'\n', head).is_none() && memchr::memchr(b'\r', head).is_some() {
        b'\r'
    } else {
        b'\n'
    }
}

/// The first line of `rest`, without its line end.
fn first_line(rest: &[u8], eol: u8) -> &[u8] {
    let end = memchr::memchr(eol, rest).unwrap_or(rest.len());
    line::trim_end(&rest[..end])
}

/// Whether the next line is a perf callchain line (tab-indented, a frame).
fn next_is_callchain(rest: &[u8], eol: u8) -> bool {
    let l = first_line(rest, eol);
    l.first() == Some(&b'\t') && line::parse_stack_line(l).is_some()
}

/// Whether the line at the start of `rest` is a srcline marked `(inlined)`, which makes
/// the DSO-less frame line before it an inlined frame (`perf script -F +srcline --inline`).
fn next_is_inlined_srcline(rest: &[u8], eol: u8) -> bool {
    line::parse_srcline(first_line(rest, eol)).is_some_and(|s| s.inlined)
}

/// Splits `data` into at most `parts` pieces that each start at a sample boundary (just
/// after a blank line), so that each piece parses exactly as it would in the whole.
pub fn split_at_records(data: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 1..parts {
        let target = (data.len() * p / parts).max(start);
        match next_boundary(data, target) {
            Some(b) if b > start && b < data.len() => {
                pieces.push(&data[start..b]);
                start = b;
            }
            _ => {}
        }
    }
    pieces.push(&data[start..]);
    pieces
}

/// The offset just after the first blank line at or after `from`.
fn next_boundary(data: &[u8], from: usize) -> Option<usize> {
    // Start at a line start so a partial line is never taken as blank.
    let mut pos = if from == 0 || data.get(from - 1) == Some(&b'\n') {
        from
    } else {
        from + memchr::memchr(b'\n', &data[from..])? + 1
    };
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        if line::is_blank(&data[pos..end]) && end < data.len() {
            return Some(end + 1);
        }
        pos = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(data: &[u8]) -> (Vec<(u64, usize)>, Diagnostics) {
        let mut out = Vec::new();
        let mut diag = Diagnostics::default();
        let mut header = Header::default();
        parse(data, &mut header, &mut diag, |s| {
            out.push((s.line, s.frames.len()))
        });
        (out, diag)
    }

    #[test]
    fn samples_and_skips() {
        let text = [
            "# event : name = cpu-clock, type = 1, config = 0x0",
            "x 1 1.0: 1 cpu-clock:",
            "\t1 a (b)",
            "\tWEIRD",
            "  pf.c:3",
            "",
            "\t2 orphan (b)",
            "y 2 2.0: tp:hit: k=v 3 f+0x1 (d)",
            "y 2 2.5: tp:hit: k=v",
        ]
        .join("\n");
        let text = text.as_bytes();
        let (samples, diag) = collect(text);
        assert_eq!(samples, vec![(2, 1), (8, 1), (9, 0)]);
        assert_eq!(diag.skipped(SkipKind::StackLine), 1);
        assert_eq!(diag.skipped(SkipKind::EventLine), 1);
        assert_eq!(diag.srclines, 1);
        assert_eq!(diag.samples, 3);
        assert_eq!(diag.first_skipped().unwrap().line, 4);
    }

    #[test]
    fn line_ends() {
        assert_eq!(line_end(b"a\rb\nc\n"), b'\n', "a CR inside a line");
        assert_eq!(line_end(b"a\r\nb\r\n"), b'\n');
        assert_eq!(line_end(b"a\rb\r"), b'\r');
        let (samples, diag) =
            collect(b"x  1  1.000000: e:\r\t1 f (d)\r\ry  2  2.000000: e:\r\t1 f (d)\r");
        assert_eq!(samples, vec![(1, 1), (4, 1)]);
        assert_eq!(diag.total_skipped(), 0);
    }

    #[test]
    fn samples_without_blank_lines_and_sideband() {
        let text = concat!(
            "a     1     1.000000: cycles:  401b97 main+0x1f (/bin/a)\n",
            "  a.c:3\n",
            "a     1     1.000001: cycles:  401b97 main+0x1f (/bin/a)\n",
            "a     1     1.000002: PERF_RECORD_COMM: b:1/1\n",
            "      1     1.000003: cycles:\n",
            "\t401b97 main+0x1f (/bin/a)\n",
        )
        .as_bytes();
        let mut comms = Vec::new();
        let mut diag = Diagnostics::default();
        parse(text, &mut Header::default(), &mut diag, |s| {
            comms.push((s.head.comm.to_vec(), s.frames.len()))
        });
        assert_eq!(
            comms,
            vec![(b"a".to_vec(), 1), (b"a".to_vec(), 1), (b"b".to_vec(), 1)]
        );
        assert_eq!(
            (diag.srclines, diag.sideband, diag.total_skipped()),
            (1, 1, 0)
        );
    }

    #[test]
    fn line_ends_are_memchrs() {
        let mut data = Vec::new();
        for n in 0..300usize {
            data.extend(std::iter::repeat_n(b'x', n % 131));
            data.push(if n % 7 == 0 { b'\r' } else { b'\n' });
            for eol in [b'\n', b'\r'] {
                assert_eq!(
                    LineEnds::new(&data, eol).collect::<Vec<_>>(),
                    memchr::memchr_iter(eol, &data).collect::<Vec<_>>(),
                    "{n}"
                );
            }
        }
        assert_eq!(LineEnds::new(b"", b'\n').next(), None);
        assert_eq!(LineEnds::new(b"\n", b'\n').collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn split_pieces_start_after_blank_lines() {
        let text = b"a 1 1.0: e:\n\t1 f (d)\n\nb 2 2.0: e:\n\t1 f (d)\n\nc 3 3.0: e:\n\t1 f (d)\n";
        for parts in 1..8 {
            let pieces = split_at_records(text, parts);
            assert_eq!(pieces.concat(), text.to_vec());
            for p in &pieces[1..] {
                assert!(p[0] != b'\t' && p[0] != b'\n', "{parts}");
            }
        }
        assert_eq!(split_at_records(text, 3).len(), 3);
    }
}
