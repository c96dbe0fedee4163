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

/// Where a field lies in its line: (start, end).
type Span = (u32, u32);

/// A remembered line: its copy in the arena and where its frame's fields are.
#[derive(Debug, Clone, Copy)]
struct Entry {
    text: Span,
    addr: Span,
    symbol: Span,
    offset: Span,
    dso: Span,
    /// The line that followed this one last time, `u32::MAX` before any.
    next: u32,
}

/// Lines remembered by content, bounded so that inputs of all-distinct lines cost a
/// fixed amount of memory.
pub struct LineMemo {
    /// (hash, id) of each remembered line.
    table: HashTable<(u64, u32)>,
    entries: Vec<Entry>,
    arena: Vec<u8>,
    /// The line looked up last, `u32::MAX` when it was not remembered.
    prev: u32,
}

impl Default for LineMemo {
    fn default() -> Self {
        LineMemo {
            table: HashTable::new(),
            entries: Vec::new(),
            arena: Vec::new(),
            prev: u32::MAX,
        }
    }
}

impl LineMemo {
    /// Lines remembered at most.
    pub const CAPACITY: usize = 1 << 18;
    /// Bytes of remembered text at most.
    const ARENA_CAPACITY: usize = 32 << 20;

    /// The frame on `line`, from memory or from `parse` (which must return slices of
    /// `line`), with the line's id ([`LineId::NONE`] when it could not be remembered).
    pub fn frame<'l>(
        &mut self,
        line: &'l [u8],
        parse: impl FnOnce(&'l [u8]) -> Option<RawFrame<'l>>,
    ) -> Option<(LineId, RawFrame<'l>)> {
        let prev = std::mem::replace(&mut self.prev, u32::MAX);
        let (entries, arena) = (&self.entries, &self.arena);
        let predicted = entries.get(prev as usize).map(|e| e.next).filter(|&n| {
            entries
                .get(n as usize)
                .is_some_and(|e| span(arena, e.text) == line)
        });
        let id = match predicted {
            Some(id) => Some(id),
            None => {
                let hash = FxBuildHasher.hash_one(line);
                let found = self.table.find(hash, |&(h, id)| {
                    h == hash && span(arena, entries[id as usize].text) == line
                });
                match found {
                    Some(&(_, id)) => Some(id),
                    None => {
                        let frame = parse(line)?;
                        let id = self.remember(line, hash, &frame);
                        self.follow(prev, id.0);
                        return Some((id, frame));
                    }
                }
            }
        };
        let id = id?;
        self.follow(prev, id);
        let e = &self.entries[id as usize];
        let frame = RawFrame {
            addr: span(line, e.addr),
            symbol: span(line, e.symbol),
            offset: span(line, e.offset),
            dso: span(line, e.dso),
        };
        Some((LineId(id), frame))
    }

    /// Notes that line `id` followed line `prev` (either may be unremembered).
    fn follow(&mut self, prev: u32, id: u32) {
        if let Some(e) = self.entries.get_mut(prev as usize) {
            e.next = id;
        }
        self.prev = id;
    }

    /// Stores `line` and where `frame`'s fields lie in it, if there is room and every
    /// field is a slice of the line.
    fn remember(&mut self, line: &[u8], hash: u64, frame: &RawFrame<'_>) -> LineId {
        if self.entries.len() >= Self::CAPACITY
            || self.arena.len() + line.len() > Self::ARENA_CAPACITY
        {
            return LineId::NONE;
        }
        let (Some(addr), Some(symbol), Some(offset), Some(dso)) = (
            within(line, frame.addr),
            within(line, frame.symbol),
            within(line, frame.offset),
            within(line, frame.dso),
        ) else {
            return LineId::NONE;
        };
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(line);
        let id = self.entries.len() as u32;
        self.entries.push(Entry {
            text: (start, start + line.len() as u32),
            addr,
            symbol,
            offset,
            dso,
            next: u32::MAX,
        });
        self.table.insert_unique(hash, (hash, id), |&(h, _)| h);
        LineId(id)
    }

    /// Number of remembered lines; ids are below it.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no line is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn span(text: &[u8], (start, end): Span) -> &[u8] {
    &text[start as usize..end as usize]
}

/// Where `field` lies in `line`, if it is a slice of it (an empty field anywhere is).
fn within(line: &[u8], field: &[u8]) -> Option<Span> {
    if field.is_empty() {
        return Some((0, 0));
    }
    let start = (field.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start + field.len();
    (end <= line.len()).then_some((start as u32, end as u32))
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
