//! The workloads' parameters: what each one is, its checks, its predicted cost.

use std::str::FromStr;

use serde::Serialize;

use super::{HOG_CHUNK, MADVISE_LEN, MADVISE_SPAN, MAX_SPAN, WorkloadError, invalid};
use crate::analyze::pagetable::{self, BreadthFirstOrder, PAGE_SIZE, Prediction};
use crate::record::thp::ThpMode;
use crate::units::Bytes;

/// Which `madvise` advice the `madvise` workload gives after each read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Advice {
    /// `MADV_FREE`: the kernel may reclaim the pages lazily, but never the page tables, so
    /// table memory grows exactly as without the madvise (the seed's "infinite overhead":
    /// 8 KiB per fault in the first PMD pass, measured the same on 6.18 with THP on or off).
    Free,
    /// `MADV_DONTNEED`: zaps the mappings now, and a zap covering a whole leaf table can free
    /// it: with THP through `zap_huge_pmd` freeing the table deposited for the huge zero
    /// page (the seed's ~512 MiB plateau of PMD tables), and on kernels with
    /// `CONFIG_PT_RECLAIM` (6.14+, x86) also without THP, by reclaiming the emptied PTE
    /// table. Older kernels without THP keep every leaf table, like `MADV_FREE`.
    DontNeed,
}

impl Advice {
    /// The spelling used on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Advice::Free => "free",
            Advice::DontNeed => "dontneed",
        }
    }

    pub(super) fn flag(self) -> libc::c_int {
        match self {
            Advice::Free => libc::MADV_FREE,
            Advice::DontNeed => libc::MADV_DONTNEED,
        }
    }

    pub(super) fn kernel_name(self) -> &'static str {
        match self {
            Advice::Free => "MADV_FREE",
            Advice::DontNeed => "MADV_DONTNEED",
        }
    }
}

impl FromStr for Advice {
    type Err = String;

    /// Accepts `free`, `dontneed` and `dont-need`, and the `MADV_` names, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.strip_prefix("madv_").unwrap_or(&lower) {
            "free" => Ok(Advice::Free),
            "dontneed" | "dont-need" | "dont_need" => Ok(Advice::DontNeed),
            _ => Err(format!("{s:?}: unknown advice (use free or dontneed)")),
        }
    }
}

/// A built-in workload and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// Read one byte every `stride` over `span` of a `PROT_READ`, `MAP_NORESERVE` private
    /// anonymous mapping. Every read maps the shared zero page, so RSS stays ~0 while page
    /// tables grow by one PTE table per 2 MiB touched (with a 2 MiB stride, one per read).
    ZeroPage {
        /// Distance between reads.
        stride: Bytes,
        /// Bytes covered by the reads.
        span: Bytes,
    },
    /// Seed 000's breadth-first fill ([`BreadthFirstOrder`]) over `span`, so each early
    /// fault creates new PUD, PMD and PTE tables. `faults: None` runs until the span is
    /// exhausted or the process is killed, which on any real machine means OOM.
    BreadthFirst {
        /// Reads to perform; `None` for all of them.
        faults: Option<u64>,
        /// Bytes the order ranges over.
        span: Bytes,
    },
    /// Read a page, then `madvise` it away, `faults` times in breadth-first order over
    /// [`MADVISE_SPAN`] (seed 000's interlude and Appendix B). Shows which advice gives page
    /// tables back; see [`Advice`] and [`MADVISE_LEN`].
    Madvise {
        /// `MADV_FREE` or `MADV_DONTNEED`.
        advice: Advice,
        /// Pages to read and advise.
        faults: u64,
    },
    /// `malloc(4096)` and fill it, in a loop (seed 001): ordinary anonymous RSS growth.
    /// Without `limit` it runs until the OOM killer ends it, so it only runs inside a
    /// memory cgroup with a limit ([`memory_cap`]).
    MemoryHog {
        /// Stop after allocating this much.
        limit: Option<Bytes>,
    },
    /// Seed 003's mprotect pattern on `cells` 3-page cells of a `PROT_NONE` mapping: make page
    /// 0 read-write and touch it, page 2 likewise, then make page 1 read-write. Pages 0 and 2
    /// fault in separately and get different `anon_vma`s, so the cells cannot merge and the
    /// mapping ends up as about one VMA per cell. With `prefault` the mapping is first made
    /// read-write and touched, so every later split shares one `anon_vma` and everything
    /// merges back.
    VmaFragment {
        /// Number of 3-page cells.
        cells: u64,
        /// Give the whole mapping one `anon_vma` before splitting it.
        prefault: bool,
    },
}

