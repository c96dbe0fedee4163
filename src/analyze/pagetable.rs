//! The page-table cost model for x86-64 with 4 levels and 4 KiB pages (domain notes §5).
//!
//! Every table is one 4 KiB page of 512 slots. Touching an address for the first time needs a
//! PTE table for its 2 MiB region, a PMD table for its 1 GiB region and a PUD table for its
//! 512 GiB region, unless an earlier touch already created them. So the bytes of tables created
//! by a set of touches is 4 KiB × (distinct 2 MiB regions + distinct 1 GiB regions + distinct
//! 512 GiB regions). The top-level PGD page exists before the first touch and is *not* counted
//! by [`table_bytes`] or [`Prediction::table_bytes`]; `VmPTE` in `/proc/<pid>/status` does count
//! it, together with the tables of the program's own mappings (see [`PGD_BYTES`] and
//! [`TYPICAL_BASELINE`]).
//!
//! The predictions are analytic (O(1)), so they can be asked about billions of faults, and the
//! address orders are exposed as iterators ([`BreadthFirstOrder`]) that the workloads walk, so
//! model and workload cannot drift apart.

use crate::units::Bytes;
use rustc_hash::FxHashSet;

/// The base page size, and the size of every page-table page.
pub const PAGE_SIZE: u64 = 4096;

/// Slots per table: 4 KiB of 8-byte entries.
pub const SLOTS: u64 = 512;

/// Bytes mapped by one PTE table (512 × 4 KiB).
pub const PTE_TABLE_SPAN: u64 = 2 << 20;

/// Bytes mapped by one PMD table (512 × 2 MiB).
pub const PMD_TABLE_SPAN: u64 = 1 << 30;

/// Bytes mapped by one PUD table (512 × 1 GiB), i.e. by one PGD slot.
pub const PUD_TABLE_SPAN: u64 = 512 << 30;

/// The user half of a 47-bit (4-level) address space. Nothing larger can be mapped.
pub const USER_ADDRESS_SPACE: u64 = 128 << 40;

/// The top-level table every process has before it touches anything. `VmPTE` includes it;
/// [`table_bytes`] does not, because touching addresses never creates it.
pub const PGD_BYTES: Bytes = Bytes(PAGE_SIZE);

/// `VmPTE` of a small process before a workload touches anything: the PGD page plus the
/// tables for its binary, libraries, heap and stack. About 32 kB for faultline on the
/// project's machine (64 GiB zero-page run: 131,364 kB seen vs 131,332 kB predicted) and
/// 28 kB for the seed's static C program (1,045,012 kB seen vs 1,044,984 kB predicted).
/// It varies with the binary, so compare *deltas* with predictions when possible.
pub const TYPICAL_BASELINE: Bytes = Bytes(32 << 10);

/// Page-table pages by level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Tables {
    /// Leaf tables, one per distinct 2 MiB region.
    pub pte: u64,
    /// Middle tables, one per distinct 1 GiB region.
    pub pmd: u64,
    /// Upper tables, one per distinct 512 GiB region.
    pub pud: u64,
}

impl Tables {
    /// All tables counted, without the PGD page.
    pub fn count(&self) -> u64 {
        self.pte + self.pmd + self.pud
    }

    /// Their size, without the PGD page (what touching the addresses adds to `VmPTE`).
    pub fn bytes(&self) -> Bytes {
        Bytes(self.count() * PAGE_SIZE)
    }

    /// Their size plus the PGD page: `VmPTE` of a process that mapped nothing else.
    pub fn bytes_with_pgd(&self) -> Bytes {
        Bytes(self.bytes().0 + PGD_BYTES.0)
    }
}

/// Counts the tables that touching `addrs` creates in an empty address space (PGD excluded).
///
/// This is the reference model for arbitrary address sets; it keeps a set of regions, so it
/// allocates per distinct region. The `predict_*` functions give the same answers in O(1) for
/// the orders the workloads use.
pub fn count_tables(addrs: impl IntoIterator<Item = u64>) -> Tables {
    let mut pte = FxHashSet::default();
    let mut pmd = FxHashSet::default();
    let mut pud = FxHashSet::default();
    for a in addrs {
        pte.insert(a / PTE_TABLE_SPAN);
        pmd.insert(a / PMD_TABLE_SPAN);
        pud.insert(a / PUD_TABLE_SPAN);
    }
    Tables {
        pte: pte.len() as u64,
        pmd: pmd.len() as u64,
        pud: pud.len() as u64,
    }
}

