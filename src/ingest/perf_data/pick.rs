//! Which of a symbol table's symbols the sampled addresses need.
//!
//! A large library (libLLVM, librustc_driver) has a quarter of a million symbols, a
//! recording hits a few thousand addresses in it, and reading, naming and sorting every
//! symbol was a third of reading a perf.data file. A lookup in perf's table (see
//! [`super::symbols::SymbolTable::find`]) depends only on
//! - every symbol at the greatest start at or below the address (the aliases perf
//!   chooses among), and
//! - the first symbol, in file order, at the next greater start: where the last of those
//!   ends when it has no size (and, for kallsyms, whether it is in a module).
//!
//! So a table built from just those symbols, in file order, answers lookups of the hit
//! addresses exactly as the whole table does. [`Picker`] finds them in one pass over
//! the symbols' start addresses, without reading a name.

/// Collects, from symbols offered in file order, the ones lookups of `hits` need.
pub struct Picker<'h> {
    /// The addresses to look up, sorted, without duplicates.
    hits: &'h [u64],
    /// Per gap `j`, the addresses in `(hits[j-1], hits[j]]`: the greatest symbol start
    /// there. A gap's greatest start is the nearest start below `hits[j]` when it has one.
    top: Vec<Option<u64>>,
    /// Per gap (and the one above the last hit): the least start there, and the first
    /// symbol at it. The least start of the next gap with symbols is the next start
    /// above any gap's greatest.
    low: Vec<Option<(u64, u32)>>,
    /// Symbols that were a gap's greatest or least when offered: (index, gap, start).
    /// Only these can be in the final choice.
    maybe: Vec<(u32, u32, u64)>,
    /// Where in `hits` each of a few equal slices of `hits[0]..=hits[last]` begins (the
    /// gap of the slice's first address), so that finding a symbol's gap searches a
    /// few hits, not all: a library offers a quarter of a million symbols.
    slices: Vec<usize>,
    /// log2 of a slice's length.
    shift: u32,
}

impl<'h> Picker<'h> {
    /// A picker for lookups of `hits` (sorted, deduplicated).
    pub fn new(hits: &'h [u64]) -> Self {
        debug_assert!(hits.windows(2).all(|w| w[0] < w[1]));
        Picker {
            hits,
            top: vec![None; hits.len()],
            low: vec![None; hits.len() + 1],
            maybe: Vec::new(),
            slices: Vec::new(),
            shift: 0,
        }
        .sliced()
    }

    fn sliced(mut self) -> Self {
        let (Some(&first), Some(&last)) = (self.hits.first(), self.hits.last()) else {
            return self;
        };
        // About four slices per hit.
        let want = 4 * self.hits.len() as u64;
        while (last - first) >> self.shift >= want {
            self.shift += 1;
        }
        let slices = ((last - first) >> self.shift) + 2;
        // One walk up the hits, as the slices' first addresses go up.
        let mut gap = 0;
        self.slices = (0..slices)
            .map(|k| {
                // Past the top of the address space: above every hit.
                let offset = u64::try_from(u128::from(k) << self.shift).ok();
                match offset.and_then(|o| first.checked_add(o)) {
                    Some(a) => {
                        while self.hits.get(gap).is_some_and(|&h| h < a) {
                            gap += 1;
                        }
                        gap
                    }
                    None => self.hits.len(),
                }
            })
            .collect();
        self
    }

    /// The gap `start` is in: `hits[gap - 1] < start <= hits[gap]`.
    fn gap(&self, start: u64) -> usize {
        let (Some(&first), Some(&last)) = (self.hits.first(), self.hits.last()) else {
            return 0;
        };
        if start <= first {
            return 0;
        }
        if start > last {
            return self.hits.len();
        }
        let k = ((start - first) >> self.shift) as usize;
        let (a, b) = (self.slices[k], self.slices[k + 1]);
        a + self.hits[a..b].partition_point(|&h| h < start)
    }

    /// Offers symbol number `index` (increasing: file order) starting at `start`.
    pub fn offer(&mut self, index: u32, start: u64) {
        let gap = self.gap(start);
        let mut keep = false;
        if let Some(top) = self.top.get_mut(gap)
            && top.is_none_or(|t| start >= t)
        {
            *top = Some(start);
            keep = true;
        }
        // Strictly less: of several symbols at the least start, the first one is next.
        if self.low[gap].is_none_or(|(l, _)| start < l) {
            self.low[gap] = Some((start, index));
            keep = true;
        }
        if keep {
            self.maybe.push((index, gap as u32, start));
        }
    }

    /// The indices of the symbols needed, in file order.
    pub fn picked(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .maybe
            .iter()
            .filter(|&&(index, gap, start)| {
                let gap = gap as usize;
                self.top.get(gap).copied().flatten() == Some(start)
                    || self.low[gap].is_some_and(|(_, first)| first == index)
            })
            .map(|&(index, _, _)| index)
            .collect();
        // Offered in file order, so already sorted; an index can be there twice.
        out.dedup();
        out
    }
}

