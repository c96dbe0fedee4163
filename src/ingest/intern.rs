//! Interning of frames and stacks: each distinct frame name is stored once, and each
//! stack is a (parent stack, frame) row, so a million samples of the same deep stack
//! cost one hash lookup per frame and no allocation.

use std::hash::BuildHasherDefault;

use indexmap::IndexSet;
use rustc_hash::FxHasher;

/// An `IndexSet` with the fast, non-cryptographic hasher used for interning.
pub type FxIndexSet<T> = IndexSet<T, BuildHasherDefault<FxHasher>>;

/// The frame's name was split off a Java `a->b` inline chain after its first element.
pub const FRAME_INLINED: u8 = 1;
/// The frame's DSO is the kernel.
pub const FRAME_KERNEL: u8 = 2;
/// The frame's DSO is JIT code.
pub const FRAME_JIT: u8 = 4;

/// Index of an interned frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(pub u32);

/// Index of an interned stack; [`StackId::EMPTY`] is the stack with no frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(pub u32);

impl StackId {
    /// The empty stack, parent of every root frame.
    pub const EMPTY: StackId = StackId(u32::MAX);
}

/// Interned frames and stacks.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    /// Frame keys: one flags byte, then the name.
    frames: FxIndexSet<Box<[u8]>>,
    /// (parent, frame) rows; a row's parent always has a smaller index.
    stacks: FxIndexSet<(StackId, FrameId)>,
    /// DSO names, for exports that group frames by binary (pprof mappings).
    dsos: FxIndexSet<Box<[u8]>>,
    /// Index into `dsos` of the first DSO each frame was seen in (`u32::MAX`: none yet).
    frame_dsos: Vec<u32>,
}

impl Interner {
    /// Interns a frame given as its key: the flags byte followed by the name.
    pub fn frame(&mut self, key: &[u8]) -> FrameId {
        if let Some(i) = self.frames.get_index_of(key) {
            return FrameId(i as u32);
        }
        self.frame_dsos.push(u32::MAX);
        FrameId(self.frames.insert_full(key.into()).0 as u32)
    }

    /// Records the DSO `frame` runs in, unless one is already known: a name is one
    /// frame whatever binary it came from, so the first DSO stands for all.
    pub fn set_dso(&mut self, frame: FrameId, dso: &[u8]) {
        if self.frame_dsos[frame.0 as usize] != u32::MAX {
            return;
        }
        let i = match self.dsos.get_index_of(dso) {
            Some(i) => i,
            None => self.dsos.insert_full(dso.into()).0,
        };
        self.frame_dsos[frame.0 as usize] = i as u32;
    }

    /// The DSO a frame was first seen in, if the input named one.
    pub fn dso(&self, frame: FrameId) -> Option<&[u8]> {
        let i = *self.frame_dsos.get(frame.0 as usize)?;
        self.dsos.get_index(i as usize).map(|d| &d[..])
    }

    /// The name and flags of a frame.
    pub fn frame_name(&self, id: FrameId) -> (&[u8], u8) {
        let key = &self.frames[id.0 as usize];
        (&key[1..], key[0])
    }

    /// The stack made of `parent` with `frame` called from its innermost frame.
    pub fn push(&mut self, parent: StackId, frame: FrameId) -> StackId {
        StackId(self.stacks.insert_full((parent, frame)).0 as u32)
    }

    /// The parent and innermost frame of a non-empty stack.
    pub fn stack(&self, id: StackId) -> (StackId, FrameId) {
        self.stacks[id.0 as usize]
    }

    /// The frames of a stack, root first.
    pub fn frames_of(&self, mut id: StackId) -> Vec<FrameId> {
        let mut out = Vec::new();
        while id != StackId::EMPTY {
            let (parent, frame) = self.stack(id);
            out.push(frame);
            id = parent;
        }
        out.reverse();
        out
    }

    /// Number of distinct frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Number of distinct stacks.
    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// Moves `other`'s frames and stacks into `self`, returning the maps from `other`'s
    /// ids to `self`'s.
    pub fn absorb(&mut self, other: &Interner) -> (Vec<FrameId>, Vec<StackId>) {
        let frames: Vec<FrameId> = other.frames.iter().map(|k| self.frame(k)).collect();
        for (i, &f) in frames.iter().enumerate() {
            if let Some(dso) = other.dso(FrameId(i as u32)) {
                self.set_dso(f, dso);
            }
        }
        let mut stacks = Vec::with_capacity(other.stacks.len());
        for &(parent, frame) in &other.stacks {
            let parent = if parent == StackId::EMPTY {
                parent
            } else {
                stacks[parent.0 as usize]
            };
            stacks.push(self.push(parent, frames[frame.0 as usize]));
        }
        (frames, stacks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefixes_share_rows() {
        let mut i = Interner::default();
        let main = i.frame(b"\0main");
        let a = i.frame(b"\0a");
        let b = i.frame(b"\0b");
        let s1 = i.push(StackId::EMPTY, main);
        let s2 = i.push(s1, a);
        let s3 = i.push(s1, b);
        assert_eq!(i.push(StackId::EMPTY, main), s1);
        assert_eq!(i.stack_count(), 3);
        assert_eq!(i.frames_of(s3), vec![main, b]);
        let mut j = Interner::default();
        let (_, map) = j.absorb(&i);
        assert_eq!(j.frames_of(map[s2.0 as usize]).len(), 2);
        assert_eq!(j.frame_name(FrameId(1)), (&b"a"[..], 0));
    }

    #[test]
    fn a_frame_keeps_its_first_dso_through_absorb() {
        let mut i = Interner::default();
        let f = i.frame(b"\0memset");
        let g = i.frame(b"\0main");
        i.set_dso(f, b"/usr/lib/libc.so.6");
        i.set_dso(f, b"/usr/bin/other");
        assert_eq!(i.dso(f), Some(&b"/usr/lib/libc.so.6"[..]));
        assert_eq!(i.dso(g), None);
        let mut j = Interner::default();
        j.frame(b"\0first");
        let (map, _) = j.absorb(&i);
        assert_eq!(j.dso(map[f.0 as usize]), Some(&b"/usr/lib/libc.so.6"[..]));
        assert_eq!(j.dso(map[g.0 as usize]), None);
    }
}
