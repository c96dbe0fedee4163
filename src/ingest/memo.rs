//! Callchain lines remembered by content: each distinct line gets a dense id once, and
//! its parsed fields as offsets into the line, so that a repeat costs one hash of the
//! line and one comparison against a compact copy of it, with no parsing.
//!
//! Most lines follow the same line they followed last time (a function's caller is
//! usually the same), so each entry remembers its successor, and the memo tries that
//! line first: a comparison without hashing.
//!
//! The memo owns its copies (an arena), so it outlives the buffer the lines came from:
//! one memo serves a worker for all its pieces of a file, or all chunks of a stream,
//! and the ids it hands out stay valid for the worker's caches keyed by them.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::ingest::script::RawFrame;

/// A distinct remembered line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId(pub u32);

impl LineId {
    /// A frame that was not remembered (the memo was full, or the frame was not read
    /// from one line by itself).
    pub const NONE: LineId = LineId(u32::MAX);
}

/// A record in the arena: its id, the record of the line that followed it last time,
/// the line's length and where its frame's four fields are (start and end each), then
/// the line. One place in memory holds all a repeat needs.
const ID: usize = 0;
const NEXT: usize = 4;
const LEN: usize = 8;
const SPANS: usize = 10;
const TEXT: usize = SPANS + 16;

/// No record.
const NIL: u32 = u32::MAX;

/// Asks the CPU to bring the cache line at `p` in; never faults, whatever `p` is.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint with no architectural effect: it reads nothing and
    // cannot fault, even for an address outside any mapping.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Lines remembered by content, bounded so that inputs of all-distinct lines cost a
/// fixed amount of memory.
pub struct LineMemo {
    /// (high half of the line's hash, its record's offset in `arena`) per line.
    table: HashTable<(u32, u32)>,
    /// The records, back to back.
    arena: Vec<u8>,
    /// Lines remembered.
    count: u32,
    /// The record of the line looked up last, [`NIL`] when it was not remembered.
    prev: u32,
}

impl Default for LineMemo {
    fn default() -> Self {
        LineMemo {
            table: HashTable::new(),
            arena: Vec::new(),
            count: 0,
            prev: NIL,
        }
    }
}

/// The table's hash of a line's 32-bit hash, spread over 64 bits as the table expects.
fn table_hash(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl LineMemo {
    /// Lines remembered at most.
    pub const CAPACITY: usize = 1 << 18;
    /// Bytes of records at most.
    const ARENA_CAPACITY: usize = 32 << 20;

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.arena[at..at + 4].try_into().expect("4 bytes"))
    }

    fn u16_at(&self, at: usize) -> usize {
        u16::from_le_bytes(self.arena[at..at + 2].try_into().expect("2 bytes")) as usize
    }

    /// The line of the record at `rec`.
    fn text(&self, rec: u32) -> &[u8] {
        let rec = rec as usize;
        let len = self.u16_at(rec + LEN);
        &self.arena[rec + TEXT..rec + TEXT + len]
    }

    /// The frame on `line`, from memory or from `parse` (which must return slices of
    /// `line`), with the line's id ([`LineId::NONE`] when it could not be remembered).
    pub fn frame<'l>(
        &mut self,
        line: &'l [u8],
        parse: impl FnOnce(&'l [u8]) -> Option<RawFrame<'l>>,
    ) -> Option<(LineId, RawFrame<'l>)> {
        let prev = std::mem::replace(&mut self.prev, NIL);
        let predicted = match prev {
            NIL => NIL,
            p => self.u32_at(p as usize + NEXT),
        };
        let rec = if predicted != NIL && same(self.text(predicted), line) {
            predicted
        } else {
            let h = (FxBuildHasher.hash_one(line) >> 32) as u32;
            let found = self.table.find(table_hash(h), |&(th, rec)| {
                th == h && same(self.text(rec), line)
            });
            match found {
                Some(&(_, rec)) => rec,
                None => {
                    let frame = parse(line)?;
                    let rec = self.remember(line, h, &frame);
                    self.follow(prev, rec);
                    let id = match rec {
                        NIL => LineId::NONE,
                        r => LineId(self.u32_at(r as usize + ID)),
                    };
                    return Some((id, frame));
                }
            }
        };
        self.follow(prev, rec);
        let r = rec as usize + SPANS;
        let field = |i: usize| &line[self.u16_at(r + 4 * i)..self.u16_at(r + 4 * i + 2)];
        let frame = RawFrame {
            addr: field(0),
            symbol: field(1),
            offset: field(2),
            dso: field(3),
        };
        Some((LineId(self.u32_at(rec as usize + ID)), frame))
    }

    /// Notes that the line of record `rec` followed that of `prev` (either may be NIL),
    /// and starts fetching the record predicted to come next: on real profiles the
    /// records are megabytes, so the fetch is a wait this line's remaining work can hide.
    fn follow(&mut self, prev: u32, rec: u32) {
        if prev != NIL {
            let at = prev as usize + NEXT;
            self.arena[at..at + 4].copy_from_slice(&rec.to_le_bytes());
        }
        self.prev = rec;
        // Two lines ahead: the next record was fetched a line ago, so reading which
        // record follows it seldom waits.
        let mut ahead = rec;
        for _ in 0..2 {
            if ahead == NIL {
                break;
            }
            ahead = self.u32_at(ahead as usize + NEXT);
            if ahead != NIL {
                prefetch(self.arena.as_ptr().wrapping_add(ahead as usize));
            }
        }
    }

    /// Stores `line` and where `frame`'s fields lie in it, if there is room and every
    /// field is a slice of the line; returns its record or [`NIL`].
    fn remember(&mut self, line: &[u8], h: u32, frame: &RawFrame<'_>) -> u32 {
        if self.count as usize >= Self::CAPACITY
            || line.len() > usize::from(u16::MAX)
            || self.arena.len() + TEXT + line.len() > Self::ARENA_CAPACITY
        {
            return NIL;
        }
        let (Some(addr), Some(symbol), Some(offset), Some(dso)) = (
            within(line, frame.addr),
            within(line, frame.symbol),
            within(line, frame.offset),
            within(line, frame.dso),
        ) else {
            return NIL;
        };
        if self.arena.capacity() == 0 {
            // Reserved, not touched: growing by doubling would copy the records and, for
            // a moment, hold them twice.
            self.arena.reserve_exact(Self::ARENA_CAPACITY);
        }
        let rec = self.arena.len() as u32;
        self.arena.extend_from_slice(&self.count.to_le_bytes());
        self.arena.extend_from_slice(&NIL.to_le_bytes());
        self.arena
            .extend_from_slice(&(line.len() as u16).to_le_bytes());
        for (start, end) in [addr, symbol, offset, dso] {
            self.arena.extend_from_slice(&start.to_le_bytes());
            self.arena.extend_from_slice(&end.to_le_bytes());
        }
        self.arena.extend_from_slice(line);
        self.count += 1;
        self.table
            .insert_unique(table_hash(h), (h, rec), |&(th, _)| table_hash(th));
        rec
    }

    /// Number of remembered lines; ids are below it.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no line is remembered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Whether two lines are equal, compared 16 bytes at a time inline: lines are tens of