impl Workload {
    /// The name on the command line and in manifests.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::ZeroPage { .. } => "zero-page",
            Workload::BreadthFirst { .. } => "breadth-first",
            Workload::Madvise { .. } => "madvise",
            Workload::MemoryHog { .. } => "memory-hog",
            Workload::VmaFragment { .. } => "vma-fragment",
        }
    }

    /// The parameters as JSON for the run manifest; sizes are in bytes.
    pub fn params(&self) -> serde_json::Value {
        use serde_json::json;
        match *self {
            Workload::ZeroPage { stride, span } => {
                json!({"stride_bytes": stride.0, "span_bytes": span.0})
            }
            Workload::BreadthFirst { faults, span } => {
                json!({"faults": faults, "span_bytes": span.0})
            }
            Workload::Madvise { advice, faults } => {
                json!({
                    "advice": advice.as_str(),
                    "faults": faults,
                    "span_bytes": MADVISE_SPAN.0,
                    "advise_bytes": MADVISE_LEN.0,
                })
            }
            Workload::MemoryHog { limit } => {
                json!({"limit_bytes": limit.map(|l| l.0), "chunk_bytes": HOG_CHUNK})
            }
            Workload::VmaFragment { cells, prefault } => {
                json!({"cells": cells, "prefault": prefault})
            }
        }
    }

    /// What the page-table model predicts for this workload, where it applies (not for
    /// `MADV_DONTNEED`, whose result depends on THP and the kernel, nor for the hog and
    /// vma-fragment, whose tables are incidental).
    pub fn prediction(&self) -> Option<Prediction> {
        match *self {
            Workload::ZeroPage { stride, span } => Some(pagetable::predict_zero_page(span, stride)),
            Workload::BreadthFirst {
                faults: Some(f),
                span,
            } => Some(pagetable::predict_breadth_first_span(f, span)),
            Workload::BreadthFirst { faults: None, span } => Some(
                pagetable::predict_breadth_first_span(BreadthFirstOrder::total(span), span),
            ),
            Workload::Madvise {
                advice: Advice::Free,
                faults,
            } => Some(pagetable::predict_breadth_first_span(faults, MADVISE_SPAN)),
            _ => None,
        }
    }

    /// Memory the workload could need in the worst case (touched pages plus predicted page
    /// tables), or `None` when it is unbounded.
    pub fn expected_cost(&self) -> Option<Bytes> {
        match *self {
            Workload::ZeroPage { .. }
            | Workload::BreadthFirst {
                faults: Some(_), ..
            } => self.prediction().map(|p| p.table_bytes),
            Workload::BreadthFirst { faults: None, .. } | Workload::MemoryHog { limit: None } => {
                None
            }
            // glibc adds a 16-byte header to every 4 KiB chunk.
            Workload::MemoryHog { limit: Some(l) } => Some(Bytes(l.0 + l.0 / 256)),
            // Without freed tables, madvise costs what breadth-first costs.
            Workload::Madvise { faults, .. } => {
                Some(pagetable::predict_breadth_first_span(faults, MADVISE_SPAN).table_bytes)
            }
            // Two dirty pages per cell, plus roughly 1 KiB of VMA, anon_vma and table share.
            Workload::VmaFragment { cells, .. } => {
                Some(Bytes(cells.saturating_mul(2 * PAGE_SIZE + 1024)))
            }
        }
    }

    /// The THP mode this workload runs under unless `--thp` says otherwise: the zero-page
    /// and breadth-first figures mean what they say only with THP off (with THP `always` a
    /// 4 KiB-stride run maps huge zero pages and faults once per 2 MiB, so "per fault"
    /// figures are off by 512×). Others run under the machine's setting.
    pub fn thp_pin(&self) -> Option<ThpMode> {
        matches!(
            self,
            Workload::ZeroPage { .. } | Workload::BreadthFirst { .. }
        )
        .then_some(ThpMode::Never)
    }

    /// Whether running this could OOM a host with `mem_available` free: the memory hog
    /// always (its point is to reach the OOM killer), breadth-first without a fault count,
    /// and anything whose [`expected_cost`](Self::expected_cost) exceeds three quarters of
    /// `mem_available` (the rest of the system keeps allocating, and the model ignores the
    /// program's own memory).
    pub fn is_oom_prone(&self, mem_available: Bytes) -> bool {
        if matches!(self, Workload::MemoryHog { .. }) {
            return true;
        }
        match self.expected_cost() {
            None => true,
            Some(cost) => cost.0 > mem_available.0 / 4 * 3,
        }
    }

    /// Checks the parameters without touching memory.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let name = self.name();
        let span_ok = |span: Bytes| {
            if span.0 == 0 {
                Err(invalid(name, "span must be at least one byte"))
            } else if span > MAX_SPAN {
                Err(invalid(
                    name,
                    format!(
                        "span {span} is larger than {MAX_SPAN}; the 47-bit user address space \
                         is 128 TiB and the program needs some of it"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            Workload::ZeroPage { stride, span } => {
                span_ok(span)?;
                if stride.0 == 0 {
                    return Err(invalid(name, "stride must be at least one byte"));
                }
                if span < stride {
                    return Err(invalid(
                        name,
                        format!("span {span} is smaller than the stride {stride}"),
                    ));
                }
            }
            Workload::BreadthFirst { faults, span } => {
                span_ok(span)?;
                let total = BreadthFirstOrder::total(span);
                match faults {
                    Some(0) => return Err(invalid(name, "faults must be at least 1")),
                    Some(f) if f > total => {
                        return Err(invalid(
                            name,
                            format!("{f} faults asked, but a {span} span has {total} addresses"),
                        ));
                    }
                    _ => {}
                }
            }
            Workload::Madvise { faults, .. } => {
                let total = BreadthFirstOrder::total(MADVISE_SPAN);
                if faults == 0 || faults > total {
                    return Err(invalid(
                        name,
                        format!("faults must be between 1 and {total}, not {faults}"),
                    ));
                }
            }
            Workload::MemoryHog { limit } => {
                if let Some(l) = limit
                    && l.0 < HOG_CHUNK as u64
                {
                    return Err(invalid(
                        name,
                        format!("limit {l} is below one {HOG_CHUNK}-byte allocation"),
                    ));
                }
            }
            Workload::VmaFragment { cells, .. } => {
                if cells == 0 {
                    return Err(invalid(name, "cells must be at least 1"));
                }
                if cells.saturating_mul(3 * PAGE_SIZE) > MAX_SPAN.0 {
                    return Err(invalid(name, format!("{cells} cells do not fit in memory")));
                }
            }
        }
        Ok(())
    }

    /// Page faults the workload will take, when it is bounded.
    pub fn expected_faults(&self) -> Option<u64> {
        match self {
            Workload::Madvise { faults, .. } => Some(*faults),
            Workload::VmaFragment { cells, .. } => Some(cells * 2),
            _ => self.prediction().map(|p| p.faults),
        }
    }
}