/// Bytes of tables created by touching `addrs`: 4 KiB × (distinct 2 MiB + distinct 1 GiB +
/// distinct 512 GiB regions). The PGD page is not included; add [`PGD_BYTES`] (or use
/// [`Tables::bytes_with_pgd`]) to compare with the `VmPTE` of a process that had nothing else.
pub fn table_bytes(addrs: impl IntoIterator<Item = u64>) -> Bytes {
    count_tables(addrs).bytes()
}

/// What a workload is expected to cost in page tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    /// Reads the workload performs (each one faults unless THP maps a huge zero page that
    /// already covers it).
    pub faults: u64,
    /// Tables created, by level.
    pub tables: Tables,
    /// Bytes of tables created, PGD page excluded: the expected growth of `VmPTE`.
    pub table_bytes: Bytes,
}

impl Prediction {
    fn new(faults: u64, tables: Tables) -> Self {
        Prediction {
            faults,
            tables,
            table_bytes: tables.bytes(),
        }
    }

    /// Average bytes of tables per read: 8 (4 KiB stride) up to 12288 (breadth-first start).
    pub fn bytes_per_fault(&self) -> f64 {
        if self.faults == 0 {
            0.0
        } else {
            self.table_bytes.0 as f64 / self.faults as f64
        }
    }

    /// Expected `VmPTE` for a process whose tables before the workload were `baseline`
    /// (its `VmPTE` then, which already includes the PGD page).
    pub fn vm_pte(&self, baseline: Bytes) -> Bytes {
        Bytes(baseline.0 + self.table_bytes.0)
    }
}

/// Distinct `region`-sized regions hit by `first + k × step` for `k` in `0..count`.
///
/// With a step no larger than a region, consecutive reads never skip a region, so every
/// region between the first and last address is hit; with a larger step every read lands in
/// a new one.
fn regions_hit(first: u64, step: u64, count: u64, region: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    if step > region {
        return count;
    }
    let last = first + step * (count - 1);
    last / region - first / region + 1
}

/// Tables created by reading one byte every `stride` over `span` bytes starting at a base
/// aligned to 512 GiB (the zero-page workload aligns its base to at least 1 GiB; use
/// [`predict_zero_page_at`] with the real base for an exact figure). A `stride` of 0 reads
/// nothing.
///
/// 4 KiB stride: about 8 bytes per read (one PTE table per 512 reads); 2 MiB stride and up:
/// 4 KiB per read, since every read needs its own leaf table.
pub fn predict_zero_page(span: Bytes, stride: Bytes) -> Prediction {
    predict_zero_page_at(0, span, stride)
}

/// [`predict_zero_page`] for reads starting at address `base`, since the regions straddled
/// depend on where the mapping landed.
pub fn predict_zero_page_at(base: u64, span: Bytes, stride: Bytes) -> Prediction {
    if stride.0 == 0 || span.0 == 0 {
        return Prediction::new(0, Tables::default());
    }
    let reads = span.0.div_ceil(stride.0);
    let tables = Tables {
        pte: regions_hit(base, stride.0, reads, PTE_TABLE_SPAN),
        pmd: regions_hit(base, stride.0, reads, PMD_TABLE_SPAN),
        pud: regions_hit(base, stride.0, reads, PUD_TABLE_SPAN),
    };
    Prediction::new(reads, tables)
}

/// The breadth-first fill order of seed 000: offsets
/// `((((pgd << 9) + pud) << 9) + pmd) << 21` (PTE index 0), looping PMD index outermost, PUD
/// index in the middle and PGD index innermost, skipping offsets at or past the span.
///
/// Relative to a base aligned to 512 GiB every early read lands in a fresh 512 GiB region, then
/// a fresh 1 GiB region, so the first reads create a PUD, a PMD and a PTE table each (12 KiB),
/// then a PMD and a PTE table (8 KiB), and after the first PMD pass only a PTE table (4 KiB).
#[derive(Debug, Clone)]
pub struct BreadthFirstOrder {
    span: u64,
    pgd: u64,
    pud: u64,
    pmd: u64,
}

impl BreadthFirstOrder {
    /// The order over `span` bytes; offsets are relative to the (512 GiB aligned) base.
    pub fn new(span: Bytes) -> Self {
        BreadthFirstOrder {
            span: span.0,
            pgd: 0,
            pud: 0,
            pmd: 0,
        }
    }

    /// How many offsets the order yields in all.
    pub fn total(span: Bytes) -> u64 {
        let (full, rest) = split_span(span);
        // Offsets in the last, partial PGD slot are the (pud, pmd) pairs whose offset
        // (pud × 512 + pmd) × 2 MiB is below the remainder.
        full * SLOTS * SLOTS + rest.div_ceil(PTE_TABLE_SPAN)
    }
}