/// bytes, where a call to `memcmp` costs more than the comparison.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 16 {
        return a == b;
    }
    let word =
        |s: &[u8], at: usize| u128::from_ne_bytes(s[at..at + 16].try_into().expect("16 bytes"));
    let last = a.len() - 16;
    let mut at = 0;
    while at < last {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 16;
    }
    // The last 16 bytes, overlapping words already compared.
    word(a, last) == word(b, last)
}

/// Where `field` lies in `line`, if it is a slice of it (an empty field anywhere is).
fn within(line: &[u8], field: &[u8]) -> Option<(u16, u16)> {
    if field.is_empty() {
        return Some((0, 0));
    }
    let start = (field.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start + field.len();
    // Lines are at most u16::MAX long when this is called.
    (end <= line.len()).then_some((start as u16, end as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::script::line::parse_stack_line;

    #[test]
    fn repeats_give_the_same_id_and_fields_of_the_new_line() {
        let mut memo = LineMemo::default();
        let a = b"\tffffffff8157bab0 perf_swevent_event+0x160 ([kernel.kallsyms])".to_vec();
        let b = b"\t           d4409 _exit+0x29 (/usr/lib/libc.so.6)".to_vec();
        let (ia, fa) = memo.frame(&a, parse_stack_line).unwrap();
        let (ib, _) = memo.frame(&b, parse_stack_line).unwrap();
        assert_ne!(ia, ib);
        let again = a.clone();
        let (ia2, fa2) = memo.frame(&again, |_| panic!("parsed twice")).unwrap();
        assert_eq!(
            (ia2, fa2.symbol, fa2.dso, fa2.offset),
            (ia, fa.symbol, fa.dso, fa.offset)
        );
        // The fields are slices of the line given, not of the first one.
        assert_eq!(fa2.symbol.as_ptr(), again[18..].as_ptr());
        assert_eq!(memo.len(), 2);
        assert!(memo.frame(b"\tnot a frame", parse_stack_line).is_none());
    }

    #[test]
    fn fields_outside_the_line_are_not_remembered() {
        let mut memo = LineMemo::default();
        let line = b"\t1 f (d)";
        let outside = |l: &'static [u8]| {
            parse_stack_line(l).map(|f| RawFrame {
                dso: b"inlined",
                ..f
            })
        };
        let (id, f) = memo.frame(line, outside).unwrap();
        assert_eq!((id, f.dso), (LineId::NONE, &b"inlined"[..]));
        assert!(memo.is_empty());
    }
}