/// `addrs` sorted without duplicates.
pub fn sorted_hits(mut addrs: Vec<u64>) -> Vec<u64> {
    addrs.sort_unstable();
    addrs.dedup();
    addrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::perf_data::symbols::{Binding, SymbolTable};

    /// A table of `syms` (start, size, name), all or only the picked ones.
    fn table(syms: &[(u64, u64, &str)], only: Option<&[u32]>) -> SymbolTable {
        let mut t = SymbolTable::default();
        for (i, &(start, size, name)) in syms.iter().enumerate() {
            if only.is_none_or(|o| o.contains(&(i as u32))) {
                let binding = if name.starts_with('w') {
                    Binding::Weak
                } else {
                    Binding::Global
                };
                t.push(start, size, name, false, binding);
            }
        }
        t.finish(false);
        t
    }

    /// Every address from 0 to 0x140 resolves the same in the picked table as in the
    /// whole one, for symbols out of order, aliases, sizeless and overlapping ones.
    #[test]
    fn picked_symbols_resolve_like_the_whole_table() {
        let syms = [
            (0x40, 0, "d_sizeless"),
            (0x10, 0x8, "a"),
            (0x10, 0, "a_alias"),
            (0x20, 0, "b_sizeless"),
            (0x60, 0x10, "e"),
            (0x30, 0x4, "c"),
            (0x60, 0x10, "w_e"),
            (0x20, 0x30, "b_long"),
            (0x100, 0, "last"),
            (0x58, 0x2, "f"),
        ];
        let whole = table(&syms, None);
        let all: Vec<u64> = (0..0x140).collect();
        for hits in [
            vec![0x5],
            vec![0x12, 0x44],
            vec![0x22, 0x61, 0x120],
            all.clone(),
        ] {
            let mut p = Picker::new(&hits);
            for (i, s) in syms.iter().enumerate() {
                p.offer(i as u32, s.0);
            }
            let picked = p.picked();
            let part = table(&syms, Some(&picked));
            for &h in &hits {
                assert_eq!(part.find(h), whole.find(h), "address {h:#x}");
            }
            if hits.len() < 4 {
                assert!(picked.len() < syms.len(), "{picked:?}");
            }
        }
    }

    /// The same on many random tables (clustered starts, sizes of 0 included) and
    /// random hits, some far apart: the gaps are found through the slices.
    #[test]
    fn random_tables_resolve_alike() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let names: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
        for round in 0..200 {
            let spread = if round % 2 == 0 { 0x400 } else { 1 << 40 };
            let syms: Vec<(u64, u64, &str)> = (0..1 + next(300) as usize)
                .map(|i| (next(spread), next(3) * next(0x40), names[i].as_str()))
                .collect();
            let whole = table(&syms, None);
            let mut hits: Vec<u64> = (0..1 + next(40)).map(|_| next(spread + 0x80)).collect();
            if round % 3 == 0 {
                // Slices reaching past the top of the address space.
                hits.extend([0, u64::MAX - next(16)]);
            }
            let hits = sorted_hits(hits);
            let mut p = Picker::new(&hits);
            for (i, s) in syms.iter().enumerate() {
                p.offer(i as u32, s.0);
            }
            let part = table(&syms, Some(&p.picked()));
            for &h in &hits {
                assert_eq!(part.find(h), whole.find(h), "round {round}, address {h:#x}");
            }
        }
    }

    /// kallsyms read for a few addresses resolves them as the whole list does, modules
    /// (where a sizeless symbol's end depends on its successor's module) included.
    #[test]
    fn kallsyms_for_hits_resolve_like_all() {
        use crate::ingest::perf_data::symbols::Kallsyms;
        let text = b"ffffffff81000000 T _stext\n\
            ffffffff81000000 T _text\n\
            ffffffff81000100 t helper\n\
            ffffffff81000100 W __helper\n\
            ffffffff81000200 r not_text\n\
            ffffffff81000300 T last_kernel\n\
            ffffffffc0000000 t mod_fn\t[nf_tables]\n\
            ffffffffc0000100 t mod_fn2\t[nf_tables]\n\
            ffffffffc0001000 t other_fn\t[xfs]\n";
        let k = Kallsyms::scan(text);
        assert_eq!(k.text_start(), Some(0xffffffff81000000));
        let whole = k.table(None);
        for hits in [
            vec![0xffffffff81000010],
            vec![0xffffffff81000310, 0xffffffffc0000010],
            vec![0xffffffff81001fff, 0xffffffff81002500, 0xffffffffc0000ff0],
        ] {
            let part = k.table(Some(&hits));
            assert!(part.len() < whole.len());
            for &h in &hits {
                assert_eq!(part.find(h), whole.find(h), "address {h:#x}");
            }
            // Where `_text` is places the kernel (its end is not used).
            let start = |t: &SymbolTable| t.by_name("_text").map(|s| s.start);
            assert_eq!(start(&part), start(&whole));
        }
    }
}