/// Full 512 GiB slots in the span, and the bytes left over in a last partial slot.
fn split_span(span: Bytes) -> (u64, u64) {
    (span.0 / PUD_TABLE_SPAN, span.0 % PUD_TABLE_SPAN)
}

impl Iterator for BreadthFirstOrder {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        // Rows whose first offset is already past the span are empty; skipping them costs at
        // most 512 × 512 steps over the whole walk.
        while self.pmd < SLOTS {
            let offset = ((((self.pgd << 9) | self.pud) << 9) | self.pmd) << 21;
            if self.pgd < SLOTS && offset < self.span {
                self.pgd += 1;
                return Some(offset);
            }
            self.pgd = 0;
            self.pud += 1;
            if self.pud == SLOTS {
                self.pud = 0;
                self.pmd += 1;
            }
        }
        None
    }
}

/// Tables created by the first `faults` reads of the breadth-first order over the default
/// 64 TiB span (128 PGD slots), as the breadth-first workload runs it by default.
pub fn predict_breadth_first(faults: u64) -> Prediction {
    predict_breadth_first_span(faults, Bytes(64 << 40))
}

/// Tables created by the first `faults` reads of [`BreadthFirstOrder`] over `span` (fewer if
/// the order has fewer offsets).
///
/// Every read is in a new 2 MiB region (one PTE table each). Reads in the first PMD pass
/// (PMD index 0) are the first into their 1 GiB region; reads in its first row (PUD index 0
/// too) are the first into their 512 GiB region. So tables = n + min(n, first pass) +
/// min(n, first row).
pub fn predict_breadth_first_span(faults: u64, span: Bytes) -> Prediction {
    let (full, rest) = split_span(span);
    let n = faults.min(BreadthFirstOrder::total(span));
    let first_pass = full * SLOTS + rest.div_ceil(PMD_TABLE_SPAN);
    let first_row = full + u64::from(rest > 0);
    let tables = Tables {
        pte: n,
        pmd: n.min(first_pass),
        pud: n.min(first_row),
    };
    Prediction::new(n, tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;

    fn within(actual: f64, expected: f64, fraction: f64) -> bool {
        (actual - expected).abs() <= expected * fraction
    }

    #[test]
    fn seed_breadth_first_130944_faults() {
        // The seed mmapped 127 TiB: 254 PGD slots. Its pmd = 0 pass is 254 × 512 = 130,048
        // reads (PTE + PMD each, PUD for the first 254), then 896 reads of the pmd = 1 pass
        // (PTE only): 130,944 + 130,048 + 254 = 261,246 tables = 1,044,984 kB. It saw
        // 1,045,012 kB: 28 kB more, the PGD page plus six tables of its own static binary and
        // stack (its base was not 512 GiB aligned, which can add one PUD table at most).
        let p = predict_breadth_first_span(130_944, Bytes(127 * TIB));
        assert_eq!(p.faults, 130_944);
        assert_eq!(
            p.tables,
            Tables {
                pte: 130_944,
                pmd: 130_048,
                pud: 254
            }
        );
        assert_eq!(p.table_bytes.kib(), 1_044_984);
        let seen = 1_045_012.0;
        assert!(within(p.table_bytes.kib() as f64, seen, 0.01));
        assert_eq!(1_045_012 - p.table_bytes.kib(), 28);
        // The seed's own estimate, 256 reads at 12 KiB then 8 KiB each, assumes 256 PGD slots
        // and lands at exactly 1 GiB: 0.34% high.
        let seed_estimate = 256 * 12 + (130_944 - 256) * 8;
        assert_eq!(seed_estimate, 1_048_576);
    }

    #[test]
    fn machine_breadth_first_200000_faults() {
        // 64 TiB = 128 PGD slots; the first pass has 65,536 reads.
        // 200,000 + 65,536 + 128 = 265,664 tables = 1,062,656 kB; seen 1,062,692 (36 kB of
        // baseline: PGD + 8 tables of faultline's own mappings).
        let p = predict_breadth_first(200_000);
        assert_eq!(p.table_bytes.kib(), 1_062_656);
        assert!(within(p.table_bytes.kib() as f64, 1_062_692.0, 0.01));
    }

    #[test]
    fn breadth_first_phases_are_12_8_4_kib() {
        let span = Bytes(64 * TIB);
        let step = |a: u64, b: u64| {
            predict_breadth_first_span(b, span).table_bytes.0
                - predict_breadth_first_span(a, span).table_bytes.0
        };
        assert_eq!(step(0, 1), 12 * KIB);
        assert_eq!(step(127, 128), 12 * KIB);
        assert_eq!(step(128, 129), 8 * KIB);
        assert_eq!(step(65_535, 65_536), 8 * KIB);
        assert_eq!(step(65_536, 65_537), 4 * KIB);
        assert_eq!(predict_breadth_first(1).bytes_per_fault(), 12288.0);
    }

    #[test]
    fn breadth_first_prediction_matches_counting_the_order() {
        for span in [
            Bytes(64 * TIB),
            Bytes(127 * TIB),
            Bytes(3 * TIB + 5 * GIB + (6 << 20) + 4096),
            Bytes(700 * GIB),
            Bytes(5 * GIB + 1),
            Bytes(4096),
            Bytes(0),
        ] {
            for n in [0, 1, 5, 127, 128, 129, 255, 256, 1000, 70_000, 140_000] {
                let counted = count_tables(BreadthFirstOrder::new(span).take(n as usize));
                let predicted = predict_breadth_first_span(n, span);
                assert_eq!(predicted.tables, counted, "span {span}, {n} faults");
                assert!(predicted.faults <= n);
            }
        }
    }

    #[test]
    fn breadth_first_order_is_the_seed_order() {
        let mut order = BreadthFirstOrder::new(Bytes(64 * TIB));
        assert_eq!(order.next(), Some(0));
        assert_eq!(order.next(), Some(PUD_TABLE_SPAN));
        let third_row_start = order.nth(126).unwrap();
        assert_eq!(third_row_start, GIB, "pud 1 after 128 pgd slots");
        let small = BreadthFirstOrder::new(Bytes(5 * GIB + 1));
        assert_eq!(
            small.clone().count() as u64,
            BreadthFirstOrder::total(Bytes(5 * GIB + 1))
        );
        assert!(small.into_iter().all(|o| o < 5 * GIB + 1));
        assert_eq!(BreadthFirstOrder::total(Bytes(64 * TIB)), 128 << 18);
        assert_eq!(BreadthFirstOrder::new(Bytes(0)).next(), None);
    }

    #[test]
    fn machine_zero_page_64_gib() {
        // 32,768 PTE + 64 PMD + 1 PUD tables = 131,332 kB; seen 131,364 (32 kB baseline).
        let p = predict_zero_page(Bytes(64 * GIB), Bytes(4096));
        assert_eq!(p.faults, 16_777_216);
        assert_eq!(
            p.tables,
            Tables {
                pte: 32_768,
                pmd: 64,
                pud: 1
            }
        );
        assert_eq!(p.table_bytes.kib(), 131_332);
        assert!(within(p.table_bytes.kib() as f64, 131_364.0, 0.01));
        assert_eq!(p.vm_pte(TYPICAL_BASELINE).kib(), 131_364);
        assert_eq!(p.tables.bytes_with_pgd().kib(), 131_336);
    }

    #[test]
    fn zero_page_2_mib_stride_costs_a_table_per_read() {
        let p = predict_zero_page(Bytes(64 * GIB), Bytes(2 << 20));
        assert_eq!(p.faults, 32_768);
        assert_eq!(p.tables.pte, p.faults);
        // Leaf tables dominate: 4 KiB per read plus the few upper tables.
        assert!(within(p.bytes_per_fault(), 4096.0, 0.01));
        let sparse = predict_zero_page(Bytes(64 * GIB), Bytes(4 << 20));
        assert_eq!(sparse.tables.pte, sparse.faults);
    }

    #[test]
    fn zero_page_prediction_matches_counting() {
        for (base, span, stride) in [
            (0, 64 << 20, 4096),
            (GIB - (1 << 20), 4 << 20, 4096),
            (123 * 4096, 3 * GIB + 17, 5 << 20),
            (PUD_TABLE_SPAN - GIB, 3 * GIB, 1 << 20),
            (7, 10 << 20, 3 * 4096 + 1),
            (0, 1, 4096),
        ] {
            let reads = (0..span).step_by(stride as usize).map(|o| base + o);
            assert_eq!(
                predict_zero_page_at(base, Bytes(span), Bytes(stride)).tables,
                count_tables(reads),
                "base {base} span {span} stride {stride}"
            );
        }
        assert_eq!(predict_zero_page(Bytes(GIB), Bytes(0)).faults, 0);
    }

    #[test]
    fn table_bytes_counts_regions_not_addresses() {
        assert_eq!(table_bytes([]), Bytes(0));
        assert_eq!(table_bytes([0, 8, 4096]), Bytes(3 * 4096));
        assert_eq!(table_bytes([0, 2 << 20]), Bytes(4 * 4096));
        assert_eq!(table_bytes([0, GIB]), Bytes(5 * 4096));
        assert_eq!(table_bytes([0, PUD_TABLE_SPAN]), Bytes(6 * 4096));
    }
}
